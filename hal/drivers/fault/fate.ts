// The fault wrapper's dice: a seeded xorshift32 per direction and the fate it deals each frame.
//
// Contract: a frame's fate is a pure function of the direction's seed, the frame's position in
// the sequence of frames the direction has seen, and the frame's length. Every frame costs
// exactly DRAWS_PER_FRAME draws whatever the configuration, so turning one fault on or off never
// changes which frames another fault hits (a drop pattern for a seed stays the same when
// corruption is added). Floating point is used only as (draw / 2^32) × n, which IEEE 754 makes
// identical on every machine. Not for cryptography.

import type { ResolvedDirection } from './config.ts';
import { XorShift32 } from '../../prng.ts';

const TWO_POW_32 = 2 ** 32;

/** Draws per frame, in this order: drop, corrupt, corrupt position, duplicate, jitter. */
export const DRAWS_PER_FRAME = 5;

/** Corruption never touches the Ethernet header (dst, src, type), so frames still reach their host. */
export const CORRUPT_FROM = 14;
const BITS_PER_BYTE = 8;

/** True with probability p for a uniform u32 draw: p = 0 never, p = 1 always (draws are < 2^32). */
function hit(draw: number, p: number): boolean {
  return draw < p * TWO_POW_32;
}

/** A uniform integer in [0, n) from a u32 draw. */
function scale(draw: number, n: number): number {
  return Math.floor((draw / TWO_POW_32) * n);
}

/** What happens to one frame. */
export interface Fate {
  readonly drop: boolean;
  /** Byte offset of the bit to flip, or −1 (no corruption, or a frame of ≤ 14 bytes). */
  readonly corruptByte: number;
  /** Bit (0..7) to flip at corruptByte. */
  readonly corruptBit: number;
  readonly duplicate: boolean;
  /** ns to hold the frame (delay + jitter), or −1 when the direction does not delay. */
  readonly holdNs: number;
}

/** The dice of one direction. */
export class FateDealer {
  private readonly rng: XorShift32;

  constructor(private readonly config: ResolvedDirection) {
    this.rng = new XorShift32(config.seed);
  }

  /** The fate of the next frame, `len` bytes long. */
  deal(len: number): Fate {
    const c = this.config;
    const dropDraw = this.rng.next();
    const corruptDraw = this.rng.next();
    const positionDraw = this.rng.next();
    const duplicateDraw = this.rng.next();
    const jitterDraw = this.rng.next();
    const corruptible = len > CORRUPT_FROM && hit(corruptDraw, c.corrupt);
    const position = corruptible ? scale(positionDraw, (len - CORRUPT_FROM) * BITS_PER_BYTE) : 0;
    return {
      drop: hit(dropDraw, c.drop),
      corruptByte: corruptible ? CORRUPT_FROM + Math.floor(position / BITS_PER_BYTE) : -1,
      corruptBit: position % BITS_PER_BYTE,
      duplicate: hit(duplicateDraw, c.duplicate),
      holdNs: c.delays ? c.delayNs + scale(jitterDraw, c.jitterNs + 1) : -1,
    };
  }
}
