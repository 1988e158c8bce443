// Verifying an image: everything format.ts checks (layout, lengths, checksum, manifest), then who
// signed it (the manifest's keyId against the verifying key, then the Ed25519 signature over bytes
// [0, L-64)), then each section against its SHA-256, then what the device asks of it (its board,
// a minimum version). The first failure throws an ImageError naming the reason; an image that
// returns is exactly what its signer built, for this device.

import { verify as verifySignature, type KeyObject } from 'node:crypto';
import { ImageError } from './errors.ts';
import { readImage, sha256Hex, type Manifest, type Sections } from './format.ts';
import { keyId } from './keys.ts';
import { compareVersions, parseVersion } from './version-order.ts';

export interface VerifyOptions {
  /** The device's board name: an image for another board is refused. */
  readonly board?: string;
  /** The device's minimum version: an older image is refused. */
  readonly minVersion?: string;
}

export interface VerifiedImage {
  readonly manifest: Manifest;
  readonly sections: Sections;
  /** SHA-256 of the whole file, hex (how a slot remembers what it holds). */
  readonly imageSha256: string;
  readonly size: number;
}

/** Verifies `bytes` with `publicKey`; `source` names the image in errors (a file, "upload"). */
export function verifyImage(bytes: Uint8Array, publicKey: KeyObject, source: string, o: VerifyOptions = {}): VerifiedImage {
  if (o.minVersion !== undefined) parseVersion(o.minVersion, 'minimum version');
  const image = readImage(bytes, source);
  const m = image.manifest;
  const expected = keyId(publicKey);
  if (m.keyId !== expected) throw new ImageError(source, 'wrong-key', `signed by key ${m.keyId}, not by the verifying key ${expected}`);
  if (!verifySignature(null, image.signed, publicKey, image.signature)) {
    throw new ImageError(source, 'bad-signature', `the Ed25519 signature does not verify with key ${expected}: the image is corrupted or forged`);
  }
  for (const e of m.sections) {
    if (sha256Hex(image.sections[e.name]) !== e.sha256) throw new ImageError(source, 'section-hash', `section ${e.name}: SHA-256 does not match the manifest`);
  }
  let boardName: unknown;
  try {
    boardName = (JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(image.sections.board)) as { name?: unknown }).name;
  } catch {
    throw new ImageError(source, 'bad-manifest', 'section board: not a JSON board file');
  }
  if (boardName !== m.board) throw new ImageError(source, 'bad-manifest', `section board is board ${JSON.stringify(boardName)}, the manifest says "${m.board}"`);
  if (o.board !== undefined && m.board !== o.board) throw new ImageError(source, 'wrong-board', `built for board "${m.board}", not for "${o.board}"`);
  if (o.minVersion !== undefined && compareVersions(m.firmwareVersion, o.minVersion) < 0) {
    throw new ImageError(source, 'below-minimum-version', `version ${m.firmwareVersion} is below the minimum version ${o.minVersion}`);
  }
  return { manifest: m, sections: image.sections, imageSha256: sha256Hex(bytes), size: bytes.length };
}
