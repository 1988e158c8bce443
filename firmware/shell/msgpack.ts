// The interoperable MessagePack encoding of the management port and the saved running state: only
// the types of the MessagePack specification that any implementation decodes (nil, bool, int,
// float 64, str, bin, array, map with string keys), never msgpackr's own extensions (records,
// bundled strings, undefined as ext 0, typed arrays, Error, Set, Date...). Binaries (bin 8/16/32)
// carry firmware-image chunks.
//
// Contract
// - encodeValue takes plain data (null, boolean, number, bigint, string, arrays, objects) and
//   writes the smallest header for every item (as Python's msgpack does, byte for byte). An
//   integer beyond 32 bits goes out as a 64-bit integer, not as msgpackr's float 64, so 64-bit
//   counters keep every digit. Object properties that are undefined are left out (as JSON does).
//   A Uint8Array is written as bin. Anything else (functions, symbols, Maps, Dates, other typed
//   arrays) is a bug of the caller: TypeError.
// - decodeValue takes untrusted bytes: exactly one value that fills the buffer, nested at most
//   MAX_DEPTH deep, of the plain types only (a bin becomes a Uint8Array copy); 64-bit integers that fit a double exactly become
//   numbers, larger ones stay bigint. Anything else throws MsgpackError; it never returns a
//   partial value. A non-string map key is taken as its string form (validation then refuses it
//   as an unknown field); "__proto__" cannot reach an object's prototype (msgpackr renames it).

import { Packr, Unpackr } from 'msgpackr';

/** Nesting deeper than any message or state we define (sessions in a list in a map: 4). */
export const MAX_DEPTH = 32;

export class MsgpackError extends Error {
  override readonly name = 'MsgpackError';
}

export type PlainValue = null | boolean | number | bigint | string | Uint8Array | PlainValue[] | { [key: string]: PlainValue };

// useRecords false: no msgpackr records; variableMapSize: fixmap/map16 by size, like other
// encoders (msgpackr otherwise writes every map with a map16 header).
const packr = new Packr({ useRecords: false, variableMapSize: true, useFloat32: 0 });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

const INT32_MIN = -0x8000_0000;
const UINT32_MAX = 0xffff_ffff;

function toWire(value: unknown, depth: number, path: string): unknown {
  if (depth > MAX_DEPTH) throw new TypeError(`${path}: nested deeper than ${MAX_DEPTH}`);
  if (value === null || typeof value === 'boolean' || typeof value === 'string' || typeof value === 'bigint') return value;
  if (value instanceof Uint8Array) return value;
  if (typeof value === 'number') {
    // msgpackr writes integers outside int32/uint32 as float 64; a 64-bit integer keeps them exact.
    if (Number.isInteger(value) && (value < INT32_MIN || value > UINT32_MAX) && Number.isSafeInteger(value)) return BigInt(value);
    return value;
  }
  if (Array.isArray(value)) return value.map((v, i) => toWire(v, depth + 1, `${path}.${i}`));
  if (typeof value === 'object' && isPlainObject(value)) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (v !== undefined) out[k] = toWire(v, depth + 1, `${path}.${k}`);
    }
    return out;
  }
  throw new TypeError(`${path}: ${describe(value)} has no interoperable MessagePack form`);
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (typeof value === 'object') return `a ${(value as object).constructor?.name ?? 'object'}`;
  return `a ${typeof value}`;
}

/** Plain data → MessagePack bytes (standard types only). */
export function encodeValue(value: unknown): Uint8Array {
  return packr.pack(toWire(value, 0, 'value'));
}

function fromWire(value: unknown, depth: number): PlainValue {
  if (depth > MAX_DEPTH) throw new MsgpackError(`nested deeper than ${MAX_DEPTH}`);
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return value;
  if (typeof value === 'number') return value;
  // bin: msgpackr hands out a view of the input; the caller keeps a copy.
  if (value instanceof Uint8Array) return new Uint8Array(value);
  if (typeof value === 'bigint') {
    const n = Number(value);
    return Number.isSafeInteger(n) && BigInt(n) === value ? n : value;
  }
  if (Array.isArray(value)) {
    const out: PlainValue[] = new Array(value.length);
    for (let i = 0; i < value.length; i++) out[i] = fromWire(value[i], depth + 1);
    return out;
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    const out: { [key: string]: PlainValue } = {};
    for (const [k, v] of Object.entries(value as object)) out[k] = fromWire(v, depth + 1);
    return out;
  }
  throw new MsgpackError(`${describe(value)} is not a plain MessagePack value (extension types are not accepted)`);
}

/** Untrusted bytes → one plain value, or MsgpackError. */
export function decodeValue(bytes: Uint8Array): PlainValue {
  if (bytes.length === 0) throw new MsgpackError('empty: no MessagePack value');
  let raw: unknown;
  try {
    raw = unpackr.unpack(bytes);
  } catch (e) {
    throw new MsgpackError(`not one MessagePack value: ${(e as Error).message}`);
  }
  return fromWire(raw, 0);
}
