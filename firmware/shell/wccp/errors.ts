// Errors of the WCCPv2 codec: one class per kind of failure, one place for every message.
//
// Contract: every problem found in a received datagram (untrusted input) is a WccpDecodeError
// naming the message type (once the header has been read), the component, the field and the
// absolute byte offset of that field in the datagram; the decoder throws nothing else for bad
// input. A message that decodes but fails authentication is a WccpSecurityError carrying the
// verdict, so a caller can count "bad digest" apart from "malformed". Asking the encoder for
// something the wire cannot carry (a value out of range, a missing required component) is a
// programming or configuration error and throws WccpEncodeError (a RangeError) naming the field.
//
// The fixed parts of the messages are shared constants (AssemblyScript util/error.ts style) so
// tests, logs and callers match on one spelling.

/** What is wrong with a datagram; the key is the stable `code`, the value the message. */
export const DECODE_ERRORS = {
  truncated: 'truncated',
  'bad-length': 'bad length',
  'count-too-large': 'count larger than the bytes that follow',
  'bad-version': 'unsupported version',
  'unknown-message-type': 'unknown message type',
  'length-mismatch': 'message length does not match the datagram',
  'trailing-bytes': 'trailing bytes',
  'missing-component': 'required component missing',
  'duplicate-component': 'duplicate component',
  'unexpected-component': 'component not allowed in this message',
  'out-of-order': 'component out of order',
  'conflicting-components': 'components that exclude each other',
  'bad-value': 'value out of range',
  'bad-padding': 'padding is not zero',
  'bad-utf8': 'not valid UTF-8',
  'duplicate-element': 'duplicate element',
  'unknown-critical': 'unknown critical sub-field',
} as const;

/** Stable identifier of a decode problem; see DECODE_ERRORS for the message. */
export type DecodeErrorCode = keyof typeof DECODE_ERRORS;

/** Field names used by more than one module (the rest are spelled where they are read). */
export const FIELD = {
  type: 'type',
  version: 'version',
  length: 'length',
  count: 'count',
  padding: 'padding',
  component: 'component',
  message: 'message',
} as const;

/**
 * A datagram that is not a well-formed WCCPv2 message. The message reads
 * `WCCP <message>: <component>: <field> at byte <offset>: <what is wrong>: <detail>`
 * (message and component left out while unknown); the same parts are fields.
 */
export class WccpDecodeError extends Error {
  override readonly name = 'WccpDecodeError';
  /** Message type name (`HERE_I_AM` …), or null if the header itself is bad. */
  readonly messageType: string | null;
  /** Component name (`Service Info` …), or null for header-level problems. */
  readonly component: string | null;
  /** The field that is wrong (`length`, `receivedFrom count`, `filter` …). */
  readonly field: string;
  /** Byte offset of that field from the start of the datagram. */
  readonly offset: number;
  readonly code: DecodeErrorCode;
  /** The variable part: values found and expected. */
  readonly detail: string;

  constructor(
    messageType: string | null,
    component: string | null,
    field: string,
    offset: number,
    code: DecodeErrorCode,
    detail: string,
  ) {
    const where = [messageType, component].filter((p): p is string => p !== null).join(': ');
    super(`WCCP ${where === '' ? '' : `${where}: `}${field} at byte ${offset}: ${DECODE_ERRORS[code]}: ${detail}`);
    this.messageType = messageType;
    this.component = component;
    this.field = field;
    this.offset = offset;
    this.code = code;
    this.detail = detail;
  }
}

/**
 * Result of checking a message's Security component against the service group's password.
 * - `ok`: no password configured and none used, or the MD5 digest is right;
 * - `missing-md5`: the group has a password but the message carries no security;
 * - `unexpected-md5`: the message carries MD5 but the group has no password;
 * - `bad-digest`: both use MD5 and the digest is wrong (wrong password or altered bytes).
 */
export type SecurityVerdict = 'ok' | 'missing-md5' | 'unexpected-md5' | 'bad-digest';

export const SECURITY_ERRORS: Readonly<Record<Exclude<SecurityVerdict, 'ok'>, string>> = {
  'missing-md5': 'service group requires MD5 security but the message has none',
  'unexpected-md5': 'message uses MD5 security but the service group has no password',
  'bad-digest': 'MD5 digest does not match (wrong password or altered message)',
};

/** A well-formed message that fails authentication; `verdict` says how. */
export class WccpSecurityError extends Error {
  override readonly name = 'WccpSecurityError';
  readonly verdict: Exclude<SecurityVerdict, 'ok'>;
  readonly messageType: string;

  constructor(messageType: string, verdict: Exclude<SecurityVerdict, 'ok'>) {
    super(`WCCP ${messageType}: ${SECURITY_ERRORS[verdict]}`);
    this.messageType = messageType;
    this.verdict = verdict;
  }
}

/** Fixed parts of encoder errors. */
export const ENCODE_ERRORS = {
  notInteger: (lo: number, hi: number) => `must be an integer in ${lo}..${hi}`,
  badBytes: (n: number) => `must be exactly ${n} bytes`,
  tooLong: (max: number) => `longer than ${max} bytes`,
  required: 'is required in this message type',
  exclusive: (a: string, b: string) => `only one of ${a} and ${b} may be present`,
  needsOne: (a: string, b: string) => `one of ${a} and ${b} is required`,
  unknownName: (names: readonly string[]) => `must be one of ${names.join(', ')}`,
  knownType: 'is a known type; use its typed form',
  duplicate: 'appears more than once',
  notApplicable: (why: string) => `not applicable: ${why}`,
  md5NeedsDigest: 'MD5 security needs a 16-byte digest or a password to compute one',
  messageTooLong: (max: number) => `message longer than ${max} bytes`,
  componentTooLong: (max: number) => `component longer than ${max} bytes`,
  notAligned: (n: number) => `length must be a multiple of ${n}`,
} as const;

/** The encoder was asked for something the wire cannot carry; `field` says what. */
export class WccpEncodeError extends RangeError {
  override readonly name = 'WccpEncodeError';
  readonly field: string;

  constructor(field: string, detail: string) {
    super(`WCCP encode: ${field} ${detail}`);
    this.field = field;
  }
}
