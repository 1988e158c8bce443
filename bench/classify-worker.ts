// One classification measurement, run as its own (pinned) process by bench/run.ts:
//   node --import tsx bench/classify-worker.ts RULES TRACE PASSES
// Classifies the whole trace PASSES times in batches of 256 (as dpdk-test-acl's --tracestep=256)
// after one warm-up pass, checks every result against the trace's expected column, and prints
// JSON: {mpps, bankBytes, trees, buildMs, mismatches}.

import { readFileSync } from 'node:fs';
import { parseRuleFile, parseTrace } from '../firmware/shell/tables/classbench.ts';
import { TupleClassifier } from '../firmware/runtime/classify.ts';

const [rulesPath, tracePath, passesText] = process.argv.slice(2);
const passes = Number(passesText ?? 10);
const rules = parseRuleFile(readFileSync(rulesPath, 'utf8'), rulesPath);
const trace = parseTrace(readFileSync(tracePath, 'utf8'), tracePath);
const c = new TupleClassifier(rules, trace.count);
c.load(trace.tuples);
c.run(0, trace.count);
const results = c.results(trace.count);
let mismatches = 0;
for (let i = 0; i < trace.count; i++) if (trace.expected[i] >= 0 && results[i] !== trace.expected[i]) mismatches++;
const t0 = process.hrtime.bigint();
for (let p = 0; p < passes; p++) c.run(0, trace.count);
const ns = Number(process.hrtime.bigint() - t0);
process.stdout.write(JSON.stringify({
  mpps: (trace.count * passes) / (ns / 1e3),
  bankBytes: c.bank.bytes,
  trees: c.forest.trees.length,
  buildMs: c.buildMs,
  mismatches,
}) + '\n');
