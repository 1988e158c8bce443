// The opt-in Squid 5.7 compatibility form of I_SEE_YOU (WccpConfig.squid57Compat, default off).
//
// Debian's Squid 5.7 (and every release 4.17–7.6 on a 64-bit host) walks the components of a
// received message with a stride of 8 + length instead of 4 + length, and capability elements
// with a stride of 12 (reference/wccp2.md 3.5, bug 1). A standard I_SEE_YOU is therefore dropped
// with "duplicate security definition". Putting 4 zero bytes after every component and after
// every capability element (and counting them in the lengths that enclose them) lines the
// components up where that parser looks for them; Squid then accepts the message as far as the
// Receive ID, echoes it, and fails on its second bug ("huge IP address count") before it reads
// the Router View. So the cache becomes usable on our side but never sends REDIRECT_ASSIGN.
//
// This form is NOT standard WCCPv2: a conforming peer (Wireshark, twinflow's own device, a
// fixed Squid) reads every pad as an empty Security Info and rejects the message. Hence opt-in.
//
// Contract: `message` is a message our own encoder produced (well-formed; trusted); with MD5
// the caller signs the padded bytes afterwards (the digest covers the pads).

import {
  CAPABILITY_HEAD_SIZE,
  ComponentType,
  COMPONENT_HEADER_SIZE,
  HEADER_LENGTH_OFFSET,
  MESSAGE_HEADER_SIZE,
} from '../constants.ts';

/** What Squid's parser skips beyond each item: sizeof(pointer) − sizeof(header) = 8 − 4. */
export const SQUID57_PAD = 4;

/** `message` with a 4-byte zero pad after every component and every capability element. */
export function padForSquid57(message: Uint8Array): Uint8Array {
  const src = new DataView(message.buffer, message.byteOffset, message.length);
  const parts: Uint8Array[] = [message.subarray(0, MESSAGE_HEADER_SIZE)];
  let at = MESSAGE_HEADER_SIZE;
  while (at + COMPONENT_HEADER_SIZE <= message.length) {
    const type = src.getUint16(at);
    const length = src.getUint16(at + 2);
    const body = message.subarray(at + COMPONENT_HEADER_SIZE, at + COMPONENT_HEADER_SIZE + length);
    let newBody = body;
    if (type === ComponentType.CapabilitiesInfo) {
      const elements: Uint8Array[] = [];
      let e = 0;
      const view = new DataView(body.buffer, body.byteOffset, body.length);
      while (e + CAPABILITY_HEAD_SIZE <= body.length) {
        const size = CAPABILITY_HEAD_SIZE + view.getUint16(e + 2);
        elements.push(body.subarray(e, e + size), new Uint8Array(SQUID57_PAD));
        e += size;
      }
      newBody = concat(elements);
    }
    const head = new Uint8Array(COMPONENT_HEADER_SIZE);
    new DataView(head.buffer).setUint16(0, type);
    new DataView(head.buffer).setUint16(2, newBody.length);
    parts.push(head, newBody, new Uint8Array(SQUID57_PAD));
    at += COMPONENT_HEADER_SIZE + length;
  }
  const out = concat(parts);
  new DataView(out.buffer).setUint16(HEADER_LENGTH_OFFSET, out.length - MESSAGE_HEADER_SIZE);
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
