// One cache (or registering device) in a service group, as the router sees it, and the methods
// it chose in its HERE_I_AM.
//
//   joining ──(HERE_I_AM echoing the last Receive ID we sent it, request accepted)──► usable
//   usable ──(refused request change)──► joining        any ──(30 s of silence)──► removed
//
// Contract: a record exists only for a cache that passed the allowlist, MD5 and the group's
// checks; it holds copies of what the cache sent, bounded by the decoder and the group limits.

import { AssignmentMethod, ForwardingMethod, ReturnMethod } from '../constants.ts';
import type { CapabilitiesInfo } from '../components.ts';
import type { WebCacheIdentityElement } from '../elements.ts';
import type { ReplicationRequest } from '../extension.ts';
import type { Endpoint } from '../transport.ts';
import type { OfferedMethods } from './config.ts';

/** The single method of each kind a cache chose (Capabilities Info bitmasks with one bit). */
export interface ChosenMethods {
  readonly forwarding: number;
  readonly assignment: number;
  readonly return: number;
}

/** Without a Capabilities Info the methods are GRE forwarding, hash assignment, GRE return. */
export const DEFAULT_METHODS: ChosenMethods = {
  forwarding: ForwardingMethod.Gre,
  assignment: AssignmentMethod.Hash,
  return: ReturnMethod.Gre,
};

const isSingleBit = (v: number) => v !== 0 && (v & (v - 1)) === 0;

/**
 * The methods a HERE_I_AM chose, or a reason they are unacceptable: a cache states exactly one
 * method of each kind, and it must be one the group offers. (Unknown capability types are
 * ignored, as the draft asks.)
 */
export function chosenMethods(caps: CapabilitiesInfo | undefined, offered: OfferedMethods): ChosenMethods | string {
  let chosen = DEFAULT_METHODS;
  for (const e of caps?.elements ?? []) {
    if (e.kind === 'forwarding-method') chosen = { ...chosen, forwarding: e.methods };
    else if (e.kind === 'assignment-method') chosen = { ...chosen, assignment: e.methods };
    else if (e.kind === 'return-method') chosen = { ...chosen, return: e.methods };
  }
  for (const kind of ['forwarding', 'assignment', 'return'] as const) {
    const v = chosen[kind];
    if (!isSingleBit(v)) return `${kind} method 0x${v.toString(16)} is not a single method`;
    if ((v & offered[kind]) === 0) return `${kind} method 0x${v.toString(16)} is not offered (0x${offered[kind].toString(16)})`;
  }
  return chosen;
}

export function sameMethods(a: ChosenMethods, b: ChosenMethods): boolean {
  return a.forwarding === b.forwarding && a.assignment === b.assignment && a.return === b.return;
}

export interface CacheMember {
  /** Identity address (always equal to the source address of its messages). */
  readonly address: number;
  /** Where its HERE_I_AMs come from: I_SEE_YOU and REMOVAL_QUERY go there. */
  endpoint: Endpoint;
  state: 'joining' | 'usable';
  /** Its Web-Cache Identity Element, echoed in the Router View. */
  identity: WebCacheIdentityElement;
  /** Router IDs its Web-Cache View lists (capped). */
  reportedRouters: readonly number[];
  methods: ChosenMethods;
  /** Whether its HERE_I_AMs carry a replication request (fixed for the membership). */
  readonly hasExtension: boolean;
  /** The request its last HERE_I_AM carried. */
  request: ReplicationRequest | null;
  lastSeenMs: number;
  /** Receive ID of the last I_SEE_YOU sent to it; 0 before the first. */
  lastReceiveIdSent: number;
  /** When a REMOVAL_QUERY went to it during the current silence (null: none). */
  queriedAtMs: number | null;
  /** hooks.usable was called (so hooks.removed is owed when it leaves). */
  announced: boolean;
  /** The request the session layer accepted (JSON), null if none. */
  acceptedRequest: string | null;
  /** The redirect membership last handed to the session layer (JSON), null if none. */
  deliveredRedirect: string | null;
}

/** A cache gets assigned traffic (hash buckets or mask values) unless it asked for copies. */
export function isStandard(c: CacheMember): boolean {
  return c.request === null || c.request.mode === 'redirect';
}
