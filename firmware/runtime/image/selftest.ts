// `twinflow selftest`: the health check a slot's runtime must pass before its image becomes the
// active one. It boots the board exactly as `twinflow boot --demo` does (its own wasm, its line
// cards, the board's demo sessions published), runs SELFTEST_MS of virtual time (the clock is an
// argument, so the run is fast and the same every time), stops, and checks what an operator would:
//   - traffic passed: at least MIN_PACKETS originals were received;
//   - every original was forwarded (per cross-connected port, forwarded = rx_packets, nothing
//     dropped for lack of a tx slot) and delivered to the endpoint across the router;
//   - every demo session produced replicas, and the collectors decapsulated every one of them,
//     none malformed;
//   - the conservation invariants hold (per port and per session, counters.ts).
// A board whose ports need hardware (linux, pcap) or that has no demo session is checked on the
// embedded sim board instead: the check proves the runtime and the wasm, not the wiring.
//
// The report is one JSON line (--json) that the boot supervisor reads (health.ts): the verdict,
// each check, the version this runtime was built as and the SHA-256 of the wasm it loaded, so the
// supervisor knows it tested the slot's own runtime and wasm. Exit status 0 only on a pass.

import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { validateBoard, loadBoard, type Board } from '../board.ts';
import { snapshot, startCards } from '../boot.ts';
import { dataplaneWasmPath } from '../wasm.ts';
import { FIRMWARE_VERSION } from '../../version.ts';
import SIM_BOARD from '../../../boards/sim.json' with { type: 'json' };

/** Virtual run time: a few hundred flows on the sim board, well under a second of real time. */
export const SELFTEST_MS = 1500;

/** One poll iteration per virtual millisecond, as the real loop runs when traffic flows. */
const STEP_NS = 1_000_000n;

/** Fewer originals than this means the simulated hosts did not get traffic through at all. */
export const MIN_PACKETS = 100;

export interface SelftestCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface SelftestReport {
  readonly selftest: 'pass' | 'fail';
  readonly version: string;
  readonly board: string;
  readonly wasmSha256: string;
  readonly virtualMs: number;
  readonly packets: number;
  readonly checks: readonly SelftestCheck[];
}

/** A board the check can run as it is: simulated ports (optional real ones may stay down) and a demo session. */
function simulatable(board: Board): boolean {
  return board.ports.every((p) => p.driver === 'sim' || p.optional === true) && (board.demo ?? []).length > 0;
}

/** Runs the health check on `boardFile` (default: the embedded sim board). */
export async function runSelftest(boardFile?: string): Promise<SelftestReport> {
  const own = boardFile !== undefined ? loadBoard(boardFile) : undefined;
  const board = own && simulatable(own) ? own : validateBoard(SIM_BOARD, 'sim (embedded)');
  const wasmSha256 = createHash('sha256').update(readFileSync(dataplaneWasmPath())).digest('hex');
  const running = startCards(board, true);
  try {
    let now = 0n;
    for (let ms = 0; ms < SELFTEST_MS; ms++, now += STEP_NS) {
      for (const r of running) r.card.step(now);
    }
  } finally {
    for (const r of running) await r.card.close();
  }
  const s = snapshot(board, running);
  const checks: SelftestCheck[] = [];
  const check = (name: string, ok: boolean, detail: string): void => { checks.push({ name, ok, detail }); };

  let packets = 0;
  for (const c of Object.values(s.ports)) packets += c.rx_packets;
  check('traffic', packets >= MIN_PACKETS, `${packets} originals received (at least ${MIN_PACKETS})`);

  for (const port of board.ports) {
    const c = s.ports[port.name];
    if (port.crossConnect === undefined || c === undefined) continue;
    const lost = c.rx_packets - c.forwarded - c.redirected;
    check(`forwarded:${port.name}`, lost === 0 && c.dropped_tx_full === 0, `${c.forwarded} of ${c.rx_packets} originals forwarded, ${c.dropped_tx_full} dropped for tx space`);
    const peer = s.endpoints[port.crossConnect];
    if (peer !== undefined && peer.packetsReceived !== undefined) {
      check(`delivered:${port.name}`, peer.packetsReceived === c.forwarded, `${peer.packetsReceived} of ${c.forwarded} originals reached ${port.crossConnect}`);
    }
  }

  const replicatedTo = new Map<string, number>();
  for (const r of running) {
    for (const spec of r.sessions) {
      const c = s.sessions[spec.name];
      const port = r.card.ports[spec.egressPort].name;
      replicatedTo.set(port, (replicatedTo.get(port) ?? 0) + c.replicated);
      check(`replicas:${spec.name}`, c.matched > 0 && c.replicated > 0, `${c.matched} matched, ${c.replicated} replicated`);
    }
  }
  if (replicatedTo.size === 0) check('replicas', false, 'no demo session was published');
  for (const [port, replicated] of replicatedTo) {
    const collector = s.endpoints[port];
    if (collector?.replicas === undefined) continue;
    check(`collected:${port}`, collector.replicas === replicated && collector.malformed === 0, `${collector.replicas} of ${replicated} replicas decapsulated, ${collector.malformed} malformed`);
  }

  check('conservation', s.violations.length === 0, s.violations.length ? s.violations.join('; ') : 'rx = forwarded + redirected + dropped per port; matched = replicated + drops per session');

  return {
    selftest: checks.every((c) => c.ok) ? 'pass' : 'fail',
    version: FIRMWARE_VERSION,
    board: board.name,
    wasmSha256,
    virtualMs: SELFTEST_MS,
    packets,
    checks,
  };
}

export async function selftestCommand(o: { board?: string; json?: boolean }): Promise<void> {
  const report = await runSelftest(o.board);
  if (o.json) {
    process.stdout.write(`${JSON.stringify(report)}\n`);
  } else {
    for (const c of report.checks) process.stdout.write(`${c.ok ? 'ok  ' : 'FAIL'} ${c.name.padEnd(24)} ${c.detail}\n`);
    process.stdout.write(`selftest ${report.selftest}: twinflow ${report.version} on board "${report.board}", ${report.packets} packets in ${report.virtualMs} ms of virtual time\n`);
  }
  if (report.selftest !== 'pass') process.exitCode = 1;
}
