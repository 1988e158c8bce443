// The cross-card hand-off, laid out: which rings each line card keeps in its own memory for the
// others, their sizes, and the frames it lends them (AF_XDP's fill ring, one per ring: the
// receiver of a hand-off lends empty frames of its own pools, the sender copies a frame into one
// and passes the descriptor, so every crossing costs one copy and frames never change pools).
//
// For a board whose ports are owned by the cards (board.lineCards), card c keeps in its memory:
//   per port P that c does not own          rx link owner(P) → c: a descriptor ring (received on
//                                            P, flows of c) and a fill ring of c's rx frames
//   per port P that c owns, per card s ≠ c  tx link s → c: originals and replicas descriptor
//                                            rings (s sends them on P) with a fill ring each, of
//                                            c's *replica-pool* frames
// Why tx frames come from the replica pool: they return to it as soon as the owner's driver has
// sent them, whatever the data planes do, so a card waiting for tx frames always gets them back
// (rx-pool frames can all sit in rx rings behind a stalled batch: two cards lending each other rx
// frames for both directions could wait on each other for ever).
// Sizes: rx links have the board's rx ring size, tx links its tx ring size; each fill ring is kept
// full, so a card lends (ring size) frames per link, which handoffNeeds() adds to its pools.

import { Desc } from '../../../wasm/abi.ts';
import { RingView } from '../../../hal/ring.ts';
import type { Board } from '../board.ts';
import type { DataPlane } from '../dataplane.ts';
import { SharedRing } from './shared-ring.ts';

/** Rings of one rx link, in the receiving card's memory (addresses). */
export interface RxLink {
  readonly desc: number;
  readonly fill: number;
}

/** Rings of one tx link, in the owning card's memory (addresses). */
export interface TxLink {
  readonly origDesc: number;
  readonly origFill: number;
  readonly repDesc: number;
  readonly repFill: number;
}

/** The hand-off rings card c keeps in its memory, by port index (board order). */
export interface CardLinks {
  /** rx[P]: the link owner(P) → c; null when c owns P. */
  readonly rx: readonly (RxLink | null)[];
  /** tx[P][s]: the link s → c for port P that c owns; null when c does not own P, or s = c. */
  readonly tx: readonly (readonly (TxLink | null)[] | null)[];
}

/** Driver buffers and staging rings every card may allocate, as a single-card board has (board.ts dataPlaneSpec). */
export const BASE_IO_BYTES = 1 << 20;
/** Alignment slack per ring allocation (allocIo aligns to 64 bytes). */
const RING_SLACK = 64;
const FRAME_INDEX_BYTES = 4;

/** The card index owning each port, by port index (board order). */
export function portOwners(board: Pick<Board, 'ports' | 'lineCards'>): number[] {
  return board.ports.map((p) => board.lineCards.findIndex((lc) => lc.ports.includes(p.name)));
}

const ringBytes = (capacity: number, slot: number): number => RingView.bytes(capacity, slot) + RING_SLACK;

/** What card `card`'s hand-off needs beyond a single card's spec: lent frames and io bytes. */
export function handoffNeeds(board: Pick<Board, 'ports' | 'lineCards' | 'rings'>, card: number): { rxFrames: number; replicaFrames: number; ioBytes: number } {
  const owners = portOwners(board);
  const cards = board.lineCards.length;
  const owned = owners.filter((o) => o === card).length;
  const foreign = owners.length - owned;
  const rx = board.rings.rx;
  const tx = board.rings.tx;
  if (cards === 1) return { rxFrames: 0, replicaFrames: 0, ioBytes: BASE_IO_BYTES };
  // Staging per owned port (hal/drivers/fault/staging.ts stagePort: rx, originals, replicas).
  const staging = owned * (ringBytes(rx, Desc.Size) + 2 * ringBytes(tx, Desc.Size));
  const rxLinks = foreign * (ringBytes(rx, Desc.Size) + ringBytes(rx, FRAME_INDEX_BYTES));
  const txLinks = owned * (cards - 1) * 2 * (ringBytes(tx, Desc.Size) + ringBytes(tx, FRAME_INDEX_BYTES));
  return {
    rxFrames: foreign * rx,
    replicaFrames: owned * (cards - 1) * 2 * tx,
    ioBytes: BASE_IO_BYTES + staging + rxLinks + txLinks,
  };
}

/** Lends `count` frames of a free ring to a fill ring (at layout time, or topping up). Returns how many. */
export function lend(from: RingView, to: SharedRing, count: number): number {
  const n = Math.min(count, to.free(), from.used());
  for (let k = 0; k < n; k++) to.u32[to.prodSlot(k) >>> 2] = from.popIndex();
  to.submit(n);
  return n;
}

/**
 * Allocates and formats card `card`'s hand-off rings in its io region and fills every fill ring
 * with lent frames. Setup time only, before any other card can see the rings.
 */
export function layOutLinks(dp: DataPlane, board: Pick<Board, 'ports' | 'lineCards' | 'rings'>, card: number): CardLinks {
  const owners = portOwners(board);
  const cards = board.lineCards.length;
  const ring = (capacity: number, slot: number): number => {
    const address = dp.allocIo(RingView.bytes(capacity, slot));
    RingView.format(dp.u32, address, capacity, slot);
    return address;
  };
  const filled = (capacity: number, pool: RingView): number => {
    const address = ring(capacity, FRAME_INDEX_BYTES);
    if (lend(pool, new SharedRing(dp.u32, address), capacity) !== capacity) throw new RangeError('the frame pools cannot lend the hand-off rings their frames');
    return address;
  };
  const rx = owners.map((owner) => (owner === card || cards === 1 ? null : { desc: ring(board.rings.rx, Desc.Size), fill: filled(board.rings.rx, dp.rxFree) }));
  const tx = owners.map((owner) => owner !== card || cards === 1 ? null : board.lineCards.map((_, s) => s === card ? null : {
    origDesc: ring(board.rings.tx, Desc.Size),
    origFill: filled(board.rings.tx, dp.replicaFree),
    repDesc: ring(board.rings.tx, Desc.Size),
    repFill: filled(board.rings.tx, dp.replicaFree),
  }));
  return { rx, tx };
}
