// The driver of a board port, made inside the worker of the card that owns the port (drivers and
// their media live in the thread that polls them): sim endpoints, Linux interfaces, the host's IP
// stack, as the board says. Tests and benchmarks give workers another factory by module
// (WorkerCardsOptions.drivers): a module exporting a PortDriverFactory, imported by every worker.
//
// Contract: a port the board cannot drive here throws BoardError naming the port's field.

import { BoardError, type Board, type BoardPort } from '../board.ts';
import type { PortDriver } from '../../../hal/driver.ts';
import { SimPortDriver } from '../../../hal/drivers/sim/driver.ts';
import { LinuxPortDriver } from '../../../hal/drivers/linux/driver.ts';
import { InterfaceError } from '../../../hal/drivers/linux/errors.ts';
import { HostPortDriver } from '../../../hal/drivers/host/driver.ts';
import { ClientGroup, Collector, ServerGroup, type ClientGroupConfig, type CollectorConfig, type ServerGroupConfig } from '../../../hal/drivers/sim/index.ts';
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

function endpointFor(board: Board, port: BoardPort, i: number): SimEndpoint {
  const e = port.endpoint;
  if (!e) throw new BoardError(board.file, `ports.${i}.endpoint`, 'a sim port needs an endpoint');
  const { kind, ...config } = e;
  switch (kind) {
    case 'clients': return new ClientGroup({ name: port.name, ...config } as unknown as ClientGroupConfig);
    case 'servers': return new ServerGroup({ name: port.name, ...config } as unknown as ServerGroupConfig);
    case 'collector': return new Collector({ name: port.name, ...config } as unknown as CollectorConfig);
  }
}

/** The board's own drivers. */
export const boardPortDriver: PortDriverFactory = (board, port) => {
  const i = board.ports.indexOf(board.ports.find((p) => p.name === port.name)!);
  switch (port.driver) {
    case 'sim':
      return new SimPortDriver(endpointFor(board, port, i));
    case 'linux':
      try {
        return new LinuxPortDriver({ interface: port.interface ?? '' });
      } catch (e) {
        if (e instanceof InterfaceError) throw new BoardError(board.file, `ports.${i}.interface`, e.message);
        throw e;
      }
    case 'host':
      return new HostPortDriver();
    default:
      throw new BoardError(board.file, `ports.${i}.driver`, `"${port.driver}" ports cannot be run by a line card yet`);
  }
};
