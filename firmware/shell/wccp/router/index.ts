// The WCCPv2 router's public surface: WccpRouter (pure protocol logic; server.ts runs it on a
// socket), its hooks, counters and configuration errors. See docs/wccp.md for the behaviour.

export { WccpRouter } from './router.ts';
export type { WccpRouterOptions } from './router.ts';
export type { WccpRouterHooks, DeviceRequest, RedirectMember } from './hooks.ts';
export { WCCP_COUNTERS } from './counters.ts';
export type { WccpCounterName, WccpCounters } from './counters.ts';
export { WccpConfigError } from './config.ts';
export type { GroupSnapshot } from './group.ts';
export type { GroupAssignment } from './assignment.ts';
export { WEB_CACHE_FILTER, serviceFilter } from './service-filter.ts';
export { padForSquid57, SQUID57_PAD } from './squid57.ts';
export { MAX_CACHES_PER_GROUP, MAX_ROUTERS_PER_GROUP } from './limits.ts';
