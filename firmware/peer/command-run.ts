// How a host-side command of a job runs — `twinflow peer` in every mode (command.ts, dup.ts,
// redirect.ts) and `twinflow eliminate` (eliminate.ts): until SIGINT or SIGTERM, until --duration
// seconds have passed, or until the command stops itself (--count reached), with a live status
// line on stderr meanwhile.
//
// Contract: the constructor installs the SIGINT and SIGTERM handlers, so a command constructs its
// run where its try/finally begins, and close() (in the finally) removes them and every timer;
// stop() may be called any number of times, before or after close(). The status line is rewritten
// in place (\r) every STATUS_MS on a terminal; elsewhere (a log, a pipe) a command either shows
// nothing or, when it gives `sayChanged`, a line of its own each time the status differs from the
// last one shown, so that a log shows progress without filling with identical lines.

/** How often the status line is refreshed. */
export const STATUS_MS = 1000;
const MS_PER_S = 1000;

export class CommandRun {
  /** Settles at the first stop: a signal, the duration, or stop(). */
  readonly stopped: Promise<void>;
  private settle: () => void = () => {};
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly onSignal = (): void => this.stop();

  constructor() {
    this.stopped = new Promise<void>((resolve) => { this.settle = resolve; });
    process.once('SIGINT', this.onSignal);
    process.once('SIGTERM', this.onSignal);
  }

  stop(): void {
    this.settle();
  }

  /** Stops `seconds` from now (undefined: no limit). */
  stopAfter(seconds: number | undefined): void {
    if (seconds !== undefined) this.timers.push(setTimeout(() => this.stop(), seconds * MS_PER_S));
  }

  /** Shows `render()` as the status line until close(): on a terminal always, elsewhere only with `sayChanged`. */
  showStatus(render: () => string, sayChanged?: (line: string) => void): void {
    const tty = process.stderr.isTTY;
    if (!tty && sayChanged === undefined) return;
    let last = '';
    this.timers.push(setInterval(() => {
      const line = render();
      if (tty) process.stderr.write(`\r${line}   `);
      else if (line !== last) sayChanged!(line);
      last = line;
    }, STATUS_MS));
  }

  /** Removes the signal handlers and every timer. */
  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.length = 0;
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
  }
}
