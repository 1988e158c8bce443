// The driver of a board port, made inside the worker of the card that owns the port (drivers and
// their media live in the thread that polls them): sim endpoints, Linux interfaces, the host's IP
// stack, as the board says. Tests and benchmarks give workers another factory by module
// (WorkerCardsOptions.drivers): a module exporting a PortDriverFactory, imported by every worker.
//
// Contract: a port the board cannot drive here throws BoardError naming the port's field.

import type { Board, BoardPort } from '../board.ts';
import type { PortDriver } from '../../../hal/driver.ts';
import { mediumDriver } from '../port-medium.ts';
import type { SimEndpoint } from '../../../hal/drivers/sim/endpoint.ts';

/** Makes the driver of `port` (a port of `board`); `arg` is the factory's own (structured-cloned) option. */
export type PortDriverFactory = (board: Board, port: BoardPort, arg: unknown) => PortDriver | Promise<PortDriver>;

/** What a worker reports of a driver for the live display: a sim endpoint's counters, or the driver's own report(). */
export function driverReport(driver: PortDriver): unknown {
  const d = driver as PortDriver & { endpoint?: SimEndpoint; report?: () => unknown };
  if (d.endpoint && typeof d.endpoint.counters === 'function') return d.endpoint.counters();
  if (typeof d.report === 'function') return d.report();
  return undefined;
}

/** The board's own drivers. */
export const boardPortDriver: PortDriverFactory = (board, port) => mediumDriver(board, port);
