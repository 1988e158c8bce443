// Loads the data-plane module (build/dataplane.wasm, built by `npm run build`, which `npm install`
// runs) and gives it a typed face. The module imports one thing, its memory (shared: see
// instantiateDataplane); an instance is that memory plus the exported functions below. Compiled
// once per process; instantiated once per line card.
//
// A bundled runtime (a firmware image's slot) carries its wasm beside itself and says so with
// useDataplaneWasm() before anything compiles; the source tree uses build/dataplane.wasm.

import { readFileSync, existsSync } from 'node:fs';
import v8 from 'node:v8';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

export interface DataplaneExports {
  readonly memory: WebAssembly.Memory;
  heapBase(): number;
  init(control: number): number;
  process(maxBatch: number, now: bigint): number;
  classifyTuples(bank: number, tuples: number, count: number, out: number, scratch: number): void;
  tupleScratchBytes(): number;
  pcapIngest(control: number, port: number, buf: number, len: number, swapped: number, nanos: number): number;
  pcapEmit(control: number, ring: number, out: number, cap: number, nanos: number): number;
  pcapngEmit(control: number, ring: number, out: number, cap: number, iface: number): number;
  eliminatorInit(region: number, capacity: number, historyLength: number, resetNs: bigint): number;
  eliminatorBytes(capacity: number): number;
  eliminateBatch(region: number, packets: number, n: number, now: bigint): void;
  readonly ingestError: WebAssembly.Global;
  readonly ingestErrorAt: WebAssembly.Global;
}

/** Every export DataplaneExports names: a module without all of them is not the data plane. */
export const DATAPLANE_EXPORTS: readonly (keyof DataplaneExports)[] = [
  'memory', 'heapBase', 'init', 'process', 'classifyTuples', 'tupleScratchBytes',
  'pcapIngest', 'pcapEmit', 'pcapngEmit', 'ingestError', 'ingestErrorAt',
];

/** Whatever a module imports beyond its memory ("env.memory"), named: a data plane has nothing else. */
export function unexpectedImports(module: WebAssembly.Module): string[] {
  return WebAssembly.Module.imports(module)
    .filter((i) => !(i.module === 'env' && i.name === 'memory' && i.kind === 'memory'))
    .map((i) => `${i.module}.${i.name} (${i.kind})`);
}

/** The release build in the source tree (`npm run build`). */
export const WASM_PATH = fileURLToPath(new URL('../../build/dataplane.wasm', import.meta.url));

let wasmPath = WASM_PATH;
let compiled: WebAssembly.Module | undefined;

/** Loads the data plane from `file` instead of the source tree's build; call before first use. */
export function useDataplaneWasm(file: string): void {
  if (compiled) throw new Error('the data-plane module is already compiled');
  wasmPath = file;
}

/** The file the data plane is (or will be) compiled from. */
export function dataplaneWasmPath(): string {
  return wasmPath;
}

/** The compiled module; a clear error when the build is missing. */
export function dataplaneModule(): WebAssembly.Module {
  if (!compiled) {
    // Compile the hot path with the optimising tier from the start: the module is small, so
    // TurboFan costs a few milliseconds, while V8's baseline tier would run the first hundred
    // thousand packets of a replay at about half speed before tiering up.
    v8.setFlagsFromString('--no-liftoff');
    if (!existsSync(wasmPath)) {
      throw new Error(`${path.relative(process.cwd(), wasmPath)} is missing: run "npm run build" (npm install does it)`);
    }
    const module = new WebAssembly.Module(readFileSync(wasmPath));
    const exported = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
    const missing = DATAPLANE_EXPORTS.filter((name) => !exported.has(name));
    if (missing.length) throw new Error(`${path.relative(process.cwd(), wasmPath)} is not the data plane (missing exports: ${missing.join(', ')})`);
    const extra = unexpectedImports(module);
    if (extra.length) throw new Error(`${path.relative(process.cwd(), wasmPath)} imports more than its memory: ${extra.join(', ')}`);
    compiled = module;
  }
  return compiled;
}

/**
 * Pages of the memory every instance starts with, and the most it may grow to: asconfig.json's
 * initialMemory and maximumMemory (a shared memory must declare its maximum; 4 GiB is wasm32's
 * whole address space, so the maximum never limits a board: the memory budget does).
 */
export const DATAPLANE_INITIAL_PAGES = 16;
export const DATAPLANE_MAXIMUM_PAGES = 65536;

/**
 * A fresh instance with its own memory: a shared WebAssembly.Memory, so that worker threads (the
 * line cards of firmware/runtime/workers/) and the control plane can hold views of it. Exactly one
 * instance runs on each memory: the module's globals and its scratch are per instance.
 */
export function instantiateDataplane(): DataplaneExports {
  const memory = new WebAssembly.Memory({ initial: DATAPLANE_INITIAL_PAGES, maximum: DATAPLANE_MAXIMUM_PAGES, shared: true });
  const instance = new WebAssembly.Instance(dataplaneModule(), { env: { memory } });
  return instance.exports as unknown as DataplaneExports;
}

/**
 * Grows `memory` so that at least `bytes` are addressable. Take views afterwards: a view taken
 * before covers only the old length (and a non-shared memory's old views are detached).
 */
export function ensureMemory(memory: WebAssembly.Memory, bytes: number): void {
  const have = memory.buffer.byteLength;
  if (bytes > have) memory.grow(Math.ceil((bytes - have) / 65536));
}
