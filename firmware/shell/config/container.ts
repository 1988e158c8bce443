// The saved-state container: a small fixed header that says what the file is and proves the
// payload is whole, then the payload (MessagePack).
//
//   0      4      6      8           12                              44
//   ┌──────┬──────┬──────┬───────────┬───────────────────────────────┬──────────────┐
//   │"TFST"│ ver  │ 0    │ length    │ SHA-256(bytes 0..12 ‖ payload) │ payload ...  │
//   └──────┴──────┴──────┴───────────┴───────────────────────────────┴──────────────┘
//   magic   u16 BE u16 BE u32 BE       32 bytes
//           format flags  payload
//           version (0)   bytes
//
// The checksum covers the header fields before it and the payload, so a flipped length or
// version is caught as surely as a flipped payload byte. Contract: decodeContainer trusts
// nothing; it checks, in this order, that the header is there, the magic, the version, that the
// file holds exactly `length` payload bytes (shorter: truncated; longer: trailing bytes), the
// checksum, then that no reserved flag is set, and throws ContainerError saying which.

import { createHash, timingSafeEqual } from 'node:crypto';

export const STATE_MAGIC = 'TFST';
export const STATE_FORMAT_VERSION = 1;
export const HEADER_BYTES = 44;
const CHECKSUMMED_HEADER_BYTES = 12;
const CHECKSUM_OFFSET = 12;
const CHECKSUM_BYTES = 32;
/** A state is configuration (sessions, allowlists, policy): 16 MiB is far beyond any. */
export const MAX_PAYLOAD_BYTES = 16 << 20;

export class ContainerError extends Error {
  override readonly name = 'ContainerError';
}

function checksum(header: Uint8Array, payload: Uint8Array): Buffer {
  return createHash('sha256').update(header.subarray(0, CHECKSUMMED_HEADER_BYTES)).update(payload).digest();
}

export function encodeContainer(payload: Uint8Array): Uint8Array {
  if (payload.length > MAX_PAYLOAD_BYTES) throw new RangeError(`state payload of ${payload.length} bytes exceeds ${MAX_PAYLOAD_BYTES}`);
  const out = new Uint8Array(HEADER_BYTES + payload.length);
  const dv = new DataView(out.buffer);
  out.set(new TextEncoder().encode(STATE_MAGIC), 0);
  dv.setUint16(4, STATE_FORMAT_VERSION);
  dv.setUint16(6, 0);
  dv.setUint32(8, payload.length);
  out.set(checksum(out, payload), CHECKSUM_OFFSET);
  out.set(payload, HEADER_BYTES);
  return out;
}

/** The payload of a container, or ContainerError. */
export function decodeContainer(file: Uint8Array): Uint8Array {
  if (file.length < HEADER_BYTES) {
    if (file.length >= 4 && new TextDecoder().decode(file.subarray(0, 4)) !== STATE_MAGIC) throw new ContainerError('not a twinflow state file (bad magic)');
    throw new ContainerError(`truncated: ${file.length} bytes, the header alone is ${HEADER_BYTES}`);
  }
  const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const magic = new TextDecoder().decode(file.subarray(0, 4));
  if (magic !== STATE_MAGIC) throw new ContainerError('not a twinflow state file (bad magic)');
  const version = dv.getUint16(4);
  if (version !== STATE_FORMAT_VERSION) throw new ContainerError(`format version ${version}; this firmware reads version ${STATE_FORMAT_VERSION}`);
  const length = dv.getUint32(8);
  if (length > MAX_PAYLOAD_BYTES) throw new ContainerError(`payload length ${length} exceeds ${MAX_PAYLOAD_BYTES}`);
  const have = file.length - HEADER_BYTES;
  if (have < length) throw new ContainerError(`truncated: the payload is ${length} bytes, the file holds ${have}`);
  if (have > length) throw new ContainerError(`${have - length} unexpected bytes after the payload`);
  const payload = file.subarray(HEADER_BYTES);
  const expected = checksum(file, payload);
  if (!timingSafeEqual(expected, file.subarray(CHECKSUM_OFFSET, CHECKSUM_OFFSET + CHECKSUM_BYTES))) {
    throw new ContainerError('checksum mismatch: the file is corrupt');
  }
  const flags = dv.getUint16(6);
  if (flags !== 0) throw new ContainerError(`reserved flags 0x${flags.toString(16)} are set (written by a newer firmware?)`);
  return payload;
}
