// Every limit a session is checked against, with why. Boards may lower (never raise) the
// per-board ones; see boards/schema.json.

import { Limits, RaceLimits } from '../../../wasm/abi.ts';

/** Sessions per line card: one bit each in the hot path's u64 session masks. */
export const MAX_SESSIONS = Limits.MaxSessions;

/**
 * Characters of a session's filter (the filter compiler's own bound): enough for a generated
 * 100-clause list. Filters that arrive in a WCCP registration are bounded further by the
 * datagram (docs/protocol.md).
 */
export const MAX_FILTER_LENGTH = 16384;

/** Boxes one session's filter may expand to; keeps table builds bounded (seconds, megabytes). */
export const MAX_BOXES_PER_SESSION = 4096;

/** snaplen: 0 keeps whole packets; otherwise at least an Ethernet + IPv6 + TCP header. */
export const MIN_SNAPLEN = 64;
export const MAX_SNAPLEN = 65535;

/** 1-in-N sampling: N up to 2^24 (beyond that a session would see almost nothing). */
export const MAX_SAMPLE = 1 << 24;

/** Rate limits: 10 Mpps and 100 Gbit/s exceed anything one card forwards. */
export const MAX_RATE_PPS = 10_000_000;
export const MAX_RATE_BPS = 100_000_000_000;

/**
 * Token-bucket depth: 100 ms of the rate, and at least one packet, or in bits at least one
 * 1518-byte frame and the largest replica the session can send (else that replica could never
 * pass). A burst of a tenth of a second passes; the sustained rate is what is configured.
 * Depth × 1e9 fits the policer's i64 arithmetic for every allowed rate.
 */
export const BURST_WINDOW_MS = 100;
export const MIN_BURST_BITS = 1518 * 8;

/** Replica encapsulation must leave room for the smallest useful inner packet. */
export const MIN_REPLICA_MTU = 576;

// ── Race groups (docs/race.md) ──────────────────────────────────────────────────────────────

/** Members of one race group: the hot path keeps them in a fixed table and a u8 refusal mask. */
export const RACE_MAX_MEMBERS = RaceLimits.MaxMembers;

/**
 * Raced flows per second of a group unless its session says otherwise: a hundred racing connects
 * a second costs the group (members − 1) × 100 extra SYNs a second, a few percent of what one
 * small web server accepts; when the group's load grows beyond that, the raced share shrinks
 * instead of the group's load growing (the hedging rule of thumb: a budget, not a ratio alone).
 */
export const DEFAULT_RACE_FLOWS_PER_SECOND = 100;
/** Budget depth unless the session says otherwise: one second of the default rate. */
export const DEFAULT_RACE_BURST = 100;
/** A racing rate above 1 M flows/s exceeds what one card tracks; the depth bound keeps depth × 1e9 in i64. */
export const MAX_RACE_FLOWS_PER_SECOND = 1_000_000;
export const MAX_RACE_BURST = 1_000_000;
