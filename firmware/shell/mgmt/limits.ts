// Every bound of the management port, with why. A server may be given lower (or, in tests,
// shorter) values through ManagementServerOptions.limits; the defaults are these.

/**
 * Largest request frame (payload bytes after the 4-byte length). A whole policy at its maximum
 * (256 rules) of typical filters, or 64 sessions with 16 KiB filters, fits; so will the chunks of
 * a firmware-image upload. Checked on the length prefix, before any of the payload is buffered.
 */
export const MAX_REQUEST_BYTES = 1 << 20;

/**
 * Largest response frame a client accepts: a counters report or session list of a full router
 * is tens of kilobytes; 16 MiB leaves room for any growth and still bounds the client.
 */
export const MAX_RESPONSE_BYTES = 16 << 20;

/** Simultaneous connections (before TLS): operators and a few scripts; each may buffer a frame. */
export const MAX_CONNECTIONS = 8;

/**
 * Requests per second per connection (token bucket): far above any operator or poller (a
 * Prometheus-style poller asks once every few seconds), low enough that one client cannot keep
 * the control plane, which also compiles tables, busy.
 */
export const REQUESTS_PER_SECOND = 20;

/** Bucket depth: a script may pipeline a batch of this many requests at once. */
export const REQUEST_BURST = 40;

/** A TLS handshake takes milliseconds; a peer that has not finished it by then is not a client. */
export const HANDSHAKE_TIMEOUT_MS = 5_000;

/** An authenticated connection that sends nothing for this long is closed (ctl connects per command). */
export const IDLE_TIMEOUT_MS = 300_000;

/**
 * Requests received but not yet answered, per connection. Beyond it the server stops reading
 * from the socket until the queue drains (TCP backpressure), so a client that pipelines without
 * reading answers cannot grow the server's memory.
 */
export const MAX_QUEUED_REQUESTS = 64;

/** Unsent response bytes per connection beyond which reading pauses (same reason). */
export const MAX_PENDING_OUTPUT_BYTES = 4 << 20;

/** A client waits this long for an answer before giving up on the call. */
export const CALL_TIMEOUT_MS = 30_000;

/** A client gives up on connecting (TCP and TLS) after this long. */
export const CONNECT_TIMEOUT_MS = 10_000;

export interface ManagementLimits {
  readonly maxRequestBytes: number;
  readonly maxConnections: number;
  readonly requestsPerSecond: number;
  readonly requestBurst: number;
  readonly handshakeTimeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly maxQueuedRequests: number;
  readonly maxPendingOutputBytes: number;
}

export const DEFAULT_LIMITS: ManagementLimits = {
  maxRequestBytes: MAX_REQUEST_BYTES,
  maxConnections: MAX_CONNECTIONS,
  requestsPerSecond: REQUESTS_PER_SECOND,
  requestBurst: REQUEST_BURST,
  handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS,
  idleTimeoutMs: IDLE_TIMEOUT_MS,
  maxQueuedRequests: MAX_QUEUED_REQUESTS,
  maxPendingOutputBytes: MAX_PENDING_OUTPUT_BYTES,
};
