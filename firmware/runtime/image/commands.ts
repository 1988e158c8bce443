// The command-line faces of images and slots (`twinflow image build`, `image verify`, `flash`,
// `slots`), thin over build.ts, verify.ts and slots.ts: read the files, call, print one line.
// Every refusal is an error from errors.ts, which the CLI prints as one line with exit status 2.

import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { loadBoard } from '../board.ts';
import { writeFileAtomic } from './atomic.ts';
import { buildImage } from './build.ts';
import { ImageBuildError, ImageError, KeyError } from './errors.ts';
import { isTestOnlyFault, TEST_ONLY_FAULTS, type TestOnlyFault } from './faults.ts';
import { MAX_IMAGE_BYTES, type Manifest } from './format.ts';
import { MAX_KEY_FILE_BYTES, loadPublicKey } from './keys.ts';
import { flashImageBytes, slotsStatus } from './slots.ts';
import { verifyImage } from './verify.ts';

/** A board option: a path to a board file names the board in it; anything else is a board name. */
export function boardName(option: string): string {
  return option.includes('/') || option.endsWith('.json') ? loadBoard(option).name : option;
}

function readKeyFile(file: string): Buffer {
  if (statSync(file).size > MAX_KEY_FILE_BYTES) throw new KeyError(file, `larger than ${MAX_KEY_FILE_BYTES} bytes: not a key file`);
  return readFileSync(file);
}

/** An image file, refused by size before it is read. */
export function readImageFile(file: string): Uint8Array {
  const size = statSync(file).size;
  if (size > MAX_IMAGE_BYTES) throw new ImageError(file, 'too-large', `${size} bytes is larger than the largest image (${MAX_IMAGE_BYTES} bytes)`);
  return new Uint8Array(readFileSync(file));
}

function sizes(m: Manifest): string {
  return m.sections.map((s) => `${s.name} ${s.size}`).join(', ');
}

function faultNote(m: Manifest): string {
  return m.testOnlyFault ? `; TEST-ONLY FAULT ${m.testOnlyFault}: ${TEST_ONLY_FAULTS[m.testOnlyFault]}` : '';
}

export async function imageBuildCommand(o: { board: string; key: string; output: string; version?: string; testOnlyFault?: string }): Promise<void> {
  let fault: TestOnlyFault | undefined;
  if (o.testOnlyFault !== undefined) {
    if (!isTestOnlyFault(o.testOnlyFault)) throw new ImageBuildError('--test-only-fault', `"${o.testOnlyFault}" is not one of ${Object.keys(TEST_ONLY_FAULTS).join(', ')}`);
    fault = o.testOnlyFault;
  }
  const built = await buildImage({
    board: o.board,
    privateKeyPem: readKeyFile(o.key),
    privateKeySource: o.key,
    version: o.version,
    testOnlyFault: fault,
  });
  writeFileAtomic(path.resolve(o.output), built.bytes);
  const m = built.manifest;
  process.stdout.write(`wrote ${o.output}: twinflow ${m.firmwareVersion} for board "${m.board}", ${built.bytes.length} bytes (${sizes(m)}), signed by key ${m.keyId}${faultNote(m)}\n`);
}

export function imageVerifyCommand(file: string, o: { pubkey: string; board?: string; minVersion?: string; json?: boolean }): void {
  const key = loadPublicKey(readKeyFile(o.pubkey), o.pubkey);
  const board = o.board !== undefined ? boardName(o.board) : undefined;
  const image = verifyImage(readImageFile(file), key, file, { board, minVersion: o.minVersion });
  const m = image.manifest;
  if (o.json) {
    process.stdout.write(`${JSON.stringify({ file, good: true, imageSha256: image.imageSha256, size: image.size, manifest: m }, null, 2)}\n`);
    return;
  }
  process.stdout.write(`${file}: good: twinflow ${m.firmwareVersion} for board "${m.board}", built ${m.builtAt}, signed by key ${m.keyId}, ${image.size} bytes (${sizes(m)})${faultNote(m)}\n`);
}

export async function flashCommand(file: string, o: { slots: string; pubkey: string; board?: string; minVersion?: string }): Promise<void> {
  const publicKey = readKeyFile(o.pubkey);
  loadPublicKey(publicKey, o.pubkey);
  const board = o.board !== undefined ? boardName(o.board) : undefined;
  const r = await flashImageBytes(readImageFile(file), o.slots, publicKey, { board, minVersion: o.minVersion, source: file });
  const init = r.initialised ? ` (initialised for board "${r.board}", minimum version ${r.minVersion})` : '';
  process.stdout.write(`flashed ${file} into slot ${r.slot} of ${o.slots}${init}: twinflow ${r.version}, ${r.bytes} bytes; it is tried at the next boot\n`);
}

export function slotsCommand(dir: string, o: { json?: boolean }): void {
  const s = slotsStatus(dir);
  if (o.json) {
    process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
    return;
  }
  const lines: string[] = [];
  if (!s.device) {
    lines.push(`${s.dir}: not initialised`);
  } else {
    lines.push(`${s.dir}: board "${s.device.board}", minimum version ${s.device.minVersion}, trusts key ${s.device.keyId}`);
  }
  if (s.state === 'corrupt') lines.push('state record: CORRUPT (the next boot rebuilds it)');
  else if (s.state) {
    for (const slot of ['a', 'b'] as const) {
      const r = s.state.slots[slot];
      const marks = [s.state.active === slot ? 'active' : '', s.state.trial === slot ? 'to try' : ''].filter(Boolean).join(', ');
      lines.push(`slot ${slot}: ${r ? `twinflow ${r.version}, ${r.status}${r.reason ? ` (${r.reason})` : ''}, flashed ${r.flashedAt}` : 'empty'}${marks ? ` [${marks}]` : ''}`);
    }
    for (const e of s.state.events.slice(-5)) lines.push(`  ${e.at} ${e.event}${e.slot ? ` slot ${e.slot}` : ''}${e.version ? ` ${e.version}` : ''}${e.detail ? `: ${e.detail}` : ''}`);
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}
