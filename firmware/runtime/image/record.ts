// A small checksummed record file (a slots directory's device and state records): JSON on the
// first line, its SHA-256 on the second, written atomically (atomic.ts).
//
//   {"format":1,...}\n
//   sha256:<64 lower-case hex digits of the first line's bytes>\n
//
// A record that is not exactly this — a bit flipped on disk, a hand edit, a foreign file — reads
// as corrupt (RecordCorrupt), never as some other state. A missing record reads as null.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { writeFileAtomic } from './atomic.ts';

/** Records are a few KiB; a larger file is not one of ours. */
export const MAX_RECORD_BYTES = 1 << 20;

export class RecordCorrupt extends Error {
  override readonly name = 'RecordCorrupt';
  constructor(readonly file: string, readonly detail: string) {
    super(`${file}: ${detail}`);
  }
}

const digest = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

export function encodeRecord(value: unknown): Uint8Array {
  const body = JSON.stringify(value);
  return new TextEncoder().encode(`${body}\nsha256:${digest(body)}\n`);
}

/** The record in `file`, null when there is none; throws RecordCorrupt when it does not check. */
export function readRecord(file: string): unknown {
  if (!existsSync(file)) return null;
  if (statSync(file).size > MAX_RECORD_BYTES) throw new RecordCorrupt(file, `larger than ${MAX_RECORD_BYTES} bytes`);
  const text = readFileSync(file, 'utf8');
  const m = /^([^\n]*)\nsha256:([0-9a-f]{64})\n$/.exec(text);
  if (!m) throw new RecordCorrupt(file, 'not a checksummed record');
  if (digest(m[1]) !== m[2]) throw new RecordCorrupt(file, 'checksum mismatch');
  try {
    return JSON.parse(m[1]) as unknown;
  } catch {
    throw new RecordCorrupt(file, 'not JSON');
  }
}

/** Replaces the record in `file` atomically. */
export function writeRecord(file: string, value: unknown): void {
  writeFileAtomic(file, encodeRecord(value));
}
