// tshark as the independent oracle for the WCCP suites: extract WCCP payloads from captures,
// print the dissector's fields, and say which values Wireshark's dissector (packet-wccp.c)
// shows for a message we decoded. No tests live here.

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { encodePcap, LINKTYPE } from '../../hal/drivers/pcap/format/index.ts';
import { ComponentType, encodeComponent, MessageType } from '../../firmware/shell/wccp/index.ts';
import type {
  AssignmentInfo,
  CapabilitiesInfo,
  CommandExtension,
  KnownComponentType,
  MaskValueSet,
  RouterIdElement,
  WccpMessage,
  WebCacheIdentityElement,
} from '../../firmware/shell/wccp/index.ts';
import { dotted, hex } from './wccp-fixtures.ts';

/** The dissector fields the suites compare, in tshark's spelling. */
export const TSHARK_FIELDS = [
  'wccp.message',
  'wccp.message_header_length',
  'wccp.item_type',
  'wccp.item_length',
  'wccp.security_info_option',
  'wccp.security_md5_checksum',
  'wccp.service_info_type',
  'wccp.service_info_std_id',
  'wccp.service_info_dyn_id',
  'wccp.service_info_priority',
  'wccp.service_info_protocol',
  'wccp.service_info_flags',
  'wccp.service_info_source_port',
  'wccp.service_info_destination_port',
  'wccp.router_identity.router_ip.ipv4',
  'wccp.router_identity.ip_address.ipv4',
  'wccp.router_identity.receive_id',
  'wccp.router_identity.send_to_ip.ipv4',
  'wccp.router.num_recv_ip',
  'wccp.router_identity.received_from_ip.ipv4',
  'wccp.wc_identity_ip_address.ipv4',
  'wccp.web_cache_identity.ipv4',
  'wccp.web_cache_identity.hash_rev',
  'wccp.web_cache_identity.flags',
  'wccp.bucket_bit',
  'wccp.assignment_weight',
  'wccp.assignment_status',
  'wccp.router_view.member_change_num',
  'wccp.assignment_key.ipv4',
  'wccp.assignment_key.change_num',
  'wccp.router_view.router_num',
  'wccp.router_view.ipv4',
  'wccp.router_query_info.ipv4',
  'wccp.wc_view_info.change_num',
  'wccp.wc_view_info.router_num',
  'wccp.wc_view_info.router_ip.ipv4',
  'wccp.wc_view_info.wc_num',
  'wccp.wc_view_info.wc_ip.ipv4',
  'wccp.assignment_info.router_num',
  'wccp.assignment_info.router_ip.ipv4',
  'wccp.router_assignment_element.change_num',
  'wccp.hash_buckets_assignment.wc_num',
  'wccp.hash_buckets_assignment.wc_ip.ipv4',
  'wccp.cache_ip',
  'wccp.bucket',
  'wccp.router_query_info.send_to_ip.ipv4',
  'wccp.router_query_info.target_ip.ipv4',
  'wccp.capability_element.type',
  'wccp.capability_element.length',
  'wccp.capability_info.value',
  'wccp.capability.value',
  'wccp.alt_assignment_info.assignment_type',
  'wccp.alt_assignment_info.assignment_length',
  'wccp.alt_assignment_info.num_routers',
  'wccp.mask_value_set_list.num_elements',
  'wccp.mask_element.src_ip',
  'wccp.mask_element.dest_ip',
  'wccp.mask_element.src_port',
  'wccp.mask_element.dest_port',
  'wccp.mask_value_set_selement.value_element_num',
  'wccp.value_element.src_ip.ipv4',
  'wccp.value_element.dest_ip.ipv4',
  'wccp.value_element.src_port',
  'wccp.value_element.dest_port',
  'wccp.value_element.web_cache_ip.ipv4',
  'wccp.command_element_type',
  'wccp.command_element_length',
  'wccp.command_element_shudown_ip_address.ipv4',
] as const;

const AGGREGATOR = '|';

/** One WCCP frame as tshark prints it: the payload and every field (occurrences joined by |). */
export interface TsharkWccpFrame {
  readonly frame: number;
  readonly payload: Uint8Array;
  readonly fields: Readonly<Record<string, string>>;
  /** Expert-info messages tshark attached to the frame. */
  readonly expert: string;
}

/** Every frame tshark dissects as WCCP in `file`, in file order. */
export function tsharkWccpFrames(file: string): TsharkWccpFrame[] {
  const columns = ['frame.number', 'udp.payload', '_ws.expert.message', ...TSHARK_FIELDS];
  const args = ['-r', file, '-Y', 'wccp', '-T', 'fields', '-E', 'occurrence=a', '-E', `aggregator=${AGGREGATOR}`, '-E', 'separator=/t'];
  for (const c of columns) args.push('-e', c);
  const r = spawnSync('tshark', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw new Error(`tshark could not run: ${r.error.message}`);
  if (r.status !== 0) throw new Error(`tshark exited ${r.status}: ${r.stderr}`);
  return r.stdout
    .split('\n')
    .filter((l) => l.length > 0)
    .map((line) => {
      const cells = line.split('\t');
      const fields: Record<string, string> = {};
      TSHARK_FIELDS.forEach((f, i) => (fields[f] = cells[i + 3] ?? ''));
      return {
        frame: Number(cells[0]),
        payload: new Uint8Array(Buffer.from(cells[1] ?? '', 'hex')),
        expert: cells[2] ?? '',
        fields,
      };
    });
}

const IP_HEADER = 20;
const UDP_HEADER = 8;
const WCCP_PORT = 2048;
const IPV4_VERSION_IHL = 0x45;
const DEFAULT_TTL = 64;
const PROTO_UDP = 17;

/** A raw-IPv4 frame carrying `payload` in UDP 2048 → 2048 (checksums left 0: not verified). */
function ipv4UdpFrame(payload: Uint8Array, src: number, dst: number): Uint8Array {
  const frame = new Uint8Array(IP_HEADER + UDP_HEADER + payload.length);
  const v = new DataView(frame.buffer);
  v.setUint8(0, IPV4_VERSION_IHL);
  v.setUint16(2, frame.length);
  v.setUint8(8, DEFAULT_TTL);
  v.setUint8(9, PROTO_UDP);
  v.setUint32(12, src);
  v.setUint32(16, dst);
  v.setUint16(IP_HEADER, WCCP_PORT);
  v.setUint16(IP_HEADER + 2, WCCP_PORT);
  v.setUint16(IP_HEADER + 4, UDP_HEADER + payload.length);
  frame.set(payload, IP_HEADER + UDP_HEADER);
  return frame;
}

/** Write `payloads` as UDP 2048 datagrams to a temporary pcap and let tshark dissect them. */
export function tsharkDissect(payloads: readonly Uint8Array[]): TsharkWccpFrame[] {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinflow-wccp-'));
  try {
    const file = path.join(dir, 'synthetic.pcap');
    const base = 1_700_000_000_000_000_000n;
    const packets = payloads.map((p, i) => ({ data: ipv4UdpFrame(p, 0xc0000201, 0xc000020a), tsNs: base + BigInt(i) * 1_000_000n }));
    fs.writeFileSync(file, encodePcap(packets, { linkType: LINKTYPE.RAW }));
    return tsharkWccpFrames(file);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

// ── What the dissector shows for a decoded message ──────────────────────────────────────────

const hex32 = (v: number) => `0x${v.toString(16).padStart(8, '0')}`;
const hex16 = (v: number) => `0x${v.toString(16).padStart(4, '0')}`;
const PORTS_DEFINED = 0x10;
const SRC_PORT_HASH = 0x4;
const BUCKETS = 256;

function byteSwap32(v: number): number {
  return (((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24)) >>> 0;
}

/** Component type and typed value, in message order (the draft's, which the encoder uses). */
function componentsOf(m: WccpMessage): Array<[KnownComponentType, unknown]> {
  const out: Array<[KnownComponentType, unknown]> = [
    [ComponentType.SecurityInfo, m.security],
    [ComponentType.ServiceInfo, m.service],
  ];
  const push = (t: KnownComponentType, v: unknown) => {
    if (v !== undefined) out.push([t, v]);
  };
  switch (m.type) {
    case MessageType.HereIAm:
      push(ComponentType.WebCacheIdentityInfo, m.webCacheIdentity);
      push(ComponentType.WebCacheViewInfo, m.webCacheView);
      push(ComponentType.CapabilitiesInfo, m.capabilities);
      push(ComponentType.CommandExtension, m.commandExtension);
      break;
    case MessageType.ISeeYou:
      push(ComponentType.RouterIdentityInfo, m.routerIdentity);
      push(ComponentType.RouterViewInfo, m.routerView);
      push(ComponentType.AssignmentInfo, m.assignmentInfo);
      push(ComponentType.AssignmentMap, m.assignmentMap);
      push(ComponentType.CapabilitiesInfo, m.capabilities);
      push(ComponentType.CommandExtension, m.commandExtension);
      break;
    case MessageType.RedirectAssign:
      push(ComponentType.AssignmentInfo, m.assignmentInfo);
      push(ComponentType.AlternateAssignment, m.alternateAssignment);
      break;
    case MessageType.RemovalQuery:
      push(ComponentType.RouterQueryInfo, m.routerQuery);
      break;
  }
  return out;
}

/** The fields Wireshark shows for `m` (decoded from `datagram`), in TSHARK_FIELDS spelling. */
export function expectedTsharkFields(m: WccpMessage, datagram: Uint8Array): Record<string, string> {
  const acc = new Map<string, string[]>();
  const add = (k: (typeof TSHARK_FIELDS)[number], v: string | number) => {
    const list = acc.get(k) ?? [];
    list.push(String(v));
    acc.set(k, list);
  };
  const routerElement = (e: RouterIdElement) => {
    add('wccp.router_identity.ip_address.ipv4', dotted(e.routerId));
    add('wccp.router_identity.receive_id', e.receiveId);
  };
  const sets = (list: readonly MaskValueSet[]) => {
    add('wccp.mask_value_set_list.num_elements', list.length);
    for (const s of list) {
      add('wccp.mask_element.src_ip', hex32(s.mask.srcAddr));
      add('wccp.mask_element.dest_ip', hex32(s.mask.dstAddr));
      add('wccp.mask_element.src_port', hex16(s.mask.srcPort));
      add('wccp.mask_element.dest_port', hex16(s.mask.dstPort));
      add('wccp.mask_value_set_selement.value_element_num', s.values.length);
      for (const v of s.values) {
        add('wccp.value_element.src_ip.ipv4', dotted(v.srcAddr));
        add('wccp.value_element.dest_ip.ipv4', dotted(v.dstAddr));
        add('wccp.value_element.src_port', v.srcPort);
        add('wccp.value_element.dest_port', v.dstPort);
        add('wccp.value_element.web_cache_ip.ipv4', dotted(v.cacheAddress));
      }
    }
  };
  const identity = (e: WebCacheIdentityElement) => {
    add('wccp.web_cache_identity.ipv4', dotted(e.address));
    add('wccp.web_cache_identity.hash_rev', e.hashRevision);
    add('wccp.web_cache_identity.flags', hex16(e.flags));
    const a = e.assignment;
    if (a.kind === 'hash') {
      for (let b = 0; b < BUCKETS; b++) add('wccp.bucket_bit', a.buckets[b >> 3]! & (1 << (b & 7)));
    } else if (a.kind === 'mask') {
      sets(a.sets);
    }
    if (a.kind === 'hash' || a.kind === 'mask') {
      add('wccp.assignment_weight', a.weight);
      add('wccp.assignment_status', hex16(a.status));
    }
  };
  const assignmentBody = (a: AssignmentInfo, alternate: boolean) => {
    add('wccp.assignment_key.ipv4', dotted(a.key.address));
    add('wccp.assignment_key.change_num', a.key.changeNumber);
    add(alternate ? 'wccp.alt_assignment_info.num_routers' : 'wccp.assignment_info.router_num', a.routers.length);
    for (const r of a.routers) {
      if (!alternate) add('wccp.assignment_info.router_ip.ipv4', dotted(r.routerId));
      routerElement(r);
      add('wccp.router_assignment_element.change_num', r.changeNumber);
    }
    if (alternate) {
      add('wccp.wc_view_info.wc_num', a.webCaches.length);
      // Wireshark's quirk: it stores this address in host order, so the field value is byte-swapped.
      for (const c of a.webCaches) add('wccp.cache_ip', dotted(byteSwap32(c)));
    } else {
      add('wccp.hash_buckets_assignment.wc_num', a.webCaches.length);
      for (const c of a.webCaches) add('wccp.hash_buckets_assignment.wc_ip.ipv4', dotted(c));
    }
    for (const b of a.buckets) add('wccp.bucket', b);
  };

  add('wccp.message', m.type);
  add('wccp.message_header_length', datagram.length - 8);
  for (const [type, value] of componentsOf(m)) {
    add('wccp.item_type', type);
    add('wccp.item_length', encodeComponent(type, value as never).length - 4);
    switch (type) {
      case ComponentType.SecurityInfo: {
        const s = m.security;
        add('wccp.security_info_option', s.option === 'md5' ? 1 : 0);
        if (s.option === 'md5') add('wccp.security_md5_checksum', hex(s.digest));
        break;
      }
      case ComponentType.ServiceInfo: {
        const s = m.service;
        add('wccp.service_info_type', s.serviceType === 'dynamic' ? 1 : 0);
        add(s.serviceType === 'dynamic' ? 'wccp.service_info_dyn_id' : 'wccp.service_info_std_id', s.serviceId);
        add('wccp.service_info_priority', s.priority);
        add('wccp.service_info_protocol', s.protocol);
        add('wccp.service_info_flags', hex32(s.flags));
        if (s.flags & PORTS_DEFINED) {
          // Wireshark's quirk: it keys the label on the source-port-hash flag, not on 0x20.
          const field = s.flags & SRC_PORT_HASH ? 'wccp.service_info_source_port' : 'wccp.service_info_destination_port';
          for (const p of s.ports) if (p !== 0) add(field, p);
        }
        break;
      }
      case ComponentType.RouterIdentityInfo: {
        if (m.type !== MessageType.ISeeYou) break;
        const r = m.routerIdentity;
        add('wccp.router_identity.router_ip.ipv4', dotted(r.routerId));
        routerElement(r);
        add('wccp.router_identity.send_to_ip.ipv4', dotted(r.sentTo));
        add('wccp.router.num_recv_ip', r.receivedFrom.length);
        for (const a of r.receivedFrom) add('wccp.router_identity.received_from_ip.ipv4', dotted(a));
        break;
      }
      case ComponentType.WebCacheIdentityInfo: {
        if (m.type !== MessageType.HereIAm) break;
        add('wccp.wc_identity_ip_address.ipv4', dotted(m.webCacheIdentity.address));
        identity(m.webCacheIdentity);
        break;
      }
      case ComponentType.RouterViewInfo: {
        if (m.type !== MessageType.ISeeYou) break;
        const v = m.routerView;
        add('wccp.router_view.member_change_num', v.memberChangeNumber);
        add('wccp.assignment_key.ipv4', dotted(v.assignmentKey.address));
        add('wccp.assignment_key.change_num', v.assignmentKey.changeNumber);
        add('wccp.router_view.router_num', v.routers.length);
        for (const r of v.routers) add('wccp.router_view.ipv4', dotted(r));
        add('wccp.wc_view_info.wc_num', v.webCaches.length);
        for (const e of v.webCaches) {
          add('wccp.router_query_info.ipv4', dotted(e.address));
          identity(e);
        }
        break;
      }
      case ComponentType.WebCacheViewInfo: {
        if (m.type !== MessageType.HereIAm) break;
        const v = m.webCacheView;
        add('wccp.wc_view_info.change_num', v.changeNumber);
        add('wccp.wc_view_info.router_num', v.routers.length);
        for (const r of v.routers) {
          add('wccp.wc_view_info.router_ip.ipv4', dotted(r.routerId));
          routerElement(r);
        }
        add('wccp.wc_view_info.wc_num', v.webCaches.length);
        for (const c of v.webCaches) add('wccp.wc_view_info.wc_ip.ipv4', dotted(c));
        break;
      }
      case ComponentType.AssignmentInfo:
        assignmentBody(value as AssignmentInfo, false);
        break;
      case ComponentType.RouterQueryInfo: {
        if (m.type !== MessageType.RemovalQuery) break;
        const q = m.routerQuery;
        routerElement(q);
        add('wccp.router_query_info.send_to_ip.ipv4', dotted(q.sentTo));
        add('wccp.router_query_info.target_ip.ipv4', dotted(q.target));
        break;
      }
      case ComponentType.CapabilitiesInfo:
        for (const e of (value as CapabilitiesInfo).elements) {
          if (e.kind === 'unknown') {
            add('wccp.capability_element.type', e.type);
            add('wccp.capability_element.length', e.value.length);
            // Wireshark's quirk: it shows `length` bytes from the element's start (its head included).
            const element = new Uint8Array(4 + e.value.length);
            new DataView(element.buffer).setUint16(0, e.type);
            new DataView(element.buffer).setUint16(2, e.value.length);
            element.set(e.value, 4);
            add('wccp.capability.value', hex(element.subarray(0, e.value.length)));
          } else {
            add('wccp.capability_element.type', { 'forwarding-method': 1, 'assignment-method': 2, 'return-method': 3 }[e.kind]);
            add('wccp.capability_element.length', 4);
            add('wccp.capability_info.value', hex32(e.methods));
          }
        }
        break;
      case ComponentType.AlternateAssignment: {
        if (m.type !== MessageType.RedirectAssign || m.alternateAssignment === undefined) break;
        const a = m.alternateAssignment;
        const length = encodeComponent(ComponentType.AlternateAssignment, a).length - 8;
        if (a.kind === 'hash') {
          add('wccp.alt_assignment_info.assignment_type', 0);
          add('wccp.alt_assignment_info.assignment_length', length);
          assignmentBody(a.assignment, true);
        } else if (a.kind === 'mask') {
          add('wccp.alt_assignment_info.assignment_type', 1);
          add('wccp.alt_assignment_info.assignment_length', length);
          add('wccp.assignment_key.ipv4', dotted(a.key.address));
          add('wccp.assignment_key.change_num', a.key.changeNumber);
          add('wccp.alt_assignment_info.num_routers', a.routers.length);
          for (const r of a.routers) {
            routerElement(r);
            add('wccp.router_assignment_element.change_num', r.changeNumber);
          }
          sets(a.sets);
        }
        break;
      }
      case ComponentType.AssignmentMap:
        if (m.type === MessageType.ISeeYou && m.assignmentMap !== undefined) sets(m.assignmentMap.sets);
        break;
      case ComponentType.CommandExtension:
        for (const c of (value as CommandExtension).commands) {
          const bytes = c.kind === 'shutdown' || c.kind === 'shutdown-response' ? 4 : null;
          const type = c.kind === 'shutdown' ? 1 : c.kind === 'shutdown-response' ? 2 : c.kind === 'replication' ? 0x5446 : c.commandType;
          add('wccp.command_element_type', type);
          const encoded = encodeComponent(ComponentType.CommandExtension, { commands: [c] });
          add('wccp.command_element_length', bytes ?? encoded.length - 8);
          if (c.kind === 'shutdown' || c.kind === 'shutdown-response') {
            add('wccp.command_element_shudown_ip_address.ipv4', dotted(c.address));
          }
        }
        break;
    }
  }
  const out: Record<string, string> = {};
  for (const f of TSHARK_FIELDS) out[f] = (acc.get(f) ?? []).join(AGGREGATOR);
  return out;
}

/** Expert messages that mean the dissector found the framing wrong (not mere notes). */
export const FRAMING_EXPERT = /bytes too (long|short)|is missing|but it should not|Assignment length|Value Length|length field is bigger/i;
