// The Prometheus endpoint, read by an independent parser: Debian's python3-prometheus-client
// (text_string_to_metric_families). Every counter of the control's report appears with its
// labels and exact value, reasons are folded into one family per group, help texts come from
// the counter tables, values change between scrapes, and other paths and methods are refused.

import { test } from 'uvu';
import * as assert from 'uvu/assert';
import http from 'node:http';
import { MetricsServer, metricFamilies } from '../../firmware/shell/mgmt/metrics.ts';
import { ManagementServer } from '../../firmware/shell/mgmt/server.ts';
import { FakeControl, BIG_COUNTER } from '../fixtures/fake-control.ts';
import { makeKey, python } from './mgmt-helpers.ts';

const PY_PARSE = `
import sys, json
from prometheus_client.parser import text_string_to_metric_families
out = []
for f in text_string_to_metric_families(sys.stdin.read()):
    out.append({'name': f.name, 'type': f.type, 'help': f.documentation,
                'samples': [{'name': s.name, 'labels': s.labels, 'value': s.value} for s in f.samples]})
print(json.dumps(out))
`;

interface Family { name: string; type: string; help: string; samples: Array<{ name: string; labels: Record<string, string>; value: number }> }

function get(port: number, path: string, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: String(res.headers['content-type']), body }));
    });
    req.on('error', reject);
    req.end();
  });
}

const control = new FakeControl('/nonexistent/state');
const mgmt = new ManagementServer({ control, keys: makeKey() });
control.management = () => mgmt.counters();
control.addSession({ name: 'web', mode: 'sniff', filter: 'tcp port 80', device: '192.0.2.2' });
const metrics = new MetricsServer(control);
let port = 0;

test.before(async () => {
  port = await metrics.listen('127.0.0.1', 0);
});

test.after(async () => {
  await metrics.close();
  await mgmt.close();
});

async function scrape(): Promise<Family[]> {
  const r = await get(port, '/metrics');
  assert.is(r.status, 200);
  assert.match(r.type, /^text\/plain; version=0\.0\.4/);
  return JSON.parse(python(PY_PARSE, r.body)) as Family[];
}

const sample = (fams: Family[], family: string, labels: Record<string, string>): number | undefined => {
  const f = fams.find((x) => x.name === family);
  return f?.samples.find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v) && Object.keys(s.labels).length === Object.keys(labels).length)?.value;
};

test('the python parser reads every family; counters, labels and values are the control\'s', async () => {
  const fams = await scrape();
  // The text parser names a counter family without its _total suffix.
  assert.is(sample(fams, 'twinflow_port_rx_packets', { port: 'lan' }), 10);
  assert.is(sample(fams, 'twinflow_port_rx_bytes', { port: 'lan' }), BIG_COUNTER);
  assert.is(sample(fams, 'twinflow_port_dropped', { port: 'lan', reason: 'policy' }), 1);
  assert.is(sample(fams, 'twinflow_port_dropped', { port: 'wan', reason: 'tx_full' }), 0);
  assert.is(sample(fams, 'twinflow_session_matched', { session: 'web' }), BIG_COUNTER);
  assert.is(sample(fams, 'twinflow_session_dropped', { session: 'web', reason: 'rate_limited' }), 2);
  assert.is(sample(fams, 'twinflow_driver_rx_frames', { port: 'lan' }), 10);
  assert.is(sample(fams, 'twinflow_wccp_refused', { reason: 'not_allowed' }), 2);
  assert.is(sample(fams, 'twinflow_management_refused', { reason: 'auth_failed' }), 0);
  assert.is(sample(fams, 'twinflow_management_connections_open', {}), 0);
  assert.is(sample(fams, 'twinflow_uptime_seconds', {}), 12.5);
  assert.is(sample(fams, 'twinflow_build_info', { board: 'sim', version: '0.1.0' }), 1);
  const rx = fams.find((f) => f.name === 'twinflow_port_rx_packets')!;
  assert.is(rx.type, 'counter');
  assert.is(rx.help, 'packets received on the port');
  assert.equal(rx.samples.map((s) => s.name), ['twinflow_port_rx_packets_total', 'twinflow_port_rx_packets_total']);
  assert.is(fams.find((f) => f.name === 'twinflow_management_connections_open')!.type, 'gauge');
  for (const f of fams) {
    assert.ok(f.name.startsWith('twinflow_'), f.name);
    assert.ok(f.help.length > 0, f.name);
    if (f.type === 'counter') for (const s of f.samples) assert.ok(s.name.endsWith('_total'), s.name);
  }
});

test('every counter of the report appears exactly once in the scrape', async () => {
  const report = control.counters();
  const fams = metricFamilies(report, control.status());
  const total = fams.reduce((n, f) => n + f.samples.length, 0);
  const leaves = [report.ports, report.sessions, report.drivers].reduce((n, g) => n + Object.values(g).reduce((m, c) => m + Object.keys(c).length, 0), 0)
    + Object.keys(report.wccp).length + Object.keys(report.management).length + 3;
  assert.is(total, leaves);
  const parsed = await scrape();
  assert.is(parsed.reduce((n, f) => n + f.samples.length, 0), leaves);
});

test('a scrape reads the router as it is now: a new session appears, a deleted one goes', async () => {
  control.addSession({ name: 'dns', mode: 'dup', filter: 'udp port 53', device: '192.0.2.3' });
  control.deleteSession('web');
  const fams = await scrape();
  assert.is(sample(fams, 'twinflow_session_matched', { session: 'dns' }), BIG_COUNTER);
  assert.is(sample(fams, 'twinflow_session_matched', { session: 'web' }), undefined);
});

test('other paths are 404, other methods 405, HEAD has no body; counted', async () => {
  assert.is((await get(port, '/')).status, 404);
  assert.is((await get(port, '/metrics/x')).status, 404);
  assert.is((await get(port, '/metrics', 'POST')).status, 405);
  const head = await get(port, '/metrics', 'HEAD');
  assert.is(head.status, 200);
  assert.is(head.body, '');
  const c = metrics.counters();
  assert.is(c.not_found, 2);
  assert.is(c.bad_method, 1);
  assert.ok(c.scrapes >= 4);
});

test('a control that fails answers 500, and the next scrape works', async () => {
  control.failNext = { method: 'counters', error: new Error('busy') };
  assert.is((await get(port, '/metrics')).status, 500);
  assert.is(metrics.counters().errors, 1);
  assert.is((await get(port, '/metrics')).status, 200);
});

test.run();
