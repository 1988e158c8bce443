// A twinflow router in its own network namespace, wired to hosts in theirs: the end-to-end jobs'
// common topology. The router runs as the real command (`twinflow boot --board B --config C`) on a
// generated linux board whose ports are veth ends bound through AF_PACKET.
//
// The linux board is a bump in the wire: each port forwards to its cross-connect, byte for byte
// (hosts on both sides share a subnet, as with a transparent inline router); the router's own
// addresses (WCCP, management) are held by the router namespace's kernel on the ports that face
// devices, so the kernel answers ARP and hands WCCP and management traffic to the router's sockets,
// while IP forwarding in that namespace stays off (twinflow forwards, the kernel never does).
// Offloads are off on every veth end (docs/drivers.md: a sender with checksum offload produces
// frames a router cannot forward). MACs are fixed, so the board can name the devices' MACs as
// static neighbours.
//
// A port faces one host on a veth pair, or a *segment*: a Linux bridge in a namespace of its own (a
// switch) holding the router's port and several hosts, each with its own MAC, all of them board
// neighbours of that port (a LAN with clients and a cache on it, as in a classic WCCP deployment).
//
// Every wait is bounded; the lab (test/net/netns.ts) deletes namespaces, links and processes.

import fs from 'node:fs';
import path from 'node:path';
import type { Background, Link, NetLab, Netns } from '../net/netns.ts';
import { generateKeyFile } from '../../firmware/shell/mgmt/keyfile.ts';
import { TWINFLOW_BIN } from '../fixtures/process.ts';
import type { FaultConfig } from '../../hal/drivers/fault/config.ts';

export const ROUTER_BOOT_MS = 30_000;

export interface HostSpec {
  /** Short tag for names ("client", "server", "sniffer"). */
  readonly tag: string;
  /** The host's address with its prefix length ("10.0.0.1/24"). */
  readonly ipv4: string;
  /** The host's default gateway, if any. */
  readonly gateway?: string;
  /** Extra routes: destination prefix → gateway. */
  readonly routes?: Readonly<Record<string, string>>;
  /** An existing namespace to put the link in (a host with several links). */
  readonly ns?: Netns;
  /** MTU of the host's own end (default: the port's). */
  readonly mtu?: number;
}

export interface PortSpec {
  /** Router port name (board). */
  readonly name: string;
  /** The one host on the far side of the port's link; or, instead, */
  readonly host?: HostSpec;
  /** … the hosts of a bridged segment (a switch namespace between the port and them). */
  readonly segment?: readonly HostSpec[];
  readonly side: 'inside' | 'outside';
  /** Wire mode: originals received here leave by this port. */
  readonly crossConnect?: string;
  /** The router's own address on this port, held by the router namespace's kernel (a.b.c.d/len). */
  readonly routerIpv4?: string;
  readonly fault?: FaultConfig;
  readonly mtu?: number;
}

export interface RouterSpec {
  readonly ports: readonly PortSpec[];
  /** Configuration fields (docs/config.md) other than management, which is generated. */
  readonly config: Record<string, unknown>;
  /** Extra static routes of the board (prefix → port, optional next hop). */
  readonly routes?: ReadonlyArray<{ prefix: string; port: string; via?: string }>;
  /** Extra board neighbours: port → address → MAC (the hosts of every port are added). */
  readonly neighbors?: Readonly<Record<string, Readonly<Record<string, string>>>>;
  /** `--trace` taps: port → file name in the lab's directory. */
  readonly traces?: readonly string[];
  /**
   * Addresses (a.b.c.d/32) the router namespace's kernel holds on its loopback: a router ID that
   * devices on several ports reach through their port's router address, as on a real router.
   */
  readonly loopback?: readonly string[];
}

export interface Host {
  readonly ns: Netns;
  readonly link: Link;
  readonly address: string;
  readonly mac: string;
}

export interface RunningRouter {
  readonly ns: Netns;
  readonly process: Background;
  readonly hosts: Readonly<Record<string, Host>>;
  /** Router-side links by port name. */
  readonly ports: Readonly<Record<string, Link>>;
  /** The switch of each port that faces a segment: its namespace and bridge. */
  readonly switches: Readonly<Record<string, { readonly ns: Netns; readonly bridge: Link }>>;
  readonly dir: string;
  readonly keyFile: string;
  readonly managementAddress: string;
  /** Runs `twinflow ctl … --json COMMAND ARGS` from the router namespace and parses the answer. */
  ctl(...args: string[]): Promise<unknown>;
  /** A trace file's path (one of `traces`). */
  trace(port: string): string;
  stop(): Promise<void>;
}

let macSeq = 0;
const mac = (role: number, i: number): string => `02:74:66:${role.toString(16).padStart(2, '0')}:${(macSeq >> 8 & 0xff).toString(16).padStart(2, '0')}:${(i & 0xff).toString(16).padStart(2, '0')}`;
const bare = (cidr: string): string => cidr.split('/')[0];

/** Builds the namespaces and links, writes the board and configuration, boots the router. */
export async function startRouter(lab: NetLab, spec: RouterSpec): Promise<RunningRouter> {
  macSeq++;
  const ns = lab.netns('router');
  ns.sysctl('net.ipv4.ip_forward', 0);
  for (const a of spec.loopback ?? []) ns.link('lo').addAddress(a);
  const dir = lab.tempDir();
  const hosts: Record<string, Host> = {};
  const ports: Record<string, Link> = {};
  const switches: Record<string, { ns: Netns; bridge: Link }> = {};
  const boardPorts: Record<string, unknown>[] = [];
  /** MAC, MTU, up, offloads off: every veth end of the topology. */
  const prepare = (l: Link, m: string | null, mtu: number | undefined): void => {
    l.down();
    if (m !== null) l.setMac(m);
    if (mtu !== undefined) l.mtu(mtu);
    l.up();
    l.noOffloads();
  };
  /** A host's end of its link: address and routes; it becomes one of the router's hosts. */
  const attach = (h: HostSpec, hostNs: Netns, hostEnd: Link, hostMac: string): void => {
    hostEnd.addAddress(h.ipv4);
    if (h.gateway) hostNs.route('default', { gateway: h.gateway });
    for (const [dst, gw] of Object.entries(h.routes ?? {})) hostNs.route(dst, { gateway: gw });
    hosts[h.tag] = { ns: hostNs, link: hostEnd, address: bare(h.ipv4), mac: hostMac };
  };
  spec.ports.forEach((p, i) => {
    if ((p.host === undefined) === (p.segment === undefined) || p.segment?.length === 0) {
      throw new Error(`topology: port ${p.name} needs either a host or a segment of hosts`);
    }
    const routerMac = mac(0x10, i);
    const neighbors: Record<string, string> = {};
    let routerEnd: Link;
    if (p.host !== undefined) {
      const hostNs = p.host.ns ?? lab.netns(p.host.tag);
      const [r, hostEnd] = lab.veth({ ns, tag: `r${i}` }, { ns: hostNs, tag: p.host.tag.slice(0, 4) });
      routerEnd = r;
      const hostMac = mac(0x20, i);
      prepare(routerEnd, routerMac, p.mtu);
      prepare(hostEnd, hostMac, p.host.mtu ?? p.mtu);
      attach(p.host, hostNs, hostEnd, hostMac);
      neighbors[bare(p.host.ipv4)] = hostMac;
    } else {
      // The switch: a bridge whose ports are the router's link and one link per host.
      const sw = lab.netns(`${p.name}-switch`);
      const bridge = sw.link(lab.ifname('br'));
      sw.ip('link', 'add', 'name', bridge.name, 'type', 'bridge');
      const [r, uplink] = lab.veth({ ns, tag: `r${i}` }, { ns: sw, tag: `u${i}` });
      routerEnd = r;
      prepare(routerEnd, routerMac, p.mtu);
      prepare(uplink, null, p.mtu);
      sw.ip('link', 'set', 'dev', uplink.name, 'master', bridge.name);
      p.segment!.forEach((h, j) => {
        const hostNs = h.ns ?? lab.netns(h.tag);
        const [swEnd, hostEnd] = lab.veth({ ns: sw, tag: `s${i}${j}` }, { ns: hostNs, tag: h.tag.slice(0, 4) });
        const hostMac = mac(0x30 + j, i);
        prepare(swEnd, null, p.mtu);
        prepare(hostEnd, hostMac, h.mtu ?? p.mtu);
        sw.ip('link', 'set', 'dev', swEnd.name, 'master', bridge.name);
        attach(h, hostNs, hostEnd, hostMac);
        neighbors[bare(h.ipv4)] = hostMac;
      });
      bridge.up();
      switches[p.name] = { ns: sw, bridge };
    }
    if (p.routerIpv4) routerEnd.addAddress(p.routerIpv4);
    ports[p.name] = routerEnd;
    boardPorts.push({
      name: p.name, driver: 'linux', interface: routerEnd.name, side: p.side, mtu: p.mtu ?? 1500, mac: routerMac,
      ...(p.crossConnect ? { crossConnect: p.crossConnect } : {}),
      ...(p.routerIpv4 ? { ipv4: p.routerIpv4 } : {}),
      neighbors: { ...neighbors, ...(spec.neighbors?.[p.name] ?? {}) },
      ...(p.fault ? { fault: p.fault } : {}),
    });
  });
  const board = {
    name: 'netns',
    description: 'a twinflow router in a network namespace, its ports veth ends (test/e2e/topology.ts)',
    memoryBudgetMiB: 64,
    frames: { size: 2048, headroom: 128, rx: 4096, replica: 2048 },
    rings: { rx: 256, tx: 256 },
    tableMiB: 4,
    flowCache: 4096,
    batch: 64,
    limits: { sessions: 64, peers: 32 },
    ports: boardPorts,
    ...(spec.routes ? { routes: spec.routes } : {}),
    lineCards: [{ name: 'lc0', ports: spec.ports.map((p) => p.name) }],
  };
  const boardFile = path.join(dir, 'board.json');
  fs.writeFileSync(boardFile, JSON.stringify(board, null, 2));
  const keyFile = path.join(dir, 'mgmt.key');
  generateKeyFile(keyFile);
  const managementPort = 9650;
  const wccpAddress = (spec.config.wccp as { address: string }).address;
  const configFile = path.join(dir, 'router.json');
  fs.writeFileSync(configFile, JSON.stringify({ ...spec.config, management: { address: wccpAddress, port: managementPort, keyFile } }, null, 2));
  const traces = (spec.traces ?? []).flatMap((port) => ['--trace', `${port}=${path.join(dir, `${port}.pcapng`)}`]);
  const proc = ns.spawn([process.execPath, TWINFLOW_BIN, 'boot', '--board', boardFile, '--config', configFile, ...traces], { stopSignal: 'SIGINT' });
  await proc.waitFor(/router up: WCCP/, ROUTER_BOOT_MS);
  const managementAddress = `${wccpAddress}:${managementPort}`;
  return {
    ns, process: proc, hosts, ports, switches, dir, keyFile, managementAddress,
    async ctl(...args: string[]) {
      const r = await ns.run([process.execPath, TWINFLOW_BIN, 'ctl', '--connect', managementAddress, '--key', keyFile, '--json', ...args], { timeoutMs: 60_000 });
      if (r.status !== 0) throw new Error(`ctl ${args.join(' ')}: ${r.stderr}`);
      return JSON.parse(r.stdout) as unknown;
    },
    trace: (port: string) => path.join(dir, `${port}.pcapng`),
    async stop() {
      await proc.stop();
    },
  };
}
