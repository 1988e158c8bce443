// The firmware image file: its byte layout, written by the builder and read (untrusted) by the
// verifier. docs/images.md is the same contract for someone writing a verifier elsewhere.
//
//   offset        size  field
//  ┌─────────────┬─────┬──────────────────────────────────────────────────────────────────┐
//  │ 0           │   8 │ magic 89 54 57 46 49 4D 47 0A ("\x89TWFIMG\n")                    │
//  │ 8           │   4 │ format version, u32 big-endian (IMAGE_FORMAT)                     │
//  │ 12          │   4 │ manifest length M, u32 big-endian                                 │
//  │ 16          │   8 │ image length L (the whole file), u64 big-endian                    │
//  ├─────────────┼─────┼──────────────────────────────────────────────────────────────────┤
//  │ 24          │   M │ manifest: UTF-8 JSON object (Manifest below)                      │
//  ├─────────────┼─────┼──────────────────────────────────────────────────────────────────┤
//  │ 24+M        │     │ payload: sections wasm, runtime, board, back to back, in that     │
//  │             │     │ order; each section's offset is from the start of the payload     │
//  ├─────────────┼─────┼──────────────────────────────────────────────────────────────────┤
//  │ L-96        │  32 │ SHA-256 of bytes [0, L-96)                                        │
//  │ L-64        │  64 │ Ed25519 signature (RFC 8032, pure) of bytes [0, L-64)             │
//  └─────────────┴─────┴──────────────────────────────────────────────────────────────────┘
//
// Reading trusts nothing: the header is checked against the file's length before anything is
// sliced, the checksum is checked before the manifest is parsed, and the manifest is checked
// field by field (sections must tile the payload exactly). Reading is bounded: an image is at
// most MAX_IMAGE_BYTES and its manifest at most MAX_MANIFEST_BYTES. The signature and the
// sections' own hashes are checked by verify.ts, which knows the key.

import { createHash } from 'node:crypto';
import { ImageError } from './errors.ts';
import { isTestOnlyFault, type TestOnlyFault } from './faults.ts';
import { isVersion } from './version-order.ts';

export const IMAGE_MAGIC = Uint8Array.of(0x89, 0x54, 0x57, 0x46, 0x49, 0x4d, 0x47, 0x0a);

/** The layout above. A reader refuses any other format version. */
export const IMAGE_FORMAT = 1;

export const Header = {
  Magic: 0,
  Format: 8,
  ManifestLength: 12,
  ImageLength: 16,
  Size: 24,
} as const;

export const CHECKSUM_BYTES = 32;
export const SIGNATURE_BYTES = 64;
export const TRAILER_BYTES = CHECKSUM_BYTES + SIGNATURE_BYTES;

/**
 * Largest image accepted (read, uploaded, flashed): the whole image is held in memory while it is
 * verified, and a real one is well under 1 MiB (a bundled runtime of a few hundred KiB, a wasm of
 * tens of KiB), so 64 MiB leaves room to grow while bounding what an upload can make us buffer.
 */
export const MAX_IMAGE_BYTES = 64 << 20;

/** Largest manifest: a few hundred bytes in practice; parsed only after the checksum matched. */
export const MAX_MANIFEST_BYTES = 64 << 10;

/** Longest board name in a manifest (board names are short identifiers). */
const MAX_BOARD_NAME = 64;

/** The sections, in payload order. */
export const SECTION_NAMES = ['wasm', 'runtime', 'board'] as const;
export type SectionName = (typeof SECTION_NAMES)[number];

export interface SectionEntry {
  readonly name: SectionName;
  /** From the start of the payload (byte 24 + M). */
  readonly offset: number;
  readonly size: number;
  /** SHA-256 of the section, lower-case hex. */
  readonly sha256: string;
}

export interface Manifest {
  /** Equal to the header's format version. */
  readonly format: number;
  /** MAJOR.MINOR.PATCH. */
  readonly firmwareVersion: string;
  /** The board's `name`; the board section is that board file. */
  readonly board: string;
  /** ISO 8601, UTC. */
  readonly builtAt: string;
  /** keys.ts keyId() of the signer's public key. */
  readonly keyId: string;
  readonly sections: readonly SectionEntry[];
  /** Present only in test images that must fail their health check (faults.ts). */
  readonly testOnlyFault?: TestOnlyFault;
}

export type Sections = { readonly [K in SectionName]: Uint8Array };

/** A structurally sound image whose checksum matched (not yet its signature). */
export interface ImageLayout {
  readonly manifest: Manifest;
  readonly sections: Sections;
  /** Bytes [0, L-96): what the checksum covers. */
  readonly checksummed: Uint8Array;
  readonly checksum: Uint8Array;
  /** Bytes [0, L-64): what the signature covers. */
  readonly signed: Uint8Array;
  readonly signature: Uint8Array;
}

export function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** Manifest fields the builder chooses; the sections are filled in by writeImage. */
export type ManifestFields = Omit<Manifest, 'format' | 'sections'>;

/**
 * Lays out an image: header, manifest, sections, checksum, then `sign(bytes [0, L-64))`, which
 * must return the 64-byte Ed25519 signature.
 */
export function writeImage(fields: ManifestFields, sections: Sections, sign: (signed: Uint8Array) => Uint8Array): Uint8Array {
  let offset = 0;
  const entries: SectionEntry[] = SECTION_NAMES.map((name) => {
    const bytes = sections[name];
    const entry = { name, offset, size: bytes.length, sha256: sha256Hex(bytes) };
    offset += bytes.length;
    return entry;
  });
  const manifest: Manifest = { format: IMAGE_FORMAT, ...fields, sections: entries };
  const manifestBytes = new TextEncoder().encode(JSON.stringify(manifest));
  if (manifestBytes.length > MAX_MANIFEST_BYTES) throw new RangeError(`manifest of ${manifestBytes.length} bytes exceeds ${MAX_MANIFEST_BYTES}`);
  const length = Header.Size + manifestBytes.length + offset + TRAILER_BYTES;
  if (length > MAX_IMAGE_BYTES) throw new RangeError(`image of ${length} bytes exceeds ${MAX_IMAGE_BYTES}`);
  const image = new Uint8Array(length);
  const dv = new DataView(image.buffer);
  image.set(IMAGE_MAGIC, Header.Magic);
  dv.setUint32(Header.Format, IMAGE_FORMAT);
  dv.setUint32(Header.ManifestLength, manifestBytes.length);
  dv.setBigUint64(Header.ImageLength, BigInt(length));
  image.set(manifestBytes, Header.Size);
  const payload = Header.Size + manifestBytes.length;
  for (const e of entries) image.set(sections[e.name], payload + e.offset);
  image.set(sha256(image.subarray(0, length - TRAILER_BYTES)), length - TRAILER_BYTES);
  const signature = sign(image.subarray(0, length - SIGNATURE_BYTES));
  if (signature.length !== SIGNATURE_BYTES) throw new RangeError(`signature of ${signature.length} bytes, expected ${SIGNATURE_BYTES}`);
  image.set(signature, length - SIGNATURE_BYTES);
  return image;
}

/**
 * Reads an untrusted image: layout, lengths, checksum, manifest. Throws ImageError (naming
 * `source` and the reason) for anything else than a well-formed image with a matching checksum.
 */
export function readImage(bytes: Uint8Array, source: string): ImageLayout {
  const refuse = (reason: ConstructorParameters<typeof ImageError>[1], detail: string): never => {
    throw new ImageError(source, reason, detail);
  };
  if (bytes.length > MAX_IMAGE_BYTES) refuse('too-large', `${bytes.length} bytes is larger than the largest image (${MAX_IMAGE_BYTES} bytes)`);
  const magicSeen = Math.min(bytes.length, IMAGE_MAGIC.length);
  if (magicSeen === 0 || !equalBytes(bytes.subarray(0, magicSeen), IMAGE_MAGIC.subarray(0, magicSeen))) {
    refuse('not-an-image', 'not a twinflow firmware image (bad magic)');
  }
  if (bytes.length < Header.Size) refuse('truncated', `truncated: ${bytes.length} bytes, shorter than the ${Header.Size}-byte header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const format = dv.getUint32(Header.Format);
  if (format !== IMAGE_FORMAT) refuse('unsupported-format', `image format ${format} is not supported (this runtime reads format ${IMAGE_FORMAT})`);
  const manifestLength = dv.getUint32(Header.ManifestLength);
  const imageLength = dv.getBigUint64(Header.ImageLength);
  if (manifestLength === 0 || manifestLength > MAX_MANIFEST_BYTES) refuse('bad-header', `header: manifest length ${manifestLength} is outside 1..${MAX_MANIFEST_BYTES}`);
  const smallest = BigInt(Header.Size + manifestLength + TRAILER_BYTES);
  if (imageLength < smallest || imageLength > BigInt(MAX_IMAGE_BYTES)) {
    refuse('bad-header', `header: image length ${imageLength} is outside ${smallest}..${MAX_IMAGE_BYTES}`);
  }
  const length = Number(imageLength);
  if (bytes.length < length) refuse('truncated', `truncated: ${bytes.length} of ${length} bytes`);
  if (bytes.length > length) refuse('trailing-bytes', `${bytes.length - length} bytes after the end of the image (${length} bytes)`);

  const checksummed = bytes.subarray(0, length - TRAILER_BYTES);
  const checksum = bytes.subarray(length - TRAILER_BYTES, length - SIGNATURE_BYTES);
  if (!equalBytes(sha256(checksummed), checksum)) refuse('checksum', 'checksum mismatch: the image is corrupted');

  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(Header.Size, Header.Size + manifestLength)));
  } catch (e) {
    refuse('bad-manifest', `manifest: not UTF-8 JSON (${(e as Error).message})`);
  }
  const payloadStart = Header.Size + manifestLength;
  const payloadLength = length - TRAILER_BYTES - payloadStart;
  const manifest = checkManifest(json, format, payloadLength, (detail) => refuse('bad-manifest', `manifest: ${detail}`));
  const sections = Object.fromEntries(manifest.sections.map((e) => [e.name, bytes.subarray(payloadStart + e.offset, payloadStart + e.offset + e.size)])) as Sections;
  return {
    manifest,
    sections,
    checksummed,
    checksum,
    signed: bytes.subarray(0, length - SIGNATURE_BYTES),
    signature: bytes.subarray(length - SIGNATURE_BYTES, length),
  };
}

function checkManifest(json: unknown, format: number, payloadLength: number, bad: (detail: string) => never): Manifest {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) bad('not a JSON object');
  const m = json as Record<string, unknown>;
  if (m.format !== format) bad(`format ${JSON.stringify(m.format)} differs from the header's ${format}`);
  if (!isVersion(m.firmwareVersion)) bad(`firmwareVersion ${JSON.stringify(m.firmwareVersion)} is not MAJOR.MINOR.PATCH`);
  if (typeof m.board !== 'string' || m.board.length === 0 || m.board.length > MAX_BOARD_NAME) bad(`board must be a name of 1..${MAX_BOARD_NAME} characters`);
  if (typeof m.builtAt !== 'string' || Number.isNaN(Date.parse(m.builtAt))) bad('builtAt must be an ISO 8601 time');
  if (typeof m.keyId !== 'string' || !/^[0-9a-f]{16}$/.test(m.keyId)) bad('keyId must be 16 lower-case hex digits');
  if (m.testOnlyFault !== undefined && !isTestOnlyFault(m.testOnlyFault)) bad(`testOnlyFault ${JSON.stringify(m.testOnlyFault)} is unknown`);
  if (!Array.isArray(m.sections) || m.sections.length !== SECTION_NAMES.length) bad(`sections must list ${SECTION_NAMES.join(', ')}`);
  let next = 0;
  (m.sections as unknown[]).forEach((s, i) => {
    const e = s as Record<string, unknown>;
    const name = SECTION_NAMES[i];
    if (typeof e !== 'object' || e === null || e.name !== name) bad(`sections.${i} must be the ${name} section`);
    if (e.offset !== next) bad(`sections.${i} (${name}): offset ${JSON.stringify(e.offset)}, expected ${next} (sections are back to back)`);
    if (!Number.isSafeInteger(e.size) || (e.size as number) < 0) bad(`sections.${i} (${name}): size must be a whole number`);
    if (typeof e.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(e.sha256)) bad(`sections.${i} (${name}): sha256 must be 64 lower-case hex digits`);
    next += e.size as number;
  });
  if (next !== payloadLength) bad(`sections hold ${next} bytes, the payload ${payloadLength}`);
  return m as unknown as Manifest;
}
