// Big-endian byte writer for the encoder.
//
// Contract: every value is checked against the range of its wire field before it is written;
// a value that does not fit (not an integer, negative, too large, wrong byte count) throws
// WccpEncodeError naming the field. The buffer grows as needed; callers bound the total
// (component and message length checks in message.ts and components.ts).

import { ENCODE_ERRORS, WccpEncodeError } from './errors.ts';

const INITIAL_CAPACITY = 256;
const U8_MAX = 0xff;
const U16_MAX = 0xffff;
const U32_MAX = 0xffff_ffff;
const U32_SCALE = 0x1_0000_0000;

/** `v` must be an integer in lo..hi, else WccpEncodeError naming `field`. */
export function checkInt(v: number, lo: number, hi: number, field: string): void {
  if (!Number.isInteger(v) || v < lo || v > hi) {
    throw new WccpEncodeError(field, `${ENCODE_ERRORS.notInteger(lo, hi)} (got ${v})`);
  }
}

export class Writer {
  private buf = new Uint8Array(INITIAL_CAPACITY);
  private view = new DataView(this.buf.buffer);
  private len = 0;

  get length(): number {
    return this.len;
  }

  private grow(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number, field: string): void {
    checkInt(v, 0, U8_MAX, field);
    this.grow(1);
    this.view.setUint8(this.len, v);
    this.len += 1;
  }

  u16(v: number, field: string): void {
    checkInt(v, 0, U16_MAX, field);
    this.grow(2);
    this.view.setUint16(this.len, v);
    this.len += 2;
  }

  u32(v: number, field: string): void {
    checkInt(v, 0, U32_MAX, field);
    this.grow(4);
    this.view.setUint32(this.len, v);
    this.len += 4;
  }

  /** A u64 from a safe integer. */
  u64(v: number, field: string): void {
    checkInt(v, 0, Number.MAX_SAFE_INTEGER, field);
    this.grow(8);
    this.view.setUint32(this.len, Math.floor(v / U32_SCALE));
    this.view.setUint32(this.len + 4, v % U32_SCALE);
    this.len += 8;
  }

  /** Raw bytes; with `size`, the array must be exactly that long. */
  bytes(b: Uint8Array, field: string, size?: number): void {
    if (size !== undefined && b.length !== size) {
      throw new WccpEncodeError(field, `${ENCODE_ERRORS.badBytes(size)} (got ${b.length})`);
    }
    this.grow(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  zeros(n: number): void {
    this.grow(n);
    this.buf.fill(0, this.len, this.len + n);
    this.len += n;
  }

  /** Overwrite a u16 written earlier (a length known only after its body). */
  patchU16(at: number, v: number, field: string): void {
    checkInt(v, 0, U16_MAX, field);
    this.view.setUint16(at, v);
  }

  /** A copy of what has been written. */
  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}
