// Human-readable output of `twinflow ctl`: aligned tables, one per kind of answer. Scripts use
// --json instead (ctl-command.ts); nothing here is meant to be parsed.

import type {
  CountersReport, ExplainReport, PolicyRule, RouterLimits, RouterStatus, ServiceInfo, SessionInfo,
} from '../control.ts';

type Cell = string | number | bigint | boolean | null | undefined;

const isNumeric = (c: Cell): boolean => typeof c === 'number' || typeof c === 'bigint';

/** Columns separated by two spaces; numbers right-aligned; the first row is the header. */
export function table(rows: readonly (readonly Cell[])[]): string {
  if (rows.length === 0) return '';
  const text = rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))));
  const widths: number[] = [];
  for (const r of text) r.forEach((c, i) => { widths[i] = Math.max(widths[i] ?? 0, c.length); });
  return text.map((r, ri) => r.map((c, i) => {
    const last = i === r.length - 1;
    if (ri > 0 && isNumeric(rows[ri][i])) return c.padStart(widths[i]);
    return last ? c : c.padEnd(widths[i]);
  }).join('  ').trimEnd()).join('\n') + '\n';
}

export function formatStatus(s: RouterStatus): string {
  return table([
    ['board', s.board],
    ['version', s.version],
    ['uptime', `${s.uptimeSeconds} s`],
    ['table version', String(s.tableVersion)],
  ]);
}

/** Counters of several entities side by side: one row per counter, one column per entity. */
function matrix(title: string, entities: Record<string, Record<string, Cell>>): string {
  const names = Object.keys(entities);
  if (names.length === 0) return `${title}: none\n`;
  const counters: string[] = [];
  for (const e of names) for (const k of Object.keys(entities[e])) if (!counters.includes(k)) counters.push(k);
  return table([[title, ...names], ...counters.map((k) => [k, ...names.map((e) => entities[e][k])])]);
}

function flat(title: string, counters: Record<string, Cell>): string {
  const keys = Object.keys(counters);
  if (keys.length === 0) return `${title}: none\n`;
  return table([[title, 'value'], ...keys.map((k) => [k, counters[k]])]);
}

export function formatCounters(c: CountersReport): string {
  return [
    matrix('PORT', c.ports),
    matrix('SESSION', c.sessions),
    matrix('DRIVER', c.drivers),
    flat('WCCP', c.wccp),
    flat('MANAGEMENT', c.management),
  ].join('\n');
}

export function formatSessions(list: readonly SessionInfo[]): string {
  if (list.length === 0) return 'no sessions\n';
  return table([
    ['NAME', 'ORIGIN', 'MODE', 'STATE', 'DEVICE', 'PORT', 'ENCAP', 'SNAPLEN', 'SAMPLE', 'MATCHED', 'REPLICATED', 'FILTER'],
    // A race session's device and port are its members' (in member order); a tagged dup names its far end.
    ...list.map((s) => [
      s.name, s.origin, s.farEnd !== undefined ? `${s.mode} (far end ${s.farEnd})` : s.mode, s.state,
      s.members ? s.members.map((m) => m.address).join(',') : s.device, s.members ? s.members.map((m) => m.port).join(',') : s.port,
      s.encap, s.snaplen, s.sample, s.counters.matched, s.counters.replicated, s.filter,
    ]),
  ]);
}

export function formatAllowlist(service: number, prefixes: readonly string[]): string {
  if (prefixes.length === 0) return `service ${service}: nobody may register (empty allowlist)\n`;
  return `service ${service} allows:\n${prefixes.map((p) => `  ${p}\n`).join('')}`;
}

export function formatPolicy(rules: readonly PolicyRule[]): string {
  if (rules.length === 0) return 'no policy rules: every original is forwarded\n';
  return table([['#', 'ACTION', 'FILTER'], ...rules.map((r, i) => [i + 1, r.action, r.filter])]);
}

export function formatLimits(l: RouterLimits): string {
  return table([['LIMIT', 'VALUE'], ...Object.entries(l).map(([k, v]) => [k, v as Cell])]);
}

export function formatServices(list: readonly ServiceInfo[]): string {
  if (list.length === 0) return 'no WCCP service groups\n';
  const rows: Cell[][] = [['SERVICE', 'TYPE', 'SECURITY', 'ASSIGNMENT', 'CACHE', 'USABLE', 'MODE', 'LAST SEEN']];
  for (const s of list) {
    if (s.caches.length === 0) rows.push([s.service, s.type, s.security, s.assignment, '(none)', null, null, null]);
    for (const c of s.caches) rows.push([s.service, s.type, s.security, s.assignment, c.address, c.usable ? 'yes' : 'no', c.mode, `${(c.lastSeenMs / 1000).toFixed(1)} s ago`]);
  }
  return table(rows);
}

export function formatExplain(r: ExplainReport): string {
  const lines = [`verdict: ${r.verdict}${r.egress ? ` (egress ${r.egress})` : ''}\n`];
  lines.push(r.sessions.length === 0 ? 'sessions: none matched\n' : table([['SESSION', 'OUTCOME'], ...r.sessions.map((s) => [s.name, s.outcome])]));
  const counters = Object.entries(r.counters);
  if (counters.length > 0) lines.push(table([['COUNTER', 'CHANGE'], ...counters.map(([k, v]) => [k, v])]));
  return lines.join('\n');
}

/** JSON for scripts: integers beyond 2^53 (bigint) are written as exact JSON numbers. */
export function toJson(value: unknown): string {
  const marker = '__twinflow_bigint__:';
  const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${marker}${v}` : v), 2) ?? 'null';
  return `${text.replace(new RegExp(`"${marker}(-?\\d+)"`, 'g'), '$1')}\n`;
}
