// Boards as data: a board file (boards/<name>.json) says which ports exist, what drives each,
// which line card owns which port, and the memory, ring and table budgets. It is validated at
// boot against boards/schema.json (JSON Schema, checked with Ajv) and then for what a schema
// cannot say (references between ports, line-card coverage, whether the budgets fit); every
// error names the file and the field. The schema is imported (not read from disk), so a bundled
// runtime (a firmware image, which carries no boards/ directory) validates boards too.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ErrorObject } from 'ajv';
import addFormats from 'ajv-formats';
import { DEFAULT_CONNTRACK_ENTRIES, planMemory, MemoryBudgetError, type DataPlaneSpec } from './dataplane.ts';
import { parseIpv4Prefix, prefixContains } from '../../hal/net/address.ts';
import { handoffNeeds } from './workers/layout.ts';
import SCHEMA from '../../boards/schema.json' with { type: 'json' };
import { boardFib } from '../shell/tables/fib.ts';
import { ReturnLimits } from '../../wasm/abi.ts';
import type { FaultConfig } from '../../hal/drivers/fault/config.ts';

export const BOARDS_DIR = fileURLToPath(new URL('../../boards/', import.meta.url));

export class BoardError extends Error {
  override readonly name = 'BoardError';
  constructor(readonly file: string, readonly field: string, detail: string) {
    super(`${file}: ${field || '(top level)'}: ${detail}`);
  }
}

export interface EndpointConfig {
  readonly kind: 'clients' | 'servers' | 'collector';
  readonly [key: string]: unknown;
}

export interface BoardPort {
  readonly name: string;
  readonly driver: 'sim' | 'linux' | 'pcap' | 'host';
  readonly side: 'inside' | 'outside';
  readonly mtu: number;
  readonly mac: string;
  /** The router's address on the port with its connected subnet ("192.0.2.1/24"). */
  readonly ipv4?: string;
  /** Static neighbour entries: IPv4 address → MAC. */
  readonly neighbors?: Readonly<Record<string, string>>;
  readonly crossConnect?: string;
  readonly interface?: string;
  readonly endpoint?: EndpointConfig;
  /** The router runs without this port (down, counted) when its medium cannot be opened. */
  readonly optional?: boolean;
  /** Impairments on the port (hal/drivers/fault: seeded drop, corrupt, duplicate, delay per direction). */
  readonly fault?: FaultConfig;
}

export interface DemoSession {
  readonly name: string;
  readonly mode?: 'sniff' | 'dup' | 'race' | 'redirect';
  readonly filter: string;
  readonly port: string;
  readonly device: string;
  readonly deviceMac?: string;
  readonly encap?: 'gre' | 'erspan2' | 'erspan3';
  readonly snaplen?: number;
  readonly sample?: number;
  readonly ratePps?: number;
}

export interface Board {
  readonly file: string;
  readonly name: string;
  readonly description: string;
  readonly memoryBudgetMiB: number;
  readonly frames: { readonly size: number; readonly headroom: number; readonly rx: number; readonly replica: number };
  readonly rings: { readonly rx: number; readonly tx: number };
  readonly tableMiB: number;
  readonly flowCache?: number;
  /** Race connection-table entries per line card (power of two, or 0: nothing is raced). */
  readonly conntrack?: number;
  readonly batch?: number;
  readonly limits?: { readonly sessions?: number; readonly rules?: number; readonly peers?: number; readonly snaplenMin?: number; readonly snaplenMax?: number };
  readonly management?: { readonly address?: string; readonly port?: number; readonly metricsPort?: number };
  readonly ports: readonly BoardPort[];
  readonly routes?: ReadonlyArray<{ readonly prefix: string; readonly port: string; readonly via?: string }>;
  readonly lineCards: ReadonlyArray<{ readonly name: string; readonly ports: readonly string[] }>;
  readonly demo?: readonly DemoSession[];
}

const ajv = new Ajv({ allErrors: false, strict: true });
addFormats.default(ajv, ['ipv4']);
const validateSchema = ajv.compile(SCHEMA);

function schemaMessage(e: ErrorObject): [string, string] {
  const field = e.instancePath.replace(/^\//, '').replace(/\//g, '.') || '';
  if (e.keyword === 'additionalProperties') {
    const extra = (e.params as { additionalProperty: string }).additionalProperty;
    return [field ? `${field}.${extra}` : extra, 'unknown field (misspelt?)'];
  }
  if (e.keyword === 'required') {
    const missing = (e.params as { missingProperty: string }).missingProperty;
    return [field ? `${field}.${missing}` : missing, 'is required'];
  }
  if (e.keyword === 'enum') return [field, `${e.message}: ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`];
  return [field, e.message ?? 'is invalid'];
}

/** Resolves a board name (boards/<name>.json) or a path to a board file. */
export function boardPath(nameOrPath: string): string {
  if (nameOrPath.includes('/') || nameOrPath.endsWith('.json')) return path.resolve(nameOrPath);
  return path.join(BOARDS_DIR, `${nameOrPath}.json`);
}

/** Reads and validates a board; throws BoardError naming the field. */
export function loadBoard(nameOrPath: string): Board {
  const file = boardPath(nameOrPath);
  const shown = path.relative(process.cwd(), file) || file;
  if (!existsSync(file)) throw new BoardError(shown, '', `no such board file (boards: ${listBoards().join(', ')})`);
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new BoardError(shown, '', `not valid JSON: ${(e as Error).message}`);
  }
  return validateBoard(data, shown);
}

/** Validates board data (schema, then cross-references and budgets). */
export function validateBoard(data: unknown, file = 'board'): Board {
  if (!validateSchema(data)) {
    const [field, detail] = schemaMessage(validateSchema.errors![0]);
    throw new BoardError(file, field, detail);
  }
  const board = { ...(data as Omit<Board, 'file'>), file };
  const names = new Map<string, number>();
  board.ports.forEach((p, i) => {
    if (names.has(p.name)) throw new BoardError(file, `ports.${i}.name`, `"${p.name}" is used by two ports`);
    names.set(p.name, i);
  });
  board.ports.forEach((p, i) => {
    if (p.crossConnect !== undefined) {
      if (!names.has(p.crossConnect)) throw new BoardError(file, `ports.${i}.crossConnect`, `no port named "${p.crossConnect}"`);
      if (p.crossConnect === p.name) throw new BoardError(file, `ports.${i}.crossConnect`, 'a port cannot forward to itself');
    }
    if (p.ipv4 !== undefined) {
      const prefix = parseIpv4Prefix(p.ipv4);
      if (prefix === null) throw new BoardError(file, `ports.${i}.ipv4`, `"${p.ipv4}" is not an address with a prefix length (a.b.c.d/len, len 0..32)`);
      if (prefix.length === 32) throw new BoardError(file, `ports.${i}.ipv4`, 'a /32 leaves no connected subnet; give the subnet length (a.b.c.d/24, say)');
    }
    if (p.driver === 'sim' && !p.endpoint) throw new BoardError(file, `ports.${i}.endpoint`, 'a sim port needs an endpoint (clients, servers or collector)');
    if (p.driver === 'linux' && !p.interface) throw new BoardError(file, `ports.${i}.interface`, 'a linux port needs the interface to bind');
  });
  (board.routes ?? []).forEach((r, i) => {
    const prefix = parseIpv4Prefix(r.prefix);
    if (prefix === null || prefix.address !== prefix.network) throw new BoardError(file, `routes.${i}.prefix`, `"${r.prefix}" is not a network prefix (a.b.c.d/len with the host bits zero)`);
    const port = names.get(r.port);
    if (port === undefined) throw new BoardError(file, `routes.${i}.port`, `no port named "${r.port}"`);
    if (r.via !== undefined) {
      const connected = board.ports[port].ipv4 !== undefined ? parseIpv4Prefix(board.ports[port].ipv4!) : null;
      const via = parseIpv4Prefix(r.via)!;
      if (connected === null || !prefixContains(connected, via.address)) throw new BoardError(file, `routes.${i}.via`, `${r.via} is not on port "${r.port}"'s connected subnet`);
    }
  });
  const fib = boardFib(board, board.ports.map((p) => p.name)).length;
  if (fib > ReturnLimits.MaxRoutes) {
    throw new BoardError(file, 'routes', `the forwarding table (connected subnets, routes and the ports' neighbours) would hold ${fib} entries; at most ${ReturnLimits.MaxRoutes}`);
  }
  const owner = new Map<string, string>();
  board.lineCards.forEach((lc, c) => {
    lc.ports.forEach((name, k) => {
      if (!names.has(name)) throw new BoardError(file, `lineCards.${c}.ports.${k}`, `no port named "${name}"`);
      if (owner.has(name)) throw new BoardError(file, `lineCards.${c}.ports.${k}`, `port "${name}" is already owned by line card "${owner.get(name)}"`);
      owner.set(name, lc.name);
    });
  });
  for (const p of board.ports) {
    if (!owner.has(p.name)) throw new BoardError(file, 'lineCards', `port "${p.name}" belongs to no line card`);
  }
  const l = board.limits ?? {};
  if (l.snaplenMin !== undefined && l.snaplenMax !== undefined && l.snaplenMin > l.snaplenMax) {
    throw new BoardError(file, 'limits.snaplenMin', 'is larger than limits.snaplenMax');
  }
  (board.demo ?? []).forEach((d, i) => {
    if (!names.has(d.port)) throw new BoardError(file, `demo.${i}.port`, `no port named "${d.port}"`);
  });
  board.lineCards.forEach((lc, c) => {
    for (const [spec, what] of [[dataPlaneSpec, ''], [workerCardSpec, `line card "${lc.name}" as a worker thread (every port, hand-off frames and rings): `]] as const) {
      try {
        planMemory(spec(board, c), 0);
      } catch (e) {
        if (e instanceof MemoryBudgetError) throw new BoardError(file, 'memoryBudgetMiB', what + e.message);
        if (e instanceof RangeError) throw new BoardError(file, 'frames', what + e.message);
        throw e;
      }
    }
  });
  return board;
}

/** The data-plane spec of one line card of a board (ports in the card's order). */
export function dataPlaneSpec(board: Omit<Board, 'file'> & { file?: string }, card = 0): DataPlaneSpec {
  const lc = board.lineCards[card];
  const index = new Map(lc.ports.map((name, i) => [name, i]));
  const ports = lc.ports.map((name) => {
    const p = board.ports.find((q) => q.name === name)!;
    // A cross-connect to a port on another card is not wire-mode forwarding within this card.
    const peer = p.crossConnect !== undefined ? index.get(p.crossConnect) ?? null : null;
    return { name, crossConnect: peer, mtu: p.mtu, side: p.side };
  });
  return {
    ports,
    rxRing: board.rings.rx,
    txRing: board.rings.tx,
    rxFrames: board.frames.rx,
    replicaFrames: board.frames.replica,
    frameSize: board.frames.size,
    headroom: board.frames.headroom,
    sessionSlots: board.limits?.sessions ?? 64,
    bankBytes: Math.ceil(board.tableMiB * 1048576 / 64) * 64,
    flowCacheEntries: board.flowCache ?? 4096,
    conntrackEntries: board.conntrack ?? DEFAULT_CONNTRACK_ENTRIES,
    batchMax: board.batch ?? 256,
    ioBytes: 1 << 20,
    memoryBudget: board.memoryBudgetMiB * 1048576,
  };
}

/**
 * The data-plane spec of line card `card` when the board's cards run as worker threads
 * (firmware/runtime/workers/): every card has every port, in board order (a flow may arrive on
 * any port and leave by any), so table port indices are board port indices; and a card of a
 * multi-card board has the frames it lends to the cross-card hand-off rings and the io bytes
 * those rings take (workers/layout.ts).
 */
export function workerCardSpec(board: Omit<Board, 'file'> & { file?: string }, card: number): DataPlaneSpec {
  const single = dataPlaneSpec(board, card);
  const index = new Map(board.ports.map((p, i) => [p.name, i]));
  const needs = handoffNeeds(board, card);
  return {
    ...single,
    ports: board.ports.map((p) => ({
      name: p.name,
      crossConnect: p.crossConnect !== undefined ? index.get(p.crossConnect)! : null,
      mtu: p.mtu,
      side: p.side,
    })),
    rxFrames: single.rxFrames + needs.rxFrames,
    replicaFrames: single.replicaFrames + needs.replicaFrames,
    ioBytes: needs.ioBytes,
  };
}

/** Names of the boards shipped in boards/ (none in a bundled runtime, which has no boards/). */
export function listBoards(): string[] {
  if (!existsSync(BOARDS_DIR)) return [];
  return readdirSync(BOARDS_DIR).filter((f) => f.endsWith('.json') && f !== 'schema.json').map((f) => f.slice(0, -5)).sort();
}
