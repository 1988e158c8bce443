// One card's end of the cross-card hand-off: the rings of workers/layout.ts opened as SharedRings
// on the right memories, and what the two hand-off drivers (steer.ts on a port's owner,
// remote-port.ts on every other card) share while the card runs: which peers were given something
// this step (to wake them if they sleep) and how much moved (to tell a busy step from an idle one).

import type { StatusBlock } from './status.ts';
import type { CardView } from './card-view.ts';
import type { CardLinks } from './layout.ts';
import { SharedRing } from './shared-ring.ts';

/** An rx link opened: owner(P) produces descriptors into `desc` with frames taken from `fill`. */
export interface RxRings {
  readonly desc: SharedRing;
  readonly fill: SharedRing;
}

/** A tx link opened: the sender produces into the descriptor rings, with frames from the fill rings. */
export interface TxRings {
  readonly origDesc: SharedRing;
  readonly origFill: SharedRing;
  readonly repDesc: SharedRing;
  readonly repFill: SharedRing;
}

export class HandoffContext {
  /** Peers given descriptors or frames since the last wakePeers(). */
  private readonly touched = new Set<number>();
  /** Frames and descriptors moved since the last takeMoved(). */
  private moved = 0;

  constructor(
    readonly self: number,
    readonly views: readonly CardView[],
    readonly statuses: readonly StatusBlock[],
    readonly links: readonly CardLinks[],
  ) {}

  get cards(): number {
    return this.views.length;
  }

  /** The rx link of port `port` towards card `card` (rings in that card's memory). */
  rxLink(port: number, card: number): RxRings {
    const l = this.links[card].rx[port];
    if (!l) throw new RangeError(`card ${card} keeps no rx link for port ${port}`);
    const u32 = this.views[card].u32;
    return { desc: new SharedRing(u32, l.desc), fill: new SharedRing(u32, l.fill) };
  }

  /** The tx link of port `port` from card `sender` to the port's owner `owner` (rings in the owner's memory). */
  txLink(port: number, owner: number, sender: number): TxRings {
    const l = this.links[owner].tx[port]?.[sender];
    if (!l) throw new RangeError(`card ${owner} keeps no tx link for port ${port} from card ${sender}`);
    const u32 = this.views[owner].u32;
    return {
      origDesc: new SharedRing(u32, l.origDesc),
      origFill: new SharedRing(u32, l.origFill),
      repDesc: new SharedRing(u32, l.repDesc),
      repFill: new SharedRing(u32, l.repFill),
    };
  }

  /** Records that `n` things moved, `peer` (when given) having received some. */
  note(n: number, peer?: number): void {
    if (n <= 0) return;
    this.moved += n;
    if (peer !== undefined) this.touched.add(peer);
  }

  takeMoved(): number {
    const n = this.moved;
    this.moved = 0;
    return n;
  }

  /** Rings the doorbell of every touched peer that sleeps (after the step made its work visible). */
  wakePeers(): void {
    for (const peer of this.touched) this.statuses[peer].wake();
    this.touched.clear();
  }
}
