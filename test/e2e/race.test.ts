// race (seed Fig. 5–6) on real traffic: a client, twinflow in a namespace, three equivalent
// servers that each hold the service address (VIP) and run an HTTP server that says which one it
// is. The servers register with `twinflow peer --mode race`; the router forms one race group and
// for each new connection sends the client's SYN to all three; the first SYN-ACK wins.
//
//   client ── cli ┐                 ┌ m0 ── s0  10.0.1.1   tx delay 40 ms (slowest)
//   10.0.0.1      │ router          ├ m1 ── s1  10.0.2.1   no delay       (fastest)
//                 └ 192.0.2.1 (lo)  └ m2 ── s2  10.0.3.1   tx delay 20 ms
//
// The delays are the fault driver's on the router's member ports (frames towards a server wait),
// so each server answers as late as its port delays the opener.
//
// Replies come back through the router by L2, not GRE (docs/race.md "Delivery"): the router
// rewrites the client's frames to the member's MAC; each server holds the VIP on its loopback
// (direct server return) and answers from it, addressed to the client's MAC, on its own link; the
// member's port cross-connects to the client's, so the router sees the answer (port and source MAC
// say which member) and forwards it byte for byte, or holds it back when it is a loser's.
//
// Checked against the servers' own answers, the kernels' TCP state and tcpdump, not only the
// router's counters:
//   1. 100 sequential curl requests all succeed; every connection's answer names the member the
//      router counted as its winner (race_won_mK = answers from server K); the fastest wins most;
//      every late SYN-ACK was answered with a RST that tcpdump sees arrive at the loser, and no
//      loser keeps a half-open connection (ss: no SYN-RECV left);
//   2. clients that give up (curl --max-time) after the fastest accepted and before the slower
//      ones answered: the late answers are still dropped and reset;
//   3. the fastest server's HTTP server is stopped halfway: its kernel now refuses at once (the
//      fastest answer of all, a RST), the router holds the refusals back, and the other two serve
//      every remaining request;
//   4. every service stopped: the client gets the last refusal at once (connection refused);
//   5. with a budget (2 raced flows a second; or a 25 % share), flows beyond it go to one member by
//      hash (race_budget), spread over the group, and still succeed;
//   and conservation holds on every port and session, in the counters and in the status table.
// Needs root.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { requireRoot, withLab, type Background, type NetLab } from '../net/netns.ts';
import { TWINFLOW_BIN } from '../fixtures/process.ts';
import { conservationViolations } from '../../firmware/runtime/counters.ts';
import type { RaceBudget } from '../../firmware/shell/config/types.ts';
import { startRouter, type RunningRouter } from './topology.ts';

const CLIENT = '10.0.0.1';
const VIP = '198.51.100.80';
/** The router's WCCP address (its router ID), on its loopback; each server reaches it through its port's router address. */
const ROUTER_ID = '192.0.2.1';
const SERVICE = 90;
const MATCH = `tcp dst port 80 and dst host ${VIP}`;
const SESSION = `race/${SERVICE}`;
/** Member order is address order (docs/race.md): s0 is member 0, and so on. */
const SERVERS = [
  { name: 's0', net: 1, delayMs: 40 },
  { name: 's1', net: 2, delayMs: 0 },
  { name: 's2', net: 3, delayMs: 20 },
] as const;
const FASTEST = 1;
const REQUESTS = 100;
/** Downloads the client abandons (phase 2 of the first test). */
const ABORTS = 5;
/** After a batch of requests, before reading counters: the slowest member's late answer (40 ms) and its reset. */
const SETTLE_MS = 500;
/** A request in this topology takes milliseconds; a lost SYN costs 1 s, a second one 3 s more. */
const CURL_MAX_S = 10;
/** WCCP: a device is usable after its second HERE_I_AM (the receive-ID check), 10 s apart at most. */
const REGISTER_MS = 40_000;

type Counters = { ports: Record<string, Record<string, number>>; sessions: Record<string, Record<string, number>> };

/**
 * An HTTP server on VIP:80 that answers every request with its name (argv), or 1 MiB of it for
 * /big. Node rather than Python's http.server, whose start looks its own name up (socket.getfqdn):
 * seconds in a namespace without a resolver.
 */
const WHOAMI_SERVER = `
const [name, address] = process.argv.slice(1);
require('node:http').createServer((req, res) => res.end(req.url === '/big' ? Buffer.alloc(1 << 20, name) : name)).listen(80, address, () => console.log('listening'));
process.on('SIGTERM', () => process.exit(0));
`;

interface RaceLab {
  readonly r: RunningRouter;
  /** The servers' HTTP servers, in SERVERS order. */
  readonly http: Background[];
}

function macOf(r: RunningRouter, port: string): string {
  const [link] = JSON.parse(r.ns.ip('-j', 'link', 'show', 'dev', r.ports[port].name).stdout) as Array<{ address: string }>;
  return link.address;
}

async function raceTopology(lab: NetLab, budget?: RaceBudget): Promise<RaceLab> {
  const r = await startRouter(lab, {
    ports: [
      // The client's port has no cross-connect: the client talks only to the VIP, which the race steers.
      { name: 'cli', side: 'inside', host: { tag: 'client', ipv4: `${CLIENT}/24` } },
      // Each server's port forwards to the client's port: the servers' answers come back through
      // the router unchanged (their MACs, as the race recognises members by port and MAC). The
      // router's address on the port is the servers' gateway, through which they reach its WCCP
      // address; the port's subnet is how the router places a member (port, MAC) by its address.
      ...SERVERS.map((s) => ({
        name: `m${s.net - 1}`, side: 'outside' as const, crossConnect: 'cli', routerIpv4: `10.0.${s.net}.254/24`,
        host: { tag: s.name, ipv4: `10.0.${s.net}.1/24`, gateway: `10.0.${s.net}.254` },
        ...(s.delayMs ? { fault: { tx: { delayNs: s.delayMs * 1_000_000 } } } : {}),
      })),
    ],
    loopback: [`${ROUTER_ID}/32`],
    config: {
      wccp: { address: ROUTER_ID },
      services: [{ id: SERVICE, type: 'dynamic', allow: ['10.0.0.0/16'], ...(budget ? { race: budget } : {}) }],
    },
  });
  const client = r.hosts.client;
  // The client reaches the VIP on its link, and the VIP's neighbour is the router's port: the
  // router rewrites the frame's MACs towards the member that gets it.
  client.ns.ip('route', 'add', `${VIP}/32`, 'dev', client.link.name);
  client.ns.ip('neigh', 'replace', VIP, 'lladdr', macOf(r, 'cli'), 'dev', client.link.name, 'nud', 'permanent');
  const http: Background[] = [];
  for (const s of SERVERS) {
    const h = r.hosts[s.name];
    // Direct server return: each server holds the VIP itself (on loopback) and answers from it.
    h.ns.ip('address', 'add', `${VIP}/32`, 'dev', 'lo');
    // The client is reached on the server's own link, with the client's MAC: the router forwards
    // the answer to the client's port byte for byte, so it must already be addressed to the client.
    h.ns.ip('route', 'add', `${CLIENT}/32`, 'dev', h.link.name);
    h.ns.ip('neigh', 'replace', CLIENT, 'lladdr', client.mac, 'dev', h.link.name, 'nud', 'permanent');
    const server = h.ns.spawn([process.execPath, '-e', WHOAMI_SERVER, s.name, VIP]);
    http.push(server);
  }
  for (const h of http) await h.waitFor(/listening/, 20_000);
  // `twinflow peer --mode race`: register for the service, no --out (no replicas to write).
  const peers = SERVERS.map((s) => r.hosts[s.name].ns.spawn([
    process.execPath, TWINFLOW_BIN, 'peer', '--router', ROUTER_ID, '--address', `10.0.${s.net}.1`,
    '--service', String(SERVICE), '--mode', 'race', '--match', MATCH,
  ], { stopSignal: 'SIGINT' }));
  for (const p of peers) await p.waitFor(new RegExp(`router ${ROUTER_ID.replace(/\./g, '\\.')}: usable`), REGISTER_MS);
  await r.process.waitFor(new RegExp(`${SESSION}: .* joins \\(${SERVERS.length} members\\)`), 10_000);
  const listed = (await r.ctl('sessions')) as Array<{ name: string; mode: string; members?: unknown }>;
  assert.equal(listed.map((x) => [x.name, x.mode, x.members]), [[SESSION, 'race', SERVERS.map((x) => ({ address: `10.0.${x.net}.1`, port: `m${x.net - 1}` }))]], 'one race session over the three, in address order');
  return { r, http };
}

interface Answer {
  readonly server: string;
  readonly seconds: number;
}

async function request(r: RunningRouter): Promise<Answer> {
  const out = await r.hosts.client.ns.run(['curl', '-sS', '--max-time', String(CURL_MAX_S), '-w', '\n%{time_total}', `http://${VIP}/id`], { timeoutMs: (CURL_MAX_S + 5) * 1000 });
  const [server, seconds] = out.stdout.split('\n');
  return { server, seconds: Number(seconds) };
}

async function requests(r: RunningRouter, n: number): Promise<Answer[]> {
  const out: Answer[] = [];
  for (let i = 0; i < n; i++) out.push(await request(r));
  return out;
}

const tally = (answers: readonly Answer[]): Record<string, number> => {
  const t: Record<string, number> = Object.fromEntries(SERVERS.map((s) => [s.name, 0]));
  for (const a of answers) t[a.server] = (t[a.server] ?? 0) + 1;
  return t;
};
const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
/** Median time per request of each server that answered, in ms. */
const perServer = (answers: readonly Answer[]): string => SERVERS.filter((x) => answers.some((a) => a.server === x.name))
  .map((x) => `${x.name} ${(median(answers.filter((a) => a.server === x.name).map((a) => a.seconds)) * 1000).toFixed(1)} ms`).join(', ');
const wins = (s: Record<string, number>): number[] => SERVERS.map((_, k) => s[`race_won_m${k}`]);

/** TCP connections a server's kernel still has half open (SYN-RECV). */
async function halfOpen(r: RunningRouter, server: string): Promise<number> {
  const out = await r.hosts[server].ns.run(['ss', '-Htn', 'state', 'syn-recv']);
  return out.stdout.split('\n').filter((l) => l.trim()).length;
}

/** RSTs from the client's address and port to the VIP in a capture (the router's resets). */
function resets(records: ReadonlyArray<{ data: Uint8Array }>): number {
  return records.filter((rec) => {
    const ip = rec.data.subarray(14);
    if (ip[9] !== 6 || ip.subarray(12, 16).join('.') !== CLIENT || ip.subarray(16, 20).join('.') !== VIP) return false;
    const l4 = (ip[0] & 15) * 4;
    return ip[l4 + 13] === 0x04;
  }).length;
}

/** A client that gives up 10 ms into a download: after the fastest server won, before the slower ones answer. */
async function abort(r: RunningRouter): Promise<void> {
  const out = await r.hosts.client.ns.run(['curl', '-sS', '--max-time', '0.01', '--limit-rate', '1K', '-o', '/dev/null', `http://${VIP}/big`], { allowFailure: true });
  assert.is(out.status, 28, `curl timed out, as asked: ${out.stderr}`);
}

/**
 * The port rows of the router's last status table (`twinflow boot` prints one when it stops),
 * read by the table's own header, so a new column does not shift the others.
 */
function statusRows(stdout: string): Record<string, { rx: number; forwarded: number; redirected: number; returned: number; dropped: number }> {
  const lines = stdout.slice(stdout.lastIndexOf('port        rx_packets')).split('\n');
  const columns = lines[0]!.trim().split(/\s+/);
  const rows: Record<string, { rx: number; forwarded: number; redirected: number; returned: number; dropped: number }> = {};
  for (const line of lines.slice(1)) {
    const cells = line.trim().split(/\s+/);
    if (cells.length !== columns.length || !cells.slice(1).every((c) => /^\d+$/.test(c))) break;
    const v = (name: string): number => {
      const at = columns.indexOf(name);
      assert.ok(at > 0, `the status table has a ${name} column: ${lines[0]}`);
      return Number(cells[at]);
    };
    rows[cells[0]!] = { rx: v('rx_packets'), forwarded: v('forwarded'), redirected: v('redirected'), returned: v('returned'), dropped: v('dropped') };
  }
  return rows;
}

const settle = (): Promise<void> => new Promise((res) => setTimeout(res, SETTLE_MS));
const delta = (now: Record<string, number>, before: Record<string, number>, k: string): number => now[k] - before[k];

test('race: every request succeeds, the fastest wins, losers are reset, the others take over when it stops', async () => {
  requireRoot('race.test.ts');
  await withLab('race', async (lab) => {
    const { r, http } = await raceTopology(lab);
    const slowest = SERVERS[0].name;
    const atSlowest = await r.hosts[slowest].ns.capture(r.hosts[slowest].link.name, { filter: ['tcp', 'port', '80'] });
    const counters = async (): Promise<Counters> => (await r.ctl('counters')) as Counters;

    // 1. All three serve: the fastest wins, each loser's late acceptance is dropped and reset.
    const first = await requests(r, REQUESTS / 2);
    await settle();
    const c1 = await counters();
    const s1 = c1.sessions[SESSION];
    const t1 = tally(first);
    assert.equal(wins(s1), SERVERS.map((s) => t1[s.name]), `the router's winners are the servers that answered: ${JSON.stringify(t1)}`);
    assert.ok(t1[SERVERS[FASTEST].name] > REQUESTS / 4, `the fastest server wins most: ${JSON.stringify(t1)}`);
    assert.is(s1.race_started, REQUESTS / 2, 'every connection raced');
    assert.is(s1.race_copies, REQUESTS, 'two copies per opener');
    assert.is(s1.race_late, REQUESTS, 'both losers answered late, every time');
    assert.is(s1.race_resets, s1.race_late, 'each late answer reset');
    for (const x of SERVERS) assert.is(await halfOpen(r, x.name), 0, `${x.name} keeps no half-open connection`);

    // 2. Clients that give up before the slower servers answer: the slow answers are still the
    // race's (dropped and reset), so no loser keeps a half-open connection.
    for (let i = 0; i < ABORTS; i++) await abort(r);
    await settle();
    const c2 = await counters();
    const s2 = c2.sessions[SESSION];
    assert.is(delta(s2, s1, 'race_started'), ABORTS);
    assert.is(delta(s2, s1, 'race_resets'), delta(s2, s1, 'race_late'));
    assert.ok(delta(s2, s1, 'race_late') > 0, `slow answers to aborted flows were dropped and reset: ${delta(s2, s1, 'race_late')}`);
    for (const x of SERVERS) assert.is(await halfOpen(r, x.name), 0, `after the aborts, ${x.name} keeps no half-open connection`);

    // 3. The fastest server's service stops: its kernel refuses (RST) at once, faster than any
    // acceptance; the router holds the refusals back and the others take over.
    await http[FASTEST].stop();
    const second = await requests(r, REQUESTS / 2);
    await settle();
    const c3 = await counters();
    const s3 = c3.sessions[SESSION];
    const t3 = tally(second);
    assert.is(t3[SERVERS[FASTEST].name], 0, `the stopped server answers nothing: ${JSON.stringify(t3)}`);
    assert.equal(wins(s3).map((w, k) => w - wins(s2)[k]), SERVERS.map((x) => t3[x.name]), `winners after the stop: ${JSON.stringify(t3)}`);
    assert.is(delta(s3, s2, 'race_refused'), REQUESTS / 2, 'each refusal of the stopped server held back');
    assert.is(delta(s3, s2, 'race_late'), REQUESTS / 2, 'the other server that did not win answered late, and was reset');
    assert.is(s3.race_all_refused, 0);
    for (const x of SERVERS) assert.is(await halfOpen(r, x.name), 0, `${x.name} keeps no half-open connection`);

    // 4. Every service stopped: the client hears the last refusal at once, not a timeout.
    await http[0].stop();
    await http[2].stop();
    const refused = await r.hosts.client.ns.run(['curl', '-sS', '--max-time', String(CURL_MAX_S), '-w', '%{time_total}', `http://${VIP}/id`], { allowFailure: true });
    assert.is(refused.status, 7, `connection refused: ${refused.stderr}`);
    await settle();
    const end = await counters();
    const s = end.sessions[SESSION];
    assert.is(delta(s, s3, 'race_refused'), 2, 'two refusals held back while another member might accept');
    assert.is(s.race_all_refused, 1, 'the last one reaches the client');

    const rsts = resets(await atSlowest.stop());
    assert.is(rsts, s.race_started - 1 - s.race_won_m0, `tcpdump on ${slowest}: one RST for each race it lost`);
    assert.equal(conservationViolations(end.ports, end.sessions), []);
    for (const [name, p] of Object.entries(end.ports)) assert.is(p.dropped_tx_full, 0, `port ${name}`);
    await r.stop();
    const status = statusRows(r.process.stdout);
    assert.equal(Object.keys(status), ['cli', 'm0', 'm1', 'm2'], 'the final status table');
    for (const [name, p] of Object.entries(status)) assert.is(p.rx, p.forwarded + p.redirected + p.returned + p.dropped, `status of port ${name}: the held-back answers are among the dropped`);
    assert.ok(status.m0.dropped >= end.ports.m0.dropped_race, 'the loser\'s late answers show as dropped');
    process.stderr.write(`race figures: wins of ${REQUESTS / 2} with all three ${JSON.stringify(t1)}, after ${SERVERS[FASTEST].name} stopped ${JSON.stringify(t3)}; late answers reset ${s.race_resets} (of ${s.race_late}), refusals held ${s.race_refused}; all refused after ${(Number(refused.stdout) * 1000).toFixed(1)} ms; median time per request ${perServer(first)}, then ${perServer(second)}\n`);
  });
});

const BUDGETS: ReadonlyArray<{ readonly what: string; readonly budget: RaceBudget }> = [
  // Time: at most 2 raced flows a second (2 at once), however fast the requests come.
  { what: 'flows per second', budget: { flowsPerSecond: 2, burst: 2 } },
  // Share: one in four new flows (the first, then every fourth), at any rate.
  { what: 'share', budget: { flowsPerSecond: 0, sharePercent: 25, burst: 1 } },
];

for (const { what, budget } of BUDGETS) {
  test(`race budget (${what}): flows beyond it go to one member by hash and still succeed`, async () => {
    requireRoot('race.test.ts');
    await withLab('race-budget', async (lab) => {
      const { r } = await raceTopology(lab, budget);
      const started = Date.now();
      const answers = await requests(r, REQUESTS);
      const elapsed = (Date.now() - started) / 1000;
      await settle();
      const c = (await r.ctl('counters')) as Counters;
      const s = c.sessions[SESSION];
      const t = tally(answers);
      assert.is(s.race_started + s.race_budget, REQUESTS, 'each connection raced or, over the budget, not');
      if (budget.sharePercent !== undefined) assert.is(s.race_started, REQUESTS * budget.sharePercent / 100, 'exactly the share');
      else assert.ok(s.race_started <= budget.burst! + Math.ceil(elapsed * budget.flowsPerSecond!) + 1, `raced ${s.race_started} in ${elapsed.toFixed(1)} s`);
      assert.ok(s.race_budget > 0, 'some flows were over the budget');
      assert.is(s.race_copies, 2 * s.race_started, 'only raced flows are copied');
      assert.is(s.race_won, s.race_started);
      assert.ok(SERVERS.every((x) => t[x.name] > 0), `flows not raced spread over the group by hash: ${JSON.stringify(t)}`);
      assert.equal(conservationViolations(c.ports, c.sessions), []);
      process.stderr.write(`race budget figures (${what}): ${s.race_started} raced, ${s.race_budget} by hash in ${elapsed.toFixed(1)} s; answers ${JSON.stringify(t)}; median time per request ${perServer(answers)}\n`);
      await r.stop();
    });
  });
}

test.run();
