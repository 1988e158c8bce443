// The router's IPv4 forwarding table (FIB) for the GRE return path, compiled from what the board
// declares, in the hot path's form (wasm/abi.ts FibEntry, wasm/forward/fib.ts): a list sorted
// most specific first, so the first entry that covers a destination is its longest match.
//
// Entries, for the ports of one line card (their index is the data plane's port index):
//   host   a declared neighbour (../net/neighbors.ts: static `neighbors`, a sim collector, a block
//          of sim hosts with consecutive MACs) → its port and MAC, as /32 routes;
//   subnet a port's connected subnet (`ipv4`) → that port; a host on it whom no neighbour entry
//          names has no known MAC (FibFlag.NoNeighbor: the return is dropped and counted, as an
//          unanswered ARP would leave it);
//   route  a static route (`routes`) → its port and its `via` neighbour's MAC (NoNeighbor when the
//          board names none); a route without `via` is directly reachable, like a subnet.
// Ports whose medium is the host's IP stack need no MAC (the kernel routes): their subnets and
// routes forward with a zero MAC. At equal length, hosts come before subnets and subnets before
// static routes (a connected subnet wins over a static route of the same length).
//
// Contract: the board is validated (boards/schema.json, firmware/runtime/board.ts); entries that
// would exceed ReturnLimits.MaxRoutes are refused at boot by validateBoard, which asks this file
// how many a board needs. Pure: nothing is cached, a changed board compiles anew.

import type { Board } from '../../runtime/board.ts';
import { parseIpv4, parseIpv4Prefix, parseMac } from '../../../hal/net/address.ts';
import { FibFlag } from '../../../wasm/abi.ts';
import { declaredNeighborMac, portNeighbors, ROUTED_MEDIA } from '../net/neighbors.ts';

/** One FIB entry: the addresses lo .. lo + width, ranked by `length` (a prefix length; hosts 32). */
export interface FibRoute {
  readonly lo: number;
  readonly width: number;
  readonly length: number;
  readonly port: number;
  readonly flags: number;
  /** The next hop's MAC (a host block: its first host's). */
  readonly mac: Uint8Array;
  /** The router's MAC on the port. */
  readonly routerMac: Uint8Array;
}

const NO_MAC = new Uint8Array(6);
const HOST_LENGTH = 32;

const widthOf = (length: number): number => (length === 0 ? 0xffffffff : (2 ** (32 - length)) - 1);

/**
 * The FIB of the line card whose ports are `cardPorts` (in the card's order), longest match
 * first. Ports not on the card, and routes through them, are left out.
 */
export function boardFib(board: Pick<Board, 'ports' | 'routes'>, cardPorts: readonly string[]): FibRoute[] {
  const hosts: FibRoute[] = [];
  const subnets: FibRoute[] = [];
  const statics: FibRoute[] = [];
  const portOf = (name: string) => board.ports.find((p) => p.name === name);
  cardPorts.forEach((name, index) => {
    const port = portOf(name);
    if (!port) return;
    const routerMac = parseMac(port.mac) ?? NO_MAC;
    for (const b of portNeighbors(port)) {
      hosts.push({ lo: b.first, width: b.count - 1, length: HOST_LENGTH, port: index, flags: b.count > 1 ? FibFlag.HostBlock : 0, mac: b.mac, routerMac });
    }
    const connected = port.ipv4 === undefined ? null : parseIpv4Prefix(port.ipv4);
    if (connected) {
      const routed = ROUTED_MEDIA.has(port.driver);
      subnets.push({ lo: connected.network, width: widthOf(connected.length), length: connected.length, port: index, flags: routed ? 0 : FibFlag.NoNeighbor, mac: NO_MAC, routerMac });
    }
  });
  for (const r of board.routes ?? []) {
    const index = cardPorts.indexOf(r.port);
    const port = portOf(r.port);
    const prefix = parseIpv4Prefix(r.prefix);
    if (index < 0 || !port || !prefix) continue;
    const routerMac = parseMac(port.mac) ?? NO_MAC;
    const via = r.via === undefined ? null : parseIpv4(r.via);
    let mac: Uint8Array | undefined = NO_MAC;
    if (!ROUTED_MEDIA.has(port.driver)) mac = via === null ? undefined : declaredNeighborMac(port, via);
    statics.push({ lo: prefix.network, width: widthOf(prefix.length), length: prefix.length, port: index, flags: mac ? 0 : FibFlag.NoNeighbor, mac: mac ?? NO_MAC, routerMac });
  }
  // Array.prototype.sort is stable: at equal length, hosts, then subnets, then static routes.
  return [...hosts, ...subnets, ...statics].sort((a, b) => b.length - a.length);
}
