// The `twinflow` command. Each subcommand is a thin shell over the runtime and the control plane,
// loaded when the subcommand runs (so `--help` and small jobs start fast). Errors a user can cause
// (a bad file, filter, number or board) print one clear line to stderr and exit with status 2; an
// internal failure exits with 1.

import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { Presets, SingleBar } from 'cli-progress';
import { statSync } from 'node:fs';
import { describeError, isUserError } from './errors.ts';
import { FIRMWARE_VERSION } from './version.ts';

function integer(min: number, max: number) {
  return (text: string): number => {
    if (!/^\d+$/.test(text)) throw new InvalidArgumentError(`expected a whole number, got "${text}"`);
    const v = Number(text);
    if (v < min || v > max) throw new InvalidArgumentError(`must be ${min}..${max}`);
    return v;
  };
}

const program = new Command()
  .name('twinflow')
  .description('Router firmware module for remote packet replication: devices register over WCCPv2 and receive GRE/ERSPAN replicas of the packets they ask for, while originals are forwarded unchanged.')
  .version(FIRMWARE_VERSION)
  .showHelpAfterError('(run with --help for usage)')
  // Program options (--version) only before the subcommand: `image build --version V` is the image's.
  .enablePositionalOptions()
  // Usage errors throw (CommanderError) instead of exiting, so they get exit status 2 below.
  .exitOverride();

program
  .command('replay')
  .description('run the data plane over a capture file: originals to a pcap, replicas of matching packets to a pcapng')
  .argument('<input>', 'capture to replay (pcap or pcapng, Ethernet)')
  .requiredOption('--match <expr>', 'packets to replicate, in tcpdump-style filter syntax')
  .requiredOption('--replicas <file>', 'pcapng to write the encapsulated replicas to')
  .requiredOption('--originals <file>', 'pcap to write the forwarded originals to')
  .addOption(new Option('--encap <kind>', 'replica encapsulation').choices(['gre', 'erspan2', 'erspan3']).default('gre'))
  .option('--snaplen <bytes>', 'keep at most this many bytes of each replicated packet (0: all)', integer(0, 65535), 0)
  .option('--sample <n>', 'replicate one in n matching packets', integer(1, 1 << 24), 1)
  .option('--rate <pps>', 'at most this many replicas per second of capture time (0: unlimited)', integer(0, 10_000_000), 0)
  .option('--mtu <bytes>', 'IP MTU of the path to the device; larger replicas are truncated', integer(576, 65535), 9000)
  .option('--device <ipv4>', 'address of the device the replicas are sent to', '192.0.2.2')
  .option('--json', 'print the counters as JSON')
  .action(async (input: string, o: { match: string; replicas: string; originals: string; encap: 'gre' | 'erspan2' | 'erspan3'; snaplen: number; sample: number; rate: number; mtu: number; device: string; json?: boolean }) => {
    const { replay } = await import('./runtime/replay.ts');
    const bar = progressBar(input);
    const result = await replay({
      input, match: o.match, replicas: o.replicas, originals: o.originals, encap: o.encap,
      snaplen: o.snaplen, sample: o.sample, ratePps: o.rate, mtu: o.mtu, device: o.device,
      progress: bar?.update,
    });
    bar?.stop();
    if (o.json) {
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return;
    }
    const s = result.session;
    const p = result.ports.in;
    const rate = result.elapsedMs > 0 ? (result.packets / result.elapsedMs / 1000).toFixed(2) : '-';
    console.log(`${result.packets} packets in ${result.elapsedMs.toFixed(0)} ms (${rate} Mpps); tables: ${result.tables.rules} rules, ${result.tables.trees} trees, ${result.tables.bytes} bytes`);
    console.log(`originals  rx ${p.rx_packets}  forwarded ${p.forwarded}  dropped ${p.dropped_policy + p.dropped_tx_full}  (not ip ${p.not_ip}, truncated ${p.parse_truncated}, malformed ${p.parse_malformed}, ineligible ${p.ineligible})`);
    console.log(`replicas   matched ${s.matched}  replicated ${s.replicated}  sampled_out ${s.sampled_out}  rate_limited ${s.rate_limited}  ring_full ${s.ring_full}  no_frame ${s.no_frame}  mtu ${s.mtu}  not_carried ${s.not_carried}  (truncated ${s.truncated})`);
  });

program
  .command('classify')
  .description('classify a header trace against a rule set (ClassBench / dpdk-test-acl formats); prints the 1-based first matching rule per packet, 0 for none')
  .argument('<rules>', 'rule file: @SRC/len DST/len SPLO : SPHI DPLO : DPHI PROTO/MASK per line')
  .argument('<trace>', 'trace file: SRC DST SPORT DPORT PROTO per line')
  .action(async (rules: string, trace: string) => {
    const { classifyFiles } = await import('./runtime/classify.ts');
    const result = classifyFiles(rules, trace);
    process.stdout.write(result.lines);
  });

program
  .command('boot')
  .description('boot the router on a board and run until SIGINT or SIGTERM, showing live counters')
  .option('--board <name>', 'board definition (a name in boards/ or a path to a board file)', 'sim')
  .option('--demo', 'start with a demo sniff session (sim board)')
  .option('--config <file>', "the router's configuration (docs/config.md): WCCP services and allowlists, sessions, policy, limits, management port")
  .option('--trace <port=file>', 'write every frame a port receives and sends to a pcapng file (repeat for several ports)', (v: string, prev: Record<string, string> = {}) => {
    const at = v.indexOf('=');
    if (at <= 0 || at === v.length - 1) throw new InvalidArgumentError('expected PORT=FILE');
    return { ...prev, [v.slice(0, at)]: v.slice(at + 1) };
  })
  .option('--duration <seconds>', 'stop by itself after this many seconds', integer(1, 86_400))
  .option('--json', 'print the final counters as JSON')
  .addOption(new Option('--slots <dir>', 'boot the device\'s A/B slots: health-check a newly flashed slot (rolling back if it fails), then run the active slot\'s own runtime on its board').conflicts('board'))
  .option('--health-timeout <seconds>', 'with --slots: how long a health check may take (default 30)', integer(1, 3600))
  .action(async (o: { board: string; config?: string; trace?: Record<string, string>; demo?: boolean; duration?: number; json?: boolean; slots?: string; healthTimeout?: number }) => {
    if (o.slots !== undefined) {
      const { bootFromSlots } = await import('./runtime/image/slot-boot.ts');
      const healthTimeoutMs = o.healthTimeout !== undefined ? o.healthTimeout * 1000 : undefined;
      await bootFromSlots({ slots: o.slots, demo: o.demo, duration: o.duration, json: o.json, healthTimeoutMs });
      return;
    }
    const { bootCommand } = await import('./runtime/boot.ts');
    await bootCommand(o);
  });

// Firmware images and A/B slots (firmware/runtime/image/, docs/images.md).
const image = program.command('image').description('firmware images: one signed file with the data plane, the runtime and the board');
image
  .command('build')
  .description('build and sign a firmware image for a board')
  .requiredOption('--board <name>', 'board (a name in boards/ or a path to a board file); validated, budgets included')
  .requiredOption('--key <private.pem>', 'Ed25519 private key in PEM (openssl genpkey -algorithm ed25519)')
  .requiredOption('-o, --output <image>', 'image file to write')
  .option('--version <version>', 'firmware version MAJOR.MINOR.PATCH (default: package.json\'s)')
  .addOption(new Option('--test-only-fault <kind>', 'TESTS ONLY: a signed image whose runtime or wasm fails its health check').hideHelp())
  .action(async (o: { board: string; key: string; output: string; version?: string; testOnlyFault?: string }) => {
    const { imageBuildCommand } = await import('./runtime/image/commands.ts');
    await imageBuildCommand(o);
  });
image
  .command('verify')
  .description('verify a firmware image: layout, checksum, Ed25519 signature, and optionally board and minimum version; exit 0 only for a good image')
  .argument('<image>', 'image file')
  .requiredOption('--pubkey <public.pem>', 'Ed25519 public key in PEM (openssl pkey -in KEY -pubout)')
  .option('--board <name>', 'refuse an image built for another board')
  .option('--min-version <version>', 'refuse an image older than this version')
  .option('--json', 'print the manifest as JSON')
  .action(async (file: string, o: { pubkey: string; board?: string; minVersion?: string; json?: boolean }) => {
    const { imageVerifyCommand } = await import('./runtime/image/commands.ts');
    imageVerifyCommand(file, o);
  });
program
  .command('flash')
  .description('verify an image and write it into the inactive A/B slot, to be tried (health-checked) at the next boot')
  .argument('<image>', 'image file')
  .requiredOption('--slots <dir>', 'the device\'s slots directory')
  .requiredOption('--pubkey <public.pem>', 'Ed25519 public key in PEM; the first flash makes it the key the device trusts')
  .option('--board <name>', 'first flash: the device\'s board; later: must be the device\'s board')
  .option('--min-version <version>', 'first flash: the lowest version the device accepts; later: raises it')
  .action(async (file: string, o: { slots: string; pubkey: string; board?: string; minVersion?: string }) => {
    const { flashCommand } = await import('./runtime/image/commands.ts');
    await flashCommand(file, o);
  });
program
  .command('slots')
  .description('show a slots directory: the device, each slot, the last events')
  .argument('<dir>', 'the device\'s slots directory')
  .option('--json', 'print the records as JSON')
  .action(async (dir: string, o: { json?: boolean }) => {
    const { slotsCommand } = await import('./runtime/image/commands.ts');
    slotsCommand(dir, o);
  });
program
  .command('selftest')
  .description('health check: boot the board in virtual time with its demo sessions and check forwarding, replicas and conservation; exit 0 on a pass')
  .option('--board <name>', 'board (a sim board with demo sessions; others are checked on the embedded sim board)')
  .option('--json', 'print the report as one JSON line')
  .action(async (o: { board?: string; json?: boolean }) => {
    const { selftestCommand } = await import('./runtime/image/selftest.ts');
    await selftestCommand(o);
  });

// The remote device (firmware/peer/): register with routers, receive replicas, write pcapng.
program
  .command('peer')
  .description('the remote device: register with one or more routers over WCCPv2, ask for the packets a filter names, and write the replicas the routers send as pcapng (a file, or - for stdout: wireshark -k -i -); with --mode dup, hand them on instead: to the far end (--far-end) or into this machine\'s IP stack; with --mode redirect, be a transparent web cache: the designated WCCP cache, serving HTTP for the connections the router diverts')
  .requiredOption('--router <ipv4>', 'a router to register with (repeat for several)', (v: string, prev: string[] = []) => [...prev, v])
  .requiredOption('--match <expr>', 'the packets wanted, in tcpdump-style filter syntax')
  .option('--out <file>', 'pcapng file to write, or - for stdout (not with --mode race, nor dup, which hands the replicas on)')
  .option('--address <ipv4>', "this device's address (default: the one the kernel uses towards the first router)")
  .option('--service <id>', 'WCCP service group: 0..50 well-known, 51..255 dynamic', integer(0, 255), 90)
  .option('--password <text>', "the service group's MD5 password (at most 8 characters)")
  .addOption(new Option('--mode <mode>', 'what the router does with the packets').choices(['sniff', 'dup', 'race', 'redirect']).default('sniff'))
  .addOption(new Option('--encap <kind>', 'replica encapsulation (default: gre; gre-seq with --mode dup)').choices(['gre', 'erspan2', 'erspan3', 'gre-seq']))
  .option('--far-end <ipv4>', 'with --mode dup: the far-end eliminator; the router carries the originals to it and this peer relays its replicas there (tagged dup); without it the peer forwards the inner packets (untagged)')
  .option('--snaplen <bytes>', 'keep at most this many bytes of each packet (0: all, else 64..65535)', integer(0, 65535), 0)
  .option('--sample <n>', 'one replica in n matching packets', integer(1, 2 ** 32 - 1), 1)
  .option('--rate-pps <n>', 'at most this many replicas per second (0: no limit)', integer(0, 2 ** 32 - 1), 0)
  .option('--rate-bps <n>', 'at most this many replica bits per second (0: no limit)', integer(0, Number.MAX_SAFE_INTEGER), 0)
  .option('--lifetime <seconds>', 'the session ends by itself after this long (0: while registered)', integer(0, 2 ** 32 - 1), 0)
  .option('--label <text>', 'a name for the session on the router')
  .option('--duration <seconds>', 'stop by itself after this many seconds', integer(1, 86_400 * 365))
  .option('--count <n>', 'stop after writing this many replicas', integer(1, Number.MAX_SAFE_INTEGER))
  .option('--json', 'print the final counters as JSON (not with --out -)')
  // --mode redirect, the transparent cache (firmware/peer/redirect.ts).
  .option('--serve <dir>', 'with --mode redirect: serve the files under this directory (default: a short answer naming the cache)')
  .option('--bypass <expr>', 'with --mode redirect: diverted packets this filter matches go back to the router (WCCP GRE return) instead of being served')
  .option('--ports <list>', 'with --mode redirect and a dynamic --service: its TCP ports, comma-separated (at most 8); the cache listens on them')
  .option('--tun <name>', 'with --mode redirect: the TUN device the diverted packets enter this machine by (default: the kernel picks tunN)')
  .option('--table <n>', 'with --mode redirect: the routing table for the transparent path\'s local route (default 29798)', integer(1, 2 ** 32 - 1))
  .addOption(new Option('--router-port <port>', 'UDP port of the routers (tests)').argParser(integer(1, 65535)).hideHelp())
  .addOption(new Option('--port <port>', "this device's WCCP port (tests)").argParser(integer(1, 65535)).hideHelp())
  .action(async (o: Omit<import('./peer/command.ts').PeerOptions, 'router' | 'ratePps' | 'rateBps' | 'encap'> & { router: string[]; ratePps: number; rateBps: number; encap?: import('./peer/command.ts').PeerOptions['encap'] }) => {
    const { peerCommand } = await import('./peer/command.ts');
    await peerCommand({ ...o, encap: o.encap ?? (o.mode === 'dup' ? 'gre-seq' : 'gre') });
  });
// The far end of dup (firmware/peer/eliminate.ts): 802.1CB elimination of the GRE member streams,
// first copies delivered into this machine's IP stack through a TUN.
program
  .command('eliminate')
  .description("the far end of dup: take both member streams (GRE with key and sequence) from a raw socket, keep the first copy of each packet (802.1CB vector recovery) and deliver its inner packet into this machine's IP stack through a TUN device; counters per stream")
  .option('--address <ipv4>', 'take GRE addressed to this address only (default: any address of this machine)')
  .option('--from <ipv4>', 'accept member streams from this outer source only (repeat for each: router A, peer B; default: any)', (v: string, prev: string[] = []) => [...prev, v])
  .option('--tun <name>', 'the TUN device to create and deliver through (default: the kernel picks tunN)')
  .option('--history <packets>', 'history window, at least the paths\' skew in packets: 1..1024 (default 32)', integer(1, Number.MAX_SAFE_INTEGER))
  .option('--reset-ms <ms>', 'no packet accepted for this long resets a stream: its talker restarted (default 2000)', integer(1, 3_600_000))
  .option('--duration <seconds>', 'stop by itself after this many seconds', integer(1, 86_400 * 365))
  .option('--count <n>', 'stop after delivering this many packets', integer(1, Number.MAX_SAFE_INTEGER))
  .option('--json', 'print the final counters as JSON')
  .action(async (o: import('./peer/eliminate.ts').EliminateOptions) => {
    const { eliminateCommand } = await import('./peer/eliminate.ts');
    await eliminateCommand(o);
  });

// `twinflow ctl`: the management port's client; its commands live in firmware/shell/mgmt/ctl-command.ts.
const { addCtlCommand } = await import('./shell/mgmt/ctl-command.ts');
addCtlCommand(program);

/** A progress bar on stderr for large inputs when stderr is a terminal. */
function progressBar(input: string): { update: (done: number, total: number) => void; stop: () => void } | undefined {
  const LARGE = 32 << 20;
  if (!process.stderr.isTTY) return undefined;
  let size = 0;
  try { size = statSync(input).size; } catch { return undefined; }
  if (size < LARGE) return undefined;
  const bar = new SingleBar({ format: 'replay [{bar}] {percentage}% | {value}/{total} MiB | eta {eta}s', stream: process.stderr }, Presets.shades_classic);
  bar.start(Math.ceil(size / 1048576), 0);
  return {
    update: (done) => bar.update(Math.floor(done / 1048576)),
    stop: () => bar.stop(),
  };
}

try {
  await program.parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // Commander already printed its message; help and version are not errors.
    process.exitCode = e.code === 'commander.helpDisplayed' || e.code === 'commander.version' || e.code === 'commander.help' ? 0 : 2;
  } else {
    process.stderr.write(`twinflow: ${describeError(e)}\n`);
    process.exitCode = isUserError(e) ? 2 : 1;
  }
}
