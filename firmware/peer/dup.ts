// `twinflow peer --mode dup`: the peer router B of the dup job (seed Fig. 3–4). It registers with
// router A for the flow (WCCPv2 plus the replication request, mode dup, sequenced GRE), takes the
// replicas A sends it (member 2: GRE with the session's stream id as key and a sequence number)
// from a raw GRE socket (receiver.ts), and hands each one on over its own path:
//
//   --far-end ADDR (tagged dup)  relays member 2 to the far-end eliminator, key and sequence kept;
//                                the far end also travels in the registration (sub-field 0x8003),
//                                so A carries the originals to it too (member 1)
//   no far end (untagged dup)    decapsulates and forwards the inner packet as a router does
//                                (TTL − 1); this machine's kernel routes it to its destination
//
// Both go out through a raw IPv4 socket with the header included (the addon's IPv4 sender): the
// kernel routes each packet by its destination and never fragments it (a packet larger than the
// route's MTU is refused and counted). A header-included packet with IP ID 0 gets an ID from the
// kernel; that is the only byte of a forwarded packet the kernel may change besides the checksum.
// Untagged forwarding is IPv4 only (an IPv6 inner packet is counted not_ipv4); the relay carries
// both.
//
// Contract: bad options are one line and exit status 2 (PeerOptionError); every received replica
// is handed on or counted under one named reason (DUP_PEER_COUNTERS); sends are bounded bursts;
// the peer stops cleanly on SIGINT/SIGTERM, after --duration seconds or --count packets.

import { farEndUsable, type ReplicationRequest } from '../shell/wccp/extension.ts';
import { formatIpv4, parseIpv4 } from '../../hal/net/address.ts';
import { addon, BURST_MAX } from '../../hal/drivers/linux/native.ts';
import { newSendCounters, sendAll } from '../../hal/drivers/linux/burst.ts';
import { ReplicaReceiver, type ReceivedReplica, RECEIVER_COUNTERS } from './receiver.ts';
import { forwardPacket, relayPacket, type DupWireRefusal } from './dup-wire.ts';
import { checkOptions, type PeerOptions } from './command.ts';
import { PeerOptionError } from './errors.ts';
import { addressTowards, peerDevice, registrationAddress, serviceById } from './registration.ts';
import { CommandRun } from './command-run.ts';

export const DUP_PEER_COUNTERS = {
  relayed: 'member-2 packets relayed to the far end, key and sequence kept (tagged dup)',
  forwarded: 'inner packets forwarded into this machine\'s IP stack (untagged dup)',
  not_sequenced: 'replicas without a GRE key and sequence number: nothing to relay (tagged dup)',
  not_ip: 'replicas whose inner packet is neither IPv4 nor IPv6',
  not_ipv4: 'inner packets that are not a whole IPv4 packet (untagged forwarding is IPv4 only)',
  ttl_expired: 'inner packets whose TTL would reach 0: not forwarded (untagged dup)',
  too_large: 'packets larger than an IPv4 packet or a send slot once encapsulated',
  tx_blocked: 'packets the kernel could not take now (its socket buffer was full)',
  tx_refused: 'packets the kernel refused (larger than the route\'s MTU, no route, …)',
} as const;
export type DupPeerCounter = keyof typeof DUP_PEER_COUNTERS;

/** Bytes of one send slot: the largest IPv4 packet the receiver hands on, with the relay's header. */
const SLOT_BYTES = 16384;
/** Any port: connecting a UDP socket only asks the kernel which source it would use. */
const DISCARD_PORT = 9;

export async function dupPeerCommand(o: PeerOptions): Promise<void> {
  checkOptions(o);
  let farEnd: number | undefined;
  if (o.farEnd !== undefined) {
    const v = parseIpv4(o.farEnd);
    if (v === null || !farEndUsable(v)) throw new PeerOptionError(`--far-end: "${o.farEnd}" is not a unicast IPv4 address`);
    farEnd = v;
  }
  const address = await registrationAddress(o, 'give the device another one');
  const relaySource = o.farEnd !== undefined ? await sourceTowards(o.farEnd) : 0;
  const request: ReplicationRequest = {
    mode: 'dup', encapsulation: 'gre-seq', filter: o.match, snaplen: o.snaplen, sample: o.sample,
    ratePps: o.ratePps, rateBps: o.rateBps, lifetime: o.lifetime,
    ...(o.label !== undefined ? { label: o.label } : {}),
    ...(farEnd !== undefined ? { farEnd } : {}),
  };
  const say = (line: string): void => { process.stderr.write(`twinflow peer: ${line}\n`); };

  const native = addon();
  const c = Object.fromEntries(Object.keys(DUP_PEER_COUNTERS).map((k) => [k, 0])) as Record<DupPeerCounter, number>;
  const tx = newSendCounters();
  const mem = new Uint8Array(SLOT_BYTES * BURST_MAX);
  const addrs = Uint32Array.from({ length: BURST_MAX }, (_, i) => i * SLOT_BYTES);
  const lens = new Uint32Array(BURST_MAX);
  let queued = 0;
  let flushScheduled = false;
  let sender = -1;
  const handedOn = (): number => c.relayed + c.forwarded;

  const flush = (): void => {
    flushScheduled = false;
    if (queued === 0 || sender < 0) return;
    const blocked0 = tx.blocked;
    const refused0 = tx.refused;
    const sent = sendAll((a, l, n) => native.sendIpv4Burst(sender, mem, a, l, n), addrs, lens, queued, tx);
    c[farEnd !== undefined ? 'relayed' : 'forwarded'] += sent;
    c.tx_blocked += tx.blocked - blocked0;
    c.tx_refused += tx.refused - refused0;
    queued = 0;
    if (o.count !== undefined && handedOn() >= o.count) run.stop();
  };
  const onReplica = (r: ReceivedReplica): void => {
    let n: number | DupWireRefusal;
    const slot = mem.subarray(0, addrs[queued] + SLOT_BYTES);
    if (farEnd !== undefined) {
      if (r.key === undefined || r.sequence === undefined) {
        c.not_sequenced++;
        return;
      }
      n = relayPacket(slot, addrs[queued], { source: relaySource, farEnd, key: r.key, sequence: r.sequence }, r.inner);
    } else {
      n = forwardPacket(slot, addrs[queued], r.inner);
    }
    if (typeof n === 'string') {
      c[n]++;
      return;
    }
    lens[queued++] = n;
    // The receiver hands a whole burst over synchronously: send it as one burst afterwards.
    if (queued === BURST_MAX) flush();
    else if (!flushScheduled) {
      flushScheduled = true;
      queueMicrotask(flush);
    }
  };

  const receiver = new ReplicaReceiver({ address, routers: o.router, onReplica });
  const device = peerDevice(o, { address, service: serviceById(o.service), request, say });

  const form = farEnd !== undefined ? `tagged: relaying member 2 to the far end ${o.farEnd} from ${formatIpv4(relaySource)}` : 'untagged: forwarding the inner packets into this machine\'s IP stack';
  const run = new CommandRun();
  try {
    sender = native.openIpv4Sender();
    receiver.start();
    await device.start();
    say(`registered as ${address} with ${o.router.join(', ')} (service ${o.service}, dup "${o.match}"); ${form}`);
    run.stopAfter(o.duration);
    run.showStatus(() => status(receiver.counters(), c));
    await run.stopped;
  } finally {
    run.close();
    await device.stop();
    receiver.drain();
    flush();
    receiver.close();
    if (sender >= 0) native.close(sender);
  }
  const final = {
    address, form: farEnd !== undefined ? 'tagged' : 'untagged', ...(o.farEnd !== undefined ? { farEnd: o.farEnd } : {}),
    routers: device.states(), receiver: receiver.counters(), dup: c, ...(tx.lastError ? { lastTxError: tx.lastError } : {}), wccp: device.counters(),
  };
  if (o.json) process.stdout.write(`${JSON.stringify(final, null, 2)}\n`);
  else say(`stopped: ${status(receiver.counters(), c)}`);
}

/** This machine's address towards the far end: the relayed packets' source (the route must exist). */
async function sourceTowards(farEnd: string): Promise<number> {
  try {
    return parseIpv4(await addressTowards(farEnd, DISCARD_PORT))!;
  } catch (e) {
    throw new PeerOptionError(`--far-end: this machine has no route to ${farEnd} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

function status(r: Record<keyof typeof RECEIVER_COUNTERS, number>, c: Record<DupPeerCounter, number>): string {
  const refused = c.not_sequenced + c.not_ip + c.not_ipv4 + c.ttl_expired + c.too_large + c.tx_blocked + c.tx_refused;
  return `received ${r.received}  lost ${r.lost}  relayed ${c.relayed}  forwarded ${c.forwarded}  not handed on ${refused}  malformed ${r.malformed}`;
}
