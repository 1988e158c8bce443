// Replacing a file so that a crash at any instant (kill -9, power loss after the final fsync)
// leaves either the whole old file or the whole new one, never a mix:
//
//   1. write the new bytes to a temporary file in the same directory (same file system, so the
//      rename below is atomic), created exclusively with mode 0600;
//   2. fsync it (its data is on disk before its name can point at it);
//   3. rename it over the target (POSIX: atomic; readers see old or new);
//   4. fsync the directory (the rename itself is on disk).
//
// A crash between 1 and 3 leaves a temporary file beside the target. Its name carries the pid of
// the process that wrote it; the next write to the same target removes those of processes that
// no longer run (and its own), so they never pile up. One writer per target at a time is assumed
// (the router saves its own state); two concurrent writers each still produce whole files.

import { closeSync, fchmodSync, fsyncSync, openSync, readdirSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';

const TEMP_SUFFIX = '.tmp';

function tempPrefix(target: string): string {
  return `.${path.basename(target)}.`;
}

/** `.NAME.<pid>.<random>.tmp` beside the target. */
export function tempFileName(target: string, pid = process.pid): string {
  return path.join(path.dirname(target), `${tempPrefix(target)}${pid}.${randomBytes(6).toString('hex')}${TEMP_SUFFIX}`);
}

function processRuns(pid: number): boolean {
  if (pid === process.pid) return false; // our own leftovers: no save of ours is in flight now
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as { code?: string }).code === 'EPERM';
  }
}

/** Removes temporary files of earlier, interrupted writes to `target`; returns how many. */
export function removeStaleTempFiles(target: string): number {
  const dir = path.dirname(target);
  const prefix = tempPrefix(target);
  let removed = 0;
  for (const name of readdirSync(dir)) {
    if (!name.startsWith(prefix) || !name.endsWith(TEMP_SUFFIX)) continue;
    const pid = Number(name.slice(prefix.length).split('.')[0]);
    if (!Number.isInteger(pid) || pid <= 0 || processRuns(pid)) continue;
    try {
      unlinkSync(path.join(dir, name));
      removed++;
    } catch (e) {
      if ((e as { code?: string }).code !== 'ENOENT') throw e;
    }
  }
  return removed;
}

function fsyncDirectory(dir: string): void {
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Replaces `target` with `bytes` atomically and durably (mode `mode`, default 0600). */
export function writeFileAtomic(target: string, bytes: Uint8Array, mode = 0o600): void {
  removeStaleTempFiles(target);
  const temp = tempFileName(target);
  const fd = openSync(temp, 'wx', mode);
  try {
    try {
      fchmodSync(fd, mode);
      for (let at = 0; at < bytes.length;) at += writeSync(fd, bytes, at, bytes.length - at);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, target);
  } catch (e) {
    try { unlinkSync(temp); } catch { /* already gone: nothing to clean */ }
    throw e;
  }
  fsyncDirectory(path.dirname(target));
}
