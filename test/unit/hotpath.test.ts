// The hot path stays pure (wasm/README contract): the release module imports nothing but its
// memory (shared, so line cards in worker threads and the control plane's thread see the same
// bytes: firmware/runtime/workers/; no WASI, no host functions, no clock), never grows its
// memory, never calls the allocator, and exports only what the runtime binds.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync } from 'node:fs';
import { dataplaneModule } from '../../firmware/runtime/wasm.ts';

const wat = readFileSync(new URL('../../build/dataplane.wat', import.meta.url), 'utf8');

test('the release module imports its shared memory and nothing else', () => {
  assert.equal(WebAssembly.Module.imports(dataplaneModule()), [{ module: 'env', name: 'memory', kind: 'memory' }]);
  const imports = wat.match(/\(import [^\n]*/g) ?? [];
  assert.equal(imports.length, 1);
  assert.match(imports[0] ?? '', /^\(import "env" "memory" \(memory \$0 \d+ 65536 shared\)\)$/);
});

test('the only atomics are the table version load and its acknowledgement', () => {
  const atomics = wat.match(/\b\w+\.atomic\.[\w.]+(?: offset=\d+)?/g) ?? [];
  assert.equal(atomics.sort(), ['i32.atomic.load offset=12', 'i32.atomic.store offset=16']);
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
