// Firmware images uploaded over the management port: `twinflow ctl image upload FILE` (the real
// command) against a management server over the real router control surface, whose configuration
// names the device's A/B slots and trusted key. A good image lands in the slot to try; a flipped
// bit, the wrong key or a downgrade below the device's minimum is refused with the same clear
// message as `twinflow flash`, and nothing is written; a misused upload protocol names the field.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { loadBoard, dataPlaneSpec } from '../../firmware/runtime/board.ts';
import { LineCard } from '../../firmware/runtime/linecard.ts';
import { LocalCards } from '../../firmware/runtime/cards.ts';
import { MemoryPortDriver } from '../../hal/drivers/memory/driver.ts';
import { Router } from '../../firmware/shell/router.ts';
import { ManagementServer } from '../../firmware/shell/mgmt/server.ts';
import { ManagementClient } from '../../firmware/shell/mgmt/client.ts';
import { ManagementError } from '../../firmware/shell/mgmt/protocol.ts';
import { formatKeyFile } from '../../firmware/shell/mgmt/keyfile.ts';
import { slotsStatus } from '../../firmware/runtime/image/index.ts';
import { makeImageKit, snapshotDir, type ImageKit } from '../fixtures/image.ts';
import { makeKey, run } from './mgmt-helpers.ts';
import { TWINFLOW_BIN } from '../fixtures/process.ts';

let kit: ImageKit;
const img: Record<string, string> = {};

test.before(async () => {
  kit = await makeImageKit('mgmt-image');
  img.v2 = await kit.build('v2.img', { version: '2.0.0' });
  img.v3 = await kit.build('v3.img', { version: '3.0.0' });
  img.old = await kit.build('v1.img', { version: '1.0.0' });
  img.otherKey = await kit.build('other.img', { version: '4.0.0', keys: kit.otherKeys });
  const flipped = fs.readFileSync(img.v3);
  flipped[flipped.length >> 1] ^= 0x10;
  img.flipped = kit.at('flipped.img');
  fs.writeFileSync(img.flipped, flipped);
});
test.after(() => kit.cleanup());

async function rig(images: boolean) {
  const board = loadBoard('sim');
  const drivers = board.lineCards[0].ports.map(() => new MemoryPortDriver());
  const card = LineCard.create(dataPlaneSpec(board, 0), board.lineCards[0].ports.map((name, i) => ({ name, driver: drivers[i] })));
  const slots = path.join(kit.dir, `slots-${Math.random().toString(36).slice(2)}`);
  const router = new Router({
    board, cards: new LocalCards([card]), version: 'test',
    config: {
      file: 'test', wccp: { address: '127.0.0.1', port: 2048, squid57Compat: false }, services: [], sessions: [], policy: [], limits: {},
      ...(images ? { images: { slots, publicKey: kit.keys.publicFile } } : {}),
    },
  });
  const key = makeKey();
  const keyFile = path.join(kit.dir, `ctl-${Math.random().toString(36).slice(2)}.key`);
  fs.writeFileSync(keyFile, formatKeyFile(key), { mode: 0o600 });
  const server = new ManagementServer({ control: router, keys: key });
  const port = await server.listen('127.0.0.1', 0);
  const ctl = (...args: string[]) => run(process.execPath, [TWINFLOW_BIN, 'ctl', '--connect', `127.0.0.1:${port}`, '--key', keyFile, ...args], { ms: 60_000 });
  return { slots, port, key, ctl, close: async () => { await server.close(); await card.close(); } };
}

test('ctl image upload: the router verifies and flashes the inactive slot; refusals write nothing', async () => {
  const r = await rig(true);
  try {
    const good = await r.ctl('image', 'upload', img.v2);
    assert.is(good.status, 0, good.stderr);
    assert.match(good.stdout, /image 2\.0\.0 for board sim \(\d+ bytes\) written into slot a; it is tried at the next boot/);
    const status = slotsStatus(r.slots);
    assert.is(status.state !== null && status.state !== 'corrupt' ? status.state.trial : null, 'a', JSON.stringify(status));
    const before = snapshotDir(r.slots);
    for (const [file, why] of [
      [img.flipped, /checksum|signature|digest/i],
      [img.otherKey, /key/i],
    ] as const) {
      const bad = await r.ctl('image', 'upload', file);
      assert.is(bad.status, 2, bad.stdout + bad.stderr);
      assert.match(bad.stderr, /image\.flash: .*/);
      assert.match(bad.stderr, why);
      assert.is(bad.stderr.trim().split('\n').length, 1, bad.stderr);
      assert.equal(snapshotDir(r.slots), before, `${path.basename(file)}: nothing written`);
    }
    const newer = await r.ctl('image', 'upload', img.v3);
    assert.is(newer.status, 0, newer.stderr);
    // Nothing has booted yet, so the newer image replaces the one waiting to be tried.
    assert.match(newer.stdout, /image 3\.0\.0 .* written into slot a/);
  } finally {
    await r.close();
  }
});

test('the upload protocol: fields named, order enforced, an upload dies with its connection', async () => {
  const r = await rig(true);
  const client = await ManagementClient.connect('127.0.0.1', r.port, r.key);
  const refused = async (method: string, params: Record<string, unknown>): Promise<string> => {
    try {
      await client.call(method, params);
    } catch (e) {
      if (e instanceof ManagementError) return `${e.field}: ${e.message}`;
      throw e;
    }
    throw new Error(`${method} accepted`);
  };
  try {
    assert.match(await refused('image.chunk', { offset: 0, data: Uint8Array.of(1) }), /offset: .*image\.begin first/);
    assert.match(await refused('image.begin', { size: 0 }), /size/);
    assert.match(await refused('image.begin', { size: 65 << 20 }), /size/);
    await client.call('image.begin', { size: 4 });
    assert.match(await refused('image.chunk', { offset: 0, data: 'text' }), /data: .*MessagePack binary/);
    assert.match(await refused('image.chunk', { offset: 1, data: Uint8Array.of(1) }), /offset: .*expected 0/);
    assert.equal(await client.call('image.chunk', { offset: 0, data: Uint8Array.of(1, 2) }), { received: 2 });
    assert.match(await refused('image.chunk', { offset: 2, data: Uint8Array.of(3, 4, 5) }), /data: .*past the announced size/);
    assert.match(await refused('image.flash', {}), /image: .*incomplete: 2 of 4/);
    assert.equal(await client.call('image.abort', {}), { aborted: true });
    assert.match(await refused('image.flash', {}), /image: .*no upload in progress/);
    await client.call('image.begin', { size: 3 });
    await client.call('image.chunk', { offset: 0, data: Uint8Array.of(1, 2, 3) });
    assert.match(await refused('image.flash', {}), /image: .*(not a twinflow|magic|short|truncated)/i);
  } finally {
    await client.close();
    await r.close();
  }
});

test('a router without an images configuration refuses uploads, saying why', async () => {
  const r = await rig(false);
  try {
    const bad = await r.ctl('image', 'upload', img.v2);
    assert.is(bad.status, 2);
    assert.match(bad.stderr, /takes no image uploads: its configuration has no "images"/);
  } finally {
    await r.close();
  }
});

test.run();
