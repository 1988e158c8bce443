// Sending a burst with exact accounting, shared by the linux and host drivers.
//
// The addon's send calls return how many frames the kernel took, stopping at the first it
// cannot take now (EAGAIN, ENOBUFS), and throw when the first frame of a call is refused. After
// a short return the rest is offered once more: a call that then takes nothing means the kernel
// pushed back (the rest is `blocked`); one that throws names the refused frame, which is skipped
// and counted, and sending goes on after it. An error that concerns the interface rather than
// the frame (it went down or away) refuses the rest of the burst at once.

import { isNativeError } from './native.ts';

/** Send counters; every frame offered ends in exactly one of sent, blocked, refused. */
export interface SendCounters {
  sent: number;
  bytes: number;
  /** The kernel could not take the frame now (its queue or buffer was full). */
  blocked: number;
  /** The kernel refused the frame (EMSGSIZE, an interface that is down, ...). */
  refused: number;
  /** The last refusal, for diagnostics. */
  lastError: string;
}

export function newSendCounters(): SendCounters {
  return { sent: 0, bytes: 0, blocked: 0, refused: 0, lastError: '' };
}

/** errno names that say the interface, not the frame, is the problem. */
const INTERFACE_ERRORS = new Set(['ENETDOWN', 'ENXIO', 'ENODEV', 'EBADF', 'ENETUNREACH']);

export type SendFn = (addrs: Uint32Array, lens: Uint32Array, n: number) => number;

/** Sends frames addrs/lens[0..n); returns how many were sent. */
export function sendAll(send: SendFn, addrs: Uint32Array, lens: Uint32Array, n: number, c: SendCounters): number {
  let at = 0;
  let sentHere = 0;
  while (at < n) {
    let sent: number;
    try {
      sent = at === 0 ? send(addrs, lens, n) : send(addrs.subarray(at), lens.subarray(at), n - at);
    } catch (e) {
      if (!isNativeError(e)) throw e;
      c.lastError = e.message;
      const refused = INTERFACE_ERRORS.has(e.code) ? n - at : 1;
      c.refused += refused;
      at += refused;
      continue;
    }
    for (let i = at; i < at + sent; i++) c.bytes += lens[i];
    c.sent += sent;
    sentHere += sent;
    at += sent;
    if (sent === 0) {
      c.blocked += n - at;
      break;
    }
  }
  return sentHere;
}
