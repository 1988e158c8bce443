// Race sessions, control side (docs/race.md): the group of equivalent servers a race session
// balances over, validated and compiled into what the bank holds (wasm/abi.ts RaceGroup), and
// the rules of the session's reply category.
//
// A race session matches the client side of a service with its filter (say `tcp dst port 80 and
// dst host VIP`). What the members send back is matched by a second category of the same session
// (Mode.RaceReply): the filter mirrored — source and destination addresses and ports swapped,
// protocol and family kept, every other lane open — and restricted to the members' ports. The hot
// path then tells a member's answer from other traffic by the sender's port and MAC.
//
// Contract: validates everything the hot path trusts (member ports within the card's ports, MACs,
// the budget's bounds); every error names its field through `bad`. No state.

import { Lane } from '../../../wasm/abi.ts';
import { anyBox, type Box } from '../tables/box.ts';
import { parseIpv4 } from '../net/address.ts';
import * as L from './limits.ts';

/** One member of a race group: an equivalent server that holds the service address itself. */
export interface RaceMemberSpec {
  /** Port index the member is reached by (the L2 segment it shares with the router). */
  readonly port: number;
  /** The member's MAC: frames for it are rewritten to this destination; its answers come from it. */
  readonly mac: Uint8Array;
  /** The member's own address (its WCCP identity), dotted IPv4: for show and explain, not used per packet. */
  readonly address: string;
  /** Source MAC of the frames the router sends it (the router's MAC on that port); default the session's source.mac. */
  readonly routerMac?: Uint8Array;
}

/** A race session's group and budget. */
export interface RaceGroupSpec {
  /** 1..RACE_MAX_MEMBERS members; member 0 receives the original of every raced opener. Keep the order stable. */
  readonly members: readonly RaceMemberSpec[];
  /** Raced new flows per second (the time bucket), 0: no time cap. Default DEFAULT_RACE_FLOWS_PER_SECOND. */
  readonly flowsPerSecond?: number;
  /** Depth of both budget buckets, in flows. Default DEFAULT_RACE_BURST. */
  readonly burst?: number;
  /** Share of new flows raced at most, percent (0..100, fractions allowed); 100 (default): no share cap. */
  readonly sharePercent?: number;
}

/** A group as the bank stores it. */
export interface CompiledRaceGroup {
  readonly members: ReadonlyArray<{ readonly port: number; readonly mac: Uint8Array; readonly routerMac: Uint8Array }>;
  readonly sharePpm: number;
  readonly flowsPerSecond: number;
  readonly burst: number;
}

type Bad = (field: string, detail: string) => never;

const PPM_PER_PERCENT = 10_000;

const isUnicastMac = (m: unknown): m is Uint8Array =>
  m instanceof Uint8Array && m.length === 6 && (m[0] & 1) === 0 && m.some((b) => b !== 0);

const hexMac = (m: Uint8Array): string => Array.from(m, (b) => b.toString(16).padStart(2, '0')).join(':');

/**
 * Checks a race session's group and returns it as the bank stores it. `portCount`: ports of the
 * line card the tables are for (member ports must be below it); without it, the ABI's limit.
 */
export function compileRaceGroup(g: RaceGroupSpec | undefined, defaultRouterMac: Uint8Array, portCount: number, bad: Bad): CompiledRaceGroup {
  if (g === undefined || g === null || typeof g !== 'object') bad('race', 'a race session needs its group (race.members)');
  const members = g.members;
  if (!Array.isArray(members) || members.length === 0) bad('race.members', `must list 1..${L.RACE_MAX_MEMBERS} members`);
  if (members.length > L.RACE_MAX_MEMBERS) bad('race.members', `at most ${L.RACE_MAX_MEMBERS} members, got ${members.length}`);
  const out: Array<{ port: number; mac: Uint8Array; routerMac: Uint8Array }> = [];
  const addresses = new Map<number, number>();
  members.forEach((m, i) => {
    const at = `race.members.${i}`;
    if (m === null || typeof m !== 'object') bad(at, 'must be an object {port, mac, address}');
    if (!Number.isInteger(m.port) || m.port < 0 || m.port >= portCount) bad(`${at}.port`, `must be a port index 0..${portCount - 1}, got ${String(m.port)}`);
    if (!isUnicastMac(m.mac)) bad(`${at}.mac`, 'must be 6 bytes of a unicast MAC address, not all zero');
    const routerMac = m.routerMac ?? defaultRouterMac;
    if (!isUnicastMac(routerMac)) bad(m.routerMac === undefined ? 'source.mac' : `${at}.routerMac`, 'must be 6 bytes of a unicast MAC address, not all zero');
    let address: number;
    try {
      address = parseIpv4(String(m.address));
    } catch (e) {
      bad(`${at}.address`, (e as Error).message);
    }
    const same = addresses.get(address);
    if (same !== undefined) bad(`${at}.address`, `member ${same} has the same address`);
    addresses.set(address, i);
    const twin = out.findIndex((o) => o.port === m.port && hexMac(o.mac) === hexMac(m.mac));
    if (twin >= 0) bad(`${at}.mac`, `member ${twin} has the same port and MAC (${hexMac(m.mac)}): their answers could not be told apart`);
    out.push({ port: m.port, mac: m.mac, routerMac });
  });
  const flowsPerSecond = g.flowsPerSecond ?? L.DEFAULT_RACE_FLOWS_PER_SECOND;
  if (!Number.isInteger(flowsPerSecond) || flowsPerSecond < 0 || flowsPerSecond > L.MAX_RACE_FLOWS_PER_SECOND) {
    bad('race.flowsPerSecond', `must be 0 (no time cap) or up to ${L.MAX_RACE_FLOWS_PER_SECOND}`);
  }
  const burst = g.burst ?? L.DEFAULT_RACE_BURST;
  if (!Number.isInteger(burst) || burst < 1 || burst > L.MAX_RACE_BURST) bad('race.burst', `must be 1..${L.MAX_RACE_BURST} flows`);
  const share = g.sharePercent ?? 100;
  if (typeof share !== 'number' || !Number.isFinite(share) || share < 0 || share > 100) bad('race.sharePercent', 'must be 0..100');
  return { members: out, sharePpm: Math.round(share * PPM_PER_PERCENT), flowsPerSecond, burst };
}

// Lanes a mirrored box swaps (source ↔ destination), and those it keeps; all others are opened.
const SWAPS: ReadonlyArray<readonly [number, number]> = [
  [Lane.Src0, Lane.Dst0], [Lane.Src1, Lane.Dst1], [Lane.Src2, Lane.Dst2], [Lane.Src3, Lane.Dst3], [Lane.SrcPort, Lane.DstPort],
];
const KEPT: readonly number[] = [Lane.Proto, Lane.Family];

/**
 * The reply rules of a race session: each of its filter's boxes mirrored, once per distinct
 * member port (its InPort). Lanes that describe the client's side of the path (ports, direction,
 * VLANs, WCCP lanes) are opened: members answer from their own segment.
 */
export function raceReplyBoxes(filterBoxes: readonly Box[], memberPorts: readonly number[]): Box[] {
  const ports = [...new Set(memberPorts)].sort((a, b) => a - b);
  const out: Box[] = [];
  for (const b of filterBoxes) {
    for (const port of ports) {
      const m = anyBox();
      for (const [s, d] of SWAPS) {
        m.lo[s] = b.lo[d];
        m.hi[s] = b.hi[d];
        m.lo[d] = b.lo[s];
        m.hi[d] = b.hi[s];
      }
      for (const k of KEPT) {
        m.lo[k] = b.lo[k];
        m.hi[k] = b.hi[k];
      }
      m.lo[Lane.InPort] = port;
      m.hi[Lane.InPort] = port;
      out.push(m);
    }
  }
  return out;
}
