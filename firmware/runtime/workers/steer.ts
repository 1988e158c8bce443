// The owner's side of a port on a multi-card board: a wrapper driver (like the fault and trace
// wrappers) around the port's real driver, on the card that owns the port. It makes the card a
// multi-queue NIC with symmetric RSS for the other cards:
//   receive(now)   the real driver fills a staging rx ring (hal/drivers/fault/staging.ts); each
//                  frame, in order, is hashed (flow-hash.ts): a frame of this card's flows moves to
//                  the port's real rx ring (descriptor only), another card's is copied into a frame
//                  that card lent and its descriptor goes onto that card's rx link; this card's
//                  frame returns to its pool.
//   transmit(now)  what the other cards sent on this port (their tx links, originals then
//                  replicas, in the lent frames, so no copy) moves onto the port's real tx rings,
//                  then the real driver sends everything; then the tx links' fill rings are topped
//                  up with frames of this card's replica pool.
// Back-pressure, never loss: dispatch stops at the first frame whose destination (the real rx
// ring, or the target's link ring or lent frames) is full, keeping the port's order; the staging
// ring then fills and the real driver sees a full ring and counts rxMissed, as it would unwrapped.
// exhausted: the real driver's, and nothing staged. capabilities: the real driver's.

import { Desc } from '../../../wasm/abi.ts';
import type { PortDriver } from '../../../hal/driver.ts';
import type { PortHandle } from '../../../hal/port.ts';
import type { RingView } from '../../../hal/ring.ts';
import { stagePort } from '../../../hal/drivers/fault/staging.ts';
import { copyFrame, moveDescriptor, type CardView } from './card-view.ts';
import { cardOfHash, flowHash } from './flow-hash.ts';
import { lend } from './layout.ts';
import type { HandoffContext, RxRings, TxRings } from './handoff.ts';
import { HandoffCounter, StatusBlock } from './status.ts';

export class SteeringPort implements PortDriver {
  readonly kind: string;
  private handle!: PortHandle;
  private staging!: RingView;
  private readonly own: CardView;
  /** By card: the rx link to it (null for this card). */
  private readonly outs: (RxRings | null)[];
  /** By card: its tx link to this card for this port (null for this card). */
  private readonly ins: (TxRings | null)[];
  private readonly room: number[];
  private readonly sent: number[];
  private readonly counters: Float64Array;
  private readonly base: number;

  constructor(
    readonly inner: PortDriver,
    private readonly port: number,
    private readonly ctx: HandoffContext,
    /** This card's replica-pool free ring: the frames it lends for tx links. */
    private readonly replicaFree: RingView,
  ) {
    this.kind = `${inner.kind}+steer`;
    this.own = ctx.views[ctx.self];
    this.outs = ctx.views.map((_, c) => (c === ctx.self ? null : ctx.rxLink(port, c)));
    this.ins = ctx.views.map((_, c) => (c === ctx.self ? null : ctx.txLink(port, ctx.self, c)));
    this.room = ctx.views.map(() => 0);
    this.sent = ctx.views.map(() => 0);
    this.counters = ctx.statuses[ctx.self].counters;
    this.base = StatusBlock.handoffBase(port);
  }

  get capabilities(): number {
    return this.inner.capabilities;
  }

  get exhausted(): boolean {
    return this.inner.exhausted && this.staging.used() === 0;
  }

  attach(handle: PortHandle): void {
    this.handle = handle;
    const staged = stagePort(handle);
    this.staging = staged.rx;
    // Only rx is staged: the real driver sends from the real tx rings.
    this.inner.attach({ ...staged.handle, txOriginals: handle.txOriginals, txReplicas: handle.txReplicas });
  }

  receive(now: bigint): number {
    const n = this.inner.receive(now);
    this.dispatch();
    return n;
  }

  /** Moves staged frames, in order, to this card's rx ring or the card owning their flow. */
  private dispatch(): void {
    const staging = this.staging;
    const k = staging.peek(staging.capacity);
    if (k === 0) return;
    const own = this.own;
    const cards = this.ctx.cards;
    const self = this.ctx.self;
    const local = this.handle.rx;
    const localRoom = local.free();
    let kept = 0;
    this.room.fill(-1);
    this.sent.fill(0);
    let i = 0;
    for (; i < k; i++) {
      const desc = staging.consSlot(i);
      const addr = own.u32[(desc + Desc.Addr) >>> 2];
      const target = cardOfHash(flowHash(own.mem, addr, own.dv.getUint16(desc + Desc.Len, true)), cards);
      if (target === self) {
        if (kept === localRoom) break;
        moveDescriptor(own.u32, desc, local.prodSlot(kept));
        kept++;
        continue;
      }
      const out = this.outs[target]!;
      if (this.room[target] < 0) this.room[target] = Math.min(out.desc.free(), out.fill.used());
      const j = this.sent[target];
      if (j === this.room[target]) break;
      const peer = this.ctx.views[target];
      copyFrame(own, desc, peer, peer.u32[out.fill.consSlot(j) >>> 2], out.desc.prodSlot(j), false);
      this.handle.frames.release(desc);
      this.sent[target] = j + 1;
    }
    staging.release(i);
    local.submit(kept);
    this.counters[this.base + HandoffCounter.KeptLocal] += kept;
    for (let t = 0; t < cards; t++) {
      const n = this.sent[t];
      if (n === 0) continue;
      const out = this.outs[t]!;
      out.fill.release(n);
      out.desc.submit(n);
      this.counters[this.base + HandoffCounter.SteeredOut] += n;
      this.ctx.note(n, t);
    }
    this.ctx.note(kept);
  }

  transmit(now: bigint): number {
    let taken = 0;
    for (const link of this.ins) {
      if (!link) continue;
      taken += this.ingest(link.origDesc, this.handle.txOriginals);
      taken += this.ingest(link.repDesc, this.handle.txReplicas);
    }
    this.counters[this.base + HandoffCounter.TxIn] += taken;
    this.ctx.note(taken);
    const sent = this.inner.transmit(now);
    this.ins.forEach((link, sender) => {
      if (!link) return;
      const lent = lend(this.replicaFree, link.origFill, link.origFill.free()) + lend(this.replicaFree, link.repFill, link.repFill.free());
      this.ctx.note(lent, sender);
    });
    return sent;
  }

  /** Moves descriptors another card sent (frames already in this card's memory) onto a real tx ring. */
  private ingest(from: TxRings['origDesc'], to: RingView): number {
    const n = Math.min(from.used(), to.free());
    for (let k = 0; k < n; k++) moveDescriptor(this.own.u32, from.consSlot(k), to.prodSlot(k));
    to.submit(n);
    from.release(n);
    return n;
  }

  close(): void | Promise<void> {
    return this.inner.close();
  }
}
