// A peer's registration with its routers, the same for every `twinflow peer` mode (sniff and race:
// command.ts; dup.ts; redirect.ts): the address this machine registers from, and the WCCPv2
// device (firmware/shell/wccp/device.ts) that registers it and keeps the registration alive. A mode
// gives only what is its own: the service group it joins and the replication request it sends.
//
// Contract: the options are already checked (checkOptions); an address that is one of the routers'
// on the routers' WCCP port is refused with a PeerOptionError naming --address; the device joins
// at once (fastJoin) and reports each router's state changes and its log through the mode's `say`.
// Building the device opens nothing (its socket opens in start()) and throws the device's
// WccpConfigError for an option it cannot use.

import dgram from 'node:dgram';
import { once } from 'node:events';
import { WccpDevice, type RouterLinkState, type WccpDeviceService } from '../shell/wccp/device.ts';
import type { ReplicationRequest } from '../shell/wccp/extension.ts';
import { MAX_WELL_KNOWN_SERVICE_ID, WCCP_PORT } from '../shell/wccp/constants.ts';
import type { PeerOptions } from './command.ts';
import { PeerOptionError } from './errors.ts';

/** The local address the kernel would send to `router` from (what the router sees us as). */
export async function addressTowards(router: string, port: number): Promise<string> {
  const s = dgram.createSocket('udp4');
  try {
    s.connect(port, router);
    await once(s, 'connect');
    return s.address().address;
  } finally {
    s.close();
  }
}

/**
 * The address the peer registers from: --address, or the one it would send to the first router
 * from. `advice` ends the refusal when that address is a router's own (say what to give instead).
 */
export async function registrationAddress(o: PeerOptions, advice: string): Promise<string> {
  const routerPort = o.routerPort ?? WCCP_PORT;
  const address = o.address ?? await addressTowards(o.router[0], routerPort);
  if (o.router.includes(address) && (o.port ?? WCCP_PORT) === routerPort) {
    throw new PeerOptionError(`--address: the router ${address} is this machine's own address; ${advice}`);
  }
  return address;
}

/** The service group of a mode that names it by --service alone: a well-known id is a standard service, any other a dynamic one. */
export function serviceById(id: number): WccpDeviceService {
  return { id, type: id <= MAX_WELL_KNOWN_SERVICE_ID ? 'standard' : 'dynamic' };
}

/** What a mode registers with: its address (registrationAddress), service group and request, and where its lines go. */
export interface PeerRegistration {
  readonly address: string;
  readonly service: WccpDeviceService;
  readonly request: ReplicationRequest;
  readonly say: (line: string) => void;
}

/** The device that registers with the routers of `o` (--router, --router-port, --port, --password). */
export function peerDevice(o: PeerOptions, r: PeerRegistration): WccpDevice {
  return new WccpDevice({
    address: r.address,
    ...(o.port !== undefined ? { port: o.port } : {}),
    routers: o.router,
    routerPort: o.routerPort ?? WCCP_PORT,
    service: r.service,
    ...(o.password !== undefined ? { password: o.password } : {}),
    request: r.request,
    fastJoin: true,
    onState: (router: string, state: RouterLinkState) => r.say(`router ${router}: ${state}`),
    log: r.say,
  });
}
