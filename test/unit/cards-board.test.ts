// Boards with several line cards (boards/chassis.json) and the data-plane spec a card gets when it
// runs as a worker thread (board.ts workerCardSpec, workers/layout.ts): every port in board order
// on every card, the frames a card lends to the hand-off rings added to its pools, and a board
// whose cards do not fit their budget refused with the field and the card named.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { BoardError, loadBoard, validateBoard, workerCardSpec } from '../../firmware/runtime/board.ts';
import { planMemory } from '../../firmware/runtime/dataplane.ts';
import { handoffNeeds, portOwners } from '../../firmware/runtime/workers/layout.ts';

test('boards/chassis.json: four line cards, every port owned by one, sim drivers', () => {
  const board = loadBoard('chassis');
  assert.is(board.lineCards.length, 4);
  const owners = portOwners(board);
  assert.ok(owners.every((o) => o >= 0), 'every port has an owner');
  assert.equal(new Set(owners).size, 4, 'every card owns a port');
  assert.ok(board.ports.every((p) => p.driver === 'sim'));
  for (const p of board.ports.filter((q) => q.crossConnect)) {
    assert.is.not(owners[board.ports.indexOf(p)], owners[board.ports.findIndex((q) => q.name === p.crossConnect)], `${p.name} and ${p.crossConnect} are on different cards (flows cross cards)`);
  }
});

test('a worker card has every port in board order, cross-connects as board indices, and lends its hand-off frames', () => {
  const board = loadBoard('chassis');
  const names = board.ports.map((p) => p.name);
  board.lineCards.forEach((lc, c) => {
    const spec = workerCardSpec(board, c);
    assert.equal(spec.ports.map((p) => p.name), names, lc.name);
    spec.ports.forEach((p, i) => {
      const cc = board.ports[i].crossConnect;
      assert.is(p.crossConnect, cc === undefined ? null : names.indexOf(cc), `${lc.name} ${p.name}`);
    });
    const owned = lc.ports.length;
    assert.is(spec.rxFrames, board.frames.rx + (names.length - owned) * board.rings.rx, `${lc.name}: rx frames lent to owners`);
    assert.is(spec.replicaFrames, board.frames.replica + owned * 3 * 2 * board.rings.tx, `${lc.name}: replica frames lent to senders`);
    assert.ok(planMemory(spec, 0).end <= board.memoryBudgetMiB * 1048576 + 65536, `${lc.name} fits its budget`);
  });
});

test('a single-card board needs no hand-off', () => {
  const board = loadBoard('sim');
  assert.equal(handoffNeeds(board, 0), { rxFrames: 0, replicaFrames: 0, ioBytes: 1 << 20 });
  assert.is(workerCardSpec(board, 0).rxFrames, board.frames.rx);
});

test('a board whose worker cards do not fit their memory budget is refused, naming the field and the card', () => {
  const { file: _file, ...data } = loadBoard('chassis');
  // 18 MiB holds a card with its own ports (dataPlaneSpec) but not with every port and the hand-off frames.
  try {
    validateBoard({ ...structuredClone(data), memoryBudgetMiB: 18 }, 'small-chassis');
    assert.unreachable('validated');
  } catch (e) {
    assert.instance(e, BoardError);
    assert.match((e as Error).message, /^small-chassis: memoryBudgetMiB: line card "lc\d" as a worker thread \(every port, hand-off frames and rings\): data plane needs [\d.]+ MiB/);
  }
});

test.run();
