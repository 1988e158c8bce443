// WCCPv2 protocol timers (draft-wilson-wrec-wccp-v2-03; summarised in reference/wccp2.md 2.5),
// shared by the router (router/) and the device (device.ts). Every protocol delay is a multiple
// of HERE_I_AM_T and lives here with the rule that defines it.
//
// Contract: plain numbers in milliseconds. Nobody shortens these for tests: the router and the
// device take the time as an argument (or from an injected clock), so a test advances its
// clock by 25 000 ms instead of waiting 25 s.

import { HERE_I_AM_T_MS } from './constants.ts';

export { HERE_I_AM_T_MS };

/** Dead cache, step 1: after 2.5 × HERE_I_AM_T of silence the router unicasts a REMOVAL_QUERY. 25 s. */
export const REMOVAL_QUERY_AFTER_MS = 2.5 * HERE_I_AM_T_MS;

/** Dead cache, step 2: after 3 × HERE_I_AM_T of silence the cache leaves the view and the assignment. 30 s. */
export const REMOVAL_AFTER_MS = 3 * HERE_I_AM_T_MS;

/** A cache answers a REMOVAL_QUERY with three HERE_I_AMs spaced HERE_I_AM_T / 10 apart. 1 s. */
export const REMOVAL_REPLY_SPACING_MS = HERE_I_AM_T_MS / 10;
/** How many HERE_I_AMs answer one REMOVAL_QUERY. */
export const REMOVAL_REPLY_COUNT = 3;

/**
 * The designated cache sends REDIRECT_ASSIGN 1.5 × HERE_I_AM_T after a membership change, so
 * the membership can settle first. 15 s (Squid waits the same).
 */
export const REDIRECT_ASSIGN_DELAY_MS = 1.5 * HERE_I_AM_T_MS;

/** A router flushes its assignment when no REDIRECT_ASSIGN arrives within 5 × HERE_I_AM_T of a membership change. 50 s. */
export const ASSIGNMENT_WAIT_MS = 5 * HERE_I_AM_T_MS;

/**
 * How long a device waits without any I_SEE_YOU before it calls a router lost: the same
 * 3 × HERE_I_AM_T after which the router would have removed it.
 */
export const ROUTER_LOST_AFTER_MS = REMOVAL_AFTER_MS;
