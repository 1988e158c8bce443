// The transparent cache's two kernel pieces, with the kernel and curl as the oracles: the addon's
// openTransparentListener (IP_TRANSPARENT) and the policy routing of firmware/peer/transparent.ts.
// A client namespace routes 198.51.100.0/24 — an address nobody holds — to a server namespace,
// whose policy routing delivers what arrives on that link locally:
//   - a connection to 198.51.100.9 is accepted by the transparent listener, which sees the
//     foreign address as its local one and answers from it (curl gets the answer);
//   - an ordinary listener on the same path never answers (the kernel will not send a SYN-ACK
//     from an address it does not hold): curl times out — IP_TRANSPARENT is what makes it work;
//   - setUp refuses a table that is in use, naming it, and leaves nothing behind; close()
//     removes exactly the rule and the route it added.
// Needs root.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import net from 'node:net';
import { addon } from '../../hal/drivers/linux/native.ts';
import { runIp, TransparentRouting, TransparentRoutingError, RULE_PRIORITY } from '../../firmware/peer/transparent.ts';
import { requireRoot, withLab } from '../net/netns.ts';

const CLIENT = '10.77.0.1';
const SERVER = '10.77.0.2';
const FOREIGN = '198.51.100.9';
const TABLE = 4242;

/** A plain (not transparent) server on :8081 in a namespace, for the control case. */
const PLAIN_SERVER = `
require('node:net').createServer((s) => s.end('plain\\n')).listen(8081, '0.0.0.0', () => console.log('listening'));
process.on('SIGTERM', () => process.exit(0));
`;

test('IP_TRANSPARENT and policy routing: a connection to an address nobody holds is accepted and answered from it', async () => {
  requireRoot('linux-transparent.test.ts');
  await withLab('transparent', async (lab) => {
    const client = lab.netns('client');
    const server = lab.netns('server');
    const [c, s] = lab.veth({ ns: client, tag: 'cl' }, { ns: server, tag: 'sv' });
    c.addAddress(`${CLIENT}/24`);
    s.addAddress(`${SERVER}/24`);
    client.route('198.51.100.0/24', { gateway: SERVER });
    const ip = (args: readonly string[]): string | null => runIp(['-n', server.name!, ...args]);
    const routing = TransparentRouting.setUp(s.name, TABLE, ip);
    assert.match(server.ip('-4', 'rule', 'show').stdout, new RegExp(`^${RULE_PRIORITY}:\\s+from all iif ${s.name} lookup ${TABLE}`, 'm'));
    assert.match(server.ip('-4', 'route', 'show', 'table', String(TABLE)).stdout, /^local default dev lo/m);

    // A second cache asking for the same table is told which one and how to clear it; nothing is added.
    try {
      TransparentRouting.setUp('other0', TABLE, ip);
      assert.unreachable('the table is in use');
    } catch (e) {
      assert.instance(e, TransparentRoutingError);
      assert.match((e as Error).message, new RegExp(`table ${TABLE} already has a default route.*--table`));
    }
    assert.not.match(server.ip('-4', 'rule', 'show').stdout, /other0/);

    const fd = addon().openTransparentListener('0.0.0.0', 8080, { netns: server.path });
    const seen: Array<{ local: string; remote: string }> = [];
    const listener = net.createServer((sock) => {
      seen.push({ local: sock.localAddress!, remote: sock.remoteAddress! });
      sock.end(`hello from ${sock.localAddress}\n`);
    });
    await new Promise<void>((resolve) => listener.listen({ fd }, resolve));
    const plain = server.spawn([process.execPath, '-e', PLAIN_SERVER]);
    await plain.waitFor(/listening/, 20_000);
    try {
      const got = await client.run(['curl', '-sS', '--max-time', '5', `telnet://${FOREIGN}:8080`], { timeoutMs: 10_000, allowFailure: true });
      assert.is(got.stdout, `hello from ${FOREIGN}\n`, got.stderr);
      assert.equal(seen, [{ local: FOREIGN, remote: CLIENT }], 'accepted as the foreign address, from the client');
      const refused = await client.run(['curl', '-sS', '--max-time', '2', `telnet://${FOREIGN}:8081`], { timeoutMs: 10_000, allowFailure: true });
      assert.is(refused.status, 28, `without IP_TRANSPARENT the SYN is delivered but never answered: ${refused.stderr}`);
    } finally {
      await new Promise<void>((resolve) => listener.close(() => resolve()));
      await plain.stop();
    }
    assert.equal(routing.close(), []);
    assert.not.match(server.ip('-4', 'rule', 'show').stdout, new RegExp(`lookup ${TABLE}`), 'the rule is gone');
    assert.is(server.ip('-4', 'route', 'show', 'table', String(TABLE)).stdout.trim(), '', 'and the route');
    assert.equal(routing.close(), [], 'closing twice removes nothing more');
  });
});

test('openTransparentListener: bad arguments are refused, a port in use names itself', async () => {
  requireRoot('linux-transparent.test.ts');
  const n = addon();
  assert.throws(() => n.openTransparentListener('10.0.0', 80), /dotted IPv4/);
  assert.throws(() => n.openTransparentListener('127.0.0.1', 70000), /port/);
  const fd = n.openTransparentListener('127.0.0.1', 0);
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen({ fd }, resolve));
  const port = (probe.address() as net.AddressInfo).port;
  try {
    assert.ok(port > 0, 'port 0: the kernel picked one');
    assert.throws(() => n.openTransparentListener('127.0.0.1', port), new RegExp(`127\\.0\\.0\\.1:${port}: bind EADDRINUSE.*in use`));
  } finally {
    await new Promise<void>((resolve) => probe.close(() => resolve()));
  }
});

test.run();
