// The saved running state (what operators change at run time and the management port's `save`
// writes): a RouterState as MessagePack (the interoperable encoding, firmware/shell/msgpack.ts)
// inside the checksummed container of container.ts, replaced atomically (atomic-write.ts, mode
// 0600: it holds the operator's sessions and allowlists).
//
// Contract: saveState validates before it writes (a state that could not be loaded back is
// never written) and leaves the old file in place if anything fails. loadState trusts nothing:
// container (magic, version, length, checksum), then MessagePack, then the same schema and
// checks as the configuration file's; every failure is a StateError naming the file (and the
// field, for content). Both are synchronous: a state is small, and a save must not interleave
// with another change.

import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { decodeValue, encodeValue, MsgpackError } from '../msgpack.ts';
import { writeFileAtomic } from './atomic-write.ts';
import { ContainerError, decodeContainer, encodeContainer, HEADER_BYTES, MAX_PAYLOAD_BYTES } from './container.ts';
import type { ValidateFunction } from 'ajv';
import { StateError } from './errors.ts';
import type { RouterState } from './types.ts';
import { check, checkState, createAjv, CONFIG_SCHEMA_ID, InvalidField } from './validate.ts';

export { StateError };

let validateStateSchema: ValidateFunction | undefined;

/** A path as messages show it: relative to the working directory when below it, else absolute. */
const shown = (file: string): string => {
  const rel = path.relative(process.cwd(), path.resolve(file));
  return rel && !rel.startsWith('..') ? rel : path.resolve(file);
};

/** Checks a state as strictly as a configuration file; throws InvalidField. */
export function validateState(data: unknown): RouterState {
  validateStateSchema ??= createAjv(false).getSchema(`${CONFIG_SCHEMA_ID}#/definitions/state`)!;
  check(validateStateSchema, data);
  const state = data as RouterState;
  checkState(state);
  return state;
}

/** Writes `state` to `file` atomically (mode 0600); returns the bytes written. */
export function saveState(file: string, state: RouterState): number {
  try {
    validateState(state);
  } catch (e) {
    if (e instanceof InvalidField) throw new StateError(shown(file), e.field, `refusing to save: ${e.detail}`);
    throw e;
  }
  const bytes = encodeContainer(encodeValue(state));
  writeFileAtomic(path.resolve(file), bytes);
  return bytes.length;
}

/** Reads and validates a saved state; throws StateError. */
export function loadState(file: string): RouterState {
  const name = shown(file);
  let bytes: Uint8Array;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new StateError(name, '', 'is not a regular file');
    if (st.size > HEADER_BYTES + MAX_PAYLOAD_BYTES) throw new StateError(name, '', `is ${st.size} bytes, larger than any state`);
    bytes = readFileSync(file);
  } catch (e) {
    if (e instanceof StateError) throw e;
    const code = (e as { code?: string }).code;
    throw new StateError(name, '', code === 'ENOENT' ? 'no such file' : `cannot be read (${code ?? (e as Error).message})`);
  }
  let value: unknown;
  try {
    value = decodeValue(decodeContainer(bytes));
  } catch (e) {
    if (e instanceof ContainerError || e instanceof MsgpackError) throw new StateError(name, '', e.message);
    throw e;
  }
  try {
    return validateState(value);
  } catch (e) {
    if (e instanceof InvalidField) throw new StateError(name, e.field, e.detail);
    throw e;
  }
}
