// The hot path stays pure (wasm/README contract): the release module imports nothing (no WASI,
// no host functions, no clock), never grows its memory, never calls the allocator, and exports
// only what the runtime binds.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { dataplaneModule } from '../../firmware/runtime/wasm.ts';

const wat = readFileSync(new URL('../../build/dataplane.wat', import.meta.url), 'utf8');

test('the release module has no imports', () => {
  assert.equal(WebAssembly.Module.imports(dataplaneModule()), []);
  assert.not.match(wat, /\(import /);
});

test('no allocation and no memory growth anywhere in the module', () => {
  assert.not.match(wat, /memory\.grow/);
  assert.not.match(wat, /~lib\/rt\//);
  assert.not.match(wat, /__new|__alloc|__renew/);
});

test('exports are exactly the bound surface', () => {
  const names = WebAssembly.Module.exports(dataplaneModule()).map((e) => e.name).sort();
  assert.equal(names, ['classifyTuples', 'eliminateBatch', 'eliminatorBytes', 'eliminatorInit', 'heapBase', 'ingestError', 'ingestErrorAt', 'init', 'memory', 'pcapEmit', 'pcapIngest', 'pcapngEmit', 'process', 'tupleScratchBytes'].sort());
});

test.run();
