// Filter errors: every malformed or unsupported expression fails with a FilterError that
// names the offending token, gives its position, and draws a caret under it.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { describeBox } from '../../firmware/shell/tables/box.ts';
import { compileFilter, FilterError, parseFilter } from '../../firmware/shell/filter/index.ts';

function catchFilterError(run: () => unknown): FilterError {
  try {
    run();
  } catch (e) {
    if (e instanceof FilterError) return e;
    throw e;
  }
  throw new Error('expected a FilterError');
}

const UNSUPPORTED_SYMBOL = /unsupported: '.+' \(arithmetic, relations and byte offsets/;
const MIXED = /'and' and 'or' mixed without parentheses/;
const NO_OPERATOR = /expected 'and' or 'or' between two terms/;
const HOST_BITS = /bits set outside the network prefix/;
const BAD_ADDRESS = /not a valid IPv4 or IPv6 address/;

// [expression, position, token, message pattern]
const ERROR_CASES: Array<[string, number, string, RegExp]> = [
  // structure
  ['', 0, '', /empty expression/],
  ['  \t ', 0, '', /empty expression/],
  ['tcp and', 4, 'and', /'and' is missing its operand/],
  ['and tcp', 0, 'and', /'and' is missing its operand/],
  ['tcp || ', 4, '||', /'\|\|' is missing its operand/],
  ['not', 0, 'not', /'not' is missing its operand/],
  ['tcp and !', 8, '!', /'!' is missing its operand/],
  ['tcp and or udp', 4, 'and', /'and' is missing its operand/],
  ['(tcp', 0, '(', /'\(' is never closed/],
  ['((tcp)', 0, '(', /'\(' is never closed/],
  ['(tcp or udp', 0, '(', /'\(' is never closed/],
  ['tcp)', 3, ')', /'\)' has no matching '\('/],
  ['(tcp))', 5, ')', /'\)' has no matching '\('/],
  ['()', 1, ')', /expected a filter term/],
  ['tcp udp', 4, 'udp', NO_OPERATOR],
  ['(tcp udp)', 5, 'udp', NO_OPERATOR],
  ['tcp and udp or icmp', 12, 'or', MIXED],
  ['tcp || udp && icmp', 11, '&&', MIXED],
  ['tcp & udp', 4, '&', UNSUPPORTED_SYMBOL],
  ['tcp | udp', 4, '|', UNSUPPORTED_SYMBOL],
  ['host 1.2.3.4 é', 13, 'é', /unexpected character/],
  ['tcp\u0000', 3, '\u0000', /unexpected character/],
  // addresses
  ['host 10.0.0.256', 5, '10.0.0.256', BAD_ADDRESS],
  ['host 10.00.0.1', 5, '10.00.0.1', BAD_ADDRESS],
  ['net 10.1.2.3.4', 4, '10.1.2.3.4', BAD_ADDRESS],
  ['host 1::2::3', 5, '1::2::3', BAD_ADDRESS],
  ['host 1:2:3:4:5:6:7:8:9', 5, '1:2:3:4:5:6:7:8:9', BAD_ADDRESS],
  ['host 1:2:3:4:5:6:7::8', 5, '1:2:3:4:5:6:7::8', BAD_ADDRESS],
  ['host 12345::1', 5, '12345::1', BAD_ADDRESS],
  ['host ::ffff:1.2.3', 5, '::ffff:1.2.3', BAD_ADDRESS],
  ['host 1.2.3.4::', 5, '1.2.3.4::', BAD_ADDRESS],
  ['host :1', 5, ':1', BAD_ADDRESS],
  ['host 10.0.0', 5, '10.0.0', /'host' needs a full address; for a network write 'net'/],
  ['10.1', 0, '10.1', /'host' needs a full address/],
  ['host 10.0.0.0/8', 5, '10.0.0.0/8', /'host' takes a single address/],
  ['host 10.0.0.1 mask 255.0.0.0', 14, 'mask', /'host' takes a single address/],
  ['host foo.example.com', 5, 'foo.example.com', /host names are not resolved/],
  ['host \\10.0.0.1', 5, '\\10.0.0.1', /host names are not resolved/],
  ['net 10.0.0.0/33', 4, '10.0.0.0/33', /prefix length out of range \(0-32\)/],
  ['net 10.0.0.0/08', 4, '10.0.0.0/08', /prefix length out of range \(0-32\)/],
  ['net 2001:db8::/129', 4, '2001:db8::/129', /prefix length out of range \(0-128\)/],
  ['net 10.0.0.1/8', 4, '10.0.0.1/8', HOST_BITS],
  ['net 10.1/8', 4, '10.1/8', HOST_BITS],
  ['net 2001:db8::1/64', 4, '2001:db8::1/64', HOST_BITS],
  ['net 10.0.0.1 mask 255.0.0.0', 4, '10.0.0.1', HOST_BITS],
  ['net 10.0.0.0 mask 255.0.255.0', 18, '255.0.255.0', /not a contiguous IPv4 netmask/],
  ['net 10.0.0.0 mask 255.0', 18, '255.0', /not a contiguous IPv4 netmask/],
  ['net 2001:db8:: mask 255.0.0.0', 15, 'mask', /'mask' applies to IPv4 networks only/],
  ['net 10.0.0.0/8 mask 255.0.0.0', 15, 'mask', NO_OPERATOR],
  ['ip6 host 10.0.0.1', 9, '10.0.0.1', /address family does not match 'ip6'/],
  ['ip src net ::/0', 11, '::/0', /address family does not match 'ip'/],
  // ports, protocols, numbers
  ['port 65536', 5, '65536', /port out of range \(0-65535\)/],
  ['port 99999999999999999999', 5, '99999999999999999999', /port out of range/],
  ['port 080', 5, '080', /leading zero/],
  ['port nosuch', 5, 'nosuch', /unknown port name/],
  ['port 80-90', 5, '80-90', /a range needs 'portrange'/],
  ['portrange 1-70000', 10, '70000', /port out of range \(0-65535\)/],
  ['portrange 10-', 10, '10-', /not a port range/],
  ['portrange http-nosuch', 10, 'http-nosuch', /not a port range/],
  ['proto 256', 6, '256', /protocol number out of range \(0-255\)/],
  ['proto nosuch', 6, 'nosuch', /unknown protocol name/],
  ['vlan 4096', 5, '4096', /vlan id out of range \(0-4095\)/],
  ['vlan 0x1000', 5, '0x1000', /vlan id out of range/],
  ['vlan 1x', 5, '1x', /not a number/],
  ['inport 255', 7, '255', /router port index out of range \(0-254\)/],
  ['outport 300', 8, '300', /router port index out of range \(0-254\)/],
  ['inport', 0, 'inport', /'inport' needs a value/],
  ['ip proto', 3, 'proto', /'proto' needs a value/],
  ['port and tcp', 0, 'port', /'port' needs a value/],
  ['src', 0, 'src', /'src' needs a value/],
  ['src or dst net', 11, 'net', /'net' needs a value/],
  ['80', 0, '80', /a bare value needs a qualifier/],
  ['foo', 0, 'foo', /unknown word/],
  ['HOST 1.2.3.4', 0, 'HOST', /unknown word/],
  // qualifier misuse
  ['ip port 80', 3, 'port', /'ip' cannot qualify 'port'/],
  ['tcp host 10.0.0.1', 4, 'host', /'tcp' cannot qualify an address/],
  ['udp src 10.0.0.1', 8, '10.0.0.1', /expected 'port' or 'portrange' after 'src'/],
  ['tcp src', 4, 'src', /expected 'port' or 'portrange' after 'src'/],
  // vlan tags
  ['vlan 1 and vlan 2 and vlan 3', 22, 'vlan', /a third vlan term/],
  ['vlan and (vlan 2 or vlan 3) and vlan', 32, 'vlan', /a third vlan term/],
  ['(vlan 1 or tcp) and vlan 2', 20, 'vlan', /unclear whether it means the outer or the inner tag/],
  // tcpdump features we do not support
  ['ether host 1.2.3.4', 0, 'ether', /unsupported: 'ether' \(link-layer/],
  ['arp', 0, 'arp', /unsupported: 'arp'/],
  ['tcp and mpls', 8, 'mpls', /unsupported: 'mpls'/],
  ['tcp[13] & 2 != 0', 3, '[', /unsupported: byte offsets/],
  ['ip[0] = 0x45', 2, '[', /unsupported: byte offsets/],
  ['icmp[icmptype] == 8', 4, '[', /unsupported: byte offsets/],
  ['len <= 100', 0, 'len', /unsupported: 'len'/],
  ['greater 100', 0, 'greater', /unsupported: 'greater'/],
  ['less 100', 0, 'less', /unsupported: 'less'/],
  ['gateway 1.2.3.4', 0, 'gateway', /unsupported: 'gateway'/],
  ['broadcast', 0, 'broadcast', /unsupported: 'broadcast'/],
  ['ip broadcast', 3, 'broadcast', /unsupported: 'broadcast'/],
  ['ip6 multicast', 4, 'multicast', /unsupported: 'multicast'/],
  ['ip6 protochain 6', 4, 'protochain', /unsupported: 'protochain'/],
  ['igmp', 0, 'igmp', /unsupported: 'igmp' as a term; write 'ip proto 2'/],
  ['esp or ah', 0, 'esp', /write 'proto 50'/],
  ['wlan addr1 1.2.3.4', 0, 'wlan', /unsupported: 'wlan'/],
  ['tcp == 1', 4, '==', UNSUPPORTED_SYMBOL],
];

test('malformed and unsupported expressions fail at the offending token', () => {
  for (const [expr, position, token, pattern] of ERROR_CASES) {
    const e = catchFilterError(() => compileFilter(expr));
    assert.is(e.position, position, `${JSON.stringify(expr)}: position`);
    assert.is(e.token, token, `${JSON.stringify(expr)}: token`);
    assert.match(e.message, pattern, `${JSON.stringify(expr)}: message`);
    assert.is(e.name, 'FilterError');
    assert.ok(e instanceof Error);
  }
});

test('the message names the token and draws a caret line under it', () => {
  for (const [expr, position, token] of ERROR_CASES) {
    const e = catchFilterError(() => parseFilter(expr));
    const [first, excerpt, caret] = e.message.split('\n');
    assert.ok(first.includes(token === '' ? 'end of expression' : `'${token}'`), `${JSON.stringify(expr)}: ${first}`);
    assert.ok(first.includes(`position ${position}`), first);
    assert.is(excerpt, `  ${expr.replace(/[\x00-\x1f]/g, ' ')}`);
    assert.is(caret, `  ${' '.repeat(position)}${'^'.repeat(Math.max(1, token.length))}`, JSON.stringify(expr));
  }
  assert.is(
    catchFilterError(() => parseFilter('tcp and port 70000')).message,
    "filter: port out of range (0-65535) (at '70000', position 13)\n  tcp and port 70000\n               ^^^^^",
  );
});

test('a long expression is shown as a window around the token', () => {
  const expr = `${'tcp and '.repeat(200)}port 99999 and udp${' and udp'.repeat(100)}`;
  const e = catchFilterError(() => parseFilter(expr));
  assert.is(e.position, 8 * 200 + 5);
  assert.is(e.token, '99999');
  const [, excerpt, caret] = e.message.split('\n');
  assert.ok(excerpt.length < 200, `excerpt of ${excerpt.length} characters`);
  assert.ok(excerpt.startsWith('  …') && excerpt.endsWith('…'));
  const column = caret.indexOf('^');
  assert.is(excerpt.slice(column, column + 5), '99999');
  assert.is(caret.trim(), '^^^^^');
});

test('length and nesting are bounded', () => {
  const tooLong = catchFilterError(() => parseFilter(`tcp${' '.repeat(16380)}udp or icmp`));
  assert.match(tooLong.message, /longer than 16384 characters/);
  assert.equal([tooLong.position, tooLong.token], [16384, 'd']);
  assert.not.throws(() => parseFilter(`tcp${' '.repeat(16375)}or udp`));

  const deepParens = catchFilterError(() => parseFilter(`${'('.repeat(101)}tcp${')'.repeat(101)}`));
  assert.match(deepParens.message, /nested more than 100 levels/);
  assert.equal([deepParens.position, deepParens.token], [100, '(']);
  assert.not.throws(() => parseFilter(`${'('.repeat(100)}tcp${')'.repeat(100)}`));
  const deepNot = catchFilterError(() => parseFilter(`${'not '.repeat(101)}tcp`));
  assert.equal([deepNot.position, deepNot.token], [400, 'not']);
});

test('compile-time expansion over maxBoxes points at the operator that crossed it', () => {
  // Conflicting choices prune: sport cannot be 1 and 2, so only the two crossed pairs remain.
  const clause = (i: number) => `(src port ${i} or dst port ${i + 1000})`;
  assert.equal(compileFilter(`tcp and ${clause(1)} and ${clause(2)}`).map(describeBox), [
    'sport=1 dport=1002 proto=6',
    'sport=2 dport=1001 proto=6',
  ]);
  // Independent choices multiply: 4 × 2 × 2 = 16 boxes; the second `and` takes it past 10.
  const byProtocol = '(tcp or udp or sctp or icmp) and (inbound or outport 1) and (vlan or inport 7)';
  assert.is(compileFilter(byProtocol).length, 16);
  const e = catchFilterError(() => compileFilter(byProtocol, { maxBoxes: 10 }));
  assert.match(e.message, /expands to more than 10 rules/);
  assert.equal([e.position, e.token], [56, 'and']);
});

test('the cap applies after merging touching boxes; a filter that is really bigger fails', () => {
  const ports = Array.from({ length: 1000 }, (_, i) => `port ${i + 1}`).join(' or ');
  assert.is(compileFilter(ports).length, 6); // sport|dport 1..1000 for each of tcp, udp, sctp
  // 342 host-and-port clauses need 342 × 12 = 4104 boxes, over the default 4096.
  const clauses = Array.from({ length: 342 }, (_, i) => `(host 10.${i >> 8}.${i & 255}.1 and port ${i % 2 ? 443 : 80})`);
  const e = catchFilterError(() => compileFilter(clauses.join(' or ')));
  assert.match(e.message, /expands to more than 4096 rules \(boxes\)/);
  assert.is(e.token, 'or');
  assert.is(compileFilter(clauses.slice(0, 341).join(' or ')).length, 4092);
  // Negating 100 of them multiplies 100 complements: the work budget stops that early.
  const tooComplex = catchFilterError(() => compileFilter(`not (${clauses.slice(0, 100).join(' or ')})`));
  assert.match(tooComplex.message, /too complex to compile/);
});

test('only FilterError escapes, whatever the input', () => {
  const vocabulary = [
    'host', 'net', 'port', 'portrange', 'src', 'dst', 'and', 'or', 'not', '!', '&&', '||', '(', ')',
    'tcp', 'udp', 'ip', 'ip6', 'vlan', 'proto', 'mask', '10.0.0.1', '10.1', '::1', '80', '1-2',
    'http', '[', ']', '&', '=', 'ether', '\\tcp', '255.255.0.0', '2001:db8::/32', '0x10', '-', ':',
    '/', '.', 'inport', 'outport', 'inbound', 'icmp6', '4096', '', ' ',
  ];
  let state = 0x9e3779b9;
  const random = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
  for (let i = 0; i < 5000; i++) {
    const words = Array.from({ length: 1 + (random() % 8) }, () => vocabulary[random() % vocabulary.length]);
    const expr = words.join(random() % 4 === 0 ? '' : ' ');
    try {
      compileFilter(expr);
    } catch (e) {
      assert.ok(e instanceof FilterError, `${JSON.stringify(expr)}: ${String(e)}`);
      assert.ok(e.position >= 0 && e.position <= expr.length, JSON.stringify(expr));
      assert.is(expr.slice(e.position, e.position + e.token.length), e.token, JSON.stringify(expr));
    }
  }
});

test.run();
