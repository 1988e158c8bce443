// Bounds-checked big-endian cursor over a received datagram.
//
// Contract: the bytes are untrusted. Every read checks the bytes left in the current window
// first and throws WccpDecodeError('truncated') naming the field and its absolute offset; no
// read ever goes past the window, and a window (sub()) never extends past its parent. Counts
// read from the wire are checked against the bytes that follow before anyone loops or
// allocates on them (count()). Byte arrays handed out are copies, so a decoded message never
// aliases the caller's receive buffer.

import { WccpDecodeError } from './errors.ts';
import type { DecodeErrorCode } from './errors.ts';

/** What is being decoded, for error messages. Shared by a reader and every window cut from it. */
export interface DecodeContext {
  messageType: string | null;
  component: string | null;
}

const U32_SCALE = 0x1_0000_0000;

export class Reader {
  private readonly data: Uint8Array;
  private readonly view: DataView;
  private pos: number;
  private readonly end: number;
  readonly ctx: DecodeContext;

  /** A window [start, end) of `data`; offsets in errors are indices into `data`. */
  constructor(data: Uint8Array, start: number, end: number, ctx: DecodeContext) {
    this.data = data;
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.pos = start;
    this.end = end;
    this.ctx = ctx;
  }

  /** Absolute offset of the next byte to read. */
  get offset(): number {
    return this.pos;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  /** A decode error in the current context; at the cursor unless `offset` is given. */
  fail(field: string, code: DecodeErrorCode, detail: string, offset: number = this.pos): WccpDecodeError {
    return new WccpDecodeError(this.ctx.messageType, this.ctx.component, field, offset, code, detail);
  }

  private need(n: number, field: string): void {
    if (n > this.remaining) {
      throw this.fail(field, 'truncated', `needs ${n} bytes, ${this.remaining} left`);
    }
  }

  u8(field: string): number {
    this.need(1, field);
    return this.view.getUint8(this.pos++);
  }

  u16(field: string): number {
    this.need(2, field);
    const v = this.view.getUint16(this.pos);
    this.pos += 2;
    return v;
  }

  u32(field: string): number {
    this.need(4, field);
    const v = this.view.getUint32(this.pos);
    this.pos += 4;
    return v;
  }

  /** A u64 that must stay exact in a number (≤ 2^53 − 1); larger values are `bad-value`. */
  u64(field: string): number {
    this.need(8, field);
    const at = this.pos;
    const hi = this.view.getUint32(at);
    const lo = this.view.getUint32(at + 4);
    const v = hi * U32_SCALE + lo;
    if (!Number.isSafeInteger(v)) {
      throw this.fail(field, 'bad-value', `${BigInt(hi) * BigInt(U32_SCALE) + BigInt(lo)} exceeds 2^53-1`, at);
    }
    this.pos += 8;
    return v;
  }

  /** A copy of the next `n` bytes. */
  bytes(n: number, field: string): Uint8Array {
    this.need(n, field);
    const out = this.data.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  /** The next `n` bytes must be zero (alignment padding). */
  zeros(n: number, field: string): void {
    this.need(n, field);
    for (let i = 0; i < n; i++) {
      if (this.data[this.pos + i] !== 0) {
        throw this.fail(field, 'bad-padding', `byte ${this.data[this.pos + i]} in ${n} padding bytes`, this.pos + i);
      }
    }
    this.pos += n;
  }

  /** A window over the next `n` bytes; this cursor moves past them. */
  sub(n: number, field: string): Reader {
    this.need(n, field);
    const r = new Reader(this.data, this.pos, this.pos + n, this.ctx);
    this.pos += n;
    return r;
  }

  /**
   * A u32 element count, checked so that `count` elements of at least `minSize` bytes each fit
   * in what is left. Loops over the result are therefore bounded by the window, never by the
   * number on the wire.
   */
  count(field: string, minSize: number): number {
    const at = this.pos;
    const n = this.u32(field);
    if (n * minSize > this.remaining) {
      throw this.fail(field, 'count-too-large', `${n} × ${minSize} bytes, ${this.remaining} left`, at);
    }
    return n;
  }

  /** The window must be used up exactly. */
  done(field: string): void {
    if (this.remaining !== 0) {
      throw this.fail(field, 'trailing-bytes', `${this.remaining} bytes left over`);
    }
  }
}
