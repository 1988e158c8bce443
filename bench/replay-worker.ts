// One replay measurement, run as its own (pinned) process by bench/run.ts:
//   node --import tsx bench/replay-worker.ts IN.pcap FILTER-FILE ORIGINALS REPLICAS PASSES
// Runs the replay engine (the code `twinflow replay` runs) PASSES times over the same file and
// prints JSON: the first (cold: JIT and page warm-up included) pass and the median of the later
// (steady-state) passes, each the engine's own time (file reading, data plane, file writing; not
// Node's start-up or the table build), and the counters.

import { readFileSync } from 'node:fs';
import { replay } from '../firmware/runtime/replay.ts';

const [input, filterPath, originals, replicas, passesText] = process.argv.slice(2);
const passes = Math.max(1, Number(passesText ?? 1));
const match = readFileSync(filterPath, 'utf8').trim();
const times: number[] = [];
let last: Awaited<ReturnType<typeof replay>> | undefined;
for (let p = 0; p < passes; p++) {
  last = await replay({ input, match, originals, replicas });
  times.push(last.elapsedMs);
}
const later = times.slice(1).sort((a, b) => a - b);
const steady = later.length ? later[later.length >> 1] : times[0];
process.stdout.write(JSON.stringify({
  packets: last!.packets,
  coldMs: times[0],
  steadyMs: steady,
  matched: last!.session.matched,
  replicated: last!.session.replicated,
  tables: last!.tables,
}) + '\n');
