// The management key file: `ctl keygen` creates it with mode 0600 and a fresh key, never
// overwrites; reading refuses a file others can read or write and every malformed variant, with
// an error naming the file and the line.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { formatKeyFile, generateKeyFile, KeyFileError, parseKeyFile, readKeyFile } from '../../firmware/shell/mgmt/keyfile.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'twinflow-key-'));
const at = (name: string): string => path.join(dir, name);
const HEX = 'ab'.repeat(32);
const GOOD = `# comment\nformat: twinflow-psk/1\nidentity: noc-1\nkey: ${HEX}\n`;

test.after(() => fs.rmSync(dir, { recursive: true, force: true }));

test('generateKeyFile: mode 0600, 256-bit random key, readable back, never overwrites', () => {
  const a = generateKeyFile(at('a.key'), 'noc');
  assert.is(fs.statSync(at('a.key')).mode & 0o777, 0o600);
  assert.is(a.key.length, 32);
  assert.equal(readKeyFile(at('a.key')), a);
  const b = generateKeyFile(at('b.key'));
  assert.is(b.identity, 'operator');
  assert.not.equal(a.key, b.key);
  const before = fs.readFileSync(at('a.key'), 'utf8');
  assert.throws(() => generateKeyFile(at('a.key')), /a\.key: exists; keygen never overwrites/);
  assert.is(fs.readFileSync(at('a.key'), 'utf8'), before);
  assert.throws(() => generateKeyFile(at('c.key'), 'has space'), /identity: must be/);
});

test('a key file readable or writable by group or others is refused', () => {
  for (const mode of [0o644, 0o640, 0o604, 0o620, 0o602]) {
    fs.writeFileSync(at('open.key'), GOOD, { mode });
    fs.chmodSync(at('open.key'), mode);
    assert.throws(() => readKeyFile(at('open.key')), new RegExp(`open\\.key: mode 0${mode.toString(8)} lets group or others read or write the key; chmod 600 it`));
  }
  fs.chmodSync(at('open.key'), 0o400);
  assert.is(readKeyFile(at('open.key')).identity, 'noc-1');
});

test('not a file, missing, too large', () => {
  assert.throws(() => readKeyFile(at('missing.key')), /missing\.key: no such key file \(create one with `twinflow ctl keygen FILE`\)/);
  fs.mkdirSync(at('dir.key'), { mode: 0o700 });
  assert.throws(() => readKeyFile(at('dir.key')), /dir\.key: is not a regular file/);
  fs.writeFileSync(at('big.key'), GOOD + `#${'x'.repeat(5000)}\n`, { mode: 0o600 });
  assert.throws(() => readKeyFile(at('big.key')), /big\.key: is \d+ bytes; a key file is at most 4096/);
});

const MALFORMED: Array<[string, string, RegExp]> = [
  ['empty', '', /f: format: is missing/],
  ['no key', 'format: twinflow-psk/1\nidentity: a\n', /f: key: is missing/],
  ['short key', `format: twinflow-psk/1\nidentity: a\nkey: ${'ab'.repeat(16)}\n`, /f: line 3: key must be exactly 64 hexadecimal digits \(256 bits\), got 32 characters/],
  ['non-hex key', `format: twinflow-psk/1\nidentity: a\nkey: ${'zz'.repeat(32)}\n`, /f: line 3: key must be exactly 64 hexadecimal/],
  ['wrong format', `format: twinflow-psk/2\nidentity: a\nkey: ${HEX}\n`, /f: line 1: format "twinflow-psk\/2" is not twinflow-psk\/1/],
  ['duplicate field', `format: twinflow-psk/1\nidentity: a\nidentity: b\nkey: ${HEX}\n`, /f: line 3: "identity" appears twice \(also line 2\)/],
  ['unknown field', `format: twinflow-psk/1\nidentity: a\nkey: ${HEX}\nhint: x\n`, /f: line 4: unknown field "hint"/],
  ['not name: value', `format: twinflow-psk/1\nidentity a\nkey: ${HEX}\n`, /f: line 2: expected "name: value"/],
  ['bad identity', `format: twinflow-psk/1\nidentity: ${'a'.repeat(65)}\nkey: ${HEX}\n`, /f: line 2: identity must be 1 to 64/],
];

for (const [what, text, message] of MALFORMED) {
  test(`malformed key file refused: ${what}`, () => {
    try {
      parseKeyFile(text, 'f');
      assert.unreachable('accepted');
    } catch (e) {
      assert.instance(e, KeyFileError);
      assert.match((e as Error).message, message);
    }
  });
}

test('format and parse agree; CRLF line ends and comments are accepted', () => {
  const k = { identity: 'x@y', key: Buffer.from(HEX, 'hex') };
  assert.equal(parseKeyFile(formatKeyFile(k), 'f'), k);
  assert.equal(parseKeyFile(GOOD.replace(/\n/g, '\r\n'), 'f').identity, 'noc-1');
});

test.run();
