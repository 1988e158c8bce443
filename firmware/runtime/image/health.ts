// The health check of a slot, run by the boot supervisor: the slot's own bundled runtime runs
// `selftest --json` (selftest.ts) on the slot's own board, in a child process, with its own wasm
// (the run directory, rundir.ts). The slot is healthy only if the child exits 0 within the
// timeout and its report says pass, names the image's version (it is the slot's runtime that
// ran) and the SHA-256 of the image's wasm section (it is the slot's wasm that was loaded).
// Bounded: a child that outlives the timeout is killed (SIGKILL); its output is capped.

import { spawn } from 'node:child_process';
import type { RunDir } from './rundir.ts';
import type { SelftestReport } from './selftest.ts';
import type { VerifiedImage } from './verify.ts';

/**
 * How long a health check may take. The selftest takes about a second (most of it node loading
 * the bundle and compiling the wasm); a loaded small router may be several times slower, and a
 * hung runtime must not hold the boot for longer than this.
 */
export const HEALTH_CHECK_TIMEOUT_MS = 30_000;

/** Output kept from the child: a report is about 2 KiB; the rest only feeds the failure reason. */
const MAX_OUTPUT_BYTES = 256 << 10;

export interface HealthResult {
  readonly healthy: boolean;
  /** Why not (one line), or a summary of the pass. */
  readonly reason: string;
  readonly report?: SelftestReport;
  readonly ms: number;
}

function lastLine(text: string): string {
  const lines = text.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  return lines.length ? lines[lines.length - 1] : '';
}

/** The line of a failed child's stderr that says what went wrong (not its stack). */
function failureLine(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l !== '');
  return lines.find((l) => /^(twinflow: )?[A-Za-z]*Error\b/.test(l)) ?? lines.find((l) => l.startsWith('twinflow: ')) ?? lines[0] ?? '';
}

function parseReport(stdout: string): SelftestReport | undefined {
  try {
    const r = JSON.parse(lastLine(stdout)) as SelftestReport;
    return typeof r === 'object' && r !== null && (r.selftest === 'pass' || r.selftest === 'fail') && Array.isArray(r.checks) ? r : undefined;
  } catch {
    return undefined;
  }
}

/** Runs the slot's selftest in `run`; never throws for a failing slot. */
export function healthCheck(run: RunDir, image: VerifiedImage, timeoutMs = HEALTH_CHECK_TIMEOUT_MS): Promise<HealthResult> {
  const t0 = Date.now();
  const expectWasm = image.manifest.sections.find((s) => s.name === 'wasm')!.sha256;
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [run.runtime, 'selftest', '--board', run.board, '--json'], {
      cwd: run.dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => { if (stdout.length < MAX_OUTPUT_BYTES) stdout += d.toString(); });
    child.stderr.on('data', (d: Buffer) => { if (stderr.length < MAX_OUTPUT_BYTES) stderr += d.toString(); });
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, timeoutMs);
    const done = (healthy: boolean, reason: string, report?: SelftestReport): void => {
      clearTimeout(timer);
      resolve({ healthy, reason, report, ms: Date.now() - t0 });
    };
    child.on('error', (e) => done(false, `the runtime could not start: ${e.message}`));
    child.on('close', (code, signal) => {
      if (timedOut) return done(false, `health check timed out after ${timeoutMs} ms`);
      const report = parseReport(stdout);
      if (signal) return done(false, `the runtime was killed by ${signal}`);
      if (!report) {
        const why = failureLine(stderr) || lastLine(stdout) || 'no output';
        return done(false, `the runtime exited with status ${code} without a selftest report: ${why}`);
      }
      const failed = report.checks.filter((c) => !c.ok);
      if (report.selftest !== 'pass' || failed.length || code !== 0) {
        return done(false, `selftest failed (exit ${code}): ${failed.map((c) => `${c.name}: ${c.detail}`).join('; ') || 'no check passed'}`, report);
      }
      if (report.version !== image.manifest.firmwareVersion) {
        return done(false, `the runtime reports version ${report.version}, the image is ${image.manifest.firmwareVersion}`, report);
      }
      if (report.wasmSha256 !== expectWasm) return done(false, 'the runtime did not load the image\'s wasm', report);
      done(true, `selftest passed in ${Date.now() - t0} ms: ${report.packets} packets on board "${report.board}", ${report.checks.length} checks`, report);
    });
  });
}
