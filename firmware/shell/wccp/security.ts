// WCCPv2 MD5 security (draft 5.6.1), exactly as Squid computes it:
//
//   "Prior to calculating the MD5 checksum the password should be padded out to 8 octets with
//    trailing zeros and the Security Implementation field of the Security Option set to zero.
//    The MD5 checksum is calculated using the 8 octet padded password and the WCCP message
//    (including the WCCP Message Header)."
//
// So digest = MD5(password padded to 8 ‖ whole message with the 16 digest bytes zeroed).
// "The maximum password length is 8 octets": like Squid, longer passwords are truncated to
// their first 8 bytes (a string password is taken as UTF-8).
//
// Contract: the functions here work on a complete encoded message whose first component is a
// Security Info with option MD5 (the encoder writes it so, the decoder enforces it before any
// check runs); they never read outside it and never modify the caller's bytes except in
// signMessage, whose job that is. Digests are compared in constant time.

import { createHash, timingSafeEqual } from 'node:crypto';

import { MD5_DIGEST_OFFSET, MD5_DIGEST_SIZE, MD5_PASSWORD_SIZE } from './constants.ts';
import type { SecurityInfo } from './components.ts';
import type { SecurityVerdict } from './errors.ts';

/** A service-group password: text (UTF-8) or bytes. */
export type WccpPassword = string | Uint8Array;

const utf8 = new TextEncoder();

/** The password as the digest uses it: its first 8 bytes, NUL-padded to exactly 8. */
export function paddedPassword(password: WccpPassword): Uint8Array {
  const raw = typeof password === 'string' ? utf8.encode(password) : password;
  const out = new Uint8Array(MD5_PASSWORD_SIZE);
  out.set(raw.subarray(0, MD5_PASSWORD_SIZE));
  return out;
}

/** The MD5 digest of `message` under `password`, computed with the digest field zeroed. */
export function computeDigest(message: Uint8Array, password: WccpPassword): Uint8Array {
  if (message.length < MD5_DIGEST_OFFSET + MD5_DIGEST_SIZE) {
    throw new RangeError(`message of ${message.length} bytes has no room for an MD5 digest`);
  }
  const zeroed = message.slice();
  zeroed.fill(0, MD5_DIGEST_OFFSET, MD5_DIGEST_OFFSET + MD5_DIGEST_SIZE);
  return new Uint8Array(createHash('md5').update(paddedPassword(password)).update(zeroed).digest());
}

/** Write the digest into an encoded message in place (its Security Info must be MD5). */
export function signMessage(message: Uint8Array, password: WccpPassword): void {
  message.set(computeDigest(message, password), MD5_DIGEST_OFFSET);
}

/** Whether the digest carried in `message` is right for `password`. */
export function digestMatches(message: Uint8Array, password: WccpPassword): boolean {
  const expected = computeDigest(message, password);
  const carried = message.subarray(MD5_DIGEST_OFFSET, MD5_DIGEST_OFFSET + MD5_DIGEST_SIZE);
  return timingSafeEqual(expected, carried);
}

/**
 * Check a decoded message's security against its service group's configuration: `password`
 * null means the group uses no security. `message` is the exact datagram it was decoded from.
 * The option must match the configuration (as Squid requires), and an MD5 digest must verify.
 */
export function checkSecurity(message: Uint8Array, security: SecurityInfo, password: WccpPassword | null): SecurityVerdict {
  if (password === null) return security.option === 'none' ? 'ok' : 'unexpected-md5';
  if (security.option !== 'md5') return 'missing-md5';
  return digestMatches(message, password) ? 'ok' : 'bad-digest';
}
