// The fixture table (test/fixtures/packets.ts) through the real data plane, checked by the
// independent oracle (test/fixtures/oracle.ts): originals byte-identical and in order on their
// cross-connected port, every replica decapsulating to the original (or its truncated prefix)
// with correct outer headers and consecutive sequence numbers, counters exactly as derived from
// the row, conservation intact. Packets are built by scapy, once for the whole table.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { simulate, simSpec } from '../../firmware/runtime/simulate.ts';
import { DATAPLANE_ROWS } from '../fixtures/packets.ts';
import { buildTable, checkRun } from '../fixtures/oracle.ts';

const built = buildTable(DATAPLANE_ROWS);
const spec = simSpec();

DATAPLANE_ROWS.forEach((row, i) => {
  test(row.description, async () => {
    const r = await simulate(row.sessions, built[i], spec);
    const problems = checkRun(row, built[i], r, spec);
    assert.equal(problems, [], problems.join('\n'));
  });
});

test('the table covers every encapsulation, mode and parse note', () => {
  const sessions = DATAPLANE_ROWS.flatMap((r) => r.sessions);
  for (const e of ['gre', 'erspan2', 'erspan3', 'gre-seq']) assert.ok(sessions.some((s) => s.encap === e), e);
  // race sends no encapsulated replicas (it steers and copies by L2 rewrite): dataplane-race*.test.ts.
  for (const m of ['sniff', 'dup']) assert.ok(sessions.some((s) => s.mode === m), m);
  const notes = new Set(DATAPLANE_ROWS.flatMap((r) => r.packets.flatMap((p) => p.notes ?? [])));
  for (const n of ['truncated', 'malformed', 'not_ip', 'ineligible']) assert.ok(notes.has(n as never), n);
});

test.run();
