// The control surface of a running router: what the management port (firmware/shell/mgmt/)
// offers operators and automation. One implementation drives the real router
// (firmware/shell/router.ts); tests may drive a fake. Every method validates its input and throws
// ControlError naming the field; nothing here touches packets.
//
// Verbs on nouns, with explicit semantics: deleting something absent is a no-op that returns
// false; adding something that exists is an error; every change that affects the data plane is
// compiled and published atomically before the call returns (or fails without effect).

export class ControlError extends Error {
  override readonly name = 'ControlError';
  constructor(readonly field: string, detail: string) {
    super(`${field}: ${detail}`);
  }
}

export type ModeName = 'sniff' | 'dup' | 'race' | 'redirect';
export type EncapName = 'gre' | 'erspan2' | 'erspan3' | 'gre-seq';

/** A session configured by an operator (not by a registering device). */
export interface StaticSessionSpec {
  readonly name: string;
  readonly mode: ModeName;
  readonly filter: string;
  /** IPv4 address of the device that receives the replicas. */
  readonly device: string;
  /** Board port the replicas leave by (default: the port whose subnet holds the device). */
  readonly port?: string;
  readonly encap?: EncapName;
  readonly snaplen?: number;
  readonly sample?: number;
  readonly ratePps?: number;
  readonly rateBps?: number;
  /** Seconds after which the session ends by itself (0 or absent: never). */
  readonly lifetime?: number;
}

export interface SessionInfo {
  readonly name: string;
  readonly origin: 'static' | 'registration';
  readonly mode: ModeName;
  readonly filter: string;
  readonly device: string;
  readonly port: string;
  readonly encap: EncapName;
  readonly snaplen: number;
  readonly sample: number;
  readonly ratePps: number;
  readonly rateBps: number;
  /** 'active' sends replicas; 'holding' keeps them in a bounded buffer until the device registers. */
  readonly state: 'active' | 'holding';
  /** The registering device's name for the session, if it gave one. */
  readonly label?: string;
  /** A race session's group, in member order (member 0 receives the openers' originals): docs/race.md. */
  readonly members?: ReadonlyArray<{ readonly address: string; readonly port: string }>;
  /** Tagged dup: the far-end eliminator the originals are carried to. */
  readonly farEnd?: string;
  readonly counters: Record<string, number>;
}

/** One ordered rule of the forwarding policy: the first rule an original matches decides. */
export interface PolicyRule {
  readonly action: 'permit' | 'deny';
  readonly filter: string;
}

/** Addresses or prefixes ("192.0.2.7", "10.0.0.0/8") allowed to register with a service group. */
export interface Allowlist {
  readonly service: number;
  readonly prefixes: readonly string[];
}

export interface RouterLimits {
  readonly sessions: number;
  readonly peers: number;
  readonly snaplenMin: number;
  readonly snaplenMax: number;
  /** Largest rate a registration may ask for. */
  readonly maxRatePps: number;
  readonly maxRateBps: number;
}

/** A packet described by its fields, for `explain`. */
export interface PacketDescription {
  /** Router port it arrives on. */
  readonly port: string;
  readonly proto: 'tcp' | 'udp' | 'icmp';
  readonly src: string;
  readonly dst: string;
  readonly sport?: number;
  readonly dport?: number;
  readonly vlan?: number;
  readonly length?: number;
}

export interface ExplainReport {
  readonly verdict: 'forwarded' | 'redirected' | 'dropped';
  readonly egress: string | null;
  readonly sessions: ReadonlyArray<{ readonly name: string; readonly outcome: string }>;
  /** Counters that changed, by name ("port lan rx_packets": 1, ...). */
  readonly counters: Record<string, number>;
}

export interface ServiceInfo {
  readonly service: number;
  readonly type: 'standard' | 'dynamic';
  readonly security: 'none' | 'md5';
  readonly caches: ReadonlyArray<{ readonly address: string; readonly usable: boolean; readonly lastSeenMs: number; readonly mode: ModeName }>;
  readonly assignment: 'none' | 'hash' | 'mask';
}

export interface CountersReport {
  readonly ports: Record<string, Record<string, number>>;
  readonly sessions: Record<string, Record<string, number>>;
  readonly drivers: Record<string, Record<string, number>>;
  readonly wccp: Record<string, number>;
  readonly management: Record<string, number>;
}

export interface RouterStatus {
  readonly board: string;
  readonly version: string;
  readonly uptimeSeconds: number;
  readonly tableVersion: number;
}

/** What flashing an uploaded image did (docs/images.md): the slot written, to be tried at the next boot. */
export interface FlashReport {
  readonly slot: string;
  readonly version: string;
  readonly board: string;
  readonly imageSha256: string;
  readonly bytes: number;
}

export interface RouterControl {
  status(): RouterStatus;
  counters(): CountersReport;
  listSessions(): SessionInfo[];
  addSession(spec: StaticSessionSpec): SessionInfo;
  /** Removes a static session; false when there is none of that name. */
  deleteSession(name: string): boolean;
  getAllowlist(service: number): Allowlist;
  setAllowlist(list: Allowlist): void;
  getPolicy(): PolicyRule[];
  setPolicy(rules: readonly PolicyRule[]): void;
  getLimits(): RouterLimits;
  setLimits(limits: Partial<RouterLimits>): RouterLimits;
  listServices(): ServiceInfo[];
  /** Runs the real data plane, with the running tables, on a described packet (a scratch instance). */
  explain(packet: PacketDescription): Promise<ExplainReport>;
  /** Writes the running state (allowlists, static sessions, policy, limits) atomically; returns its path and size. */
  saveConfig(): Promise<{ readonly path: string; readonly bytes: number }>;
  /** Re-reads the saved state and applies it (all or nothing). */
  loadConfig(): Promise<{ readonly path: string; readonly bytes: number }>;
  /**
   * Verifies an uploaded firmware image (signature, board, minimum version) and writes it into the
   * inactive A/B slot, to be health-checked at the next boot; a refusal is a ControlError('image')
   * and writes nothing.
   */
  flashImage(image: Uint8Array): Promise<FlashReport>;
}
