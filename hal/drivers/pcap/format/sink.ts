// Buffered output for the writers: a file path (synchronous writes), a Node Writable, or memory.
//
// Contract: writers encode each record in place with reserve(n) → fill → submit(), the ring
// verb pair: the record lands in a chunk of `bufferSize` bytes that goes out whole when the next
// record does not fit (or on flush/close); a record larger than the chunk gets its own buffer.
// - Path: the file is created/truncated at construction; chunks go out with fs.writeSync, so a
//   write error (ENOSPC, ...) throws from the write that flushed; close() is synchronous.
// - Writable: each full chunk is handed to stream.write() and a fresh chunk is started (the
//   stream owns what it was given). Nothing waits on the stream: `needsDrain` mirrors
//   stream.writableNeedDrain and drain() resolves on 'drain', so a producer that honours them
//   keeps memory bounded. A stream error is remembered and thrown by the next write/flush, and
//   rejects close(). close() returns a Promise: it settles when the stream has finished (when it
//   is ended, the default) or when the last chunk was accepted (`end: false`, e.g. stdout).
// - Memory: chunks are collected and joined by bytes(); for encodePcap/encodePcapng.

import fs from 'node:fs';
import { once } from 'node:events';
import { finished } from 'node:stream/promises';
import type { Writable } from 'node:stream';

import { WRITE_ERRORS } from './errors.ts';
import { MIN_WRITE_BUFFER } from './limits.ts';

/** Where a writer's bytes go: a file path (created or truncated) or a Node Writable. */
export type CaptureTarget = string | Writable;

/** Output options common to PcapWriter and PcapngWriter. */
export interface SinkOptions {
  /** Bytes buffered before a write(2) or stream.write(). Default 1 MiB. */
  bufferSize?: number;
  /** Writable only: end the stream on close() (default true). Use false for process.stdout. */
  end?: boolean;
}

/** Buffered byte output with reserve/submit record placement. */
export abstract class ByteSink {
  private chunk: Uint8Array | null = null;
  private used = 0;
  private reserved: Uint8Array | null = null;
  private readonly size: number;
  protected closed = false;

  protected constructor(bufferSize: number) {
    if (!Number.isInteger(bufferSize) || bufferSize < MIN_WRITE_BUFFER) throw new RangeError(WRITE_ERRORS.bufferSize);
    this.size = bufferSize;
  }

  /** A region of exactly n bytes, to be filled completely (it holds stale bytes), then submit(). */
  reserve(n: number): Uint8Array {
    if (this.closed) throw new Error(WRITE_ERRORS.closed);
    this.check();
    if (n > this.size) {
      this.flush();
      this.reserved = new Uint8Array(n);
      return this.reserved;
    }
    if (this.used + n > this.size) this.flush();
    this.chunk ??= new Uint8Array(this.size);
    this.reserved = this.chunk.subarray(this.used, this.used + n);
    return this.reserved;
  }

  /** Commit the whole region returned by the last reserve(). */
  submit(): void {
    const r = this.reserved;
    if (r === null) return;
    this.reserved = null;
    if (r.buffer === this.chunk?.buffer) this.used += r.length;
    else this.emit(r, false);
  }

  /** Send everything buffered on (to the file or the stream). */
  flush(): void {
    this.check();
    if (this.chunk === null || this.used === 0) return;
    const reusable = this.emit(this.chunk.subarray(0, this.used), true);
    this.used = 0;
    if (!reusable) this.chunk = null;
  }

  /** True when a stream target asks the producer to wait for drain(). */
  get needsDrain(): boolean {
    return false;
  }

  /** Resolves when a stream target can take more; at once for other targets. */
  drain(): Promise<void> {
    return Promise.resolve();
  }

  /** Flush and release the target; see the module comment for what the result means. */
  abstract close(): void | Promise<void>;

  /**
   * Send `bytes` on. `fromChunk`: they are the shared chunk. Returns whether the chunk may be
   * reused (false when the target kept a reference to it).
   */
  protected abstract emit(bytes: Uint8Array, fromChunk: boolean): boolean;

  /** Throw a remembered asynchronous error of the target. */
  protected check(): void {}
}

/** Output to a file path with synchronous writes. */
export class FileSink extends ByteSink {
  private fd: number | null;

  constructor(path: string, bufferSize: number) {
    super(bufferSize);
    this.fd = fs.openSync(path, 'w');
  }

  protected emit(bytes: Uint8Array): boolean {
    let off = 0;
    while (off < bytes.length) off += fs.writeSync(this.fd!, bytes, off, bytes.length - off);
    return true;
  }

  close(): void {
    if (this.closed) return;
    try {
      this.flush();
    } finally {
      this.closed = true;
      const fd = this.fd!;
      this.fd = null;
      fs.closeSync(fd);
    }
  }
}

/** Output to a Node Writable. */
export class StreamSink extends ByteSink {
  private readonly stream: Writable;
  private readonly endOnClose: boolean;
  private error: Error | null = null;
  private lastWrite: Promise<void> = Promise.resolve();
  private readonly onError = (err: Error): void => {
    this.error ??= err;
  };

  constructor(stream: Writable, bufferSize: number, endOnClose: boolean) {
    super(bufferSize);
    this.stream = stream;
    this.endOnClose = endOnClose;
    stream.on('error', this.onError);
  }

  override get needsDrain(): boolean {
    return this.stream.writableNeedDrain;
  }

  override async drain(): Promise<void> {
    if (this.stream.writableNeedDrain) await once(this.stream, 'drain');
  }

  protected emit(bytes: Uint8Array): boolean {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    this.lastWrite = new Promise((resolve) => {
      this.stream.write(buf, (err) => {
        if (err) this.error ??= err;
        resolve();
      });
    });
    return false;
  }

  protected override check(): void {
    if (this.error) throw this.error;
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    try {
      this.flush();
    } catch (err) {
      this.closed = true;
      this.stream.off('error', this.onError);
      return Promise.reject(err);
    }
    this.closed = true;
    const done = this.endOnClose ? finished(this.stream.end(), { readable: false }) : this.lastWrite;
    return done.then(() => {
      this.stream.off('error', this.onError);
      if (this.error) throw this.error;
    }, (err: unknown) => {
      this.stream.off('error', this.onError);
      throw this.error ?? err;
    });
  }
}

/** Output collected in memory. */
export class MemorySink extends ByteSink {
  private readonly parts: Uint8Array[] = [];
  private length = 0;

  constructor(bufferSize: number) {
    super(bufferSize);
  }

  protected emit(bytes: Uint8Array, fromChunk: boolean): boolean {
    this.parts.push(fromChunk ? bytes.slice() : bytes);
    this.length += bytes.length;
    return true;
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
  }

  /** Everything written, joined (call after close()). */
  bytes(): Uint8Array {
    const out = new Uint8Array(this.length);
    let off = 0;
    for (const p of this.parts) {
      out.set(p, off);
      off += p.length;
    }
    return out;
  }
}

/** The sink for a writer's target. */
export function openSink(target: CaptureTarget, options: SinkOptions, defaultBuffer: number): ByteSink {
  const size = options.bufferSize ?? defaultBuffer;
  return typeof target === 'string' ? new FileSink(target, size) : new StreamSink(target, size, options.end ?? true);
}
