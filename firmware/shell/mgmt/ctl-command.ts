// `twinflow ctl`: the operator's client of the management port. One command per method
// (docs/management.md lists them), each one connection: connect and authenticate (TLS-PSK with
// --key), one request, print the answer as a table (or JSON with --json), close.
//
// Errors a user can cause (a bad argument, a refused request, a key the router does not accept,
// a router that cannot be reached) are user errors: one line on stderr, exit status 2 (cli.ts).
// A refusal that names a parameter is reported under the option that set it ("--snaplen: must
// be <= 65535"). Heavy modules (TLS client, MessagePack) load only when a command runs.

import { Command, InvalidArgumentError, Option } from 'commander';
import { readFileSync } from 'node:fs';
import type { PacketDescription, PolicyRule } from '../control.ts';

/** The management port's conventional TCP port (docs/config.md: management.port). */
export const DEFAULT_MANAGEMENT_PORT = 9650;

/** A command line that cannot become a request: a user error. */
export class CtlUsageError extends Error {
  override readonly name = 'CtlUsageError';
}

interface GlobalOptions {
  readonly connect?: string;
  readonly key?: string;
  readonly json?: boolean;
  readonly timeout?: number;
}

function wholeNumber(text: string): number {
  if (!/^\d+$/.test(text)) throw new InvalidArgumentError(`expected a whole number, got "${text}"`);
  return Number(text);
}

/** ADDR[:PORT]; ADDR may be an IPv6 address in brackets ([::1]:9650) or bare without a port. */
export function parseEndpoint(text: string): { host: string; port: number } {
  let host = text;
  let port = String(DEFAULT_MANAGEMENT_PORT);
  const bracket = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
  if (bracket) {
    host = bracket[1];
    if (bracket[2] !== undefined) port = bracket[2];
  } else if ((text.match(/:/g) ?? []).length === 1) {
    [host, port] = text.split(':');
  }
  if (host === '') throw new CtlUsageError(`--connect "${text}": no address (expected ADDR[:PORT])`);
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) throw new CtlUsageError(`--connect "${text}": port must be 1..65535`);
  return { host, port: Number(port) };
}

/** How a refused parameter is named on this command line: params field prefix → option. */
type FieldNames = ReadonlyArray<readonly [string, string]>;

function renameField(message: string, field: string | undefined, names: FieldNames): string {
  if (!field) return message;
  const bare = field.replace(/^params\./, '');
  for (const [prefix, option] of names) {
    if (bare === prefix || bare.startsWith(`${prefix}.`)) {
      const body = message.startsWith(`${field}: `) ? message.slice(field.length + 2) : message;
      return `${option}: ${body}`;
    }
  }
  return message;
}

/**
 * Connects, makes one call, prints its answer; every failure becomes one user-error line. `then`
 * continues on the same connection with the first answer (multi-request work such as an upload)
 * and its result is what is printed.
 */
async function remote(cmd: Command, method: string, params: Record<string, unknown>, render: (result: never) => string, names: FieldNames = [],
  then?: (call: (method: string, params: Record<string, unknown>) => Promise<unknown>, first: never) => Promise<unknown>): Promise<void> {
  const g = cmd.optsWithGlobals<GlobalOptions>();
  if (!g.connect) throw new CtlUsageError('--connect ADDR[:PORT] is required (the router\'s management address)');
  if (!g.key) throw new CtlUsageError('--key FILE is required (the management key file; see `twinflow ctl keygen`)');
  const { host, port } = parseEndpoint(g.connect);
  const [{ ManagementClient }, { ManagementError }, { toJson }] = await Promise.all([
    import('./client.ts'), import('./protocol.ts'), import('./ctl-format.ts'),
  ]);
  const timeoutMs = (g.timeout ?? 30) * 1000;
  const client = await ManagementClient.connect(host, port, g.key, { connectTimeoutMs: timeoutMs, callTimeoutMs: timeoutMs });
  let result: unknown;
  let current = method;
  try {
    result = await client.call(method, params);
    if (then) {
      result = await then((m, p) => { current = m; return client.call(m, p); }, result as never);
    }
  } catch (e) {
    if (e instanceof ManagementError) throw new ManagementError(e.code, e.field, `${current}: ${renameField(e.message, e.field, names)}`);
    throw e;
  } finally {
    await client.close();
  }
  process.stdout.write(g.json ? toJson(result) : render(result as never));
}

const fmt = (): Promise<typeof import('./ctl-format.ts')> => import('./ctl-format.ts');

/** `policy --set FILE`: one rule per line, "permit FILTER" or "deny FILTER"; '#' starts a comment line. */
export function readPolicyFile(file: string): { rules: PolicyRule[]; lines: number[] } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new CtlUsageError(`${file}: cannot be read (${(e as { code?: string }).code ?? (e as Error).message})`);
  }
  const rules: PolicyRule[] = [];
  const lines: number[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^(permit|deny)\s+(.+)$/.exec(line);
    if (!m) throw new CtlUsageError(`${file}:${i + 1}: expected "permit FILTER" or "deny FILTER"`);
    rules.push({ action: m[1] as 'permit' | 'deny', filter: m[2] });
    lines.push(i + 1);
  });
  return { rules, lines };
}

/** Back-off of an upload the management port rate-limited: a token comes back every 50 ms. */
const UPLOAD_RETRY_MS = 60;

const LIMIT_KEYS = ['sessions', 'peers', 'snaplenMin', 'snaplenMax', 'maxRatePps', 'maxRateBps'];

function parseLimitSettings(settings: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of settings) {
    const m = /^([A-Za-z]+)=(\d+)$/.exec(s);
    if (!m) throw new CtlUsageError(`--set "${s}": expected key=value with a whole number (keys: ${LIMIT_KEYS.join(', ')})`);
    out[m[1]] = Number(m[2]);
  }
  return out;
}

export function addCtlCommand(program: Command): void {
  const ctl = program
    .command('ctl')
    // ctl's own options (--json, --connect ...) are recognised after its command too
    // (`ctl --connect A --key K status --json`), although the program's options are positional.
    .enablePositionalOptions(false)
    .description('manage a running router over its management port (TLS-PSK): sessions, allowlists, policy, limits, counters, explain, save/load')
    .option('--connect <addr[:port]>', `the router's management address (default port ${DEFAULT_MANAGEMENT_PORT})`)
    .option('--key <file>', 'management key file (identity and pre-shared key; see `ctl keygen`)')
    .option('--json', 'print the answer as JSON (for scripts)')
    .option('--timeout <seconds>', 'give up after this many seconds', (t) => {
      const v = wholeNumber(t);
      if (v < 1 || v > 3600) throw new InvalidArgumentError('must be 1..3600');
      return v;
    });

  ctl.command('keygen')
    .description('create a new key file (random 256-bit key, mode 0600); never overwrites')
    .argument('<file>', 'key file to create')
    .option('--identity <name>', 'the PSK identity the key is known by', 'operator')
    .action(async (file: string, o: { identity: string }, cmd: Command) => {
      const { generateKeyFile } = await import('./keyfile.ts');
      const key = generateKeyFile(file, o.identity);
      if (cmd.optsWithGlobals<GlobalOptions>().json) process.stdout.write(`${JSON.stringify({ file, identity: key.identity })}\n`);
      else process.stdout.write(`wrote ${file} (identity ${key.identity}); the router and every ctl user need this file, mode 0600\n`);
    });

  ctl.command('status').description('board, version, uptime, table version')
    .action(async (_o, cmd: Command) => remote(cmd, 'status', {}, (await fmt()).formatStatus));

  ctl.command('counters').description('every counter: ports, sessions, drivers, WCCP, management')
    .action(async (_o, cmd: Command) => remote(cmd, 'counters', {}, (await fmt()).formatCounters));

  ctl.command('sessions').description('list sessions with their counters')
    .action(async (_o, cmd: Command) => remote(cmd, 'sessions.list', {}, (await fmt()).formatSessions));

  const session = ctl.command('session').description('add or delete a static session');
  session.command('add')
    .description('add a static session')
    .argument('<name>', 'session name')
    .addOption(new Option('--mode <mode>', 'what the device gets').choices(['sniff', 'dup', 'race']).makeOptionMandatory())
    .requiredOption('--filter <expr>', 'packets of interest, in tcpdump-style filter syntax')
    .requiredOption('--device <ipv4>', 'address of the device that receives the replicas')
    .option('--port <name>', 'board port the replicas leave by (default: the port facing the device)')
    .addOption(new Option('--encap <kind>', 'replica encapsulation').choices(['gre', 'erspan2', 'erspan3', 'gre-seq']))
    .option('--snaplen <bytes>', 'keep at most this many bytes of each packet (0: all)', wholeNumber)
    .option('--sample <n>', 'replicate one in n matching packets', wholeNumber)
    .option('--rate-pps <pps>', 'at most this many replicas per second (0: unlimited)', wholeNumber)
    .option('--rate-bps <bps>', 'at most this many replica bits per second (0: unlimited)', wholeNumber)
    .option('--lifetime <seconds>', 'end the session after this long (0: never)', wholeNumber)
    .option('--require-registration', 'hold replicas until the device registers over WCCP')
    .action(async (name: string, o: Record<string, unknown>, cmd: Command) => {
      const spec: Record<string, unknown> = { name, mode: o.mode, filter: o.filter, device: o.device };
      const optional: Array<[string, string]> = [['port', 'port'], ['encap', 'encap'], ['snaplen', 'snaplen'], ['sample', 'sample'], ['ratePps', 'ratePps'], ['rateBps', 'rateBps'], ['lifetime', 'lifetime']];
      for (const [key, opt] of optional) if (o[opt] !== undefined) spec[key] = o[opt];
      if (o.requireRegistration) spec.requireRegistration = true;
      const names: FieldNames = [
        ['spec.name', 'NAME'], ['spec.mode', '--mode'], ['spec.filter', '--filter'], ['spec.device', '--device'], ['spec.port', '--port'],
        ['spec.encap', '--encap'], ['spec.snaplen', '--snaplen'], ['spec.sample', '--sample'], ['spec.ratePps', '--rate-pps'],
        ['spec.rateBps', '--rate-bps'], ['spec.lifetime', '--lifetime'], ['spec.requireRegistration', '--require-registration'],
      ];
      const { formatSessions } = await fmt();
      await remote(cmd, 'sessions.add', { spec }, (s: never) => `session ${name} added\n${formatSessions([s])}`, names);
    });
  session.command('del')
    .description('delete a static session (deleting an absent one is a no-op)')
    .argument('<name>', 'session name')
    .action(async (name: string, _o, cmd: Command) => remote(cmd, 'sessions.delete', { name },
      (r: { deleted: boolean }) => (r.deleted ? `session ${name} deleted\n` : `no session named ${name}: nothing deleted\n`), [['name', 'NAME']]));

  ctl.command('allowlist')
    .description('show (or with --set, replace) the addresses allowed to register with a WCCP service group')
    .argument('<service>', 'service group id (0..255)', wholeNumber)
    .option('--set <prefixes>', 'comma-separated addresses or prefixes ("" for none)')
    .action(async (service: number, o: { set?: string }, cmd: Command) => {
      const { formatAllowlist } = await fmt();
      if (o.set === undefined) {
        await remote(cmd, 'allowlist.get', { service }, (l: { prefixes: string[] }) => formatAllowlist(service, l.prefixes), [['service', 'SERVICE']]);
        return;
      }
      const prefixes = o.set.split(',').map((p) => p.trim()).filter((p) => p !== '');
      await remote(cmd, 'allowlist.set', { list: { service, prefixes } },
        () => `service ${service} allowlist set\n${formatAllowlist(service, prefixes)}`,
        [['list.service', 'SERVICE'], ...prefixes.map((p, i) => [`list.prefixes.${i}`, `--set (${p})`] as const), ['list.prefixes', '--set']]);
    });

  ctl.command('policy')
    .description('show (or with --set FILE, replace) the forwarding policy')
    .option('--set <file>', 'rules, one per line: "permit FILTER" or "deny FILTER" (first match decides)')
    .action(async (o: { set?: string }, cmd: Command) => {
      const { formatPolicy } = await fmt();
      if (o.set === undefined) {
        await remote(cmd, 'policy.get', {}, formatPolicy);
        return;
      }
      const file = o.set;
      const { rules, lines } = readPolicyFile(file);
      await remote(cmd, 'policy.set', { rules }, () => `policy set: ${rules.length} rule${rules.length === 1 ? '' : 's'}\n${formatPolicy(rules)}`,
        [...lines.map((line, i) => [`rules.${i}`, `${file}:${line}`] as const), ['rules', file]]);
    });

  ctl.command('limits')
    .description('show (or with --set key=value..., change) the router\'s limits')
    .option('--set <key=value...>', `limits to change (${LIMIT_KEYS.join(', ')})`)
    .action(async (o: { set?: string[] }, cmd: Command) => {
      const { formatLimits } = await fmt();
      if (o.set === undefined) {
        await remote(cmd, 'limits.get', {}, formatLimits);
        return;
      }
      const limits = parseLimitSettings(o.set);
      const names: FieldNames = [...Object.keys(limits).map((k) => [`limits.${k}`, `--set ${k}`] as const), ['limits', '--set']];
      await remote(cmd, 'limits.set', { limits }, formatLimits, names);
    });

  ctl.command('services').description('WCCP service groups and their caches')
    .action(async (_o, cmd: Command) => remote(cmd, 'services.list', {}, (await fmt()).formatServices));

  ctl.command('explain')
    .description('run the data plane on a described packet: verdict, matching sessions, counters touched')
    .requiredOption('--port <name>', 'router port the packet arrives on')
    .addOption(new Option('--proto <proto>', 'transport').choices(['tcp', 'udp', 'icmp']).makeOptionMandatory())
    .requiredOption('--src <addr>', 'source address')
    .requiredOption('--dst <addr>', 'destination address')
    .option('--sport <port>', 'source port', wholeNumber)
    .option('--dport <port>', 'destination port', wholeNumber)
    .option('--vlan <id>', '802.1Q tag', wholeNumber)
    .option('--length <bytes>', "the IP packet's length, headers included", wholeNumber)
    .action(async (o: PacketDescription, cmd: Command) => {
      const packet: Record<string, unknown> = { port: o.port, proto: o.proto, src: o.src, dst: o.dst };
      for (const k of ['sport', 'dport', 'vlan', 'length'] as const) if (o[k] !== undefined) packet[k] = o[k];
      await remote(cmd, 'explain', { packet }, (await fmt()).formatExplain,
        (['port', 'proto', 'src', 'dst', 'sport', 'dport', 'vlan', 'length'] as const).map((k) => [`packet.${k}`, `--${k}`] as const));
    });

  ctl.command('save').description('write the running state to the router\'s state file')
    .action(async (_o, cmd: Command) => remote(cmd, 'config.save', {}, (r: { path: string; bytes: number }) => `saved ${r.bytes} bytes to ${r.path}\n`));

  ctl.command('load').description('re-read the router\'s state file and apply it')
    .action(async (_o, cmd: Command) => remote(cmd, 'config.load', {}, (r: { path: string; bytes: number }) => `loaded ${r.path} (${r.bytes} bytes)\n`));

  const image = ctl.command('image').description('firmware images on the router');
  image.command('upload')
    .description('upload a signed firmware image; the router verifies it and writes its inactive A/B slot, tried (health-checked) at the next boot')
    .argument('<file>', 'image file (twinflow image build)')
    .action(async (file: string, _o, cmd: Command) => {
      let bytes: Uint8Array;
      try {
        bytes = readFileSync(file);
      } catch (e) {
        throw new CtlUsageError(`${file}: cannot be read (${(e as { code?: string }).code ?? (e as Error).message})`);
      }
      await remote(cmd, 'image.begin', { size: bytes.length }, (r: { slot: string; version: string; board: string; bytes: number }) =>
        `image ${r.version} for board ${r.board} (${r.bytes} bytes) written into slot ${r.slot}; it is tried at the next boot\n`,
      [['size', file], ['image', file], ['data', file], ['offset', file]], async (call, begun: { chunk: number }) => {
        const { ManagementError: Refused } = await import('./protocol.ts');
        for (let at = 0; at < bytes.length; at += begun.chunk) {
          const params = { offset: at, data: bytes.subarray(at, Math.min(bytes.length, at + begun.chunk)) };
          // The port's request rate bounds a large upload: wait for the bucket and send again.
          for (;;) {
            try {
              await call('image.chunk', params);
              break;
            } catch (e) {
              if (!(e instanceof Refused) || e.code !== 'rate_limited') throw e;
              await new Promise((resolve) => setTimeout(resolve, UPLOAD_RETRY_MS));
            }
          }
        }
        return call('image.flash', {});
      });
    });
}
