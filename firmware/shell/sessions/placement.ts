// Where a device's replicas leave the router: the port, the outer addresses and the next hop's
// MAC, resolved from the board like a routing table. A device on a port's connected subnet is
// reached directly; otherwise the longest static route that covers it names the port and the
// next hop. The next hop's MAC comes from the port's static neighbours, from a learned
// neighbour table (when the runtime has one), or from the simulated hosts plugged into a sim
// port (../net/neighbors.ts); a port whose medium is the host's own IP stack needs none (the
// kernel routes). The GRE return path's FIB (../tables/fib.ts) resolves next hops the same way.
//
// Contract: every failure is a SessionError naming the session and the field (`device` — or the
// caller's name for the address, `farEnd` for a dup session's eliminator — or `port`) with what to change in the board; nothing is cached, so a board or neighbour change
// applies to the next compile.

import type { Board, BoardPort } from '../../runtime/board.ts';
import { formatIpv4, parseIpv4, parseIpv4Prefix, parseMac, prefixContains, type Ipv4Prefix } from '../net/address.ts';
import { declaredNeighborMac, ROUTED_MEDIA } from '../net/neighbors.ts';
import { SessionError } from './compile.ts';
import type { Placement, PlacementResolver } from './manager.ts';

/** Looks up a MAC learned on a port (an ARP table), if the runtime keeps one. */
export type NeighborLookup = (port: string, address: number) => Uint8Array | undefined;

const NO_MAC = new Uint8Array(6);

interface PortRoute {
  readonly port: BoardPort;
  readonly index: number;
  readonly prefix: Ipv4Prefix;
  readonly via?: number;
}

/**
 * A resolver for the ports of one line card (`cardPorts`, in the card's port order: the index
 * the data plane uses).
 */
export function boardPlacement(board: Board, cardPorts: readonly string[], neighbors?: NeighborLookup): PlacementResolver {
  const onCard = (name: string): number => cardPorts.indexOf(name);
  const connected: PortRoute[] = [];
  for (const name of cardPorts) {
    const port = board.ports.find((p) => p.name === name)!;
    if (port.ipv4 !== undefined) connected.push({ port, index: onCard(name), prefix: parseIpv4Prefix(port.ipv4) });
  }
  const routes: PortRoute[] = [];
  for (const r of board.routes ?? []) {
    const index = onCard(r.port);
    if (index < 0) continue;
    routes.push({ port: board.ports.find((p) => p.name === r.port)!, index, prefix: parseIpv4Prefix(r.prefix), via: r.via === undefined ? undefined : parseIpv4(r.via) });
  }
  const longest = (list: readonly PortRoute[], address: number, port?: string): PortRoute | undefined =>
    list.filter((r) => prefixContains(r.prefix, address) && (port === undefined || r.port.name === port))
      .sort((a, b) => b.prefix.length - a.prefix.length)[0];

  return (device: string, portName: string | undefined, session: string, field = 'device'): Placement => {
    let address: number;
    try {
      address = parseIpv4(device);
    } catch (e) {
      throw new SessionError(session, field, (e as Error).message);
    }
    if (portName !== undefined && onCard(portName) < 0) {
      throw new SessionError(session, 'port', board.ports.some((p) => p.name === portName)
        ? `port "${portName}" is not on this line card`
        : `no port named "${portName}" (ports: ${cardPorts.join(', ')})`);
    }
    const hop = longest(connected, address, portName) ?? longest(routes, address, portName);
    if (!hop) {
      throw new SessionError(session, portName === undefined ? field : 'port',
        `${device} is on no connected subnet${portName === undefined ? '' : ` of port "${portName}"`} and no static route covers it: add a route to the board`);
    }
    const port = hop.port;
    if (port.ipv4 === undefined) throw new SessionError(session, 'port', `port "${port.name}" has no address (ipv4) to send replicas from`);
    const nextHop = hop.via ?? address;
    const mac = nextHopMac(port, nextHop, neighbors);
    if (!mac) {
      throw new SessionError(session, field, `no MAC known for next hop ${formatIpv4(nextHop)} on port "${port.name}": add it to the port's neighbors`);
    }
    return {
      port: port.name,
      portIndex: hop.index,
      mtu: port.mtu,
      source: { ip: parseIpv4Prefix(port.ipv4).address, mac: parseMac(port.mac) },
      destinationMac: mac,
    };
  };
}

function nextHopMac(port: BoardPort, address: number, neighbors?: NeighborLookup): Uint8Array | undefined {
  if (ROUTED_MEDIA.has(port.driver)) return NO_MAC;
  const configured = port.neighbors?.[formatIpv4(address)];
  if (configured !== undefined) return parseMac(configured);
  return neighbors?.(port.name, address) ?? declaredNeighborMac(port, address);
}
