// Errors of the capture-file codecs.
//
// Contract: every problem found in a capture file (an untrusted input) is reported as one
// CaptureFormatError naming the file, the byte offset of the offending field and what is wrong;
// readers never throw anything else for bad input (I/O errors from the OS pass through as
// they are). Misuse of a writer (a packet the format cannot represent, a write after close) is
// a programming error and throws RangeError/Error with one of the WRITE_ERRORS strings.
//
// The strings are shared constants (AssemblyScript util/error.ts style) so that tests, logs and
// callers match on one spelling.

/** What went wrong in a capture file; the key is the stable `code`, the value the message. */
export const CAPTURE_ERRORS = {
  'unknown-magic': 'unknown magic number, not a pcap or pcapng file',
  'truncated-header': 'truncated file header',
  'truncated-record': 'truncated packet record',
  'truncated-block': 'truncated block',
  'caplen-too-large': 'captured length too large',
  'bad-block-length': 'bad block total length',
  'trailer-mismatch': 'trailing block total length does not match the leading one',
  'bad-byte-order-magic': 'unknown byte-order magic',
  'bad-option': 'malformed option',
  'bad-version': 'unsupported format version',
  'unknown-interface': 'packet refers to an interface not described in its section',
  'after-error': 'data after a truncated or malformed record is not read',
  'unsupported-linktype': 'unsupported link type',
} as const;

/** Stable identifier of a capture-file problem; see CAPTURE_ERRORS for the message. */
export type CaptureErrorCode = keyof typeof CAPTURE_ERRORS;

/** Name used in messages when the input is an in-memory buffer rather than a file. */
export const BUFFER_NAME = '<buffer>';

/**
 * A capture file is malformed. The message reads
 * `<file>: byte <offset>: <what is wrong>: <detail>`; the same parts are fields.
 */
export class CaptureFormatError extends Error {
  override readonly name = 'CaptureFormatError';
  /** Path of the file, or BUFFER_NAME for in-memory input. */
  readonly file: string;
  /** Byte offset from the start of the input of the field that is wrong. */
  readonly offset: number;
  /** Stable identifier; CAPTURE_ERRORS[code] is the fixed part of the message. */
  readonly code: CaptureErrorCode;
  /** The variable part of the message: the values that were found and expected. */
  readonly detail: string;

  constructor(file: string, offset: number, code: CaptureErrorCode, detail: string, options?: ErrorOptions) {
    super(`${file}: byte ${offset}: ${CAPTURE_ERRORS[code]}: ${detail}`, options);
    this.file = file;
    this.offset = offset;
    this.code = code;
    this.detail = detail;
  }
}

/** Messages for writer misuse and reader lifecycle errors (programming errors, not bad input). */
export const WRITE_ERRORS = {
  closed: 'capture writer is closed',
  readerClosed: 'capture reader is closed',
  negativeTime: 'timestamp is negative',
  timeRange: 'timestamp does not fit the format',
  origLen: 'origLen is smaller than the captured length or larger than 2^32-1',
  linkType: 'link type must be an integer in 0..65535',
  linkTypeMismatch: "packet's link type differs from the interface's",
  snaplen: 'snaplen out of range',
  tsresol: 'if_tsresol out of range',
  interfaceId: 'interfaceId does not name a declared interface',
  noInterfaces: 'a pcapng writer needs at least one interface',
  optionTooLong: 'option value longer than 65535 bytes',
  bufferSize: 'bufferSize must be an integer of at least 64',
  chunkSize: 'chunkSize must be a positive integer',
} as const;
