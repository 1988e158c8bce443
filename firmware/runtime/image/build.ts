// Building an image: check every input first — the version, the signing key, the board (schema,
// cross-references, and that every line card's memory plan fits its budget: loadBoard), the wasm
// (the release build, current with wasm/, compiling, with every data-plane export) — then bundle
// the runtime, lay the image out (format.ts), sign it with Ed25519, and verify the result with
// the public half of the key before handing it back. Nothing is written here; the CLI writes the
// file.

import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { createPublicKey, sign } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { boardPath, loadBoard } from '../board.ts';
import { DATAPLANE_EXPORTS, WASM_PATH, unexpectedImports } from '../wasm.ts';
import { FIRMWARE_VERSION } from '../../version.ts';
import { bundleRuntime, stampVersion } from './bundle.ts';
import { ImageBuildError } from './errors.ts';
import { applyFault, type TestOnlyFault } from './faults.ts';
import { writeImage, type Manifest } from './format.ts';
import { keyId, loadPrivateKey } from './keys.ts';
import { verifyImage } from './verify.ts';
import { parseVersion } from './version-order.ts';

const WASM_SOURCES = fileURLToPath(new URL('../../../wasm/', import.meta.url));

export interface BuildImageOptions {
  /** A board name (boards/NAME.json) or a board file. */
  readonly board: string;
  /** The signer's Ed25519 private key, PKCS#8 PEM. */
  readonly privateKeyPem: string | Uint8Array;
  /** Names the key in errors (its file). */
  readonly privateKeySource?: string;
  /** MAJOR.MINOR.PATCH; default: package.json's version. */
  readonly version?: string;
  /** An unstamped runtime bundle (bundleRuntime()) to reuse; default: bundle now. */
  readonly runtime?: Uint8Array;
  /** The data-plane module; default: build/dataplane.wasm (the release build). */
  readonly wasm?: Uint8Array;
  /** Default: $SOURCE_DATE_EPOCH if set (reproducible builds), else now. */
  readonly builtAt?: Date;
  /** Tests only: an image that must fail its health check (faults.ts). */
  readonly testOnlyFault?: TestOnlyFault;
}

export interface BuiltImage {
  readonly bytes: Uint8Array;
  readonly manifest: Manifest;
}

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/** The release wasm of this source tree, refused when missing or older than wasm/. */
function releaseWasm(): Uint8Array {
  const shown = path.relative(process.cwd(), WASM_PATH) || WASM_PATH;
  if (!existsSync(WASM_PATH)) throw new ImageBuildError('wasm', `${shown} is missing: run "npm run build"`);
  if (existsSync(WASM_SOURCES) && newestSource(WASM_SOURCES) > statSync(WASM_PATH).mtimeMs) {
    throw new ImageBuildError('wasm', `${shown} is older than the sources in wasm/: run "npm run build"`);
  }
  return new Uint8Array(readFileSync(WASM_PATH));
}

function checkDataplane(wasm: Uint8Array): void {
  let module: WebAssembly.Module;
  try {
    module = new WebAssembly.Module(wasm as Uint8Array<ArrayBuffer>);
  } catch (e) {
    throw new ImageBuildError('wasm', `does not compile: ${(e as Error).message}`);
  }
  const exports = new Set(WebAssembly.Module.exports(module).map((e) => e.name));
  const missing = DATAPLANE_EXPORTS.filter((name) => !exports.has(name));
  if (missing.length) throw new ImageBuildError('wasm', `not the data plane: missing exports ${missing.join(', ')}`);
  const extra = unexpectedImports(module);
  if (extra.length) throw new ImageBuildError('wasm', `the data plane must import nothing but its memory, not ${extra.join(', ')}`);
}

function buildTime(o: BuildImageOptions): Date {
  if (o.builtAt) return o.builtAt;
  const epoch = process.env.SOURCE_DATE_EPOCH;
  if (epoch !== undefined && /^\d+$/.test(epoch)) return new Date(Number(epoch) * 1000);
  return new Date();
}

/** Builds and signs an image; throws ImageBuildError, BoardError, KeyError or VersionError. */
export async function buildImage(o: BuildImageOptions): Promise<BuiltImage> {
  const version = o.version ?? FIRMWARE_VERSION;
  parseVersion(version, '--version');
  const privateKey = loadPrivateKey(o.privateKeyPem, o.privateKeySource ?? 'private key');
  const board = loadBoard(o.board);
  const boardBytes = new Uint8Array(readFileSync(boardPath(o.board)));
  const wasm = o.wasm ?? releaseWasm();
  checkDataplane(wasm);
  let sections = { wasm, runtime: stampVersion(o.runtime ?? await bundleRuntime(), version) };
  if (o.testOnlyFault) sections = applyFault(o.testOnlyFault, sections);
  const publicKey = createPublicKey(privateKey);
  const bytes = writeImage(
    {
      firmwareVersion: version,
      board: board.name,
      builtAt: buildTime(o).toISOString(),
      keyId: keyId(publicKey),
      ...(o.testOnlyFault ? { testOnlyFault: o.testOnlyFault } : {}),
    },
    { ...sections, board: boardBytes },
    (signed) => new Uint8Array(sign(null, signed, privateKey)),
  );
  const checked = verifyImage(bytes, publicKey, 'built image', { board: board.name, minVersion: version });
  return { bytes, manifest: checked.manifest };
}
