// What the router tells the rest of the firmware (the session manager, the log): the hooks,
// and the shape of every event. Addresses are dotted IPv4 strings, services are service IDs.
//
// Contract, per hook (all optional; every call is made after the router's own state is
// consistent, and nothing a hook throws escapes the router):
// - request(r)      a cache carrying a replication request is about to become usable, or its
//                   usable request changed. Throwing (SessionError) REFUSES it: the refusal is
//                   counted (`request_refused`) and logged, and the cache is not (or no longer)
//                   listed as usable, which is how the device learns it was refused.
// - usable(a, s)    the cache is usable (two-way handshake done; request, if any, accepted).
// - redirect(m)     a standard cache's share of the group's traffic is new or changed (buckets
//                   or mask values, the service filter, the group's cache list). Throwing is
//                   counted (`redirect_refused`) and logged.
// - unassigned(a,s) a standard cache that had a share has none any more (assignment flushed or
//                   a new assignment without it); it is still a member.
// - removed(a, s)   a cache that had been announced usable left the group (30 s of silence,
//                   allowlist or configuration change, refused request change). Its sessions
//                   for this service end.
// - log(line)       one human-readable line per refusal or state change (rate-limited).

import type { DeviceRequest, RedirectMember } from '../../sessions/manager.ts';

export interface WccpRouterHooks {
  request?(r: DeviceRequest, nowMs: number): void;
  usable?(address: string, service: number, nowMs: number): void;
  redirect?(m: RedirectMember, nowMs: number): void;
  unassigned?(address: string, service: number, nowMs: number): void;
  removed?(address: string, service: number, nowMs: number): void;
  log?(line: string): void;
}

export type { DeviceRequest, RedirectMember };
