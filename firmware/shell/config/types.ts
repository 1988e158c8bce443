// The router's configuration as the rest of the firmware sees it, once loaded and validated.
// Two sources produce it: the operator's configuration file (JSON, `twinflow boot --config FILE`,
// documented in docs/config.md) and the saved running state (msgpack with a checksum, written by
// the management port's `save`), which carries what operators change at run time. Loaders and
// validators live beside this file; everything else imports only these types.

import type { Allowlist, PolicyRule, RouterLimits, StaticSessionSpec } from '../control.ts';

export type ForwardingMethodName = 'gre' | 'l2';
export type AssignmentMethodName = 'hash' | 'mask';

/** One WCCPv2 service group the router offers. */
export interface WccpServiceConfig {
  /** Service ID 0..255: 0..50 well-known (0 = web-cache), 51..255 dynamic. */
  readonly id: number;
  readonly type: 'standard' | 'dynamic';
  /** MD5 security for the group (at most 8 characters, as on every WCCP implementation). */
  readonly password?: string;
  /** The administrator's allowlist: IPv4 addresses or prefixes that may register. */
  readonly allow: readonly string[];
  /** Methods the router offers in its Capabilities Info (default: all). */
  readonly forwarding?: readonly ForwardingMethodName[];
  readonly assignment?: readonly AssignmentMethodName[];
  readonly return?: readonly ForwardingMethodName[];
  /** Budget of the group's race session (devices registering mode race): docs/race.md. */
  readonly race?: RaceBudget;
}

export interface RaceBudget {
  readonly flowsPerSecond?: number;
  readonly burst?: number;
  readonly sharePercent?: number;
}

export interface WccpConfig {
  /** IPv4 address the router listens on for WCCP (UDP `port`); also its Router ID by default. */
  readonly address: string;
  /** 2048 on any real network; other values only for tests that cannot bind it. */
  readonly port: number;
  readonly routerId?: string;
  /**
   * Opt-in (default off): pad I_SEE_YOU so that Debian's Squid 5.7, which mis-parses standard
   * messages on 64-bit hosts, gets as far as echoing the Receive ID (docs/wccp.md).
   */
  readonly squid57Compat: boolean;
}

export interface ManagementConfig {
  readonly address: string;
  readonly port: number;
  /** Shared key file (absolute path once loaded). */
  readonly keyFile: string;
  /** Prometheus text endpoint (HTTP GET /metrics), if wanted. */
  readonly metrics?: { readonly address: string; readonly port: number };
}

/** A static session as configured: an operator's session, optionally waiting for its device. */
export type ConfiguredSession = StaticSessionSpec & {
  /** Hold replicas (bounded) until the device registers over WCCP (seed, step 210). */
  readonly requireRegistration?: boolean;
};

/** What operators change at run time and `save` persists. */
export interface RouterState {
  readonly allowlists: readonly Allowlist[];
  readonly sessions: readonly ConfiguredSession[];
  readonly policy: readonly PolicyRule[];
  readonly limits: Partial<RouterLimits>;
}

export interface RouterConfig {
  /** Where it was read from (messages name it). */
  readonly file: string;
  readonly wccp: WccpConfig;
  readonly services: readonly WccpServiceConfig[];
  readonly sessions: readonly ConfiguredSession[];
  readonly policy: readonly PolicyRule[];
  readonly limits: Partial<RouterLimits>;
  readonly management?: ManagementConfig;
  /** Absolute path of the saved running state; absent: `save` is refused. */
  readonly state?: string;
  /** Where uploaded firmware images are flashed, and the key they must be signed for (absolute paths). */
  readonly images?: { readonly slots: string; readonly publicKey: string };
}
