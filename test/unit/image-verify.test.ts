// Firmware images: build and verify (firmware/runtime/image/, docs/images.md). The format is
// checked independently: a Python reader written from docs/images.md parses the layout and
// checks every hash, and openssl checks the Ed25519 signature over the signed bytes (and, since
// Ed25519 is deterministic, signs them to the same 64 bytes). Then every refusal `image verify`
// promises — not an image, truncated, a flipped bit anywhere, the wrong key, the wrong board, a
// version below the minimum — is one clear line with exit status 2. Tables of rows run the
// command as bundled (kit.bundled: the same firmware/cli.ts); single rows run bin/twinflow.mjs.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ImageError, readImage, runSelftest, verifyImage } from '../../firmware/runtime/image/index.ts';
import { loadPublicKey } from '../../firmware/runtime/image/keys.ts';
import { makeImageKit, openssl, otherBoardFile, type ImageKit } from '../fixtures/image.ts';
import { twinflow } from '../fixtures/capture.ts';
import pkg from '../../package.json' with { type: 'json' };

let kit: ImageKit;
let good: string;
let goodBytes: Uint8Array;
let otherBoard: string;

test.before(async () => {
  kit = await makeImageKit('image-verify');
  good = await kit.build('good.img', { version: '1.2.3' });
  goodBytes = new Uint8Array(fs.readFileSync(good));
  otherBoard = await kit.build('other-board.img', { version: '1.2.3', board: otherBoardFile(kit.dir, 'sim-small') });
});
test.after(() => kit.cleanup());

/** A verifier written from docs/images.md alone: layout, lengths, section hashes, checksum. */
const PY_READER = String.raw`
import hashlib, json, struct, sys
b = open(sys.argv[1], 'rb').read()
assert b[:8] == b'\x89TWFIMG\n', 'magic'
fmt, m = struct.unpack('>II', b[8:16])
(L,) = struct.unpack('>Q', b[16:24])
assert fmt == 1 and L == len(b), 'header'
man = json.loads(b[24:24 + m].decode('utf-8'))
start, end = 24 + m, L - 96
at = start
for s in man['sections']:
    assert start + s['offset'] == at, 'sections back to back'
    sec = b[at:at + s['size']]
    assert hashlib.sha256(sec).hexdigest() == s['sha256'], 'section ' + s['name']
    open(sys.argv[2] + '.' + s['name'], 'wb').write(sec)
    at += s['size']
assert at == end, 'sections fill the payload'
assert hashlib.sha256(b[:L - 96]).digest() == b[L - 96:L - 64], 'checksum'
open(sys.argv[2] + '.signed', 'wb').write(b[:L - 64])
open(sys.argv[2] + '.sig', 'wb').write(b[L - 64:])
print(json.dumps(man))
`;

test('a Python reader written from docs/images.md parses the image and checks every hash', () => {
  const out = kit.at('py');
  const r = spawnSync('/usr/bin/python3', ['-c', PY_READER, good, out], { encoding: 'utf8', timeout: 30_000 });
  assert.is(r.status, 0, r.stderr);
  const man = JSON.parse(r.stdout) as { format: number; firmwareVersion: string; board: string; sections: { name: string }[] };
  assert.is(man.format, 1);
  assert.is(man.firmwareVersion, '1.2.3');
  assert.is(man.board, 'sim');
  assert.equal(man.sections.map((s) => s.name), ['wasm', 'runtime', 'board']);
  // The sections are the inputs: the release wasm and the board file, byte for byte.
  assert.ok(Buffer.from(fs.readFileSync(`${out}.wasm`)).equals(fs.readFileSync('build/dataplane.wasm')));
  assert.ok(Buffer.from(fs.readFileSync(`${out}.board`)).equals(fs.readFileSync('boards/sim.json')));
});

test('openssl verifies the Ed25519 signature over bytes [0, L-64), refuses it with another key or a changed byte, and signs to the same bytes', () => {
  const out = kit.at('py');
  const ok = openssl(['pkeyutl', '-verify', '-pubin', '-inkey', kit.keys.publicFile, '-rawin', '-in', `${out}.signed`, '-sigfile', `${out}.sig`]);
  assert.is(ok.status, 0, ok.stderr);
  assert.match(ok.stdout, /Signature Verified Successfully/);
  const wrong = openssl(['pkeyutl', '-verify', '-pubin', '-inkey', kit.otherKeys.publicFile, '-rawin', '-in', `${out}.signed`, '-sigfile', `${out}.sig`]);
  assert.is.not(wrong.status, 0, 'another key does not verify');
  const tampered = new Uint8Array(fs.readFileSync(`${out}.signed`));
  tampered[100] ^= 0x01;
  fs.writeFileSync(`${out}.tampered`, tampered);
  const changed = openssl(['pkeyutl', '-verify', '-pubin', '-inkey', kit.keys.publicFile, '-rawin', '-in', `${out}.tampered`, '-sigfile', `${out}.sig`]);
  assert.is.not(changed.status, 0, 'a changed byte does not verify');
  const sig = openssl(['pkeyutl', '-sign', '-inkey', kit.keys.privateFile, '-rawin', '-in', `${out}.signed`, '-out', `${out}.openssl-sig`]);
  assert.is(sig.status, 0, sig.stderr);
  assert.ok(fs.readFileSync(`${out}.openssl-sig`).equals(fs.readFileSync(`${out}.sig`)), 'openssl signs the signed bytes to our signature');
});

test('image verify: a good image exits 0 with one line naming version, board and key', () => {
  const r = twinflow(['image', 'verify', good, '--pubkey', kit.keys.publicFile, '--board', 'sim', '--min-version', '1.2.3']);
  assert.is(r.status, 0, r.stderr);
  assert.is(r.stderr, '');
  const lines = r.stdout.trim().split('\n');
  assert.is(lines.length, 1);
  assert.match(lines[0], /good: twinflow 1\.2\.3 for board "sim", built .*, signed by key [0-9a-f]{16}/);
  const j = kit.bundled(['image', 'verify', good, '--pubkey', kit.keys.publicFile, '--json']);
  assert.is(j.status, 0, j.stderr);
  const doc = JSON.parse(j.stdout) as { good: boolean; size: number; manifest: { firmwareVersion: string } };
  assert.is(doc.good, true);
  assert.is(doc.size, goodBytes.length);
  assert.is(doc.manifest.firmwareVersion, '1.2.3');
});

/** Offsets into the good image, from its own layout. */
function regions(): { name: string; at: number; message: RegExp }[] {
  const layout = readImage(goodBytes, 'good');
  const m = new DataView(goodBytes.buffer, goodBytes.byteOffset).getUint32(12);
  const payload = 24 + m;
  const mid = (name: string): number => {
    const s = layout.manifest.sections.find((e) => e.name === name)!;
    return payload + s.offset + Math.floor(s.size / 2);
  };
  const L = goodBytes.length;
  return [
    { name: 'the magic', at: 1, message: /not a twinflow firmware image \(bad magic\)/ },
    { name: 'the format version', at: 11, message: /image format \d+ is not supported/ },
    { name: 'the manifest length', at: 15, message: /checksum mismatch|header: manifest length/ },
    { name: 'the image length', at: 23, message: /truncated: \d+ of \d+ bytes|bytes after the end of the image/ },
    { name: 'the manifest', at: 24 + Math.floor(m / 2), message: /checksum mismatch: the image is corrupted/ },
    { name: 'the wasm', at: mid('wasm'), message: /checksum mismatch: the image is corrupted/ },
    { name: 'the runtime', at: mid('runtime'), message: /checksum mismatch: the image is corrupted/ },
    { name: 'the board', at: mid('board'), message: /checksum mismatch: the image is corrupted/ },
    { name: 'the checksum', at: L - 96 + 7, message: /checksum mismatch: the image is corrupted/ },
    { name: 'the signature (first byte)', at: L - 64, message: /Ed25519 signature does not verify/ },
    { name: 'the signature (last byte)', at: L - 1, message: /Ed25519 signature does not verify/ },
  ];
}

/** Runs image verify on `bytes` and checks: exit 2, one line on stderr matching, nothing on stdout. */
function refused(name: string, bytes: Uint8Array, message: RegExp, extra: string[] = [], run: (args: string[]) => { status: number | null; stdout: string; stderr: string } = (a) => kit.bundled(a)): void {
  const file = kit.at(name);
  fs.writeFileSync(file, bytes);
  const r = run(['image', 'verify', file, '--pubkey', kit.keys.publicFile, ...extra]);
  const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
  assert.is(r.status, 2, `exit 2, got ${r.status}: ${r.stderr}`);
  assert.is(lines.length, 1, `one line:\n${r.stderr}`);
  assert.ok(lines[0].includes(file), `names the file: ${lines[0]}`);
  assert.match(lines[0], message);
  assert.is(r.stdout, '');
}

test('a flipped bit in the header, manifest, wasm, runtime, board, checksum or signature: exit 2, one line', () => {
  regions().forEach((region, i) => {
    const bytes = goodBytes.slice();
    bytes[region.at] ^= 1 << (i % 8);
    refused('flipped.img', bytes, region.message);
  });
  const bytes = goodBytes.slice();
  bytes[goodBytes.length - 10] ^= 0x80;
  refused('flipped.img', bytes, /Ed25519 signature does not verify/, [], twinflow);
});

test('a flipped bit anywhere is refused (API: every header and trailer byte, a few hundred positions between)', () => {
  const key = loadPublicKey(kit.keys.publicPem, 'key');
  const positions = new Set<number>();
  for (let i = 0; i < 24; i++) positions.add(i);
  for (let i = goodBytes.length - 96; i < goodBytes.length; i++) positions.add(i);
  for (let i = 0; i < 300; i++) positions.add(24 + Math.floor(((i * 2654435761) >>> 0) % (goodBytes.length - 120)));
  for (const at of positions) {
    const bytes = goodBytes.slice();
    bytes[at] ^= 1 << (at % 8);
    try {
      verifyImage(bytes, key, 'flipped');
      assert.unreachable(`a flipped bit at ${at} verified`);
    } catch (e) {
      assert.instance(e, ImageError, `at ${at}: ${(e as Error).message}`);
    }
  }
});

test('a truncated image, trailing bytes, a file that is not an image: exit 2, one line', () => {
  const L = goodBytes.length;
  refused('cut-header.img', goodBytes.subarray(0, 5), /truncated: 5 bytes, shorter than the 24-byte header/);
  refused('cut-header2.img', goodBytes.subarray(0, 20), /truncated: 20 bytes/);
  refused('cut-manifest.img', goodBytes.subarray(0, 100), new RegExp(`truncated: 100 of ${L} bytes`), [], twinflow);
  refused('cut-signature.img', goodBytes.subarray(0, L - 1), new RegExp(`truncated: ${L - 1} of ${L} bytes`));
  refused('trailing.img', Buffer.concat([goodBytes, Buffer.from('x')]), /1 bytes after the end of the image/);
  refused('empty.img', new Uint8Array(0), /bad magic/);
  refused('text.img', new TextEncoder().encode('#!/bin/sh\necho this is not an image\n'), /not a twinflow firmware image \(bad magic\)/);
});

test('the wrong key, the wrong board, a version below the minimum: exit 2, one line each', () => {
  const other = kit.otherKeys.publicFile;
  const r = twinflow(['image', 'verify', good, '--pubkey', other]);
  assert.is(r.status, 2);
  assert.match(r.stderr.trim(), /^twinflow: .*good\.img: signed by key [0-9a-f]{16}, not by the verifying key [0-9a-f]{16}$/);
  refused('board.img', fs.readFileSync(otherBoard), /built for board "sim-small", not for "sim"/, ['--board', 'sim']);
  refused('old.img', goodBytes, /version 1\.2\.3 is below the minimum version 1\.10\.0/, ['--min-version', '1.10.0']);
  // A board given as a file names the board in it.
  const ok = kit.bundled(['image', 'verify', otherBoard, '--pubkey', kit.keys.publicFile, '--board', path.join(kit.dir, 'sim-small.json')]);
  assert.is(ok.status, 0, ok.stderr);
});

test('keys: a private key as --pubkey, a non-Ed25519 key, a file that is not a key: exit 2, one line naming the file', () => {
  const rsa = kit.at('rsa.pem');
  assert.is(openssl(['genpkey', '-algorithm', 'rsa', '-pkeyopt', 'rsa_keygen_bits:1024', '-out', rsa]).status, 0);
  assert.is(openssl(['pkey', '-in', rsa, '-pubout', '-out', `${rsa}.pub`]).status, 0);
  fs.writeFileSync(kit.at('junk.pem'), 'not a key\n');
  const rows: [string, RegExp][] = [
    [kit.keys.privateFile, /signer\.pem: is a private key; give the public key/],
    [`${rsa}.pub`, /rsa\.pem\.pub: an rsa public key; images are signed with Ed25519/],
    [kit.at('junk.pem'), /junk\.pem: not a PEM public key/],
  ];
  for (const [key, message] of rows) {
    const r = kit.bundled(['image', 'verify', good, '--pubkey', key]);
    assert.is(r.status, 2, r.stderr);
    assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, message);
  }
});

test('image build: the default version is package.json\'s; the written image verifies; no temporary file is left', () => {
  const out = kit.at('cli.img');
  const r = twinflow(['image', 'build', '--board', 'sim', '--key', kit.keys.privateFile, '-o', out]);
  assert.is(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`twinflow ${pkg.version.replace(/\./g, '\\.')} for board "sim", \\d+ bytes \\(wasm \\d+, runtime \\d+, board \\d+\\), signed by key`));
  const image = verifyImage(new Uint8Array(fs.readFileSync(out)), loadPublicKey(kit.keys.publicPem, 'key'), out, { board: 'sim' });
  assert.is(image.manifest.firmwareVersion, pkg.version);
  assert.equal(fs.readdirSync(kit.dir).filter((n) => n.includes('.tmp-')), []);
});

test('image build refuses, before writing anything: a board over its memory budget, a bad version, an RSA key, an unknown fault', () => {
  const tight = otherBoardFile(kit.dir, 'tight', (b) => { b.memoryBudgetMiB = 1; });
  const rows: [string[], RegExp][] = [
    [['--board', tight, '--key', kit.keys.privateFile], /tight\.json: memoryBudgetMiB: /],
    [['--board', 'nope', '--key', kit.keys.privateFile], /boards\/nope\.json: .*no such board file/],
    [['--board', 'sim', '--key', kit.keys.privateFile, '--version', '1.2'], /--version: "1\.2" is not a firmware version/],
    [['--board', 'sim', '--key', kit.at('rsa.pem')], /rsa\.pem: an rsa private key; images are signed with Ed25519/],
    [['--board', 'sim', '--key', kit.keys.publicFile], /signer\.pub\.pem: is a public key; signing needs the private key/],
    [['--board', 'sim', '--key', kit.keys.privateFile, '--test-only-fault', 'nope'], /--test-only-fault: "nope" is not one of runtime-crash, runtime-hang, wasm-empty/],
  ];
  for (const [args, message] of rows) {
    const out = kit.at('refused.img');
    const r = (args.includes('--version') || args.includes('nope') ? twinflow : kit.bundled)(['image', 'build', ...args, '-o', out]);
    assert.is(r.status, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.is(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, message);
    assert.not.ok(fs.existsSync(out), 'no image written');
  }
});

test('the bundled runtime runs with node alone, outside the source tree: its version is the image\'s, its selftest passes on its own wasm', () => {
  const layout = readImage(goodBytes, 'good');
  const run = fs.mkdtempSync(path.join(kit.dir, 'run-'));
  fs.writeFileSync(path.join(run, 'runtime.mjs'), layout.sections.runtime);
  fs.writeFileSync(path.join(run, 'dataplane.wasm'), layout.sections.wasm);
  fs.writeFileSync(path.join(run, 'board.json'), layout.sections.board);
  const node = (args: string[]) => spawnSync(process.execPath, [path.join(run, 'runtime.mjs'), ...args], { cwd: run, encoding: 'utf8', timeout: 60_000 });
  const v = node(['--version']);
  assert.is(v.status, 0, v.stderr);
  assert.is(v.stdout.trim(), '1.2.3');
  const s = node(['selftest', '--board', 'board.json', '--json']);
  assert.is(s.status, 0, s.stderr);
  const report = JSON.parse(s.stdout) as { selftest: string; version: string; wasmSha256: string; checks: { ok: boolean }[] };
  assert.is(report.selftest, 'pass');
  assert.is(report.version, '1.2.3');
  assert.is(report.wasmSha256, layout.manifest.sections[0].sha256);
  assert.ok(report.checks.length >= 6 && report.checks.every((c) => c.ok));
});

test('selftest checks the board it is given when it is a sim board with a demo session, else the embedded sim board', async () => {
  const own = await runSelftest(otherBoardFile(kit.dir, 'sim-copy'));
  assert.is(own.selftest, 'pass', JSON.stringify(own.checks));
  assert.is(own.board, 'sim-copy');
  assert.equal(own.checks.map((c) => c.name), ['traffic', 'forwarded:lan', 'delivered:lan', 'forwarded:wan', 'delivered:wan', 'replicas:sniff-client', 'collected:monitor', 'conservation']);
  const bare = await runSelftest(otherBoardFile(kit.dir, 'no-demo', (b) => { delete b.demo; }));
  assert.is(bare.selftest, 'pass');
  assert.is(bare.board, 'sim', 'a board without a demo session is checked on the embedded sim board');
});

test.run();
