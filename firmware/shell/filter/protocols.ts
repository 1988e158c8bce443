// IP protocol names accepted after `proto` (`ip proto \tcp`, `proto gre`).
//
// Contract: a fixed table (IANA protocol numbers as /etc/protocols spells them), no lookup on
// the host. tcpdump needs a backslash before names that are also keywords (`\tcp`); both
// spellings are accepted here, since after `proto` a name cannot mean anything else.

/** Protocol name → IP protocol number (IPv4 protocol field, IPv6 upper-layer next header). */
export const PROTOCOL_NUMBERS: ReadonlyMap<string, number> = new Map([
  ['icmp', 1],
  ['igmp', 2],
  ['ipip', 4],
  ['ipencap', 4],
  ['tcp', 6],
  ['egp', 8],
  ['igp', 9],
  ['udp', 17],
  ['ipv6', 41],
  ['rsvp', 46],
  ['gre', 47],
  ['esp', 50],
  ['ah', 51],
  ['icmp6', 58],
  ['ipv6-icmp', 58],
  ['eigrp', 88],
  ['ospf', 89],
  ['pim', 103],
  ['vrrp', 112],
  ['l2tp', 115],
  ['sctp', 132],
  ['udplite', 136],
]);

/** The protocols that carry ports in the classification key. */
export const PORT_PROTOCOLS = { tcp: 6, udp: 17, sctp: 132 } as const;
