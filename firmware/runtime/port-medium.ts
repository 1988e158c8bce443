// The driver for a board port's medium, as the board file names it: a sim endpoint, a Linux
// interface (AF_PACKET), or this machine's IP stack. One place for boot (a one-card board, the
// runtime's own thread) and for the line-card workers (each makes the drivers of its own ports).
// Wrappers a port's options add (optional, fault, trace) are the caller's.
//
// Contract: the board is validated; a port this build cannot drive, or a sim port without its
// endpoint, or an interface that cannot be opened, throws BoardError naming the port's field.

import { BoardError, type Board, type BoardPort } from './board.ts';
import type { PortDriver } from '../../hal/driver.ts';
import { SimPortDriver } from '../../hal/drivers/sim/driver.ts';
import { LinuxPortDriver } from '../../hal/drivers/linux/driver.ts';
import { InterfaceError } from '../../hal/drivers/linux/errors.ts';
import { HostPortDriver } from '../../hal/drivers/host/driver.ts';
import { ClientGroup, Collector, ServerGroup, type ClientGroupConfig, type CollectorConfig, type ServerGroupConfig } from '../../hal/drivers/sim/index.ts';
import type { SimEndpoint } from '../../hal/drivers/sim/endpoint.ts';

/** The driver of `port`, a port of `board` (matched by name: a worker holds a copy of the board). */
export function mediumDriver(board: Board, port: BoardPort): PortDriver {
  const i = board.ports.findIndex((p) => p.name === port.name);
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
      throw new BoardError(board.file, `ports.${i}.driver`, `"${port.driver}" ports cannot be booted (a capture file is run with twinflow replay)`);
  }
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
