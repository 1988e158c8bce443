#!/usr/bin/env node
// The project's test command (`npm test`). Steps, each of which fails the run:
//   1. type-check everything with `tsc --noEmit` (tsx does not type-check);
//   2. build the wasm data plane (release target; the tests load what users run);
//   3. rebuild the Linux addon when a source is newer than the built module (npm install built it;
//      a pull that changes the C would otherwise test the old one);
//   4. run every uvu suite under test/ (files named *.test.ts), or the ones matching argv[2].
// It ends with one line `N passed, N failed[, N skipped]`, which CI reads. A run in which no
// test ran, or in which uvu crashed outside a test, is a failure.

import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import fs from 'node:fs';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const pattern = process.argv[2] ?? '\\.test\\.ts$';

function finish(passed, failed, skipped) {
  console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  process.exit(failed > 0 || passed === 0 ? 1 : 0);
}

function step(title, cmd, args) {
  process.stdout.write(`── ${title}\n`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.log(`${title} failed (exit ${r.status ?? r.signal})`);
    finish(0, 1, 0);
  }
}

step('type check', process.execPath, [path.join(root, 'node_modules/typescript/bin/tsc'), '--noEmit', '-p', root]);
step('wasm build', process.execPath, [path.join(root, 'node_modules/assemblyscript/bin/asc.js'), '--config', 'asconfig.json', '--target', 'release']);

const addonDir = path.join(root, 'hal/drivers/linux/addon');
const addonBuilt = path.join(addonDir, 'build/Release/twinflow_linux.node');
const mtime = (f) => fs.statSync(f).mtimeMs;
const addonSources = [path.join(addonDir, 'binding.gyp'), ...fs.readdirSync(path.join(addonDir, 'src')).map((f) => path.join(addonDir, 'src', f))];
if (!fs.existsSync(addonBuilt) || addonSources.some((f) => mtime(f) > mtime(addonBuilt))) {
  step('linux addon build', 'npm', ['run', '--silent', 'install']);
}

process.stdout.write('── tests\n');
const child = spawn(
  process.execPath,
  ['--import', 'tsx', path.join(root, 'node_modules/uvu/bin.js'), 'test', pattern, '--no-color'],
  { cwd: root, stdio: ['inherit', 'pipe', 'inherit'] },
);
let tail = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  tail = (tail + chunk.toString()).slice(-4096);
});
child.on('close', (code, signal) => {
  const num = (label) => Number((tail.match(new RegExp(`${label}:\\s+(\\d+)`)) ?? [])[1] ?? 0);
  const total = num('Total');
  const passed = num('Passed');
  const skipped = num('Skipped');
  let failed = Math.max(0, total - passed - skipped);
  // uvu exits 1 on a failed assertion and also when a file throws while loading; the latter
  // shows up as a non-zero exit with no failure counted.
  if ((code !== 0 || signal) && failed === 0) failed = 1;
  finish(passed, failed, skipped);
});
