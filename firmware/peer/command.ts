// `twinflow peer`: the seed's remote device as a command. It registers with one or more routers
// over WCCPv2 (registration.ts, firmware/shell/wccp/device.ts) asking for the packets a filter
// names, keeps the registration alive, receives the GRE or ERSPAN replicas (receiver.ts) and writes
// them as pcapng (capture.ts) to a file or to stdout, with live counters on stderr.
//
// Contract: bad options are one clear line and exit status 2 (PeerOptionError); the device stops
// cleanly on SIGINT/SIGTERM, after --duration seconds or --count replicas, and the capture is
// always closed and complete.

import type { ReplicationRequest } from '../shell/wccp/extension.ts';
import { compileFilter, FilterError } from '../shell/filter/index.ts';
import { parseIpv4 } from '../../hal/net/address.ts';
import { ReplicaReceiver, RECEIVER_COUNTERS } from './receiver.ts';
import { PeerCapture } from './capture.ts';
import type { ReplicaEncap } from '../../hal/drivers/sim/decap.ts';
import { PeerOptionError } from './errors.ts';
import { peerDevice, registrationAddress, serviceById } from './registration.ts';
import { CommandRun } from './command-run.ts';

export type PeerMode = 'sniff' | 'dup' | 'race' | 'redirect';

export interface PeerOptions {
  readonly router: readonly string[];
  readonly match: string;
  /** Where replicas go (pcapng file, or - for stdout); sniff only: race members get the client's frames themselves, dup hands the replicas on. */
  readonly out?: string;
  readonly address?: string;
  readonly service: number;
  readonly password?: string;
  readonly mode: PeerMode;
  readonly encap: ReplicaEncap;
  readonly snaplen: number;
  readonly sample: number;
  readonly ratePps: number;
  readonly rateBps: number;
  readonly lifetime: number;
  readonly label?: string;
  readonly duration?: number;
  readonly count?: number;
  readonly json?: boolean;
  /** UDP port of the routers (2048; tests on one machine may not have it). */
  readonly routerPort?: number;
  /** The device's own WCCP port (2048 by default). */
  readonly port?: number;
  /** dup: the far-end eliminator to relay member 2 to (tagged dup; dup.ts). */
  readonly farEnd?: string;
  /** redirect (redirect.ts): serve the files under this directory (default: a fixed answer). */
  readonly serve?: string;
  /** redirect: diverted packets this filter matches are returned to the router (GRE return). */
  readonly bypass?: string;
  /** redirect, dynamic service: its TCP ports, comma-separated ("80,8080"). */
  readonly ports?: string;
  /** redirect: the TUN device's name (default: the kernel picks tunN). */
  readonly tun?: string;
  /** redirect: the routing table of the transparent path's `local` route (transparent.ts). */
  readonly table?: number;
}

/** Options only the transparent cache takes (--mode redirect). */
const REDIRECT_ONLY: ReadonlyArray<readonly [keyof PeerOptions, string]> = [
  ['serve', '--serve'], ['bypass', '--bypass'], ['ports', '--ports'], ['tun', '--tun'], ['table', '--table'],
];

export { PeerOptionError };

const WIRE_ENCAP: Record<ReplicaEncap, ReplicationRequest['encapsulation']> = { gre: 'gre-wccp', erspan2: 'erspan2', erspan3: 'erspan3', 'gre-seq': 'gre-seq' };
/** Longest a filter in a registration may be (docs/protocol.md). */
const MAX_FILTER_BYTES = 1024;

export function checkOptions(o: PeerOptions): void {
  if (o.router.length === 0) throw new PeerOptionError('--router: give at least one router address');
  for (const r of o.router) if (parseIpv4(r) === null) throw new PeerOptionError(`--router: "${r}" is not an IPv4 address`);
  if (new Set(o.router).size !== o.router.length) throw new PeerOptionError('--router: the same router twice');
  if (o.address !== undefined && parseIpv4(o.address) === null) throw new PeerOptionError(`--address: "${o.address}" is not an IPv4 address`);
  if (new TextEncoder().encode(o.match).length > MAX_FILTER_BYTES) throw new PeerOptionError(`--match: at most ${MAX_FILTER_BYTES} bytes travel in a registration`);
  try {
    compileFilter(o.match);
  } catch (e) {
    if (e instanceof FilterError) throw new PeerOptionError(`--match: ${e.message.replace(/^filter: /, '')}`);
    throw e;
  }
  if (o.mode === 'redirect' && (o.encap !== 'gre' || o.snaplen !== 0)) throw new PeerOptionError('--mode redirect: the router diverts whole packets with GRE (no --encap, no --snaplen)');
  if (o.mode === 'dup' && o.encap !== 'gre-seq') throw new PeerOptionError('--mode dup: use --encap gre-seq (the far end needs the sequence numbers)');
  if (o.mode === 'race' && o.out !== undefined) throw new PeerOptionError('--mode race: no --out: a race member receives the clients\' packets themselves (docs/race.md), there are no replicas to write');
  if (o.mode === 'dup' && o.out !== undefined) throw new PeerOptionError('--mode dup: no --out: the peer router hands the replicas on (docs/jobs.md#dup), it does not record them');
  if (o.mode === 'sniff' && o.out === undefined) throw new PeerOptionError('--out: give the pcapng file to write (or - for stdout)');
}

export async function peerCommand(o: PeerOptions): Promise<void> {
  // redirect is a transparent cache: it serves what the router diverts (firmware/peer/redirect.ts).
  if (o.mode === 'redirect') return (await import('./redirect.ts')).redirectCacheCommand(o);
  for (const [key, flag] of REDIRECT_ONLY) if (o[key] !== undefined) throw new PeerOptionError(`${flag}: only with --mode redirect`);
  // dup hands replicas on (to the far end, or into this machine's IP stack): firmware/peer/dup.ts.
  if (o.mode === 'dup') return (await import('./dup.ts')).dupPeerCommand(o);
  if (o.farEnd !== undefined) throw new PeerOptionError('--far-end: only with --mode dup');
  checkOptions(o);
  const address = await registrationAddress(o, 'give the device another one (on loopback, --address 127.0.0.2)');
  const request: ReplicationRequest = {
    mode: o.mode, encapsulation: WIRE_ENCAP[o.encap], filter: o.match, snaplen: o.snaplen, sample: o.sample,
    ratePps: o.ratePps, rateBps: o.rateBps, lifetime: o.lifetime, ...(o.label !== undefined ? { label: o.label } : {}),
  };
  const toStdout = o.out === '-';
  const say = (line: string): void => { process.stderr.write(`twinflow peer: ${line}\n`); };

  // A race member only registers and keeps alive: the router sends it the clients' frames (L2).
  const capture = o.out === undefined ? undefined : new PeerCapture(toStdout ? process.stdout : o.out, o.router, o.encap);
  const receiver = new ReplicaReceiver({
    address,
    routers: o.router,
    onReplica: (r) => {
      if (!capture) return;
      capture.write(r);
      if (o.count !== undefined && capture.written >= o.count) run.stop();
    },
  });
  const device = peerDevice(o, { address, service: serviceById(o.service), request, say });

  const run = new CommandRun();
  try {
    if (capture) receiver.start();
    await device.start();
    say(`registered as ${address} with ${o.router.join(', ')} (service ${o.service}, ${o.mode} "${o.match}"${capture ? `, ${o.encap}); writing ${toStdout ? 'pcapng to stdout' : o.out}` : ')'}`);
    run.stopAfter(o.duration);
    run.showStatus(() => status(receiver.counters()));
    await run.stopped;
  } finally {
    run.close();
    await device.stop();
    if (capture) {
      receiver.drain();
      receiver.close();
      await capture.close();
    }
  }
  const c = receiver.counters();
  const written = capture?.written ?? 0;
  const final = { address, routers: device.states(), written, receiver: c, wccp: device.counters() };
  if (o.json && !toStdout) process.stdout.write(`${JSON.stringify(final, null, 2)}\n`);
  else say(`stopped: ${written} written; ${status(c)}`);
}

function status(c: Record<keyof typeof RECEIVER_COUNTERS, number>): string {
  return `received ${c.received}  lost ${c.lost}  reordered ${c.reordered}  truncated ${c.truncated}  malformed ${c.malformed}  not_from_router ${c.not_from_router}`;
}
