// The `twinflow` command. Each subcommand is a thin shell over the runtime and the control plane,
// loaded when the subcommand runs (so `--help` and small jobs start fast). Errors a user can cause
// (a bad file, filter, number or board) print one clear line to stderr and exit with status 2; an
// internal failure exits with 1.

import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { Presets, SingleBar } from 'cli-progress';
import { readFileSync, statSync } from 'node:fs';
import { describeError, isUserError } from './errors.ts';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

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
  .version(pkg.version)
  .showHelpAfterError('(run with --help for usage)')
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
  .option('--duration <seconds>', 'stop by itself after this many seconds', integer(1, 86_400))
  .option('--json', 'print the final counters as JSON')
  .action(async (o: { board: string; demo?: boolean; duration?: number; json?: boolean }) => {
    const { bootCommand } = await import('./runtime/boot.ts');
    await bootCommand(o);
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
