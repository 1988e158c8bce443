// Ed25519 keys in PEM, as `openssl genpkey -algorithm ed25519` writes the private key (PKCS#8,
// "PRIVATE KEY") and `openssl pkey -pubout` the public one (SPKI, "PUBLIC KEY"). Key text is
// untrusted input: anything else — another algorithm, a private key where the public one is
// expected, not PEM at all — is refused with a KeyError naming the file.

import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { KeyError } from './errors.ts';

/** Longest key file read: an Ed25519 PEM is about 120 bytes; this bounds a wrong file. */
export const MAX_KEY_FILE_BYTES = 16 << 10;

const PRIVATE_LABEL = /-----BEGIN PRIVATE KEY-----/;
const PUBLIC_LABEL = /-----BEGIN PUBLIC KEY-----/;
const ANY_PRIVATE_LABEL = /-----BEGIN [A-Z ]*PRIVATE KEY-----/;

function text(pem: string | Uint8Array, source: string): string {
  const t = typeof pem === 'string' ? pem : new TextDecoder().decode(pem);
  if (t.length > MAX_KEY_FILE_BYTES) throw new KeyError(source, `${t.length} bytes: not a key file`);
  return t;
}

function requireEd25519(key: KeyObject, source: string, kind: string): KeyObject {
  if (key.asymmetricKeyType !== 'ed25519') throw new KeyError(source, `an ${key.asymmetricKeyType} ${kind} key; images are signed with Ed25519 (openssl genpkey -algorithm ed25519)`);
  return key;
}

/** The signer's key (PKCS#8 PEM). */
export function loadPrivateKey(pem: string | Uint8Array, source: string): KeyObject {
  const t = text(pem, source);
  if (PUBLIC_LABEL.test(t) && !ANY_PRIVATE_LABEL.test(t)) throw new KeyError(source, 'is a public key; signing needs the private key');
  if (!PRIVATE_LABEL.test(t)) throw new KeyError(source, 'not a PEM private key (expected "-----BEGIN PRIVATE KEY-----")');
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: t, format: 'pem' });
  } catch (e) {
    throw new KeyError(source, `unreadable private key (${(e as Error).message})`);
  }
  return requireEd25519(key, source, 'private');
}

/** The verifier's key (SPKI PEM). A private key is refused: a device must never hold one. */
export function loadPublicKey(pem: string | Uint8Array, source: string): KeyObject {
  const t = text(pem, source);
  if (ANY_PRIVATE_LABEL.test(t)) throw new KeyError(source, 'is a private key; give the public key (openssl pkey -in KEY -pubout)');
  if (!PUBLIC_LABEL.test(t)) throw new KeyError(source, 'not a PEM public key (expected "-----BEGIN PUBLIC KEY-----")');
  let key: KeyObject;
  try {
    key = createPublicKey({ key: t, format: 'pem' });
  } catch (e) {
    throw new KeyError(source, `unreadable public key (${(e as Error).message})`);
  }
  return requireEd25519(key, source, 'public');
}

/** The 32-byte Ed25519 public key (RFC 8032). */
export function rawPublicKey(key: KeyObject): Uint8Array {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  const jwk = pub.export({ format: 'jwk' }) as { x?: string };
  return new Uint8Array(Buffer.from(jwk.x ?? '', 'base64url'));
}

/** A short name for a key: the first 8 bytes of SHA-256 over its raw public key, in hex. */
export function keyId(key: KeyObject): string {
  return createHash('sha256').update(rawPublicKey(key)).digest('hex').slice(0, 16);
}

/** The public key as SPKI PEM (what a slots directory records as its trusted key). */
export function publicKeyPem(key: KeyObject): string {
  const pub = key.type === 'private' ? createPublicKey(key) : key;
  return pub.export({ format: 'pem', type: 'spki' }) as string;
}
