// Helpers for the capture-codec suites (pcap-*.test.ts): deterministic packets, temporary
// directories, byte-order swapping, hand-built pcapng blocks, and the independent tools
// (tshark, tcpdump, editcap, mergecap, scapy) run as oracles. No tests live here.

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Writable } from 'node:stream';

import type { CapturedPacket } from '../../hal/drivers/pcap/format/index.ts';

/** Debian's interpreter, which sees python3-scapy (the `python3` on PATH may not). */
export const SYSTEM_PYTHON = '/usr/bin/python3';

/** A fresh directory under os.tmpdir(); remove it with removeTempDir. */
export function makeTempDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'twinflow-pcap-'));
}

export function removeTempDir(dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true });
}

/** `n` bytes that differ from packet to packet (`seed`) and from byte to byte. */
export function patternBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** An Ethernet frame of `n` bytes (n >= 14) carrying IPv4 ethertype and a pattern payload. */
export function ethFrame(n: number, seed: number): Uint8Array {
  const f = patternBytes(n, seed);
  f.set([0x02, 0, 0, 0, 0, 1, 0x02, 0, 0, 0, 0, 2, 0x08, 0x00], 0);
  return f;
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');
}

/** The fields of a packet that a comparison should look at, as plain values. */
export function summary(p: CapturedPacket): Record<string, unknown> {
  return {
    data: hex(p.data),
    origLen: p.origLen,
    tsNs: p.tsNs.toString(),
    linkType: p.linkType,
    interfaceId: p.interfaceId,
    direction: p.direction,
    comment: p.comment,
  };
}

function swap(b: Uint8Array, off: number, width: number): void {
  b.subarray(off, off + width).reverse();
}

function le32(b: Uint8Array, off: number): number {
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
}

function le16(b: Uint8Array, off: number): number {
  return b[off]! | (b[off + 1]! << 8);
}

/**
 * A classic pcap file converted to big-endian by hand: every field of the file header
 * (magic u32, versions u16 ×2, thiszone, sigfigs, snaplen, linktype u32 ×4) and of each record
 * header (u32 ×4) is reversed; packet bytes are not touched.
 */
export function pcapToBigEndian(le: Uint8Array): Uint8Array {
  const b = le.slice();
  for (const [off, width] of [[0, 4], [4, 2], [6, 2], [8, 4], [12, 4], [16, 4], [20, 4]] as const) swap(b, off, width);
  for (let o = 24; o < le.length;) {
    const caplen = le32(le, o + 8);
    for (let f = 0; f < 16; f += 4) swap(b, o + f, 4);
    o += 16 + caplen;
  }
  return b;
}

/** Numeric options (code → width) per block type; every other option value is bytes/UTF-8. */
const NUMERIC_OPTIONS: Record<number, Record<number, number>> = {
  0x0a0d0d0a: {},
  1: { 8: 8, 14: 8 }, // if_speed, if_tsoffset (if_tsresol is one byte: nothing to swap)
  6: { 2: 4, 4: 8 }, // epb_flags, epb_dropcount
};

/**
 * A little-endian pcapng section (as our writer produces: SHB, IDB, EPB, SPB only) converted to
 * big-endian by hand: block type and both total lengths; SHB byte-order magic, versions and
 * section length; IDB link type, reserved and snaplen; EPB interface, timestamps and lengths;
 * SPB original length; every option's code and length and the numeric option values. This is
 * a big-endian writer in miniature; tshark reading its output (pcap-interop) vouches for it.
 */
export function pcapngToBigEndian(le: Uint8Array): Uint8Array {
  const b = le.slice();
  for (let o = 0; o < le.length;) {
    const type = le32(le, o);
    const len = le32(le, o + 4);
    swap(b, o, 4);
    swap(b, o + 4, 4);
    swap(b, o + len - 4, 4);
    let opts: number;
    switch (type) {
      case 0x0a0d0d0a:
        swap(b, o + 8, 4);
        swap(b, o + 12, 2);
        swap(b, o + 14, 2);
        swap(b, o + 16, 8);
        opts = 24;
        break;
      case 1:
        swap(b, o + 8, 2);
        swap(b, o + 10, 2);
        swap(b, o + 12, 4);
        opts = 16;
        break;
      case 6: {
        const caplen = le32(le, o + 20);
        for (let f = 8; f <= 24; f += 4) swap(b, o + f, 4);
        opts = 28 + Math.ceil(caplen / 4) * 4;
        break;
      }
      case 3:
        swap(b, o + 8, 4);
        opts = len - 4;
        break;
      default:
        throw new Error(`pcapngToBigEndian: block type ${type} is not one our writer produces`);
    }
    const numeric = NUMERIC_OPTIONS[type] ?? {};
    for (let i = o + opts; i < o + len - 4;) {
      const code = le16(le, i);
      const n = le16(le, i + 2);
      swap(b, i, 2);
      swap(b, i + 2, 2);
      if (code === 0) break;
      const width = numeric[code];
      if (width !== undefined) swap(b, i + 4, width);
      i += 4 + Math.ceil(n / 4) * 4;
    }
    o += len;
  }
  return b;
}

/** A little-endian pcapng block of `type` with `body` zero-padded to 32 bits. */
export function leBlock(type: number, body: Uint8Array): Uint8Array {
  const padded = Math.ceil(body.length / 4) * 4;
  const len = 12 + padded;
  const b = new Uint8Array(len);
  const v = new DataView(b.buffer);
  v.setUint32(0, type, true);
  v.setUint32(4, len, true);
  b.set(body, 8);
  v.setUint32(len - 4, len, true);
  return b;
}

/** A little-endian Simple Packet Block for `data` with original length `origLen`. */
export function spbBlock(data: Uint8Array, origLen: number): Uint8Array {
  const body = new Uint8Array(4 + data.length);
  new DataView(body.buffer).setUint32(0, origLen, true);
  body.set(data, 4);
  return leBlock(3, body);
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

/** Run a tool; return its stdout, or throw with its stderr when it fails. */
export function run(cmd: string, args: string[], input?: string): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', input, maxBuffer: 256 * 1024 * 1024 });
  if (r.error) throw new Error(`${cmd} could not run: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** Run a scapy script with the system interpreter; `args` become sys.argv[1:]. */
export function scapy(script: string, args: string[]): string {
  return run(SYSTEM_PYTHON, ['-c', script, ...args]);
}

/** "1700000000.123456789" → 1700000000123456789n (tshark prints 9 decimals). */
export function epochToNs(epoch: string): bigint {
  const [sec, frac = ''] = epoch.split('.');
  return BigInt(sec!) * 1_000_000_000n + BigInt(frac.padEnd(9, '0').slice(0, 9));
}

/** What tshark says about one frame (comment as stored, newlines included). */
export interface TsharkFrame {
  data: string;
  len: number;
  capLen: number;
  tsNs: bigint;
  interfaceId: number;
  interfaceName: string;
  direction: number;
  comment: string;
  encap: number;
}

/** The parts of tshark's `-T json -x -J "frame pkt_comment"` output that we compare. */
interface TsharkJsonFrame {
  _source: {
    layers: {
      frame_raw: [string];
      frame: Record<string, string | undefined> & {
        'frame.interface_id_tree'?: { 'frame.interface_name'?: string };
        'frame.packet_flags_tree'?: { 'frame.packet_flags_direction'?: string };
      };
      pkt_comment?: { 'frame.comment'?: string };
    };
  };
}

function parseTshark(json: string): TsharkFrame[] {
  return (JSON.parse(json) as TsharkJsonFrame[]).map(({ _source: { layers } }) => {
    const f = layers.frame;
    return {
      data: layers.frame_raw[0],
      len: Number(f['frame.len']),
      capLen: Number(f['frame.cap_len']),
      tsNs: epochToNs(f['frame.time_epoch'] ?? '0'), // absent for SPBs, which have no time
      interfaceId: Number(f['frame.interface_id'] ?? 0),
      interfaceName: f['frame.interface_id_tree']?.['frame.interface_name'] ?? '',
      direction: Number(f['frame.packet_flags_tree']?.['frame.packet_flags_direction'] ?? 0),
      comment: layers.pkt_comment?.['frame.comment'] ?? '',
      encap: Number(f['frame.encap_type']),
    };
  });
}

/** tshark shows each frame's bytes (-x) and the frame tree with its subtrees (-J). */
const JSON_ARGS = ['-T', 'json', '-x', '-J', 'frame pkt_comment'];

/** Every frame of `file` as tshark reads it. */
export function tsharkFrames(file: string): TsharkFrame[] {
  return parseTshark(run('tshark', ['-r', file, ...JSON_ARGS]));
}

/**
 * Start `tshark -i -` and return its stdin plus a promise of the frames it read from it. `-i -`
 * is the live-capture path of `wireshark -k -i -` (dumpcap reading a pcapng stream); `-r -`
 * would refuse Node's child stdin, which is a socket rather than a pipe.
 */
export function tsharkFromStdin(): { stdin: Writable; frames: Promise<TsharkFrame[]> } {
  const child = spawn('tshark', ['-i', '-', ...JSON_ARGS], { stdio: ['pipe', 'pipe', 'ignore'] });
  let out = '';
  child.stdout.setEncoding('utf8');
  child.stdout.on('data', (s: string) => { out += s; });
  const frames = new Promise<TsharkFrame[]>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(parseTshark(out)) : reject(new Error(`tshark -i - exited ${code}`))));
  });
  return { stdin: child.stdin, frames };
}

/** tshark's direction code for ours (frame.packet_flags_direction). */
export function directionCode(d: CapturedPacket['direction']): number {
  return d === 'inbound' ? 1 : d === 'outbound' ? 2 : 0;
}
