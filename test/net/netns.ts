// Network-namespace test kit: builds topologies from namespaces and veth pairs, runs and spawns
// commands inside them, captures with tcpdump, and deletes everything it made.
//
// Contract:
//  - Everything a lab creates is named uniquely per process and lab (interface names carry
//    process.pid in base 36 and stay within IFNAMSIZ − 1 = 15 bytes; namespace names carry
//    the pid in decimal), so concurrent test runs on one machine never collide.
//  - A lab deletes what it made, and only that: close() (use withLab() so it runs in a finally)
//    stops its processes and captures, deletes its root-namespace links and its namespaces and
//    removes its temporary directory. Labs still open when the process exits are closed
//    synchronously from an 'exit' hook, best effort.
//  - New namespaces start with loopback up and IPv6 disabled (no router solicitations, MLD or
//    DAD on test links); links created in the test's own namespace get IPv6 disabled before
//    they come up. Pass { ipv6: true } to keep it.
//  - Every wait is bounded: commands have a timeout (COMMAND_TIMEOUT_MS unless told), a capture
//    waits at most CAPTURE_START_MS to be listening, a stopped process gets STOP_GRACE_MS before
//    SIGKILL.
//  - Setup commands (ip, sysctl) run synchronously and throw with the command and its stderr;
//    run() and spawn() are asynchronous, so the test's event loop (a poll loop, a watcher)
//    keeps running while they do.
// Requires root (requireRoot() says so clearly), iproute2, tcpdump, procps (sysctl), ethtool.

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { decodePcapFile, type ReadRecord } from '../fixtures/capture.ts';

/** Bound on one command: `ip` and `sysctl` take milliseconds; a scapy start takes about a second. */
export const COMMAND_TIMEOUT_MS = 20_000;
/** tcpdump opens its socket in well under a second; this allows a loaded machine. */
export const CAPTURE_START_MS = 10_000;
/** A stopped process gets this long after SIGTERM (SIGINT for tcpdump) before SIGKILL. */
export const STOP_GRACE_MS = 3_000;
/** Output kept per background process (the tail), enough for any diagnostic. */
const OUTPUT_TAIL_BYTES = 64 << 10;
/** IFNAMSIZ − 1. */
export const IFNAME_MAX = 15;

const PID36 = process.pid.toString(36);
let labCount = 0;
const openLabs = new Set<NetLab>();
let exitHookInstalled = false;

/** Throws a clear error unless the process runs as root (these suites need it; CI has it). */
export function requireRoot(suite: string): void {
  if (process.getuid?.() !== 0) {
    throw new Error(`${suite} needs root (network namespaces, AF_PACKET and raw sockets): run the tests as root, as CI does`);
  }
}

export interface CommandResult {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  readonly timeoutMs?: number;
  readonly input?: string | Uint8Array;
  /** Resolve even when the command exits non-zero (default: reject with its stderr). */
  readonly allowFailure?: boolean;
  readonly env?: NodeJS.ProcessEnv;
}

function describeCommand(argv: readonly string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a))).join(' ');
}

/** Runs a short setup command synchronously; throws with its stderr on failure. */
export function runSync(argv: readonly string[], options: RunOptions = {}): CommandResult {
  const r = spawnSync(argv[0], argv.slice(1), {
    encoding: 'utf8',
    timeout: options.timeoutMs ?? COMMAND_TIMEOUT_MS,
    input: options.input,
    env: options.env,
    maxBuffer: 64 << 20,
  });
  if (r.error) throw new Error(`${describeCommand(argv)}: ${r.error.message}`);
  const result = { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
  if (!options.allowFailure && r.status !== 0) {
    throw new Error(`${describeCommand(argv)} failed (${r.signal ?? `exit ${r.status}`}): ${r.stderr.trim()}`);
  }
  return result;
}

/** Runs a command without blocking the event loop; rejects on timeout (the command is killed) or failure. */
export function runAsync(argv: readonly string[], options: RunOptions = {}): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['pipe', 'pipe', 'pipe'], env: options.env });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    const timeoutMs = options.timeoutMs ?? COMMAND_TIMEOUT_MS;
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(new Error(`${describeCommand(argv)}: ${e.message}`));
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      const result = { status, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') };
      if (timedOut) reject(new Error(`${describeCommand(argv)} timed out after ${timeoutMs} ms: ${result.stderr.trim()}`));
      else if (!options.allowFailure && status !== 0) reject(new Error(`${describeCommand(argv)} failed (${signal ?? `exit ${status}`}): ${result.stderr.trim()}\n${result.stdout.trim()}`));
      else resolve(result);
    });
    child.stdin.on('error', () => {});
    child.stdin.end(options.input ?? '');
  });
}

/** A process running in the background until stop() or the lab's close(). */
export class Background {
  private stdoutTail = '';
  private stderrTail = '';
  private readonly exit: Promise<{ status: number | null; signal: NodeJS.Signals | null }>;
  private done = false;

  constructor(readonly argv: readonly string[], private readonly child: ChildProcess, private readonly stopSignal: NodeJS.Signals = 'SIGTERM') {
    const keep = (tail: string, d: Buffer): string => (tail + d.toString('utf8')).slice(-OUTPUT_TAIL_BYTES);
    child.stdout?.on('data', (d: Buffer) => { this.stdoutTail = keep(this.stdoutTail, d); });
    child.stderr?.on('data', (d: Buffer) => { this.stderrTail = keep(this.stderrTail, d); });
    this.exit = new Promise((resolve) => {
      child.on('error', (e) => {
        this.stderrTail += `\n${e.message}`;
        this.done = true;
        resolve({ status: null, signal: null });
      });
      child.on('close', (status, signal) => {
        this.done = true;
        resolve({ status, signal });
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return !this.done;
  }

  get stdout(): string {
    return this.stdoutTail;
  }

  get stderr(): string {
    return this.stderrTail;
  }

  /** Waits until stdout or stderr matches; rejects on timeout or if the process exits first. */
  async waitFor(pattern: RegExp, timeoutMs = COMMAND_TIMEOUT_MS): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.stdoutTail) && !pattern.test(this.stderrTail)) {
      if (this.done) throw new Error(`${describeCommand(this.argv)} exited before printing ${pattern}: ${this.stderrTail.trim()}`);
      if (Date.now() > deadline) throw new Error(`${describeCommand(this.argv)} did not print ${pattern} within ${timeoutMs} ms: ${this.stderrTail.trim()}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Waits for the process to exit by itself (bounded). */
  async wait(timeoutMs = COMMAND_TIMEOUT_MS): Promise<{ status: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${describeCommand(this.argv)} still running after ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      return await Promise.race([this.exit, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops the process (its stop signal, then SIGKILL after STOP_GRACE_MS); resolves when it is gone. */
  async stop(): Promise<{ status: number | null; signal: NodeJS.Signals | null }> {
    if (!this.done) {
      this.child.kill(this.stopSignal);
      const timer = setTimeout(() => this.child.kill('SIGKILL'), STOP_GRACE_MS);
      try {
        return await this.exit;
      } finally {
        clearTimeout(timer);
      }
    }
    return this.exit;
  }

  /** For the exit hook: no waiting possible. */
  killNow(): void {
    if (!this.done) this.child.kill('SIGKILL');
  }
}

/** A tcpdump capture; stop() returns what it captured. */
export class Capture {
  constructor(readonly file: string, readonly process: Background) {}

  /** Stops tcpdump (SIGINT: it flushes and exits) and reads the pcap. */
  async stop(): Promise<ReadRecord[]> {
    await this.process.stop();
    const { records } = decodePcapFile(new Uint8Array(fs.readFileSync(this.file)));
    return records;
  }
}

export interface CaptureOptions {
  /** tcpdump -Q: in, out or inout (default in: what arrives at the interface). */
  readonly direction?: 'in' | 'out' | 'inout';
  /** A pcap filter expression, as separate words. */
  readonly filter?: readonly string[];
}

/** A network namespace made by a lab (or the test's own, `NetLab.here`). */
export class Netns {
  constructor(readonly lab: NetLab, readonly name: string | null) {}

  /** The path the addon's `netns` option takes (undefined: the test's own namespace). */
  get path(): string | undefined {
    return this.name === null ? undefined : `/run/netns/${this.name}`;
  }

  /** argv to run a command in this namespace. */
  argv(argv: readonly string[]): string[] {
    return this.name === null ? [...argv] : ['ip', 'netns', 'exec', this.name, ...argv];
  }

  /** `ip` in this namespace (ip -n NAME ...), synchronously. */
  ip(...args: string[]): CommandResult {
    return runSync(this.name === null ? ['ip', ...args] : ['ip', '-n', this.name, ...args]);
  }

  runSync(argv: readonly string[], options?: RunOptions): CommandResult {
    return runSync(this.argv(argv), options);
  }

  run(argv: readonly string[], options?: RunOptions): Promise<CommandResult> {
    return runAsync(this.argv(argv), options);
  }

  /** A background process in this namespace, stopped by the lab's close() if not before. */
  spawn(argv: readonly string[], options: { stopSignal?: NodeJS.Signals; env?: NodeJS.ProcessEnv } = {}): Background {
    const full = this.argv(argv);
    const child = spawn(full[0], full.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], env: options.env });
    const bg = new Background(full, child, options.stopSignal);
    this.lab.track(bg);
    return bg;
  }

  /** sysctl -w key=value in this namespace. In the test's own namespace only per-link keys of the lab's links are allowed. */
  sysctl(key: string, value: string | number): void {
    if (this.name === null && !this.lab.ownsSysctl(key)) throw new Error(`refusing to change ${key} in the test's own namespace: only the lab's links are ours`);
    this.runSync(['sysctl', '-q', '-w', `${key}=${value}`]);
  }

  /** ip route add DEST via GW | dev DEV. */
  route(destination: string, via: { gateway?: string; dev?: string }): void {
    this.ip('route', 'add', destination, ...(via.gateway ? ['via', via.gateway] : []), ...(via.dev ? ['dev', via.dev] : []));
  }

  link(name: string): Link {
    return new Link(this, name);
  }

  /** Starts tcpdump on `iface`, resolving once it is listening. */
  async capture(iface: string, options: CaptureOptions = {}): Promise<Capture> {
    const file = path.join(this.lab.tempDir(), `${iface}-${this.lab.nextId()}.pcap`);
    const bg = this.spawn(['tcpdump', '-i', iface, '-w', file, '-U', '-n', '-s', '0', '-Z', 'root', '--immediate-mode', '-Q', options.direction ?? 'in', ...(options.filter ?? [])], { stopSignal: 'SIGINT' });
    await bg.waitFor(/listening on/, CAPTURE_START_MS);
    return new Capture(file, bg);
  }
}

/** An interface in a namespace. */
export class Link {
  constructor(readonly ns: Netns, readonly name: string) {}

  setMac(mac: string): this {
    this.ns.ip('link', 'set', 'dev', this.name, 'address', mac);
    return this;
  }

  addAddress(cidr: string): this {
    this.ns.ip('address', 'add', cidr, 'dev', this.name);
    return this;
  }

  mtu(bytes: number): this {
    this.ns.ip('link', 'set', 'dev', this.name, 'mtu', String(bytes));
    return this;
  }

  up(): this {
    this.ns.ip('link', 'set', 'dev', this.name, 'up');
    return this;
  }

  down(): this {
    this.ns.ip('link', 'set', 'dev', this.name, 'down');
    return this;
  }

  /**
   * Turns the checksum and segmentation offloads off (ethtool -K). A veth end that sends to an
   * AF_PACKET port must: with them on, the kernel hands the other end TCP/UDP packets whose
   * checksum is not yet computed and 64 KiB super-packets, which a wire never carries.
   */
  noOffloads(): this {
    const r = this.ns.runSync(['ethtool', '-K', this.name, 'tx', 'off', 'rx', 'off', 'tso', 'off', 'gso', 'off', 'gro', 'off'], { allowFailure: true });
    const k = this.ns.runSync(['ethtool', '-k', this.name]).stdout;
    if (!/^tx-checksumming: off/m.test(k) || !/^generic-segmentation-offload: off/m.test(k)) {
      throw new Error(`ethtool could not turn offloads off on ${this.name}: ${r.stderr.trim()}`);
    }
    return this;
  }

  /** net.ipv4/ipv6.conf.<name>.<key> in the link's namespace. */
  sysctl(family: 'ipv4' | 'ipv6', key: string, value: string | number): this {
    this.ns.sysctl(`net.${family}.conf.${this.name}.${key}`, value);
    return this;
  }
}

export interface VethEnd {
  /** The namespace this end lives in (default: the test's own). */
  readonly ns?: Netns;
  /** A short tag that becomes part of the unique name. */
  readonly tag: string;
}

/** One test's network: namespaces, links, processes, files. */
export class NetLab {
  /** The test's own namespace (processes and links made here are tracked like any other). */
  readonly here: Netns;
  private readonly seq: string;
  private counter = 0;
  private readonly namespaces: Netns[] = [];
  /** One end of each pair that touches the test's own namespace (deleting it deletes the pair). */
  private readonly rootLinks: string[] = [];
  /** Every link the lab made in the test's own namespace. */
  private readonly rootNames: string[] = [];
  private readonly processes: Background[] = [];
  private dir: string | null = null;
  private closed = false;

  constructor(readonly tag = 'lab') {
    this.seq = (++labCount).toString(36);
    this.here = new Netns(this, null);
    openLabs.add(this);
    if (!exitHookInstalled) {
      exitHookInstalled = true;
      process.on('exit', () => {
        for (const lab of openLabs) lab.closeSync();
      });
    }
  }

  nextId(): string {
    return (++this.counter).toString(36);
  }

  /** A unique interface name ending in `tag` (at most 15 bytes; throws if the tag is too long). */
  ifname(tag: string): string {
    const name = `tf${PID36}${this.seq}${this.nextId()}${tag}`;
    if (name.length > IFNAME_MAX) throw new Error(`interface name ${name} exceeds ${IFNAME_MAX} bytes: use a shorter tag than "${tag}"`);
    if (!/^[a-z0-9]+$/.test(name)) throw new Error(`interface tag "${tag}" must be lower-case letters and digits`);
    return name;
  }

  /** A temporary directory, removed by close(). */
  tempDir(): string {
    this.dir ??= fs.mkdtempSync(path.join(os.tmpdir(), `twinflow-${this.tag}-`));
    return this.dir;
  }

  /** A new namespace with loopback up and (unless ipv6) IPv6 disabled. */
  netns(tag: string, options: { ipv6?: boolean } = {}): Netns {
    this.assertOpen();
    const name = `tf-${process.pid}-${this.seq}-${tag}`;
    runSync(['ip', 'netns', 'add', name]);
    const ns = new Netns(this, name);
    this.namespaces.push(ns);
    if (!options.ipv6) {
      ns.sysctl('net.ipv6.conf.all.disable_ipv6', 1);
      ns.sysctl('net.ipv6.conf.default.disable_ipv6', 1);
    }
    ns.ip('link', 'set', 'dev', 'lo', 'up');
    return ns;
  }

  /** A veth pair between two namespaces (either may be the test's own); both ends come up unless told. */
  veth(a: VethEnd, b: VethEnd, options: { up?: boolean; ipv6?: boolean } = {}): [Link, Link] {
    this.assertOpen();
    const nameA = this.ifname(a.tag);
    const nameB = this.ifname(b.tag);
    const nsA = a.ns ?? this.here;
    const nsB = b.ns ?? this.here;
    const where = (ns: Netns): string[] => (ns.name === null ? [] : ['netns', ns.name]);
    runSync(['ip', 'link', 'add', 'name', nameA, ...where(nsA), 'type', 'veth', 'peer', 'name', nameB, ...where(nsB)]);
    // Deleting one end deletes the pair; a root-namespace end is deleted explicitly at close.
    if (nsA.name === null) this.rootLinks.push(nameA);
    else if (nsB.name === null) this.rootLinks.push(nameB);
    const links: [Link, Link] = [nsA.link(nameA), nsB.link(nameB)];
    for (const l of links) if (l.ns.name === null) this.rootNames.push(l.name);
    for (const l of links) {
      if (l.ns.name === null && !options.ipv6) l.sysctl('ipv6', 'disable_ipv6', 1);
      if (options.up ?? true) l.up();
    }
    return links;
  }

  /** Whether a sysctl key in the test's own namespace belongs to one of this lab's links. */
  ownsSysctl(key: string): boolean {
    const m = /^net\.ipv[46]\.conf\.([^.]+)\./.exec(key);
    return m !== null && this.rootNames.includes(m[1]);
  }

  track(bg: Background): void {
    this.processes.push(bg);
  }

  /** Stops processes and captures, deletes links and namespaces, removes files. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    openLabs.delete(this);
    await Promise.all(this.processes.map((p) => p.stop()));
    this.teardown();
  }

  /** The exit-hook version: kills at once, then deletes. */
  closeSync(): void {
    if (this.closed) return;
    this.closed = true;
    openLabs.delete(this);
    for (const p of this.processes) p.killNow();
    this.teardown();
  }

  private teardown(): void {
    const problems: string[] = [];
    for (const name of this.rootLinks) {
      const r = runSync(['ip', 'link', 'del', 'dev', name], { allowFailure: true });
      if (r.status !== 0 && !/Cannot find device|does not exist/.test(r.stderr)) problems.push(r.stderr.trim());
    }
    for (const ns of this.namespaces) {
      const r = runSync(['ip', 'netns', 'del', ns.name!], { allowFailure: true });
      if (r.status !== 0) problems.push(r.stderr.trim());
    }
    if (this.dir) fs.rmSync(this.dir, { recursive: true, force: true });
    if (problems.length) process.stderr.write(`netns lab ${this.tag}: cleanup problems: ${problems.join('; ')}\n`);
  }

  private assertOpen(): void {
    if (this.closed) throw new Error(`lab ${this.tag} is closed`);
  }
}

/** Runs fn with a fresh lab and always closes it. */
export async function withLab<T>(tag: string, fn: (lab: NetLab) => Promise<T>): Promise<T> {
  const lab = new NetLab(tag);
  try {
    return await fn(lab);
  } finally {
    await lab.close();
  }
}
