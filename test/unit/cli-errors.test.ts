// `twinflow` errors a user can cause, as firmware/cli.ts promises them: "errors a user can cause
// (a bad file, filter, number or board) print one clear line to stderr and exit with status 2;
// an internal failure exits with 1". Each row runs the real command and checks the status, that
// the first stderr line says what is wrong (naming the file, line, token or option), that nothing
// else is printed (a filter error may add its expression with a caret under the token, which must
// then be the user's own text), and that a refused replay creates no output files.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fs from 'node:fs';
import path from 'node:path';
import { scapyBuild } from '../fixtures/scapy.ts';
import { encodePcapFile, makeTempDir, removeTempDir, twinflow } from '../fixtures/capture.ts';

const dir = makeTempDir('cli-errors');
const at = (name: string): string => path.join(dir, name);

const [PKT] = scapyBuild([`E()/IP(src=A,dst=B)/TCP(sport=40000,dport=80)/pay(100)`]);
const GOOD = encodePcapFile([0, 1, 2].map((i) => ({ data: PKT, tsNs: 1_700_000_000_000_000_000n + BigInt(i) * 1000n })));
fs.writeFileSync(at('good.pcap'), GOOD);
fs.writeFileSync(at('text.pcap'), 'this is not a capture file\n');
fs.writeFileSync(at('cut-record.pcap'), GOOD.subarray(0, GOOD.length - 30));
fs.writeFileSync(at('cut-header.pcap'), GOOD.subarray(0, 10));
fs.writeFileSync(at('rules'), '@1.2.3.4/32 5.6.7.8/32 0 : 65535 80 : 80 0x06/0xFF\n@1.2.3.4/33 5.6.7.8/32 0 : 65535 80 : 80 0x06/0xFF\n');
fs.writeFileSync(at('rules-garbage'), '@1.2.3.4/32 5.6.7.8/32 0 : 65535 80 : 80 0x06/0xFF\n@1.2.3.4/32 5.6.7.8/32 0 : 65535\n');
fs.writeFileSync(at('good-rules'), '@1.2.3.4/32 5.6.7.8/32 0 : 65535 80 : 80 0x06/0xFF\n');
fs.writeFileSync(at('trace'), '16909060 84281096 1000 80 6\n16909060 84281096 1000 x 6\n');

const replay = (input: string, ...extra: string[]): string[] =>
  ['replay', input, '--match', 'tcp', '--replicas', at('r.pcapng'), '--originals', at('o.pcap'), ...extra];
const replayMatch = (expr: string): string[] =>
  ['replay', at('good.pcap'), '--match', expr, '--replicas', at('r.pcapng'), '--originals', at('o.pcap')];

const redirect = (...extra: string[]): string[] => ['peer', '--router', '192.0.2.1', '--match', 'tcp', '--mode', 'redirect', ...extra];

interface Row {
  readonly what: string;
  readonly args: string[];
  readonly message: RegExp;
  /** For filter errors: the user's expression and where the offending token starts in it. */
  readonly filter?: { readonly expr: string; readonly position: number; readonly token: string };
}

const HINT = '(run with --help for usage)';

const ROWS: Row[] = [
  { what: 'missing input file', args: replay(at('missing.pcap')), message: /no such file.*missing\.pcap/ },
  { what: 'a file that is not a capture', args: replay(at('text.pcap')), message: /text\.pcap: byte 0: unknown magic number, not a pcap or pcapng file/ },
  { what: 'a capture cut inside a record', args: replay(at('cut-record.pcap')), message: /cut-record\.pcap: byte \d+: truncated packet record/ },
  { what: 'a capture cut inside its file header', args: replay(at('cut-header.pcap')), message: /cut-header\.pcap: byte \d+: truncated file header/ },
  {
    what: 'a filter with an unclosed parenthesis', args: replayMatch('tcp and (port 80'), message: /unbalanced parenthesis/,
    filter: { expr: 'tcp and (port 80', position: 8, token: '(' },
  },
  {
    what: 'a filter with an unknown port name', args: replayMatch('tcp port http2'), message: /unknown port name/,
    filter: { expr: 'tcp port http2', position: 9, token: 'http2' },
  },
  {
    what: 'a filter with a misspelt keyword', args: replayMatch('tcp prt 80'), message: /expected 'and' or 'or'/,
    filter: { expr: 'tcp prt 80', position: 4, token: 'prt' },
  },
  { what: 'a bad --encap', args: replay(at('good.pcap'), '--encap', 'vxlan'), message: /--encap.*'vxlan'.*gre, erspan2, erspan3/ },
  { what: 'a --snaplen that is not a number', args: replay(at('good.pcap'), '--snaplen', 'abc'), message: /--snaplen.*whole number.*"abc"/ },
  { what: 'a --sample of 0', args: replay(at('good.pcap'), '--sample', '0'), message: /--sample.*1\.\.16777216/ },
  { what: 'a --rate with a sign', args: replay(at('good.pcap'), '--rate', '-5'), message: /--rate/ },
  { what: 'a --snaplen below the session minimum', args: replay(at('good.pcap'), '--snaplen', '10'), message: /snaplen: must be 0 \(whole packet\) or 64\.\.65535/ },
  { what: 'a bad --device address', args: replay(at('good.pcap'), '--device', '1.2.3'), message: /"1\.2\.3" is not an IPv4 address/ },
  { what: 'classify: a rule with a /33 prefix names its line', args: ['classify', at('rules'), at('trace')], message: /rules:2: .*33/ },
  { what: 'classify: a rule cut short names its line', args: ['classify', at('rules-garbage'), at('trace')], message: /rules-garbage:2: / },
  { what: 'classify: a bad trace line names its line', args: ['classify', at('good-rules'), at('trace')], message: /trace:2: .*"x"/ },
  { what: 'classify: a missing rule file', args: ['classify', at('nope'), at('trace')], message: /nope/ },
  { what: 'peer: sniff without --out', args: ['peer', '--router', '192.0.2.1', '--match', 'tcp'], message: /--out: give the pcapng file/ },
  { what: 'peer: --far-end without --mode dup', args: ['peer', '--router', '192.0.2.1', '--match', 'tcp', '--out', '-', '--far-end', '10.0.0.2'], message: /--far-end: only with --mode dup/ },
  { what: 'peer: a multicast --far-end', args: ['peer', '--router', '192.0.2.1', '--match', 'tcp', '--mode', 'dup', '--far-end', '224.0.0.1'], message: /--far-end: "224\.0\.0\.1" is not a unicast IPv4 address/ },
  { what: 'peer: dup with --out', args: ['peer', '--router', '192.0.2.1', '--match', 'tcp', '--mode', 'dup', '--out', '-'], message: /--mode dup: no --out/ },
  { what: 'peer: dup over gre-wccp', args: ['peer', '--router', '192.0.2.1', '--match', 'tcp', '--mode', 'dup', '--encap', 'gre'], message: /--mode dup: use --encap gre-seq/ },
  { what: 'peer: --serve without --mode redirect', args: ['peer', '--router', '192.0.2.1', '--match', 'tcp', '--out', '-', '--serve', dir], message: /--serve: only with --mode redirect/ },
  { what: 'peer: redirect to a dynamic service without --ports', args: redirect(), message: /--ports: give the TCP ports of dynamic service 90/ },
  { what: 'peer: redirect with --ports on the web-cache service', args: redirect('--service', '0', '--ports', '80'), message: /--ports: only with a dynamic service/ },
  { what: 'peer: redirect with a port that is no number', args: redirect('--ports', '80,http'), message: /--ports: "http" is not a port \(1\.\.65535\)/ },
  { what: 'peer: redirect with a port listed twice', args: redirect('--ports', '80,8080,80'), message: /--ports: a port listed twice/ },
  { what: 'peer: redirect with nine ports', args: redirect('--ports', '1,2,3,4,5,6,7,8,9'), message: /--ports: a WCCP service lists at most 8 ports/ },
  { what: 'peer: redirect to a well-known service other than 0', args: redirect('--service', '5'), message: /--service: 5 is a well-known service other than web-cache/ },
  {
    what: 'peer: a --bypass the cache cannot know', args: redirect('--service', '0', '--bypass', 'tcp port 80 and inbound'), message: /--bypass: not at a cache: inbound\/outbound/,
    filter: { expr: 'tcp port 80 and inbound', position: 16, token: 'inbound' },
  },
  {
    what: 'peer: a malformed --bypass', args: redirect('--service', '0', '--bypass', 'tcp prt 80'), message: /--bypass: expected 'and' or 'or'/,
    filter: { expr: 'tcp prt 80', position: 4, token: 'prt' },
  },
  { what: 'peer: redirect --serve of a missing directory', args: redirect('--service', '0', '--serve', at('no-such-dir')), message: /--serve: .*no-such-dir: ENOENT/ },
  { what: 'peer: redirect --serve of a file', args: redirect('--service', '0', '--serve', at('good.pcap')), message: /--serve: .*good\.pcap is not a directory/ },
  { what: 'peer: redirect with the main routing table', args: redirect('--service', '0', '--table', '254'), message: /--table: 254 is not a routing table for a cache/ },
  { what: 'peer: redirect with a --tun that is no interface name', args: redirect('--service', '0', '--tun', 'my tun'), message: /--tun: "my tun" is not an interface name/ },
  { what: 'peer: redirect with --out', args: redirect('--service', '0', '--out', '-'), message: /--out: not with --mode redirect/ },
  { what: 'peer: redirect with --sample', args: redirect('--service', '0', '--sample', '2'), message: /--sample: not with --mode redirect/ },
  { what: 'peer: redirect with --encap', args: redirect('--service', '0', '--encap', 'erspan2'), message: /--mode redirect: the router diverts whole packets with GRE/ },
  { what: 'eliminate: a bad --address', args: ['eliminate', '--address', '1.2.3'], message: /--address: "1\.2\.3" is not an IPv4 address/ },
  { what: 'eliminate: a bad --from', args: ['eliminate', '--from', '10.0.0.1', '--from', 'router-a'], message: /--from: "router-a" is not an IPv4 address/ },
  { what: 'eliminate: a --tun that is no interface name', args: ['eliminate', '--tun', 'far end'], message: /--tun: "far end" is not an interface name/ },
  { what: 'eliminate: a --history beyond 1024', args: ['eliminate', '--history', '1025'], message: /--history: must be 1\.\.1024 packets/ },
];

test.after(() => removeTempDir(dir));

for (const row of ROWS) {
  test(`${row.what}: exit 2, one clear line`, () => {
    for (const f of ['r.pcapng', 'o.pcap']) fs.rmSync(at(f), { force: true });
    const r = twinflow(row.args);
    const lines = r.stderr.split('\n').filter((l) => l.trim() !== '');
    assert.ok(lines.length > 0, 'something on stderr');
    assert.match(lines[0], row.message, `first line: ${lines[0]}`);
    assert.ok(!/\bat .*\.ts:\d+/.test(r.stderr), `no stack trace:\n${r.stderr}`);
    assert.is(r.stdout, '', 'nothing on stdout');
    if (row.filter) {
      const { expr, position, token } = row.filter;
      assert.ok(lines[0].includes(`'${token}'`), `names the token ${token}: ${lines[0]}`);
      assert.match(lines[0], new RegExp(`position ${position}\\b`), `the position in the user's expression: ${lines[0]}`);
      if (lines.length > 1) {
        // The caret display: the user's expression as typed, the caret under the token.
        assert.is(lines.length, 3, r.stderr);
        const indent = lines[1].indexOf(expr);
        assert.is(lines[1].trim(), expr, `the expression shown is the user's: ${JSON.stringify(lines[1])}`);
        assert.is(lines[2].indexOf('^') - indent, position, `the caret is under '${token}':\n${lines[1]}\n${lines[2]}`);
      }
    } else {
      const extra = lines.slice(1).filter((l) => l.trim() !== HINT);
      assert.equal(extra, [], `one line (a usage hint aside):\n${r.stderr}`);
    }
    if (row.args[0] === 'replay' && !/cut-record/.test(row.args[1])) {
      assert.not.ok(fs.existsSync(at('r.pcapng')) || fs.existsSync(at('o.pcap')), 'a refused replay leaves no output files');
    }
    assert.is(r.status, 2, `exit status 2 (a user error), got ${r.status}: ${lines[0]}`);
  });
}

test('an unknown subcommand is refused (non-zero) and the message names it', () => {
  const r = twinflow(['bogus']);
  assert.ok(r.status !== 0);
  assert.match(r.stderr.split('\n')[0], /bogus/);
});

test.run();
