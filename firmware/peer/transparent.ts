// The policy routing that makes this machine a *transparent* cache. The packets a router diverts
// to a WCCP cache are addressed to the origin servers, not to the cache; delivered through the
// cache's TUN (tun-delivery.ts) the kernel would route them on (or drop them) rather than hand
// them to a local socket. Two entries fix that, for packets that arrive on the TUN only:
//
//   ip -4 route add local 0.0.0.0/0 dev lo table T      every destination is local, in table T
//   ip -4 rule add iif TUN lookup T priority P           … for what arrives on the TUN
//
// Everything else this machine receives or sends still uses its ordinary routes (the cache's own
// requests to origins, its answers to clients, ARP). A listening socket with IP_TRANSPARENT (the
// addon's openTransparentListener) then accepts the diverted connections and may answer from the
// origin's address.
//
// Why spawn iproute2: a host tool, run once at start and once at exit; netlink from the addon
// would be more code for the same two entries. Contract: setUp() adds both entries or neither
// (the route is removed again when the rule cannot be added) and throws TransparentRoutingError
// naming the command and what `ip` said; close() removes exactly what setUp() added, each once,
// and returns what it could not remove (it never throws: it runs on the way out). Needs
// CAP_NET_ADMIN. Bounded: each command has IP_TIMEOUT_MS.

import { spawnSync } from 'node:child_process';

/** Default routing table for the `local` route: "tf" in ASCII, unlikely to be an operator's. */
export const DEFAULT_TABLE = 0x7466;
/**
 * Priority of the rule: just after the `local` table's rule (0), ahead of any operator rule that
 * might send the TUN's packets elsewhere, so diverted packets are delivered whatever else policy
 * routing does.
 */
export const RULE_PRIORITY = 100;
/** Tables the kernel reserves (unspec 0, default 253, main 254, local 255). */
export const RESERVED_TABLES: ReadonlySet<number> = new Set([0, 253, 254, 255]);
/** `ip` answers in milliseconds; a loaded machine gets this long. */
const IP_TIMEOUT_MS = 10_000;

/** Setting up the policy routing failed (the message names the command and what ip said). */
export class TransparentRoutingError extends Error {
  override readonly name = 'TransparentRoutingError';
}

/** Runs `ip ARGS`; returns null on success, else what went wrong. Injectable for tests. */
export type IpRunner = (args: readonly string[]) => string | null;

export const runIp: IpRunner = (args) => {
  const r = spawnSync('ip', args, { encoding: 'utf8', timeout: IP_TIMEOUT_MS });
  if (r.error) return (r.error as NodeJS.ErrnoException).code === 'ENOENT' ? 'ip (iproute2) is not installed' : r.error.message;
  if (r.status !== 0) return r.stderr.trim() || `exit ${r.status ?? r.signal}`;
  return null;
};

export class TransparentRouting {
  private readonly route: readonly string[];
  private readonly rule: readonly string[];
  private added: Array<readonly string[]> = [];

  private constructor(readonly tun: string, readonly table: number, private readonly ip: IpRunner) {
    this.route = ['-4', 'route', '%', 'local', '0.0.0.0/0', 'dev', 'lo', 'table', String(table)];
    this.rule = ['-4', 'rule', '%', 'iif', tun, 'lookup', String(table), 'priority', String(RULE_PRIORITY)];
  }

  /** Adds the route and the rule for `tun`; throws TransparentRoutingError (nothing left behind). */
  static setUp(tun: string, table: number, ip: IpRunner = runIp): TransparentRouting {
    const t = new TransparentRouting(tun, table, ip);
    t.add(t.route, `table ${table} already has a default route (another cache, or one left behind by a cache that was killed): remove it with "ip -4 route del local 0.0.0.0/0 dev lo table ${table}" or choose another table with --table`);
    try {
      t.add(t.rule, '');
    } catch (e) {
      t.close();
      throw e;
    }
    return t;
  }

  /** The commands that undo setUp, in the order close() runs them (for the operator's notes). */
  undo(): string[] {
    return [...this.added].reverse().map((a) => `ip ${verb(a, 'del').join(' ')}`);
  }

  /** Removes what setUp added (rule first, then route); returns what could not be removed. */
  close(): string[] {
    const problems: string[] = [];
    for (const args of [...this.added].reverse()) {
      const why = this.ip(verb(args, 'del'));
      if (why !== null) problems.push(`ip ${verb(args, 'del').join(' ')}: ${why}`);
    }
    this.added = [];
    return problems;
  }

  private add(args: readonly string[], ifExists: string): void {
    const why = this.ip(verb(args, 'add'));
    if (why !== null) {
      const exists = /exists/i.test(why);
      throw new TransparentRoutingError(`policy routing: ip ${verb(args, 'add').join(' ')}: ${why}${exists && ifExists ? `; ${ifExists}` : ''}`);
    }
    this.added.push(args);
  }
}

function verb(args: readonly string[], v: 'add' | 'del'): string[] {
  return args.map((a) => (a === '%' ? v : a));
}
