// WCCPv2 message components (draft section 5.6, plus the rev1 Address Table): their typed
// form and a codec for each.
//
//  every component  │ Type (2) │ Length (2) │ body (Length bytes, a multiple of 4) │
//
// Contract: a component body is decoded from an untrusted window that is exactly `Length`
// bytes long. Fixed-size components check that length up front; variable ones check every
// count against the bytes left, and whatever the contents do not use is reported as a bad
// component length (never silently skipped). Errors are WccpDecodeError naming the field.
// Encoders check every value's range and that the body fits a u16 length and stays 4-aligned.
//
// Which component types get a typed form: all of draft -03 (0–8, 13–15) and the rev1 Address
// Table (17). The rev1 Alternate Assignment Map (16) and any unknown type are not decoded
// here; message.ts keeps them raw with their type. Inside components, unknown capability types,
// unknown command types, unknown alternate-assignment types and rev1 extended assignment data
// are likewise kept raw, so nothing received is lost.

import {
  ADDRESS_SIZE,
  ADDRESS_TABLE_HEAD_SIZE,
  ALT_ASSIGNMENT_HEAD_SIZE,
  AddressFamily,
  AltAssignmentType,
  ASSIGNMENT_INFO_MIN_LENGTH,
  BUCKET_COUNT,
  CAPABILITY_BITMASK_SIZE,
  CAPABILITY_HEAD_SIZE,
  CapabilityType,
  COMMAND_HEAD_SIZE,
  CommandType,
  COMPONENT_ALIGNMENT,
  ComponentType,
  componentName,
  IPV4_ADDRESS_LENGTH,
  IPV6_ADDRESS_LENGTH,
  MAX_COMPONENT_LENGTH,
  MD5_DIGEST_SIZE,
  ownValue,
  ROUTER_ASSIGNMENT_ELEMENT_SIZE,
  ROUTER_ID_ELEMENT_SIZE,
  ROUTER_IDENTITY_MIN_LENGTH,
  ROUTER_QUERY_LENGTH,
  ROUTER_VIEW_MIN_LENGTH,
  SECURITY_MD5_LENGTH,
  SECURITY_NONE_LENGTH,
  SecurityOption,
  SERVICE_INFO_LENGTH,
  SERVICE_PORT_COUNT,
  ServiceType,
  SHUTDOWN_DATA_LENGTH,
  WEB_CACHE_ELEMENT_MIN_SIZE,
  WEB_CACHE_VIEW_MIN_LENGTH,
} from './constants.ts';
import {
  decodeAssignmentKey,
  decodeMaskValueSets,
  decodeRouterAssignment,
  decodeRouterId,
  decodeWebCacheElement,
  encodeAssignmentKey,
  encodeMaskValueSets,
  encodeRouterAssignment,
  encodeRouterId,
  encodeWebCacheElement,
} from './elements.ts';
import type {
  AssignmentKey,
  MaskValueSet,
  RouterAssignmentElement,
  RouterIdElement,
  WebCacheIdentityElement,
} from './elements.ts';
import { ENCODE_ERRORS, FIELD, WccpEncodeError } from './errors.ts';
import { decodeReplicationRequest, encodeReplicationRequest } from './extension.ts';
import type { ReplicationRequest } from './extension.ts';
import { Reader } from './reader.ts';
import type { DecodeContext } from './reader.ts';
import { Writer } from './writer.ts';

// ── Typed forms ─────────────────────────────────────────────────────────────────────────────

/** Security Info (0). The digest is what was received, or what the encoder should write. */
export type SecurityInfo = { readonly option: 'none' } | { readonly option: 'md5'; readonly digest: Uint8Array };

/** Service Info (1). */
export interface ServiceInfo {
  /** "WCCP2_SERVICE_STANDARD (0) ... All fields other than Service ID must be zero." */
  readonly serviceType: 'standard' | 'dynamic';
  readonly serviceId: number;
  /** "The lowest priority is 0, the highest is 255." */
  readonly priority: number;
  /** IP protocol number (6 TCP, 17 UDP); 0 for standard services. */
  readonly protocol: number;
  /** ServiceFlag bits; reserved bits are kept as received. */
  readonly flags: number;
  /** All eight u16 port slots, zero-terminated by convention, kept as on the wire. */
  readonly ports: readonly number[];
}

/** Router Identity Info (2). */
export interface RouterIdentityInfo {
  readonly routerId: number;
  /** "Will never be zero." (not enforced by the codec). */
  readonly receiveId: number;
  /** "IP address to which the target web-cache sent the WCCP2_HERE_I_AM message." */
  readonly sentTo: number;
  /** "List of the IP addresses of web-caches to which this message is directed." */
  readonly receivedFrom: readonly number[];
}

/** Web-Cache Identity Info (3): exactly one Web-Cache Identity Element. */
export type WebCacheIdentityInfo = WebCacheIdentityElement;

/** Router View Info (4). */
export interface RouterViewInfo {
  /** "Incremented each time there is a change in Service Group membership." */
  readonly memberChangeNumber: number;
  /** "Assignment Key element received in the last WCCP2_REDIRECT_ASSIGNMENT message." */
  readonly assignmentKey: AssignmentKey;
  readonly routers: readonly number[];
  /** "Identity elements of useable web-caches in Service Group." */
  readonly webCaches: readonly WebCacheIdentityElement[];
}

/** Web-Cache View Info (5). */
export interface WebCacheViewInfo {
  readonly changeNumber: number;
  /** "the identifying IP address for each router ... and the last 'Received ID' from each." */
  readonly routers: readonly RouterIdElement[];
  /** "List of web-cache IP addresses learnt from WCCP2_I_SEE_YOU messages." */
  readonly webCaches: readonly number[];
}

/** Assignment Info (6); also the body of a hash Alternate Assignment. */
export interface AssignmentInfo {
  readonly key: AssignmentKey;
  readonly routers: readonly RouterAssignmentElement[];
  /** "The position of a web-cache identifier in this list is the web-cache index." */
  readonly webCaches: readonly number[];
  /** 256 bucket bytes: a cache index 0–31, 0x80 the alternate flag, 0xFF unassigned. */
  readonly buckets: Uint8Array;
}

/** Router Query Info (7). */
export interface RouterQueryInfo {
  readonly routerId: number;
  /** "Receive ID expected by the router." */
  readonly receiveId: number;
  readonly sentTo: number;
  /** "IP address of web-cache being queried." */
  readonly target: number;
}

/** One Capability Element; types 1–3 carry a 32-bit bitmask, other types are kept raw. */
export type CapabilityElement =
  | { readonly kind: 'forwarding-method'; readonly methods: number }
  | { readonly kind: 'assignment-method'; readonly methods: number }
  | { readonly kind: 'return-method'; readonly methods: number }
  | { readonly kind: 'unknown'; readonly type: number; readonly value: Uint8Array };

/** Capabilities Info (8). */
export interface CapabilitiesInfo {
  readonly elements: readonly CapabilityElement[];
}

/** Alternate Assignment (13). */
export type AlternateAssignment =
  /** "the body of the message is identical to the Assignment Info Component". */
  | { readonly kind: 'hash'; readonly assignment: AssignmentInfo }
  | {
      readonly kind: 'mask';
      readonly key: AssignmentKey;
      readonly routers: readonly RouterAssignmentElement[];
      readonly sets: readonly MaskValueSet[];
    }
  /** rev1 types (2 alternate mask, 3 weight/status) and anything newer, kept raw. */
  | { readonly kind: 'unknown'; readonly assignmentType: number; readonly body: Uint8Array };

/** Assignment Map (14). */
export interface AssignmentMap {
  readonly sets: readonly MaskValueSet[];
}

/** One command of a Command Extension (15). */
export type Command =
  | { readonly kind: 'shutdown'; readonly address: number }
  | { readonly kind: 'shutdown-response'; readonly address: number }
  | { readonly kind: 'replication'; readonly request: ReplicationRequest }
  | { readonly kind: 'unknown'; readonly commandType: number; readonly data: Uint8Array };

/** Command Extension (15). */
export interface CommandExtension {
  readonly commands: readonly Command[];
}

/**
 * rev1 Address Table (17). When present, every other address field of the message holds a
 * 32-bit index into this table (upper 16 bits zero, 1-based, 0 = undefined); the codec keeps
 * those fields as the numbers received and leaves resolving them to the caller.
 */
export interface AddressTable {
  readonly family: 'ipv4' | 'ipv6';
  /** 4 or 16 bytes each. */
  readonly addresses: readonly Uint8Array[];
}

/** A component this codec has no typed form for, kept with its type. */
export interface RawComponent {
  readonly type: number;
  readonly data: Uint8Array;
}

/** The typed form of each component type. */
export interface ComponentValues {
  [ComponentType.SecurityInfo]: SecurityInfo;
  [ComponentType.ServiceInfo]: ServiceInfo;
  [ComponentType.RouterIdentityInfo]: RouterIdentityInfo;
  [ComponentType.WebCacheIdentityInfo]: WebCacheIdentityInfo;
  [ComponentType.RouterViewInfo]: RouterViewInfo;
  [ComponentType.WebCacheViewInfo]: WebCacheViewInfo;
  [ComponentType.AssignmentInfo]: AssignmentInfo;
  [ComponentType.RouterQueryInfo]: RouterQueryInfo;
  [ComponentType.CapabilitiesInfo]: CapabilitiesInfo;
  [ComponentType.AlternateAssignment]: AlternateAssignment;
  [ComponentType.AssignmentMap]: AssignmentMap;
  [ComponentType.CommandExtension]: CommandExtension;
  [ComponentType.AddressTable]: AddressTable;
}

export type KnownComponentType = keyof ComponentValues;

// ── Codecs ──────────────────────────────────────────────────────────────────────────────────

interface Codec<V> {
  /** `r` is the body window; `lengthAt` the absolute offset of the component's Length field. */
  decode(r: Reader, lengthAt: number): V;
  encode(w: Writer, v: V): void;
}

/** The body must be exactly `expected` bytes. */
function expectLength(r: Reader, lengthAt: number, expected: number): void {
  if (r.remaining !== expected) {
    throw r.fail(FIELD.length, 'bad-length', `${r.remaining}, expected ${expected}`, lengthAt);
  }
}

function decodeAddresses(r: Reader, at: string): number[] {
  const n = r.count(`${at} ${FIELD.count}`, ADDRESS_SIZE);
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(r.u32(`${at}[${i}]`));
  return out;
}

function encodeAddresses(w: Writer, list: readonly number[], at: string): void {
  w.u32(list.length, `${at} ${FIELD.count}`);
  list.forEach((a, i) => w.u32(a, `${at}[${i}]`));
}

const security: Codec<SecurityInfo> = {
  decode(r, lengthAt) {
    if (r.remaining < SECURITY_NONE_LENGTH) expectLength(r, lengthAt, SECURITY_NONE_LENGTH);
    const optionAt = r.offset;
    const option = r.u32('option');
    if (option === SecurityOption.None) {
      expectLength(r, lengthAt, 0);
      return { option: 'none' };
    }
    if (option === SecurityOption.Md5) {
      if (r.remaining !== MD5_DIGEST_SIZE) {
        throw r.fail(FIELD.length, 'bad-length', `${r.remaining + SECURITY_NONE_LENGTH}, expected ${SECURITY_MD5_LENGTH} for MD5`, lengthAt);
      }
      return { option: 'md5', digest: r.bytes(MD5_DIGEST_SIZE, 'digest') };
    }
    throw r.fail('option', 'bad-value', `${option}, expected 0 (none) or 1 (MD5)`, optionAt);
  },
  encode(w, v) {
    if (v.option === 'none') {
      w.u32(SecurityOption.None, 'security.option');
    } else if (v.option === 'md5') {
      w.u32(SecurityOption.Md5, 'security.option');
      w.bytes(v.digest, 'security.digest', MD5_DIGEST_SIZE);
    } else {
      throw new WccpEncodeError('security.option', ENCODE_ERRORS.unknownName(['none', 'md5']));
    }
  },
};

const SERVICE_TYPES = ['standard', 'dynamic'] as const;

const service: Codec<ServiceInfo> = {
  decode(r, lengthAt) {
    expectLength(r, lengthAt, SERVICE_INFO_LENGTH);
    const typeAt = r.offset;
    const type = r.u8('serviceType');
    if (type !== ServiceType.Standard && type !== ServiceType.Dynamic) {
      throw r.fail('serviceType', 'bad-value', `${type}, expected 0 (standard) or 1 (dynamic)`, typeAt);
    }
    const serviceId = r.u8('serviceId');
    const priority = r.u8('priority');
    const protocol = r.u8('protocol');
    const flags = r.u32('flags');
    const ports: number[] = [];
    for (let i = 0; i < SERVICE_PORT_COUNT; i++) ports.push(r.u16(`ports[${i}]`));
    return { serviceType: SERVICE_TYPES[type]!, serviceId, priority, protocol, flags, ports };
  },
  encode(w, v) {
    const code = SERVICE_TYPES.indexOf(v.serviceType);
    if (code < 0) throw new WccpEncodeError('service.serviceType', ENCODE_ERRORS.unknownName(SERVICE_TYPES));
    w.u8(code, 'service.serviceType');
    w.u8(v.serviceId, 'service.serviceId');
    w.u8(v.priority, 'service.priority');
    w.u8(v.protocol, 'service.protocol');
    w.u32(v.flags, 'service.flags');
    if (v.ports.length !== SERVICE_PORT_COUNT) {
      throw new WccpEncodeError('service.ports', `must have exactly ${SERVICE_PORT_COUNT} entries (got ${v.ports.length})`);
    }
    v.ports.forEach((p, i) => w.u16(p, `service.ports[${i}]`));
  },
};

const routerIdentity: Codec<RouterIdentityInfo> = {
  decode(r, lengthAt) {
    if (r.remaining < ROUTER_IDENTITY_MIN_LENGTH) {
      throw r.fail(FIELD.length, 'bad-length', `${r.remaining}, at least ${ROUTER_IDENTITY_MIN_LENGTH}`, lengthAt);
    }
    const id = decodeRouterId(r, 'router');
    const sentTo = r.u32('sentTo');
    const receivedFrom = decodeAddresses(r, 'receivedFrom');
    return { routerId: id.routerId, receiveId: id.receiveId, sentTo, receivedFrom };
  },
  encode(w, v) {
    encodeRouterId(w, v, 'routerIdentity');
    w.u32(v.sentTo, 'routerIdentity.sentTo');
    encodeAddresses(w, v.receivedFrom, 'routerIdentity.receivedFrom');
  },
};

const webCacheIdentity: Codec<WebCacheIdentityInfo> = {
  decode(r, lengthAt) {
    if (r.remaining < WEB_CACHE_ELEMENT_MIN_SIZE) {
      throw r.fail(FIELD.length, 'bad-length', `${r.remaining}, at least ${WEB_CACHE_ELEMENT_MIN_SIZE}`, lengthAt);
    }
    return decodeWebCacheElement(r, 'webCache');
  },
  encode(w, v) {
    encodeWebCacheElement(w, v, 'webCacheIdentity');
  },
};

const routerView: Codec<RouterViewInfo> = {
  decode(r, lengthAt) {
    if (r.remaining < ROUTER_VIEW_MIN_LENGTH) {
      throw r.fail(FIELD.length, 'bad-length', `${r.remaining}, at least ${ROUTER_VIEW_MIN_LENGTH}`, lengthAt);
    }
    const memberChangeNumber = r.u32('memberChangeNumber');
    const assignmentKey = decodeAssignmentKey(r, 'assignmentKey');
    const routers = decodeAddresses(r, 'routers');
    const n = r.count(`webCaches ${FIELD.count}`, WEB_CACHE_ELEMENT_MIN_SIZE);
    const webCaches: WebCacheIdentityElement[] = [];
    for (let i = 0; i < n; i++) webCaches.push(decodeWebCacheElement(r, `webCaches[${i}]`));
    return { memberChangeNumber, assignmentKey, routers, webCaches };
  },
  encode(w, v) {
    w.u32(v.memberChangeNumber, 'routerView.memberChangeNumber');
    encodeAssignmentKey(w, v.assignmentKey, 'routerView.assignmentKey');
    encodeAddresses(w, v.routers, 'routerView.routers');
    w.u32(v.webCaches.length, `routerView.webCaches ${FIELD.count}`);
    v.webCaches.forEach((e, i) => encodeWebCacheElement(w, e, `routerView.webCaches[${i}]`));
  },
};

const webCacheView: Codec<WebCacheViewInfo> = {
  decode(r, lengthAt) {
    if (r.remaining < WEB_CACHE_VIEW_MIN_LENGTH) {
      throw r.fail(FIELD.length, 'bad-length', `${r.remaining}, at least ${WEB_CACHE_VIEW_MIN_LENGTH}`, lengthAt);
    }
    const changeNumber = r.u32('changeNumber');
    const n = r.count(`routers ${FIELD.count}`, ROUTER_ID_ELEMENT_SIZE);
    const routers: RouterIdElement[] = [];
    for (let i = 0; i < n; i++) routers.push(decodeRouterId(r, `routers[${i}]`));
    const webCaches = decodeAddresses(r, 'webCaches');
    return { changeNumber, routers, webCaches };
  },
  encode(w, v) {
    w.u32(v.changeNumber, 'webCacheView.changeNumber');
    w.u32(v.routers.length, `webCacheView.routers ${FIELD.count}`);
    v.routers.forEach((e, i) => encodeRouterId(w, e, `webCacheView.routers[${i}]`));
    encodeAddresses(w, v.webCaches, 'webCacheView.webCaches');
  },
};

function decodeAssignmentBody(r: Reader): AssignmentInfo {
  const key = decodeAssignmentKey(r, 'key');
  const n = r.count(`routers ${FIELD.count}`, ROUTER_ASSIGNMENT_ELEMENT_SIZE);
  const routers: RouterAssignmentElement[] = [];
  for (let i = 0; i < n; i++) routers.push(decodeRouterAssignment(r, `routers[${i}]`));
  const webCaches = decodeAddresses(r, 'webCaches');
  const buckets = r.bytes(BUCKET_COUNT, 'buckets');
  return { key, routers, webCaches, buckets };
}

function encodeAssignmentBody(w: Writer, v: AssignmentInfo, at: string): void {
  encodeAssignmentKey(w, v.key, `${at}.key`);
  w.u32(v.routers.length, `${at}.routers ${FIELD.count}`);
  v.routers.forEach((e, i) => encodeRouterAssignment(w, e, `${at}.routers[${i}]`));
  encodeAddresses(w, v.webCaches, `${at}.webCaches`);
  w.bytes(v.buckets, `${at}.buckets`, BUCKET_COUNT);
}

const assignmentInfo: Codec<AssignmentInfo> = {
  decode(r, lengthAt) {
    if (r.remaining < ASSIGNMENT_INFO_MIN_LENGTH) {
      throw r.fail(FIELD.length, 'bad-length', `${r.remaining}, at least ${ASSIGNMENT_INFO_MIN_LENGTH}`, lengthAt);
    }
    return decodeAssignmentBody(r);
  },
  encode(w, v) {
    encodeAssignmentBody(w, v, 'assignmentInfo');
  },
};

const routerQuery: Codec<RouterQueryInfo> = {
  decode(r, lengthAt) {
    expectLength(r, lengthAt, ROUTER_QUERY_LENGTH);
    return { routerId: r.u32('routerId'), receiveId: r.u32('receiveId'), sentTo: r.u32('sentTo'), target: r.u32('target') };
  },
  encode(w, v) {
    w.u32(v.routerId, 'routerQuery.routerId');
    w.u32(v.receiveId, 'routerQuery.receiveId');
    w.u32(v.sentTo, 'routerQuery.sentTo');
    w.u32(v.target, 'routerQuery.target');
  },
};

const CAPABILITY_KINDS = {
  [CapabilityType.ForwardingMethod]: 'forwarding-method',
  [CapabilityType.AssignmentMethod]: 'assignment-method',
  [CapabilityType.PacketReturnMethod]: 'return-method',
} as const;
const CAPABILITY_TYPE_BY_KIND: Readonly<Record<string, number>> = {
  'forwarding-method': CapabilityType.ForwardingMethod,
  'assignment-method': CapabilityType.AssignmentMethod,
  'return-method': CapabilityType.PacketReturnMethod,
};

const capabilities: Codec<CapabilitiesInfo> = {
  decode(r) {
    const elements: CapabilityElement[] = [];
    const seen = new Set<number>();
    for (let i = 0; r.remaining > 0; i++) {
      const at = `elements[${i}]`;
      if (r.remaining < CAPABILITY_HEAD_SIZE) {
        throw r.fail(at, 'truncated', `element head needs ${CAPABILITY_HEAD_SIZE} bytes, ${r.remaining} left`);
      }
      const typeAt = r.offset;
      const type = r.u16(`${at}.type`);
      const lengthAt = r.offset;
      const length = r.u16(`${at}.${FIELD.length}`);
      if (length > r.remaining) {
        throw r.fail(`${at}.${FIELD.length}`, 'bad-length', `${length}, ${r.remaining} bytes left`, lengthAt);
      }
      const kind = CAPABILITY_KINDS[type as keyof typeof CAPABILITY_KINDS];
      if (kind === undefined) {
        elements.push({ kind: 'unknown', type, value: r.bytes(length, `${at}.value`) });
        continue;
      }
      if (length !== CAPABILITY_BITMASK_SIZE) {
        throw r.fail(`${at}.${FIELD.length}`, 'bad-length', `${length}, expected ${CAPABILITY_BITMASK_SIZE} for ${kind}`, lengthAt);
      }
      if (seen.has(type)) throw r.fail(`${at}.type`, 'duplicate-element', `a second ${kind} element`, typeAt);
      seen.add(type);
      elements.push({ kind, methods: r.u32(`${at}.value`) });
    }
    return { elements };
  },
  encode(w, v) {
    v.elements.forEach((e, i) => {
      const at = `capabilities.elements[${i}]`;
      if (e.kind === 'unknown') {
        if (CAPABILITY_KINDS[e.type as keyof typeof CAPABILITY_KINDS] !== undefined) {
          throw new WccpEncodeError(`${at}.type`, ENCODE_ERRORS.knownType);
        }
        w.u16(e.type, `${at}.type`);
        w.u16(e.value.length, `${at}.${FIELD.length}`);
        w.bytes(e.value, `${at}.value`);
        return;
      }
      const type = ownValue(CAPABILITY_TYPE_BY_KIND, e.kind);
      if (type === undefined) {
        throw new WccpEncodeError(`${at}.kind`, ENCODE_ERRORS.unknownName([...Object.keys(CAPABILITY_TYPE_BY_KIND), 'unknown']));
      }
      w.u16(type, `${at}.type`);
      w.u16(CAPABILITY_BITMASK_SIZE, `${at}.${FIELD.length}`);
      w.u32(e.methods, `${at}.methods`);
    });
  },
};

const alternateAssignment: Codec<AlternateAssignment> = {
  decode(r, lengthAt) {
    if (r.remaining < ALT_ASSIGNMENT_HEAD_SIZE) {
      throw r.fail(FIELD.length, 'bad-length', `${r.remaining}, at least ${ALT_ASSIGNMENT_HEAD_SIZE}`, lengthAt);
    }
    const assignmentType = r.u16('assignmentType');
    const bodyLengthAt = r.offset;
    const bodyLength = r.u16('assignmentLength');
    if (bodyLength !== r.remaining) {
      // "Assignment Length: Length of Assignment Body" — the body is the rest of the component.
      throw r.fail('assignmentLength', 'bad-length', `${bodyLength}, the component leaves ${r.remaining}`, bodyLengthAt);
    }
    if (assignmentType === AltAssignmentType.Hash) {
      if (r.remaining < ASSIGNMENT_INFO_MIN_LENGTH) {
        throw r.fail('assignmentLength', 'bad-length', `${r.remaining}, at least ${ASSIGNMENT_INFO_MIN_LENGTH} for hash`, bodyLengthAt);
      }
      return { kind: 'hash', assignment: decodeAssignmentBody(r) };
    }
    if (assignmentType === AltAssignmentType.Mask) {
      const key = decodeAssignmentKey(r, 'key');
      const n = r.count(`routers ${FIELD.count}`, ROUTER_ASSIGNMENT_ELEMENT_SIZE);
      const routers: RouterAssignmentElement[] = [];
      for (let i = 0; i < n; i++) routers.push(decodeRouterAssignment(r, `routers[${i}]`));
      return { kind: 'mask', key, routers, sets: decodeMaskValueSets(r, 'sets') };
    }
    return { kind: 'unknown', assignmentType, body: r.bytes(r.remaining, 'body') };
  },
  encode(w, v) {
    const at = 'alternateAssignment';
    const typeCode = v.kind === 'hash' ? AltAssignmentType.Hash : v.kind === 'mask' ? AltAssignmentType.Mask : v.assignmentType;
    if (v.kind === 'unknown' && (typeCode === AltAssignmentType.Hash || typeCode === AltAssignmentType.Mask)) {
      throw new WccpEncodeError(`${at}.assignmentType`, ENCODE_ERRORS.knownType);
    }
    w.u16(typeCode, `${at}.assignmentType`);
    const lengthAt = w.length;
    w.u16(0, `${at}.assignmentLength`);
    const start = w.length;
    if (v.kind === 'hash') {
      encodeAssignmentBody(w, v.assignment, `${at}.assignment`);
    } else if (v.kind === 'mask') {
      encodeAssignmentKey(w, v.key, `${at}.key`);
      w.u32(v.routers.length, `${at}.routers ${FIELD.count}`);
      v.routers.forEach((e, i) => encodeRouterAssignment(w, e, `${at}.routers[${i}]`));
      encodeMaskValueSets(w, v.sets, `${at}.sets`);
    } else {
      w.bytes(v.body, `${at}.body`);
    }
    w.patchU16(lengthAt, w.length - start, `${at}.assignmentLength`);
  },
};

const assignmentMap: Codec<AssignmentMap> = {
  decode(r) {
    return { sets: decodeMaskValueSets(r, 'sets') };
  },
  encode(w, v) {
    encodeMaskValueSets(w, v.sets, 'assignmentMap.sets');
  },
};

const COMMAND_KINDS: Readonly<Record<number, 'shutdown' | 'shutdown-response' | 'replication'>> = {
  [CommandType.Shutdown]: 'shutdown',
  [CommandType.ShutdownResponse]: 'shutdown-response',
  [CommandType.TwinflowReplication]: 'replication',
};

const commandExtension: Codec<CommandExtension> = {
  decode(r) {
    const commands: Command[] = [];
    const seen = new Set<number>();
    for (let i = 0; r.remaining > 0; i++) {
      const at = `commands[${i}]`;
      if (r.remaining < COMMAND_HEAD_SIZE) {
        throw r.fail(at, 'truncated', `command head needs ${COMMAND_HEAD_SIZE} bytes, ${r.remaining} left`);
      }
      const typeAt = r.offset;
      const commandType = r.u16(`${at}.type`);
      const lengthAt = r.offset;
      const length = r.u16(`${at}.${FIELD.length}`);
      if (length > r.remaining) {
        throw r.fail(`${at}.${FIELD.length}`, 'bad-length', `${length}, ${r.remaining} bytes left`, lengthAt);
      }
      const kind = COMMAND_KINDS[commandType];
      if (kind === undefined) {
        commands.push({ kind: 'unknown', commandType, data: r.bytes(length, `${at}.data`) });
        continue;
      }
      if (seen.has(commandType)) throw r.fail(`${at}.type`, 'duplicate-element', `a second ${kind} command`, typeAt);
      seen.add(commandType);
      if (kind === 'replication') {
        commands.push({ kind, request: decodeReplicationRequest(r.sub(length, `${at}.data`), at) });
        continue;
      }
      if (length !== SHUTDOWN_DATA_LENGTH) {
        throw r.fail(`${at}.${FIELD.length}`, 'bad-length', `${length}, expected ${SHUTDOWN_DATA_LENGTH} for ${kind}`, lengthAt);
      }
      commands.push({ kind, address: r.u32(`${at}.address`) });
    }
    return { commands };
  },
  encode(w, v) {
    v.commands.forEach((c, i) => {
      const at = `commandExtension.commands[${i}]`;
      if (c.kind === 'unknown') {
        if (COMMAND_KINDS[c.commandType] !== undefined) throw new WccpEncodeError(`${at}.commandType`, ENCODE_ERRORS.knownType);
        w.u16(c.commandType, `${at}.commandType`);
        w.u16(c.data.length, `${at}.${FIELD.length}`);
        w.bytes(c.data, `${at}.data`);
        return;
      }
      if (c.kind === 'replication') {
        w.u16(CommandType.TwinflowReplication, `${at}.type`);
        const lengthAt = w.length;
        w.u16(0, `${at}.${FIELD.length}`);
        const start = w.length;
        encodeReplicationRequest(w, c.request, `${at}.request`);
        w.patchU16(lengthAt, w.length - start, `${at}.${FIELD.length}`);
        return;
      }
      if (c.kind !== 'shutdown' && c.kind !== 'shutdown-response') {
        throw new WccpEncodeError(`${at}.kind`, ENCODE_ERRORS.unknownName(['shutdown', 'shutdown-response', 'replication', 'unknown']));
      }
      w.u16(c.kind === 'shutdown' ? CommandType.Shutdown : CommandType.ShutdownResponse, `${at}.type`);
      w.u16(SHUTDOWN_DATA_LENGTH, `${at}.${FIELD.length}`);
      w.u32(c.address, `${at}.address`);
    });
  },
};

const addressTable: Codec<AddressTable> = {
  decode(r, lengthAt) {
    if (r.remaining < ADDRESS_TABLE_HEAD_SIZE) {
      throw r.fail(FIELD.length, 'bad-length', `${r.remaining}, at least ${ADDRESS_TABLE_HEAD_SIZE}`, lengthAt);
    }
    const familyAt = r.offset;
    const familyCode = r.u16('family');
    const family = familyCode === AddressFamily.Ipv4 ? 'ipv4' : familyCode === AddressFamily.Ipv6 ? 'ipv6' : null;
    if (family === null) throw r.fail('family', 'bad-value', `${familyCode}, expected 1 (IPv4) or 2 (IPv6)`, familyAt);
    const size = family === 'ipv4' ? IPV4_ADDRESS_LENGTH : IPV6_ADDRESS_LENGTH;
    const sizeAt = r.offset;
    const addressLength = r.u16('addressLength');
    if (addressLength !== size) {
      throw r.fail('addressLength', 'bad-value', `${addressLength}, expected ${size} for ${family}`, sizeAt);
    }
    const n = r.count(`addresses ${FIELD.count}`, size);
    const addresses: Uint8Array[] = [];
    for (let i = 0; i < n; i++) addresses.push(r.bytes(size, `addresses[${i}]`));
    return { family, addresses };
  },
  encode(w, v) {
    const size = v.family === 'ipv4' ? IPV4_ADDRESS_LENGTH : v.family === 'ipv6' ? IPV6_ADDRESS_LENGTH : 0;
    if (size === 0) throw new WccpEncodeError('addressTable.family', ENCODE_ERRORS.unknownName(['ipv4', 'ipv6']));
    w.u16(v.family === 'ipv4' ? AddressFamily.Ipv4 : AddressFamily.Ipv6, 'addressTable.family');
    w.u16(size, 'addressTable.addressLength');
    w.u32(v.addresses.length, `addressTable.addresses ${FIELD.count}`);
    v.addresses.forEach((a, i) => w.bytes(a, `addressTable.addresses[${i}]`, size));
  },
};

const CODECS: { readonly [T in KnownComponentType]: Codec<ComponentValues[T]> } = {
  [ComponentType.SecurityInfo]: security,
  [ComponentType.ServiceInfo]: service,
  [ComponentType.RouterIdentityInfo]: routerIdentity,
  [ComponentType.WebCacheIdentityInfo]: webCacheIdentity,
  [ComponentType.RouterViewInfo]: routerView,
  [ComponentType.WebCacheViewInfo]: webCacheView,
  [ComponentType.AssignmentInfo]: assignmentInfo,
  [ComponentType.RouterQueryInfo]: routerQuery,
  [ComponentType.CapabilitiesInfo]: capabilities,
  [ComponentType.AlternateAssignment]: alternateAssignment,
  [ComponentType.AssignmentMap]: assignmentMap,
  [ComponentType.CommandExtension]: commandExtension,
  [ComponentType.AddressTable]: addressTable,
};

/** Whether this codec has a typed form for a component type. */
export function isKnownComponentType(type: number): type is KnownComponentType {
  return Object.prototype.hasOwnProperty.call(CODECS, type);
}

// ── Component framing ───────────────────────────────────────────────────────────────────────

/**
 * Decode the body of a known component from `r`, a window of exactly its Length bytes. Every
 * byte must be used: leftovers are a bad component length.
 */
export function decodeComponentBody<T extends KnownComponentType>(type: T, r: Reader, lengthAt: number): ComponentValues[T] {
  const codec = CODECS[type] as Codec<ComponentValues[T]>;
  const value = codec.decode(r, lengthAt);
  if (r.remaining !== 0) {
    throw r.fail(FIELD.length, 'bad-length', `component has ${r.remaining} bytes its contents do not use`, lengthAt);
  }
  return value;
}

/** Write a component header and body; the body must fit a u16 and be 4-aligned. */
export function writeComponent<T extends KnownComponentType>(w: Writer, type: T, value: ComponentValues[T]): void {
  writeFramed(w, type, (body) => (CODECS[type] as Codec<ComponentValues[T]>).encode(body, value));
}

/** Write a raw component (a type this codec does not know) as received. */
export function writeRawComponent(w: Writer, c: RawComponent): void {
  if (isKnownComponentType(c.type)) throw new WccpEncodeError(`${componentName(c.type)} (raw)`, ENCODE_ERRORS.knownType);
  writeFramed(w, c.type, (body) => body.bytes(c.data, `${componentName(c.type)}.data`));
}

function writeFramed(w: Writer, type: number, body: (w: Writer) => void): void {
  const name = componentName(type);
  w.u16(type, `${name}.type`);
  const lengthAt = w.length;
  w.u16(0, `${name}.${FIELD.length}`);
  const start = w.length;
  body(w);
  const length = w.length - start;
  if (length > MAX_COMPONENT_LENGTH) throw new WccpEncodeError(name, ENCODE_ERRORS.componentTooLong(MAX_COMPONENT_LENGTH));
  if (length % COMPONENT_ALIGNMENT !== 0) {
    throw new WccpEncodeError(`${name}.${FIELD.length}`, `${ENCODE_ERRORS.notAligned(COMPONENT_ALIGNMENT)} (got ${length})`);
  }
  w.patchU16(lengthAt, length, `${name}.${FIELD.length}`);
}

/** One component, header included, as bytes (for tests and tools). */
export function encodeComponent<T extends KnownComponentType>(type: T, value: ComponentValues[T]): Uint8Array {
  const w = new Writer();
  writeComponent(w, type, value);
  return w.finish();
}

/**
 * One component of type `type` from `bytes` (header included, nothing after it). Offsets in
 * errors count from the start of `bytes`.
 */
export function decodeComponent<T extends KnownComponentType>(type: T, bytes: Uint8Array): ComponentValues[T] {
  const ctx: DecodeContext = { messageType: null, component: componentName(type) };
  const r = new Reader(bytes, 0, bytes.length, ctx);
  const typeAt = r.offset;
  const found = r.u16(FIELD.type);
  if (found !== type) throw r.fail(FIELD.type, 'bad-value', `${found}, expected ${type}`, typeAt);
  const lengthAt = r.offset;
  const length = r.u16(FIELD.length);
  if (length > r.remaining) throw r.fail(FIELD.length, 'bad-length', `${length}, ${r.remaining} bytes follow`, lengthAt);
  if (length % COMPONENT_ALIGNMENT !== 0) {
    throw r.fail(FIELD.length, 'bad-length', `${length} is not a multiple of ${COMPONENT_ALIGNMENT}`, lengthAt);
  }
  const value = decodeComponentBody(type, r.sub(length, 'body'), lengthAt);
  r.done('trailing');
  return value;
}
