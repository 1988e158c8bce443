// One replay measurement, run as its own (pinned) process by bench/run.ts:
//   node --import tsx bench/replay-worker.ts IN.pcap FILTER-FILE ORIGINALS REPLICAS
// Runs the replay engine (the code `twinflow replay` runs) and prints JSON with the engine's own
// time (file reading, data plane, file writing; not Node's start-up) and the counters.

import { readFileSync } from 'node:fs';
import { replay } from '../firmware/runtime/replay.ts';

const [input, filterPath, originals, replicas] = process.argv.slice(2);
const r = await replay({ input, match: readFileSync(filterPath, 'utf8').trim(), originals, replicas });
process.stdout.write(JSON.stringify({
  packets: r.packets,
  elapsedMs: r.elapsedMs,
  mpps: r.packets / (r.elapsedMs * 1e3),
  matched: r.session.matched,
  replicated: r.session.replicated,
  tables: r.tables,
}) + '\n');
