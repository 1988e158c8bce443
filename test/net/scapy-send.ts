// Puts frames on a wire from inside a namespace with scapy's sendp (an independent sender: the
// kernel's AF_PACKET through scapy's own socket code, not the addon). The frames are bytes,
// usually built by scapyBuild (test/fixtures/scapy.ts), and go out in order, unchanged.

import { SYSTEM_PYTHON } from '../fixtures/scapy.ts';
import type { Netns } from './netns.ts';

const SEND_SCRIPT = String.raw`
import logging, sys
logging.getLogger("scapy.runtime").setLevel(logging.ERROR)
from scapy.all import Raw, sendp
frames = [Raw(bytes.fromhex(line)) for line in sys.stdin.read().split()]
sendp(frames, iface=sys.argv[1], verbose=False)
print(len(frames))
`;

/** Sends `frames` on `iface` in `ns`; resolves when scapy has sent them all. */
export async function scapySend(ns: Netns, iface: string, frames: readonly Uint8Array[]): Promise<void> {
  const input = frames.map((f) => Buffer.from(f).toString('hex')).join('\n');
  const r = await ns.run([SYSTEM_PYTHON, '-c', SEND_SCRIPT, iface], { input });
  if (r.stdout.trim() !== String(frames.length)) throw new Error(`scapy sent ${r.stdout.trim()} of ${frames.length} frames: ${r.stderr}`);
}
