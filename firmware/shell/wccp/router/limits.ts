// Bounds of the router's WCCP state. Everything a peer can make the router remember is capped
// here, so memory and per-message work stay bounded whatever arrives on UDP 2048.

import { MAX_CACHES_PER_TABLE } from '../constants.ts';

/**
 * Caches per service group. A hash assignment addresses caches by an index of 0–31, so a 33rd
 * cache could never receive traffic; further caches are refused (`group_full`).
 */
export const MAX_CACHES_PER_GROUP = MAX_CACHES_PER_TABLE;

/**
 * Router addresses a group remembers from its caches' Web-Cache Views (the Router View lists
 * them). 32 is far beyond any real deployment (Cisco allows 32 routers per group) and keeps a
 * Router View small; addresses beyond it are left out of the view.
 */
export const MAX_ROUTERS_PER_GROUP = 32;

/** Service groups per router: a service ID is one byte. */
export const MAX_SERVICE_GROUPS = 256;

/** Log lines kept in memory for `show` (oldest dropped first). */
export const LOG_HISTORY = 200;

/**
 * Log lines handed to the log hook per second. A flood of bad datagrams is counted in full but
 * logged only this often, so it cannot flood the operator's log; the rest count as
 * `log_suppressed`.
 */
export const LOG_LINES_PER_SECOND = 20;
