// Prebuilt encapsulation headers, one per session (the hot path copies one and patches a few
// fields per replica: wasm/replicate/encap.ts).
//
//  GRE-WCCP  │ Ethernet │ IPv4 (proto 47) │ GRE 0x0000 0x883E │ WCCP redirect: flags svc alt pri │ inner IP packet
//  ERSPAN II │ Ethernet │ IPv4 │ GRE 0x1000 0x88BE seq │ ver=1 vlan │ cos en t session │ index │ inner frame
//  ERSPAN III│ Ethernet │ IPv4 │ GRE 0x1000 0x22EB seq │ ver=2 vlan │ cos bso t session │ timestamp │ sgt p ft hw d gra o │ inner frame
//  GRE-seq   │ Ethernet │ IPv4 │ GRE 0x3000 0x0800/0x86DD key seq (RFC 2890) │ inner IP packet
//
// Contract: inputs are validated here (addresses, ids, ranges) and errors name the field.

import { Encap } from '../../../wasm/abi.ts';

export type EncapName = 'gre' | 'erspan2' | 'erspan3' | 'gre-seq';

export const ENCAP_BY_NAME: Readonly<Record<EncapName, Encap>> = {
  gre: Encap.GreWccp,
  erspan2: Encap.Erspan2,
  erspan3: Encap.Erspan3,
  'gre-seq': Encap.GreSeq,
};

export interface TemplateSpec {
  readonly encap: EncapName;
  readonly srcMac: Uint8Array;
  readonly dstMac: Uint8Array;
  /** 802.1Q tag on the path to the device, if that port is a trunk. */
  readonly vlan?: number;
  readonly srcIp: number; // router address, u32
  readonly dstIp: number; // device address, u32
  readonly ttl?: number;
  readonly dscp?: number;
  /** WCCP service id carried in the redirect header (GRE-WCCP). */
  readonly serviceId?: number;
  /** ERSPAN session id, 0..1023. */
  readonly erspanSession?: number;
  /** ERSPAN III hardware id, 0..63. */
  readonly hardwareId?: number;
  /** GRE-seq: the stream id carried in the GRE key (the far end's eliminator keys streams by it). */
  readonly streamId?: number;
}

export interface Template {
  readonly bytes: Uint8Array;
  readonly ipOffset: number;
  readonly greOffset: number;
}

const ETH_HEADER = 14;
const VLAN_TAG = 4;
const IPV4_HEADER = 20;
const GRE_BASE = 4;
const GRE_SEQ = 4;
const WCCP_REDIRECT = 4;
const ERSPAN2_HEADER = 8;
const ERSPAN3_HEADER = 12;
const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_VLAN = 0x8100;
const IPPROTO_GRE = 47;
const GRE_FLAG_SEQUENCE = 0x1000;
const GRE_FLAG_KEY = 0x2000;
const GRE_KEY = 4;
const GRE_PROTO_WCCP = 0x883e;
const GRE_PROTO_ERSPAN2 = 0x88be;
const GRE_PROTO_ERSPAN3 = 0x22eb;
const ERSPAN_GRANULARITY_100NS = 1; // draft-foschiano-erspan §4.3: 01 = 100 ns
const DEFAULT_TTL = 64;

export class TemplateError extends Error {
  override readonly name = 'TemplateError';
}

function check(ok: boolean, field: string, detail: string): void {
  if (!ok) throw new TemplateError(`${field}: ${detail}`);
}

/** Bytes of encapsulation (Ethernet through the last tunnel header) for an encap, untagged. */
export function encapOverhead(encap: EncapName): number {
  const tunnel = encap === 'gre' ? GRE_BASE + WCCP_REDIRECT
    : encap === 'erspan2' ? GRE_BASE + GRE_SEQ + ERSPAN2_HEADER
      : encap === 'erspan3' ? GRE_BASE + GRE_SEQ + ERSPAN3_HEADER
        : GRE_BASE + GRE_KEY + GRE_SEQ;
  return ETH_HEADER + IPV4_HEADER + tunnel;
}

/** Builds a session's template. */
export function buildTemplate(spec: TemplateSpec): Template {
  check(spec.srcMac.length === 6, 'srcMac', 'must be 6 bytes');
  check(spec.dstMac.length === 6, 'dstMac', 'must be 6 bytes');
  check(spec.vlan === undefined || (Number.isInteger(spec.vlan) && spec.vlan >= 1 && spec.vlan <= 4094), 'vlan', 'must be 1..4094');
  check(Number.isInteger(spec.srcIp) && spec.srcIp >= 0 && spec.srcIp <= 0xffffffff, 'srcIp', 'must be an IPv4 address');
  check(Number.isInteger(spec.dstIp) && spec.dstIp >= 0 && spec.dstIp <= 0xffffffff, 'dstIp', 'must be an IPv4 address');
  const ttl = spec.ttl ?? DEFAULT_TTL;
  check(Number.isInteger(ttl) && ttl >= 1 && ttl <= 255, 'ttl', 'must be 1..255');
  const dscp = spec.dscp ?? 0;
  check(Number.isInteger(dscp) && dscp >= 0 && dscp <= 63, 'dscp', 'must be 0..63');
  const serviceId = spec.serviceId ?? 0;
  check(Number.isInteger(serviceId) && serviceId >= 0 && serviceId <= 255, 'serviceId', 'must be 0..255');
  const session = spec.erspanSession ?? 0;
  check(Number.isInteger(session) && session >= 0 && session <= 1023, 'erspanSession', 'must be 0..1023');
  const hw = spec.hardwareId ?? 0;
  check(Number.isInteger(hw) && hw >= 0 && hw <= 63, 'hardwareId', 'must be 0..63');
  const streamId = spec.streamId ?? 0;
  check(Number.isInteger(streamId) && streamId >= 0 && streamId <= 0xffffffff, 'streamId', 'must be a u32');

  const l2 = ETH_HEADER + (spec.vlan !== undefined ? VLAN_TAG : 0);
  const length = l2 + encapOverhead(spec.encap) - ETH_HEADER;
  const b = new Uint8Array(length);
  const dv = new DataView(b.buffer);
  b.set(spec.dstMac, 0);
  b.set(spec.srcMac, 6);
  if (spec.vlan !== undefined) {
    dv.setUint16(12, ETHERTYPE_VLAN);
    dv.setUint16(14, spec.vlan);
    dv.setUint16(16, ETHERTYPE_IPV4);
  } else {
    dv.setUint16(12, ETHERTYPE_IPV4);
  }
  const ip = l2;
  b[ip] = 0x45;
  b[ip + 1] = dscp << 2;
  b[ip + 8] = ttl;
  b[ip + 9] = IPPROTO_GRE;
  dv.setUint32(ip + 12, spec.srcIp);
  dv.setUint32(ip + 16, spec.dstIp);
  const gre = ip + IPV4_HEADER;
  switch (spec.encap) {
    case 'gre':
      dv.setUint16(gre + 2, GRE_PROTO_WCCP);
      b[gre + GRE_BASE + 1] = serviceId;
      break;
    case 'erspan2': {
      dv.setUint16(gre, GRE_FLAG_SEQUENCE);
      dv.setUint16(gre + 2, GRE_PROTO_ERSPAN2);
      const e = gre + GRE_BASE + GRE_SEQ;
      dv.setUint16(e, 1 << 12); // version 1 (type II), VLAN patched per packet
      dv.setUint16(e + 2, session); // cos 0, en patched, t patched
      break;
    }
    case 'erspan3': {
      dv.setUint16(gre, GRE_FLAG_SEQUENCE);
      dv.setUint16(gre + 2, GRE_PROTO_ERSPAN3);
      const e = gre + GRE_BASE + GRE_SEQ;
      dv.setUint16(e, 2 << 12); // version 2 (type III)
      dv.setUint16(e + 2, session);
      // SGT 0; P 0, FT 0 (Ethernet frame), hardware id, D 0 (ingress), granularity, O 0.
      dv.setUint16(e + 10, (hw << 4) | (ERSPAN_GRANULARITY_100NS << 1));
      break;
    }
    case 'gre-seq':
      dv.setUint16(gre, GRE_FLAG_KEY | GRE_FLAG_SEQUENCE);
      dv.setUint16(gre + 2, ETHERTYPE_IPV4); // patched per packet for IPv6
      dv.setUint32(gre + GRE_BASE, streamId); // the sequence follows, patched per packet
      break;
    default:
      throw new TemplateError(`encap: unknown "${spec.encap as string}" (gre, erspan2, erspan3, gre-seq)`);
  }
  return { bytes: b, ipOffset: ip, greOffset: gre };
}
