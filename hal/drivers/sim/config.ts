// Validation of the simulated endpoints' configuration. Configs come from board files (JSON, cast
// by the boot code) and from tests, so every field is checked here, at construction, and every
// error names the endpoint and the field. After construction the hosts trust their config.

import { IPV6_BYTES, MAC_GROUP_BIT, MAC_MAX, ipv6Low32, macValue, parseIpv4, parseIpv6, parseMac } from '../../net/address.ts';
import { Vlan } from './packets.ts';

/** A configuration error: which endpoint, which field, what was expected. */
export class SimConfigError extends Error {
  override readonly name = 'SimConfigError';
  constructor(readonly endpoint: string, readonly field: string, detail: string) {
    super(`sim endpoint "${endpoint}": ${field}: ${detail}`);
  }
}

const U32_MAX = 0xffffffff;
const PORT_MIN = 1;
const PORT_MAX = 65535;

/** Field checks for one endpoint's config; each returns the checked value or throws SimConfigError. */
export class ConfigCheck {
  readonly endpoint: string;

  /** `name` is the endpoint's name, itself checked to be a non-empty string. */
  constructor(name: unknown) {
    if (typeof name !== 'string' || name.length === 0) throw new SimConfigError(String(name), 'name', 'must be a non-empty string');
    this.endpoint = name;
  }

  /** Throws the SimConfigError for `field`. */
  fail(field: string, detail: string): never {
    throw new SimConfigError(this.endpoint, field, detail);
  }

  /** An object (for nested groups of fields). */
  object(field: string, v: unknown): Record<string, unknown> {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(field, 'must be an object');
    return v as Record<string, unknown>;
  }

  /** An integer in [lo, hi]. */
  int(field: string, v: unknown, lo: number, hi: number): number {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) this.fail(field, `must be an integer ${lo}..${hi}`);
    return v;
  }

  /** An integer in [lo, hi], or `fallback` when absent. */
  optionalInt(field: string, v: unknown, lo: number, hi: number, fallback: number): number {
    return v === undefined ? fallback : this.int(field, v, lo, hi);
  }

  /** A finite number in [lo, hi]. */
  number(field: string, v: unknown, lo: number, hi: number): number {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < lo || v > hi) this.fail(field, `must be a number ${lo}..${hi}`);
    return v;
  }

  /** A fraction 0..1. */
  share(field: string, v: unknown): number {
    return this.number(field, v, 0, 1);
  }

  /** [min, max] integers with lo ≤ min ≤ max ≤ hi. */
  range(field: string, v: unknown, lo: number, hi: number): readonly [number, number] {
    if (!Array.isArray(v) || v.length !== 2) this.fail(field, `must be [min, max] with ${lo} ≤ min ≤ max ≤ ${hi}`);
    const a = this.int(`${field}[0]`, v[0], lo, hi);
    const b = this.int(`${field}[1]`, v[1], lo, hi);
    if (a > b) this.fail(field, `min ${a} is larger than max ${b}`);
    return [a, b];
  }

  /** A dotted IPv4 address, as a u32. */
  ipv4(field: string, v: unknown): number {
    const a = typeof v === 'string' ? parseIpv4(v) : null;
    if (a === null) this.fail(field, `${JSON.stringify(v)} is not an IPv4 address (a.b.c.d)`);
    return a;
  }

  /** The first of `count` consecutive IPv4 addresses; the block must not pass 255.255.255.255. */
  ipv4Block(field: string, v: unknown, count: number): number {
    const a = this.ipv4(field, v);
    if (a + count - 1 > U32_MAX) this.fail(field, `${count} consecutive addresses do not fit after ${String(v)}`);
    return a;
  }

  /** The first of `count` consecutive IPv6 addresses; only the low 32 bits may vary. */
  ipv6Block(field: string, v: unknown, count: number): Uint8Array {
    const a = typeof v === 'string' ? parseIpv6(v) : null;
    if (a === null || a.length !== IPV6_BYTES) this.fail(field, `${JSON.stringify(v)} is not an IPv6 address`);
    if (ipv6Low32(a) + count - 1 > U32_MAX) this.fail(field, `${count} consecutive addresses would carry out of the low 32 bits`);
    return a;
  }

  /** The unicast base MAC of `count` consecutive MACs. */
  macBlock(field: string, v: unknown, count: number): Uint8Array {
    const m = typeof v === 'string' ? parseMac(v) : null;
    if (m === null) this.fail(field, `${JSON.stringify(v)} is not a MAC address (aa:bb:cc:dd:ee:ff)`);
    if ((m[0] & MAC_GROUP_BIT) !== 0) this.fail(field, 'must be a unicast address (low bit of the first byte clear)');
    if (macValue(m) + count - 1 > MAC_MAX) this.fail(field, `${count} consecutive addresses do not fit after ${String(v)}`);
    return m;
  }

  /** An optional 802.1Q VLAN id. */
  vlan(field: string, v: unknown): number | undefined {
    return v === undefined ? undefined : this.int(field, v, Vlan.MinVid, Vlan.MaxVid);
  }

  /** A non-empty list of TCP/UDP ports. */
  ports(field: string, v: unknown): readonly number[] {
    if (!Array.isArray(v) || v.length === 0) this.fail(field, `must be a non-empty list of ports ${PORT_MIN}..${PORT_MAX}`);
    return v.map((p, i) => this.int(`${field}[${i}]`, p, PORT_MIN, PORT_MAX));
  }

  /** A seed: any integer (taken mod 2^32). */
  seed(field: string, v: unknown): number {
    if (typeof v !== 'number' || !Number.isInteger(v)) this.fail(field, 'must be an integer');
    return v >>> 0;
  }
}
