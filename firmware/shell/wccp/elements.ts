// WCCPv2 information elements (draft section 5.7): the pieces components are built from.
//
//  Router ID Element          │ Router ID (4) │ Receive ID (4) │
//  Assignment Key Element     │ Key IP (4) │ Key Change Number (4) │
//  Router Assignment Element  │ Router ID (4) │ Receive ID (4) │ Change Number (4) │
//  Mask Element               │ src addr mask (4) │ dst addr mask (4) │ src port mask (2) │ dst port mask (2) │
//  Value Element              │ src addr (4) │ dst addr (4) │ src port (2) │ dst port (2) │ cache IP (4) │
//  Mask/Value Set Element     │ Mask Element (12) │ n (4) │ n × Value Element (16) │
//  Web-Cache Identity Element │ WC address (4) │ hash revision (2) │ flags (2) │ assignment data … │
//     hash data  │ bucket bitmap (32) │ weight (2) │ status (2) │              (element = 44 bytes)
//     mask data  │ n sets (4) │ n × Mask/Value Set │ weight (2) │ status (2) │ (Squid: 1 set, 0 values = 32 bytes)
//     none       │ (nothing) │                                                  (rev1, element = 8 bytes)
//     extended   │ type (2) │ length (2) │ body (length) │                     (rev1, kept raw)
//
// Contract: decoders read from an untrusted Reader window and throw WccpDecodeError naming
// the field (prefixed with where the element sits, e.g. `webCaches[1].flags`); every count is
// checked against the bytes left before it is looped over. Encoders check every value's range.
// Addresses are u32 in host order (a rev1 Address Table turns them into table indices).

import {
  AssignmentDataType,
  BUCKET_BITMAP_SIZE,
  MASK_VALUE_SET_MIN_SIZE,
  ownValue,
  VALUE_ELEMENT_SIZE,
  WEB_CACHE_ASSIGNMENT_TYPE_SHIFT,
  WEB_CACHE_ELEMENT_MIN_SIZE,
  WebCacheFlag,
} from './constants.ts';
import { ENCODE_ERRORS, FIELD, WccpEncodeError } from './errors.ts';
import type { Reader } from './reader.ts';
import { checkInt } from './writer.ts';
import type { Writer } from './writer.ts';

/** "Element containing the router's identifying IP address and Receive ID." */
export interface RouterIdElement {
  readonly routerId: number;
  readonly receiveId: number;
}

/** "This element identifies a particular assignment." */
export interface AssignmentKey {
  /** "Designated web-cache IP address". */
  readonly address: number;
  readonly changeNumber: number;
}

export interface RouterAssignmentElement {
  readonly routerId: number;
  /** "A router will ignore an assignment if Receive ID is invalid." */
  readonly receiveId: number;
  /** "Last Member Change Number received from the router identified by Router ID." */
  readonly changeNumber: number;
}

/** "Note that in all of the mask fields of this element a zero means 'Don't care'." */
export interface MaskElement {
  readonly srcAddr: number;
  readonly dstAddr: number;
  readonly srcPort: number;
  readonly dstPort: number;
}

export interface ValueElement {
  readonly srcAddr: number;
  readonly dstAddr: number;
  readonly srcPort: number;
  readonly dstPort: number;
  /** "The IP address of the web-cache to which packets matching this value element should be sent." */
  readonly cacheAddress: number;
}

export interface MaskValueSet {
  readonly mask: MaskElement;
  readonly values: readonly ValueElement[];
}

/** The assignment data that follows a Web-Cache Identity Element's flags. */
export type AssignmentData =
  | {
      readonly kind: 'hash';
      /** 32 bytes: bucket 8·i+j is bit j (LSB first) of byte i, as Wireshark reads it. */
      readonly buckets: Uint8Array;
      readonly weight: number;
      readonly status: number;
    }
  | {
      readonly kind: 'mask';
      readonly sets: readonly MaskValueSet[];
      readonly weight: number;
      readonly status: number;
    }
  /** rev1 "Assignment Data Element Not Present": the element ends after its flags. */
  | { readonly kind: 'none' }
  /** rev1 Extended Assignment Data, kept raw: its own type and body. */
  | { readonly kind: 'extended'; readonly assignmentType: number; readonly body: Uint8Array };

export type AssignmentDataKind = AssignmentData['kind'];

const DATA_TYPE_BY_KIND: Readonly<Record<AssignmentDataKind, number>> = {
  hash: AssignmentDataType.Hash,
  mask: AssignmentDataType.Mask,
  none: AssignmentDataType.None,
  extended: AssignmentDataType.Extended,
};

export interface WebCacheIdentityElement {
  readonly address: number;
  /** "Hash Revision: 0x00". Kept as received. */
  readonly hashRevision: number;
  /**
   * The whole flags field. On encode the assignment-type bits (0x0006) are taken from
   * `assignment.kind`; the other bits (U = 0x0001 historical, 0x0008 version request,
   * reserved) are written as given.
   */
  readonly flags: number;
  readonly assignment: AssignmentData;
}

const U16_MAX = 0xffff;

// ── Router ID, Assignment Key, Router Assignment ────────────────────────────────────────────

export function decodeRouterId(r: Reader, at: string): RouterIdElement {
  return { routerId: r.u32(`${at}.routerId`), receiveId: r.u32(`${at}.receiveId`) };
}

export function encodeRouterId(w: Writer, e: RouterIdElement, at: string): void {
  w.u32(e.routerId, `${at}.routerId`);
  w.u32(e.receiveId, `${at}.receiveId`);
}

export function decodeAssignmentKey(r: Reader, at: string): AssignmentKey {
  return { address: r.u32(`${at}.address`), changeNumber: r.u32(`${at}.changeNumber`) };
}

export function encodeAssignmentKey(w: Writer, k: AssignmentKey, at: string): void {
  w.u32(k.address, `${at}.address`);
  w.u32(k.changeNumber, `${at}.changeNumber`);
}

export function decodeRouterAssignment(r: Reader, at: string): RouterAssignmentElement {
  return {
    routerId: r.u32(`${at}.routerId`),
    receiveId: r.u32(`${at}.receiveId`),
    changeNumber: r.u32(`${at}.changeNumber`),
  };
}

export function encodeRouterAssignment(w: Writer, e: RouterAssignmentElement, at: string): void {
  w.u32(e.routerId, `${at}.routerId`);
  w.u32(e.receiveId, `${at}.receiveId`);
  w.u32(e.changeNumber, `${at}.changeNumber`);
}

// ── Mask/Value sets ─────────────────────────────────────────────────────────────────────────

function decodeMask(r: Reader, at: string): MaskElement {
  return {
    srcAddr: r.u32(`${at}.srcAddr`),
    dstAddr: r.u32(`${at}.dstAddr`),
    srcPort: r.u16(`${at}.srcPort`),
    dstPort: r.u16(`${at}.dstPort`),
  };
}

function decodeValue(r: Reader, at: string): ValueElement {
  return {
    srcAddr: r.u32(`${at}.srcAddr`),
    dstAddr: r.u32(`${at}.dstAddr`),
    srcPort: r.u16(`${at}.srcPort`),
    dstPort: r.u16(`${at}.dstPort`),
    cacheAddress: r.u32(`${at}.cacheAddress`),
  };
}

export function decodeMaskValueSet(r: Reader, at: string): MaskValueSet {
  const mask = decodeMask(r, `${at}.mask`);
  const n = r.count(`${at}.values ${FIELD.count}`, VALUE_ELEMENT_SIZE);
  const values: ValueElement[] = [];
  for (let i = 0; i < n; i++) values.push(decodeValue(r, `${at}.values[${i}]`));
  return { mask, values };
}

export function encodeMaskValueSet(w: Writer, s: MaskValueSet, at: string): void {
  w.u32(s.mask.srcAddr, `${at}.mask.srcAddr`);
  w.u32(s.mask.dstAddr, `${at}.mask.dstAddr`);
  w.u16(s.mask.srcPort, `${at}.mask.srcPort`);
  w.u16(s.mask.dstPort, `${at}.mask.dstPort`);
  w.u32(s.values.length, `${at}.values ${FIELD.count}`);
  s.values.forEach((v, i) => {
    const p = `${at}.values[${i}]`;
    w.u32(v.srcAddr, `${p}.srcAddr`);
    w.u32(v.dstAddr, `${p}.dstAddr`);
    w.u16(v.srcPort, `${p}.srcPort`);
    w.u16(v.dstPort, `${p}.dstPort`);
    w.u32(v.cacheAddress, `${p}.cacheAddress`);
  });
}

/** A count of Mask/Value Set Elements followed by the sets (Assignment Map, mask assignments). */
export function decodeMaskValueSets(r: Reader, at: string): MaskValueSet[] {
  const n = r.count(`${at} ${FIELD.count}`, MASK_VALUE_SET_MIN_SIZE);
  const sets: MaskValueSet[] = [];
  for (let i = 0; i < n; i++) sets.push(decodeMaskValueSet(r, `${at}[${i}]`));
  return sets;
}

export function encodeMaskValueSets(w: Writer, sets: readonly MaskValueSet[], at: string): void {
  w.u32(sets.length, `${at} ${FIELD.count}`);
  sets.forEach((s, i) => encodeMaskValueSet(w, s, `${at}[${i}]`));
}

// ── Web-Cache Identity Element ──────────────────────────────────────────────────────────────

/**
 * One Web-Cache Identity Element. It is self-delimiting (its flags say which assignment data
 * follows and that data carries its own counts), so it can be read from a longer window such
 * as a Router View's list.
 */
export function decodeWebCacheElement(r: Reader, at: string): WebCacheIdentityElement {
  if (r.remaining < WEB_CACHE_ELEMENT_MIN_SIZE) {
    throw r.fail(at, 'truncated', `needs at least ${WEB_CACHE_ELEMENT_MIN_SIZE} bytes, ${r.remaining} left`);
  }
  const address = r.u32(`${at}.address`);
  const hashRevision = r.u16(`${at}.hashRevision`);
  const flags = r.u16(`${at}.flags`);
  const dataType = (flags & WebCacheFlag.AssignmentTypeMask) >> WEB_CACHE_ASSIGNMENT_TYPE_SHIFT;
  let assignment: AssignmentData;
  switch (dataType) {
    case AssignmentDataType.Hash:
      assignment = {
        kind: 'hash',
        buckets: r.bytes(BUCKET_BITMAP_SIZE, `${at}.buckets`),
        weight: r.u16(`${at}.weight`),
        status: r.u16(`${at}.status`),
      };
      break;
    case AssignmentDataType.Mask: {
      const sets = decodeMaskValueSets(r, `${at}.sets`);
      assignment = { kind: 'mask', sets, weight: r.u16(`${at}.weight`), status: r.u16(`${at}.status`) };
      break;
    }
    case AssignmentDataType.None:
      assignment = { kind: 'none' };
      break;
    default: {
      const assignmentType = r.u16(`${at}.extended.type`);
      const lengthAt = r.offset;
      const length = r.u16(`${at}.extended.${FIELD.length}`);
      if (length > r.remaining) {
        throw r.fail(`${at}.extended.${FIELD.length}`, 'bad-length', `${length}, ${r.remaining} bytes left`, lengthAt);
      }
      assignment = { kind: 'extended', assignmentType, body: r.bytes(length, `${at}.extended.body`) };
    }
  }
  return { address, hashRevision, flags, assignment };
}

export function encodeWebCacheElement(w: Writer, e: WebCacheIdentityElement, at: string): void {
  const kind = e.assignment.kind;
  const dataType = ownValue(DATA_TYPE_BY_KIND, kind);
  if (dataType === undefined) {
    throw new WccpEncodeError(`${at}.assignment.kind`, ENCODE_ERRORS.unknownName(Object.keys(DATA_TYPE_BY_KIND)));
  }
  w.u32(e.address, `${at}.address`);
  w.u16(e.hashRevision, `${at}.hashRevision`);
  checkInt(e.flags, 0, U16_MAX, `${at}.flags`);
  w.u16(
    (e.flags & ~WebCacheFlag.AssignmentTypeMask) | (dataType << WEB_CACHE_ASSIGNMENT_TYPE_SHIFT),
    `${at}.flags`,
  );
  const a = e.assignment;
  switch (a.kind) {
    case 'hash':
      w.bytes(a.buckets, `${at}.buckets`, BUCKET_BITMAP_SIZE);
      w.u16(a.weight, `${at}.weight`);
      w.u16(a.status, `${at}.status`);
      break;
    case 'mask':
      encodeMaskValueSets(w, a.sets, `${at}.sets`);
      w.u16(a.weight, `${at}.weight`);
      w.u16(a.status, `${at}.status`);
      break;
    case 'none':
      break;
    case 'extended':
      w.u16(a.assignmentType, `${at}.extended.type`);
      w.u16(a.body.length, `${at}.extended.${FIELD.length}`);
      w.bytes(a.body, `${at}.extended.body`);
      break;
  }
}
