// `twinflow boot --slots DIR`: the boot supervisor of a device with A/B slots.
//
// Holding the slots lock, it decides what to run:
//   1. a slot marked to try is verified (the device's key and board, the SHA-256 the state
//      recorded when it was flashed) and health-checked (health.ts); if it passes it becomes the
//      active slot, if not it is marked failed with the reason, and the device falls back by
//      itself to the active slot (a "rolled-back" event says why);
//   2. otherwise the active slot is verified and run (no health check: it passed one before);
//      an active slot that no longer verifies (changed on disk) is marked failed and the other
//      slot, if it was good before, is run instead (also a "rolled-back" event);
//   3. a missing or corrupt state record is rebuilt: every slot that verifies is a candidate,
//      newest version first, each under a health check.
// A slot's health check counts as an attempt before it runs, and a slot is tried at most
// MAX_TRIAL_ATTEMPTS times, so a check that takes the whole device down cannot loop forever.
// No bootable slot is a SlotError that lists why each slot is not.
//
// Then, without the lock, it runs the chosen slot's own bundled runtime for real,
// `boot --board <the slot's board>` plus the caller's options, in a child process of its own
// process group: SIGINT, SIGTERM and SIGHUP are forwarded to it, and its exit status becomes ours
// (128 + signal number when it was killed). Decisions are reported on stderr, one line each, so
// `--json` output on stdout stays the runtime's.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { removeTempFiles } from './atomic.ts';
import { ImageError, KeyError, SlotError } from './errors.ts';
import { healthCheck, HEALTH_CHECK_TIMEOUT_MS } from './health.ts';
import { withSlotsLock } from './lock.ts';
import { extractRunDir, type RunDir } from './rundir.ts';
import {
  emptyState, loadSlot, MAX_TRIAL_ATTEMPTS, readDevice, readState, slotFile, SLOT_NAMES, slotRecord, writeState,
  type SlotEvent, type SlotName, type SlotRecord, type SlotState,
} from './slots.ts';
import type { VerifiedImage } from './verify.ts';
import { compareVersions } from './version-order.ts';

export interface SlotBootOptions {
  readonly slots: string;
  readonly demo?: boolean;
  readonly duration?: number;
  readonly json?: boolean;
  readonly healthTimeoutMs?: number;
  /** Where decisions are reported; default: stderr. */
  readonly log?: (line: string) => void;
}

export interface BootDecision {
  readonly dir: string;
  readonly slot: SlotName;
  readonly image: VerifiedImage;
  /** The verified sections, extracted; the caller runs and removes it. */
  readonly run: RunDir;
  /** True when this boot health-checked the slot (a trial or a recovery). */
  readonly healthChecked: boolean;
}

interface Candidate {
  readonly slot: SlotName;
  readonly healthCheck: boolean;
}

const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

const stderrLog = (line: string): void => { process.stderr.write(`twinflow: ${line}\n`); };

const label = (slot: SlotName, rec: SlotRecord | null): string => `slot ${slot}${rec ? ` (${rec.version})` : ''}`;

/** Rebuilds the candidates of a device whose state record is missing or corrupt. */
function recover(dir: string, state: SlotState, verifyOne: (slot: SlotName) => VerifiedImage | string): Candidate[] {
  const found: { slot: SlotName; image: VerifiedImage }[] = [];
  for (const slot of SLOT_NAMES) {
    if (!existsSync(slotFile(dir, slot))) continue;
    const r = verifyOne(slot);
    if (typeof r !== 'string') {
      state.slots[slot] = slotRecord(r);
      found.push({ slot, image: r });
    }
  }
  found.sort((x, y) => compareVersions(y.image.manifest.firmwareVersion, x.image.manifest.firmwareVersion) || y.image.manifest.builtAt.localeCompare(x.image.manifest.builtAt));
  return found.map((f) => ({ slot: f.slot, healthCheck: true }));
}

/**
 * Decides which slot to boot (health check, promotion, rollback, recovery; see the header) and
 * returns it verified and extracted. Throws SlotError when no slot can boot.
 */
export async function selectBootSlot(slotsDir: string, o: Omit<SlotBootOptions, 'slots'> = {}): Promise<BootDecision> {
  const dir = path.resolve(slotsDir);
  const log = o.log ?? stderrLog;
  if (!existsSync(dir)) throw new SlotError(dir, 'no such slots directory');
  return withSlotsLock(dir, async () => {
    const device = readDevice(dir);
    if (device === null) throw new SlotError(dir, 'not initialised: flash an image first (twinflow flash IMAGE --slots DIR --pubkey KEY --board BOARD)');
    removeTempFiles(dir);
    const events: Omit<SlotEvent, 'at'>[] = [];
    const read = readState(dir);
    const state = read === null || read === 'corrupt' ? emptyState() : read;
    const verified = new Map<SlotName, VerifiedImage>();
    const verifyOne = (slot: SlotName): VerifiedImage | string => {
      try {
        const image = loadSlot(dir, device, slot, state.slots[slot]?.imageSha256);
        verified.set(slot, image);
        return image;
      } catch (e) {
        if (e instanceof ImageError || e instanceof SlotError || e instanceof KeyError) return e.message;
        throw e;
      }
    };
    const failures: { slot: SlotName; reason: string }[] = [];
    const fail = (slot: SlotName, reason: string): void => {
      failures.push({ slot, reason });
      const rec = state.slots[slot];
      if (rec) {
        rec.status = 'failed';
        rec.reason = reason;
      }
      if (state.trial === slot) state.trial = null;
      if (state.active === slot) state.active = null;
      events.push({ event: 'failed', slot, version: rec?.version, detail: reason });
      log(`${label(slot, rec)}: ${reason}`);
    };

    let candidates: Candidate[];
    if (read === null || read === 'corrupt') {
      candidates = recover(dir, state, verifyOne);
      if (candidates.length || read === 'corrupt') {
        const why = `state record was ${read === null ? 'missing' : 'corrupt'}; rebuilt from ${candidates.length} verified slot(s)`;
        events.push({ event: 'recovered', detail: why });
        log(why);
      }
    } else {
      candidates = [];
      if (state.trial !== null) candidates.push({ slot: state.trial, healthCheck: true });
      if (state.active !== null && state.active !== state.trial) candidates.push({ slot: state.active, healthCheck: false });
      for (const slot of SLOT_NAMES) {
        if (state.slots[slot]?.status === 'good' && !candidates.some((c) => c.slot === slot)) candidates.push({ slot, healthCheck: false });
      }
    }

    for (const c of candidates) {
      const rec = state.slots[c.slot];
      const image = verified.get(c.slot) ?? verifyOne(c.slot);
      if (typeof image === 'string') {
        fail(c.slot, `does not verify: ${image}`);
        continue;
      }
      if (c.healthCheck && !rec) {
        fail(c.slot, 'is marked to try but has no record');
        continue;
      }
      const run = extractRunDir(image);
      if (c.healthCheck && rec) {
        if (rec.attempts >= MAX_TRIAL_ATTEMPTS) {
          run.remove();
          fail(c.slot, `its health check did not finish in ${MAX_TRIAL_ATTEMPTS} boots`);
          continue;
        }
        rec.attempts++;
        writeState(dir, state, ...events.splice(0));
        log(`${label(c.slot, rec)}: health check (attempt ${rec.attempts} of ${MAX_TRIAL_ATTEMPTS})`);
        const health = await healthCheck(run, image, o.healthTimeoutMs ?? HEALTH_CHECK_TIMEOUT_MS);
        if (!health.healthy) {
          run.remove();
          fail(c.slot, `failed its health check: ${health.reason}`);
          continue;
        }
        rec.status = 'good';
        delete rec.reason;
        state.trial = null;
        events.push({ event: 'promoted', slot: c.slot, version: rec.version, detail: health.reason });
        log(`${label(c.slot, rec)}: ${health.reason}; now the active slot`);
      } else if (failures.length) {
        events.push({ event: 'rolled-back', slot: c.slot, version: rec?.version, detail: `slot ${failures[0].slot} ${failures[0].reason}` });
        log(`rolled back to ${label(c.slot, rec)}`);
      }
      state.active = c.slot;
      writeState(dir, state, ...events.splice(0));
      return { dir, slot: c.slot, image, run, healthChecked: c.healthCheck };
    }
    if (events.length) writeState(dir, state, ...events.splice(0));
    const why = SLOT_NAMES.map((slot) => {
      const rec = state.slots[slot];
      if (!rec) return `${slot}: ${existsSync(slotFile(dir, slot)) ? 'not a flashed image' : 'empty'}`;
      return `${slot}: ${rec.version} ${rec.status}${rec.reason ? ` (${rec.reason})` : ''}`;
    });
    throw new SlotError(dir, `no bootable slot (${why.join('; ')})`);
  });
}

/** Boots the device: selects a slot, then runs its runtime for real until it exits. */
export async function bootFromSlots(o: SlotBootOptions): Promise<void> {
  const log = o.log ?? stderrLog;
  const chosen = await selectBootSlot(o.slots, o);
  const m = chosen.image.manifest;
  log(`booting slot ${chosen.slot}: twinflow ${m.firmwareVersion} for board "${m.board}" (built ${m.builtAt})`);
  const args = [chosen.run.runtime, 'boot', '--board', chosen.run.board];
  if (o.demo) args.push('--demo');
  if (o.duration !== undefined) args.push('--duration', String(o.duration));
  if (o.json) args.push('--json');
  // Its own process group: a terminal's Ctrl-C reaches the runtime once, through us.
  const child = spawn(process.execPath, args, { stdio: 'inherit', detached: true });
  const forward = FORWARDED_SIGNALS.map((sig) => {
    const handler = (): void => { child.kill(sig); };
    process.on(sig, handler);
    return [sig, handler] as const;
  });
  try {
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.once('error', reject);
      child.once('close', (c, s) => resolve([c, s]));
    });
    process.exitCode = code ?? 128 + (signal ? os.constants.signals[signal] : 0);
  } finally {
    for (const [sig, handler] of forward) process.off(sig, handler);
    chosen.run.remove();
  }
}
