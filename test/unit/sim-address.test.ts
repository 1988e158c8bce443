// hal/net/address.ts against Python's ipaddress module (RFC 4291 parsing, RFC 5952
// formatting) and by hand for IPv4, MAC and host numbering.

import { spawnSync } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

import { formatIpv6, formatMac, parseIpv4, parseIpv6, parseMac } from '../../hal/drivers/sim/index.ts';
import { ipv6Plus, macPlus } from '../../hal/net/address.ts';
import { hex, SYSTEM_PYTHON } from './sim-helpers.ts';

const IPV6_TEXTS = [
  '::', '::1', '1::', '2001:db8::1', '2001:DB8:0:0:8:800:200C:417A', 'ff02::1:2', '1:2:3:4:5:6:7:8', '1::8', '1:2:3:4:5:6::8',
  '::ffff:192.0.2.1', '64:ff9b::10.0.0.1', 'fe80::', '0:0:0:0:0:0:0:0', '2001:db8:0:0:1:0:0:1', '2001:0:0:1::1',
  // invalid
  '', ':', ':::', '1:::2', '1::2::3', '1:2:3:4:5:6:7:8:9', '1:2:3:4:5:6:7', '12345::', 'g::1', '1.2.3.4::', '::1.2.3',
  '::1.2.3.256', '1:2:3:4:5:6:7::8', ' ::1', '::1 ', '2001:db8::1/64', '1::2:3:4:5:6:7:8',
];

/** ipaddress's verdict per text: the 16 bytes and the RFC 5952 form, or null. */
function python(texts: readonly string[]): Array<[string, string] | null> {
  const script = `
import ipaddress, json, sys
out = []
for t in json.loads(sys.stdin.read()):
    try:
        a = ipaddress.IPv6Address(t)
        out.append([a.packed.hex(), str(a)])
    except ValueError:
        out.append(None)
print(json.dumps(out))
`;
  const r = spawnSync(SYSTEM_PYTHON, ['-c', script], { input: JSON.stringify(texts), encoding: 'utf8' });
  if (r.status !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as Array<[string, string] | null>;
}

test('IPv6 text parses and formats as Python\'s ipaddress does', () => {
  const want = python(IPV6_TEXTS);
  IPV6_TEXTS.forEach((t, i) => {
    const got = parseIpv6(t);
    const w = want[i];
    if (w === null) {
      assert.is(got, null, JSON.stringify(t));
    } else {
      assert.ok(got, JSON.stringify(t));
      assert.is(hex(got!), w[0], t);
      // ipaddress writes embedded IPv4 of ::ffff:0:0/96 in dotted form; RFC 5952 §5 allows either.
      if (!w[1].includes('.')) assert.is(formatIpv6(got!), w[1], t);
    }
  });
});

test('IPv4 dotted quads: exactly four decimal parts 0..255, no leading zeros', () => {
  assert.is(parseIpv4('0.0.0.0'), 0);
  assert.is(parseIpv4('255.255.255.255'), 0xffffffff);
  assert.is(parseIpv4('10.1.2.3'), 0x0a010203);
  for (const bad of ['', '1.2.3', '1.2.3.4.5', '256.0.0.1', '01.2.3.4', '1.2.3.-4', '1.2.3.4 ', 'a.b.c.d', '1..3.4']) {
    assert.is(parseIpv4(bad), null, bad);
  }
});

test('MACs parse and number hosts with a carry across bytes', () => {
  const m = parseMac('02:00:00:00:00:FF')!;
  assert.is(formatMac(m), '02:00:00:00:00:ff');
  assert.is(formatMac(macPlus(m, 1)), '02:00:00:00:01:00');
  assert.is(formatMac(macPlus(parseMac('02:ff:ff:ff:ff:ff')!, 1)), '03:00:00:00:00:00');
  for (const bad of ['', '02:00:00:00:00', '02:00:00:00:00:00:00', '02-00-00-00-00-00', '2:0:0:0:0:0', '02:00:00:00:00:0g']) {
    assert.is(parseMac(bad), null, bad);
  }
  assert.is(formatIpv6(ipv6Plus(parseIpv6('2001:db8::ffff')!, 1)), '2001:db8::1:0');
});

test.run();
