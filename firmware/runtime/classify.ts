// Classification of bare IPv4 5-tuples with the real hot-path classifier (wasm classifyTuples):
// `twinflow classify` and the classification benchmark. The rule set is compiled exactly as the
// data plane's tables are (forest → bank); only the packet parser is bypassed.

import { readFileSync } from 'node:fs';
import { TupleField } from '../../wasm/abi.ts';
import { parseRuleFile, parseTrace, type Trace } from '../shell/tables/classbench.ts';
import { buildForest, type ForestOptions } from '../shell/tables/forest.ts';
import { layoutBank, type BankLayout } from '../shell/tables/bank.ts';
import type { ClassifierRule, CompiledForest } from '../shell/tables/tree.ts';
import { ensureMemory, instantiateDataplane, type DataplaneExports } from './wasm.ts';

const align = (v: number, a: number): number => Math.ceil(v / a) * a;

export class TupleClassifier {
  readonly wasm: DataplaneExports;
  readonly forest: CompiledForest;
  readonly bank: BankLayout;
  readonly buildMs: number;
  private readonly bankAddr: number;
  private readonly scratchAddr: number;
  private readonly tuplesAddr: number;
  private readonly outAddr: number;
  private readonly capacity: number;

  /** Compiles the rules; `capacity` is the most tuples one classify() call takes. */
  constructor(readonly rules: readonly ClassifierRule[], capacity: number, options: ForestOptions = {}) {
    const t0 = performance.now();
    this.forest = buildForest(rules, options);
    this.bank = layoutBank(rules, this.forest, []);
    this.buildMs = performance.now() - t0;
    this.wasm = instantiateDataplane();
    this.capacity = capacity;
    this.bankAddr = align(this.wasm.heapBase(), 65536);
    this.scratchAddr = align(this.bankAddr + this.bank.bytes, 64);
    this.tuplesAddr = align(this.scratchAddr + this.wasm.tupleScratchBytes(), 64);
    this.outAddr = align(this.tuplesAddr + capacity * TupleField.Size, 64);
    ensureMemory(this.wasm.memory, this.outAddr + capacity * 4);
    new Uint8Array(this.wasm.memory.buffer).set(this.bank.image, this.bankAddr);
  }

  /** Loads tuples (TupleField layout) into the classifier's input area. */
  load(tuples: Uint8Array): void {
    if (tuples.length > this.capacity * TupleField.Size) throw new RangeError('more tuples than the classifier was sized for');
    new Uint8Array(this.wasm.memory.buffer).set(tuples, this.tuplesAddr);
  }

  /** Classifies loaded tuples [from, from + count) in batches of `batch`. */
  run(from: number, count: number, batch = 256): void {
    for (let i = from; i < from + count; i += batch) {
      const n = Math.min(batch, from + count - i);
      this.wasm.classifyTuples(this.bankAddr, this.tuplesAddr + i * TupleField.Size, n, this.outAddr + i * 4, this.scratchAddr);
    }
  }

  /** Results of the last run: 1-based rule id per tuple, 0 for none. */
  results(count: number): Uint32Array {
    return new Uint32Array(this.wasm.memory.buffer, this.outAddr, count).slice();
  }
}

export interface ClassifyResult {
  readonly lines: string;
  readonly trace: Trace;
  readonly results: Uint32Array;
}

export function classifyFiles(rulesPath: string, tracePath: string): ClassifyResult {
  const rules = parseRuleFile(readFileSync(rulesPath, 'utf8'), rulesPath);
  const trace = parseTrace(readFileSync(tracePath, 'utf8'), tracePath);
  const c = new TupleClassifier(rules, Math.max(1, trace.count));
  c.load(trace.tuples);
  c.run(0, trace.count);
  const results = c.results(trace.count);
  let lines = '';
  for (let i = 0; i < results.length; i++) lines += `${results[i]}\n`;
  return { lines, trace, results };
}
