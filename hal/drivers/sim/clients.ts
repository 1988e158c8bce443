// A group of simulated client hosts: opens TCP-like and UDP flows to a server group at a steady
// rate, in simulated time, with real sequence and acknowledgement numbers so a capture of the
// wire reads in Wireshark as ordinary conversations.
//
// A TCP flow:  SYN → (SYN-ACK) → ACK, data 1 → (ACK + response 1) → data 2 → … → FIN → (FIN-ACK) → ACK
// A UDP flow:  request 1 → (response 1) → request 2 → … (segmentsPerFlow requests)
// Each request waits for its answer before the next goes out (see protocol.ts). An answer that
// does not come within the retransmission timeout (200 ms by default) is asked for again, at most
// MAX_RETRANSMITS times, then the flow is abandoned. Flow k of the group starts at
// origin + k / flowsPerSecond, origin being the first poll's time; a start that finds
// maxActiveFlows flows open is skipped (and counted), so the rate is an upper bound. A RST from
// the server aborts its flow (counted as abandoned).
//
// Contract. Config is untrusted and checked at construction (SimConfigError). Behaviour is a pure
// function of the seed and the sequence of poll/deliver calls (time is only what `now` says).
// Frames delivered are untrusted: each is parsed with every length checked and lands in exactly
// one counter (an answer, `duplicates`, `unexpected` or `badChecksum`). Bounded: at most
// maxActiveFlows flows and `burst` frames per poll; the ready list and the timer queue hold at
// most a few entries per open flow.

import type { SimEndpoint } from './endpoint.ts';
import { ConfigCheck } from './config.ts';
import { Fifo } from './fifo.ts';
import { HostBlock, MAX_HOSTS } from './hosts.ts';
import { Eth, IpProto, TcpFlag, buildFrame, parseSegment, type SegmentView, type TcpSpec, type UdpSpec } from './packets.ts';
import { MAX_PAYLOAD_BYTES, MIN_PAYLOAD_BYTES, MSS_IPV4, MSS_IPV6, REQUEST_ID_BYTES, WINDOW, patternPayload } from './protocol.ts';
import { be32, put32 } from '../../net/bytes.ts';
import { XorShift32 } from '../../prng.ts';

/** Configuration of a ClientGroup. */
export interface ClientGroupConfig {
  readonly name: string;
  /** IPv4 address of host 0; host i has firstAddress + i. */
  readonly firstAddress: string;
  /** Hosts in the group, 1..65536. */
  readonly count: number;
  /** MAC of host 0 ("aa:bb:cc:dd:ee:ff", unicast); host i has mac + i. */
  readonly mac: string;
  /** A share (0..1) of flows goes over IPv6 from firstAddress + i (the servers need ipv6 too). */
  readonly ipv6?: { readonly firstAddress: string; readonly share: number };
  /** Tags every frame with this 802.1Q VLAN id (1..4094); only frames so tagged are accepted. */
  readonly vlan?: number;
  /** The server group the clients talk to (as that group is configured). */
  readonly servers: {
    readonly firstAddress: string;
    readonly count: number;
    readonly mac: string;
    /** Destination ports; each flow picks one at random. */
    readonly ports: readonly number[];
    /** The servers' first IPv6 address (required when the clients have ipv6). */
    readonly ipv6?: { readonly firstAddress: string };
  };
  /** Flow starts per second of simulated time (0 = none; may be fractional). */
  readonly flowsPerSecond: number;
  /** Share of flows that are TCP (0..1); the rest are UDP. */
  readonly tcpShare: number;
  /** [min, max] data segments (TCP) or requests (UDP) per flow, ≥ 1. */
  readonly segmentsPerFlow: readonly [number, number];
  /** [min, max] payload bytes per segment or request, 4..1440. */
  readonly payloadBytes: readonly [number, number];
  /** Most flows open at once; a start beyond it is skipped. */
  readonly maxActiveFlows: number;
  readonly seed: number;
  /** Stop starting flows after this many (default: never stop). */
  readonly maxFlows?: number;
  /** Retransmission timeout in ms of simulated time (default 200). */
  readonly retransmitTimeoutMs?: number;
  /** Most frames emitted per poll (default 64); the rest wait for the next poll. */
  readonly burst?: number;
}

/** Retransmissions of one request before its flow is abandoned. */
export const MAX_RETRANSMITS = 3;
/** Default retransmission timeout. */
export const DEFAULT_RETRANSMIT_TIMEOUT_MS = 200;
/** Default frames per poll: a quarter of the sim board's 256-slot rx ring. */
export const DEFAULT_BURST = 64;
/** Ephemeral source ports (RFC 6335 §6: the Dynamic Ports range). */
export const EPHEMERAL_FIRST = 49152;
/** Last ephemeral source port. */
export const EPHEMERAL_LAST = 65535;

/** Most flows open at once in one group (each keeps a small record). */
const MAX_ACTIVE_FLOWS = 1 << 20;
/** Most segments per flow: bounds a flow's lifetime. */
const MAX_SEGMENTS_PER_FLOW = 1_000_000;
const MAX_FLOWS_PER_SECOND = 10_000_000;
const MAX_TIMEOUT_MS = 60_000;
const MAX_BURST = 4096;
const EPHEMERAL_PORTS = EPHEMERAL_LAST - EPHEMERAL_FIRST + 1;
const PORT_SPACE = 65536;
const NS_PER_MS = 1_000_000n;
/** flowsPerSecond is kept in millionths so flow start times are exact integer arithmetic. */
const RATE_SCALE = 1_000_000;
const NS_PER_S_SCALED = 1_000_000_000n * BigInt(RATE_SCALE);
const U16_RANGE = 65536;

type Stage = 'syn' | 'data' | 'fin' | 'lastAck';

interface Flow {
  readonly key: number;
  readonly id: number;
  readonly host: number;
  readonly server: number;
  readonly v6: boolean;
  readonly tcp: boolean;
  readonly srcPort: number;
  readonly dstPort: number;
  readonly segments: number;
  readonly rng: XorShift32;
  stage: Stage;
  /** Index of the current data segment or request. */
  segment: number;
  /** Payload bytes of the current data segment or request. */
  length: number;
  readonly isn: number;
  sndNxt: number;
  rcvNxt: number;
  /** TCP: the handshake's ACK goes out just before data segment 0. */
  handshakeAck: boolean;
  /** UDP: request id of request 0 (request k has token + k). */
  readonly token: number;
  ipId: number;
  /** The current stage's request went out at least once. */
  sent: boolean;
  retries: number;
  retransmit: boolean;
  /** Generation of the live timer; queue entries of older generations are stale. */
  timer: number;
  queued: boolean;
  done: boolean;
}

interface TimerEntry {
  readonly flow: Flow;
  readonly deadline: bigint;
  readonly timer: number;
}

/** Simulated client hosts; see the module comment. */
export class ClientGroup implements SimEndpoint {
  readonly name: string;
  private readonly hosts: HostBlock;
  private readonly servers: HostBlock;
  private readonly ports: readonly number[];
  private readonly vlan: number | undefined;
  private readonly ipv6Share: number;
  private readonly tcpShare: number;
  private readonly segmentsPerFlow: readonly [number, number];
  private readonly payloadBytes: readonly [number, number];
  private readonly maxActiveFlows: number;
  private readonly maxFlows: number;
  private readonly rateScaled: bigint;
  private readonly rtoNs: bigint;
  private readonly burst: number;
  private readonly rng: XorShift32;

  private readonly flows = new Map<number, Flow>();
  private readonly ready = new Fifo<Flow>();
  private readonly timers = new Fifo<TimerEntry>();
  private readonly portCursor: Uint16Array;
  private origin: bigint | null = null;
  /** Flow starts due so far (started + skipped). */
  private scheduled = 0n;
  private nextId = 0;

  private readonly c = {
    flowsStarted: 0,
    flowsCompleted: 0,
    flowsAbandoned: 0,
    flowsSkipped: 0,
    packetsSent: 0,
    bytesSent: 0,
    packetsReceived: 0,
    bytesReceived: 0,
    retransmits: 0,
    duplicates: 0,
    unexpected: 0,
    badChecksum: 0,
  };

  /** Throws SimConfigError naming the field when the config is invalid. */
  constructor(config: ClientGroupConfig) {
    const k = new ConfigCheck(config?.name);
    this.name = k.endpoint;
    const count = k.int('count', config.count, 1, MAX_HOSTS);
    const first = k.ipv4Block('firstAddress', config.firstAddress, count);
    const mac = k.macBlock('mac', config.mac, count);
    let first6: Uint8Array | null = null;
    this.ipv6Share = 0;
    if (config.ipv6 !== undefined) {
      const v6 = k.object('ipv6', config.ipv6);
      first6 = k.ipv6Block('ipv6.firstAddress', v6.firstAddress, count);
      this.ipv6Share = k.share('ipv6.share', v6.share);
    }
    this.hosts = new HostBlock(count, first, mac, first6);
    this.vlan = k.vlan('vlan', config.vlan);

    const s = k.object('servers', config.servers);
    const sCount = k.int('servers.count', s.count, 1, MAX_HOSTS);
    const sFirst = k.ipv4Block('servers.firstAddress', s.firstAddress, sCount);
    const sMac = k.macBlock('servers.mac', s.mac, sCount);
    let sFirst6: Uint8Array | null = null;
    if (s.ipv6 !== undefined) sFirst6 = k.ipv6Block('servers.ipv6.firstAddress', k.object('servers.ipv6', s.ipv6).firstAddress, sCount);
    if (first6 !== null && sFirst6 === null) k.fail('servers.ipv6', 'is required when the clients have ipv6');
    this.servers = new HostBlock(sCount, sFirst, sMac, sFirst6);
    this.ports = k.ports('servers.ports', s.ports);

    const rate = k.number('flowsPerSecond', config.flowsPerSecond, 0, MAX_FLOWS_PER_SECOND);
    this.rateScaled = BigInt(Math.round(rate * RATE_SCALE));
    this.tcpShare = k.share('tcpShare', config.tcpShare);
    this.segmentsPerFlow = k.range('segmentsPerFlow', config.segmentsPerFlow, 1, MAX_SEGMENTS_PER_FLOW);
    this.payloadBytes = k.range('payloadBytes', config.payloadBytes, MIN_PAYLOAD_BYTES, MAX_PAYLOAD_BYTES);
    this.maxActiveFlows = k.int('maxActiveFlows', config.maxActiveFlows, 1, MAX_ACTIVE_FLOWS);
    this.rng = new XorShift32(k.seed('seed', config.seed));
    this.maxFlows = config.maxFlows === undefined ? Infinity : k.int('maxFlows', config.maxFlows, 0, Number.MAX_SAFE_INTEGER);
    this.rtoNs = BigInt(k.optionalInt('retransmitTimeoutMs', config.retransmitTimeoutMs, 1, MAX_TIMEOUT_MS, DEFAULT_RETRANSMIT_TIMEOUT_MS)) * NS_PER_MS;
    this.burst = k.optionalInt('burst', config.burst, 1, MAX_BURST, DEFAULT_BURST);
    this.portCursor = Uint16Array.from({ length: count }, () => EPHEMERAL_FIRST + this.rng.below(EPHEMERAL_PORTS));
  }

  /** Flows open now. */
  get activeFlows(): number {
    return this.flows.size;
  }

  /** True when no flow is open and no more will start (maxFlows reached or rate 0). */
  get idle(): boolean {
    return this.flows.size === 0 && (this.c.flowsStarted >= this.maxFlows || this.rateScaled === 0n);
  }

  /**
   * flowsStarted = flowsCompleted + flowsAbandoned + activeFlows; packetsReceived = answers +
   * duplicates + unexpected + badChecksum. Sent counts are frames put on the wire (the router may
   * still miss some: the driver's rxMissed).
   */
  counters(): Record<string, number> {
    return { ...this.c, activeFlows: this.flows.size };
  }

  poll(now: bigint, emit: (frame: Uint8Array) => boolean): void {
    if (this.origin === null) this.origin = now;
    this.expireTimers(now);
    this.startFlows(now);
    let budget = this.burst;
    while (budget > 0) {
      const flow = this.ready.shift();
      if (flow === undefined) break;
      flow.queued = false;
      if (!flow.done) budget -= this.send(flow, now, emit);
    }
  }

  deliver(frame: Uint8Array, _now: bigint): void {
    this.c.packetsReceived++;
    this.c.bytesReceived += frame.length;
    const seg = parseSegment(frame);
    if (seg === null) { this.c.unexpected++; return; }
    if (!seg.checksumOk) { this.c.badChecksum++; return; }
    const flow = this.flowOf(frame, seg);
    if (flow === null) { this.c.unexpected++; return; }
    if (!flow.sent) { this.c.duplicates++; return; }
    const accepted = flow.tcp ? this.onTcp(flow, frame, seg) : this.onUdp(flow, frame, seg);
    if (!accepted) this.c.duplicates++;
  }

  // ── flow lifecycle ────────────────────────────────────────────────────────────────────────

  private startFlows(now: bigint): void {
    if (this.rateScaled === 0n || this.origin === null || now < this.origin) return;
    const due = ((now - this.origin) * this.rateScaled) / NS_PER_S_SCALED + 1n;
    if (due <= this.scheduled) return;
    const backlog = due - this.scheduled;
    this.scheduled = due;
    let n = backlog > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(backlog);
    // No more than maxActiveFlows can open in one poll, so no more attempts are made (a jump of
    // `now` by hours costs O(maxActiveFlows), not O(hours × rate)).
    let attempts = this.maxActiveFlows;
    while (n > 0 && attempts > 0 && this.c.flowsStarted < this.maxFlows && this.flows.size < this.maxActiveFlows) {
      n--;
      attempts--;
      if (!this.startFlow()) this.c.flowsSkipped++;
    }
    if (this.c.flowsStarted < this.maxFlows) this.c.flowsSkipped += n;
  }

  /** Opens one flow; false when its host has no free ephemeral port. */
  private startFlow(): boolean {
    const rng = this.rng;
    const host = rng.below(this.hosts.count);
    const srcPort = this.allocatePort(host);
    if (srcPort < 0) return false;
    const server = rng.below(this.servers.count);
    const dstPort = this.ports[rng.below(this.ports.length)];
    const v6 = this.ipv6Share > 0 && rng.chance(this.ipv6Share);
    const tcp = rng.chance(this.tcpShare);
    const segments = rng.between(this.segmentsPerFlow[0], this.segmentsPerFlow[1]);
    const flowRng = new XorShift32(rng.next());
    const isn = flowRng.next();
    const flow: Flow = {
      key: host * PORT_SPACE + srcPort,
      id: this.nextId++,
      host, server, v6, tcp, srcPort, dstPort, segments,
      rng: flowRng,
      stage: tcp ? 'syn' : 'data',
      segment: 0,
      length: 0,
      isn,
      sndNxt: isn,
      rcvNxt: 0,
      handshakeAck: false,
      token: flowRng.next(),
      ipId: flowRng.below(U16_RANGE),
      sent: false,
      retries: 0,
      retransmit: false,
      timer: 0,
      queued: false,
      done: false,
    };
    if (!tcp) flow.length = this.pickLength(flow);
    this.flows.set(flow.key, flow);
    this.c.flowsStarted++;
    this.enqueue(flow);
    return true;
  }

  /** The host's next free ephemeral port (sequential from a random start), or −1. */
  private allocatePort(host: number): number {
    let port = this.portCursor[host];
    for (let tries = 0; tries < EPHEMERAL_PORTS; tries++) {
      const candidate = port;
      port = port === EPHEMERAL_LAST ? EPHEMERAL_FIRST : port + 1;
      if (!this.flows.has(host * PORT_SPACE + candidate)) {
        this.portCursor[host] = port;
        return candidate;
      }
    }
    return -1;
  }

  private pickLength(flow: Flow): number {
    return flow.rng.between(this.payloadBytes[0], this.payloadBytes[1]);
  }

  private enqueue(flow: Flow): void {
    if (flow.queued) return;
    flow.queued = true;
    this.ready.push(flow);
  }

  private finish(flow: Flow, completed: boolean): void {
    flow.done = true;
    flow.timer++;
    this.flows.delete(flow.key);
    if (completed) this.c.flowsCompleted++;
    else this.c.flowsAbandoned++;
  }

  /** The answer awaited by the current stage arrived: move on and send the next request. */
  private advance(flow: Flow): void {
    flow.timer++;
    flow.retries = 0;
    flow.retransmit = false;
    flow.sent = false;
    this.enqueue(flow);
  }

  private expireTimers(now: bigint): void {
    for (let e = this.timers.peek(); e !== undefined && e.deadline <= now; e = this.timers.peek()) {
      this.timers.shift();
      const flow = e.flow;
      if (flow.done || e.timer !== flow.timer) continue;
      if (flow.retries >= MAX_RETRANSMITS) {
        this.finish(flow, false);
        continue;
      }
      flow.retries++;
      flow.retransmit = true;
      flow.timer++;
      this.enqueue(flow);
    }
  }

  // ── sending ───────────────────────────────────────────────────────────────────────────────

  /** Sends what the flow's stage calls for; returns the frames emitted. */
  private send(flow: Flow, now: bigint, emit: (frame: Uint8Array) => boolean): number {
    let frames = 0;
    const out = (frame: Uint8Array): void => {
      this.c.packetsSent++;
      this.c.bytesSent += frame.length;
      frames++;
      emit(frame);
    };
    if (flow.tcp) {
      switch (flow.stage) {
        case 'syn':
          out(this.tcpFrame(flow, flow.isn, 0, TcpFlag.Syn, null));
          break;
        case 'data':
          if (flow.handshakeAck) {
            flow.handshakeAck = false;
            out(this.tcpFrame(flow, flow.sndNxt, flow.rcvNxt, TcpFlag.Ack, null));
          }
          out(this.tcpFrame(flow, flow.sndNxt, flow.rcvNxt, TcpFlag.Psh | TcpFlag.Ack,
            patternPayload(flow.length, flow.id + flow.segment)));
          break;
        case 'fin':
          out(this.tcpFrame(flow, flow.sndNxt, flow.rcvNxt, TcpFlag.Fin | TcpFlag.Ack, null));
          break;
        case 'lastAck':
          out(this.tcpFrame(flow, (flow.sndNxt + 1) >>> 0, (flow.rcvNxt + 1) >>> 0, TcpFlag.Ack, null));
          this.finish(flow, true);
          return frames;
      }
    } else {
      const payload = patternPayload(flow.length, flow.id + flow.segment);
      put32(payload, 0, (flow.token + flow.segment) >>> 0);
      out(this.frame(flow, { proto: 'udp', srcPort: flow.srcPort, dstPort: flow.dstPort }, payload));
    }
    if (flow.retransmit) {
      flow.retransmit = false;
      this.c.retransmits++;
    }
    flow.sent = true;
    flow.timer++;
    this.timers.push({ flow, deadline: now + this.rtoNs, timer: flow.timer });
    return frames;
  }

  private tcpFrame(flow: Flow, seq: number, ack: number, flags: number, payload: Uint8Array | null): Uint8Array {
    const syn = (flags & TcpFlag.Syn) !== 0;
    return this.frame(flow, {
      proto: 'tcp', srcPort: flow.srcPort, dstPort: flow.dstPort, seq, ack, flags, window: WINDOW,
      mss: syn ? (flow.v6 ? MSS_IPV6 : MSS_IPV4) : undefined,
    }, payload ?? undefined);
  }

  private frame(flow: Flow, l4: TcpSpec | UdpSpec, payload: Uint8Array | undefined): Uint8Array {
    const ipId = flow.ipId;
    flow.ipId = (flow.ipId + 1) % U16_RANGE;
    return buildFrame({
      srcMac: this.hosts.macs[flow.host],
      dstMac: this.servers.macs[flow.server],
      vlan: this.vlan,
      src: this.hosts.address(flow.host, flow.v6),
      dst: this.servers.address(flow.server, flow.v6),
      ipId,
      l4,
      payload,
    });
  }

  // ── receiving ─────────────────────────────────────────────────────────────────────────────

  /** The open flow a frame belongs to (addresses, ports, protocol, VLAN all agree), or null. */
  private flowOf(frame: Uint8Array, seg: SegmentView): Flow | null {
    if ((seg.vlan === null ? undefined : seg.vlan) !== this.vlan) return null;
    const host = this.hosts.indexOf(frame, seg.dstAt, seg.family);
    if (host < 0 || !this.hosts.macIs(host, frame, Eth.Dst)) return null;
    const flow = this.flows.get(host * PORT_SPACE + seg.dstPort);
    if (flow === undefined) return null;
    const v6 = seg.family === 6;
    if (flow.v6 !== v6 || flow.tcp !== (seg.proto === IpProto.Tcp) || seg.srcPort !== flow.dstPort) return null;
    if (!this.servers.addressIs(flow.server, frame, seg.srcAt, seg.family)) return null;
    return flow;
  }

  /** Handles a TCP segment of the flow; false when it is not the answer the flow awaits. */
  private onTcp(flow: Flow, _frame: Uint8Array, seg: SegmentView): boolean {
    const f = seg.flags;
    if ((f & TcpFlag.Rst) !== 0) {
      this.finish(flow, false);
      return true;
    }
    const control = f & (TcpFlag.Syn | TcpFlag.Fin | TcpFlag.Ack);
    switch (flow.stage) {
      case 'syn':
        if (control !== (TcpFlag.Syn | TcpFlag.Ack) || seg.ack !== ((flow.isn + 1) >>> 0)) return false;
        flow.sndNxt = (flow.isn + 1) >>> 0;
        flow.rcvNxt = (seg.seq + 1) >>> 0;
        flow.stage = 'data';
        flow.segment = 0;
        flow.length = this.pickLength(flow);
        flow.handshakeAck = true;
        break;
      case 'data':
        if (control !== TcpFlag.Ack || seg.ack !== ((flow.sndNxt + flow.length) >>> 0) || seg.seq !== flow.rcvNxt) return false;
        flow.sndNxt = (flow.sndNxt + flow.length) >>> 0;
        flow.rcvNxt = (flow.rcvNxt + seg.payloadLen) >>> 0;
        flow.segment++;
        if (flow.segment === flow.segments) flow.stage = 'fin';
        else flow.length = this.pickLength(flow);
        break;
      case 'fin':
        if (control !== (TcpFlag.Fin | TcpFlag.Ack) || seg.ack !== ((flow.sndNxt + 1) >>> 0) || seg.seq !== flow.rcvNxt) return false;
        flow.stage = 'lastAck';
        break;
      case 'lastAck':
        return false;
    }
    this.advance(flow);
    return true;
  }

  /** Handles a UDP datagram of the flow; false when it is not the response to the current request. */
  private onUdp(flow: Flow, frame: Uint8Array, seg: SegmentView): boolean {
    if (seg.payloadLen < REQUEST_ID_BYTES || be32(frame, seg.payload) !== ((flow.token + flow.segment) >>> 0)) return false;
    flow.segment++;
    if (flow.segment === flow.segments) {
      this.finish(flow, true);
      return true;
    }
    flow.length = this.pickLength(flow);
    this.advance(flow);
    return true;
  }
}
