// kill -9 at any moment of a save leaves the old state file or the new one, never a broken one.
// A child process (test/fixtures/state-writer.ts) saves growing and shrinking states (up to
// ~0.6 MB) in a loop; it is SIGKILLed at a random moment, again and again, each child carrying on
// the numbering. After each kill, loadState must succeed and return exactly the state of the
// last save that completed or of the one in flight, and never an older one. The temporary files
// killed writers leave behind are removed by the next save.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadState, saveState } from '../../firmware/shell/config/state.ts';
import { generationOf, stateAt } from '../fixtures/state-writer.ts';

const WRITER = new URL('../fixtures/state-writer.ts', import.meta.url).pathname;
/** Kills: each costs a child start (~1.5 s here); 20 random moments land in every phase of a save over the runs. */
const KILLS = 20;
/** Kill within this long after the child's first completed save (several saves of ~80 ms). */
const MAX_DELAY_MS = 300;

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinflow-crash-'));
const file = path.join(dir, 'router.state');

test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

interface Run { readonly saving: number[]; readonly saved: number[] }

/** Starts a writer at `start`, kills it `delay` ms after its first completed save. */
function writeAndKill(start: number, delay: number): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', WRITER, file, String(start)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let armed = false;
    const guard = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`writer made no progress: ${err}`)); }, 30_000);
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!armed && out.includes('saved ')) {
        armed = true;
        setTimeout(() => child.kill('SIGKILL'), delay);
      }
    });
    child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    child.on('close', (_code, signal) => {
      clearTimeout(guard);
      if (signal !== 'SIGKILL') return reject(new Error(`writer ended by itself (${signal}): ${err}`));
      const nums = (word: string): number[] => [...out.matchAll(new RegExp(`^${word} (\\d+)$`, 'gm'))].map((m) => Number(m[1]));
      resolve({ saving: nums('saving'), saved: nums('saved') });
    });
  });
}

test(`${KILLS} SIGKILLs at random moments: the file always loads, as the last or the in-flight state`, async () => {
  saveState(file, stateAt(0));
  let current = 0;
  let inFlight = 0;
  const outcomes = { completed: 0, inFlightLanded: 0 };
  let tempSeen = 0;
  for (let k = 0; k < KILLS; k++) {
    const run = await writeAndKill(current + 1, Math.floor(Math.random() * MAX_DELAY_MS));
    const lastSaved = run.saved.length ? Math.max(...run.saved) : current;
    const lastSaving = Math.max(...run.saving);
    const state = loadState(file);
    const n = generationOf(state);
    assert.equal(state, stateAt(n), `the loaded state is exactly state ${n}`);
    assert.ok(n === lastSaved || n === lastSaving, `loaded ${n}; last completed ${lastSaved}, in flight ${lastSaving}`);
    assert.ok(n >= current, 'never older than the last state loaded');
    if (n === lastSaved) outcomes.completed++;
    else outcomes.inFlightLanded++;
    current = Math.max(n, lastSaving);
    inFlight += lastSaving > lastSaved ? 1 : 0;
    tempSeen += fs.readdirSync(dir).filter((f) => f.endsWith('.tmp')).length;
  }
  assert.ok(inFlight > 0, 'at least one kill hit a save in flight');
  saveState(file, stateAt(current + 1));
  assert.equal(fs.readdirSync(dir), ['router.state'], 'the next save removed every temporary file the killed writers left');
  assert.is(generationOf(loadState(file)), current + 1);
  console.log(`  kills ${KILLS}: during a save ${inFlight} (file old ${outcomes.completed}, new ${outcomes.inFlightLanded}), temporary files left then cleaned ${tempSeen}`);
});

test.run();
