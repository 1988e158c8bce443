// Counters of the management port, declared once with their meaning. The server's counters()
// reports them flat (`connections_accepted`, `refused_<reason>`), which is how they appear in
// CountersReport.management; the metrics endpoint turns `refused_<reason>` into one family
// (twinflow_management_refused_total{reason}), and help texts come from here.

import type { CounterInfo } from '../../runtime/counters.ts';

export const MANAGEMENT_COUNTERS = {
  connections_accepted: 'TCP connections accepted (before TLS)',
  connections_authenticated: 'connections that completed the TLS-PSK handshake',
  connections_closed: 'connections closed, for any reason',
  requests: 'requests answered with a result',
  control_errors: 'requests the router refused (ControlError or another user error: an answer, not a port refusal)',
} as const;

/** Every way the port refuses a connection or a request; each closes or answers as noted. */
export const REFUSAL_REASONS = {
  auth_failed: 'handshake failed on the key: unknown PSK identity or wrong key (connection closed)',
  handshake_failed: 'not TLS 1.2, or no PSK cipher suite in common (connection closed)',
  handshake_timeout: 'handshake not finished in time (connection closed)',
  too_many_connections: 'connection refused: the connection limit was reached (closed before TLS)',
  oversize: 'frame length above the limit (answered, connection closed)',
  malformed: 'frame not one plain MessagePack value (answered)',
  invalid_request: 'envelope not {id, method, params} (answered)',
  unknown_method: 'no such method (answered)',
  invalid_params: 'parameters failed validation (answered, field named)',
  rate_limited: 'over the per-connection request rate (answered, not executed)',
  idle_timeout: 'connection idle too long (closed)',
  internal_error: 'a method failed unexpectedly (answered with code internal)',
} as const;

export type ManagementCounter = keyof typeof MANAGEMENT_COUNTERS;
export type RefusalReason = keyof typeof REFUSAL_REASONS;

/** Gauges among the flat management counters (not monotonic). */
export const MANAGEMENT_GAUGES: Readonly<Record<string, CounterInfo>> = {
  connections_open: { name: 'connections_open', help: 'management connections open now' },
};

export class ManagementCounters {
  private readonly values = new Map<string, number>();

  bump(name: ManagementCounter): void {
    this.values.set(name, (this.values.get(name) ?? 0) + 1);
  }

  refuse(reason: RefusalReason): void {
    const key = `refused_${reason}`;
    this.values.set(key, (this.values.get(key) ?? 0) + 1);
  }

  refused(reason: RefusalReason): number {
    return this.values.get(`refused_${reason}`) ?? 0;
  }

  /** Every counter, zeros included, plus the gauges given. */
  snapshot(gauges: Record<string, number>): Record<string, number> {
    const out: Record<string, number> = {};
    for (const name of Object.keys(MANAGEMENT_COUNTERS)) out[name] = this.values.get(name) ?? 0;
    for (const reason of Object.keys(REFUSAL_REASONS)) out[`refused_${reason}`] = this.values.get(`refused_${reason}`) ?? 0;
    return { ...out, ...gauges };
  }
}
