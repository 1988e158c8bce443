// The linux addon's and drivers' failures, each the error a user can act on: an unknown
// interface (ENODEV, and InterfaceError naming it; `twinflow boot` names the board field), an
// interface that is down, a bad fd (EBADF, ENOTSOCK), a missing addon build (what to run), and
// missing privilege (EPERM with the "needs root or CAP_NET_RAW" hint, from a process whose
// CAP_NET_RAW was dropped with capsh).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { ADDON_MISSING, ADDON_PATH, addon, isNativeError, LinuxAddonError, loadAddon } from '../../hal/drivers/linux/native.ts';
import { LinuxPortDriver } from '../../hal/drivers/linux/driver.ts';
import { InterfaceError } from '../../hal/drivers/linux/errors.ts';
import { isUserError } from '../../firmware/errors.ts';
import { twinflow } from '../fixtures/capture.ts';
import { requireRoot, runSync, withLab } from '../net/netns.ts';

const MISSING = 'tfnope0';

function nativeError(fn: () => unknown): { code: string; syscall: string; hint: string; message: string } {
  try {
    fn();
  } catch (e) {
    if (isNativeError(e)) return e;
    throw e;
  }
  throw new Error('expected a system-call error');
}

test('interfaceInfo of an unknown interface: ENODEV from ioctl, with a hint', () => {
  const e = nativeError(() => addon().interfaceInfo(MISSING));
  assert.is(e.code, 'ENODEV');
  assert.is(e.syscall, 'ioctl');
  assert.match(e.message, MISSING);
  assert.match(e.hint, /no such interface/);
});

test('LinuxPortDriver refuses a missing interface, naming it (a user error)', () => {
  const e = (() => {
    try {
      new LinuxPortDriver({ interface: MISSING });
    } catch (err) {
      return err;
    }
    return null;
  })();
  assert.instance(e, InterfaceError);
  assert.is((e as InterfaceError).reason, 'missing');
  assert.is((e as InterfaceError).iface, MISSING);
  assert.match((e as Error).message, `interface "${MISSING}": no such interface`);
  assert.ok(isUserError(e));
  assert.throws(() => new LinuxPortDriver({ interface: 'x'.repeat(16) }), (err: unknown) => err instanceof InterfaceError && err.reason === 'invalid');
});

test('LinuxPortDriver refuses an interface that is down', async () => {
  requireRoot('linux-errors.test.ts');
  await withLab('down', async (lab) => {
    const ns = lab.netns('down');
    const [l] = lab.veth({ ns, tag: 'dn' }, { ns, tag: 'dp' }, { up: false });
    assert.throws(() => new LinuxPortDriver({ interface: l.name, netns: ns.path! }), (err: unknown) => err instanceof InterfaceError && err.reason === 'down' && /is down/.test(err.message));
    l.up();
    new LinuxPortDriver({ interface: l.name, netns: ns.path! });
  });
});

test('a bad fd: EBADF from every call; a file that is no socket: ENOTSOCK', () => {
  const n = addon();
  const fd = fs.openSync('/dev/null', 'r');
  fs.closeSync(fd);
  const mem = new Uint8Array(8192);
  const one = Uint32Array.of(0);
  const lens = new Uint32Array(1);
  for (const call of [
    () => n.recvBurst(fd, mem, one, 2048, lens, new Uint32Array(1), 1),
    () => n.sendBurst(fd, mem, one, Uint32Array.of(60), 1),
    () => n.packetStats(fd),
    () => n.close(fd),
  ]) {
    const e = nativeError(call);
    assert.is(e.code, 'EBADF');
    assert.match(e.hint, /not an open file descriptor/);
  }
  const file = fs.openSync('/dev/null', 'r');
  try {
    assert.is(nativeError(() => n.recvBurst(file, mem, one, 2048, lens, new Uint32Array(1), 1)).code, 'ENOTSOCK');
  } finally {
    fs.closeSync(file);
  }
});

test('the addon not built: one clear message saying what to run (a user error)', () => {
  const e = (() => {
    try {
      loadAddon(path.join(path.dirname(ADDON_PATH), 'absent', 'twinflow_linux.node'));
    } catch (err) {
      return err;
    }
    return null;
  })();
  assert.instance(e, LinuxAddonError);
  assert.match((e as Error).message, ADDON_MISSING);
  assert.match((e as Error).message, 'the linux addon is not built: run npm install (needs g++ and node-gyp)');
  assert.ok(isUserError(e));
});

test('without CAP_NET_RAW: EPERM with the hint "needs root or CAP_NET_RAW"', () => {
  requireRoot('linux-errors.test.ts');
  const script = `
    const m = require(${JSON.stringify(ADDON_PATH)});
    const out = [];
    for (const open of [() => m.openPacket(1), () => m.openRawIpv4(47), () => m.openIpv4Sender()]) {
      try { open(); out.push('opened'); } catch (e) { out.push({ code: e.code, syscall: e.syscall, hint: e.hint, message: e.message }); }
    }
    console.log(JSON.stringify(out));`;
  // The script travels in the environment, so no shell quoting is involved.
  const r = runSync(['capsh', '--drop=cap_net_raw', '--', '-c', 'exec "$NODE" -e "$SCRIPT"'], { env: { ...process.env, NODE: process.execPath, SCRIPT: script } });
  const results = JSON.parse(r.stdout) as Array<{ code: string; syscall: string; hint: string; message: string }>;
  assert.is(results.length, 3);
  for (const e of results) {
    assert.is(e.code, 'EPERM', JSON.stringify(e));
    assert.is(e.hint, 'needs root or CAP_NET_RAW');
    assert.match(e.message, /needs root or CAP_NET_RAW/);
  }
  assert.equal(results.map((e) => e.syscall), ['socket(AF_PACKET)', 'socket(AF_INET, SOCK_RAW)', 'socket(AF_INET, SOCK_RAW, IPPROTO_RAW)']);
});

test('twinflow boot: a linux port naming a missing interface exits 2 naming the board field', async () => {
  await withLab('boot', async (lab) => {
    const file = path.join(lab.tempDir(), 'board.json');
    const port = (name: string, iface: string, peer: string, mac: string) => ({ name, driver: 'linux', side: 'inside', mtu: 1500, mac, interface: iface, crossConnect: peer });
    fs.writeFileSync(file, JSON.stringify({
      name: 'linux-missing',
      description: 'a linux board whose first port names an interface that does not exist',
      memoryBudgetMiB: 32,
      frames: { size: 2048, headroom: 128, rx: 1024, replica: 256 },
      rings: { rx: 256, tx: 256 },
      tableMiB: 1,
      ports: [port('a', MISSING, 'b', '02:00:00:00:00:01'), port('b', 'lo', 'a', '02:00:00:00:00:02')],
      lineCards: [{ name: 'lc0', ports: ['a', 'b'] }],
    }));
    const r = twinflow(['boot', '--board', file, '--duration', '1']);
    assert.is(r.status, 2, r.stderr);
    assert.match(r.stderr, /ports\.0\.interface: interface "tfnope0": no such interface in this network namespace/);
    assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
  });
});

test.run();
