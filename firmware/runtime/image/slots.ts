// A device's A/B slots: a directory holding two image files, a device record and a state record.
//
//   DIR/device.json   who the device is, fixed when the directory is initialised: its board, the
//                     public key it trusts, the minimum firmware version it accepts (which can be
//                     raised, never lowered). Checksummed record (record.ts).
//   DIR/state.json    which slot is active, which one is to be tried at the next boot, what each
//                     slot holds (version, SHA-256 of the file, status good/trial/failed, why it
//                     failed) and the last events. Checksummed record, replaced atomically.
//   DIR/slot-a.img    the images, replaced atomically (atomic.ts).
//   DIR/slot-b.img
//   DIR/lock          held while flashing or while boot decides (lock.ts).
//
// Flashing (flashImageBytes) verifies the image against the device (its key, its board, its
// minimum version) before anything is written; then, holding the lock, it forgets the inactive
// slot in the state record, writes the image into it, and records it as the slot to try. Every
// step is one atomic replacement, and the active slot's file and record are never touched, so a
// crash at any moment leaves the device able to boot what it booted before (or, after the last
// step, the new image under a health check). Nothing here is trusted from the disk: records are
// checksummed, and boot verifies every slot file again before running it (slot-boot.ts).

import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { removeTempFiles, writeFileAtomic } from './atomic.ts';
import { ImageError, SlotError } from './errors.ts';
import { MAX_IMAGE_BYTES } from './format.ts';
import { keyId, loadPublicKey, publicKeyPem as spkiPem } from './keys.ts';
import { withSlotsLock } from './lock.ts';
import { readRecord, RecordCorrupt, writeRecord } from './record.ts';
import { verifyImage, type VerifiedImage } from './verify.ts';
import { compareVersions, isVersion, parseVersion } from './version-order.ts';

export const SLOT_NAMES = ['a', 'b'] as const;
export type SlotName = (typeof SLOT_NAMES)[number];

export const DEVICE_FILE = 'device.json';
export const STATE_FILE = 'state.json';
export const SLOTS_FORMAT = 1;

/** Events kept in the state record: enough to see the last few flashes and boots. */
export const MAX_EVENTS = 16;

/** A slot to try is tried at most this many boots: a health check that never finishes (a crash of the whole device) must not loop forever. */
export const MAX_TRIAL_ATTEMPTS = 3;

/** The lowest version, the minimum of a device initialised without one. */
export const NO_MINIMUM = '0.0.0';

export interface DeviceRecord {
  readonly format: number;
  readonly board: string;
  readonly minVersion: string;
  /** SPKI PEM of the key images must be signed with. */
  readonly publicKey: string;
  readonly keyId: string;
  readonly createdAt: string;
}

export type SlotStatus = 'trial' | 'good' | 'failed';

export interface SlotRecord {
  readonly version: string;
  readonly board: string;
  readonly builtAt: string;
  readonly keyId: string;
  /** SHA-256 of the slot file: boot refuses a file that changed after flashing. */
  readonly imageSha256: string;
  readonly size: number;
  readonly flashedAt: string;
  status: SlotStatus;
  /** Boots that started this slot's health check. */
  attempts: number;
  reason?: string;
  readonly testOnlyFault?: string;
}

export interface SlotEvent {
  readonly at: string;
  readonly event: 'initialised' | 'flashed' | 'minimum-raised' | 'promoted' | 'failed' | 'rolled-back' | 'recovered';
  readonly slot?: SlotName;
  readonly version?: string;
  readonly detail?: string;
}

export interface SlotState {
  format: number;
  /** Bumped by every write. */
  generation: number;
  active: SlotName | null;
  trial: SlotName | null;
  slots: Record<SlotName, SlotRecord | null>;
  events: SlotEvent[];
}

export const slotFile = (dir: string, slot: SlotName): string => path.join(dir, `slot-${slot}.img`);
export const otherSlot = (slot: SlotName): SlotName => (slot === 'a' ? 'b' : 'a');

export function emptyState(): SlotState {
  return { format: SLOTS_FORMAT, generation: 0, active: null, trial: null, slots: { a: null, b: null }, events: [] };
}

function isSlotName(x: unknown): x is SlotName {
  return x === 'a' || x === 'b';
}

/** The device record; null when `dir` is not initialised. */
export function readDevice(dir: string): DeviceRecord | null {
  const file = path.join(dir, DEVICE_FILE);
  let r: unknown;
  try {
    r = readRecord(file);
  } catch (e) {
    if (e instanceof RecordCorrupt) throw new SlotError(dir, `${DEVICE_FILE} is corrupt (${e.detail}); the device record is written once, at initialisation: restore it`);
    throw e;
  }
  if (r === null) return null;
  const d = r as Partial<DeviceRecord>;
  if (d.format !== SLOTS_FORMAT || typeof d.board !== 'string' || !isVersion(d.minVersion) || typeof d.publicKey !== 'string' || typeof d.keyId !== 'string') {
    throw new SlotError(dir, `${DEVICE_FILE} is not a device record of format ${SLOTS_FORMAT}`);
  }
  return d as DeviceRecord;
}

/** The state record; null when there is none, 'corrupt' when it does not check. */
export function readState(dir: string): SlotState | 'corrupt' | null {
  let r: unknown;
  try {
    r = readRecord(path.join(dir, STATE_FILE));
  } catch (e) {
    if (e instanceof RecordCorrupt) return 'corrupt';
    throw e;
  }
  if (r === null) return null;
  const s = r as Partial<SlotState>;
  const slotOk = (x: unknown): boolean => x === null || (typeof x === 'object' && typeof (x as SlotRecord).imageSha256 === 'string' && typeof (x as SlotRecord).status === 'string');
  if (s.format !== SLOTS_FORMAT || typeof s.generation !== 'number' || !(s.active === null || isSlotName(s.active)) || !(s.trial === null || isSlotName(s.trial))
    || typeof s.slots !== 'object' || s.slots === null || !slotOk(s.slots.a) || !slotOk(s.slots.b) || !Array.isArray(s.events)) {
    return 'corrupt';
  }
  return s as SlotState;
}

/** Appends an event (keeping the last MAX_EVENTS) and writes the state atomically. */
export function writeState(dir: string, state: SlotState, ...events: Omit<SlotEvent, 'at'>[]): void {
  const at = new Date().toISOString();
  state.events = [...state.events, ...events.map((e) => ({ at, ...e }))].slice(-MAX_EVENTS);
  state.generation++;
  writeRecord(path.join(dir, STATE_FILE), state);
}

/** The slot a flash writes: never the active one. */
export function flashTarget(state: SlotState): SlotName {
  if (state.active !== null) return otherSlot(state.active);
  return state.slots.a?.status === 'good' ? 'b' : 'a';
}

export interface FlashOptions {
  /** Initialises an uninitialised directory for this board; on an initialised one, must be its board. */
  readonly board?: string;
  /** Initialises the minimum version, or raises it (never lowers it). */
  readonly minVersion?: string;
  /** Names the image in errors (a file name, "upload"). */
  readonly source?: string;
}

export interface FlashResult {
  readonly dir: string;
  readonly slot: SlotName;
  readonly file: string;
  readonly version: string;
  readonly board: string;
  readonly imageSha256: string;
  readonly bytes: number;
  /** True when this flash initialised the directory. */
  readonly initialised: boolean;
  /** The device's minimum version after the flash. */
  readonly minVersion: string;
}

/**
 * Verifies `bytes` for the device in `slotsDir` and writes them into its inactive slot, marked to
 * be tried at the next boot. What the management port calls for an upload. An uninitialised
 * directory is initialised (it needs `board`), trusting `publicKeyPem` from then on; an
 * initialised one only accepts images verified with the key it trusts. Refusals (ImageError,
 * SlotError, KeyError, VersionError) happen before anything is written.
 */
export async function flashImageBytes(bytes: Uint8Array, slotsDir: string, publicKeyPem: string | Uint8Array, o: FlashOptions = {}): Promise<FlashResult> {
  const source = o.source ?? 'image';
  if (bytes.length > MAX_IMAGE_BYTES) throw new ImageError(source, 'too-large', `${bytes.length} bytes is larger than the largest image (${MAX_IMAGE_BYTES} bytes)`);
  const key = loadPublicKey(publicKeyPem, 'public key');
  if (o.minVersion !== undefined) parseVersion(o.minVersion, '--min-version');
  const dir = path.resolve(slotsDir);
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new SlotError(dir, 'not a directory');
  if (!existsSync(dir)) {
    if (o.board === undefined) throw new SlotError(dir, 'no such slots directory; the first flash initialises it and needs --board');
    // Refuse a bad image before the directory exists, so a refusal leaves nothing behind.
    verifyImage(bytes, key, source, { board: o.board, minVersion: o.minVersion ?? NO_MINIMUM });
    mkdirSync(dir, { recursive: true });
  }
  return withSlotsLock(dir, () => {
    const device = readDevice(dir);
    const id = keyId(key);
    let minVersion: string;
    let board: string;
    if (device === null) {
      if (o.board === undefined) throw new SlotError(dir, 'not initialised: the first flash needs --board (and may give --min-version)');
      board = o.board;
      minVersion = o.minVersion ?? NO_MINIMUM;
    } else {
      if (device.keyId !== id) throw new SlotError(dir, `the device trusts key ${device.keyId}, not ${id}`);
      if (o.board !== undefined && o.board !== device.board) throw new SlotError(dir, `the device is board "${device.board}", not "${o.board}"`);
      board = device.board;
      minVersion = device.minVersion;
      if (o.minVersion !== undefined) {
        if (compareVersions(o.minVersion, device.minVersion) < 0) throw new SlotError(dir, `the minimum version is ${device.minVersion}; it can be raised, not lowered to ${o.minVersion}`);
        minVersion = o.minVersion;
      }
    }
    const image = verifyImage(bytes, key, source, { board, minVersion });
    const read = readState(dir);
    // Which slot is active is unknown: overwriting either could destroy the good one. Boot
    // rebuilds the state record from the slots it can verify.
    if (read === 'corrupt') throw new SlotError(dir, `${STATE_FILE} is corrupt: boot the device once to rebuild it, then flash`);
    if (read === null && SLOT_NAMES.some((s) => existsSync(slotFile(dir, s)))) throw new SlotError(dir, `${STATE_FILE} is missing: boot the device once to rebuild it, then flash`);

    removeTempFiles(dir);
    const initialised = device === null;
    if (initialised || minVersion !== device.minVersion) {
      writeRecord(path.join(dir, DEVICE_FILE), {
        format: SLOTS_FORMAT,
        board,
        minVersion,
        publicKey: spkiPem(key),
        keyId: id,
        createdAt: device?.createdAt ?? new Date().toISOString(),
      } satisfies DeviceRecord);
    }
    const state = read ?? emptyState();
    const slot = flashTarget(state);
    const early: Omit<SlotEvent, 'at'>[] = [];
    if (initialised) early.push({ event: 'initialised', detail: `board ${board}, key ${id}, minimum ${minVersion}` });
    else if (minVersion !== device.minVersion) early.push({ event: 'minimum-raised', detail: `${device.minVersion} → ${minVersion}` });
    if (state.slots[slot] !== null || state.trial === slot || read === null || early.length) {
      // Forget the slot before overwriting it: from here a crash leaves it unreferenced.
      state.slots[slot] = null;
      if (state.trial === slot) state.trial = null;
      writeState(dir, state, ...early);
    }
    const file = slotFile(dir, slot);
    writeFileAtomic(file, bytes);
    state.slots[slot] = slotRecord(image);
    state.trial = slot;
    writeState(dir, state, { event: 'flashed', slot, version: image.manifest.firmwareVersion });
    return {
      dir,
      slot,
      file,
      version: image.manifest.firmwareVersion,
      board,
      imageSha256: image.imageSha256,
      bytes: bytes.length,
      initialised,
      minVersion,
    };
  });
}

/** What the state records for a verified image entering a slot (status trial, no attempts yet). */
export function slotRecord(image: VerifiedImage): SlotRecord {
  const m = image.manifest;
  return {
    version: m.firmwareVersion,
    board: m.board,
    builtAt: m.builtAt,
    keyId: m.keyId,
    imageSha256: image.imageSha256,
    size: image.size,
    flashedAt: new Date().toISOString(),
    status: 'trial',
    attempts: 0,
    ...(m.testOnlyFault ? { testOnlyFault: m.testOnlyFault } : {}),
  };
}

/** Reads and verifies a slot's file against the device and what the state recorded for it. */
export function loadSlot(dir: string, device: DeviceRecord, slot: SlotName, expectSha256?: string): VerifiedImage {
  const file = slotFile(dir, slot);
  if (!existsSync(file)) throw new SlotError(dir, `slot ${slot} is empty`);
  const bytes = new Uint8Array(readFileSync(file));
  const image = verifyImage(bytes, loadPublicKey(device.publicKey, `${DEVICE_FILE} publicKey`), file, { board: device.board });
  if (expectSha256 !== undefined && image.imageSha256 !== expectSha256) throw new SlotError(dir, `slot ${slot}: the file changed after it was flashed`);
  return image;
}

export interface SlotsStatus {
  readonly dir: string;
  readonly device: DeviceRecord | null;
  readonly state: SlotState | 'corrupt' | null;
}

/** The device and state records, for `twinflow slots` and the management port. */
export function slotsStatus(slotsDir: string): SlotsStatus {
  const dir = path.resolve(slotsDir);
  if (!existsSync(dir)) throw new SlotError(dir, 'no such slots directory');
  return { dir, device: readDevice(dir), state: readState(dir) };
}
