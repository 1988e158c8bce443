// A port this card does not own, as its data plane sees it: a driver whose medium is the port's
// owner card (steer.ts is the other end).
//   receive(now)   frames the owner received on the port for this card's flows are already in
//                  frames this card lent (the rx link): their descriptors move onto the port's rx
//                  ring; then the link's fill ring is topped up with free rx frames.
//   transmit(now)  what this card's data plane queued on the port (originals first, then
//                  replicas) is copied into frames the owner lent and handed over on the tx link;
//                  this card's frames return to their pools. The owner's driver sends them.
// Back-pressure, never loss: frames stay on this card's tx rings while the owner has no lent
// frame or link slot free, so this card's data plane holds its batches (the originals-ring rule of
// firmware/runtime/linecard.ts), and the rx link fills and the owner holds its frames.
// Driver counters stay 0 (the owner's real driver counts the medium); the hand-off counts itself
// in the status block (SteeredIn, TxOut). Not a finite source: `exhausted` is always true, so
// LineCard.drained() looks only at the port's rings.

import { DriverCapability, type PortDriver } from '../../../hal/driver.ts';
import type { PortHandle } from '../../../hal/port.ts';
import type { RingView } from '../../../hal/ring.ts';
import { copyFrame, moveDescriptor, type CardView } from './card-view.ts';
import { lend } from './layout.ts';
import type { HandoffContext, RxRings, TxRings } from './handoff.ts';
import { HandoffCounter, StatusBlock } from './status.ts';
import type { SharedRing } from './shared-ring.ts';

export class RemotePort implements PortDriver {
  readonly kind = 'handoff';
  readonly capabilities = DriverCapability.Receive | DriverCapability.Transmit;
  readonly exhausted = true;
  private handle!: PortHandle;
  private readonly own: CardView;
  private readonly ownerView: CardView;
  private readonly rx: RxRings;
  private readonly tx: TxRings;
  private readonly counters: Float64Array;
  private readonly base: number;

  constructor(
    port: number,
    private readonly owner: number,
    private readonly ctx: HandoffContext,
    /** This card's rx-pool free ring: the frames it lends for the rx link. */
    private readonly rxFree: RingView,
  ) {
    this.own = ctx.views[ctx.self];
    this.ownerView = ctx.views[owner];
    this.rx = ctx.rxLink(port, ctx.self);
    this.tx = ctx.txLink(port, owner, ctx.self);
    this.counters = ctx.statuses[ctx.self].counters;
    this.base = StatusBlock.handoffBase(port);
  }

  attach(handle: PortHandle): void {
    this.handle = handle;
  }

  receive(_now: bigint): number {
    const from = this.rx.desc;
    const to = this.handle.rx;
    const n = Math.min(from.used(), to.free());
    for (let k = 0; k < n; k++) moveDescriptor(this.own.u32, from.consSlot(k), to.prodSlot(k));
    to.submit(n);
    from.release(n);
    this.counters[this.base + HandoffCounter.SteeredIn] += n;
    this.ctx.note(n);
    this.ctx.note(lend(this.rxFree, this.rx.fill, this.rx.fill.free()), this.owner);
    return n;
  }

  transmit(_now: bigint): number {
    const n = this.send(this.handle.txOriginals, this.tx.origDesc, this.tx.origFill) + this.send(this.handle.txReplicas, this.tx.repDesc, this.tx.repFill);
    this.counters[this.base + HandoffCounter.TxOut] += n;
    return n;
  }

  /** Copies queued frames into frames the owner lent and hands them over; returns how many. */
  private send(ring: RingView, desc: SharedRing, fill: SharedRing): number {
    const n = Math.min(ring.used(), desc.free(), fill.used());
    const owner = this.ownerView;
    for (let k = 0; k < n; k++) {
      const slot = ring.consSlot(k);
      copyFrame(this.own, slot, owner, owner.u32[fill.consSlot(k) >>> 2], desc.prodSlot(k), true);
      this.handle.frames.release(slot);
    }
    fill.release(n);
    desc.submit(n);
    ring.release(n);
    this.ctx.note(n, this.owner);
    return n;
  }

  close(): void {}
}
