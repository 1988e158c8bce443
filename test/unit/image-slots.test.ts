// A/B slots (firmware/runtime/image/slots.ts, slot-boot.ts): flashing refuses what the device
// must not take before writing anything; boot health-checks a new slot by running the slot's own
// runtime and wasm, promotes it on a pass, and on a failure falls back by itself to the slot that
// worked and records why; a changed slot file, a corrupt state record and a trial that never
// finishes are survived; the supervisor runs the slot's runtime for real, forwarding signals.
// The health check is the real one: the images' bundled runtimes run `selftest` in a child.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { flashImageBytes, selectBootSlot, slotsStatus, type SlotState } from '../../firmware/runtime/image/index.ts';
import { STATE_FILE, readState, slotFile, writeState, MAX_TRIAL_ATTEMPTS } from '../../firmware/runtime/image/slots.ts';
import { makeImageKit, otherBoardFile, snapshotDir, type ImageKit } from '../fixtures/image.ts';
import { twinflow } from '../fixtures/capture.ts';

let kit: ImageKit;
const img: Record<string, string> = {};

test.before(async () => {
  kit = await makeImageKit('image-slots');
  img.v1 = await kit.build('v1.0.0.img', { version: '1.0.0' });
  img.v11 = await kit.build('v1.1.0.img', { version: '1.1.0' });
  img.v12 = await kit.build('v1.2.0.img', { version: '1.2.0' });
  img.old = await kit.build('v0.9.0.img', { version: '0.9.0' });
  img.otherBoard = await kit.build('sim-small.img', { version: '1.5.0', board: otherBoardFile(kit.dir, 'sim-small') });
  img.otherKey = await kit.build('other-key.img', { version: '1.5.0', keys: kit.otherKeys });
  for (const fault of ['runtime-crash', 'runtime-hang', 'wasm-empty'] as const) img[fault] = await kit.build(`${fault}.img`, { version: '2.0.0', fault });
});
test.after(() => kit.cleanup());

const bytes = (file: string): Uint8Array => new Uint8Array(fs.readFileSync(file));
const state = (dir: string): SlotState => {
  const s = readState(dir);
  if (s === null || s === 'corrupt') throw new Error(`state of ${dir}: ${s}`);
  return s;
};

/** The boot decision (health check included), its log lines; the run directory is removed. */
async function decide(dir: string, healthTimeoutMs?: number) {
  const logs: string[] = [];
  const d = await selectBootSlot(dir, { log: (l) => logs.push(l), healthTimeoutMs });
  assert.ok(fs.existsSync(d.run.runtime), 'the chosen slot is extracted to run');
  d.run.remove();
  return { slot: d.slot, version: d.image.manifest.firmwareVersion, healthChecked: d.healthChecked, logs };
}

/** A device with slot a active (1.0.0, health-checked) and slot b active on top (1.1.0). */
async function twoGoodSlots(name: string): Promise<string> {
  const dir = kit.at(name);
  await flashImageBytes(bytes(img.v1), dir, kit.keys.publicPem, { board: 'sim' });
  await decide(dir);
  await flashImageBytes(bytes(img.v11), dir, kit.keys.publicPem);
  await decide(dir);
  const s = state(dir);
  assert.is(s.active, 'b');
  return dir;
}

function oneLineRefusal(r: { status: number | null; stdout: string; stderr: string }, message: RegExp): void {
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  assert.is(r.status, 2, `exit 2, got ${r.status}: ${r.stderr}`);
  assert.is(lines.length, 1, `one line:\n${r.stderr}`);
  assert.match(lines[0], message);
  assert.is(r.stdout, '');
}

test('flash refuses before anything is written: no --board on a new directory, another board, below the minimum, another key, a corrupt image, lowering the minimum', () => {
  const dir = kit.at('refusals');
  const flash = (image: string, ...extra: string[]) => kit.bundled(['flash', image, '--slots', dir, '--pubkey', kit.keys.publicFile, ...extra]);
  oneLineRefusal(flash(img.v1), /no such slots directory; the first flash initialises it and needs --board/);
  oneLineRefusal(flash(img.otherBoard, '--board', 'sim'), /sim-small\.img: built for board "sim-small", not for "sim"/);
  oneLineRefusal(flash(img.v1, '--board', 'sim', '--min-version', '1.1.0'), /v1\.0\.0\.img: version 1\.0\.0 is below the minimum version 1\.1\.0/);
  assert.not.ok(fs.existsSync(dir), 'a refused first flash creates no directory');

  const ok = flash(img.v1, '--board', 'sim', '--min-version', '1.0.0');
  assert.is(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /flashed .*v1\.0\.0\.img into slot a of .* \(initialised for board "sim", minimum version 1\.0\.0\): twinflow 1\.0\.0, \d+ bytes; it is tried at the next boot/);
  const before = snapshotDir(dir);
  assert.equal(Object.keys(before), ['device.json', 'slot-a.img', 'state.json']);

  const corrupt = bytes(img.v11);
  corrupt[5000] ^= 0x10;
  fs.writeFileSync(kit.at('corrupt.img'), corrupt);
  const rows: [string[], RegExp][] = [
    [[img.otherBoard], /sim-small\.img: built for board "sim-small", not for "sim"/],
    [[img.v11, '--board', 'sim-small'], /the device is board "sim", not "sim-small"/],
    [[img.old], /v0\.9\.0\.img: version 0\.9\.0 is below the minimum version 1\.0\.0/],
    [[img.otherKey], /other-key\.img: signed by key [0-9a-f]{16}, not by the verifying key [0-9a-f]{16}/],
    [[kit.at('corrupt.img')], /corrupt\.img: checksum mismatch/],
    [[img.v11, '--min-version', '0.5.0'], /the minimum version is 1\.0\.0; it can be raised, not lowered to 0\.5\.0/],
  ];
  for (const [args, message] of rows) {
    oneLineRefusal(flash(args[0], ...args.slice(1)), message);
    assert.equal(snapshotDir(dir), before, `${args.join(' ')}: nothing written`);
  }
  const foreign = kit.bundled(['flash', img.otherKey, '--slots', dir, '--pubkey', kit.otherKeys.publicFile]);
  oneLineRefusal(foreign, /the device trusts key [0-9a-f]{16}, not [0-9a-f]{16}/);
  assert.equal(snapshotDir(dir), before, 'another key: nothing written');
});

test('boot --slots: the new slot passes its health check, becomes active, and its own runtime runs the board', () => {
  const dir = kit.at('refusals');
  const r = twinflow(['boot', '--slots', dir, '--demo', '--duration', '1', '--json']);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stderr, /slot a \(1\.0\.0\): health check \(attempt 1 of 3\)/);
  assert.match(r.stderr, /slot a \(1\.0\.0\): selftest passed in \d+ ms: \d+ packets on board "sim", \d+ checks; now the active slot/);
  assert.match(r.stderr, /booting slot a: twinflow 1\.0\.0 for board "sim"/);
  const out = JSON.parse(r.stdout) as { board: string; violations: string[]; ports: Record<string, { rx_packets: number; forwarded: number }>; sessions: Record<string, { replicated: number }> };
  assert.is(out.board, 'sim');
  assert.equal(out.violations, []);
  assert.ok(out.ports.lan.rx_packets > 0 && out.ports.lan.forwarded === out.ports.lan.rx_packets);
  assert.ok(out.sessions['sniff-client'].replicated > 0);
  const s = state(dir);
  assert.is(s.active, 'a');
  assert.is(s.trial, null);
  assert.is(s.slots.a!.status, 'good');
  assert.is(s.events.at(-1)!.event, 'promoted');
});

test('a newer image goes into the other slot and takes over; the next boot runs it without a health check', async () => {
  const dir = kit.at('refusals');
  const f = await flashImageBytes(bytes(img.v11), dir, kit.keys.publicPem, { source: 'upload' });
  assert.is(f.slot, 'b');
  assert.is(state(dir).trial, 'b');
  const first = await decide(dir);
  assert.equal([first.slot, first.version, first.healthChecked], ['b', '1.1.0', true]);
  const again = await decide(dir);
  assert.equal([again.slot, again.healthChecked], ['b', false]);
  const s = state(dir);
  assert.is(s.slots.a!.status, 'good', 'the previous slot stays good (a fallback)');
  assert.is(s.slots.b!.status, 'good');
  // The next flash goes into a, never into the active b.
  const g = await flashImageBytes(bytes(img.v12), dir, kit.keys.publicPem, { minVersion: '1.1.0' });
  assert.equal([g.slot, g.minVersion], ['a', '1.1.0']);
  assert.is(slotsStatus(dir).device!.minVersion, '1.1.0');
  assert.is(state(dir).events.filter((e) => e.event === 'minimum-raised').length, 1);
  assert.is((await decide(dir)).slot, 'a');
});

const ROLLBACKS = [
  { fault: 'runtime-crash', reason: /failed its health check: the runtime exited with status 1 without a selftest report: Error: test-only fault: runtime-crash/ },
  { fault: 'runtime-hang', reason: /failed its health check: health check timed out after 3000 ms/ },
  { fault: 'wasm-empty', reason: /failed its health check: the runtime exited with status 1 without a selftest report: twinflow: .*dataplane\.wasm is not the data plane \(missing exports: memory, heapBase/ },
] as const;

test('rollback: a signed image whose runtime crashes, hangs, or whose wasm is empty fails its health check; the device falls back by itself and records why', async () => {
  const dir = await twoGoodSlots('rollback');
  for (const { fault, reason } of ROLLBACKS) {
    const f = await flashImageBytes(bytes(img[fault]), dir, kit.keys.publicPem);
    assert.is(f.slot, 'a');
    const d = await decide(dir, 3000);
    assert.equal([d.slot, d.version, d.healthChecked], ['b', '1.1.0', false], fault);
    assert.ok(d.logs.some((l) => /rolled back to slot b \(1\.1\.0\)/.test(l)), d.logs.join('\n'));
    const s = state(dir);
    assert.is(s.active, 'b');
    assert.is(s.trial, null);
    assert.is(s.slots.a!.status, 'failed');
    assert.match(s.slots.a!.reason!, reason);
    const [failed, rolled] = s.events.slice(-2);
    assert.equal([failed.event, failed.slot, rolled.event, rolled.slot], ['failed', 'a', 'rolled-back', 'b']);
  }
  // The command: the rollback is reported on stderr and the good slot runs (exit 0).
  await flashImageBytes(bytes(img['runtime-crash']), dir, kit.keys.publicPem);
  const r = kit.bundled(['boot', '--slots', dir, '--duration', '1', '--json']);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stderr, /slot a \(2\.0\.0\): failed its health check/);
  assert.match(r.stderr, /rolled back to slot b \(1\.1\.0\)\n.*booting slot b: twinflow 1\.1\.0/);
  assert.equal((JSON.parse(r.stdout) as { violations: string[] }).violations, []);
});

test('no bootable slot: a first image that fails its health check is a clear error (exit 2), and status shows why', async () => {
  const dir = kit.at('unbootable');
  await flashImageBytes(bytes(img['wasm-empty']), dir, kit.keys.publicPem, { board: 'sim' });
  const r = kit.bundled(['boot', '--slots', dir, '--duration', '1']);
  assert.is(r.status, 2, r.stderr);
  const last = r.stderr.trim().split('\n').at(-1)!;
  assert.match(last, /unbootable: no bootable slot \(a: 2\.0\.0 failed \(failed its health check: .*not the data plane.*\); b: empty\)$/);
  const st = kit.bundled(['slots', dir]);
  assert.is(st.status, 0, st.stderr);
  assert.match(st.stdout, /board "sim", minimum version 0\.0\.0, trusts key [0-9a-f]{16}/);
  assert.match(st.stdout, /slot a: twinflow 2\.0\.0, failed \(failed its health check: /);
  assert.match(st.stdout, /slot b: empty/);
  const none = kit.bundled(['boot', '--slots', kit.at('never-flashed'), '--duration', '1']);
  oneLineRefusal(none, /never-flashed: no such slots directory/);
});

test('an active slot whose file changed on disk is not run: the other good slot is, and the changed one is marked failed', async () => {
  const dir = await twoGoodSlots('changed');
  const file = slotFile(dir, 'b');
  const b = bytes(file);
  b[b.length - 3] ^= 0x04;
  fs.writeFileSync(file, b);
  const d = await decide(dir);
  assert.equal([d.slot, d.version], ['a', '1.0.0']);
  const s = state(dir);
  assert.is(s.active, 'a');
  assert.is(s.slots.b!.status, 'failed');
  assert.match(s.slots.b!.reason!, /does not verify: .*slot-b\.img: the Ed25519 signature does not verify/);
  assert.equal(s.events.slice(-2).map((e) => [e.event, e.slot]), [['failed', 'b'], ['rolled-back', 'a']]);
});

test('a corrupt state record: flashing is refused until boot rebuilds it from the slots that verify (newest first, health-checked)', async () => {
  const dir = await twoGoodSlots('corrupt-state');
  const file = path.join(dir, STATE_FILE);
  const text = fs.readFileSync(file, 'utf8');
  fs.writeFileSync(file, text.replace('"active":"b"', '"active":"a"'));
  assert.is(readState(dir), 'corrupt', 'the checksum catches an edit');
  const r = kit.bundled(['flash', img.v12, '--slots', dir, '--pubkey', kit.keys.publicFile]);
  oneLineRefusal(r, /state\.json is corrupt: boot the device once to rebuild it, then flash/);
  const d = await decide(dir);
  assert.equal([d.slot, d.version, d.healthChecked], ['b', '1.1.0', true]);
  const s = state(dir);
  assert.is(s.active, 'b');
  assert.ok(s.events.some((e) => e.event === 'recovered' && /state record was corrupt; rebuilt from 2 verified slot/.test(e.detail ?? '')));
  assert.is((await flashImageBytes(bytes(img.v12), dir, kit.keys.publicPem)).slot, 'a');
});

test(`a slot to try whose health check never finished in ${MAX_TRIAL_ATTEMPTS} boots is given up, without running it again`, async () => {
  const dir = await twoGoodSlots('attempts');
  await flashImageBytes(bytes(img.v12), dir, kit.keys.publicPem);
  const s = state(dir);
  s.slots.a!.attempts = MAX_TRIAL_ATTEMPTS;
  writeState(dir, s);
  const d = await decide(dir);
  assert.equal([d.slot, d.healthChecked], ['b', false]);
  assert.ok(!d.logs.some((l) => /health check \(attempt/.test(l)), 'no health check ran');
  assert.match(state(dir).slots.a!.reason!, new RegExp(`its health check did not finish in ${MAX_TRIAL_ATTEMPTS} boots`));
});

test('the supervisor forwards SIGINT to the slot\'s runtime, which stops cleanly; the exit status is the runtime\'s', async () => {
  const dir = await twoGoodSlots('signals');
  const child = spawn(process.execPath, [kit.at('twinflow.mjs'), 'boot', '--slots', dir, '--demo'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  const closed = new Promise<number | null>((resolve) => child.on('close', resolve));
  const deadline = Date.now() + 30_000;
  while (!/sniff-client/.test(out) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.match(out, /twinflow on board "sim"/, `the slot's runtime is running: ${err}`);
  child.kill('SIGINT');
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  const code = await closed;
  clearTimeout(timer);
  assert.is(code, 0, err);
  assert.match(out, /stopped\s*$/);
  assert.match(err, /booting slot b: twinflow 1\.1\.0/);
});

test.run();
