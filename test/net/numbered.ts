// Traffic for the dup measurements: a UDP stream of numbered datagrams and a TCP transfer with a
// checksum, each a sender and a receiver run in the namespaces of a test topology.
//
//   node --import tsx test/net/numbered.ts udp-recv BIND PORT
//       prints "ready"; on SIGTERM or SIGINT prints one JSON line:
//       { received, unique, duplicates, reordered, highest }  (sequence numbers start at 0)
//   node --import tsx test/net/numbered.ts udp-send DST PORT COUNT RATE_PPS SIZE
//       sends COUNT datagrams of SIZE bytes (≥ 8: "TFNU", u32 sequence, padding) paced at RATE_PPS;
//       prints { sent, seconds }
//   node --import tsx test/net/numbered.ts tcp-recv BIND PORT
//       prints "ready"; takes one connection, reads it to its end, answers with one JSON line
//       { bytes, sha256, seconds } (seconds from the first byte to the end), then exits
//   node --import tsx test/net/numbered.ts tcp-send DST PORT BYTES TIMEOUT_S
//       sends BYTES random bytes, half-closes, waits for the receiver's answer; prints
//       { bytes, sha256, seconds, receiver } (seconds from connect to the answer)
//
// Every wait is bounded (TIMEOUT_S, or the test's own timeout for the receivers); exit status 1
// with a message on stderr for any failure.

import dgram from 'node:dgram';
import net from 'node:net';
import { createHash, randomBytes } from 'node:crypto';

const MAGIC = 0x54464e55; // "TFNU"
/** Datagrams per pacing tick are what the rate allows since the start: the tick only bounds the burst. */
const TICK_MS = 2;
const CHUNK = 64 << 10;

const [mode, ...args] = process.argv.slice(2);
const print = (v: unknown): void => { process.stdout.write(`${JSON.stringify(v)}\n`); };
const fail = (why: string): never => {
  process.stderr.write(`numbered ${mode}: ${why}\n`);
  process.exit(1);
};

function udpReceive(bind: string, port: number): void {
  const seen = new Set<number>();
  let received = 0;
  let duplicates = 0;
  let reordered = 0;
  let highest = -1;
  const s = dgram.createSocket({ type: 'udp4', recvBufferSize: 8 << 20 });
  s.on('error', (e) => fail(e.message));
  s.on('message', (m) => {
    if (m.length < 8 || m.readUInt32BE(0) !== MAGIC) return;
    const seq = m.readUInt32BE(4);
    received++;
    if (seen.has(seq)) duplicates++;
    else seen.add(seq);
    if (seq < highest) reordered++;
    else highest = seq;
  });
  const finish = (): void => {
    print({ received, unique: seen.size, duplicates, reordered, highest });
    s.close();
  };
  process.once('SIGTERM', finish);
  process.once('SIGINT', finish);
  s.bind(port, bind, () => process.stdout.write('ready\n'));
}

async function udpSend(dst: string, port: number, count: number, rate: number, size: number): Promise<void> {
  if (size < 8) fail('SIZE must be at least 8');
  const s = dgram.createSocket('udp4');
  s.on('error', (e) => fail(e.message));
  const start = process.hrtime.bigint();
  let sent = 0;
  let pending = 0;
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const due = Math.min(count, Math.floor(Number(process.hrtime.bigint() - start) / 1e9 * rate) + 1);
      while (sent < due) {
        const b = Buffer.alloc(size);
        b.writeUInt32BE(MAGIC, 0);
        b.writeUInt32BE(sent, 4);
        pending++;
        s.send(b, port, dst, (e) => {
          if (e) fail(e.message);
          if (--pending === 0 && sent === count) resolve();
        });
        sent++;
      }
      if (sent < count) setTimeout(tick, TICK_MS);
    };
    tick();
  });
  print({ sent, seconds: Number(process.hrtime.bigint() - start) / 1e9 });
  s.close();
}

function tcpReceive(bind: string, port: number): void {
  const server = net.createServer((c) => {
    server.close();
    const hash = createHash('sha256');
    let bytes = 0;
    let first: bigint | undefined;
    c.on('data', (d: Buffer) => {
      first ??= process.hrtime.bigint();
      bytes += d.length;
      hash.update(d);
    });
    c.on('end', () => {
      const seconds = first === undefined ? 0 : Number(process.hrtime.bigint() - first) / 1e9;
      c.end(`${JSON.stringify({ bytes, sha256: hash.digest('hex'), seconds })}\n`);
    });
    c.on('error', (e) => fail(e.message));
  });
  server.on('error', (e) => fail(e.message));
  server.listen(port, bind, () => process.stdout.write('ready\n'));
}

async function tcpSend(dst: string, port: number, total: number, timeoutS: number): Promise<void> {
  const timer = setTimeout(() => fail(`no answer within ${timeoutS} s`), timeoutS * 1000);
  const hash = createHash('sha256');
  const start = process.hrtime.bigint();
  const c = net.connect(port, dst);
  c.on('error', (e) => fail(e.message));
  await new Promise<void>((resolve) => c.once('connect', () => resolve()));
  let left = total;
  const write = (): void => {
    while (left > 0) {
      const chunk = randomBytes(Math.min(CHUNK, left));
      left -= chunk.length;
      hash.update(chunk);
      if (!c.write(chunk)) {
        c.once('drain', write);
        return;
      }
    }
    c.end();
  };
  write();
  let answer = '';
  c.on('data', (d: Buffer) => { answer += d.toString('utf8'); });
  await new Promise<void>((resolve) => c.once('close', () => resolve()));
  clearTimeout(timer);
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  let receiver: unknown;
  try {
    receiver = JSON.parse(answer);
  } catch {
    fail(`the receiver answered ${JSON.stringify(answer.slice(0, 200))}`);
  }
  print({ bytes: total, sha256: hash.digest('hex'), seconds, receiver });
}

const n = (i: number): number => {
  const v = Number(args[i]);
  if (!Number.isFinite(v) || v < 0) fail(`argument ${i + 2} must be a number, got ${JSON.stringify(args[i])}`);
  return v;
};

switch (mode) {
  case 'udp-recv': udpReceive(args[0], n(1)); break;
  case 'udp-send': await udpSend(args[0], n(1), n(2), n(3), n(4)); break;
  case 'tcp-recv': tcpReceive(args[0], n(1)); break;
  case 'tcp-send': await tcpSend(args[0], n(1), n(2), n(3)); break;
  default: fail('usage: udp-recv BIND PORT | udp-send DST PORT COUNT RATE SIZE | tcp-recv BIND PORT | tcp-send DST PORT BYTES TIMEOUT_S');
}
