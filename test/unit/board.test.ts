// Board files: the shipped boards validate; every kind of bad board file is refused with an error
// that names the file and the field, before anything boots.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { BoardError, dataPlaneSpec, listBoards, loadBoard, validateBoard } from '../../firmware/runtime/board.ts';
import { planMemory } from '../../firmware/runtime/dataplane.ts';

const SIM = JSON.parse(readFileSync(new URL('../../boards/sim.json', import.meta.url), 'utf8')) as Record<string, unknown>;
const clone = (): any => structuredClone(SIM);

test('every shipped board validates and its memory plan fits its budget', () => {
  const names = listBoards();
  assert.ok(names.includes('sim'), `boards: ${names.join(', ')}`);
  for (const name of names) {
    const board = loadBoard(name);
    board.lineCards.forEach((_, c) => {
      const spec = dataPlaneSpec(board, c);
      const map = planMemory(spec, 0);
      assert.ok(map.end <= board.memoryBudgetMiB * 1048576 + 65536, `${name} card ${c}`);
    });
  }
});

const BAD: Array<[string, (b: any) => void, RegExp]> = [
  ['misspelt top-level field', (b) => { b.memoryBudgetMib = 8; }, /: memoryBudgetMib: unknown field/],
  ['missing required field', (b) => { delete b.rings; }, /: rings: is required/],
  ['port MTU out of range', (b) => { b.ports[1].mtu = 100; }, /: ports\.1\.mtu: must be >= 576/],
  ['bad MAC', (b) => { b.ports[0].mac = '02:00:00:00:00'; }, /: ports\.0\.mac: must match pattern/],
  ['bad driver', (b) => { b.ports[2].driver = 'dpdk'; }, /: ports\.2\.driver: must be equal to one of the allowed values: sim, linux, pcap/],
  ['ring size not a power of two', (b) => { b.rings.rx = 1000; }, /: rings\.rx: must be equal to one of the allowed values/],
  ['bad address', (b) => { b.ports[0].ipv4 = '10.1.0.300/24'; }, /: ports\.0\.ipv4: "10\.1\.0\.300\/24" is not an address with a prefix length/],
  ['address without a subnet', (b) => { b.ports[0].ipv4 = '10.1.0.1'; }, /: ports\.0\.ipv4: must match pattern/],
  ['route to an unknown port', (b) => { b.routes = [{ prefix: '0.0.0.0/0', port: 'nope' }]; }, /: routes\.0\.port: no port named "nope"/],
  ['route with host bits', (b) => { b.routes = [{ prefix: '10.0.0.1/8', port: 'lan' }]; }, /: routes\.0\.prefix: "10\.0\.0\.1\/8" is not a network prefix/],
  ['next hop off the port', (b) => { b.routes = [{ prefix: '10.0.0.0/8', port: 'lan', via: '10.9.9.9' }]; }, /: routes\.0\.via: 10\.9\.9\.9 is not on port "lan"/],
  ['bad neighbour MAC', (b) => { b.ports[0].neighbors = { '10.1.0.10': 'zz' }; }, /: ports\.0\.neighbors\.10\.1\.0\.10: must match pattern/],
  ['duplicate port name', (b) => { b.ports[1].name = 'lan'; }, /: ports\.1\.name: "lan" is used by two ports/],
  ['cross-connect to a missing port', (b) => { b.ports[0].crossConnect = 'dmz'; }, /: ports\.0\.crossConnect: no port named "dmz"/],
  ['port in two line cards', (b) => { b.lineCards.push({ name: 'lc1', ports: ['lan'] }); }, /: lineCards\.1\.ports\.0: port "lan" is already owned by line card "lc0"/],
  ['port in no line card', (b) => { b.lineCards[0].ports.pop(); }, /: lineCards: port "uplink" belongs to no line card/],
  ['sim port without endpoint', (b) => { delete b.ports[2].endpoint; }, /: ports\.2\.endpoint: a sim port needs an endpoint/],
  ['memory budget too small for the frames', (b) => { b.memoryBudgetMiB = 4; b.frames.rx = 8192; }, /: memoryBudgetMiB: data plane needs [\d.]+ MiB .* budget is 4\.0 MiB/],
  ['demo session on a missing port', (b) => { b.demo[0].port = 'dmz'; }, /: demo\.0\.port: no port named "dmz"/],
];

for (const [what, mutate, expected] of BAD) {
  test(`refused: ${what}`, () => {
    const b = clone();
    mutate(b);
    try {
      validateBoard(b, 'boards/test.json');
      assert.unreachable('accepted');
    } catch (e) {
      assert.instance(e, BoardError);
      assert.match((e as Error).message, /^boards\/test\.json: /);
      assert.match((e as Error).message, expected);
    }
  });
}

test('boot refuses a bad board file with exit status 2 and one line naming the field', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'twinflow-board-'));
  try {
    const b = clone();
    b.ports[1].mtu = 100000;
    const file = path.join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify(b));
    const r = spawnSync(process.execPath, ['bin/twinflow.mjs', 'boot', '--board', file, '--duration', '1'], { encoding: 'utf8' });
    assert.is(r.status, 2, r.stderr);
    assert.match(r.stderr, /bad\.json: ports\.1\.mtu: must be <= 9216/);
    assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);

    writeFileSync(file, '{ "name": "x", ');
    const j = spawnSync(process.execPath, ['bin/twinflow.mjs', 'boot', '--board', file, '--duration', '1'], { encoding: 'utf8' });
    assert.is(j.status, 2);
    assert.match(j.stderr, /bad\.json: \(top level\): not valid JSON/);

    const m = spawnSync(process.execPath, ['bin/twinflow.mjs', 'boot', '--board', 'no-such-board', '--duration', '1'], { encoding: 'utf8' });
    assert.is(m.status, 2);
    assert.match(m.stderr, /no such board file \(boards: .*sim/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test.run();
