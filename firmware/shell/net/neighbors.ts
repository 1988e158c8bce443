// The neighbours a board declares on a port: who answers at which MAC, without ARP. Three
// sources, in this order: the port's static `neighbors` (address → MAC), the collector plugged
// into a sim port (its address and MAC), and the blocks of simulated clients or servers on a sim
// port (host i: firstAddress + i at MAC mac + i, hal/drivers/sim/hosts.ts).
//
// Contract: board files are validated by their schema, but sim endpoints are checked in full only
// when their driver starts; an endpoint whose fields do not have the expected types is ignored
// here (it names nobody), never trusted. A host block on a VLAN is ignored too: a frame for it
// would need the tag, and the router's forwarding sends untagged frames.

import type { BoardPort } from '../../runtime/board.ts';
import { macPlus, parseIpv4, parseMac } from '../../../hal/net/address.ts';
import { MAX_HOSTS } from '../../../hal/drivers/sim/hosts.ts';

/** Drivers whose medium routes by IP itself (the host's stack): a next hop's MAC is never used. */
export const ROUTED_MEDIA: ReadonlySet<string> = new Set(['host']);

/** A run of hosts with consecutive addresses and MACs (count 1: a single neighbour). */
export interface NeighborBlock {
  readonly first: number;
  readonly count: number;
  /** MAC of the first host; host i has this + i. */
  readonly mac: Uint8Array;
}

/** The neighbours a port declares, as blocks: static entries first, then its sim endpoint's hosts. */
export function portNeighbors(port: BoardPort): NeighborBlock[] {
  const out: NeighborBlock[] = [];
  for (const [address, mac] of Object.entries(port.neighbors ?? {})) {
    const a = parseIpv4(address);
    const m = parseMac(mac);
    if (a !== null && m !== null) out.push({ first: a, count: 1, mac: m });
  }
  const e = port.endpoint;
  if (port.driver !== 'sim' || !e) return out;
  if (e.kind === 'collector') {
    const a = typeof e.address === 'string' ? parseIpv4(e.address) : null;
    const m = typeof e.mac === 'string' ? parseMac(e.mac) : null;
    if (a !== null && m !== null) out.push({ first: a, count: 1, mac: m });
  } else if ((e.kind === 'clients' || e.kind === 'servers') && e.vlan === undefined) {
    const a = typeof e.firstAddress === 'string' ? parseIpv4(e.firstAddress) : null;
    const m = typeof e.mac === 'string' ? parseMac(e.mac) : null;
    const n = e.count;
    if (a !== null && m !== null && typeof n === 'number' && Number.isInteger(n) && n >= 1 && n <= MAX_HOSTS && a + n - 1 <= 0xffffffff) {
      out.push({ first: a, count: n, mac: m });
    }
  }
  return out;
}

/** The MAC a port's declared neighbours give `address`, if any (the first source that names it). */
export function declaredNeighborMac(port: BoardPort, address: number): Uint8Array | undefined {
  for (const b of portNeighbors(port)) {
    const i = address - b.first;
    if (i >= 0 && i < b.count) return b.count === 1 ? b.mac : macPlus(b.mac, i);
  }
  return undefined;
}

