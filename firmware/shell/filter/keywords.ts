// The parts of tcpdump's filter language that twinflow does not implement, with the reason
// (and, where one exists, the supported spelling) that the error message gives.
//
// Contract: a word listed here is rejected wherever a term may start, never silently read as
// something else; the parser points at it. Words tcpdump does not know at all get the
// parser's "unknown word" error instead.

const LINK_LAYER = 'link-layer and non-IP protocols are not classified';
const NOT_IN_KEY = 'the classification key has no such field';
const WIRELESS = '802.11 fields are not classified';
const PF_LOG = 'pflog fields exist only in captures, not on a router';
const ATM_SS7 = 'ATM and SS7 fields are not classified';
const withProto = (number: string) => `write '${number}'`;

/** Keyword → why it is unsupported. */
export const UNSUPPORTED_KEYWORDS: ReadonlyMap<string, string> = new Map([
  ...[
    'ether', 'fddi', 'tr', 'wlan', 'ppp', 'slip', 'link', 'arp', 'rarp', 'decnet', 'lat', 'sca',
    'moprc', 'mopdl', 'iso', 'esis', 'es-is', 'isis', 'is-is', 'l1', 'l2', 'iih', 'lsp', 'snp',
    'csnp', 'psnp', 'clnp', 'stp', 'ipx', 'netbeui', 'atalk', 'aarp', 'llc', 'mpls', 'pppoed',
    'pppoes', 'geneve', 'vxlan', 'radio',
  ].map((w) => [w, `'${w}' (${LINK_LAYER})`] as const),
  ...['gateway', 'less', 'greater', 'len', 'broadcast', 'multicast', 'protochain', 'ifindex'].map(
    (w) => [w, `'${w}' (${NOT_IN_KEY})`] as const,
  ),
  ...['type', 'subtype', 'dir', 'addr1', 'addr2', 'addr3', 'addr4', 'ra', 'ta', 'bssid'].map(
    (w) => [w, `'${w}' (${WIRELESS})`] as const,
  ),
  ...['ifname', 'on', 'rnr', 'rulenum', 'srnr', 'subrulenum', 'reason', 'rset', 'ruleset', 'action'].map(
    (w) => [w, `'${w}' (${PF_LOG})`] as const,
  ),
  ...[
    'lane', 'oamf4', 'oamf4ec', 'oamf4sc', 'oam', 'metac', 'bcc', 'sc', 'ilmic', 'metaconnect',
    'connectmsg', 'vpi', 'vci', 'fisu', 'lssu', 'msu', 'hfisu', 'hlssu', 'hmsu', 'sio', 'opc',
    'dpc', 'sls', 'hsio', 'hopc', 'hdpc', 'hsls',
  ].map((w) => [w, `'${w}' (${ATM_SS7})`] as const),
  ['igmp', `'igmp' as a term; ${withProto('ip proto 2')}`],
  ['igrp', `'igrp' as a term; ${withProto('ip proto 9')}`],
  ['pim', `'pim' as a term; ${withProto('proto 103')}`],
  ['vrrp', `'vrrp' as a term; ${withProto('ip proto 112')}`],
  ['carp', `'carp' as a term; ${withProto('ip proto 112')}`],
  ['ah', `'ah' as a term; ${withProto('proto 51')}`],
  ['esp', `'esp' as a term; ${withProto('proto 50')}`],
]);

/** Why a symbol token is unsupported where a term or operator was expected. */
export function unsupportedSymbolReason(symbol: string): string {
  return symbol === '['
    ? "byte offsets (like tcp[13]); filter on the fields the key has"
    : `'${symbol}' (arithmetic, relations and byte offsets are not part of this filter language)`;
}
