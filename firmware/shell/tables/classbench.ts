// ClassBench / DPDK ACL rule files and header traces (the formats `dpdk-test-acl` reads; see
// ../shared/reference/performance.md §1.3).
//
//   rule:  @SRC/len  DST/len  SPLO : SPHI  DPLO : DPHI  PROTO/MASK  [ignored…]
//   trace: SRC DST SPORT DPORT PROTO [ignored…]        (integers, decimal or 0x…)
//
// Priority is line order (line 1 first); a rule's id is its 1-based line number among rules.
// Inputs are untrusted files: every malformed line is an error naming the file line and field.

import { Lane, LaneValue } from '../../../wasm/abi.ts';
import { anyBox, prefixWordRanges, type Box } from './box.ts';
import type { ClassifierRule } from './tree.ts';

export class RuleFileError extends Error {
  override readonly name = 'RuleFileError';
}

/** Parses an integer the way strtoul(…, 0) does for the forms these files use. */
function parseInteger(token: string, what: string, where: string, max: number): number {
  const v = /^0x[0-9a-f]+$/i.test(token) ? parseInt(token, 16) : /^\d+$/.test(token) ? parseInt(token, 10) : NaN;
  if (!Number.isFinite(v) || v > max) throw new RuleFileError(`${where}: ${what} "${token}" is not an integer in 0..${max}`);
  return v;
}

function parseIpv4(token: string, where: string): number {
  const parts = token.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) {
    throw new RuleFileError(`${where}: "${token}" is not a dotted IPv4 address`);
  }
  return ((Number(parts[0]) << 24) | (Number(parts[1]) << 16) | (Number(parts[2]) << 8) | Number(parts[3])) >>> 0;
}

function parsePrefix(token: string, where: string): [number, number] {
  const [addr, len, extra] = token.split('/');
  if (len === undefined || extra !== undefined) throw new RuleFileError(`${where}: "${token}" is not ADDRESS/LENGTH`);
  const bits = parseInteger(len, 'prefix length', where, 32);
  const [range] = prefixWordRanges([parseIpv4(addr, where)], bits);
  return range;
}

/** Values 0..255 matching proto/mask, merged into ranges. */
function protocolRanges(proto: number, mask: number): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  for (let p = 0; p < 256; p++) {
    if ((p & mask) !== (proto & mask)) continue;
    const last = ranges[ranges.length - 1];
    if (last && last[1] === p - 1) last[1] = p;
    else ranges.push([p, p]);
  }
  return ranges;
}

/** A full port range in a rule also covers packets that have no ports (ICMP, fragments). */
function portRange(lo: number, hi: number): [number, number] {
  return lo === 0 && hi === 0xffff ? [0, LaneValue.PortNone] : [lo, hi];
}

/** Parses a rule file. Rules whose protocol mask is not one range become several boxes with one id. */
export function parseRuleFile(text: string, name = 'rules'): ClassifierRule[] {
  const rules: ClassifierRule[] = [];
  let id = 0;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '' || line.startsWith('#')) continue;
    const where = `${name}:${i + 1}`;
    if (!line.startsWith('@')) throw new RuleFileError(`${where}: a rule line starts with "@"`);
    const t = line.slice(1).split(/\s+/);
    if (t.length < 9) throw new RuleFileError(`${where}: expected 9 fields (SRC DST SPLO : SPHI DPLO : DPHI PROTO/MASK), found ${t.length}`);
    if (t[3] !== ':' || t[6] !== ':') throw new RuleFileError(`${where}: port ranges are written "LO : HI"`);
    const src = parsePrefix(t[0], where);
    const dst = parsePrefix(t[1], where);
    const sp = [parseInteger(t[2], 'source port', where, 0xffff), parseInteger(t[4], 'source port', where, 0xffff)];
    const dp = [parseInteger(t[5], 'destination port', where, 0xffff), parseInteger(t[7], 'destination port', where, 0xffff)];
    if (sp[0] > sp[1] || dp[0] > dp[1]) throw new RuleFileError(`${where}: port range with LO > HI`);
    const [protoText, maskText] = t[8].split('/');
    if (maskText === undefined) throw new RuleFileError(`${where}: protocol is written PROTO/MASK`);
    const proto = parseInteger(protoText, 'protocol', where, 0xff);
    const mask = parseInteger(maskText, 'protocol mask', where, 0xff);
    id++;
    for (const [plo, phi] of protocolRanges(proto, mask)) {
      const box: Box = anyBox();
      box.lo[Lane.Family] = box.hi[Lane.Family] = LaneValue.FamilyIpv4;
      [box.lo[Lane.Src0], box.hi[Lane.Src0]] = src;
      [box.lo[Lane.Dst0], box.hi[Lane.Dst0]] = dst;
      [box.lo[Lane.SrcPort], box.hi[Lane.SrcPort]] = portRange(sp[0], sp[1]);
      [box.lo[Lane.DstPort], box.hi[Lane.DstPort]] = portRange(dp[0], dp[1]);
      box.lo[Lane.Proto] = plo;
      box.hi[Lane.Proto] = phi;
      rules.push({ box, category: 0, id });
    }
  }
  return rules;
}

export interface Trace {
  /** TupleField layout, 16 bytes per packet. */
  readonly tuples: Uint8Array;
  readonly count: number;
  /** The last column when the line has more than 5 fields (ClassBench: expected rule), else −1. */
  readonly expected: Int32Array;
}

/** Parses a header trace into packed 5-tuples. */
export function parseTrace(text: string, name = 'trace'): Trace {
  const lines = text.split('\n');
  const tuples = new Uint8Array(lines.length * 16);
  const dv = new DataView(tuples.buffer);
  const expected = new Int32Array(lines.length);
  let n = 0;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim();
    if (line === '' || line.startsWith('#')) continue;
    const where = `${name}:${i + 1}`;
    const t = line.split(/\s+/);
    if (t.length < 5) throw new RuleFileError(`${where}: expected SRC DST SPORT DPORT PROTO, found ${t.length} fields`);
    dv.setUint32(n * 16, parseInteger(t[0], 'source address', where, 0xffffffff), true);
    dv.setUint32(n * 16 + 4, parseInteger(t[1], 'destination address', where, 0xffffffff), true);
    dv.setUint16(n * 16 + 8, parseInteger(t[2], 'source port', where, 0xffff), true);
    dv.setUint16(n * 16 + 10, parseInteger(t[3], 'destination port', where, 0xffff), true);
    dv.setUint32(n * 16 + 12, parseInteger(t[4], 'protocol', where, 0xff), true);
    expected[n] = t.length > 5 ? parseInteger(t[t.length - 1], 'expected rule', where, 0x7fffffff) : -1;
    n++;
  }
  return { tuples: tuples.subarray(0, n * 16), count: n, expected: expected.subarray(0, n) };
}
