// The management key file: one identity and one 256-bit pre-shared key, read by the router (to
// accept connections) and by `twinflow ctl` (to make them). The same file serves both ends.
//
//   # twinflow management key: keep it secret (mode 0600)
//   format: twinflow-psk/1
//   identity: operator
//   key: 64 hexadecimal digits (32 bytes)
//
// Rules: UTF-8 text of at most MAX_KEY_FILE_BYTES; blank lines and lines starting with '#' are
// ignored; every other line is `name: value`; `format`, `identity` and `key` each appear exactly
// once; nothing else. The identity is sent in clear in the TLS handshake (it names the key, it
// is not secret); the key never leaves the file except into TLS.
//
// Contract: readKeyFile refuses (KeyFileError naming the file and the line or field) a file that
// is not a regular file, that its group or others can read or write (the key would be known to
// others: the same rule as ssh's private keys), or that breaks any rule above. generateKeyFile
// never overwrites: it creates the file exclusively with mode 0600.

import { closeSync, fchmodSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';

export const KEY_FILE_FORMAT = 'twinflow-psk/1';
/** 256 bits: the key is the whole secret of the port. */
export const KEY_BYTES = 32;
/** A key file is four short lines; anything much larger is not one. */
export const MAX_KEY_FILE_BYTES = 4096;
/** TLS carries a PSK identity of up to 128 bytes (OpenSSL's PSK_MAX_IDENTITY_LEN); we use fewer, printable. */
export const MAX_IDENTITY_LENGTH = 64;
const IDENTITY = /^[A-Za-z0-9._:@-]{1,64}$/;
const KEY_HEX = /^[0-9a-fA-F]{64}$/;
const FIELDS = ['format', 'identity', 'key'] as const;

export interface ManagementKey {
  readonly identity: string;
  readonly key: Buffer;
}

export class KeyFileError extends Error {
  override readonly name = 'KeyFileError';
  constructor(readonly file: string, readonly where: string, detail: string) {
    super(`${file}: ${where ? `${where}: ` : ''}${detail}`);
  }
}

/** A path as messages show it: relative to the working directory when below it, else absolute. */
const shown = (file: string): string => {
  const rel = path.relative(process.cwd(), path.resolve(file));
  return rel && !rel.startsWith('..') ? rel : path.resolve(file);
};

/** Parses key file text; `file` only names it in errors. */
export function parseKeyFile(text: string, file: string): ManagementKey {
  const seen = new Map<string, { value: string; line: number }>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    const where = `line ${i + 1}`;
    if (line.trim() === '' || line.startsWith('#')) return;
    const m = /^([a-z]+):[ \t]*(.*?)[ \t]*$/.exec(line);
    if (!m) throw new KeyFileError(file, where, 'expected "name: value"');
    const [, name, value] = m;
    if (!(FIELDS as readonly string[]).includes(name)) throw new KeyFileError(file, where, `unknown field "${name}" (expected ${FIELDS.join(', ')})`);
    if (seen.has(name)) throw new KeyFileError(file, where, `"${name}" appears twice (also line ${seen.get(name)!.line})`);
    seen.set(name, { value, line: i + 1 });
  });
  for (const name of FIELDS) {
    if (!seen.has(name)) throw new KeyFileError(file, name, 'is missing');
  }
  const format = seen.get('format')!;
  if (format.value !== KEY_FILE_FORMAT) throw new KeyFileError(file, `line ${format.line}`, `format "${format.value}" is not ${KEY_FILE_FORMAT}`);
  const identity = seen.get('identity')!;
  if (!IDENTITY.test(identity.value)) {
    throw new KeyFileError(file, `line ${identity.line}`, `identity must be 1 to ${MAX_IDENTITY_LENGTH} letters, digits, '.', '_', ':', '@' or '-'`);
  }
  const key = seen.get('key')!;
  if (!KEY_HEX.test(key.value)) {
    throw new KeyFileError(file, `line ${key.line}`, `key must be exactly ${KEY_BYTES * 2} hexadecimal digits (${KEY_BYTES * 8} bits), got ${key.value.length} characters`);
  }
  return { identity: identity.value, key: Buffer.from(key.value, 'hex') };
}

/** Reads a key file, refusing one that others can read or that is malformed. */
export function readKeyFile(file: string): ManagementKey {
  const name = shown(file);
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new KeyFileError(name, '', code === 'ENOENT' ? 'no such key file (create one with `twinflow ctl keygen FILE`)' : `cannot be read (${code})`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new KeyFileError(name, '', 'is not a regular file');
    if ((st.mode & 0o077) !== 0) {
      throw new KeyFileError(name, '', `mode ${(st.mode & 0o777).toString(8).padStart(4, '0')} lets group or others read or write the key; chmod 600 it`);
    }
    if (st.size > MAX_KEY_FILE_BYTES) throw new KeyFileError(name, '', `is ${st.size} bytes; a key file is at most ${MAX_KEY_FILE_BYTES}`);
    const buf = Buffer.alloc(st.size);
    let at = 0;
    while (at < buf.length) {
      const n = readSync(fd, buf, at, buf.length - at, at);
      if (n === 0) break;
      at += n;
    }
    return parseKeyFile(buf.subarray(0, at).toString('utf8'), name);
  } finally {
    closeSync(fd);
  }
}

export function formatKeyFile(key: ManagementKey): string {
  return [
    '# twinflow management key: keep it secret (mode 0600). The router and `twinflow ctl` both read it.',
    `format: ${KEY_FILE_FORMAT}`,
    `identity: ${key.identity}`,
    `key: ${key.key.toString('hex')}`,
    '',
  ].join('\n');
}

/** Creates a new key file with a fresh random key (never overwrites); returns the key. */
export function generateKeyFile(file: string, identity = 'operator'): ManagementKey {
  const name = shown(file);
  if (!IDENTITY.test(identity)) {
    throw new KeyFileError(name, 'identity', `must be 1 to ${MAX_IDENTITY_LENGTH} letters, digits, '.', '_', ':', '@' or '-'`);
  }
  const key: ManagementKey = { identity, key: randomBytes(KEY_BYTES) };
  let fd: number;
  try {
    fd = openSync(file, 'wx', 0o600);
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new KeyFileError(name, '', code === 'EEXIST' ? 'exists; keygen never overwrites a key (remove it first)' : `cannot be created (${code})`);
  }
  try {
    fchmodSync(fd, 0o600);
    writeSync(fd, formatKeyFile(key));
  } finally {
    closeSync(fd);
  }
  return key;
}
