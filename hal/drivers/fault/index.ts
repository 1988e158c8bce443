// Public surface of the `fault` wrapper driver (see driver.ts for its contract).

export { FaultDriver } from './driver.ts';
export type { FaultCounters } from './driver.ts';
export {
  DEFAULT_HOLD_CAPACITY,
  DEFAULT_SEED,
  FAULT_CONFIG_ERRORS,
  FaultConfigError,
  MAX_DELAY_NS,
  MAX_HOLD_CAPACITY,
  validateFaultConfig,
} from './config.ts';
export type { FaultConfig, FaultDirectionConfig, ResolvedDirection, ResolvedFaultConfig } from './config.ts';
export { CORRUPT_FROM, DRAWS_PER_FRAME, FateDealer } from './fate.ts';
export { XorShift32 } from '../../prng.ts';
export type { Fate } from './fate.ts';
