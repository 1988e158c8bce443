// `twinflow boot`: boot a board, run its line cards' poll loops in real time, show live counters,
// and stop cleanly on SIGINT / SIGTERM (or after --duration): the loops finish their iteration,
// drivers flush and close, final counters are printed.

import { setTimeout as sleep } from 'node:timers/promises';
import { setImmediate as yieldToEvents } from 'node:timers/promises';
import { loadBoard, dataPlaneSpec, BoardError, type Board, type BoardPort, type DemoSession } from './board.ts';
import { LineCard } from './linecard.ts';
import { SimPortDriver } from '../../hal/drivers/sim/driver.ts';
import { mediumDriver } from './port-medium.ts';
import type { SimEndpoint } from '../../hal/drivers/sim/endpoint.ts';
import type { PortDriver } from '../../hal/driver.ts';
import { OptionalPortDriver } from '../../hal/drivers/absent/driver.ts';
import { TraceDriver } from '../../hal/drivers/trace/driver.ts';
import { FaultConfigError, FaultDriver } from '../../hal/drivers/fault/index.ts';
import type { RouterProcess } from './router-process.ts';
import type { RouterConfig } from '../shell/config/types.ts';
import { LocalCards } from './cards.ts';
import { BootOptionError } from './boot-errors.ts';
import { compileTables, type SessionSpec } from '../shell/sessions/compile.ts';
import { parseIpv4, parseIpv4Prefix, parseMac } from '../shell/net/address.ts';
import { conservationViolations, globalCounters, portCounters, portDropped, sessionCounters, type CounterSet } from './counters.ts';

export interface BootOptions {
  readonly board: string;
  /** The router's configuration file (docs/config.md): WCCP, sessions, management. */
  readonly config?: string;
  /** pcapng taps: port name → file. */
  readonly trace?: Readonly<Record<string, string>>;
  readonly demo?: boolean;
  readonly duration?: number;
  readonly json?: boolean;
}

/** A line card of a booted board, its sim endpoints by port name, and its published sessions. */
export interface RunningCard {
  readonly card: LineCard;
  readonly endpoints: Map<string, SimEndpoint>;
  readonly sessions: SessionSpec[];
}

const RENDER_INTERVAL_NS = 1_000_000_000n;

function driverFor(board: Board, port: BoardPort, endpoints: Map<string, SimEndpoint>): PortDriver {
  const driver = portDriver(board, port, endpoints);
  if (port.fault === undefined) return driver;
  // Seeded loss, corruption, duplication and delay on the port (hal/drivers/fault): impaired paths.
  try {
    return new FaultDriver(driver, port.fault);
  } catch (e) {
    if (e instanceof FaultConfigError) throw new BoardError(board.file, `ports.${board.ports.indexOf(port)}.fault.${e.field}`, e.detail);
    throw e;
  }
}

function portDriver(board: Board, port: BoardPort, endpoints: Map<string, SimEndpoint>): PortDriver {
  if (port.optional) {
    // The port may be missing on this machine: the router runs with it down (counted).
    return new OptionalPortDriver(() => mediumOf(board, port, endpoints), (reason) => {
      process.stderr.write(`twinflow: port "${port.name}" is down: ${reason}\n`);
    });
  }
  return mediumOf(board, port, endpoints);
}

/** The port's medium driver; a sim port's endpoint is recorded for the status display. */
function mediumOf(board: Board, port: BoardPort, endpoints: Map<string, SimEndpoint>): PortDriver {
  const driver = mediumDriver(board, port);
  if (driver instanceof SimPortDriver) endpoints.set(port.name, driver.endpoint);
  return driver;
}

/** Resolves demo sessions of the board to SessionSpecs for the card that owns their port. */
function demoSessions(board: Board, card: number, demo: readonly DemoSession[]): SessionSpec[] {
  const lc = board.lineCards[card];
  const out: SessionSpec[] = [];
  demo.forEach((d, i) => {
    const egress = lc.ports.indexOf(d.port);
    if (egress < 0) return;
    const port = board.ports.find((p) => p.name === d.port)!;
    if (!port.ipv4) throw new BoardError(board.file, `ports.${board.ports.indexOf(port)}.ipv4`, `port "${port.name}" sends replicas (demo.${i}) and needs the router's address`);
    const collectorMac = port.endpoint?.kind === 'collector' ? port.endpoint.mac as string | undefined : undefined;
    const deviceMac = d.deviceMac ?? collectorMac;
    if (!deviceMac) throw new BoardError(board.file, `demo.${i}.deviceMac`, 'is required when the port has no collector endpoint');
    out.push({
      name: d.name,
      mode: d.mode ?? 'sniff',
      filter: d.filter,
      encap: d.encap ?? 'gre',
      snaplen: d.snaplen ?? 0,
      sample: d.sample ?? 1,
      ratePps: d.ratePps ?? 0,
      rateBps: 0,
      egressPort: egress,
      mtu: port.mtu,
      source: { ip: parseIpv4Prefix(port.ipv4).address, mac: parseMac(port.mac) },
      destination: { ip: parseIpv4(d.device), mac: parseMac(deviceMac) },
      slot: out.length,
      generation: 1,
    });
  });
  return out;
}

/**
 * Counters of every port, session, driver and endpoint, and the conservation violations. The
 * sessions are the demo sessions' unless a control plane owns them (`sessions`, by name).
 */
export function snapshot(board: Board, running: RunningCard[], owned?: Record<string, CounterSet>) {
  const ports: Record<string, CounterSet> = {};
  const sessions: Record<string, CounterSet> = {};
  const endpoints: Record<string, Record<string, number>> = {};
  const drivers: Record<string, CounterSet> = {};
  const global: Record<string, CounterSet> = {};
  running.forEach(({ card, endpoints: eps, sessions: ss }, c) => {
    card.ports.forEach((p, i) => {
      ports[p.name] = portCounters(card.dp, i);
      drivers[p.name] = { ...p.counters };
    });
    if (!owned) for (const s of ss) sessions[s.name] = sessionCounters(card.dp, s.slot);
    for (const [name, ep] of eps) endpoints[name] = ep.counters();
    global[board.lineCards[c].name] = globalCounters(card.dp);
  });
  if (owned) Object.assign(sessions, owned);
  return { board: board.name, ports, sessions, drivers, endpoints, global, violations: conservationViolations(ports, sessions) };
}

export type Snapshot = ReturnType<typeof snapshot>;

function render(s: Snapshot, seconds: number, tty: boolean): string {
  const lines: string[] = [];
  lines.push(`twinflow on board "${s.board}" — ${seconds.toFixed(0)} s${tty ? ' — Ctrl-C to stop' : ''}`);
  lines.push('port        rx_packets   forwarded  redirected  returned   dropped  rx_missed  tx_packets');
  for (const [name, c] of Object.entries(s.ports)) {
    const d = s.drivers[name];
    lines.push(`${name.padEnd(10)} ${String(c.rx_packets).padStart(11)} ${String(c.forwarded).padStart(11)} ${String(c.redirected).padStart(11)} ${String(c.returned).padStart(9)} ${String(portDropped(c)).padStart(9)} ${String(d.rxMissed).padStart(10)} ${String(d.txPackets).padStart(11)}`);
  }
  if (Object.keys(s.sessions).length) {
    lines.push('session        matched  replicated  sampled_out  rate_limited  ring_full  no_frame  mtu');
    for (const [name, c] of Object.entries(s.sessions)) {
      lines.push(`${name.padEnd(10)} ${String(c.matched).padStart(11)} ${String(c.replicated).padStart(11)} ${String(c.sampled_out).padStart(12)} ${String(c.rate_limited).padStart(13)} ${String(c.ring_full).padStart(10)} ${String(c.no_frame).padStart(9)} ${String(c.mtu).padStart(4)}`);
    }
  }
  for (const [name, c] of Object.entries(s.endpoints)) {
    lines.push(`${name.padEnd(10)} ${Object.entries(c).map(([k, v]) => `${k} ${v}`).join('  ')}`);
  }
  if (s.violations.length) lines.push(`CONSERVATION VIOLATED: ${s.violations.join('; ')}`);
  return lines.join('\n');
}

/** Builds every line card of a board with its port drivers; with `demo`, publishes the board's demo sessions. */
export function startCards(board: Board, demo: boolean, traces: Readonly<Record<string, string>> = {}): RunningCard[] {
  for (const name of Object.keys(traces)) {
    if (!board.ports.some((p) => p.name === name)) throw new BootOptionError(`--trace ${name}=…: board "${board.name}" has no port "${name}" (ports: ${board.ports.map((p) => p.name).join(', ')})`);
  }
  return board.lineCards.map((lc, c) => {
    const endpoints = new Map<string, SimEndpoint>();
    const ports = lc.ports.map((name) => {
      const port = board.ports.find((p) => p.name === name)!;
      const driver = driverFor(board, port, endpoints);
      // A pcapng tap on the port: every frame it receives and sends, unchanged.
      return { name, driver: traces[name] !== undefined ? new TraceDriver(driver, { target: traces[name] }) : driver };
    });
    const card = LineCard.create(dataPlaneSpec(board, c), ports);
    const sessions = demo ? demoSessions(board, c, board.demo ?? []) : [];
    if (sessions.length) card.dp.publish(compileTables(sessions).bank.image);
    return { card, endpoints, sessions };
  });
}

export async function bootCommand(o: BootOptions): Promise<void> {
  const board = loadBoard(o.board);
  // The control plane (config, WCCP, management) loads only for a configured router.
  const config = o.config !== undefined ? (await import('../shell/config/load.ts')).loadRouterConfig(o.config) : undefined;
  if (config && o.demo) throw new BootOptionError('--demo and --config: put the sessions in the configuration');
  // A board with several line cards runs each in a worker thread (docs/linecards.md).
  if (board.lineCards.length > 1) return bootWorkerCards(board, o, config);
  const running = startCards(board, o.demo === true, o.trace ?? {});
  if (o.demo && !(board.demo ?? []).length) process.stderr.write(`twinflow: board "${board.name}" defines no demo sessions\n`);
  const say = (line: string): void => { process.stderr.write(`twinflow: ${line}\n`); };
  let control: RouterProcess | undefined;
  if (config) {
    try {
      const { RouterProcess } = await import('./router-process.ts');
      control = await RouterProcess.start({ board, cards: new LocalCards(running.map((r) => r.card)), config, log: say });
    } catch (e) {
      for (const r of running) await r.card.close();
      throw e;
    }
    const l = control.listening;
    say(`router up: WCCP ${l.wccp}${l.management ? `, management ${l.management}` : ''}${l.metrics ? `, metrics ${l.metrics}` : ''}`);
  }
  const sessionsNow = (): Record<string, CounterSet> | undefined => control?.router.counters().sessions;

  let stop = false;
  const onSignal = (): void => { stop = true; };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const tty = process.stdout.isTTY === true && !o.json;
  const t0 = process.hrtime.bigint();
  const deadline = o.duration !== undefined ? BigInt(o.duration) * 1_000_000_000n : -1n;
  let nextRender = RENDER_INTERVAL_NS;
  let iterations = 0;
  try {
    while (!stop) {
      const now = process.hrtime.bigint() - t0;
      if (deadline >= 0n && now >= deadline) break;
      let work = 0;
      control?.poll();
      for (const r of running) work += r.card.step(now);
      if (now >= nextRender) {
        nextRender += RENDER_INTERVAL_NS;
        if (!o.json) {
          const text = render(snapshot(board, running, sessionsNow()), Number(now) / 1e9, tty);
          process.stdout.write(tty ? `\x1b[H\x1b[2J${text}\n` : `${text}\n\n`);
        }
      }
      if (work === 0) await sleep(1);
      else if ((++iterations & 63) === 0) await yieldToEvents();
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await control?.close();
    for (const r of running) await r.card.close();
  }
  const final = snapshot(board, running, sessionsNow());
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  process.stdout.write(o.json ? `${JSON.stringify({ seconds, ...final }, null, 2)}\n` : `${render(final, seconds, false)}\nstopped\n`);
  if (final.violations.length) process.exitCode = 1;
}

/** Demo sessions with the board's port indices (worker cards: every card has every port). */
function boardDemoSessions(board: Board): SessionSpec[] {
  const all = { ...board, lineCards: [{ name: 'all', ports: board.ports.map((p) => p.name) }] };
  return demoSessions(all, 0, board.demo ?? []);
}

/** `boot` of a board with several line cards: one worker thread each, the same control plane. */
async function bootWorkerCards(board: Board, o: BootOptions, config: RouterConfig | undefined): Promise<void> {
  if (o.trace && Object.keys(o.trace).length) throw new BootOptionError(`--trace: board "${board.name}" runs its line cards in worker threads, where ports are not tapped yet; use a one-card board`);
  const say = (line: string): void => { process.stderr.write(`twinflow: ${line}\n`); };
  const { WorkerCards } = await import('./workers/worker-cards.ts');
  let failed: Error | undefined;
  const cards = await WorkerCards.start(board, { paused: true, onFailure: (e) => { failed = e; } });
  let control: RouterProcess | undefined;
  const demo = o.demo ? boardDemoSessions(board) : [];
  try {
    if (config) {
      const { RouterProcess } = await import('./router-process.ts');
      control = await RouterProcess.start({ board, cards, config, log: say });
      const l = control.listening;
      say(`router up on ${cards.cardCount} line cards: WCCP ${l.wccp}${l.management ? `, management ${l.management}` : ''}${l.metrics ? `, metrics ${l.metrics}` : ''}`);
    } else if (demo.length) {
      cards.publish(compileTables(demo, [], { portCount: cards.portNames.length }).bank.image);
    }
  } catch (e) {
    await cards.close();
    throw e;
  }
  cards.resume();
  const view = async () => {
    const s = await cards.snapshot();
    const sessions: Record<string, CounterSet> = control?.router.counters().sessions
      ?? Object.fromEntries(demo.map((d) => [d.name, cards.sessionCounters(d.slot)]));
    const endpoints = Object.fromEntries(Object.entries(s.endpoints).filter(([, v]) => typeof v === 'object' && v !== null)) as Record<string, Record<string, number>>;
    return { board: board.name, ports: s.ports, sessions, drivers: s.drivers as unknown as Record<string, CounterSet>, endpoints, global: s.global, violations: conservationViolations(s.ports, sessions) };
  };
  let stop = false;
  const onSignal = (): void => { stop = true; };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const tty = process.stdout.isTTY === true && !o.json;
  const t0 = process.hrtime.bigint();
  const deadline = o.duration !== undefined ? BigInt(o.duration) * 1_000_000_000n : -1n;
  let nextRender = RENDER_INTERVAL_NS;
  try {
    while (!stop && !failed) {
      const now = process.hrtime.bigint() - t0;
      if (deadline >= 0n && now >= deadline) break;
      control?.poll();
      if (now >= nextRender) {
        nextRender += RENDER_INTERVAL_NS;
        if (!o.json) {
          const text = render(await view(), Number(now) / 1e9, tty);
          process.stdout.write(tty ? `\x1b[H\x1b[2J${text}\n` : `${text}\n\n`);
        }
      }
      await sleep(10);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await control?.close();
    await cards.close();
  }
  if (failed) throw failed;
  const final = await view();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  process.stdout.write(o.json ? `${JSON.stringify({ seconds, cards: cards.cardCount, ...final }, null, 2)}\n` : `${render(final, seconds, false)}\nstopped\n`);
  if (final.violations.length) process.exitCode = 1;
}
