// What traffic a service group covers, in the filter language (firmware/shell/filter): the
// session layer redirects exactly this (narrowed by the cache's buckets or mask values).
//
//   standard 0 (web-cache)              tcp dst port 80
//   dynamic, protocol 6, no ports       tcp
//   dynamic, ports 80 8080 (flag 0x10)  tcp and (dst port 80 or dst port 8080)
//   ... with "ports are source" (0x20)  tcp and (src port 80 or src port 8080)
//
// Contract: pure; the Service Info is one the decoder accepted (any byte values). Ports are
// the non-zero entries before the first zero (the draft's list is zero-terminated); they apply
// only to TCP, UDP and SCTP, the protocols with ports.

import { ServiceFlag, WEB_CACHE_SERVICE_ID } from '../constants.ts';
import type { ServiceInfo } from '../components.ts';

/** The web-cache service: HTTP, matched on the destination port. */
export const WEB_CACHE_FILTER = 'tcp dst port 80';

const PROTOCOL_NAMES: Readonly<Record<number, string>> = { 6: 'tcp', 17: 'udp', 132: 'sctp' };
/** Protocol 0 in a dynamic service: no protocol restriction (all IPv4). */
const ANY_PROTOCOL = 0;

/** The ports a dynamic service lists (flag "ports defined" set), in order. */
export function servicePorts(s: ServiceInfo): number[] {
  if ((s.flags & ServiceFlag.PortsDefined) === 0) return [];
  const out: number[] = [];
  for (const p of s.ports) {
    if (p === 0) break;
    out.push(p);
  }
  return out;
}

/** The service's traffic in filter syntax; null for a standard service other than web-cache. */
export function serviceFilter(s: ServiceInfo): string | null {
  if (s.serviceType === 'standard') return s.serviceId === WEB_CACHE_SERVICE_ID ? WEB_CACHE_FILTER : null;
  const name = PROTOCOL_NAMES[s.protocol];
  const proto = s.protocol === ANY_PROTOCOL ? 'ip' : (name ?? `proto ${s.protocol}`);
  const ports = name === undefined ? [] : servicePorts(s);
  if (ports.length === 0) return proto;
  const side = (s.flags & ServiceFlag.PortsSource) !== 0 ? 'src' : 'dst';
  const terms = ports.map((p) => `${side} port ${p}`);
  return terms.length === 1 ? `${proto} ${terms[0]}` : `${proto} and (${terms.join(' or ')})`;
}

/** A standard service's Service Info: every field but the ID is zero. */
export function standardService(id: number): ServiceInfo {
  return { serviceType: 'standard', serviceId: id, priority: 0, protocol: 0, flags: 0, ports: [0, 0, 0, 0, 0, 0, 0, 0] };
}

/** Whether two Service Infos describe the same service. */
export function sameService(a: ServiceInfo, b: ServiceInfo): boolean {
  return (
    a.serviceType === b.serviceType &&
    a.serviceId === b.serviceId &&
    a.priority === b.priority &&
    a.protocol === b.protocol &&
    a.flags === b.flags &&
    a.ports.length === b.ports.length &&
    a.ports.every((p, i) => p === b.ports[i])
  );
}
