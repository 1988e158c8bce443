// A service group's configuration as the router uses it: WccpServiceConfig (config/types.ts)
// checked and turned into numbers — allowlist prefixes, capability bitmasks, the password.
//
// Contract: the input is operator text (configuration file, management port) and is not
// trusted. Anything the router could not honour throws WccpConfigError naming the field
// (`services[1].allow[0]`, `services[0].password` …) and nothing changes. Limits: one group per
// service ID, at most MAX_SERVICE_GROUPS groups.

import type { WccpServiceConfig } from '../../config/types.ts';
import { AssignmentMethod, ForwardingMethod, MD5_PASSWORD_SIZE, ReturnMethod, WEB_CACHE_SERVICE_ID } from '../constants.ts';
import { AllowlistEntryError, parseAllowlist } from './allowlist.ts';
import type { Prefix } from './allowlist.ts';
import { MAX_SERVICE_GROUPS } from './limits.ts';

/** A WCCP configuration the router cannot use; `field` names the offending part. */
export class WccpConfigError extends Error {
  override readonly name = 'WccpConfigError';
  constructor(readonly field: string, detail: string) {
    super(`wccp: ${field}: ${detail}`);
  }
}

/** Methods the group offers, as the Capabilities Info bitmasks. */
export interface OfferedMethods {
  readonly forwarding: number;
  readonly assignment: number;
  readonly return: number;
}

export interface GroupConfig {
  readonly id: number;
  readonly type: 'standard' | 'dynamic';
  /** null: no security. */
  readonly password: string | null;
  readonly allow: readonly Prefix[];
  /** The allowlist as configured (for `show` and `getAllowlist`). */
  readonly allowText: readonly string[];
  readonly offered: OfferedMethods;
}

const MAX_SERVICE_ID = 255;
const FORWARDING_BITS = { gre: ForwardingMethod.Gre, l2: ForwardingMethod.L2 } as const;
const ASSIGNMENT_BITS = { hash: AssignmentMethod.Hash, mask: AssignmentMethod.Mask } as const;
const RETURN_BITS = { gre: ReturnMethod.Gre, l2: ReturnMethod.L2 } as const;
const utf8 = new TextEncoder();

function methods(field: string, given: readonly string[] | undefined, bits: Readonly<Record<string, number>>): number {
  if (given === undefined) return Object.values(bits).reduce((a, b) => a | b, 0);
  if (!Array.isArray(given) || given.length === 0) {
    throw new WccpConfigError(field, `must list at least one of ${Object.keys(bits).join(', ')}`);
  }
  let mask = 0;
  given.forEach((name, i) => {
    const bit = Object.prototype.hasOwnProperty.call(bits, name) ? bits[name] : undefined;
    if (bit === undefined) throw new WccpConfigError(`${field}[${i}]`, `"${String(name)}" is not one of ${Object.keys(bits).join(', ')}`);
    mask |= bit;
  });
  return mask;
}

/** The allowlist entries, parsed; errors name `field[i]`. */
export function allowlistOf(field: string, entries: readonly string[]): Prefix[] {
  try {
    return parseAllowlist(entries);
  } catch (e) {
    if (e instanceof AllowlistEntryError) throw new WccpConfigError(e.index < 0 ? field : `${field}[${e.index}]`, e.message);
    throw e;
  }
}

/** One service group, checked. */
export function groupConfig(s: WccpServiceConfig, at: string): GroupConfig {
  if (typeof s !== 'object' || s === null) throw new WccpConfigError(at, 'must be an object');
  if (!Number.isInteger(s.id) || s.id < 0 || s.id > MAX_SERVICE_ID) throw new WccpConfigError(`${at}.id`, `must be an integer 0..${MAX_SERVICE_ID}`);
  if (s.type !== 'standard' && s.type !== 'dynamic') throw new WccpConfigError(`${at}.type`, 'must be "standard" or "dynamic"');
  // Only the web-cache service (standard 0: TCP to port 80) has a definition both sides know;
  // every other service must describe itself, which only a dynamic service can.
  if (s.type === 'standard' && s.id !== WEB_CACHE_SERVICE_ID) {
    throw new WccpConfigError(`${at}.id`, `standard service ${s.id} has no well-known definition (only ${WEB_CACHE_SERVICE_ID}, web-cache); configure it as dynamic`);
  }
  let password: string | null = null;
  if (s.password !== undefined) {
    if (typeof s.password !== 'string' || s.password.length === 0) throw new WccpConfigError(`${at}.password`, 'must be a non-empty string');
    // Every WCCP implementation uses only the first 8 bytes; refusing longer ones avoids a
    // password that silently means less than it says.
    if (utf8.encode(s.password).length > MD5_PASSWORD_SIZE) {
      throw new WccpConfigError(`${at}.password`, `at most ${MD5_PASSWORD_SIZE} bytes (WCCP MD5 uses no more)`);
    }
    password = s.password;
  }
  return {
    id: s.id,
    type: s.type,
    password,
    allow: allowlistOf(`${at}.allow`, s.allow),
    allowText: [...s.allow],
    offered: {
      forwarding: methods(`${at}.forwarding`, s.forwarding, FORWARDING_BITS),
      assignment: methods(`${at}.assignment`, s.assignment, ASSIGNMENT_BITS),
      return: methods(`${at}.return`, s.return, RETURN_BITS),
    },
  };
}

/** Every group, checked; one per service ID. */
export function groupConfigs(services: readonly WccpServiceConfig[]): Map<number, GroupConfig> {
  if (!Array.isArray(services)) throw new WccpConfigError('services', 'must be a list');
  if (services.length > MAX_SERVICE_GROUPS) throw new WccpConfigError('services', `at most ${MAX_SERVICE_GROUPS} service groups`);
  const out = new Map<number, GroupConfig>();
  services.forEach((s, i) => {
    const g = groupConfig(s, `services[${i}]`);
    if (out.has(g.id)) throw new WccpConfigError(`services[${i}].id`, `service ${g.id} is configured twice`);
    out.set(g.id, g);
  });
  return out;
}
