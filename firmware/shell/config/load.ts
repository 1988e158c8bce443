// The operator's configuration file (`twinflow boot --config FILE`, JSON, docs/config.md):
// read, checked against schema.json (Ajv; defaults filled from the schema), then checked for what
// a schema cannot say (validate.ts, plus what is specific to the file: service ids unique,
// passwords within WCCP's 8 octets, a metrics port that is not the management port). Relative paths (the key file,
// the state file) are resolved against the file's own directory, so a configuration can be
// moved with the files beside it. Every error is a ConfigError naming the file and the field.
//
// Bounded: the file is read whole but refused beyond MAX_CONFIG_BYTES before parsing.

import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { ValidateFunction } from 'ajv';
import { ConfigError } from './errors.ts';
import type { ManagementConfig, RouterConfig, WccpServiceConfig } from './types.ts';
import {
  check, checkLimits, checkPassword, checkPolicy, checkPrefixes, checkSessions, createAjv, CONFIG_SCHEMA_ID, InvalidField,
} from './validate.ts';

/** Far beyond any real configuration (64 sessions and 256 policy rules at the filter maximum). */
export const MAX_CONFIG_BYTES = 8 << 20;

/** WCCP well-known services are 0..50 ("dynamic services use 51–255", docs/config.md). */
export const MAX_STANDARD_SERVICE_ID = 50;

export { ConfigError };

let validateConfig: ValidateFunction | undefined;

/** Reads, validates and completes a configuration file; throws ConfigError. */
export function loadRouterConfig(file: string): RouterConfig {
  const absolute = path.resolve(file);
  const rel = path.relative(process.cwd(), absolute);
  const shown = rel && !rel.startsWith('..') ? rel : absolute;
  let text: string;
  try {
    const st = statSync(absolute);
    if (!st.isFile()) throw new ConfigError(shown, '', 'is not a regular file');
    if (st.size > MAX_CONFIG_BYTES) throw new ConfigError(shown, '', `is ${st.size} bytes; a configuration file is at most ${MAX_CONFIG_BYTES}`);
    text = readFileSync(absolute, 'utf8');
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    const code = (e as { code?: string }).code;
    throw new ConfigError(shown, '', code === 'ENOENT' ? 'no such file' : `cannot be read (${code ?? (e as Error).message})`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(shown, '', `not valid JSON: ${(e as Error).message}`);
  }
  try {
    return validateRouterConfig(data, absolute);
  } catch (e) {
    if (e instanceof InvalidField) throw new ConfigError(shown, e.field, e.detail);
    throw e;
  }
}

/**
 * Validates configuration data as read from `file` (its directory anchors relative paths);
 * throws InvalidField. The data is completed in place with the schema's defaults.
 */
export function validateRouterConfig(data: unknown, file: string): RouterConfig {
  validateConfig ??= createAjv(true).getSchema(CONFIG_SCHEMA_ID)!;
  check(validateConfig, data);
  const { $schema: _schema, ...raw } = data as Omit<RouterConfig, 'file'> & { $schema?: string };
  const dir = path.dirname(file);

  const ids = new Map<number, number>();
  raw.services.forEach((s: WccpServiceConfig, i) => {
    const field = `services.${i}`;
    if (ids.has(s.id)) throw new InvalidField(`${field}.id`, `service ${s.id} is also services.${ids.get(s.id)}`);
    ids.set(s.id, i);
    if (s.type === 'standard' && s.id > MAX_STANDARD_SERVICE_ID) {
      throw new InvalidField(`${field}.id`, `standard (well-known) services are 0..${MAX_STANDARD_SERVICE_ID}; use type "dynamic" for ${s.id}`);
    }
    if (s.password !== undefined) checkPassword(s.password, `${field}.password`);
    checkPrefixes(s.allow, `${field}.allow`);
  });
  checkSessions(raw.sessions, 'sessions');
  checkPolicy(raw.policy, 'policy');
  checkLimits(raw.limits, 'limits');

  let management: ManagementConfig | undefined;
  if (raw.management) {
    const m = raw.management;
    if (m.metrics && m.metrics.address === m.address && m.metrics.port === m.port) {
      throw new InvalidField('management.metrics.port', `is the management port itself (${m.address}:${m.port})`);
    }
    management = { ...m, keyFile: path.resolve(dir, m.keyFile) };
  }
  return {
    ...raw,
    file,
    ...(management ? { management } : {}),
    ...(raw.state !== undefined ? { state: path.resolve(dir, raw.state) } : {}),
    ...(raw.images !== undefined ? { images: { slots: path.resolve(dir, raw.images.slots), publicKey: path.resolve(dir, raw.images.publicKey) } } : {}),
  };
}
