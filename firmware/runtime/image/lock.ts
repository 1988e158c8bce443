// The lock of a slots directory: one flash or boot decision at a time. The lock is a file holding
// the owner's pid, created whole (written to a temporary file, then hard-linked to the lock name,
// which fails if a lock exists), so it is never seen empty. A lock whose owner is dead (a flasher
// killed with SIGKILL, a power cut before the reboot) is stale and is broken by the next taker.
// Bounded: a taker waits at most `timeoutMs`, then fails with a SlotError naming the owner.
//
// Limit: breaking a stale lock and taking it are two steps; two takers that both find the same
// stale lock at the same instant can both proceed. A device runs one supervisor (boot) and one
// management port, so this needs a crash and two simultaneous takers together.

import { linkSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { tempFileFor } from './atomic.ts';
import { SlotError } from './errors.ts';

export const LOCK_FILE = 'lock';

/** How long a taker waits: longer than a boot's health check (the longest holder). */
export const LOCK_TIMEOUT_MS = 120_000;

const POLL_MS = 20;

function ownerOf(file: string): number | null {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function tryTake(file: string): boolean {
  const temp = tempFileFor(file);
  writeFileSync(temp, `${process.pid}\n`);
  try {
    linkSync(temp, file);
    return true;
  } catch (e) {
    // EEXIST: held. ENOENT: the holder cleared temporary files (ours among them) meanwhile.
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' || code === 'ENOENT') return false;
    throw e;
  } finally {
    rmSync(temp, { force: true });
  }
}

/** Runs `fn` holding the lock of `dir`. */
export async function withSlotsLock<T>(dir: string, fn: () => Promise<T> | T, timeoutMs = LOCK_TIMEOUT_MS): Promise<T> {
  const file = path.join(dir, LOCK_FILE);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (tryTake(file)) break;
    const owner = ownerOf(file);
    if (owner !== null && owner !== process.pid && !alive(owner)) {
      try { unlinkSync(file); } catch { /* another taker broke it first */ }
      continue;
    }
    if (Date.now() >= deadline) throw new SlotError(dir, `locked by process ${owner ?? '(unknown)'} for more than ${timeoutMs} ms`);
    await sleep(POLL_MS);
  }
  try {
    return await fn();
  } finally {
    if (ownerOf(file) === process.pid) rmSync(file, { force: true });
  }
}
