// A configured router: the control plane (firmware/shell/router.ts) over running line cards, with
// its network faces — the WCCPv2 router on UDP (default 2048), the management port (TLS-PSK), the
// Prometheus endpoint — and its saved state. `twinflow boot --config FILE` runs one.
//
// Contract
// - start() validates everything before anything listens: the configuration against the board
//   (sessions and policy compile, placement resolves), the key file, the saved state if there
//   is one (it was written by `save` and is applied over the file's sessions and allowlists, so
//   changes made at run time survive a restart). Any failure throws a user error naming the file
//   and field, and whatever had started is closed again.
// - poll() runs between data-plane iterations (lifetimes, held replicas).
// - close() stops listening and drops connections; the cards are the caller's.

import { existsSync, statSync } from 'node:fs';
import type { Board } from './board.ts';
import type { CardSet } from './cards.ts';
import { Router } from '../shell/router.ts';
import type { RouterConfig } from '../shell/config/types.ts';
import { loadState, saveState } from '../shell/config/state.ts';
import { WccpRouter } from '../shell/wccp/router/index.ts';
import { WccpServer } from '../shell/wccp/server.ts';
import { ManagementServer } from '../shell/mgmt/server.ts';
import { MetricsServer } from '../shell/mgmt/metrics.ts';
import { readKeyFile } from '../shell/mgmt/keyfile.ts';
import { FIRMWARE_VERSION } from '../version.ts';

export interface RouterProcessOptions {
  readonly board: Board;
  readonly cards: CardSet;
  readonly config: RouterConfig;
  readonly log?: (line: string) => void;
}

export class RouterProcess {
  private wccpServer: WccpServer | undefined;
  private management: ManagementServer | undefined;
  private metrics: MetricsServer | undefined;

  private constructor(readonly router: Router, readonly wccp: WccpRouter, private readonly log: (line: string) => void) {}

  /** The listening ports, once started (for messages and tests). */
  readonly listening: { wccp?: string; management?: string; metrics?: string } = {};

  static async start(o: RouterProcessOptions): Promise<RouterProcess> {
    const log = o.log ?? (() => {});
    const c = o.config;
    const router = new Router({
      board: o.board,
      cards: o.cards,
      config: c,
      version: FIRMWARE_VERSION,
      store: {
        save: async (path, state) => saveState(path, state),
        load: async (path) => {
          const state = loadState(path);
          return { state, bytes: statSync(path).size };
        },
      },
      log,
    });
    if (c.state !== undefined && existsSync(c.state)) {
      router.applyState(loadState(c.state));
      log(`saved state applied from ${c.state}`);
    }
    const wccp = new WccpRouter({ ...c.wccp, services: c.services, hooks: { ...router.wccpHooks, log } });
    router.attachWccp(wccp);
    const p = new RouterProcess(router, wccp, log);
    try {
      const key = c.management ? readKeyFile(c.management.keyFile) : undefined;
      p.wccpServer = new WccpServer({ router: wccp, address: c.wccp.address, port: c.wccp.port, log });
      await p.wccpServer.start();
      p.listening.wccp = `${c.wccp.address}:${c.wccp.port}/udp`;
      if (c.management && key) {
        const management = new ManagementServer({ control: router, keys: key, log });
        p.management = management;
        const port = await management.listen(c.management.address, c.management.port);
        p.listening.management = `${c.management.address}:${port}`;
        router.attachManagementCounters(() => management.counters());
        if (c.management.metrics) {
          p.metrics = new MetricsServer(router, log);
          const mport = await p.metrics.listen(c.management.metrics.address, c.management.metrics.port);
          p.listening.metrics = `http://${c.management.metrics.address}:${mport}/metrics`;
        }
      }
    } catch (e) {
      await p.close();
      throw e;
    }
    return p;
  }

  poll(nowMs?: number): void {
    this.router.poll(nowMs);
  }

  async close(): Promise<void> {
    await this.metrics?.close();
    await this.management?.close();
    await this.wccpServer?.close();
    this.metrics = undefined;
    this.management = undefined;
    this.wccpServer = undefined;
  }
}
