// A slot's run directory: the sections of a verified image as files, so node can run the image's
// own bundled runtime with its own wasm and board (the runtime loads the wasm beside itself; see
// entry.ts). Extracted fresh from the verified bytes each time a slot is started, into a private
// temporary directory (never into the slots directory, which is flash on a device), and removed
// when the slot's process ends.

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { VerifiedImage } from './verify.ts';

/** File names in a run directory; the bundle's entry finds its wasm by RUN_FILES.wasm. */
export const RUN_FILES = {
  runtime: 'runtime.mjs',
  wasm: 'dataplane.wasm',
  board: 'board.json',
  manifest: 'manifest.json',
} as const;

export interface RunDir {
  readonly dir: string;
  readonly runtime: string;
  readonly wasm: string;
  readonly board: string;
  remove(): void;
}

/** Writes the sections of `image` into a new temporary directory. */
export function extractRunDir(image: VerifiedImage, parent = os.tmpdir()): RunDir {
  const dir = mkdtempSync(path.join(parent, 'twinflow-slot-'));
  const at = (name: string): string => path.join(dir, name);
  writeFileSync(at(RUN_FILES.runtime), image.sections.runtime, { mode: 0o644 });
  writeFileSync(at(RUN_FILES.wasm), image.sections.wasm, { mode: 0o644 });
  writeFileSync(at(RUN_FILES.board), image.sections.board, { mode: 0o644 });
  writeFileSync(at(RUN_FILES.manifest), `${JSON.stringify(image.manifest, null, 2)}\n`, { mode: 0o644 });
  return {
    dir,
    runtime: at(RUN_FILES.runtime),
    wasm: at(RUN_FILES.wasm),
    board: at(RUN_FILES.board),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
