// `twinflow eliminate` in a namespace, with the kernel as the oracle: scapy puts two member
// streams of GRE (key, sequence) on the far end's wire — interleaved, each with its own gaps, one
// number missing from both, one copy far too late — plus a packet from a source not allowed and
// one that is not sequenced GRE. A UDP socket on the far end must receive each datagram exactly
// once (delivered through the TUN, past loose reverse-path filtering), and the command's JSON
// counters must say what happened to every packet.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { requireRoot, withLab } from '../net/netns.ts';
import { scapySend } from '../net/scapy-send.ts';
import { scapyBuild } from '../fixtures/scapy.ts';
import { TWINFLOW_BIN } from '../fixtures/process.ts';
import { addon } from '../../hal/drivers/linux/native.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const NUMBERED = [process.execPath, '--import', 'tsx', path.join(ROOT, 'test/net/numbered.ts')];
const FAR = '10.9.0.2';
const ROUTER_A = '10.9.0.1';
const PEER_B = '10.9.0.3';
const STRANGER = '10.9.0.4';
const CLIENT = '10.8.0.1';
const PORT = 9999;
const KEY = 0x00abcdef;
const COUNT = 20;
const MISSING_1 = new Set([3, 7, 8]);
const MISSING_2 = new Set([7, 12]);

/** One member packet: GRE (key, sequence) from `src` carrying numbered datagram `seq`. */
const member = (mac: string, src: string, seq: number, gre = `key_present=1, seqnum_present=1, key=${KEY}, sequence_number=${seq}`): string =>
  `Ether(src=MAC_A, dst="${mac}")/IP(src="${src}", dst="${FAR}")/GRE(${gre})/IP(src="${CLIENT}", dst="${FAR}", id=${seq})/UDP(sport=4000, dport=${PORT})/Raw(b"TFNU" + (${seq}).to_bytes(4, "big") + b"p" * 40)`;

test('eliminate: each datagram delivered once into the IP stack; every member packet counted', async () => {
  requireRoot('eliminate-command.test.ts');
  await withLab('eliminate', async (lab) => {
    const gen = lab.netns('gen');
    const far = lab.netns('far');
    const [g, f] = lab.veth({ ns: gen, tag: 'g' }, { ns: far, tag: 'f' });
    g.addAddress(`${ROUTER_A}/24`);
    f.addAddress(`${FAR}/24`);
    far.route('10.8.0.0/24', { gateway: ROUTER_A });
    far.sysctl('net.ipv4.conf.all.rp_filter', 2);
    const mac = Array.from(addon().interfaceInfo(f.name, { netns: far.path! }).mac, (b) => b.toString(16).padStart(2, '0')).join(':');

    const receiver = far.spawn([...NUMBERED, 'udp-recv', FAR, String(PORT)]);
    await receiver.waitFor(/ready/, 20_000);
    const eliminate = far.spawn([process.execPath, TWINFLOW_BIN, 'eliminate', '--address', FAR, '--from', ROUTER_A, '--from', PEER_B,
      '--tun', lab.ifname('el'), '--history', '8', '--json'], { stopSignal: 'SIGINT' });
    await eliminate.waitFor(/listening for GRE \(key, sequence\) to 10\.9\.0\.2 from 10\.9\.0\.1, 10\.9\.0\.3; delivering through tf\w+el \(history 8 packets, reset 2000 ms\)/, 20_000);

    const expressions: string[] = [];
    for (let seq = 0; seq < COUNT; seq++) {
      if (!MISSING_1.has(seq)) expressions.push(member(mac, ROUTER_A, seq));
      if (!MISSING_2.has(seq)) expressions.push(member(mac, PEER_B, seq));
    }
    expressions.push(member(mac, PEER_B, 2)); // 17 behind the newest: outside the window of 8, rogue
    expressions.push(member(mac, STRANGER, 12)); // not a member's source
    expressions.push(member(mac, ROUTER_A, 13, `key_present=1, key=${KEY}`)); // no sequence number
    await scapySend(gen, g.name, scapyBuild(expressions));
    await new Promise((r) => setTimeout(r, 500));
    await eliminate.stop();
    await receiver.stop();

    const got = JSON.parse(receiver.stdout.trim().split('\n').pop()!) as { received: number; unique: number; duplicates: number; highest: number };
    assert.equal(got, { received: COUNT - 1, unique: COUNT - 1, duplicates: 0, reordered: 0, highest: COUNT - 1 }, 'every number but the one both members lost, once, in order');
    const e = JSON.parse(eliminate.stdout) as { counters: Record<string, number>; streams: Array<Record<string, number | string>> };
    const both = [...Array(COUNT).keys()].filter((s) => !MISSING_1.has(s) && !MISSING_2.has(s)).length;
    assert.equal(e.counters, {
      received: expressions.length, delivered: COUNT - 1, discarded: both, rogue: 1, untracked: 0, malformed: 1, not_allowed: 1, truncated: 0,
      tun_blocked: 0, tun_refused: 0,
    });
    assert.equal(e.streams, [{ stream: KEY, passed: COUNT - 1, discarded: both, outOfOrder: 1, rogue: 1, lost: 1, resets: 0, streamHex: '0x00abcdef' }],
      'one stream: 19 passed, one jump (6 → 8: out of order), 7 lost on both members');
  });
});

test.run();
