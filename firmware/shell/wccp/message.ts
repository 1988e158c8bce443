// WCCPv2 messages (draft section 5): header, which components each message carries and in
// what order, and the decode/encode entry points.
//
//  │ Type (4) │ Version (2) = 0x0200 │ Length (2) │ components … (Length bytes) │
//
//  HERE_I_AM        Security, Service, Web-Cache Identity, Web-Cache View, [Capabilities], [Command Extension]
//  I_SEE_YOU        Security, Service, Router Identity, Router View, [Assignment Info | Assignment Map],
//                   [Capabilities], [Command Extension]
//  REDIRECT_ASSIGN  Security, Service, Assignment Info | Alternate Assignment
//  REMOVAL_QUERY    Security, Service, Router Query Info
//
// Contract (decode): the datagram is untrusted. It must be exactly one message: 8-byte header,
// version 0x0200, a known type, and a Length equal to the bytes that follow (shorter is a
// length mismatch, longer is trailing bytes). Components must be 4-aligned, lie inside the
// message, appear in the draft's order with Security Info first, appear at most once, and
// include every component the message type requires; a known component the message type does
// not list is refused. Components of unknown type (and the rev1 Alternate Assignment Map) are
// kept raw with their type; the rev1 Address Table is decoded and may appear anywhere after
// Security Info. Every failure is a WccpDecodeError naming message, component, field and
// offset. Work and allocation are bounded by the datagram's size (at most 64 KiB).
//
// Contract (encode): components are written in the draft's order, then the Address Table, then
// raw components. Missing required components, both halves of an either-or pair, values that do
// not fit their fields and messages larger than a UDP datagram throw WccpEncodeError. With a
// password the message is signed (MD5); without one, the Security Info is written as given, so
// a decoded message re-encodes to the same bytes.
//
// Decode → encode gives back the received bytes whenever raw components (if any) came last, an
// Address Table (if any) came after the draft's components and unknown extension sub-fields (if
// any) after the defined ones, which is how every peer we know of lays messages out.
//
// Authentication: "Each web-cache or router in the Service Group will authenticate the security
// component in a received WCCP message immediately after validating the WCCP message header."
// The password belongs to the service group, which only the Service Info names, so the decoder
// validates the whole (bounded) message first and checks MD5 last; a malformed message and an
// unauthentic one are both discarded, only the counter differs.

import {
  COMPONENT_ALIGNMENT,
  COMPONENT_HEADER_SIZE,
  ComponentType,
  componentName,
  HEADER_LENGTH_OFFSET,
  MAX_DATAGRAM_SIZE,
  MAX_MESSAGE_BODY,
  MD5_DIGEST_SIZE,
  MESSAGE_HEADER_SIZE,
  MESSAGE_NAMES,
  MessageType,
  WCCP_VERSION,
} from './constants.ts';
import { decodeComponentBody, isKnownComponentType, writeComponent, writeRawComponent } from './components.ts';
import type {
  AddressTable,
  AlternateAssignment,
  AssignmentInfo,
  AssignmentMap,
  CapabilitiesInfo,
  CommandExtension,
  KnownComponentType,
  RawComponent,
  RouterIdentityInfo,
  RouterQueryInfo,
  RouterViewInfo,
  SecurityInfo,
  ServiceInfo,
  WebCacheIdentityInfo,
  WebCacheViewInfo,
} from './components.ts';
import { ENCODE_ERRORS, FIELD, WccpEncodeError, WccpSecurityError } from './errors.ts';
import type { ReplicationRequest } from './extension.ts';
import { Reader } from './reader.ts';
import type { DecodeContext } from './reader.ts';
import { checkSecurity, signMessage } from './security.ts';
import type { WccpPassword } from './security.ts';
import { Writer } from './writer.ts';

interface MessageBase {
  readonly security: SecurityInfo;
  readonly service: ServiceInfo;
  /** rev1 Address Table, if the peer sent one (address fields are then table indices). */
  readonly addressTable?: AddressTable;
  /** Components of types this codec has no typed form for, in the order received. */
  readonly rawComponents?: readonly RawComponent[];
}

/** Cache → router, every HERE_I_AM_T (10 s). */
export interface HereIAm extends MessageBase {
  readonly type: typeof MessageType.HereIAm;
  readonly webCacheIdentity: WebCacheIdentityInfo;
  readonly webCacheView: WebCacheViewInfo;
  readonly capabilities?: CapabilitiesInfo;
  readonly commandExtension?: CommandExtension;
}

/** Router → cache, in answer to HERE_I_AM. At most one of assignmentInfo and assignmentMap. */
export interface ISeeYou extends MessageBase {
  readonly type: typeof MessageType.ISeeYou;
  readonly routerIdentity: RouterIdentityInfo;
  readonly routerView: RouterViewInfo;
  readonly assignmentInfo?: AssignmentInfo;
  readonly assignmentMap?: AssignmentMap;
  readonly capabilities?: CapabilitiesInfo;
  readonly commandExtension?: CommandExtension;
}

/** Designated cache → router. Exactly one of assignmentInfo and alternateAssignment. */
export interface RedirectAssign extends MessageBase {
  readonly type: typeof MessageType.RedirectAssign;
  readonly assignmentInfo?: AssignmentInfo;
  readonly alternateAssignment?: AlternateAssignment;
}

/** Router → cache after 2.5 × HERE_I_AM_T of silence. */
export interface RemovalQuery extends MessageBase {
  readonly type: typeof MessageType.RemovalQuery;
  readonly routerQuery: RouterQueryInfo;
}

export type WccpMessage = HereIAm | ISeeYou | RedirectAssign | RemovalQuery;

/** Where one component goes in a message: its property, type and rank in the draft's order. */
interface Slot {
  readonly key: string;
  readonly type: KnownComponentType;
  /** Position in the draft's drawing; either-or alternatives share a rank. */
  readonly rank: number;
  readonly required: boolean;
}

interface Layout {
  readonly slots: readonly Slot[];
  /** Two alternatives at one position: at most one may appear; `required` means exactly one. */
  readonly either?: { readonly keys: readonly [string, string]; readonly required: boolean };
}

const SECURITY: Slot = { key: 'security', type: ComponentType.SecurityInfo, rank: 0, required: true };
const SERVICE: Slot = { key: 'service', type: ComponentType.ServiceInfo, rank: 1, required: true };

const LAYOUTS: Readonly<Record<MessageType, Layout>> = {
  [MessageType.HereIAm]: {
    slots: [
      SECURITY,
      SERVICE,
      { key: 'webCacheIdentity', type: ComponentType.WebCacheIdentityInfo, rank: 2, required: true },
      { key: 'webCacheView', type: ComponentType.WebCacheViewInfo, rank: 3, required: true },
      { key: 'capabilities', type: ComponentType.CapabilitiesInfo, rank: 4, required: false },
      { key: 'commandExtension', type: ComponentType.CommandExtension, rank: 5, required: false },
    ],
  },
  [MessageType.ISeeYou]: {
    slots: [
      SECURITY,
      SERVICE,
      { key: 'routerIdentity', type: ComponentType.RouterIdentityInfo, rank: 2, required: true },
      { key: 'routerView', type: ComponentType.RouterViewInfo, rank: 3, required: true },
      { key: 'assignmentInfo', type: ComponentType.AssignmentInfo, rank: 4, required: false },
      { key: 'assignmentMap', type: ComponentType.AssignmentMap, rank: 4, required: false },
      { key: 'capabilities', type: ComponentType.CapabilitiesInfo, rank: 5, required: false },
      { key: 'commandExtension', type: ComponentType.CommandExtension, rank: 6, required: false },
    ],
    // The draft draws "Assignment Info Component OR Assignment Map Component"; neither Squid
    // nor Wireshark requires one, and a router sends none before any assignment exists.
    either: { keys: ['assignmentInfo', 'assignmentMap'], required: false },
  },
  [MessageType.RedirectAssign]: {
    slots: [
      SECURITY,
      SERVICE,
      { key: 'assignmentInfo', type: ComponentType.AssignmentInfo, rank: 2, required: false },
      { key: 'alternateAssignment', type: ComponentType.AlternateAssignment, rank: 2, required: false },
    ],
    // "The Redirection Hash Tables can be conveyed in either an Assignment Info Component or an
    // Alternate Assignment Component within a WCCP2_REDIRECT_ASSIGNMENT."
    either: { keys: ['assignmentInfo', 'alternateAssignment'], required: true },
  },
  [MessageType.RemovalQuery]: {
    slots: [SECURITY, SERVICE, { key: 'routerQuery', type: ComponentType.RouterQueryInfo, rank: 2, required: true }],
  },
};

const hex16 = (v: number) => `0x${v.toString(16).padStart(4, '0')}`;

function isMessageType(t: number): t is MessageType {
  return Object.prototype.hasOwnProperty.call(LAYOUTS, t);
}

function slotName(layout: Layout, key: string): string {
  const slot = layout.slots.find((s) => s.key === key);
  return slot ? componentName(slot.type) : key;
}

// ── Decode ──────────────────────────────────────────────────────────────────────────────────

export interface DecodeOptions {
  /**
   * The service group's password (null: the group uses no security). When given, the message's
   * security is checked after decoding and anything but 'ok' throws WccpSecurityError. Leave it
   * out to decode first, look the service group up, then call checkSecurity.
   */
  readonly password?: WccpPassword | null;
}

/** Decode one datagram into a message; see the module contract for what is checked. */
export function decodeMessage(datagram: Uint8Array, options: DecodeOptions = {}): WccpMessage {
  const ctx: DecodeContext = { messageType: null, component: null };
  const r = new Reader(datagram, 0, datagram.length, ctx);
  if (r.remaining < MESSAGE_HEADER_SIZE) {
    throw r.fail('header', 'truncated', `needs ${MESSAGE_HEADER_SIZE} bytes, datagram has ${r.remaining}`);
  }
  const type = r.u32(FIELD.type);
  if (!isMessageType(type)) {
    throw r.fail(FIELD.type, 'unknown-message-type', `${type}, expected ${Object.keys(LAYOUTS).join(', ')}`, 0);
  }
  const name = MESSAGE_NAMES[type];
  ctx.messageType = name;
  const versionAt = r.offset;
  const version = r.u16(FIELD.version);
  if (version !== WCCP_VERSION) {
    throw r.fail(FIELD.version, 'bad-version', `${hex16(version)}, expected ${hex16(WCCP_VERSION)}`, versionAt);
  }
  const length = r.u16(FIELD.length);
  if (length > r.remaining) {
    throw r.fail(FIELD.length, 'length-mismatch', `header says ${length} bytes follow, datagram has ${r.remaining}`, HEADER_LENGTH_OFFSET);
  }
  if (length < r.remaining) {
    throw r.fail('datagram', 'trailing-bytes', `${r.remaining - length} bytes after the ${length}-byte message`, MESSAGE_HEADER_SIZE + length);
  }

  const layout = LAYOUTS[type];
  const out: Record<string, unknown> = { type };
  const raw: RawComponent[] = [];
  let lastRank = -1;
  let lastName = '';
  let addressTable: AddressTable | undefined;

  for (let index = 0; r.remaining > 0; index++) {
    ctx.component = null;
    const componentAt = r.offset;
    if (r.remaining < COMPONENT_HEADER_SIZE) {
      throw r.fail(FIELD.component, 'truncated', `component header needs ${COMPONENT_HEADER_SIZE} bytes, ${r.remaining} left`);
    }
    const ctype = r.u16(FIELD.type);
    ctx.component = componentName(ctype);
    const lengthAt = r.offset;
    const clen = r.u16(FIELD.length);
    if (clen > r.remaining) {
      throw r.fail(FIELD.length, 'bad-length', `${clen}, only ${r.remaining} bytes left in the message`, lengthAt);
    }
    if (clen % COMPONENT_ALIGNMENT !== 0) {
      throw r.fail(FIELD.length, 'bad-length', `${clen} is not a multiple of ${COMPONENT_ALIGNMENT}`, lengthAt);
    }
    const body = r.sub(clen, 'body');
    if (index === 0 && ctype !== ComponentType.SecurityInfo) {
      ctx.component = componentName(ComponentType.SecurityInfo);
      throw r.fail(FIELD.component, 'missing-component', `Security Info must be the first component, found ${componentName(ctype)}`, componentAt);
    }

    if (ctype === ComponentType.AddressTable) {
      if (addressTable !== undefined) throw r.fail(FIELD.type, 'duplicate-component', 'a second Address Table', componentAt);
      addressTable = decodeComponentBody(ComponentType.AddressTable, body, lengthAt);
      continue;
    }
    if (!isKnownComponentType(ctype)) {
      raw.push({ type: ctype, data: body.bytes(body.remaining, 'data') });
      continue;
    }
    const slot = layout.slots.find((s) => s.type === ctype);
    if (slot === undefined) {
      throw r.fail(FIELD.type, 'unexpected-component', `${componentName(ctype)} is not part of ${name}`, componentAt);
    }
    if (out[slot.key] !== undefined) {
      throw r.fail(FIELD.type, 'duplicate-component', `a second ${componentName(ctype)}`, componentAt);
    }
    if (slot.rank < lastRank) {
      throw r.fail(FIELD.type, 'out-of-order', `${componentName(ctype)} after ${lastName}`, componentAt);
    }
    if (slot.rank === lastRank && layout.either?.keys.includes(slot.key)) {
      const [a, b] = layout.either.keys;
      throw r.fail(FIELD.type, 'conflicting-components', `both ${slotName(layout, a)} and ${slotName(layout, b)}`, componentAt);
    }
    out[slot.key] = decodeComponentBody(slot.type, body, lengthAt);
    lastRank = slot.rank;
    lastName = componentName(ctype);
  }

  // A missing component is reported as that component, at the end of the message.
  const end = datagram.length;
  for (const slot of layout.slots) {
    if (slot.required && out[slot.key] === undefined) {
      ctx.component = componentName(slot.type);
      throw r.fail(FIELD.component, 'missing-component', `${name} requires ${componentName(slot.type)}`, end);
    }
  }
  if (layout.either?.required && layout.either.keys.every((k) => out[k] === undefined)) {
    const [a, b] = layout.either.keys;
    ctx.component = `${slotName(layout, a)} or ${slotName(layout, b)}`;
    throw r.fail(FIELD.component, 'missing-component', `${name} requires ${ctx.component}`, end);
  }
  ctx.component = null;
  if (addressTable !== undefined) out['addressTable'] = addressTable;
  if (raw.length > 0) out['rawComponents'] = raw;
  const message = out as unknown as WccpMessage;

  if (options.password !== undefined) {
    const verdict = checkSecurity(datagram, message.security, options.password);
    if (verdict !== 'ok') throw new WccpSecurityError(name, verdict);
  }
  return message;
}

// ── Encode ──────────────────────────────────────────────────────────────────────────────────

export interface EncodeOptions {
  /** Sign with MD5 under this password (the Security Info is written as MD5 whatever it says). */
  readonly password?: WccpPassword;
}

/** Encode a message; see the module contract. */
export function encodeMessage(message: WccpMessage, options: EncodeOptions = {}): Uint8Array {
  if (!isMessageType(message.type)) {
    throw new WccpEncodeError(FIELD.type, `${ENCODE_ERRORS.unknownName(Object.values(MESSAGE_NAMES))} (got ${message.type})`);
  }
  const layout = LAYOUTS[message.type];
  const name = MESSAGE_NAMES[message.type];
  const fields = message as unknown as Record<string, unknown>;
  for (const slot of layout.slots) {
    if (slot.required && fields[slot.key] === undefined) {
      throw new WccpEncodeError(`${name}.${slot.key}`, ENCODE_ERRORS.required);
    }
  }
  if (layout.either) {
    const [a, b] = layout.either.keys;
    const present = layout.either.keys.filter((k) => fields[k] !== undefined).length;
    if (present > 1) throw new WccpEncodeError(`${name}.${a}`, ENCODE_ERRORS.exclusive(a, b));
    if (present === 0 && layout.either.required) throw new WccpEncodeError(`${name}.${a}`, ENCODE_ERRORS.needsOne(a, b));
  }

  const w = new Writer();
  w.u32(message.type, FIELD.type);
  w.u16(WCCP_VERSION, FIELD.version);
  w.u16(0, FIELD.length);
  const signing = options.password !== undefined;
  for (const slot of layout.slots) {
    let value = fields[slot.key];
    if (value === undefined) continue;
    if (slot.type === ComponentType.SecurityInfo && signing) {
      value = { option: 'md5', digest: new Uint8Array(MD5_DIGEST_SIZE) } satisfies SecurityInfo;
    }
    writeComponent(w, slot.type, value as never);
  }
  if (message.addressTable !== undefined) writeComponent(w, ComponentType.AddressTable, message.addressTable);
  for (const c of message.rawComponents ?? []) writeRawComponent(w, c);

  const bodyLength = w.length - MESSAGE_HEADER_SIZE;
  if (bodyLength > MAX_MESSAGE_BODY || w.length > MAX_DATAGRAM_SIZE) {
    throw new WccpEncodeError(name, ENCODE_ERRORS.messageTooLong(Math.min(MAX_DATAGRAM_SIZE, MAX_MESSAGE_BODY + MESSAGE_HEADER_SIZE)));
  }
  w.patchU16(HEADER_LENGTH_OFFSET, bodyLength, FIELD.length);
  const bytes = w.finish();
  if (signing) signMessage(bytes, options.password as WccpPassword);
  return bytes;
}

// ── Helpers for the router ──────────────────────────────────────────────────────────────────

/**
 * The replication request a HERE_I_AM carries, or null if it has none — in which case the peer
 * is a standard WCCP cache and gets standard redirect behaviour for its service group.
 */
export function replicationRequestOf(message: WccpMessage): ReplicationRequest | null {
  if (message.type !== MessageType.HereIAm) return null;
  for (const c of message.commandExtension?.commands ?? []) {
    if (c.kind === 'replication') return c.request;
  }
  return null;
}
