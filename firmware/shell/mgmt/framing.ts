// Framing of the management port: every message is a 4-byte big-endian payload length, then the
// payload (one MessagePack value).
//
//   ┌──────────────────┬──────────────────────────────┐
//   │ length (u32 BE)  │ payload: `length` bytes       │
//   └──────────────────┴──────────────────────────────┘
//
// Contract: FrameReader takes a byte stream cut anywhere (TCP segments, TLS records) and returns
// whole payloads in order. The length is checked against the reader's cap as soon as its four
// bytes are in, before any of the payload is kept: a larger announcement ends the stream (the
// frames completed before it are still returned, with the FrameTooLarge); the reader then takes
// no more bytes, since the stream cannot be resynchronised without reading what the peer claims
// to send, so the connection must close. Memory held: at most one frame under
// assembly plus the unread tail of the last chunk pushed.

export const LENGTH_BYTES = 4;

export class FrameTooLarge extends Error {
  override readonly name = 'FrameTooLarge';
  constructor(readonly length: number, readonly max: number) {
    super(`frame of ${length} bytes exceeds the limit of ${max}`);
  }
}

export function encodeFrame(payload: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(LENGTH_BYTES + payload.length);
  out.writeUInt32BE(payload.length, 0);
  out.set(payload, LENGTH_BYTES);
  return out;
}

export class FrameReader {
  private chunks: Buffer[] = [];
  private total = 0;
  /** Payload length of the frame being assembled; null while its header is incomplete. */
  private length: number | null = null;
  private broken = false;

  constructor(readonly maxBytes: number) {}

  /** Bytes held: a partial header or payload. */
  get buffered(): number {
    return this.total;
  }

  /**
   * Feeds bytes; returns the payloads completed by them (possibly none, possibly several) and,
   * if a header announced too much, that error (nothing after it is read, now or later).
   */
  push(chunk: Uint8Array): { frames: Buffer[]; tooLarge: FrameTooLarge | null } {
    if (this.broken) throw new Error('FrameReader used after FrameTooLarge');
    const frames: Buffer[] = [];
    if (chunk.length === 0) return { frames, tooLarge: null };
    this.chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    this.total += chunk.length;
    for (;;) {
      if (this.length === null) {
        if (this.total < LENGTH_BYTES) break;
        const length = this.take(LENGTH_BYTES).readUInt32BE(0);
        if (length > this.maxBytes) {
          this.broken = true;
          this.chunks = [];
          this.total = 0;
          return { frames, tooLarge: new FrameTooLarge(length, this.maxBytes) };
        }
        this.length = length;
      }
      if (this.total < this.length) break;
      frames.push(this.take(this.length));
      this.length = null;
    }
    return { frames, tooLarge: null };
  }

  /** Removes and returns the first n buffered bytes (n ≤ total), copying only when they span chunks. */
  private take(n: number): Buffer {
    this.total -= n;
    const first = this.chunks[0];
    if (first && first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      // A copy, so a small frame does not pin a large socket buffer.
      return Buffer.from(out);
    }
    const out = Buffer.allocUnsafe(n);
    let at = 0;
    while (at < n) {
      const c = this.chunks[0];
      const k = Math.min(c.length, n - at);
      c.copy(out, at, 0, k);
      at += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    return out;
  }
}
