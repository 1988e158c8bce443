// The Prometheus endpoint: HTTP `GET /metrics` in the Prometheus text format (prom-client),
// read from the control surface at scrape time (control.counters() and control.status()), so a
// scrape always shows the router as it is and nothing is kept between scrapes but the families'
// declarations.
//
// Naming (docs/management.md, "Metrics"): every counter of CountersReport becomes
//   twinflow_<group>_<counter>_total{<entity label>}      group: port, session, driver, wccp, management
// with the entity label `port` (ports, drivers) or `session`; drop and refusal reasons are one
// family with a `reason` label: `dropped_<reason>` and `refused_<reason>` keys become
// twinflow_<group>_dropped_total / _refused_total{reason}, and a session's drop outcomes
// (sampled_out, rate_limited, ...) become twinflow_session_dropped_total{session,reason}. Help
// texts come from the counter tables (firmware/runtime/counters.ts, ./counters.ts). Gauges:
// twinflow_uptime_seconds, twinflow_table_version, twinflow_build_info{board,version} (1), and
// twinflow_management_connections_open.
//
// Unauthenticated, as Prometheus expects: it reveals counts, never configuration; bind it to a
// management network. Bounded: the server takes few connections and short timeouts; a scrape's
// size is that of the counters report.

import http from 'node:http';
import { Counter, Gauge, Registry } from 'prom-client';
import type { CountersReport, RouterStatus } from '../control.ts';
import { PORT_COUNTERS, SESSION_COUNTERS, SESSION_OUTCOMES } from '../../runtime/counters.ts';
import { MANAGEMENT_COUNTERS, MANAGEMENT_GAUGES, REFUSAL_REASONS } from './counters.ts';

/** Scrapers are one or two Prometheus servers; more connections than this are not scrapers. */
export const MAX_METRICS_CONNECTIONS = 8;
/** A scrape is answered in milliseconds; a request that takes longer to arrive is dropped. */
export const METRICS_REQUEST_TIMEOUT_MS = 10_000;

export const METRICS_PATH = '/metrics';

/** Where the metrics come from: the control surface (status is optional, for fakes). */
export interface MetricsSource {
  counters(): CountersReport;
  status?(): RouterStatus;
}

interface Sample {
  readonly labels: Record<string, string>;
  readonly value: number;
}

export interface MetricFamily {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge';
  readonly labelNames: readonly string[];
  readonly samples: Sample[];
}

const helpOf = (table: Record<number, { name: string; help: string }>): Map<string, string> =>
  new Map(Object.values(table).map((c) => [c.name, c.help]));

const PORT_HELP = helpOf(PORT_COUNTERS);
const SESSION_HELP = helpOf(SESSION_COUNTERS);
const SESSION_DROPS = new Set(SESSION_OUTCOMES.map((k) => SESSION_COUNTERS[k].name).filter((n) => n !== 'replicated'));
const MANAGEMENT_HELP = new Map<string, string>(Object.entries(MANAGEMENT_COUNTERS));

/** A key as a metric-name component ([a-z0-9_], lowercase). */
const component = (key: string): string => key.toLowerCase().replace(/[^a-z0-9_]/g, '_');

class FamilySet {
  readonly byName = new Map<string, MetricFamily>();

  add(name: string, type: 'counter' | 'gauge', help: string, labels: Record<string, string>, value: unknown): void {
    const v = typeof value === 'bigint' ? Number(value) : value;
    if (typeof v !== 'number' || !Number.isFinite(v) || (type === 'counter' && v < 0)) return;
    let f = this.byName.get(name);
    if (!f) {
      f = { name, type, help, labelNames: Object.keys(labels), samples: [] };
      this.byName.set(name, f);
    }
    f.samples.push({ labels, value: v });
  }

  /** One group's counters: reasons folded into one family, the rest one family each. */
  group(group: string, entity: { label: string; value: string } | null, counters: Record<string, number>, help: (key: string) => string, drops: ReadonlySet<string> = new Set(), gauges: Readonly<Record<string, { help: string }>> = {}): void {
    const base = entity ? { [entity.label]: entity.value } : {};
    for (const [key, value] of Object.entries(counters)) {
      const gauge = gauges[key];
      if (gauge) {
        this.add(`twinflow_${group}_${component(key)}`, 'gauge', gauge.help, base, value);
        continue;
      }
      const m = /^(dropped|refused)_(.+)$/.exec(key);
      if (m) {
        const what = m[1] === 'dropped' ? 'dropped' : 'refused';
        this.add(`twinflow_${group}_${what}_total`, 'counter', reasonHelp(group, what), { ...base, reason: m[2] }, value);
      } else if (drops.has(key)) {
        this.add(`twinflow_${group}_dropped_total`, 'counter', reasonHelp(group, 'dropped'), { ...base, reason: key }, value);
      } else {
        this.add(`twinflow_${group}_${component(key)}_total`, 'counter', help(key), base, value);
      }
    }
  }
}

function reasonHelp(group: string, what: 'dropped' | 'refused'): string {
  if (group === 'management' && what === 'refused') {
    return `connections and requests the management port refused, by reason (${Object.keys(REFUSAL_REASONS).join(', ')})`;
  }
  if (group === 'session') return 'matched packets not replicated, by reason (matched = replicated + the sum of these)';
  if (group === 'port') return 'received frames dropped, by reason (policy: no egress; tx_full: egress ring full; race: an answer held back; return_*: a cache\'s GRE return not forwarded)';
  return `${group} ${what}, by reason`;
}

/** The metric families of one snapshot (pure: no prom-client, for tests and other exporters). */
export function metricFamilies(report: CountersReport, status?: RouterStatus): MetricFamily[] {
  const set = new FamilySet();
  if (status) {
    set.add('twinflow_build_info', 'gauge', 'the board and firmware version (value 1)', { board: status.board, version: status.version }, 1);
    set.add('twinflow_uptime_seconds', 'gauge', 'seconds since the router booted', {}, status.uptimeSeconds);
    set.add('twinflow_table_version', 'gauge', 'version of the tables the data plane runs (bumps on every change)', {}, status.tableVersion);
  }
  for (const [port, c] of Object.entries(report.ports)) {
    set.group('port', { label: 'port', value: port }, c, (k) => PORT_HELP.get(k) ?? `port counter ${k}`);
  }
  for (const [session, c] of Object.entries(report.sessions)) {
    set.group('session', { label: 'session', value: session }, c, (k) => SESSION_HELP.get(k) ?? `session counter ${k}`, SESSION_DROPS);
  }
  for (const [port, c] of Object.entries(report.drivers)) {
    set.group('driver', { label: 'port', value: port }, c, (k) => `driver counter ${k}`);
  }
  set.group('wccp', null, report.wccp, (k) => `WCCP counter ${k}`);
  set.group('management', null, report.management, (k) => MANAGEMENT_HELP.get(k) ?? `management counter ${k}`, new Set(), MANAGEMENT_GAUGES);
  return [...set.byName.values()];
}

/**
 * A prom-client registry whose families are declared the first time a snapshot has them and
 * filled by their collect() from the snapshot of the scrape in progress.
 */
export class MetricsRegistry {
  readonly registry = new Registry();
  private latest = new Map<string, MetricFamily>();

  constructor(private readonly source: MetricsSource) {}

  /** The Prometheus text of the router as it is now. */
  async render(): Promise<string> {
    const families = metricFamilies(this.source.counters(), this.source.status?.());
    this.latest = new Map(families.map((f) => [f.name, f]));
    for (const f of families) this.declare(f);
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private declare(f: MetricFamily): void {
    if (this.registry.getSingleMetric(f.name)) return;
    const latest = (): MetricFamily | undefined => this.latest.get(f.name);
    const config = { name: f.name, help: f.help, labelNames: [...f.labelNames], registers: [this.registry] };
    if (f.type === 'counter') {
      new Counter({
        ...config,
        collect(this: Counter) {
          this.reset();
          for (const s of latest()?.samples ?? []) this.inc(s.labels, s.value);
        },
      });
    } else {
      new Gauge({
        ...config,
        collect(this: Gauge) {
          this.reset();
          for (const s of latest()?.samples ?? []) this.set(s.labels, s.value);
        },
      });
    }
  }
}

/** HTTP server for GET /metrics. */
export class MetricsServer {
  private readonly metrics: MetricsRegistry;
  private readonly server: http.Server;
  private readonly stats = { scrapes: 0, not_found: 0, bad_method: 0, errors: 0 };
  private listening = false;

  constructor(source: MetricsSource, private readonly log: (line: string) => void = () => {}) {
    this.metrics = new MetricsRegistry(source);
    this.server = http.createServer({ requestTimeout: METRICS_REQUEST_TIMEOUT_MS, headersTimeout: METRICS_REQUEST_TIMEOUT_MS }, (req, res) => {
      void this.serve(req, res);
    });
    this.server.maxConnections = MAX_METRICS_CONNECTIONS;
    this.server.on('clientError', (_e, socket) => socket.destroy());
  }

  private async serve(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '').split('?')[0];
    if (path !== METRICS_PATH) {
      this.stats.not_found++;
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end(`not found: the metrics are at ${METRICS_PATH}\n`);
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      this.stats.bad_method++;
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('only GET and HEAD\n');
      return;
    }
    try {
      const body = await this.metrics.render();
      this.stats.scrapes++;
      res.writeHead(200, { 'content-type': this.metrics.contentType, 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch (e) {
      this.stats.errors++;
      this.log(`metrics: scrape failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('the counters could not be read\n');
    }
  }

  listen(address: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const failed = (e: Error): void => reject(e);
      this.server.once('error', failed);
      this.server.listen(port, address, () => {
        this.server.off('error', failed);
        this.listening = true;
        resolve((this.server.address() as { port: number }).port);
      });
    });
  }

  close(): Promise<void> {
    if (!this.listening) return Promise.resolve();
    this.listening = false;
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  /** Scrapes served and requests refused (not_found, bad_method) or failed (errors). */
  counters(): Record<string, number> {
    return { ...this.stats };
  }
}
