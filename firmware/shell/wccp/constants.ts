// WCCPv2 numbers: message and component types, sizes, flags, and the limits of our extension.
//
// Contract: data plus two pure lookup helpers (componentName, ownValue). Every number the codec
// compares against or writes lives here with the sentence of draft-wilson-wrec-wccp-v2-03 (or
// the rev1 note from Wireshark's packet-wccp.c) that defines it; the other modules never spell a
// bare protocol number.
// Sizes are in bytes and never include the 4-byte component header unless the name says so.

/** "Each WCCP protocol message is carried in a UDP packet with a destination port of 2048." */
export const WCCP_PORT = 2048;

/** Message header Version: "0x200". rev1 peers may announce 0x0201; we speak 0x0200 only. */
export const WCCP_VERSION = 0x0200;

/** Message header: Type (4), Version (2), Length (2). "Length of the WCCP message not including the WCCP Message Header." */
export const MESSAGE_HEADER_SIZE = 8;
/** Byte offset of the header's Length field. */
export const HEADER_LENGTH_OFFSET = 6;
/** The header's Length is a u16: the components of one message total at most this. */
export const MAX_MESSAGE_BODY = 0xffff;
/** Largest UDP payload over IPv4 (65535 − 20 IPv4 − 8 UDP); an encoded message must fit. */
export const MAX_DATAGRAM_SIZE = 65507;

/** Component header: Type (2), Length (2). "the length value does not include the 4-octet component header." */
export const COMPONENT_HEADER_SIZE = 4;
/** "Components are padded to align on a four-octet boundary." */
export const COMPONENT_ALIGNMENT = 4;
/** A component's Length is a u16. */
export const MAX_COMPONENT_LENGTH = 0xffff;

/** Message types (32-bit). WCCPv1 used 7, 8 and 9. */
export const MessageType = {
  HereIAm: 10,
  ISeeYou: 11,
  RedirectAssign: 12,
  RemovalQuery: 13,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** Message names as the draft spells them; used in every error message. */
export const MESSAGE_NAMES: Readonly<Record<MessageType, string>> = {
  [MessageType.HereIAm]: 'HERE_I_AM',
  [MessageType.ISeeYou]: 'I_SEE_YOU',
  [MessageType.RedirectAssign]: 'REDIRECT_ASSIGN',
  [MessageType.RemovalQuery]: 'REMOVAL_QUERY',
};

/** Component types (16-bit). 16 and 17 are rev1 additions known from Wireshark. */
export const ComponentType = {
  SecurityInfo: 0,
  ServiceInfo: 1,
  RouterIdentityInfo: 2,
  WebCacheIdentityInfo: 3,
  RouterViewInfo: 4,
  WebCacheViewInfo: 5,
  AssignmentInfo: 6,
  RouterQueryInfo: 7,
  CapabilitiesInfo: 8,
  AlternateAssignment: 13,
  AssignmentMap: 14,
  CommandExtension: 15,
  AlternateAssignmentMap: 16,
  AddressTable: 17,
} as const;
export type ComponentType = (typeof ComponentType)[keyof typeof ComponentType];

/** Component names as Wireshark shows them, so errors and tshark output read alike. */
export const COMPONENT_NAMES: Readonly<Record<number, string>> = {
  [ComponentType.SecurityInfo]: 'Security Info',
  [ComponentType.ServiceInfo]: 'Service Info',
  [ComponentType.RouterIdentityInfo]: 'Router Identity Info',
  [ComponentType.WebCacheIdentityInfo]: 'Web-Cache Identity Info',
  [ComponentType.RouterViewInfo]: 'Router View Info',
  [ComponentType.WebCacheViewInfo]: 'Web-Cache View Info',
  [ComponentType.AssignmentInfo]: 'Assignment Info',
  [ComponentType.RouterQueryInfo]: 'Router Query Info',
  [ComponentType.CapabilitiesInfo]: 'Capabilities Info',
  [ComponentType.AlternateAssignment]: 'Alternate Assignment',
  [ComponentType.AssignmentMap]: 'Assignment Map',
  [ComponentType.CommandExtension]: 'Command Extension',
  [ComponentType.AlternateAssignmentMap]: 'Alternate Assignment Map',
  [ComponentType.AddressTable]: 'Address Table',
};

/**
 * `table[key]` if `key` is the table's own property, else undefined: lookups by names that come
 * from callers never reach Object.prototype ("constructor", "toString").
 */
export function ownValue<V>(table: Readonly<Record<string, V>>, key: string): V | undefined {
  return Object.prototype.hasOwnProperty.call(table, key) ? table[key] : undefined;
}

/** Name of a component type for messages; unknown types read "component type N". */
export function componentName(type: number): string {
  return ownValue(COMPONENT_NAMES, String(type)) ?? `component type ${type}`;
}

// ── Security Info ───────────────────────────────────────────────────────────────────────────

export const SecurityOption = { None: 0, Md5: 1 } as const;
export type SecurityOption = (typeof SecurityOption)[keyof typeof SecurityOption];
/** Security Option (4) alone. */
export const SECURITY_NONE_LENGTH = 4;
/** "If Security Option has the value WCCP2_MD5_SECURITY this is a 16-octet field". */
export const MD5_DIGEST_SIZE = 16;
export const SECURITY_MD5_LENGTH = SECURITY_NONE_LENGTH + MD5_DIGEST_SIZE;
/** "The maximum password length is 8 octets." ... "padded out to 8 octets with trailing zeros". */
export const MD5_PASSWORD_SIZE = 8;
/**
 * Where the digest sits in a datagram: the Security component is first in every message layout
 * (the decoder enforces it), so header (8) + component header (4) + option (4).
 */
export const MD5_DIGEST_OFFSET = MESSAGE_HEADER_SIZE + COMPONENT_HEADER_SIZE + SECURITY_NONE_LENGTH;

// ── Service Info ────────────────────────────────────────────────────────────────────────────

export const ServiceType = { Standard: 0, Dynamic: 1 } as const;
export type ServiceType = (typeof ServiceType)[keyof typeof ServiceType];
/** "Port 0-7": eight u16 ports. */
export const SERVICE_PORT_COUNT = 8;
/** Service Type, ID, Priority, Protocol (4) + Service Flags (4) + 8 ports (16). */
export const SERVICE_INFO_LENGTH = 4 + 4 + 2 * SERVICE_PORT_COUNT;
/** "For well known services numbers in the range 0-50 are reserved." 0 is HTTP ("web-cache"). */
export const WEB_CACHE_SERVICE_ID = 0;
export const MAX_WELL_KNOWN_SERVICE_ID = 50;

/** Service Flags (32-bit). Bits 0xFFFFF000 are reserved. */
export const ServiceFlag = {
  SrcIpHash: 0x0001,
  DstIpHash: 0x0002,
  SrcPortHash: 0x0004,
  DstPortHash: 0x0008,
  PortsDefined: 0x0010,
  PortsSource: 0x0020,
  /** rev1: "redirect only protocol 0". */
  RedirectOnlyProtocol0: 0x0040,
  SrcIpAltHash: 0x0100,
  DstIpAltHash: 0x0200,
  SrcPortAltHash: 0x0400,
  DstPortAltHash: 0x0800,
} as const;
export const PRIMARY_HASH_FLAGS =
  ServiceFlag.SrcIpHash | ServiceFlag.DstIpHash | ServiceFlag.SrcPortHash | ServiceFlag.DstPortHash;
export const ALTERNATE_HASH_FLAGS =
  ServiceFlag.SrcIpAltHash | ServiceFlag.DstIpAltHash | ServiceFlag.SrcPortAltHash | ServiceFlag.DstPortAltHash;

// ── Elements ────────────────────────────────────────────────────────────────────────────────

/** An IPv4 address (or, with a rev1 Address Table, a 32-bit table index). */
export const ADDRESS_SIZE = 4;
/** Router ID Element: Router ID (4), Receive ID (4). */
export const ROUTER_ID_ELEMENT_SIZE = 8;
/** Assignment Key Element: Key IP Address (4), Key Change Number (4). */
export const ASSIGNMENT_KEY_SIZE = 8;
/** Router Assignment Element: Router ID (4), Receive ID (4), Change Number (4). */
export const ROUTER_ASSIGNMENT_ELEMENT_SIZE = 12;
/** Mask Element: src-addr mask (4), dst-addr mask (4), src-port mask (2), dst-port mask (2). */
export const MASK_ELEMENT_SIZE = 12;
/** Value Element: src addr (4), dst addr (4), src port (2), dst port (2), cache IP (4). */
export const VALUE_ELEMENT_SIZE = 16;
/** Mask/Value Set Element without values: Mask Element (12) + number of values (4). */
export const MASK_VALUE_SET_MIN_SIZE = MASK_ELEMENT_SIZE + 4;
/** A count field (u32) in front of every list. */
export const COUNT_SIZE = 4;

/** Web-Cache Identity Element head: WC Address (4), Hash Revision (2), Flags (2). */
export const WEB_CACHE_ELEMENT_HEAD_SIZE = 8;
/** Hash Assignment Data: "256-bit vector" (32), then Assignment Weight (2) and Status (2). */
export const BUCKET_BITMAP_SIZE = 32;
/** The smallest Web-Cache Identity Element (assignment data type "none"). */
export const WEB_CACHE_ELEMENT_MIN_SIZE = WEB_CACHE_ELEMENT_HEAD_SIZE;

/** Web-Cache Identity Element flags as Squid and Wireshark use them (rev1 semantics, low bits). */
export const WebCacheFlag = {
  /** U: "the web cache does not have an assignment ... Bucket Block data is historical." */
  Historical: 0x0001,
  /** Two bits: the assignment data type that follows. */
  AssignmentTypeMask: 0x0006,
  VersionRequest: 0x0008,
} as const;
export const WEB_CACHE_ASSIGNMENT_TYPE_SHIFT = 1;
/** Values of the assignment-data-type bits. */
export const AssignmentDataType = { Hash: 0, Mask: 1, None: 2, Extended: 3 } as const;
export type AssignmentDataType = (typeof AssignmentDataType)[keyof typeof AssignmentDataType];

// ── Assignment ──────────────────────────────────────────────────────────────────────────────

/** "A 256-bucket hash table". */
export const BUCKET_COUNT = 256;
/** "The value 0xFF indicates no web-cache has been assigned to the bucket." */
export const UNASSIGNED_BUCKET = 0xff;
/** The A flag of a bucket byte, as Wireshark reads it ("Index(7)|A" in the draft's drawing). */
export const BUCKET_ALTERNATE_FLAG = 0x80;
export const BUCKET_INDEX_MASK = 0x7f;
/** "The content of each bucket is a web-cache index value in the range 0-31." */
export const MAX_CACHES_PER_TABLE = 32;
/** Assignment Info fixed parts: key (8), router count (4), cache count (4), buckets (256). */
export const ASSIGNMENT_INFO_MIN_LENGTH = ASSIGNMENT_KEY_SIZE + COUNT_SIZE + COUNT_SIZE + BUCKET_COUNT;

/** Alternate Assignment "Assignment Type". 2 and 3 are rev1 (alternate mask, weight/status). */
export const AltAssignmentType = { Hash: 0, Mask: 1 } as const;
/** Alternate Assignment head: Assignment Type (2), Assignment Length (2). */
export const ALT_ASSIGNMENT_HEAD_SIZE = 4;

// ── Router Identity / Query / Views ─────────────────────────────────────────────────────────

/** Router Identity Info fixed part: Router ID Element (8), Sent To (4), Number Received From (4). */
export const ROUTER_IDENTITY_MIN_LENGTH = ROUTER_ID_ELEMENT_SIZE + ADDRESS_SIZE + COUNT_SIZE;
/** Router Query Info: Router ID, Receive ID, Sent To, Target (4 each). */
export const ROUTER_QUERY_LENGTH = 16;
/** Router View Info fixed part: change number (4), key (8), router count (4), cache count (4). */
export const ROUTER_VIEW_MIN_LENGTH = 4 + ASSIGNMENT_KEY_SIZE + COUNT_SIZE + COUNT_SIZE;
/** Web-Cache View Info fixed part: change number (4), router count (4), cache count (4). */
export const WEB_CACHE_VIEW_MIN_LENGTH = 4 + COUNT_SIZE + COUNT_SIZE;

// ── Capabilities ────────────────────────────────────────────────────────────────────────────

/** Capability Element types. 4 (Transmit_t) and 5 (Timer_scale) are rev1, kept raw. */
export const CapabilityType = { ForwardingMethod: 1, AssignmentMethod: 2, PacketReturnMethod: 3 } as const;
export type CapabilityType = (typeof CapabilityType)[keyof typeof CapabilityType];
/** Capability Element head: Type (2), Length (2). */
export const CAPABILITY_HEAD_SIZE = 4;
/** Types 1–3: "A 32-bit bitmask". */
export const CAPABILITY_BITMASK_SIZE = 4;
export const ForwardingMethod = { Gre: 0x1, L2: 0x2 } as const;
export const AssignmentMethod = { Hash: 0x1, Mask: 0x2 } as const;
export const ReturnMethod = { Gre: 0x1, L2: 0x2 } as const;

// ── Command Extension ───────────────────────────────────────────────────────────────────────

/** Command element head: Command Type (2), Command Length (2). */
export const COMMAND_HEAD_SIZE = 4;
export const CommandType = {
  /** "used by a web-cache to indicate to the routers in a Service Group that it is shutting down". */
  Shutdown: 1,
  /** "used by a router to acknowledge receipt of a SHUTDOWN command". */
  ShutdownResponse: 2,
  /**
   * twinflow's replication request (docs/protocol.md). 0x5446 is "TF" in ASCII: far from the
   * Cisco-assigned 1 and 2 (any future standard types would grow up from 3), readable in a hex
   * dump, and not 0 or 0xFFFF.
   */
  TwinflowReplication: 0x5446,
} as const;
/** SHUTDOWN and SHUTDOWN_RESPONSE: "Command Length: 4 / Command Data: Web-cache IP address". */
export const SHUTDOWN_DATA_LENGTH = 4;

// ── rev1 Address Table ──────────────────────────────────────────────────────────────────────

/** Address Table head: family (2), address length (2), count (4). */
export const ADDRESS_TABLE_HEAD_SIZE = 8;
export const AddressFamily = { Ipv4: 1, Ipv6: 2 } as const;
export const IPV4_ADDRESS_LENGTH = 4;
export const IPV6_ADDRESS_LENGTH = 16;

// ── twinflow replication extension (docs/protocol.md) ───────────────────────────────────────

/** The only layout version defined; a receiver refuses any other. */
export const EXTENSION_VERSION = 1;
/**
 * Fixed head of the command data: version, mode, encapsulation, reserved (1 each), snaplen (2),
 * filter length (2), sample (4), rate pps (4), rate bit/s (8), lifetime (4).
 */
export const EXTENSION_FIXED_SIZE = 28;
/** Filter, sub-field values and the whole element are padded with zeros to this boundary. */
export const EXTENSION_ALIGNMENT = 4;
/** A filter longer than this belongs in a rule set, not a registration (same as the session limit). */
export const MAX_EXTENSION_FILTER_BYTES = 1024;
/** snaplen: 0 keeps whole packets; otherwise it must hold an Ethernet + IPv6 + TCP header. */
export const MIN_EXTENSION_SNAPLEN = 64;
export const MAX_EXTENSION_SNAPLEN = 0xffff;
/** Sub-field (TLV) head: type (2), length (2). */
export const SUBFIELD_HEAD_SIZE = 4;
/** Bit 15 of a sub-field type: a receiver that does not know the type must refuse the request. */
export const SUBFIELD_CRITICAL_BIT = 0x8000;
export const SubFieldType = {
  /** UTF-8 name the device gives the session, shown by the router. */
  Label: 0x0001,
  /** ERSPAN session ID (10 bits), for encapsulation erspan2 / erspan3. */
  ErspanSession: 0x0002,
  /**
   * Tagged dup: the far-end eliminator's IPv4 address; the router carries the originals to it too.
   * Type 3 with the critical bit: a router that ignored it would send untagged dup instead.
   */
  FarEnd: 0x8003,
} as const;
/** The far end sub-field's type without its critical bit: refused in that form (it must be critical). */
export const FAR_END_TYPE_NUMBER = 0x0003;
/** An IPv4 address. */
export const FAR_END_SIZE = 4;
export const MAX_LABEL_BYTES = 64;
export const ERSPAN_SESSION_SIZE = 2;
export const MAX_ERSPAN_SESSION = 1023;

/** Replication modes on the wire (0 is reserved so that an all-zero element is invalid). */
export const ModeCode = { sniff: 1, dup: 2, race: 3, redirect: 4 } as const;
/** Replica encapsulations on the wire (0 reserved). */
export const EncapsulationCode = { 'gre-wccp': 1, erspan2: 2, erspan3: 3, 'gre-seq': 4 } as const;

// ── Timers (for the router; the codec does not use them) ────────────────────────────────────

/** "transmitting a WCCP2_HERE_I_AM message to each router in the Group at HERE_I_AM_T (10) second intervals". */
export const HERE_I_AM_T_MS = 10_000;
