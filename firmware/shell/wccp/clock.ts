// The clock the WCCP server and device read and schedule with. Production uses systemClock;
// tests inject a manual clock and advance it, so a 30-second removal takes microseconds.
//
// Contract: now() never goes backwards (systemClock is anchored at the wall clock once and then
// follows the monotonic clock, so an NTP step cannot remove every cache at once). Periodic
// callbacks of the system clock are unref'd timers: they never keep the process alive.

/** Milliseconds, and a way to run something periodically. */
export interface WccpClock {
  now(): number;
  /** Calls `fn` every `periodMs` until the returned function is called. */
  every(periodMs: number, fn: () => void): () => void;
}

const anchor = Date.now() - performance.now();

/** Wall-clock milliseconds at process start, advanced by the monotonic clock. */
export const systemClock: WccpClock = {
  now: () => Math.floor(anchor + performance.now()),
  every(periodMs, fn) {
    const timer = setInterval(fn, periodMs);
    timer.unref();
    return () => clearInterval(timer);
  },
};
