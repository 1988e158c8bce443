// One data-plane instance (a line card's wasm module and its memory), laid out and bound.
//
// The runtime owns the memory map; the hot path learns it from the control block. Layout, from
// the first 64 KiB page after the module's own data:
//
//  ┌ control ┬ scratch ┬ global ctrs ┬ port table ┬ port ctrs ┬ session state ┬ session ctrs ┐
//  ├ rings: per port rx, originals, replicas; free rings ┬ flow cache ┬ conntrack ┬ bank 0 ┬ bank 1 ┤
//  └ frame pool ┬ io region (driver buffers and staging rings, handed out at setup) ┘
//
// Memory is grown once, here, before any view is taken; nothing grows it afterwards (a grow
// would detach every view). A configuration that does not fit `memoryBudget` is refused with a
// clear error before anything is instantiated.
//
// Table publication (the bank switch): publish() writes the image into the inactive bank and
// stores the next TableVersion, whose parity names that bank (ActiveBank mirrors it). The hot
// path reads the version once per batch, so a batch is classified wholly by one version;
// ObservedVersion tells when a switch has taken effect. The memory is a shared WebAssembly.Memory
// (one instance per memory), so another thread can hold it: writeInactiveBank() and
// switchVersion() are the two halves of publish() for a publisher that is not the card's thread
// (firmware/runtime/workers/), which must first see ObservedVersion equal to TableVersion (no
// batch still reads the inactive bank). In one thread process() never runs during publish().

import { Abi, Bank, BatchScratch, Lane, Control, ConnEntry, ConntrackHeader, ConntrackLimits, Desc, DescFlag, FibEntry, FlowEntry, InitError, Limits, Mode, PortConfig, RaceGroup, RaceMember, ReturnTable, SessionConfig, SessionState } from '../../wasm/abi.ts';
import { GlobalCounter, PortCounter, SessionCounter } from '../../wasm/counters.ts';
import { RingView } from '../../hal/ring.ts';
import { ensureMemory, instantiateDataplane, type DataplaneExports } from './wasm.ts';

export interface DataPlanePortSpec {
  readonly name: string;
  /** Egress port of originals received here; null: drop by policy. */
  readonly crossConnect: number | null;
  /** Largest IP packet the port sends. */
  readonly mtu: number;
  readonly side: 'inside' | 'outside';
}

export interface DataPlaneSpec {
  readonly ports: readonly DataPlanePortSpec[];
  readonly rxRing: number; // descriptors per rx ring (power of two)
  readonly txRing: number; // descriptors per originals / replicas ring (power of two)
  readonly rxFrames: number;
  readonly replicaFrames: number;
  readonly frameSize: number; // data room per frame, after the headroom
  readonly headroom: number;
  readonly sessionSlots: number;
  readonly bankBytes: number;
  readonly flowCacheEntries: number; // power of two, or 0 to disable the cache
  readonly batchMax: number;
  readonly ioBytes: number; // driver buffers and staging rings
  /** Descriptors each session slot may hold while its device has not registered (power of two). */
  readonly holdRing?: number;
  /**
   * Race connection-table entries (a power of two of at least ConntrackLimits.ProbeWindow, or 0:
   * no table, nothing is raced); default DEFAULT_CONNTRACK_ENTRIES.
   */
  readonly conntrackEntries?: number;
  readonly memoryBudget: number; // bytes of wasm memory this instance may use
}

export class MemoryBudgetError extends Error {
  override readonly name = 'MemoryBudgetError';
}

const PAGE = 65536;
/**
 * Replicas a session keeps while its device has not registered, unless the board says otherwise.
 * Held replicas occupy replica frames: a board sizes its replica pool for the sessions it expects
 * to hold at once (a full pool shows as no_frame, never as a lost original).
 */
export const DEFAULT_HOLD_RING = 64;
/**
 * Race connections tracked at once, unless the board says otherwise: 4096 × 64 bytes = 256 KiB.
 * At 100 raced flows a second (the default budget) with flows lasting up to 40 s that is full; a
 * flow that finds no room is not raced but still served (its hash member, RaceTableFull).
 */
export const DEFAULT_CONNTRACK_ENTRIES = 4096;
const align = (v: number, a: number): number => Math.ceil(v / a) * a;
const isPow2 = (v: number): boolean => v > 0 && (v & (v - 1)) === 0;
const nextPow2 = (v: number): number => 2 ** Math.ceil(Math.log2(Math.max(1, v)));

/** Byte addresses of every region. */
export interface MemoryMap {
  readonly control: number;
  readonly scratch: number;
  readonly globalCounters: number;
  readonly portTable: number;
  readonly portCounters: number;
  readonly sessionState: number;
  readonly sessionCounters: number;
  readonly holdRings: number;
  readonly holdRingBytes: number;
  readonly rxRings: number[];
  readonly txOrigRings: number[];
  readonly txReplicaRings: number[];
  readonly rxFree: number;
  readonly replicaFree: number;
  readonly flowCache: number;
  readonly conntrack: number;
  readonly conntrackEntries: number;
  readonly banks: [number, number];
  readonly framePool: number;
  readonly frameStride: number;
  readonly io: number;
  readonly end: number;
}

/** Computes the memory map for a spec starting at `base`; throws MemoryBudgetError if it does not fit. */
export function planMemory(spec: DataPlaneSpec, base: number): MemoryMap {
  for (const [what, v] of [['rxRing', spec.rxRing], ['txRing', spec.txRing]] as const) {
    if (!isPow2(v)) throw new RangeError(`${what} must be a power of two, got ${v}`);
  }
  if (spec.holdRing !== undefined && !isPow2(spec.holdRing)) throw new RangeError(`holdRing must be a power of two, got ${spec.holdRing}`);
  if (spec.flowCacheEntries !== 0 && !isPow2(spec.flowCacheEntries)) throw new RangeError(`flowCacheEntries must be 0 or a power of two, got ${spec.flowCacheEntries}`);
  const conntrackEntries = spec.conntrackEntries ?? DEFAULT_CONNTRACK_ENTRIES;
  if (conntrackEntries !== 0 && (!isPow2(conntrackEntries) || conntrackEntries < ConntrackLimits.ProbeWindow)) {
    throw new RangeError(`conntrackEntries must be 0 or a power of two of at least ${ConntrackLimits.ProbeWindow}, got ${conntrackEntries}`);
  }
  if (spec.ports.length < 1 || spec.ports.length > Limits.MaxPorts) throw new RangeError(`1..${Limits.MaxPorts} ports, got ${spec.ports.length}`);
  if (spec.sessionSlots < 1 || spec.sessionSlots > Limits.MaxSessions) throw new RangeError(`sessionSlots must be 1..${Limits.MaxSessions}`);
  const stride = align(spec.headroom + spec.frameSize, 64);
  if (stride > Limits.MaxFrame) throw new RangeError(`frame of ${stride} bytes exceeds ${Limits.MaxFrame}`);

  let at = align(base, PAGE);
  const take = (bytes: number, alignment = 64): number => {
    at = align(at, alignment);
    const start = at;
    at += bytes;
    return start;
  };
  const control = take(Control.Size);
  const scratch = take(Lane.Bytes + spec.batchMax * BatchScratch.PerPacket);
  const globalCounters = take(GlobalCounter.Count * 8);
  const portTable = take(spec.ports.length * PortConfig.Size);
  const portCounters = take(spec.ports.length * PortCounter.Count * 8);
  const sessionState = take(spec.sessionSlots * SessionState.Size);
  const sessionCounters = take(spec.sessionSlots * SessionCounter.Count * 8);
  const holdRingBytes = RingView.bytes(spec.holdRing ?? DEFAULT_HOLD_RING, Desc.Size);
  const holdRings = take(spec.sessionSlots * holdRingBytes);
  const rxRings: number[] = [];
  const txOrigRings: number[] = [];
  const txReplicaRings: number[] = [];
  for (let p = 0; p < spec.ports.length; p++) {
    rxRings.push(take(RingView.bytes(spec.rxRing, Desc.Size)));
    txOrigRings.push(take(RingView.bytes(spec.txRing, Desc.Size)));
    txReplicaRings.push(take(RingView.bytes(spec.txRing, Desc.Size)));
  }
  const rxFree = take(RingView.bytes(nextPow2(spec.rxFrames), 4));
  const replicaFree = take(RingView.bytes(nextPow2(Math.max(1, spec.replicaFrames)), 4));
  const flowCache = take(Math.max(1, spec.flowCacheEntries) * FlowEntry.Size);
  const conntrack = take(ConntrackHeader.Size + conntrackEntries * ConnEntry.Size);
  const bank0 = take(spec.bankBytes);
  const bank1 = take(spec.bankBytes);
  const framePool = take((spec.rxFrames + spec.replicaFrames) * stride);
  const io = take(spec.ioBytes);
  const end = align(at, PAGE);
  const used = end - align(base, PAGE);
  if (used > spec.memoryBudget) {
    const mib = (b: number): string => (b / 1048576).toFixed(1);
    throw new MemoryBudgetError(
      `data plane needs ${mib(used)} MiB (frames ${mib((spec.rxFrames + spec.replicaFrames) * stride)}, ` +
      `table banks 2 × ${mib(spec.bankBytes)}, flow cache ${mib(spec.flowCacheEntries * FlowEntry.Size)}, ` +
      `race connections ${mib(conntrackEntries * ConnEntry.Size)}) ` +
      `but the board's memory budget is ${mib(spec.memoryBudget)} MiB`);
  }
  return {
    control, scratch, globalCounters, portTable, portCounters, sessionState, sessionCounters, holdRings, holdRingBytes,
    rxRings, txOrigRings, txReplicaRings, rxFree, replicaFree, flowCache, conntrack, conntrackEntries, banks: [bank0, bank1],
    framePool, frameStride: stride, io, end,
  };
}

export class TablePublishError extends Error {
  override readonly name = 'TablePublishError';
}

/** What publishing touches: a card's memory (views of it, from any thread) and its map. */
export interface BankAccess {
  readonly mem: Uint8Array;
  readonly u32: Uint32Array;
  readonly map: MemoryMap;
}

/** The version after `version`; it has the other parity (the other bank). Skips 0 ("never published"). */
export function nextTableVersion(version: number): number {
  return (version + 1) >>> 0 || 2;
}

/**
 * Writes `image` into the bank the next version will use (the inactive one) and returns that
 * version. The caller guarantees no batch reads that bank: ObservedVersion == TableVersion.
 */
export function writeInactiveBank(card: BankAccess, image: Uint8Array): number {
  const version = nextTableVersion(Atomics.load(card.u32, (card.map.control + Control.TableVersion) >>> 2));
  card.mem.set(image, card.map.banks[version & 1]);
  return version;
}

/** Makes `version` current: the bank its parity names is used from the next batch on. */
export function switchVersion(card: BankAccess, version: number): void {
  const c = card.map.control;
  Atomics.store(card.u32, (c + Control.ActiveBank) >>> 2, version & 1);
  // Release: the bank's bytes (written before) are visible to a batch that loads this version.
  Atomics.store(card.u32, (c + Control.TableVersion) >>> 2, version);
}

export class DataPlane {
  readonly wasm: DataplaneExports;
  readonly map: MemoryMap;
  readonly mem: Uint8Array;
  readonly u32: Uint32Array;
  readonly u64: BigUint64Array;
  readonly dv: DataView;
  readonly rx: RingView[];
  readonly txOriginals: RingView[];
  readonly txReplicas: RingView[];
  readonly rxFree: RingView;
  readonly replicaFree: RingView;
  /** Per session slot: replicas waiting for their device to register. */
  readonly hold: RingView[];
  private ioCursor: number;

  private constructor(readonly spec: DataPlaneSpec) {
    this.wasm = instantiateDataplane();
    this.map = planMemory(spec, this.wasm.heapBase());
    ensureMemory(this.wasm.memory, this.map.end);
    const buffer = this.wasm.memory.buffer;
    this.mem = new Uint8Array(buffer);
    this.u32 = new Uint32Array(buffer);
    this.u64 = new BigUint64Array(buffer);
    this.dv = new DataView(buffer);
    this.ioCursor = this.map.io;

    const m = this.map;
    const w = (addr: number, v: number): void => { this.u32[addr >>> 2] = v >>> 0; };
    w(m.control + Control.Magic, Abi.Magic);
    w(m.control + Control.AbiVersion, Abi.Version);
    w(m.control + Control.ActiveBank, 0);
    w(m.control + Control.TableVersion, 0);
    w(m.control + Control.PortCount, spec.ports.length);
    w(m.control + Control.PortTable, m.portTable);
    w(m.control + Control.PortCounters, m.portCounters);
    w(m.control + Control.SessionSlots, spec.sessionSlots);
    w(m.control + Control.SessionState, m.sessionState);
    w(m.control + Control.SessionCounters, m.sessionCounters);
    w(m.control + Control.Bank0, m.banks[0]);
    w(m.control + Control.Bank1, m.banks[1]);
    w(m.control + Control.BankBytes, spec.bankBytes);
    w(m.control + Control.FlowCache, m.flowCache);
    w(m.control + Control.FlowCacheMask, spec.flowCacheEntries === 0 ? 0 : spec.flowCacheEntries - 1);
    w(m.control + Control.FramePool, m.framePool);
    w(m.control + Control.FrameStride, m.frameStride);
    w(m.control + Control.FrameHeadroom, spec.headroom);
    w(m.control + Control.FrameCount, spec.rxFrames + spec.replicaFrames);
    w(m.control + Control.RxFree, m.rxFree);
    w(m.control + Control.ReplicaFree, m.replicaFree);
    w(m.control + Control.GlobalCounters, m.globalCounters);
    w(m.control + Control.Scratch, m.scratch);
    w(m.control + Control.BatchMax, spec.batchMax);
    w(m.control + Control.HoldRings, m.holdRings);
    w(m.control + Control.HoldRingBytes, m.holdRingBytes);
    w(m.control + Control.Conntrack, m.conntrack);
    w(m.control + Control.ConntrackCapacity, m.conntrackEntries);
    this.mem.fill(0, m.conntrack, m.conntrack + ConntrackHeader.Size + m.conntrackEntries * ConnEntry.Size);
    this.hold = [];
    for (let slot = 0; slot < spec.sessionSlots; slot++) {
      this.hold.push(RingView.format(this.u32, m.holdRings + slot * m.holdRingBytes, spec.holdRing ?? DEFAULT_HOLD_RING, Desc.Size));
    }

    this.rx = [];
    this.txOriginals = [];
    this.txReplicas = [];
    spec.ports.forEach((port, p) => {
      const cfg = m.portTable + p * PortConfig.Size;
      this.rx.push(RingView.format(this.u32, m.rxRings[p], spec.rxRing, Desc.Size));
      this.txOriginals.push(RingView.format(this.u32, m.txOrigRings[p], spec.txRing, Desc.Size));
      this.txReplicas.push(RingView.format(this.u32, m.txReplicaRings[p], spec.txRing, Desc.Size));
      w(cfg + PortConfig.RxRing, m.rxRings[p]);
      w(cfg + PortConfig.TxOrigRing, m.txOrigRings[p]);
      w(cfg + PortConfig.TxReplicaRing, m.txReplicaRings[p]);
      w(cfg + PortConfig.CrossConnect, port.crossConnect ?? 255);
      w(cfg + PortConfig.Mtu, port.mtu);
      w(cfg + PortConfig.Side, port.side === 'inside' ? 1 : 0);
    });
    this.rxFree = RingView.format(this.u32, m.rxFree, nextPow2(spec.rxFrames), 4);
    this.replicaFree = RingView.format(this.u32, m.replicaFree, nextPow2(Math.max(1, spec.replicaFrames)), 4);
    for (let f = 0; f < spec.rxFrames; f++) this.rxFree.pushIndex(f);
    for (let f = 0; f < spec.replicaFrames; f++) this.replicaFree.pushIndex(spec.rxFrames + f);

    const rc = this.wasm.init(m.control);
    if (rc !== InitError.None) throw new Error(`data plane refused its control block (error ${rc}): build/dataplane.wasm and the runtime disagree on the ABI; run "npm run build"`);
  }

  /** Lays out and binds a new instance. Throws MemoryBudgetError when the spec does not fit. */
  static create(spec: DataPlaneSpec): DataPlane {
    return new DataPlane(spec);
  }

  /** Hands out `bytes` of the io region (setup time only). */
  allocIo(bytes: number, alignment = 64): number {
    const start = align(this.ioCursor, alignment);
    if (start + bytes > this.map.io + this.spec.ioBytes) {
      throw new MemoryBudgetError(`io region exhausted: ${bytes} more bytes requested of ${this.spec.ioBytes}`);
    }
    this.ioCursor = start + bytes;
    return start;
  }

  /** A ring in the io region, for drivers that stage descriptors (fault and trace wrappers). */
  allocRing(capacity: number, slotBytes = Desc.Size): RingView {
    return RingView.format(this.u32, this.allocIo(RingView.bytes(capacity, slotBytes)), capacity, slotBytes);
  }

  get tableVersion(): number {
    return Atomics.load(this.u32, (this.map.control + Control.TableVersion) >>> 2);
  }

  get observedVersion(): number {
    return Atomics.load(this.u32, (this.map.control + Control.ObservedVersion) >>> 2);
  }

  /**
   * Publishes a bank image: written into the inactive bank, then made active by one store.
   * Returns the new table version. Throws TablePublishError when the image does not fit a bank.
   */
  publish(image: Uint8Array): number {
    this.checkFits(image);
    const version = writeInactiveBank(this, image);
    switchVersion(this, version);
    return version;
  }

  /**
   * Acknowledges the current TableVersion without a batch: a card whose originals rings are full
   * cannot run one, yet no batch of it reads the old bank any more (the caller is between batches).
   */
  acknowledgeVersion(now: bigint): void {
    if (this.observedVersion !== this.tableVersion) this.wasm.process(0, now);
  }

  /**
   * Throws TablePublishError when an image does not fit a bank, or names a race member or a
   * forwarding entry on a port this card lacks (the hot path trusts those ports: they index its
   * port table).
   */
  checkFits(image: Uint8Array): void {
    if (image.length > this.spec.bankBytes) {
      throw new TablePublishError(`tables need ${image.length} bytes but a bank holds ${this.spec.bankBytes}: raise the board's table budget or reduce rules`);
    }
    const dv = new DataView(image.buffer, image.byteOffset, image.byteLength);
    const sessions = dv.getUint32(Bank.Sessions, true);
    for (let i = 0; i < dv.getUint32(Bank.SessionCount, true); i++) {
      const cfg = sessions + i * SessionConfig.Size;
      if (dv.getUint32(cfg + SessionConfig.Mode, true) !== Mode.Race) continue;
      const group = dv.getUint32(cfg + SessionConfig.RaceGroup, true);
      for (let k = 0; k < dv.getUint32(group + RaceGroup.MemberCount, true); k++) {
        const port = dv.getUint32(group + RaceGroup.Members + k * RaceMember.Size + RaceMember.Port, true);
        if (port >= this.spec.ports.length) throw new TablePublishError(`race session #${i}: member ${k} is on port ${port}, but this line card has ${this.spec.ports.length} ports`);
      }
    }
    // The GRE return path's FIB names egress ports the same way.
    const returns = dv.getUint32(Bank.Return, true);
    if (returns !== 0) {
      for (let i = 0; i < dv.getUint32(returns + ReturnTable.RouteCount, true); i++) {
        const port = dv.getUint32(returns + ReturnTable.Routes + i * FibEntry.Size + FibEntry.Port, true);
        if (port >= this.spec.ports.length) throw new TablePublishError(`forwarding entry #${i} leaves by port ${port}, but this line card has ${this.spec.ports.length} ports`);
      }
    }
  }

  /** Runs the hot path over at most `maxBatch` packets (bounded by free originals-ring space). */
  process(now: bigint, maxBatch = this.spec.batchMax): number {
    let room = maxBatch;
    for (const ring of this.txOriginals) {
      const f = ring.free();
      if (f < room) room = f;
    }
    if (room === 0) return 0;
    return this.wasm.process(room, now);
  }

  // ── frames ──────────────────────────────────────────────────────────────────────────────────

  /** Address of the data start of frame `index`. */
  frameData(index: number): number {
    return this.map.framePool + index * this.map.frameStride + this.spec.headroom;
  }

  /** Returns a consumed descriptor's frame to the free ring it came from. */
  releaseFrame(desc: number): void {
    const flags = this.dv.getUint16(desc + Desc.Flags, true);
    const index = this.u32[(desc + Desc.Frame) >>> 2];
    ((flags & DescFlag.ReplicaPool) !== 0 ? this.replicaFree : this.rxFree).pushIndex(index);
  }

  // ── counters ────────────────────────────────────────────────────────────────────────────────

  portCounter(port: number, which: PortCounter): bigint {
    return this.u64[(this.map.portCounters >>> 3) + port * PortCounter.Count + which];
  }

  sessionCounter(slot: number, which: SessionCounter): bigint {
    return this.u64[(this.map.sessionCounters >>> 3) + slot * SessionCounter.Count + which];
  }

  globalCounter(which: GlobalCounter): bigint {
    return this.u64[(this.map.globalCounters >>> 3) + which];
  }

  /** Race connection-table entries in use now (= inserted − expired − closed, globally). */
  conntrackInUse(): number {
    return this.u32[(this.map.conntrack + ConntrackHeader.InUse) >>> 2];
  }

  /**
   * Moves replicas a slot held (its device has registered) onto `port`'s replica queue, as far as
   * that queue has room; returns how many moved. Call between process() calls.
   */
  releaseHeld(slot: number, port: number): number {
    const from = this.hold[slot];
    const to = this.txReplicas[port];
    const n = Math.min(from.peek(from.capacity), to.reserve(to.capacity));
    for (let k = 0; k < n; k++) {
      const src = from.consSlot(k);
      const dst = to.prodSlot(k);
      this.mem.copyWithin(dst, src, src + Desc.Size);
      this.dv.setUint8(dst + Desc.OutPort, port);
    }
    from.release(n);
    to.submit(n);
    return n;
  }

  /** Drops whatever a slot holds (its session ended before its device registered); returns how many. */
  discardHeld(slot: number): number {
    const ring = this.hold[slot];
    const n = ring.peek(ring.capacity);
    for (let k = 0; k < n; k++) this.releaseFrame(ring.consSlot(k));
    ring.release(n);
    return n;
  }

  /** Zeroes one session slot's counters and state, for a slot that is being reused. */
  resetSessionSlot(slot: number): void {
    const c = (this.map.sessionCounters >>> 3) + slot * SessionCounter.Count;
    this.u64.fill(0n, c, c + SessionCounter.Count);
    this.mem.fill(0, this.map.sessionState + slot * SessionState.Size, this.map.sessionState + (slot + 1) * SessionState.Size);
  }
}
