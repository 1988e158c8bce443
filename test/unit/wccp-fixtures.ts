// Fixtures for the WCCP suites (wccp-*.test.ts): the documented test vectors of
// docs/protocol.md as message objects, and small builders. No tests live here.

import { bucketBitmap, buildHashTable, MessageType } from '../../firmware/shell/wccp/index.ts';
import type {
  HereIAm,
  MaskValueSet,
  ReplicationRequest,
  ServiceInfo,
  WccpMessage,
  WebCacheIdentityElement,
} from '../../firmware/shell/wccp/index.ts';

/** The real Squid captures (shared/data/wccp, described by its INDEX.md). */
export const CAPTURE_DIR = '/work/shared/data/wccp';

/** Dotted IPv4 → u32, for readable fixtures. */
export function ip(text: string): number {
  return text.split('.').reduce((acc, p) => acc * 256 + Number(p), 0);
}

/** u32 → dotted IPv4, as tshark prints addresses. */
export function dotted(v: number): string {
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
}

export function hex(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString('hex');
}

export function unhex(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
}

/** The dynamic service the documented devices register with. */
export const DEVICE_SERVICE: ServiceInfo = {
  serviceType: 'dynamic',
  serviceId: 90,
  priority: 100,
  protocol: 6,
  flags: 0x0001,
  ports: [0, 0, 0, 0, 0, 0, 0, 0],
};

/** A device's HERE_I_AM carrying `request` (the shape of every documented vector). */
export function deviceHereIAm(request: ReplicationRequest): HereIAm {
  return {
    type: MessageType.HereIAm,
    security: { option: 'none' },
    service: DEVICE_SERVICE,
    webCacheIdentity: {
      address: ip('192.0.2.10'),
      hashRevision: 0,
      flags: 0,
      assignment: { kind: 'hash', buckets: new Uint8Array(32), weight: 0, status: 0 },
    },
    webCacheView: { changeNumber: 1, routers: [{ routerId: ip('192.0.2.1'), receiveId: 3 }], webCaches: [] },
    capabilities: {
      elements: [
        { kind: 'forwarding-method', methods: 0x1 },
        { kind: 'assignment-method', methods: 0x1 },
        { kind: 'return-method', methods: 0x1 },
      ],
    },
    commandExtension: { commands: [{ kind: 'replication', request }] },
  };
}

/** Vector A: a sniffer with every field used, both defined sub-fields, no security. */
export const SNIFF_REQUEST: ReplicationRequest = {
  mode: 'sniff',
  encapsulation: 'erspan3',
  filter: 'tcp port 443 and net 198.51.100.0/24',
  snaplen: 128,
  sample: 10,
  ratePps: 5000,
  rateBps: 50_000_000,
  lifetime: 3600,
  label: 'lab-probe-1',
  erspanSession: 321,
};

/** Vector B: a dup peer, signed with MD5 under DUP_PASSWORD. */
export const DUP_REQUEST: ReplicationRequest = {
  mode: 'dup',
  encapsulation: 'gre-seq',
  filter: 'udp dst port 4789',
  snaplen: 0,
  sample: 1,
  ratePps: 0,
  rateBps: 0,
  lifetime: 0,
};
export const DUP_PASSWORD = 'twinflow';

/** Vector D: a tagged dup peer naming its far-end eliminator (critical sub-field), with a label. */
export const DUP_FAR_END_REQUEST: ReplicationRequest = {
  mode: 'dup',
  encapsulation: 'gre-seq',
  filter: 'src host 10.0.0.1',
  snaplen: 0,
  sample: 1,
  ratePps: 0,
  rateBps: 0,
  lifetime: 0,
  label: 'isp-b',
  farEnd: ip('203.0.113.9'),
};

/** Vector C: a minimal request followed by a sub-field this version does not define. */
export const FUTURE_REQUEST: ReplicationRequest = {
  mode: 'race',
  encapsulation: 'gre-wccp',
  filter: 'tcp[tcpflags] & tcp-syn != 0',
  snaplen: 0,
  sample: 0,
  ratePps: 0,
  rateBps: 0,
  lifetime: 60,
  unknownSubFields: [{ type: 0x0100, value: new Uint8Array([0x01, 0x02, 0x03]) }],
};

/** The documented vectors: name in docs/protocol.md → message and password. */
export const DOC_VECTORS: ReadonlyArray<{ name: string; message: HereIAm; password?: string }> = [
  { name: 'here-i-am-sniff', message: deviceHereIAm(SNIFF_REQUEST) },
  { name: 'here-i-am-dup-md5', message: deviceHereIAm(DUP_REQUEST), password: DUP_PASSWORD },
  { name: 'here-i-am-future-subfield', message: deviceHereIAm(FUTURE_REQUEST) },
  { name: 'here-i-am-dup-far-end', message: deviceHereIAm(DUP_FAR_END_REQUEST) },
];

// ── Synthetic messages: every message type and every component, for tshark and round trips ──

export const STANDARD_SERVICE: ServiceInfo = {
  serviceType: 'standard',
  serviceId: 0,
  priority: 0,
  protocol: 0,
  flags: 0,
  ports: [0, 0, 0, 0, 0, 0, 0, 0],
};

/** Squid's dynamic service 70 (src IP hash, ports defined, ports are source ports). */
export const SQUID_DYNAMIC_SERVICE: ServiceInfo = {
  serviceType: 'dynamic',
  serviceId: 70,
  priority: 240,
  protocol: 6,
  flags: 0x31,
  ports: [80, 8080, 0, 0, 0, 0, 0, 0],
};

/** Every value v with (v & mask) === v, dealt to caches round robin, as Squid does (3.4). */
export function squidMaskSet(mask: number, caches: readonly number[]): MaskValueSet {
  const values = [];
  let i = 0;
  for (let v = 0; v <= mask; v++) {
    if ((v & mask) !== v) continue;
    values.push({ srcAddr: v, dstAddr: 0, srcPort: 0, dstPort: 0, cacheAddress: caches[i++ % caches.length]! });
  }
  return { mask: { srcAddr: mask, dstAddr: 0, srcPort: 0, dstPort: 0 }, values };
}

export const HASH_ELEMENT: WebCacheIdentityElement = {
  address: ip('10.0.0.11'),
  hashRevision: 0,
  flags: 0,
  assignment: { kind: 'hash', buckets: bucketBitmap([0, 7, 8, 100, 254, 255]), weight: 10000, status: 0 },
};

export const MASK_ELEMENT: WebCacheIdentityElement = {
  address: ip('10.0.0.12'),
  hashRevision: 0,
  flags: 0x0002,
  assignment: {
    kind: 'mask',
    sets: [
      {
        mask: { srcAddr: 0, dstAddr: 0x1741, srcPort: 0, dstPort: 0 },
        values: [
          { srcAddr: 0, dstAddr: 0x0001, srcPort: 0, dstPort: 0, cacheAddress: ip('10.0.0.12') },
          { srcAddr: 0, dstAddr: 0x1740, srcPort: 0, dstPort: 0, cacheAddress: ip('10.0.0.12') },
        ],
      },
    ],
    weight: 0,
    status: 0,
  },
};

/** Squid's 32-byte mask form: one set, no values, weight 0. */
export const SQUID_MASK_ELEMENT: WebCacheIdentityElement = {
  address: ip('127.0.0.1'),
  hashRevision: 0,
  flags: 0x0002,
  assignment: { kind: 'mask', sets: [{ mask: { srcAddr: 0x1741, dstAddr: 0, srcPort: 0, dstPort: 0 }, values: [] }], weight: 0, status: 0 },
};

const ROUTER = ip('10.0.0.1');
const CACHES = [ip('10.0.0.11'), ip('10.0.0.12'), ip('10.0.0.13')];

function assignmentTable(): Uint8Array {
  const t = buildHashTable([1, 2, 3]);
  t[5] = 0xff;
  t[6] = 0x80 | 1;
  return t;
}

/** Messages we encode and tshark must dissect without framing complaints. */
export const SYNTHETIC_MESSAGES: ReadonlyArray<{ name: string; message: WccpMessage; password?: string }> = [
  ...DOC_VECTORS,
  {
    name: 'here-i-am-mask-shutdown',
    message: {
      type: MessageType.HereIAm,
      security: { option: 'none' },
      service: SQUID_DYNAMIC_SERVICE,
      webCacheIdentity: MASK_ELEMENT,
      webCacheView: {
        changeNumber: 7,
        routers: [{ routerId: ROUTER, receiveId: 9 }, { routerId: ip('10.0.0.2'), receiveId: 4 }],
        webCaches: CACHES,
      },
      capabilities: {
        elements: [
          { kind: 'forwarding-method', methods: 0x2 },
          { kind: 'assignment-method', methods: 0x2 },
          { kind: 'return-method', methods: 0x2 },
          { kind: 'unknown', type: 0x0099, value: new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8]) },
        ],
      },
      commandExtension: { commands: [{ kind: 'shutdown', address: ip('10.0.0.12') }] },
    },
    password: 'secret99',
  },
  {
    name: 'i-see-you-map',
    message: {
      type: MessageType.ISeeYou,
      security: { option: 'none' },
      service: SQUID_DYNAMIC_SERVICE,
      routerIdentity: { routerId: ROUTER, receiveId: 42, sentTo: ROUTER, receivedFrom: CACHES },
      routerView: {
        memberChangeNumber: 5,
        assignmentKey: { address: CACHES[0]!, changeNumber: 2 },
        routers: [ROUTER, ip('10.0.0.2')],
        webCaches: [HASH_ELEMENT, MASK_ELEMENT, SQUID_MASK_ELEMENT],
      },
      assignmentMap: { sets: [squidMaskSet(0x1741, CACHES)] },
      capabilities: {
        elements: [
          { kind: 'forwarding-method', methods: 0x3 },
          { kind: 'assignment-method', methods: 0x3 },
          { kind: 'return-method', methods: 0x3 },
        ],
      },
      commandExtension: { commands: [{ kind: 'shutdown-response', address: ip('10.0.0.12') }] },
    },
  },
  {
    name: 'i-see-you-assignment',
    message: {
      type: MessageType.ISeeYou,
      security: { option: 'none' },
      service: STANDARD_SERVICE,
      routerIdentity: { routerId: ROUTER, receiveId: 1, sentTo: ROUTER, receivedFrom: [] },
      routerView: { memberChangeNumber: 0, assignmentKey: { address: 0, changeNumber: 0 }, routers: [], webCaches: [] },
      assignmentInfo: {
        key: { address: CACHES[0]!, changeNumber: 3 },
        routers: [{ routerId: ROUTER, receiveId: 1, changeNumber: 0 }],
        webCaches: CACHES,
        buckets: assignmentTable(),
      },
    },
  },
  {
    name: 'redirect-assign-info',
    message: {
      type: MessageType.RedirectAssign,
      security: { option: 'none' },
      service: STANDARD_SERVICE,
      assignmentInfo: {
        key: { address: CACHES[0]!, changeNumber: 3 },
        routers: [
          { routerId: ROUTER, receiveId: 17, changeNumber: 5 },
          { routerId: ip('10.0.0.2'), receiveId: 8, changeNumber: 5 },
        ],
        webCaches: CACHES,
        buckets: assignmentTable(),
      },
    },
  },
  {
    name: 'redirect-assign-alt-hash',
    message: {
      type: MessageType.RedirectAssign,
      security: { option: 'none' },
      service: STANDARD_SERVICE,
      alternateAssignment: {
        kind: 'hash',
        assignment: {
          key: { address: CACHES[0]!, changeNumber: 4 },
          routers: [{ routerId: ROUTER, receiveId: 18, changeNumber: 6 }],
          webCaches: CACHES,
          buckets: assignmentTable(),
        },
      },
    },
  },
  {
    name: 'redirect-assign-alt-mask',
    message: {
      type: MessageType.RedirectAssign,
      security: { option: 'none' },
      service: SQUID_DYNAMIC_SERVICE,
      alternateAssignment: {
        kind: 'mask',
        key: { address: CACHES[0]!, changeNumber: 1 },
        routers: [{ routerId: ROUTER, receiveId: 3, changeNumber: 1 }],
        sets: [squidMaskSet(0x1741, CACHES)],
      },
    },
    password: 'abc',
  },
  {
    name: 'removal-query',
    message: {
      type: MessageType.RemovalQuery,
      security: { option: 'none' },
      service: STANDARD_SERVICE,
      routerQuery: { routerId: ROUTER, receiveId: 77, sentTo: ROUTER, target: CACHES[1]! },
    },
  },
];
