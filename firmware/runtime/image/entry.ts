// The entry point of a firmware image's bundled runtime (bundle.ts bundles this file): the whole
// `twinflow` command, with the data plane loaded from the wasm beside the bundle — the run
// directory of a slot (rundir.ts) — instead of a source tree's build/.

import { fileURLToPath } from 'node:url';
import { useDataplaneWasm } from '../wasm.ts';
import { RUN_FILES } from './rundir.ts';

useDataplaneWasm(fileURLToPath(new URL(`./${RUN_FILES.wasm}`, import.meta.url)));
await import('../../cli.ts');
