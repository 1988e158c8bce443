// A frame generator for rate measurements: sends one frame as fast as the kernel takes it, in
// bursts of BURST_MAX through the addon's sendBurst, on an interface of the namespace it runs
// in, for a number of seconds or until a number of frames went out. Prints "ready" when its
// socket is open and "sent N" at the end.
//   node --import tsx test/net/blast.ts IFACE seconds|count VALUE FRAME_HEX

import { addon, BURST_MAX } from '../../hal/drivers/linux/native.ts';

const [iface, mode, value, frameHex] = process.argv.slice(2);
const n = addon();
const fd = n.openPacket(n.interfaceInfo(iface).index, { ring: false });
const frame = Buffer.from(frameHex, 'hex');
const slot = 2048;
const mem = new Uint8Array(slot * BURST_MAX);
const addrs = Uint32Array.from({ length: BURST_MAX }, (_, i) => i * slot);
const lens = new Uint32Array(BURST_MAX).fill(frame.length);
for (const a of addrs) mem.set(frame, a);
process.stdout.write('ready\n');
let sent = 0;
if (mode === 'seconds') {
  const end = process.hrtime.bigint() + BigInt(Math.round(Number(value) * 1e9));
  while (process.hrtime.bigint() < end) sent += n.sendBurst(fd, mem, addrs, lens, BURST_MAX);
} else {
  const count = Number(value);
  while (sent < count) sent += n.sendBurst(fd, mem, addrs, lens, Math.min(BURST_MAX, count - sent));
}
n.close(fd);
process.stdout.write(`sent ${sent}\n`);
