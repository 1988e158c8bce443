// Crash-safe file replacement: a file is either its old or its new content, whatever moment the
// process dies or the power fails. The new bytes go to a temporary file beside the target, which
// is fsynced, renamed over the target (rename is atomic within a directory), and then the
// directory is fsynced so the rename itself is durable. A temporary file left by a crash is never
// read; removeTempFiles() clears them (callers hold the directory's lock, so none is in use).

import { closeSync, fsyncSync, openSync, readdirSync, renameSync, rmSync, writeSync } from 'node:fs';
import path from 'node:path';

const TEMP_MARK = '.tmp-';
let sequence = 0;

/** The name of a temporary file for `file` (same directory, so rename stays atomic). */
export function tempFileFor(file: string): string {
  return `${file}${TEMP_MARK}${process.pid}-${++sequence}`;
}

/** fsync a directory, so entries created or renamed in it survive a power failure. */
export function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Writes `bytes` to a new file and fsyncs it (no rename). */
export function writeDurable(file: string, bytes: Uint8Array, flags = 'w'): void {
  const fd = openSync(file, flags, 0o644);
  try {
    let done = 0;
    while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Replaces `file` with `bytes` atomically and durably. */
export function writeFileAtomic(file: string, bytes: Uint8Array): void {
  const temp = tempFileFor(file);
  try {
    writeDurable(temp, bytes);
    renameSync(temp, file);
  } catch (e) {
    rmSync(temp, { force: true });
    throw e;
  }
  fsyncDirectory(path.dirname(file));
}

/** Removes temporary files a crashed writer left in `dir`; returns their names. */
export function removeTempFiles(dir: string): string[] {
  const stale = readdirSync(dir).filter((name) => name.includes(TEMP_MARK));
  for (const name of stale) rmSync(path.join(dir, name), { force: true });
  return stale;
}
