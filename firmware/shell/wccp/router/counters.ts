// The router's WCCP counters, declared once: name → what it counts. The same table gives the
// counter names, their zero state and the text `show` prints. Every datagram the router drops
// or refuses increments exactly one reason counter; the rest count what went well.

export const WCCP_COUNTERS = {
  // ── traffic ────────────────────────────────────────────────────────────────────────────
  datagrams: 'datagrams received on the WCCP port',
  here_i_am: 'HERE_I_AM messages accepted',
  i_see_you: 'I_SEE_YOU messages sent',
  redirect_assign: 'REDIRECT_ASSIGN messages accepted',
  removal_queries: 'REMOVAL_QUERY messages sent to silent caches',
  joins: 'caches that became usable',
  removals: 'caches removed (30 s of silence, allowlist or configuration change, refused request change)',
  assignments_flushed: 'assignments flushed (none within 50 s of a membership change, or this router not listed)',
  // ── drops and refusals (one per datagram) ──────────────────────────────────────────────
  malformed: 'datagrams that are not well-formed WCCPv2 (any decode error)',
  unexpected_message: 'I_SEE_YOU or REMOVAL_QUERY received (a router only takes HERE_I_AM and REDIRECT_ASSIGN)',
  address_table: 'messages with a rev1 Address Table (this router speaks IPv4 addresses only)',
  unknown_service: 'messages for a service group that is not configured (or of the other service type)',
  not_allowed: 'messages from an address outside the service group allowlist (no state kept)',
  unauthentic: 'messages whose MD5 security is wrong, missing or unexpected for the group',
  address_mismatch: 'HERE_I_AMs whose Web-Cache Identity address is not the sender address',
  bad_capability: 'HERE_I_AMs choosing a forwarding, assignment or return method the group does not offer',
  service_mismatch: 'HERE_I_AMs whose dynamic service definition differs from the group one',
  extension_changed: 'HERE_I_AMs that add or drop the replication request of a registered cache',
  group_full: 'HERE_I_AMs from new caches while the group holds its maximum of caches',
  request_refused: 'replication requests the session layer refused (the cache is not listed as usable)',
  not_designated: 'REDIRECT_ASSIGNs from a cache that is not the designated (lowest usable) cache',
  stale_assignment: 'REDIRECT_ASSIGNs with an old Receive ID or Member Change Number for this router',
  assignment_mismatch: 'REDIRECT_ASSIGNs of the other assignment method than the group negotiated',
  unsupported_assignment: 'REDIRECT_ASSIGNs of a rev1 type or with more than one mask/value set',
  not_listed: 'REDIRECT_ASSIGNs that do not list this router (the assignment is flushed)',
  // ── notes (the datagram was still used) ────────────────────────────────────────────────
  stale_receive_id: 'HERE_I_AMs of usable caches echoing an older Receive ID (answered; still usable)',
  alternate_buckets: 'assigned buckets flagged for alternate hashing (not redirected: unsupported)',
  redirect_refused: 'redirect memberships the session layer refused',
  hook_failed: 'session-layer hooks that threw unexpectedly',
  internal_error: 'datagrams whose handling failed inside the router (a bug; logged with the stack)',
  log_suppressed: 'log lines not passed to the log hook (more than 20 per second)',
} as const;

export type WccpCounterName = keyof typeof WCCP_COUNTERS;

export type WccpCounters = Record<WccpCounterName, number>;

export function zeroCounters(): WccpCounters {
  return Object.fromEntries(Object.keys(WCCP_COUNTERS).map((k) => [k, 0])) as WccpCounters;
}
