// The binary contract between the control plane (TypeScript) and the hot path (AssemblyScript).
//
// This file is compiled by both compilers, so it holds nothing but `const enum`s of literal
// values: no AssemblyScript types, no Node APIs. Every offset is in bytes; every multi-byte
// field in linear memory is little-endian (wasm's native order). Packet bytes are untouched
// network order.
//
// A change here is an ABI change: bump Abi.Version.

export const enum Abi {
  Version = 6,
  Magic = 0x74776e66, // "twnf"
}

/** What init() returns. */
export const enum InitError {
  None = 0,
  Magic = 1, // the control block does not start with Abi.Magic
  Version = 2, // the control block was written for another Abi.Version
}

// ── Classification key ───────────────────────────────────────────────────────────────────────
// The parser turns every packet into 20 u32 lanes; a rule is a box: one [lo, hi] range per lane.
// Lanes are grouped in fours so that the leaf check compares one v128 at a time, most selective
// group first (a rule usually fails on group 0 and the rest is never loaded).
//
//  group 0 │ Src0      │ Dst0      │ SrcPort   │ DstPort   │
//  group 1 │ Proto     │ Family    │ InPort    │ OutPort   │
//  group 2 │ Src1      │ Src2      │ Src3      │ Dst1      │
//  group 3 │ Dst2      │ Dst3      │ Direction │ VlanOuter │
//  group 4 │ VlanInner │ WccpBucket│ WccpMask0 │ WccpMask1 │
//
// WccpBucket is the WCCPv2 hash bucket of the packet (draft-wilson §4.2: the standard web-cache
// hash of the destination address, or the fields the bank's Bank.HashFlags names), so a redirect
// session can own a set of buckets. WccpMask0/1 are the packet's fields under the bank's mask
// elements (Bank.Masks, mask assignment), their masked bits packed into one number, so a cache's
// value elements are exact lane values.
// IPv4 addresses live in Src0/Dst0 with the other words 0; IPv6 addresses are four
// big-endian words, Src0 the most significant. A prefix of either family is exactly a product
// of per-word ranges, so prefixes need no special case.
export const enum Lane {
  Src0 = 0, Dst0 = 1, SrcPort = 2, DstPort = 3,
  Proto = 4, Family = 5, InPort = 6, OutPort = 7,
  Src1 = 8, Src2 = 9, Src3 = 10, Dst1 = 11,
  Dst2 = 12, Dst3 = 13, Direction = 14, VlanOuter = 15,
  VlanInner = 16, WccpBucket = 17, WccpMask0 = 18, WccpMask1 = 19,
  Count = 20,
  Bytes = 80,
}

// Out-of-band lane values: a packet that lacks a field carries a value no real field has, so a
// rule that names the field can never match it, while a wildcard (which includes the value) does.
export const enum LaneValue {
  FamilyNone = 0, // not IP
  FamilyIpv4 = 4,
  FamilyIpv6 = 6,
  FamilyMax = 6,
  ProtoNone = 256, // not IP
  PortNone = 65536, // no transport header: not TCP/UDP/SCTP, non-first fragment, truncated or malformed
  VlanNone = 4096, // no tag at this level
  BucketNone = 256, // WccpBucket of a packet that is not IP
  MaskNone = 65536, // WccpMask0/1 of a packet that is not IPv4, or when the bank has no such mask
  MaskValueMax = 65535, // a mask element selects at most 16 bits (WCCP uses 6 or 7)
  DirectionInbound = 0, // entered on an `outside` port
  DirectionOutbound = 1, // entered on an `inside` port
  PortIndexNone = 255, // OutPort of a packet with no egress (policy drop)
  U32Max = 0xffffffff,
}

// ── Control block ────────────────────────────────────────────────────────────────────────────
// One per data-plane instance, written by the runtime before init(); the addresses of every other
// region. Only ActiveBank and TableVersion change after init (control plane → hot path), and only
// ObservedVersion is written by the hot path (its acknowledgement of a bank switch). The memory is
// shared (the control plane may publish from another thread), so TableVersion and ObservedVersion
// are accessed atomically on both sides.
export const enum Control {
  Magic = 0,
  AbiVersion = 4,
  ActiveBank = 8, // u32: 0 or 1, always TableVersion & 1; a mirror for readers, the hot path derives it
  TableVersion = 12, // u32: bumped with every publish, its parity names the bank; read once per batch; also invalidates the flow cache
  ObservedVersion = 16, // u32: the TableVersion the last completed batch ran on
  PortCount = 20,
  PortTable = 24, // → PortConfig[PortCount]
  PortCounters = 28, // → u64[PortCount][PortCounter.Count]
  SessionSlots = 32, // number of session slots (≤ Limits.MaxSessions)
  SessionState = 36, // → SessionState[SessionSlots]
  SessionCounters = 40, // → u64[SessionSlots][SessionCounter.Count]
  Bank0 = 44,
  Bank1 = 48,
  BankBytes = 52,
  FlowCache = 56, // → FlowEntry[FlowCacheMask + 1]
  FlowCacheMask = 60, // entries − 1 (a power of two minus one); 0 disables the cache
  FramePool = 64, // → frame 0
  FrameStride = 68, // bytes per frame slot (headroom + data room)
  FrameHeadroom = 72, // bytes before the data start of a freshly received frame
  FrameCount = 76,
  RxFree = 80, // → Ring of u32 frame indices the drivers receive into
  ReplicaFree = 84, // → Ring of u32 frame indices replicas are built in
  GlobalCounters = 88, // → u64[GlobalCounter.Count]
  Scratch = 92, // → BatchScratch for BatchMax packets
  BatchMax = 96, // most packets one process() call takes
  HoldRings = 100, // → one descriptor Ring per session slot, HoldRingBytes apart
  HoldRingBytes = 104,
  Conntrack = 108, // → ConntrackHeader, then ConnEntry × ConntrackCapacity (race connection tracking)
  ConntrackCapacity = 112, // entries, a power of two ≥ ConntrackLimits.ProbeWindow; 0: no table (no flow is raced)
  Size = 128,
}

// Per-batch working memory of the hot path (one region, Control.Scratch, sized for BatchMax):
//  │ key template: Lane.Bytes │ keys: Lane.Bytes × max │ results: 16 × max │ meta: 20 × max │ todo: u16 × max │
export const enum BatchScratch {
  ResultBytes = 16, // Result: u64 session mask, u32 best rule
  MetaBytes = 20, // PacketMeta
  TodoBytes = 2,
  PerPacket = 118, // Lane.Bytes + ResultBytes + MetaBytes + TodoBytes
}

export const enum PacketMeta {
  Desc = 0, // u32 address of the rx descriptor
  Flags = 4, // u32 ParseFlag bits
  L3 = 8, // u32 IP header offset in the frame
  IpLen = 12, // u32 IP packet length per its header
  L4 = 16, // u32 transport header offset in the frame (valid when ParseFlag.Transport is set)
}

export const enum Limits {
  MaxPorts = 32, // port indices 0..31; 255 means "none"
  MaxSessions = 64, // one bit each in the u64 session masks
  MaxTemplate = 96, // bytes of prebuilt encapsulation per session
  MaxFrame = 16384, // largest frame slot a board may configure
}

// ── Ports ────────────────────────────────────────────────────────────────────────────────────
export const enum PortConfig {
  RxRing = 0, // → Ring of Desc, driver → hot path
  TxOrigRing = 4, // → Ring of Desc, originals out (hot path → driver)
  TxReplicaRing = 8, // → Ring of Desc, replicas out
  CrossConnect = 12, // egress port of originals received here (wire mode), 255 = drop by policy
  Mtu = 16, // largest IP packet this port sends (excludes the Ethernet header)
  Side = 20, // 0 outside (traffic arriving here is inbound), 1 inside (outbound)
  Flags = 24,
  Size = 64,
}

// ── Rings ────────────────────────────────────────────────────────────────────────────────────
// Single-producer single-consumer. Prod and Cons are free-running u32 indices (they wrap at
// 2^32, never reset); a slot is (index & Mask). Used = Prod − Cons in u32 arithmetic; the ring
// is full when Used == Mask + 1. Each index sits in its own 64-byte line.
export const enum Ring {
  Prod = 0,
  Cons = 64,
  Mask = 128, // capacity − 1, capacity a power of two
  SlotBytes = 132, // Desc.Size for descriptor rings, 4 for frame-index rings
  Header = 192, // slots follow the header
}

// ── Descriptors ──────────────────────────────────────────────────────────────────────────────
export const enum Desc {
  Addr = 0, // u32 address of the first packet byte
  Frame = 4, // u32 frame index (its pool is given by DescFlag.ReplicaPool)
  Len = 8, // u16 bytes present
  OrigLen = 10, // u16 bytes the packet had on the wire (≥ Len when the capture was truncated)
  InPort = 12, // u8
  OutPort = 13, // u8
  Flags = 14, // u16 DescFlag
  Timestamp = 16, // i64 nanoseconds: receive time of an original, send time of a replica
  Session = 24, // u32 session index that produced a replica (0xffffffff for originals)
  Aux = 28, // u32 replica: bytes the replica's inner packet lost to truncation
  Size = 32,
}

export const enum DescFlag {
  Replica = 1, // built by the replicate stage; never classified again
  Truncated = 2, // replica inner packet shorter than the original
  ReplicaPool = 4, // the frame belongs to the replica pool
  Redirected = 8, // an original diverted to a cache (encapsulated in place)
  Carried = 16, // an original carried in a tagged dup stream (encapsulated in place)
  Steered = 32, // an original delivered to a race group member by L2 rewrite (its MACs rewritten in place)
  Returned = 64, // a cache's GRE return, decapsulated and forwarded by the FIB (new Ethernet header in place, TTL − 1)
}

// ── Tables (one bank) ────────────────────────────────────────────────────────────────────────
// Built by the control plane in the inactive bank and published by bumping Control.TableVersion
// to the next version of that bank's parity.
// Offsets inside a bank are relative to the bank's start, so one image fits any bank address.
export const enum Bank {
  Magic = 0,
  Bytes = 4, // size of the image
  Forest = 8, // → Forest: the classifier's trees
  Rules = 12, // → Rule[RuleCount]
  RuleCount = 16,
  RuleMeta = 20, // → RuleMeta[RuleCount]
  SessionCount = 24,
  Sessions = 28, // → SessionConfig[SessionCount]; session i is bit i of the masks
  ReplicateMask = 32, // u64: sessions of mode sniff or dup (they send encapsulated replicas)
  RedirectMask = 40, // u64: sessions of mode redirect, lowest bit = highest priority
  Templates = 48, // → encapsulation templates
  DropMask = 56, // u64: policy categories whose match drops the original (replicas are still made)
  HashFlags = 64, // u32 WCCP service flags of the WccpBucket hash; 0: the standard hash (destination)
  MaskCount = 68, // u32 mask elements in use, 0..2 (WccpMask0, WccpMask1)
  Masks = 72, // MaskElement × 2
  RaceMask = 104, // u64: sessions of mode race (the client side of a group's service)
  RaceReplyMask = 112, // u64: race reply categories (what the group's members send back), Mode.RaceReply
  Return = 120, // → ReturnTable: the WCCP GRE return path; 0 when no cache has a redirect session (GRE-WCCP is then transit)
  Header = 128,
}

// A WCCP mask element as the hot path applies it: the packet's field & mask, masked bits packed
// from the most significant bit of the source address down to the least of the destination port.
export const enum MaskElement {
  SrcAddr = 0, // u32
  DstAddr = 4, // u32
  SrcPort = 8, // u32 (16 bits used)
  DstPort = 12, // u32 (16 bits used)
  Size = 16,
  MaxElements = 2,
}

export const enum BankMagic {
  Value = 0x6b6e6274, // "tbnk"
}

// A rule is a box stored as lo lanes then widths (hi − lo), 16-byte aligned so each group is one
// v128 load; a key fits when (key − lo) ≤ width on every lane, unsigned.
export const enum Rule {
  Lo = 0,
  Width = 80,
  Size = 160,
}

export const enum RuleMeta {
  Id = 0, // the user's rule number (ClassBench line, filter clause)
  Category = 4, // session index
  Size = 8,
}

// The classifier is a forest: a few trees searched in order of their best rule (see
// firmware/shell/tables/forest.ts for why). A tree is skipped when it holds no category still
// unresolved and no rule better than the best match so far, or when its prefilter says no rule
// can match: when every rule of a tree is exact on one lane (a list of hosts, say), the tree
// carries a 64 Kbit filter of those values, hashed, and a key whose value is not in it skips the
// walk after one load.
//  Forest: │ Count u32 │ 12 pad │ ForestTree × Count │
export const enum Forest {
  Count = 0,
  Trees = 16,
}

export const enum ForestTree {
  Root = 0, // NodeRef
  MinRule = 4, // index of the tree's highest-priority rule
  CategoryMask = 8, // u64
  PrefilterLane = 16, // lane every rule is exact on, or PrefilterNone
  Prefilter = 20, // bank offset of the filter's 8 KiB bitmap
  Size = 32,
}

export const enum Prefilter {
  None = 0xffffffff,
  Bits = 16, // hash width: a 2^16-bit (8 KiB) bitmap
  Bytes = 8192,
  HashMultiplier = 0x9e3779b1, // bit = (value × multiplier) >>> (32 − Bits)
}

// Tree nodes: one 64-byte line each, 64-aligned.
//  Node: │ Thresholds u32×8 │ Children NodeRef×8 │
// A NodeRef is an offset in the bank. Bit 31 set: a leaf. Otherwise the offset of a node, whose
// low 6 bits (free by alignment) carry the lane that node cuts, so a walk can load the key lane
// while it loads the node, instead of after it.
// Child i holds keys in (Thresholds[i−1], Thresholds[i]]; unused thresholds are 0xffffffff, so the
// child index is simply the number of thresholds below the key (two v128 compares and popcnt).
export const enum Node {
  Thresholds = 0,
  Children = 32,
  Size = 64,
  MaxChildren = 8,
  LaneMask = 63,
  LeafFlag = 0x80000000,
}

export const enum Leaf {
  Count = 0,
  CategoryMask = 8,
  BoundLo = 16,
  BoundWidth = 32,
  Rules = 48,
}

// ── Sessions ─────────────────────────────────────────────────────────────────────────────────
export const enum Mode {
  Sniff = 1,
  Dup = 2,
  Race = 3,
  Redirect = 4,
  Drop = 5, // not a session: the forwarding policy's deny category
  RaceReply = 6, // not a session: the reply category of a race session (SessionConfig.RaceReplyOf names it)
}

export const enum Encap {
  GreWccp = 1, // GRE 0x883E + 4-byte WCCPv2 redirect header + inner IP packet
  Erspan2 = 2, // GRE (seq) 0x88BE + ERSPAN type II + inner Ethernet frame
  Erspan3 = 3, // GRE (seq) 0x22EB + ERSPAN type III + inner Ethernet frame
  GreSeq = 4, // GRE (key = stream id, seq, RFC 2890) carrying the inner IP packet (dup)
}

export const enum SessionConfig {
  Slot = 0, // index into SessionState / SessionCounters
  Generation = 4, // a fresh generation resets the slot's state
  Mode = 8,
  Encap = 12,
  SampleN = 16, // 1-in-N (0 or 1: every packet)
  Seed = 20, // xorshift32 seed for sampling (non-zero)
  RatePps = 24, // u32 packets/s, 0 = unlimited
  BurstPkts = 28, // u32 bucket depth in packets
  RateBps = 32, // u64 bits/s, 0 = unlimited
  BurstBits = 40, // u64 bucket depth in bits
  Snaplen = 48, // inner bytes kept, 0 = whole packet
  Replica = 52, // Member: where replicas go (the fields below are its parts)
  EgressPort = 52,
  Mtu = 56, // largest outer IP packet
  TemplateOff = 60, // bank offset of the template
  TemplateLen = 64,
  IpOff = 68, // outer IPv4 header offset inside the template
  GreOff = 72, // GRE header offset inside the template
  IpSum = 76, // ones'-complement sum of the outer IPv4 header with length, id and checksum zero
  ServiceId = 80,
  Flags = 84, // SessionFlag
  Carrier = 88, // Member: a dup session's carrier (SessionFlag.Carrier), which takes the original itself
  RaceGroup = 116, // race: bank offset of the session's RaceGroup
  RaceReplyOf = 120, // Mode.RaceReply: bank index of the race session this category answers for
  Size = 128,
}

// One encapsulated path of a session: its egress port, path MTU and prebuilt template. Every
// session has its replica member; a tagged dup session also has a carrier member, which diverts
// the original into the same sequenced stream towards the far-end eliminator (FRER member 1),
// while the replica is member 2.
export const enum Member {
  EgressPort = 0,
  Mtu = 4,
  TemplateOff = 8,
  TemplateLen = 12,
  IpOff = 16,
  GreOff = 20,
  IpSum = 24,
  Size = 28,
}

export const enum SessionFlag {
  DynamicService = 1, // WCCP redirect header D bit
  Hold = 2, // the device has not registered yet: replicas wait in the slot's hold ring
  Carrier = 4, // dup, tagged: the original travels encapsulated in the carrier member, same sequence
}

export const enum SessionState {
  Generation = 0,
  Rng = 4,
  TokensPkts = 8, // i64 packet tokens × 1e9
  TokensBits = 16, // i64 bit tokens × 1e9
  LastNs = 24, // i64 time of the last refill
  Sequence = 32, // u32 GRE / ERSPAN sequence: the next one to send
  IpId = 36, // u32 outer IPv4 identification
  Size = 64,
}

// A race session keeps its budget in the policer's fields (a race session has no policer): the
// time bucket (RatePps raced flows per second, BurstPkts deep) in TokensPkts, the share bucket
// (RaceGroup.SharePpm of a flow credited per new flow, BurstBits deep) in TokensBits, so the
// generic reset of a new generation fills both.
export const enum RaceBudgetState {
  TimeTokens = 8, // = SessionState.TokensPkts
  ShareTokens = 16, // = SessionState.TokensBits
  LastNs = 24, // = SessionState.LastNs
}

// ── Race groups (wide-area load balancing, docs/race.md) ───────────────────────────────────
// A race session's group, in the bank: who the members are and how much of the traffic is
// raced. Members are reached by L2 rewrite (WCCP's L2 forwarding method): the frame keeps its
// bytes, its destination MAC becomes the member's and its source MAC the router's on that port.
//  RaceGroup: │ MemberCount u32 │ SharePpm u32 │ 8 pad │ RaceMember × RaceLimits.MaxMembers │
export const enum RaceGroup {
  MemberCount = 0, // 1..RaceLimits.MaxMembers
  SharePpm = 4, // share of new flows raced, parts per million (RaceLimits.PpmAll: no share cap)
  Members = 16,
  Size = 144, // Members + RaceMember.Size × RaceLimits.MaxMembers
}

export const enum RaceMember {
  Port = 0, // u32 port index the member is reached by
  Mac = 4, // 6 bytes: the member's MAC (destination of frames for it; source of its answers)
  RouterMac = 10, // 6 bytes: the router's MAC on that port (source of frames for it)
  Size = 16,
}

export const enum RaceLimits {
  MaxMembers = 8, // one bit each in a u8 refusal mask; a hedge to more than 8 servers multiplies load for little gain
  PpmAll = 1000000,
}

// ── WCCP GRE return (docs/dataplane.md, "GRE return") ──────────────────────────────────────
// A cache sends the packets it refuses back to the router in GRE 0x883E with the 4-byte redirect
// header (draft-wilson-wrec-wccp-v2, return method GRE). The hot path takes such a packet as a
// return when its outer source is a cache that has a redirect session (Sources) and its outer
// destination an address of the router (Locals); it forwards the inner IPv4 packet by the FIB:
// the first entry that covers the destination (entries are sorted most specific first, so the
// first match is the longest prefix). All addresses host order.
//  ReturnTable: │ SourceCount │ LocalCount │ RouteCount │ pad │ Sources u32 × MaxSources │ Locals u32 × MaxLocals │ FibEntry × RouteCount │
export const enum ReturnTable {
  SourceCount = 0,
  LocalCount = 4,
  RouteCount = 8,
  Sources = 16,
  Locals = 272, // Sources + 4 × ReturnLimits.MaxSources
  Routes = 528, // Locals + 4 × ReturnLimits.MaxLocals
}

export const enum ReturnLimits {
  // Caches that may return packets: each has at least one redirect session, so no more than sessions.
  MaxSources = 64,
  // Addresses a return may be sent to: the WCCP address and Router ID, and one per port (Limits.MaxPorts).
  MaxLocals = 64,
  // FIB entries: the board's connected subnets (≤ 32 ports), static routes (≤ 256, the board schema's
  // bound) and neighbour entries. A return is looked up by a linear first-match scan: at most
  // 512 × 32 bytes (16 KiB) read per returned packet, a bounded cost for what is a cache's exception
  // traffic; a board that needs more entries is refused at boot.
  MaxRoutes = 512,
}

//  FibEntry: │ Lo │ Width │ Port │ Flags │ Mac × 6 │ RouterMac × 6 │ 4 pad │
export const enum FibEntry {
  Lo = 0, // u32 first address covered
  Width = 4, // u32 last − first (a prefix of length n: 2^(32 − n) − 1)
  Port = 8, // u32 egress port index
  Flags = 12, // u32 FibFlag
  Mac = 16, // 6 bytes: the next hop's MAC (HostBlock: the MAC of the block's first host)
  RouterMac = 22, // 6 bytes: the router's MAC on Port (source of the forwarded frame)
  Size = 32,
}

export const enum FibFlag {
  NoNeighbor = 1, // the destination is reached by Port, but no MAC is known for it: dropped and counted
  HostBlock = 2, // a block of hosts with consecutive MACs (simulated hosts): MAC = Mac + (destination − Lo)
}

// ── Connection tracking (race) ──────────────────────────────────────────────────────────────
// One table per line card, shared by its race sessions: open addressing, a flow's entry lives
// within ProbeWindow slots of its hash. Keyed by the session slot, the family, the client's
// address and port and the service's (VIP) address and port; TCP only.
//  │ ConntrackHeader │ ConnEntry × Control.ConntrackCapacity │
export const enum ConntrackHeader {
  InUse = 0, // u32 entries not free
  Cursor = 4, // u32 next entry the sweep looks at
  ClockNs = 8, // i64 the latest packet timestamp the race stage saw (expiry's clock)
  Size = 64,
}

export const enum ConntrackLimits {
  ProbeWindow = 8, // slots a lookup examines: bounds every lookup to 8 × 64 bytes
  SweepPerBatch = 16, // entries the sweep examines per process() call, while any is in use
}

//  ConnEntry: │ Client u32×4 │ Vip u32×4 │ Ports │ Slot Family State Answered │ WinnerPort Winner WinnerMac×6 │ StartNs │ LastNs │
// The winner is kept by identity (port and MAC) with its member index as a hint, so a pinned flow
// survives a republish of its group (a member joining or leaving) as long as its winner stays.
export const enum ConnEntry {
  Client = 0, // u32 × 4, the key's lane order (IPv4: word 0, the rest 0)
  Vip = 16, // u32 × 4
  Ports = 32, // u32 client port << 16 | service port
  Slot = 36, // u8 session slot
  Family = 37, // u8 LaneValue.FamilyIpv4 / FamilyIpv6
  State = 38, // u8 ConnState
  Answered = 39, // u8 members (by index) that answered the opener (SYN-ACK or RST); while racing, every answer so far is a refusal
  WinnerPort = 40, // u8 when Won or Closing: the winner's port
  Winner = 41, // u8 the winner's member index when it won (a hint; the port and MAC decide)
  WinnerMac = 42, // 6 bytes
  StartNs = 48, // i64 when the race started
  LastNs = 56, // i64 last packet of the flow
  Size = 64,
}

export const enum ConnState {
  Free = 0,
  Racing = 1, // the opener went to every member; no acceptance yet
  Won = 2, // a member accepted first; the flow is pinned to it
  Closing = 3, // a FIN was seen; the last segments still reach the winner
  Reset = 4, // the flow ended by RST before every member answered: kept so the late answers are still dropped (and reset)
}

// ── Flow cache ───────────────────────────────────────────────────────────────────────────────
// Direct-mapped, exact key, tagged with the TableVersion it was filled under.
export const enum FlowEntry {
  Key = 0, // Lane.Bytes
  Version = 80,
  Rule = 84, // first matching rule index + 1 (0: none)
  Mask = 88, // u64 session mask
  Size = 96,
}

// ── Bare 5-tuples (the `classify` command and the classification benchmark) ──────────────────
export const enum TupleField {
  Src = 0, // u32 IPv4 source, host order
  Dst = 4, // u32 IPv4 destination
  SrcPort = 8, // u16
  DstPort = 10, // u16
  Proto = 12, // u32
  Size = 16,
}

// ── Eliminator (the far end of tagged dup: 802.1CB sequence recovery) ───────────────────────
// One region: a header, then a table of Stream entries (open addressing on the GRE key).
//  │ EliminatorHeader │ StreamEntry × Capacity │
export const enum EliminatorHeader {
  Magic = 0, // ElimMagic.Value
  Capacity = 4, // streams, a power of two
  HistoryLength = 8, // frerSeqRcvyHistoryLength, 1..ElimLimit.MaxHistory
  Streams = 12, // streams in use
  ResetNs = 16, // i64 frerSeqRcvyResetMSec in ns: no accepted packet for this long resets a stream
  Untracked = 24, // u64 packets passed without state: the table was full (PRP: accept when in doubt)
  Malformed = 32, // u64 packets that are not GRE with key and sequence carrying IP
  Size = 64,
}

export const enum ElimMagic {
  Value = 0x6d696c65, // "elim"
}

export const enum StreamEntry {
  Key = 0, // u32 GRE key (stream id)
  Flags = 4, // StreamFlag
  RecovSeq = 8, // u32 RecovSeqNum: highest sequence accepted
  Valid = 12, // u32 history positions known since the last reset (for the lost count)
  LastAcceptNs = 24, // i64
  Passed = 32, // u64 (frerCpsSeqRcvyPassedPackets)
  Discarded = 40, // u64 duplicates
  OutOfOrder = 48, // u64
  Rogue = 56, // u64 outside the history window
  Lost = 64, // u64 sequence numbers that left the window unseen
  Resets = 72, // u64
  History = 128, // ElimLimit.MaxHistory bits, a ring: bit (s mod MaxHistory) = s was accepted, for s in the window
  Size = 256,
}

export const enum ElimLimit {
  // Longest history window: 16 words of ring. At 20 kpps it covers 51 ms of skew between the
  // paths; 802.1CB asks only that it stay far below half the sequence space.
  MaxHistory = 1024,
}

export const enum StreamFlag {
  Used = 1,
  TakeAny = 2,
}

// One packet of an eliminateBatch() call: in, the IPv4 packet as a raw socket delivers it; out,
// the verdict and where the inner packet is.
export const enum ElimPacket {
  Addr = 0, // u32 address of the outer IPv4 header
  Len = 4, // u32 bytes
  Verdict = 8, // u32 ElimVerdict (out)
  InnerOff = 12, // u32 offset of the inner IP packet from Addr (out, Pass)
  InnerLen = 16, // u32 (out, Pass)
  Stream = 20, // u32 GRE key (out)
  Sequence = 24, // u32 (out)
  Size = 32,
}

export const enum ElimVerdict {
  Pass = 1, // first copy: deliver the inner packet
  Discard = 2, // a duplicate
  Rogue = 3, // outside the window: discarded
  Malformed = 4, // not GRE (K, S) carrying IPv4/IPv6
  Untracked = 5, // delivered without recovery (no room for the stream)
}
