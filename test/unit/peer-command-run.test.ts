// How the host-side commands of a job run (firmware/peer/command-run.ts): SIGINT and SIGTERM stop
// a run and close() takes exactly its own handlers away again; --duration stops it; stop() may come
// any number of times, before or after close(); and the status line: rewritten in place on a
// terminal at every tick, off a terminal silent unless the command gives `sayChanged`, and then one
// line each time the status changes. Status ticks are real (STATUS_MS), every wait is bounded.

import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { CommandRun, STATUS_MS } from '../../firmware/peer/command-run.ts';

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

/** Whether `p` settles within `ms`. */
async function settlesWithin(p: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<boolean>((resolve) => { timer = setTimeout(() => resolve(false), ms); });
  try {
    return await Promise.race([p.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `fn` while process.stderr claims (or denies) being a terminal. */
function withTty<T>(isTTY: boolean, fn: () => T): T {
  const own = Object.getOwnPropertyDescriptor(process.stderr, 'isTTY');
  Object.defineProperty(process.stderr, 'isTTY', { value: isTTY, configurable: true, writable: true });
  try {
    return fn();
  } finally {
    if (own) Object.defineProperty(process.stderr, 'isTTY', own);
    else delete (process.stderr as { isTTY?: boolean }).isTTY;
  }
}

for (const signal of SIGNALS) {
  test(`${signal} stops a run; close() removes exactly the handlers it installed`, async () => {
    const before = SIGNALS.map((s) => process.listeners(s));
    const run = new CommandRun();
    try {
      const added = SIGNALS.map((s, i) => process.listeners(s).filter((l) => !before[i].includes(l)));
      assert.equal(added.map((a) => a.length), [1, 1]);
      assert.not.ok(await settlesWithin(run.stopped, 50), 'not stopped before the signal');
      (added[SIGNALS.indexOf(signal)][0] as () => void)();
      assert.ok(await settlesWithin(run.stopped, 1000), 'stopped by the signal');
    } finally {
      run.close();
    }
    assert.equal(SIGNALS.map((s) => process.listenerCount(s)), before.map((l) => l.length));
  });
}

test('stopAfter stops after the duration and never without one; stop() before or after close() is harmless', async () => {
  const timed = new CommandRun();
  const unlimited = new CommandRun();
  try {
    timed.stopAfter(0.05);
    unlimited.stopAfter(undefined);
    assert.ok(await settlesWithin(timed.stopped, 2000), 'stopped after 50 ms');
    assert.not.ok(await settlesWithin(unlimited.stopped, 200), 'no duration, no stop');
    unlimited.stop();
    unlimited.stop();
    assert.ok(await settlesWithin(unlimited.stopped, 1000));
  } finally {
    timed.close();
    unlimited.close();
  }
  timed.stop();
  timed.close();
});

test('status line: in place on a terminal every tick; off one silent, or one line per change with sayChanged', async () => {
  const script = ['a', 'a', 'b', 'b'];
  const rendered = { tty: 0, changes: 0, silent: 0 };
  const said: string[] = [];
  const written: string[] = [];
  const runs = [new CommandRun(), new CommandRun(), new CommandRun()];
  const write = process.stderr.write;
  process.stderr.write = ((chunk: string | Uint8Array) => {
    written.push(String(chunk));
    return true;
  }) as typeof process.stderr.write;
  try {
    withTty(true, () => runs[0].showStatus(() => `tty ${rendered.tty++}`));
    withTty(false, () => runs[1].showStatus(() => script[Math.min(rendered.changes++, script.length - 1)], (l) => said.push(l)));
    withTty(false, () => runs[2].showStatus(() => `silent ${rendered.silent++}`));
    const deadline = Date.now() + STATUS_MS * script.length + 2000;
    while (rendered.changes < script.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  } finally {
    for (const r of runs) r.close();
    process.stderr.write = write;
  }
  assert.ok(rendered.changes >= script.length, `rendered ${rendered.changes} times`);
  assert.equal(said, ['a', 'b'], 'a line only when the status changed');
  assert.ok(rendered.tty >= script.length - 1, `terminal rendered ${rendered.tty} times`);
  assert.equal(written, Array.from({ length: rendered.tty }, (_, i) => `\rtty ${i}   `), 'each tick rewrites the line in place');
  assert.is(rendered.silent, 0, 'off a terminal without sayChanged: no status at all');
  // close() stopped the ticks.
  const after = { ...rendered };
  await new Promise((r) => setTimeout(r, STATUS_MS + 200));
  assert.equal(rendered, after);
});

test.run();
