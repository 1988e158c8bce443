// Synthetic benchmark capture, as in ../shared/reference/performance.md §3.1: N records of 60
// bytes (a 64-byte frame without FCS), Ethernet + IPv4 + TCP (70 %) or UDP, addresses from a
// pool of 1,024 hosts in 10.0.0.0/16 (10.0.0.1 is "host A"), ports from a set of 10 including 80.
// Deterministic for a seed. Also the 100-clause filter: (host X and port Y) or … .

import { openSync, writeSync, closeSync } from 'node:fs';

const RECORD = 60;
const PORTS = [80, 443, 22, 53, 123, 8080, 25, 110, 143, 3306];

function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x;
  };
}

/** Host i (0..1023) of the pool: 10.0.0.1 … 10.0.4.0 (host 0 is "host A", 10.0.0.1). */
export function hostAddress(i: number): string {
  const n = i + 1;
  return `10.0.${n >> 8}.${n & 255}`;
}

function hostU32(i: number): number {
  const [a, b, c, d] = hostAddress(i).split('.').map(Number);
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

function checksum(b: Uint8Array, off: number, len: number): number {
  let s = 0;
  for (let i = 0; i < len; i += 2) s += (b[off + i] << 8) | b[off + i + 1];
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return ~s & 0xffff;
}

/** Writes the capture; returns the path. */
export function writeBenchCapture(path: string, packets: number, seed = 5): void {
  const rnd = xorshift(seed);
  const fd = openSync(path, 'w');
  const header = new DataView(new ArrayBuffer(24));
  header.setUint32(0, 0xa1b2c3d4, true);
  header.setUint16(4, 2, true);
  header.setUint16(6, 4, true);
  header.setUint32(16, 65535, true);
  header.setUint32(20, 1, true);
  writeSync(fd, new Uint8Array(header.buffer));
  const perChunk = 65536;
  const chunk = new Uint8Array(perChunk * (16 + RECORD));
  const dv = new DataView(chunk.buffer);
  for (let done = 0; done < packets; done += perChunk) {
    const n = Math.min(perChunk, packets - done);
    chunk.fill(0);
    for (let k = 0; k < n; k++) {
      const o = k * (16 + RECORD);
      const i = done + k;
      dv.setUint32(o, 1_700_000_000 + Math.floor(i / 1_000_000), true);
      dv.setUint32(o + 4, i % 1_000_000, true);
      dv.setUint32(o + 8, RECORD, true);
      dv.setUint32(o + 12, RECORD, true);
      const f = o + 16;
      chunk.set([0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1], f);
      dv.setUint16(f + 12, 0x0800);
      const tcp = rnd() % 10 < 7;
      const ip = f + 14;
      chunk[ip] = 0x45;
      dv.setUint16(ip + 2, RECORD - 14);
      dv.setUint16(ip + 4, i & 0xffff);
      chunk[ip + 8] = 64;
      chunk[ip + 9] = tcp ? 6 : 17;
      dv.setUint32(ip + 12, hostU32(rnd() % 1024));
      dv.setUint32(ip + 16, hostU32(rnd() % 1024));
      dv.setUint16(ip + 10, checksum(chunk, ip, 20));
      const l4 = ip + 20;
      dv.setUint16(l4, PORTS[rnd() % PORTS.length]);
      dv.setUint16(l4 + 2, PORTS[rnd() % PORTS.length]);
      if (tcp) {
        chunk[l4 + 12] = 0x50;
        chunk[l4 + 13] = 0x10;
      } else {
        dv.setUint16(l4 + 4, RECORD - 14 - 20);
      }
    }
    writeSync(fd, chunk, 0, n * (16 + RECORD));
  }
  closeSync(fd);
}

/** The 100-clause filter: OR of (host X and port Y). */
export function hundredClauseFilter(seed = 7): string {
  const rnd = xorshift(seed);
  const clauses: string[] = [];
  for (let c = 0; c < 100; c++) clauses.push(`(host ${hostAddress(rnd() % 1024)} and port ${PORTS[rnd() % PORTS.length]})`);
  return clauses.join(' or ');
}
