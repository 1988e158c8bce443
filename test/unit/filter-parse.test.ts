// Filter parser: the AST each syntax form resolves to (qualifiers, addresses, vlan tags).

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseFilter, type FilterAst } from '../../firmware/shell/filter/index.ts';

/** The AST without source locations, for comparing shapes. */
function shape(node: FilterAst): unknown {
  switch (node.kind) {
    case 'and':
    case 'or':
      return { [node.kind]: node.operands.map(shape) };
    case 'not':
      return { not: shape(node.operand) };
    default: {
      const { position: _position, token: _token, ...rest } = node;
      return rest;
    }
  }
}

const v4 = (a: number, b: number, c: number, d: number) => ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
const TCP_UDP_SCTP = [6, 17, 132];

const CASES: Array<[string, unknown]> = [
  ['host 10.0.0.1', { kind: 'address', family: 4, words: [v4(10, 0, 0, 1)], prefixLength: 32, side: 'src or dst' }],
  ['src host 10.0.0.1', { kind: 'address', family: 4, words: [v4(10, 0, 0, 1)], prefixLength: 32, side: 'src' }],
  ['dst 10.0.0.1', { kind: 'address', family: 4, words: [v4(10, 0, 0, 1)], prefixLength: 32, side: 'dst' }],
  ['src or dst host 10.0.0.1', { kind: 'address', family: 4, words: [v4(10, 0, 0, 1)], prefixLength: 32, side: 'src or dst' }],
  ['src and dst host 10.0.0.1', { kind: 'address', family: 4, words: [v4(10, 0, 0, 1)], prefixLength: 32, side: 'src and dst' }],
  ['dst || src 10.0.0.1', { kind: 'address', family: 4, words: [v4(10, 0, 0, 1)], prefixLength: 32, side: 'src or dst' }],
  ['10.0.0.1', { kind: 'address', family: 4, words: [v4(10, 0, 0, 1)], prefixLength: 32, side: 'src or dst' }],
  ['ip host 10.0.0.1', { kind: 'address', family: 4, words: [v4(10, 0, 0, 1)], prefixLength: 32, side: 'src or dst' }],
  ['net 10', { kind: 'address', family: 4, words: [v4(10, 0, 0, 0)], prefixLength: 8, side: 'src or dst' }],
  ['net 10.1', { kind: 'address', family: 4, words: [v4(10, 1, 0, 0)], prefixLength: 16, side: 'src or dst' }],
  ['net 10.1.2', { kind: 'address', family: 4, words: [v4(10, 1, 2, 0)], prefixLength: 24, side: 'src or dst' }],
  ['net 10.1.2.3', { kind: 'address', family: 4, words: [v4(10, 1, 2, 3)], prefixLength: 32, side: 'src or dst' }],
  ['net 10.1/16', { kind: 'address', family: 4, words: [v4(10, 1, 0, 0)], prefixLength: 16, side: 'src or dst' }],
  ['net 10.0.0.0/8', { kind: 'address', family: 4, words: [v4(10, 0, 0, 0)], prefixLength: 8, side: 'src or dst' }],
  ['net 0.0.0.0/0', { kind: 'address', family: 4, words: [0], prefixLength: 0, side: 'src or dst' }],
  ['dst net 192.168.0.0 mask 255.255.252.0', { kind: 'address', family: 4, words: [v4(192, 168, 0, 0)], prefixLength: 22, side: 'dst' }],
  ['src 172.16.0.0/12', { kind: 'address', family: 4, words: [v4(172, 16, 0, 0)], prefixLength: 12, side: 'src' }],
  ['host ::', { kind: 'address', family: 6, words: [0, 0, 0, 0], prefixLength: 128, side: 'src or dst' }],
  ['host ::1', { kind: 'address', family: 6, words: [0, 0, 0, 1], prefixLength: 128, side: 'src or dst' }],
  ['host 2001:db8::1', { kind: 'address', family: 6, words: [0x20010db8, 0, 0, 1], prefixLength: 128, side: 'src or dst' }],
  ['host 1:2:3:4:5:6:7:8', { kind: 'address', family: 6, words: [0x10002, 0x30004, 0x50006, 0x70008], prefixLength: 128, side: 'src or dst' }],
  ['host 1::8', { kind: 'address', family: 6, words: [0x10000, 0, 0, 8], prefixLength: 128, side: 'src or dst' }],
  ['host 1:2:3:4:5:6:7::', { kind: 'address', family: 6, words: [0x10002, 0x30004, 0x50006, 0x70000], prefixLength: 128, side: 'src or dst' }],
  ['host FE80::A:b', { kind: 'address', family: 6, words: [0xfe800000, 0, 0, 0xa000b], prefixLength: 128, side: 'src or dst' }],
  ['host ::ffff:10.0.0.1', { kind: 'address', family: 6, words: [0, 0, 0xffff, v4(10, 0, 0, 1)], prefixLength: 128, side: 'src or dst' }],
  ['host ::10.0.0.1', { kind: 'address', family: 6, words: [0, 0, 0, v4(10, 0, 0, 1)], prefixLength: 128, side: 'src or dst' }],
  ['host 64:ff9b::192.0.2.33', { kind: 'address', family: 6, words: [0x64ff9b, 0, 0, v4(192, 0, 2, 33)], prefixLength: 128, side: 'src or dst' }],
  ['host 1:2:3:4:5:6:1.2.3.4', { kind: 'address', family: 6, words: [0x10002, 0x30004, 0x50006, v4(1, 2, 3, 4)], prefixLength: 128, side: 'src or dst' }],
  ['ip6 src net 2001:db8::/32', { kind: 'address', family: 6, words: [0x20010db8, 0, 0, 0], prefixLength: 32, side: 'src' }],
  ['net ::/0', { kind: 'address', family: 6, words: [0, 0, 0, 0], prefixLength: 0, side: 'src or dst' }],
  ['port 80', { kind: 'port', protocols: TCP_UDP_SCTP, lo: 80, hi: 80, side: 'src or dst' }],
  ['port 0x50', { kind: 'port', protocols: TCP_UDP_SCTP, lo: 80, hi: 80, side: 'src or dst' }],
  ['src port https', { kind: 'port', protocols: TCP_UDP_SCTP, lo: 443, hi: 443, side: 'src' }],
  ['tcp port 80', { kind: 'port', protocols: [6], lo: 80, hi: 80, side: 'src or dst' }],
  ['udp dst port domain', { kind: 'port', protocols: [17], lo: 53, hi: 53, side: 'dst' }],
  ['sctp src and dst port 0', { kind: 'port', protocols: [132], lo: 0, hi: 0, side: 'src and dst' }],
  ['portrange 1-1024', { kind: 'port', protocols: TCP_UDP_SCTP, lo: 1, hi: 1024, side: 'src or dst' }],
  ['portrange 1024-1', { kind: 'port', protocols: TCP_UDP_SCTP, lo: 1, hi: 1024, side: 'src or dst' }],
  ['portrange 65535', { kind: 'port', protocols: TCP_UDP_SCTP, lo: 65535, hi: 65535, side: 'src or dst' }],
  ['tcp dst portrange ftp-data-telnet', { kind: 'port', protocols: [6], lo: 20, hi: 23, side: 'dst' }],
  ['tcp', { kind: 'protocol', family: null, protocol: 6 }],
  ['udp', { kind: 'protocol', family: null, protocol: 17 }],
  ['sctp', { kind: 'protocol', family: null, protocol: 132 }],
  ['icmp', { kind: 'protocol', family: 4, protocol: 1 }],
  ['icmp6', { kind: 'protocol', family: 6, protocol: 58 }],
  ['proto 47', { kind: 'protocol', family: null, protocol: 47 }],
  ['proto gre', { kind: 'protocol', family: null, protocol: 47 }],
  ['ip proto \\tcp', { kind: 'protocol', family: 4, protocol: 6 }],
  ['ip6 proto \\icmp6', { kind: 'protocol', family: 6, protocol: 58 }],
  ['ip6 proto 0x11', { kind: 'protocol', family: 6, protocol: 17 }],
  ['ip', { kind: 'family', family: 4 }],
  ['ip6', { kind: 'family', family: 6 }],
  ['vlan', { kind: 'vlan', tag: 'outer', id: null }],
  ['vlan 4095', { kind: 'vlan', tag: 'outer', id: 4095 }],
  ['inbound', { kind: 'direction', direction: 'inbound' }],
  ['outbound', { kind: 'direction', direction: 'outbound' }],
  ['inport 0', { kind: 'routerPort', which: 'in', index: 0 }],
  ['outport 254', { kind: 'routerPort', which: 'out', index: 254 }],
];

test('each term form resolves to its AST', () => {
  for (const [expr, expected] of CASES) assert.equal(shape(parseFilter(expr)), expected, expr);
});

test('boolean structure: n-ary chains, not/!, &&/||, parentheses', () => {
  assert.equal(shape(parseFilter('tcp and udp && icmp')), {
    and: [
      { kind: 'protocol', family: null, protocol: 6 },
      { kind: 'protocol', family: null, protocol: 17 },
      { kind: 'protocol', family: 4, protocol: 1 },
    ],
  });
  assert.equal(shape(parseFilter('!(ip || ip6) and not not inbound')), {
    and: [
      { not: { or: [{ kind: 'family', family: 4 }, { kind: 'family', family: 6 }] } },
      { not: { not: { kind: 'direction', direction: 'inbound' } } },
    ],
  });
  assert.equal(shape(parseFilter('((tcp))')), { kind: 'protocol', family: null, protocol: 6 });
});

test('a bare value repeats the most recent host/net/port/portrange qualifiers', () => {
  assert.equal(shape(parseFilter('tcp dst port 80 or 443 or https')), {
    or: [
      { kind: 'port', protocols: [6], lo: 80, hi: 80, side: 'dst' },
      { kind: 'port', protocols: [6], lo: 443, hi: 443, side: 'dst' },
      { kind: 'port', protocols: [6], lo: 443, hi: 443, side: 'dst' },
    ],
  });
  assert.equal(shape(parseFilter('src host 10.0.0.1 and not 10.0.0.2')), {
    and: [
      { kind: 'address', family: 4, words: [v4(10, 0, 0, 1)], prefixLength: 32, side: 'src' },
      { not: { kind: 'address', family: 4, words: [v4(10, 0, 0, 2)], prefixLength: 32, side: 'src' } },
    ],
  });
  assert.equal(shape(parseFilter('net 10 or 192.168')), {
    or: [
      { kind: 'address', family: 4, words: [v4(10, 0, 0, 0)], prefixLength: 8, side: 'src or dst' },
      { kind: 'address', family: 4, words: [v4(192, 168, 0, 0)], prefixLength: 16, side: 'src or dst' },
    ],
  });
  // Terms without values do not change the qualifiers in force.
  assert.equal(shape(parseFilter('(port 80 and vlan) or 22')), {
    or: [
      { and: [{ kind: 'port', protocols: TCP_UDP_SCTP, lo: 80, hi: 80, side: 'src or dst' }, { kind: 'vlan', tag: 'outer', id: null }] },
      { kind: 'port', protocols: TCP_UDP_SCTP, lo: 22, hi: 22, side: 'src or dst' },
    ],
  });
});

test('vlan terms: first on a conjunction is the outer tag, second the inner', () => {
  const tags = (expr: string) => {
    const out: string[] = [];
    const walk = (n: FilterAst): void => {
      if (n.kind === 'and' || n.kind === 'or') n.operands.forEach(walk);
      else if (n.kind === 'not') walk(n.operand);
      else if (n.kind === 'vlan') out.push(`${n.tag}:${n.id ?? '*'}`);
    };
    walk(parseFilter(expr));
    return out.join(' ');
  };
  assert.is(tags('vlan 10 and vlan 20'), 'outer:10 inner:20');
  assert.is(tags('vlan and tcp and vlan 20'), 'outer:* inner:20');
  assert.is(tags('vlan 10 or vlan 20'), 'outer:10 outer:20');
  assert.is(tags('(vlan 10 or vlan 20) and vlan 30'), 'outer:10 outer:20 inner:30');
  assert.is(tags('vlan 10 and (vlan 20 or tcp)'), 'outer:10 inner:20');
  assert.is(tags('not vlan 10 and vlan 20'), 'outer:10 inner:20');
  assert.is(tags('not (vlan 10 and vlan 20) or vlan 30'), 'outer:10 inner:20 outer:30');
  assert.is(tags('(vlan 1 and vlan 2) or (vlan 3 and vlan 4)'), 'outer:1 inner:2 outer:3 inner:4');
  assert.is(tags('(vlan 1 or tcp) and host 10.0.0.1'), 'outer:1');
});

test('terms carry the position and text of their first token', () => {
  const ast = parseFilter('tcp and  (src port 80 or not inport 3)');
  assert.is(ast.kind, 'and');
  if (ast.kind !== 'and') return;
  assert.equal([ast.position, ast.token], [4, 'and']);
  assert.equal(ast.operators, [{ position: 4, token: 'and' }]);
  const inner = ast.operands[1];
  assert.is(inner.kind, 'or');
  if (inner.kind !== 'or') return;
  assert.equal([inner.operands[0].position, inner.operands[0].token], [10, 'src']);
  assert.equal([inner.operands[1].position, inner.operands[1].token], [25, 'not']);
  if (inner.operands[1].kind !== 'not') return;
  assert.equal([inner.operands[1].operand.position, inner.operands[1].operand.token], [29, 'inport']);
});

test('whitespace of any kind separates tokens; operators need none', () => {
  assert.equal(shape(parseFilter('\ttcp\n&&!udp\r\n')), {
    and: [{ kind: 'protocol', family: null, protocol: 6 }, { not: { kind: 'protocol', family: null, protocol: 17 } }],
  });
  assert.equal(shape(parseFilter('(tcp)||(udp)')), {
    or: [{ kind: 'protocol', family: null, protocol: 6 }, { kind: 'protocol', family: null, protocol: 17 }],
  });
});

test.run();
