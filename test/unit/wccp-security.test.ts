// MD5 security: the digest Squid computed in a real capture, signing on encode, and the four
// verdicts of checking a message against a service group's password.

import { createHash } from 'node:crypto';
import path from 'node:path';

import { test } from 'uvu';
import * as assert from 'uvu/assert';

import {
  checkSecurity,
  computeDigest,
  decodeMessage,
  digestMatches,
  encodeMessage,
  MD5_DIGEST_OFFSET,
  paddedPassword,
  WccpDecodeError,
  WccpSecurityError,
} from '../../firmware/shell/wccp/index.ts';
import type { SecurityVerdict } from '../../firmware/shell/wccp/index.ts';
import { CAPTURE_DIR, DOC_VECTORS, hex } from './wccp-fixtures.ts';
import { tsharkWccpFrames } from './wccp-tshark.ts';

const capture = tsharkWccpFrames(path.join(CAPTURE_DIR, 'squid_here_i_am_mask_dynamic.pcap'));
const squidMd5 = capture[0]!.payload; // dynamic service 70, MD5, password "abc"
const squidPlain = capture[1]!.payload; // standard service 0, no security
const SQUID_DIGEST = '428dde4a9a22cf25fee236c37179f35a';

function verdictOf(bytes: Uint8Array, password: string | null): SecurityVerdict {
  try {
    decodeMessage(bytes, { password });
    return 'ok';
  } catch (e) {
    if (e instanceof WccpSecurityError) return e.verdict;
    throw e;
  }
}

test("Squid's digest (frame 1, password abc) is the one the reference gives, and we compute it", () => {
  assert.is(hex(squidMd5.subarray(MD5_DIGEST_OFFSET, MD5_DIGEST_OFFSET + 16)), SQUID_DIGEST);
  assert.is(hex(computeDigest(squidMd5, 'abc')), SQUID_DIGEST);
  assert.ok(digestMatches(squidMd5, 'abc'));
  const m = decodeMessage(squidMd5, { password: 'abc' });
  assert.equal(m.security.option === 'md5' && hex(m.security.digest), SQUID_DIGEST);
});

test('the digest is MD5(password NUL-padded to 8 ‖ message with the digest zeroed)', () => {
  const zeroed = squidMd5.slice();
  zeroed.fill(0, MD5_DIGEST_OFFSET, MD5_DIGEST_OFFSET + 16);
  const independent = createHash('md5').update(Buffer.from('abc\0\0\0\0\0', 'latin1')).update(zeroed).digest('hex');
  assert.is(independent, SQUID_DIGEST);
});

test('verdicts: ok, bad-digest, missing-md5, unexpected-md5', () => {
  assert.is(verdictOf(squidMd5, 'abc'), 'ok');
  assert.is(verdictOf(squidMd5, 'abd'), 'bad-digest');
  assert.is(verdictOf(squidMd5, ''), 'bad-digest');
  assert.is(verdictOf(squidMd5, null), 'unexpected-md5');
  assert.is(verdictOf(squidPlain, 'abc'), 'missing-md5');
  assert.is(verdictOf(squidPlain, null), 'ok');
});

test('a wrong digest is a WccpSecurityError, distinct from a decode error, and names the message', () => {
  try {
    decodeMessage(squidMd5, { password: 'wrong' });
    assert.unreachable('accepted a wrong password');
  } catch (e) {
    assert.instance(e, WccpSecurityError);
    assert.not.instance(e, WccpDecodeError);
    assert.is((e as WccpSecurityError).verdict, 'bad-digest');
    assert.match((e as Error).message, /^WCCP HERE_I_AM: MD5 digest does not match/);
  }
});

test('any altered byte fails the digest (every byte of the message is covered)', () => {
  for (let i = 0; i < squidMd5.length; i++) {
    if (i >= MD5_DIGEST_OFFSET && i < MD5_DIGEST_OFFSET + 16) continue;
    const altered = squidMd5.slice();
    altered[i] = altered[i]! ^ 0x01;
    let verdict: SecurityVerdict | 'malformed';
    try {
      verdict = checkSecurity(altered, decodeMessage(altered).security, 'abc');
    } catch (e) {
      if (!(e instanceof WccpDecodeError)) throw e;
      verdict = 'malformed';
    }
    assert.ok(verdict === 'bad-digest' || verdict === 'malformed' || verdict === 'missing-md5', `byte ${i}: ${verdict}`);
    assert.is.not(verdict, 'ok', `byte ${i}`);
  }
});

test('decode without a password does not check (look the group up first, then checkSecurity)', () => {
  const m = decodeMessage(squidMd5);
  assert.is(checkSecurity(squidMd5, m.security, 'abc'), 'ok');
  assert.is(checkSecurity(squidMd5, m.security, 'nope'), 'bad-digest');
});

test('encode with a password signs; the result verifies and re-signing Squid bytes reproduces them', () => {
  const m = decodeMessage(squidMd5);
  assert.is(hex(encodeMessage(m, { password: 'abc' })), hex(squidMd5));
  assert.is(hex(encodeMessage(m)), hex(squidMd5), 'without a password the stored digest is written back');
  const plain = decodeMessage(squidPlain);
  const signed = encodeMessage(plain, { password: 'abc' });
  assert.is(signed.length, squidPlain.length + 16);
  assert.is(verdictOf(signed, 'abc'), 'ok');
  assert.is(verdictOf(signed, 'abcd'), 'bad-digest');
  const vector = DOC_VECTORS.find((v) => v.password !== undefined)!;
  assert.is(verdictOf(encodeMessage(vector.message, { password: vector.password! }), vector.password!), 'ok');
});

test('passwords: NUL-padded to 8 bytes, longer ones truncated to 8 as Squid does, bytes accepted', () => {
  assert.is(hex(paddedPassword('abc')), '6162630000000000');
  assert.is(hex(paddedPassword('')), '0000000000000000');
  assert.is(hex(paddedPassword('12345678')), '3132333435363738');
  assert.is(hex(paddedPassword('123456789abc')), '3132333435363738');
  assert.is(hex(paddedPassword(new Uint8Array([1, 2]))), '0102000000000000');
  assert.is(hex(paddedPassword('é')), 'c3a9000000000000', 'text is UTF-8');
  const plain = decodeMessage(squidPlain);
  assert.is(verdictOf(encodeMessage(plain, { password: 'longpassword' }), 'longpass'), 'ok');
  assert.is(verdictOf(encodeMessage(plain, { password: new Uint8Array([0x61, 0x62, 0x63]) }), 'abc'), 'ok');
});

test('computeDigest refuses a buffer too short to hold the digest', () => {
  assert.throws(() => computeDigest(new Uint8Array(20), 'x'), (e: unknown) => e instanceof RangeError);
});

test.run();
