// Validation shared by the configuration file, the saved running state and the management port:
// one JSON Schema (schema.json beside this file, checked with Ajv) for shapes, types and bounds,
// then the checks a schema cannot express (prefixes that parse, names and service ids that are
// unique, filters that parse, passwords that fit WCCP's 8 octets). Every problem is reported as
// an InvalidField naming the field as a dotted path ("sessions.0.snaplen"); each caller prefixes
// it with where the data came from (a file, `params`).

import { readFileSync } from 'node:fs';
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormats from 'ajv-formats';
import type { Allowlist, PolicyRule, RouterLimits } from '../control.ts';
import { FilterError, parseFilter } from '../filter/index.ts';
import { AddressError } from '../net/address.ts';
import { parseNetworkPrefix } from '../net/address.ts';
import { MIN_SNAPLEN } from '../sessions/limits.ts';
import type { ConfiguredSession, RouterState } from './types.ts';

export const CONFIG_SCHEMA = JSON.parse(readFileSync(new URL('./schema.json', import.meta.url), 'utf8')) as { $id: string; definitions: Record<string, unknown> };
export const CONFIG_SCHEMA_ID = CONFIG_SCHEMA.$id;

/** A reference to one definition of schema.json, for schemas built elsewhere (management params). */
export function definition(name: keyof typeof CONFIG_SCHEMA.definitions & string): { $ref: string } {
  if (!(name in CONFIG_SCHEMA.definitions)) throw new Error(`schema.json has no definition "${name}"`);
  return { $ref: `${CONFIG_SCHEMA_ID}#/definitions/${name}` };
}

/** MD5 security pads or truncates the password to 8 octets (firmware/shell/wccp/security.ts). */
export const MAX_PASSWORD_BYTES = 8;

export class InvalidField extends Error {
  override readonly name = 'InvalidField';
  constructor(readonly field: string, readonly detail: string) {
    super(`${field || '(top level)'}: ${detail}`);
  }
}

/**
 * An Ajv instance that knows schema.json. `defaults`: fill the schema's defaults into the data
 * (the configuration file); without it data is only checked (state, management parameters).
 */
export function createAjv(defaults: boolean): Ajv {
  const ajv = new Ajv({ allErrors: false, strict: true, useDefaults: defaults, verbose: true });
  addFormats.default(ajv, ['ipv4']);
  ajv.addSchema(CONFIG_SCHEMA);
  return ajv;
}

const joinField = (base: string, key: string): string => (base ? `${base}.${key}` : key);

/** The first schema error as (dotted field, what is wrong), with the field prefixed by `base`. */
export function schemaProblem(e: ErrorObject, base = ''): InvalidField {
  const at = e.instancePath.replace(/^\//, '').split('/').filter(Boolean).map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~')).join('.');
  const field = at ? joinField(base, at) : base;
  switch (e.keyword) {
    case 'additionalProperties':
      return new InvalidField(joinField(field, (e.params as { additionalProperty: string }).additionalProperty), 'unknown field (misspelt?)');
    case 'required':
      return new InvalidField(joinField(field, (e.params as { missingProperty: string }).missingProperty), 'is required');
    case 'enum':
      return new InvalidField(field, `must be one of: ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`);
    case 'pattern':
    case 'format': {
      const description = (e.parentSchema as { description?: string } | undefined)?.description;
      return new InvalidField(field, description ? `must be ${description}` : e.message ?? 'is invalid');
    }
    default:
      return new InvalidField(field, e.message ?? 'is invalid');
  }
}

/** Runs a compiled validator; throws the first problem as InvalidField (field prefixed by `base`). */
export function check(validate: ValidateFunction, data: unknown, base = ''): void {
  if (!validate(data)) throw schemaProblem(validate.errors![0], base);
}

// ── checks beyond the schema ────────────────────────────────────────────────────────────────

function checkFilter(filter: string, field: string): void {
  try {
    parseFilter(filter);
  } catch (e) {
    if (e instanceof FilterError) throw new InvalidField(field, e.message.replace(/^filter: /, ''));
    throw e;
  }
}

export function checkPrefixes(prefixes: readonly string[], field: string): void {
  const seen = new Set<string>();
  prefixes.forEach((p, i) => {
    try {
      parseNetworkPrefix(p);
    } catch (e) {
      if (e instanceof AddressError) throw new InvalidField(`${field}.${i}`, e.message);
      throw e;
    }
    if (seen.has(p)) throw new InvalidField(`${field}.${i}`, `"${p}" is listed twice`);
    seen.add(p);
  });
}

export function checkSession(s: ConfiguredSession, field: string): void {
  if (s.snaplen !== undefined && s.snaplen !== 0 && s.snaplen < MIN_SNAPLEN) {
    throw new InvalidField(`${field}.snaplen`, `must be 0 (whole packets) or at least ${MIN_SNAPLEN}`);
  }
  checkFilter(s.filter, `${field}.filter`);
}

export function checkSessions(sessions: readonly ConfiguredSession[], field: string): void {
  const names = new Set<string>();
  sessions.forEach((s, i) => {
    if (names.has(s.name)) throw new InvalidField(`${field}.${i}.name`, `"${s.name}" is used by two sessions`);
    names.add(s.name);
    checkSession(s, `${field}.${i}`);
  });
}

export function checkPolicy(rules: readonly PolicyRule[], field: string): void {
  rules.forEach((r, i) => checkFilter(r.filter, `${field}.${i}.filter`));
}

export function checkLimits(limits: Partial<RouterLimits>, field: string): void {
  if (limits.snaplenMin !== undefined && limits.snaplenMax !== undefined && limits.snaplenMin > limits.snaplenMax) {
    throw new InvalidField(`${field}.snaplenMin`, `is larger than ${field ? `${field}.` : ''}snaplenMax`);
  }
}

export function checkAllowlists(lists: readonly Allowlist[], field: string): void {
  const services = new Set<number>();
  lists.forEach((l, i) => {
    if (services.has(l.service)) throw new InvalidField(`${field}.${i}.service`, `service ${l.service} has two allowlists`);
    services.add(l.service);
    checkPrefixes(l.prefixes, `${field}.${i}.prefixes`);
  });
}

export function checkPassword(password: string, field: string): void {
  const bytes = new TextEncoder().encode(password).length;
  if (bytes > MAX_PASSWORD_BYTES) {
    throw new InvalidField(field, `is ${bytes} bytes; WCCP MD5 security uses at most ${MAX_PASSWORD_BYTES} (longer passwords would be cut silently)`);
  }
}

/** Everything a RouterState must satisfy beyond its schema. */
export function checkState(state: RouterState): void {
  checkAllowlists(state.allowlists, 'allowlists');
  checkSessions(state.sessions, 'sessions');
  checkPolicy(state.policy, 'policy');
  checkLimits(state.limits, 'limits');
}
