// Firmware versions and their order: MAJOR.MINOR.PATCH, compared numerically (semver precedence
// without pre-release tags, which firmware images do not use: a device's minimum version must
// be a plain threshold).

import { VersionError } from './errors.ts';

/** Digits per component: enough for any real version, and the numbers stay exact. */
const MAX_COMPONENT_DIGITS = 9;
const VERSION_RE = new RegExp(`^(0|[1-9]\\d{0,${MAX_COMPONENT_DIGITS - 1}})\\.(0|[1-9]\\d{0,${MAX_COMPONENT_DIGITS - 1}})\\.(0|[1-9]\\d{0,${MAX_COMPONENT_DIGITS - 1}})$`);

export type Version = readonly [major: number, minor: number, patch: number];

/** Parses a version; `field` names where it came from (an option, a manifest field). */
export function parseVersion(text: string, field: string): Version {
  const m = VERSION_RE.exec(text);
  if (!m) throw new VersionError(field, text);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

/** Negative when a < b, zero when equal, positive when a > b. */
export function compareVersions(a: string, b: string): number {
  const x = parseVersion(a, 'version');
  const y = parseVersion(b, 'version');
  for (let i = 0; i < 3; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return 0;
}

/** True when `text` is a well-formed version. */
export function isVersion(text: unknown): text is string {
  return typeof text === 'string' && VERSION_RE.test(text);
}
