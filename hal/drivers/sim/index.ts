// Public surface of the `sim` board's simulated hosts: client and server groups that talk to each
// other through the router, the collector that receives replicas, and the packet, address and
// randomness helpers they are built from. The port driver that plugs an endpoint into a router
// port is driver.ts; each concept lives in its own file, whose header states its contract.

export type { SimEndpoint } from './endpoint.ts';
export { SimPortDriver } from './driver.ts';
export { ClientGroup, DEFAULT_BURST, DEFAULT_RETRANSMIT_TIMEOUT_MS, EPHEMERAL_FIRST, EPHEMERAL_LAST, MAX_RETRANSMITS } from './clients.ts';
export type { ClientGroupConfig } from './clients.ts';
export { ServerGroup, DEFAULT_QUEUE_CAPACITY, DEFAULT_SERVER_BURST } from './servers.ts';
export type { ServerGroupConfig } from './servers.ts';
export { Collector, MAX_KEEP, MAX_STREAMS } from './collector.ts';
export type { CollectorConfig, ReceivedReplica } from './collector.ts';
export { decapsulateGre, Erspan, Gre, GreProtocol, WccpRedirect } from './decap.ts';
export type { DecapFailure, Decapsulated, ReplicaEncap } from './decap.ts';
export { SimConfigError } from './config.ts';
export { HostBlock, MAX_HOSTS } from './hosts.ts';
export {
  buildFrame, Eth, EtherType, Icmp, IpProto, Ipv4, Ipv6, parseIp, parseLink, parseSegment, pseudoHeaderSum, Tcp, TcpFlag, Udp, Vlan,
} from './packets.ts';
export type { FrameSpec, IcmpSpec, IpView, LinkView, SegmentView, TcpSpec, UdpSpec } from './packets.ts';
export { LINK_MTU, MAX_PAYLOAD_BYTES, MIN_PAYLOAD_BYTES, MSS_IPV4, MSS_IPV6, patternPayload, REQUEST_ID_BYTES } from './protocol.ts';
export { mix32, XorShift32 } from '../../prng.ts';
export { formatIpv4, formatIpv6, formatMac, parseIpv4, parseIpv6, parseMac } from '../../net/address.ts';
export { be16, be32, checksumOf, onesSum, put16, put32 } from '../../net/bytes.ts';
