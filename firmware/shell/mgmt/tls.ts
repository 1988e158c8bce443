// TLS settings of the management port, shared by server and client: TLS 1.2 with a pre-shared
// key (RFC 4279 identities, RFC 5489 ECDHE_PSK key exchange, RFC 7905 ChaCha20-Poly1305).
//
// Why this and nothing else (docs/management.md, "Security"): the PSK authenticates both ends in
// the handshake, before a single request byte is read; ephemeral ECDH on top gives forward
// secrecy (a key stolen later does not decrypt recorded sessions); the AEAD record layer gives
// confidentiality, integrity and replay protection to every message (WCCP passwords and whole
// configurations cross this port). TLS 1.3 would do as well, but Node offers external PSKs only
// for TLS 1.2. Plain PSK suites (no ECDHE) and CBC suites are not offered.

import { timingSafeEqual } from 'node:crypto';
import type { ManagementKey } from './keyfile.ts';

/** The one suite: ECDHE key exchange authenticated by the PSK, AEAD records. */
export const TLS_CIPHERS = 'ECDHE-PSK-CHACHA20-POLY1305';
export const TLS_VERSION = 'TLSv1.2' as const;

export const TLS_COMMON = {
  ciphers: TLS_CIPHERS,
  minVersion: TLS_VERSION,
  maxVersion: TLS_VERSION,
} as const;

/** The key for a PSK identity a client announced, or null (the handshake then fails). */
export function keyForIdentity(keys: readonly ManagementKey[], identity: string): Buffer | null {
  const wanted = Buffer.from(identity, 'utf8');
  for (const k of keys) {
    const have = Buffer.from(k.identity, 'utf8');
    if (have.length === wanted.length && timingSafeEqual(have, wanted)) return k.key;
  }
  return null;
}
