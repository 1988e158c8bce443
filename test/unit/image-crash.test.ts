// Power-cut safety of flashing: a child process flashes images into a device's inactive slot in
// a loop (through the upload API) and is killed with SIGKILL at random moments, many times.
// After every kill the device must still hold a state record that checks and an active slot
// that verifies (and a slot marked to try must verify too: it is only marked once it is whole);
// every few kills, and at the end, a real boot decision (with the health check) must pick a
// verified slot and run it. The test also proves the kills landed inside flashes (temporary
// files or a held lock left behind), so it is not only killing an idle loop.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { flashImageBytes, selectBootSlot } from '../../firmware/runtime/image/index.ts';
import { loadSlot, readDevice, readState, SLOT_NAMES } from '../../firmware/runtime/image/slots.ts';
import { XorShift32 } from '../../hal/prng.ts';
import { makeImageKit, type ImageKit } from '../fixtures/image.ts';

const KILLS = 40;
const REAL_BOOT_EVERY = 10;
const SEED = Number(process.env.TWINFLOW_CRASH_SEED ?? 0x5eed1);

let kit: ImageKit;
let flasher: string;
const images: string[] = [];

test.before(async () => {
  kit = await makeImageKit('image-crash');
  images.push(await kit.build('v1.0.0.img', { version: '1.0.0' }));
  images.push(await kit.build('v1.1.0.img', { version: '1.1.0' }));
  images.push(await kit.build('v1.2.0.img', { version: '1.2.0' }));
  // The flasher as one file run by node alone: it starts in a tenth of a second, so many kills fit.
  const esbuild = await import('esbuild');
  flasher = kit.at('flash-loop.mjs');
  await esbuild.build({
    entryPoints: [fileURLToPath(new URL('../fixtures/flash-loop.ts', import.meta.url))],
    bundle: true, platform: 'node', format: 'esm', target: 'node20', outfile: flasher, logLevel: 'silent',
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  });
});
test.after(() => kit.cleanup());

/** The device boots a verified slot: checks without running anything. */
function assertBootable(dir: string, when: string): void {
  const device = readDevice(dir)!;
  const s = readState(dir);
  assert.ok(s !== null && s !== 'corrupt', `${when}: the state record checks (${s})`);
  assert.ok(s.active !== null, `${when}: a slot is active`);
  loadSlot(dir, device, s.active, s.slots[s.active]!.imageSha256);
  if (s.trial !== null) loadSlot(dir, device, s.trial, s.slots[s.trial]!.imageSha256);
}

/** Spawns the flasher, kills it with SIGKILL `delayMs` after its loop started; resolves the flashes it finished. */
async function flashAndKill(dir: string, delayMs: number): Promise<number> {
  const child = spawn(process.execPath, [flasher, dir, kit.keys.publicFile, ...images.slice(1)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (d) => { out += d; });
  child.stderr.on('data', (d) => { err += d; });
  const closed = new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_code, signal) => resolve(signal)));
  const deadline = Date.now() + 20_000;
  while (!out.startsWith('ready') && child.exitCode === null && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
  assert.ok(out.startsWith('ready'), `the flasher started: ${err}`);
  await new Promise((r) => setTimeout(r, delayMs));
  child.kill('SIGKILL');
  const signal = await closed;
  assert.is(signal, 'SIGKILL', `the flasher died by SIGKILL, not by itself: ${err}`);
  return (out.match(/\./g) ?? []).length;
}

test(`SIGKILL at ${KILLS} random moments while flashing in a loop: the device always boots a verified slot`, async () => {
  const dir = kit.at('device');
  await flashImageBytes(new Uint8Array(fs.readFileSync(images[0])), dir, kit.keys.publicPem, { board: 'sim' });
  const first = await selectBootSlot(dir, { log: () => {} });
  first.run.remove();

  // How long one flash takes here, so the kills spread over whole flashes.
  const t0 = Date.now();
  for (let i = 0; i < 3; i++) await flashImageBytes(new Uint8Array(fs.readFileSync(images[1 + (i % 2)])), dir, kit.keys.publicPem);
  const flashMs = Math.max(2, (Date.now() - t0) / 3);

  const rng = new XorShift32(SEED);
  let interrupted = 0;
  let flashes = 0;
  let realBoots = 0;
  for (let k = 1; k <= KILLS; k++) {
    const delay = rng.below(Math.ceil(flashMs * 3));
    flashes += await flashAndKill(dir, delay);
    const left = fs.readdirSync(dir);
    if (left.some((n) => n.includes('.tmp-') || n === 'lock')) interrupted++;
    assertBootable(dir, `kill ${k} (seed ${SEED}, ${delay} ms)`);
    if (k % REAL_BOOT_EVERY === 0) {
      const d = await selectBootSlot(dir, { log: () => {} });
      assert.ok(SLOT_NAMES.includes(d.slot));
      assert.ok(fs.existsSync(d.run.runtime));
      d.run.remove();
      realBoots++;
      const s = readState(dir);
      assert.ok(s !== null && s !== 'corrupt' && s.active === d.slot && s.trial === null, `kill ${k}: the boot recorded its choice`);
      assert.is(s.slots[d.slot]!.status, 'good');
    }
  }
  assert.ok(interrupted >= KILLS / 4, `at least a quarter of the kills interrupted a flash (${interrupted} of ${KILLS}, ${flashes} flashes finished, ${flashMs.toFixed(1)} ms per flash)`);
  assert.is(realBoots, KILLS / REAL_BOOT_EVERY);
  // After the last kill the lock is stale and the temporary files are litter: the next flash and boot clear them.
  await flashImageBytes(new Uint8Array(fs.readFileSync(images[2])), dir, kit.keys.publicPem);
  const last = await selectBootSlot(dir, { log: () => {} });
  last.run.remove();
  assert.equal(fs.readdirSync(dir).filter((n) => n.includes('.tmp-') || n === 'lock'), []);
  assert.is(last.image.manifest.firmwareVersion, '1.2.0');
  assert.is(path.basename(last.dir), 'device');
});

test.run();
