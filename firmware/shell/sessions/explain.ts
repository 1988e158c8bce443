// `explain`: what the router would do with one packet, answered by the real data plane (the same
// wasm, the tables that are running now) on a scratch instance, Katran-simulator style. The
// packet is built from a description (port, protocol, addresses, ports, VLAN, length).
//
// Contract: the description is untrusted; every bad field is a ControlError naming it. The
// scratch instance starts with fresh session state, so a sampled or rate-limited session shows
// what its first packet would meet; the running router's counters are not touched.

import { ControlError, type ExplainReport, type PacketDescription } from '../control.ts';
import { buildFrame, Eth, Ipv4, Ipv6, Tcp, TcpFlag, Udp, type FrameSpec } from '../../../hal/drivers/sim/packets.ts';
import { ipv4Bytes, parseIpv4, parseIpv6, parseMac } from '../../../hal/net/address.ts';
import { simulateTables } from '../../runtime/simulate.ts';
import { SESSION_COUNTERS, SESSION_OUTCOMES } from '../../runtime/counters.ts';
import type { DataPlaneSpec } from '../../runtime/dataplane.ts';
import type { CompiledTables } from './compile.ts';

/** The sender of an explained packet: a locally administered address no board uses. */
const EXPLAIN_SOURCE_MAC = Uint8Array.of(0x02, 0x65, 0x78, 0x70, 0x6c, 0x6e);
const MAX_PORT = 65535;
const MIN_VLAN = 1;
const MAX_VLAN = 4094;
/** Ephemeral client port and well-known server port when the description leaves them out. */
const DEFAULT_SPORT = 40000;
const DEFAULT_DPORT = 80;

export interface ExplainContext {
  readonly tables: CompiledTables;
  /** The line card's data-plane spec (ports in card order). */
  readonly spec: DataPlaneSpec;
  /** MAC of each port, in card order (the packet is addressed to the router's port). */
  readonly portMacs: readonly string[];
}

function bad(field: string, detail: string): never {
  throw new ControlError(field, detail);
}

function address(field: string, text: unknown): Uint8Array {
  if (typeof text !== 'string') bad(field, 'must be an IPv4 or IPv6 address');
  const v4 = parseIpv4(text);
  if (v4 !== null) return ipv4Bytes(v4);
  const v6 = parseIpv6(text);
  if (v6 !== null) return v6;
  return bad(field, `"${text}" is not an IPv4 or IPv6 address`);
}

function port(field: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 0 || value > MAX_PORT) bad(field, `must be 0..${MAX_PORT}`);
  return value;
}

/** The frame a description stands for. */
export function describedFrame(p: PacketDescription, dstMac: Uint8Array): Uint8Array {
  const src = address('src', p.src);
  const dst = address('dst', p.dst);
  if (src.length !== dst.length) bad('dst', 'must be of the same family as src');
  if (p.vlan !== undefined && (!Number.isInteger(p.vlan) || p.vlan < MIN_VLAN || p.vlan > MAX_VLAN)) bad('vlan', `must be ${MIN_VLAN}..${MAX_VLAN}`);
  let l4: FrameSpec['l4'];
  let l4Header: number;
  switch (p.proto) {
    case 'tcp':
      l4 = { proto: 'tcp', srcPort: port('sport', p.sport, DEFAULT_SPORT), dstPort: port('dport', p.dport, DEFAULT_DPORT), seq: 1, ack: 1, flags: TcpFlag.Psh | TcpFlag.Ack };
      l4Header = Tcp.Header;
      break;
    case 'udp':
      l4 = { proto: 'udp', srcPort: port('sport', p.sport, DEFAULT_SPORT), dstPort: port('dport', p.dport, DEFAULT_DPORT) };
      l4Header = Udp.Header;
      break;
    case 'icmp':
      if (p.sport !== undefined || p.dport !== undefined) bad(p.sport !== undefined ? 'sport' : 'dport', 'ICMP has no ports');
      l4 = { proto: 'icmp', id: 1, seq: 1 };
      l4Header = 8;
      break;
    default:
      return bad('proto', `"${String(p.proto)}" is not tcp, udp or icmp`);
  }
  // length: the IP packet's total length; the payload makes up the difference.
  const headers = (src.length === 4 ? Ipv4.Header : Ipv6.Header) + l4Header;
  const length = p.length ?? headers;
  const maxLength = MAX_PORT - (p.vlan !== undefined ? 4 : 0) - Eth.Header;
  if (!Number.isInteger(length) || length < headers || length > maxLength) bad('length', `must be ${headers}..${maxLength} (the IP packet's length, headers included)`);
  return buildFrame({ srcMac: EXPLAIN_SOURCE_MAC, dstMac, vlan: p.vlan, src, dst, l4, payload: new Uint8Array(length - headers) });
}

/** Runs one described packet through a scratch data plane with the running tables. */
export async function explainPacket(p: PacketDescription, ctx: ExplainContext): Promise<ExplainReport> {
  const names = ctx.spec.ports.map((q) => q.name);
  const inPort = names.indexOf(p.port);
  if (inPort < 0) bad('port', `no port named "${String(p.port)}" (ports: ${names.join(', ')})`);
  const frame = describedFrame(p, parseMac(ctx.portMacs[inPort])!);
  const result = await simulateTables(ctx.tables, [{ port: inPort, frame }], ctx.spec);

  const counters: Record<string, number> = {};
  result.ports.forEach((c, i) => {
    for (const [k, v] of Object.entries(c)) if (v !== 0) counters[`port ${names[i]} ${k}`] = v;
  });
  const sessions: Array<{ name: string; outcome: string }> = [];
  for (const [name, c] of Object.entries(result.sessions)) {
    for (const [k, v] of Object.entries(c)) if (v !== 0) counters[`session ${name} ${k}`] = v;
    if (c.matched === 0) continue;
    const outcome = SESSION_OUTCOMES.map((k) => SESSION_COUNTERS[k].name).find((k) => c[k] !== 0) ?? 'matched';
    sessions.push({ name, outcome: outcome === 'replicated' && c.held !== 0 ? 'held' : outcome });
  }
  const rx = result.ports[inPort];
  const verdict = rx.redirected !== 0 ? 'redirected' : rx.forwarded !== 0 ? 'forwarded' : 'dropped';
  const egressIndex = result.sent.findIndex((frames) => frames.some((f) => f.queue === 'originals'));
  return { verdict, egress: egressIndex < 0 ? null : names[egressIndex], sessions, counters };
}
