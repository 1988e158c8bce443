// Configuration of the `fault` wrapper driver: what it does to frames in each direction, and the
// validation that turns a bad configuration into one error naming the field.
//
// Contract: validateFaultConfig() accepts a plain object (untrusted: it may come from a board
// file or a test) and either returns a fully defaulted ResolvedFaultConfig or throws
// FaultConfigError whose `field` is the dotted path of the first offending field ("rx.drop").
// Unknown fields are errors too, so a misspelt fault never silently does nothing.

/** Probabilities are fractions of frames, 0 (never) to 1 (every frame). */
export const PROBABILITY_MIN = 0;
export const PROBABILITY_MAX = 1;

/**
 * Longest delay or jitter, 10 s in ns. A held frame pins a receive frame of the shared pool, so
 * holds must end; 10 s is longer than any path the simulator models, so a larger value is more
 * likely a mistake than a model of a network.
 */
export const MAX_DELAY_NS = 10_000_000_000;

/**
 * Frames one hold queue keeps by default. Each held frame pins a receive frame, so this is also
 * how much of the pool one delayed queue may take; a frame arriving at a full hold queue is
 * dropped and counted as holdOverflow.
 */
export const DEFAULT_HOLD_CAPACITY = 1024;
/** Largest hold queue: the hold queue is a sorted array, kept small enough for O(n) inserts. */
export const MAX_HOLD_CAPACITY = 65_536;

/** Seed used when a direction gives none (any fixed value would do; this one is xorshift-friendly). */
export const DEFAULT_SEED = 0x2545f491;
export const SEED_MAX = 0xffff_ffff;

/** What the wrapper does to the frames of one direction. Every field is optional (default: off). */
export interface FaultDirectionConfig {
  /** Probability that a frame is lost. */
  readonly drop?: number;
  /** Probability that one bit of a frame, at or after byte 14 (never the Ethernet header), flips. */
  readonly corrupt?: number;
  /** Probability that a frame is followed by an identical copy in a new frame. */
  readonly duplicate?: number;
  /** Fixed delay in ns (integer, 0..MAX_DELAY_NS). */
  readonly delayNs?: number;
  /** Uniform extra delay 0..jitterNs in ns (integer, 0..MAX_DELAY_NS); frames may be reordered. */
  readonly jitterNs?: number;
  /** Seed of the direction's xorshift32 (u32; 0 is replaced by a fixed non-zero constant). */
  readonly seed?: number;
  /** Frames a hold queue of this direction keeps (1..MAX_HOLD_CAPACITY). */
  readonly holdCapacity?: number;
}

/** Faults per direction: `rx` acts on what the inner driver receives, `tx` on what the router sends. */
export interface FaultConfig {
  readonly rx?: FaultDirectionConfig;
  readonly tx?: FaultDirectionConfig;
}

/** A direction's configuration with every default applied. */
export interface ResolvedDirection {
  readonly drop: number;
  readonly corrupt: number;
  readonly duplicate: number;
  readonly delayNs: number;
  readonly jitterNs: number;
  readonly seed: number;
  readonly holdCapacity: number;
  /** True when frames go through the hold queue (a delay or a jitter is configured). */
  readonly delays: boolean;
}

export interface ResolvedFaultConfig {
  readonly rx: ResolvedDirection;
  readonly tx: ResolvedDirection;
}

/** The fixed parts of FaultConfigError messages. */
export const FAULT_CONFIG_ERRORS = {
  notObject: 'must be an object',
  unknownField: 'is not a fault setting',
  probability: `must be a probability in ${PROBABILITY_MIN}..${PROBABILITY_MAX}`,
  delay: `must be an integer number of ns in 0..${MAX_DELAY_NS} (10 s)`,
  seed: `must be an integer in 0..${SEED_MAX} (u32)`,
  holdCapacity: `must be an integer in 1..${MAX_HOLD_CAPACITY}`,
} as const;

/** A fault configuration is invalid; `field` is the dotted path of the offending field. */
export class FaultConfigError extends RangeError {
  override readonly name = 'FaultConfigError';

  constructor(readonly field: string, readonly detail: string, value: unknown) {
    super(`fault config ${field}: ${detail}, got ${describe(value)}`);
  }
}

const DIRECTIONS = ['rx', 'tx'] as const;
const PROBABILITY_FIELDS = ['drop', 'corrupt', 'duplicate'] as const;
const DELAY_FIELDS = ['delayNs', 'jitterNs'] as const;
const DIRECTION_FIELDS: ReadonlySet<string> = new Set([...PROBABILITY_FIELDS, ...DELAY_FIELDS, 'seed', 'holdCapacity']);

function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'bigint') return `${value}n`;
  if (value === null || typeof value !== 'object') return String(value);
  return Array.isArray(value) ? 'an array' : 'an object';
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function integerIn(v: unknown, lo: number, hi: number): v is number {
  return typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi;
}

function resolveDirection(name: string, raw: unknown): ResolvedDirection {
  if (raw === undefined) raw = {};
  if (!isRecord(raw)) throw new FaultConfigError(name, FAULT_CONFIG_ERRORS.notObject, raw);
  for (const key of Object.keys(raw)) {
    if (!DIRECTION_FIELDS.has(key)) throw new FaultConfigError(`${name}.${key}`, FAULT_CONFIG_ERRORS.unknownField, raw[key]);
  }
  const out: Record<string, number> = {};
  for (const f of PROBABILITY_FIELDS) {
    const v = raw[f] ?? 0;
    if (typeof v !== 'number' || !(v >= PROBABILITY_MIN && v <= PROBABILITY_MAX)) {
      throw new FaultConfigError(`${name}.${f}`, FAULT_CONFIG_ERRORS.probability, v);
    }
    out[f] = v;
  }
  for (const f of DELAY_FIELDS) {
    const v = raw[f] ?? 0;
    if (!integerIn(v, 0, MAX_DELAY_NS)) throw new FaultConfigError(`${name}.${f}`, FAULT_CONFIG_ERRORS.delay, v);
    out[f] = v;
  }
  const seed = raw.seed ?? DEFAULT_SEED;
  if (!integerIn(seed, 0, SEED_MAX)) throw new FaultConfigError(`${name}.seed`, FAULT_CONFIG_ERRORS.seed, seed);
  const hold = raw.holdCapacity ?? DEFAULT_HOLD_CAPACITY;
  if (!integerIn(hold, 1, MAX_HOLD_CAPACITY)) throw new FaultConfigError(`${name}.holdCapacity`, FAULT_CONFIG_ERRORS.holdCapacity, hold);
  return {
    drop: out.drop!,
    corrupt: out.corrupt!,
    duplicate: out.duplicate!,
    delayNs: out.delayNs!,
    jitterNs: out.jitterNs!,
    seed,
    holdCapacity: hold,
    delays: out.delayNs! > 0 || out.jitterNs! > 0,
  };
}

/** Checks a fault configuration and applies the defaults; throws FaultConfigError. */
export function validateFaultConfig(config: unknown): ResolvedFaultConfig {
  if (!isRecord(config)) throw new FaultConfigError('(config)', FAULT_CONFIG_ERRORS.notObject, config);
  for (const key of Object.keys(config)) {
    if (!(DIRECTIONS as readonly string[]).includes(key)) throw new FaultConfigError(key, FAULT_CONFIG_ERRORS.unknownField, config[key]);
  }
  return { rx: resolveDirection('rx', config.rx), tx: resolveDirection('tx', config.tx) };
}
