// twinflow's replication request: the data of a Command Extension command of type 0x5446
// ("TF"), sent by a device in its HERE_I_AM to say which packets it wants and how.
// docs/protocol.md is the specification; this file implements it.
//
//   0       1       2       3
//  ┌───────┬───────┬───────┬───────┐
//  │version│ mode  │ encap │ rsvd=0│  0
//  ├───────┴───────┼───────┴───────┤
//  │    snaplen    │ filter length │  4
//  ├───────────────┴───────────────┤
//  │        sample (1-in-N)        │  8
//  ├───────────────────────────────┤
//  │        rate limit pkt/s       │ 12
//  ├───────────────────────────────┤
//  │        rate limit bit/s       │ 16   (u64)
//  │                               │
//  ├───────────────────────────────┤
//  │       lifetime (seconds)      │ 24
//  ├───────────────────────────────┤
//  │ filter (UTF-8) … zero pad to 4│ 28
//  ├───────────────┬───────────────┤
//  │ sub-field type│ sub-field len │  then zero or more sub-fields (TLVs),
//  ├───────────────┴───────────────┤  each value zero-padded to 4
//  │ value … pad                   │
//  └───────────────────────────────┘
//
// Contract: the command data is untrusted. Decoding checks every field against the ranges in
// docs/protocol.md and throws WccpDecodeError naming the field (`commands[0].snaplen` …) and its
// byte offset; unknown sub-fields are skipped but kept (so nothing is lost and the element
// re-encodes byte for byte), unless their type has the critical bit 0x8000, which refuses the
// request. The filter is bounded (MAX_EXTENSION_FILTER_BYTES) and validated as UTF-8 here; its
// syntax is the filter compiler's business. Encoding applies the same checks and throws
// WccpEncodeError naming the field.

import {
  EncapsulationCode,
  ERSPAN_SESSION_SIZE,
  EXTENSION_ALIGNMENT,
  EXTENSION_FIXED_SIZE,
  EXTENSION_VERSION,
  FAR_END_SIZE,
  FAR_END_TYPE_NUMBER,
  MAX_ERSPAN_SESSION,
  MAX_EXTENSION_FILTER_BYTES,
  MAX_EXTENSION_SNAPLEN,
  MAX_LABEL_BYTES,
  MIN_EXTENSION_SNAPLEN,
  ModeCode,
  ownValue,
  SUBFIELD_CRITICAL_BIT,
  SUBFIELD_HEAD_SIZE,
  SubFieldType,
} from './constants.ts';
import { ENCODE_ERRORS, FIELD, WccpEncodeError } from './errors.ts';
import type { Reader } from './reader.ts';
import { checkInt } from './writer.ts';
import type { Writer } from './writer.ts';

export type ReplicationMode = keyof typeof ModeCode;
export type ReplicaEncapsulation = keyof typeof EncapsulationCode;

/** A sub-field this version does not define, kept as received. */
export interface SubField {
  readonly type: number;
  readonly value: Uint8Array;
}

/** What a device asks the router to do with the packets it names. */
export interface ReplicationRequest {
  readonly mode: ReplicationMode;
  readonly encapsulation: ReplicaEncapsulation;
  /** tcpdump-style expression, ≤ 1024 UTF-8 bytes; '' = every packet. */
  readonly filter: string;
  /** Bytes kept of each replica; 0 = whole packet, else 64..65535. */
  readonly snaplen: number;
  /** Replicate 1 packet in N; 0 and 1 both mean every packet. */
  readonly sample: number;
  /** Replicas per second; 0 = no limit. */
  readonly ratePps: number;
  /** Replica bits per second; 0 = no limit. */
  readonly rateBps: number;
  /** Seconds the session lasts; 0 = as long as the device stays registered. */
  readonly lifetime: number;
  /** Sub-field 0x0001: a name for the session, 1..64 UTF-8 bytes. */
  readonly label?: string;
  /** Sub-field 0x0002: ERSPAN session ID 0..1023 (encapsulation erspan2 / erspan3 only). */
  readonly erspanSession?: number;
  /**
   * Sub-field 0x8003 (critical): the far-end eliminator's IPv4 address, as a u32 (mode dup with
   * encapsulation gre-seq only). The router then tags the originals too and carries them to it.
   */
  readonly farEnd?: number;
  /** Sub-fields of types this version does not define, in the order received. */
  readonly unknownSubFields?: readonly SubField[];
}

/** Fixed parts of extension error details, shared by encoder and decoder. */
export const EXTENSION_ERRORS = {
  version: `unsupported extension version; this router implements version ${EXTENSION_VERSION}`,
  mode: `expected ${Object.entries(ModeCode).map(([k, v]) => `${v} (${k})`).join(', ')}`,
  encapsulation: `expected ${Object.entries(EncapsulationCode).map(([k, v]) => `${v} (${k})`).join(', ')}`,
  reserved: 'reserved byte must be 0',
  snaplen: `must be 0 (whole packet) or ${MIN_EXTENSION_SNAPLEN}..${MAX_EXTENSION_SNAPLEN}`,
  filterLength: `filter longer than ${MAX_EXTENSION_FILTER_BYTES} bytes`,
  nul: 'contains a NUL character',
  loneSurrogate: 'contains an unpaired UTF-16 surrogate (not representable in UTF-8)',
  label: `label must be 1..${MAX_LABEL_BYTES} UTF-8 bytes`,
  erspanLength: `ERSPAN session sub-field must be ${ERSPAN_SESSION_SIZE} bytes`,
  erspanRange: `ERSPAN session ID must be 0..${MAX_ERSPAN_SESSION}`,
  erspanEncap: 'ERSPAN session ID given but the encapsulation is not erspan2 or erspan3',
  redirectSnaplen: 'redirect diverts whole packets: snaplen must be 0',
  redirectEncap: 'redirect uses the negotiated WCCP forwarding: encapsulation must be gre-wccp',
  tooShort: `shorter than the ${EXTENSION_FIXED_SIZE}-byte fixed part`,
  farEndLength: `far end sub-field must be ${FAR_END_SIZE} bytes (an IPv4 address)`,
  farEndAddress: 'far end must be a unicast IPv4 address (not 0.0.0.0/8, 127.0.0.0/8, multicast or reserved)',
  farEndMode: 'a far end is for mode dup with encapsulation gre-seq only',
  farEndCritical: `the far end sub-field must carry the critical bit (type 0x${SubFieldType.FarEnd.toString(16)}, not 0x${FAR_END_TYPE_NUMBER.toString(16).padStart(4, '0')})`,
} as const;

const MODE_BY_CODE = new Map<number, ReplicationMode>(
  Object.entries(ModeCode).map(([k, v]) => [v, k as ReplicationMode]),
);
const ENCAP_BY_CODE = new Map<number, ReplicaEncapsulation>(
  Object.entries(EncapsulationCode).map(([k, v]) => [v, k as ReplicaEncapsulation]),
);
/** Types this version defines (the far end's non-critical form included: it is refused, not skipped). */
const KNOWN_SUBFIELDS = new Set<number>([...Object.values(SubFieldType), FAR_END_TYPE_NUMBER]);
const ERSPAN_ENCAPS: ReadonlySet<ReplicaEncapsulation> = new Set(['erspan2', 'erspan3']);

const U16_MAX = 0xffff;
const NUL = '\u0000';
/** With the u flag a surrogate pair is one code point, so this matches unpaired halves only. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A far end must be an address a router can send unicast to: not "this network", loopback, multicast or class E. */
export function farEndUsable(address: number): boolean {
  const top = address >>> 24;
  return top !== 0 && top !== 127 && top < 224;
}

const farEndAllowed = (q: { mode: ReplicationMode; encapsulation: ReplicaEncapsulation }): boolean => q.mode === 'dup' && q.encapsulation === 'gre-seq';

/** Zero bytes that bring `n` up to the extension's alignment. */
export function extensionPadding(n: number): number {
  return (EXTENSION_ALIGNMENT - (n % EXTENSION_ALIGNMENT)) % EXTENSION_ALIGNMENT;
}

function decodeText(r: Reader, n: number, field: string): string {
  const at = r.offset;
  const raw = r.bytes(n, field);
  let text: string;
  try {
    text = strictUtf8.decode(raw);
  } catch {
    throw r.fail(field, 'bad-utf8', `${n} bytes`, at);
  }
  if (text.includes(NUL)) throw r.fail(field, 'bad-value', EXTENSION_ERRORS.nul, at);
  return text;
}

/**
 * Decode a replication request from `r`, a window of exactly the command's data. `at` names
 * the command in errors (e.g. `commands[0]`).
 */
export function decodeReplicationRequest(r: Reader, at: string): ReplicationRequest {
  const f = (name: string) => `${at}.${name}`;
  const lengthAt = r.offset - 2;
  if (r.remaining < EXTENSION_FIXED_SIZE) {
    throw r.fail(f(FIELD.length), 'bad-length', `${r.remaining}: ${EXTENSION_ERRORS.tooShort}`, lengthAt);
  }
  const versionAt = r.offset;
  const version = r.u8(f('version'));
  if (version !== EXTENSION_VERSION) throw r.fail(f('version'), 'bad-value', `${version}: ${EXTENSION_ERRORS.version}`, versionAt);
  const modeAt = r.offset;
  const modeCode = r.u8(f('mode'));
  const mode = MODE_BY_CODE.get(modeCode);
  if (mode === undefined) throw r.fail(f('mode'), 'bad-value', `${modeCode}: ${EXTENSION_ERRORS.mode}`, modeAt);
  const encapAt = r.offset;
  const encapCode = r.u8(f('encapsulation'));
  const encapsulation = ENCAP_BY_CODE.get(encapCode);
  if (encapsulation === undefined) {
    throw r.fail(f('encapsulation'), 'bad-value', `${encapCode}: ${EXTENSION_ERRORS.encapsulation}`, encapAt);
  }
  const reservedAt = r.offset;
  const reserved = r.u8(f('reserved'));
  if (reserved !== 0) throw r.fail(f('reserved'), 'bad-value', `${reserved}: ${EXTENSION_ERRORS.reserved}`, reservedAt);
  const snaplenAt = r.offset;
  const snaplen = r.u16(f('snaplen'));
  if (snaplen !== 0 && snaplen < MIN_EXTENSION_SNAPLEN) {
    throw r.fail(f('snaplen'), 'bad-value', `${snaplen}: ${EXTENSION_ERRORS.snaplen}`, snaplenAt);
  }
  const filterLengthAt = r.offset;
  const filterLength = r.u16(f('filterLength'));
  if (filterLength > MAX_EXTENSION_FILTER_BYTES) {
    throw r.fail(f('filterLength'), 'bad-value', `${filterLength}: ${EXTENSION_ERRORS.filterLength}`, filterLengthAt);
  }
  const sample = r.u32(f('sample'));
  const ratePps = r.u32(f('ratePps'));
  const rateBps = r.u64(f('rateBps'));
  const lifetime = r.u32(f('lifetime'));
  const padding = extensionPadding(filterLength);
  if (filterLength + padding > r.remaining) {
    throw r.fail(f('filterLength'), 'bad-length', `${filterLength} (+${padding} padding), ${r.remaining} bytes left`, filterLengthAt);
  }
  const filter = decodeText(r, filterLength, f('filter'));
  r.zeros(padding, f(`filter ${FIELD.padding}`));

  if (mode === 'redirect' && snaplen !== 0) {
    throw r.fail(f('snaplen'), 'bad-value', `${snaplen}: ${EXTENSION_ERRORS.redirectSnaplen}`, snaplenAt);
  }
  if (mode === 'redirect' && encapsulation !== 'gre-wccp') {
    throw r.fail(f('encapsulation'), 'bad-value', `${encapsulation}: ${EXTENSION_ERRORS.redirectEncap}`, encapAt);
  }

  let label: string | undefined;
  let erspanSession: number | undefined;
  let farEnd: number | undefined;
  const unknownSubFields: SubField[] = [];
  for (let i = 0; r.remaining > 0; i++) {
    const sf = (name: string) => f(`subFields[${i}].${name}`);
    if (r.remaining < SUBFIELD_HEAD_SIZE) {
      throw r.fail(f(`subFields[${i}]`), 'truncated', `sub-field head needs ${SUBFIELD_HEAD_SIZE} bytes, ${r.remaining} left`);
    }
    const typeAt = r.offset;
    const type = r.u16(sf('type'));
    const lenAt = r.offset;
    const len = r.u16(sf(FIELD.length));
    const pad = extensionPadding(len);
    if (len + pad > r.remaining) {
      throw r.fail(sf(FIELD.length), 'bad-length', `${len} (+${pad} padding), ${r.remaining} bytes left`, lenAt);
    }
    if (type === SubFieldType.Label) {
      if (label !== undefined) throw r.fail(sf('type'), 'duplicate-element', 'a second label', typeAt);
      if (len === 0 || len > MAX_LABEL_BYTES) throw r.fail(sf(FIELD.length), 'bad-length', `${len}: ${EXTENSION_ERRORS.label}`, lenAt);
      label = decodeText(r, len, f('label'));
    } else if (type === SubFieldType.ErspanSession) {
      if (erspanSession !== undefined) throw r.fail(sf('type'), 'duplicate-element', 'a second ERSPAN session ID', typeAt);
      if (len !== ERSPAN_SESSION_SIZE) throw r.fail(sf(FIELD.length), 'bad-length', `${len}: ${EXTENSION_ERRORS.erspanLength}`, lenAt);
      const valueAt = r.offset;
      erspanSession = r.u16(f('erspanSession'));
      if (erspanSession > MAX_ERSPAN_SESSION) {
        throw r.fail(f('erspanSession'), 'bad-value', `${erspanSession}: ${EXTENSION_ERRORS.erspanRange}`, valueAt);
      }
      if (!ERSPAN_ENCAPS.has(encapsulation)) {
        throw r.fail(f('erspanSession'), 'bad-value', `${encapsulation}: ${EXTENSION_ERRORS.erspanEncap}`, valueAt);
      }
    } else if (type === SubFieldType.FarEnd) {
      if (farEnd !== undefined) throw r.fail(sf('type'), 'duplicate-element', 'a second far end', typeAt);
      if (len !== FAR_END_SIZE) throw r.fail(sf(FIELD.length), 'bad-length', `${len}: ${EXTENSION_ERRORS.farEndLength}`, lenAt);
      const valueAt = r.offset;
      farEnd = r.u32(f('farEnd'));
      if (!farEndUsable(farEnd)) throw r.fail(f('farEnd'), 'bad-value', `${dottedQuad(farEnd)}: ${EXTENSION_ERRORS.farEndAddress}`, valueAt);
      if (!farEndAllowed({ mode, encapsulation })) throw r.fail(f('farEnd'), 'bad-value', `${mode}/${encapsulation}: ${EXTENSION_ERRORS.farEndMode}`, valueAt);
    } else if (type === FAR_END_TYPE_NUMBER) {
      throw r.fail(sf('type'), 'bad-value', EXTENSION_ERRORS.farEndCritical, typeAt);
    } else if ((type & SUBFIELD_CRITICAL_BIT) !== 0) {
      throw r.fail(sf('type'), 'unknown-critical', `0x${type.toString(16).padStart(4, '0')}`, typeAt);
    } else {
      unknownSubFields.push({ type, value: r.bytes(len, sf('value')) });
    }
    r.zeros(pad, sf(FIELD.padding));
  }

  return {
    mode,
    encapsulation,
    filter,
    snaplen,
    sample,
    ratePps,
    rateBps,
    lifetime,
    ...(label !== undefined ? { label } : {}),
    ...(erspanSession !== undefined ? { erspanSession } : {}),
    ...(farEnd !== undefined ? { farEnd } : {}),
    ...(unknownSubFields.length > 0 ? { unknownSubFields } : {}),
  };
}

function dottedQuad(v: number): string {
  return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
}

function encodeText(text: string, field: string, maxBytes: number, detail: string): Uint8Array {
  if (typeof text !== 'string') throw new WccpEncodeError(field, 'must be a string');
  if (LONE_SURROGATE.test(text)) throw new WccpEncodeError(field, EXTENSION_ERRORS.loneSurrogate);
  if (text.includes(NUL)) throw new WccpEncodeError(field, EXTENSION_ERRORS.nul);
  const bytes = utf8.encode(text);
  if (bytes.length > maxBytes) throw new WccpEncodeError(field, `${detail} (got ${bytes.length})`);
  return bytes;
}

function writeSubField(w: Writer, type: number, value: Uint8Array, at: string): void {
  w.u16(type, `${at}.type`);
  w.u16(value.length, `${at}.${FIELD.length}`);
  w.bytes(value, `${at}.value`);
  w.zeros(extensionPadding(value.length));
}

/** Write the command data of a replication request (without the command head). */
export function encodeReplicationRequest(w: Writer, q: ReplicationRequest, at: string): void {
  const f = (name: string) => `${at}.${name}`;
  const mode = ownValue(ModeCode, q.mode);
  if (mode === undefined) throw new WccpEncodeError(f('mode'), ENCODE_ERRORS.unknownName(Object.keys(ModeCode)));
  const encap = ownValue(EncapsulationCode, q.encapsulation);
  if (encap === undefined) {
    throw new WccpEncodeError(f('encapsulation'), ENCODE_ERRORS.unknownName(Object.keys(EncapsulationCode)));
  }
  checkInt(q.snaplen, 0, MAX_EXTENSION_SNAPLEN, f('snaplen'));
  if (q.snaplen !== 0 && q.snaplen < MIN_EXTENSION_SNAPLEN) throw new WccpEncodeError(f('snaplen'), EXTENSION_ERRORS.snaplen);
  if (q.mode === 'redirect' && q.snaplen !== 0) throw new WccpEncodeError(f('snaplen'), EXTENSION_ERRORS.redirectSnaplen);
  if (q.mode === 'redirect' && q.encapsulation !== 'gre-wccp') {
    throw new WccpEncodeError(f('encapsulation'), EXTENSION_ERRORS.redirectEncap);
  }
  const filter = encodeText(q.filter, f('filter'), MAX_EXTENSION_FILTER_BYTES, EXTENSION_ERRORS.filterLength);
  const label = q.label === undefined ? undefined : encodeText(q.label, f('label'), MAX_LABEL_BYTES, EXTENSION_ERRORS.label);
  if (label !== undefined && label.length === 0) throw new WccpEncodeError(f('label'), EXTENSION_ERRORS.label);
  if (q.erspanSession !== undefined) {
    checkInt(q.erspanSession, 0, MAX_ERSPAN_SESSION, f('erspanSession'));
    if (!ERSPAN_ENCAPS.has(q.encapsulation)) throw new WccpEncodeError(f('erspanSession'), EXTENSION_ERRORS.erspanEncap);
  }
  if (q.farEnd !== undefined) {
    checkInt(q.farEnd, 0, 0xffff_ffff, f('farEnd'));
    if (!farEndUsable(q.farEnd)) throw new WccpEncodeError(f('farEnd'), EXTENSION_ERRORS.farEndAddress);
    if (!farEndAllowed(q)) throw new WccpEncodeError(f('farEnd'), EXTENSION_ERRORS.farEndMode);
  }
  const unknown = q.unknownSubFields ?? [];
  unknown.forEach((s, i) => {
    checkInt(s.type, 0, U16_MAX, f(`unknownSubFields[${i}].type`));
    if (KNOWN_SUBFIELDS.has(s.type)) throw new WccpEncodeError(f(`unknownSubFields[${i}].type`), ENCODE_ERRORS.knownType);
  });

  w.u8(EXTENSION_VERSION, f('version'));
  w.u8(mode, f('mode'));
  w.u8(encap, f('encapsulation'));
  w.u8(0, f('reserved'));
  w.u16(q.snaplen, f('snaplen'));
  w.u16(filter.length, f('filterLength'));
  w.u32(q.sample, f('sample'));
  w.u32(q.ratePps, f('ratePps'));
  w.u64(q.rateBps, f('rateBps'));
  w.u32(q.lifetime, f('lifetime'));
  w.bytes(filter, f('filter'));
  w.zeros(extensionPadding(filter.length));
  if (label !== undefined) writeSubField(w, SubFieldType.Label, label, f('label'));
  if (q.erspanSession !== undefined) {
    const v = new Uint8Array(ERSPAN_SESSION_SIZE);
    new DataView(v.buffer).setUint16(0, q.erspanSession);
    writeSubField(w, SubFieldType.ErspanSession, v, f('erspanSession'));
  }
  if (q.farEnd !== undefined) {
    const v = new Uint8Array(FAR_END_SIZE);
    new DataView(v.buffer).setUint32(0, q.farEnd);
    writeSubField(w, SubFieldType.FarEnd, v, f('farEnd'));
  }
  unknown.forEach((s, i) => writeSubField(w, s.type, s.value, f(`unknownSubFields[${i}]`)));
}
