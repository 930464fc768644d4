/**
 * The issue 16 criterion "no client input blocks the event loop for more than 200 ms", measured
 * inside the test: the gateway runs in-process, so its event loop is the test's.
 *
 * Wall-clock lateness (monitorEventLoopDelay) on a loaded machine (CI, agents sharing two cores)
 * also counts time the OS did not run the process at all. A block by our code is the main thread
 * RUNNING without returning to the loop, so on Linux the watch samples the main thread's own run
 * time (/proc/thread-self/schedstat, nanoseconds on the CPU) from a 10 ms timer: the longest block
 * is the largest run time between two consecutive ticks. Time spent waiting for a CPU is not run
 * time and is not counted; a real 200 ms block still shows ≥ 200 ms of run time between ticks.
 * Elsewhere the histogram's maximum capped by the process's CPU time stands in.
 */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';

/** The bound: the longest the event loop may be blocked by any client input. */
export const MAX_EVENT_LOOP_DELAY_MS = 200;

export interface EventLoopWatch {
  /** Stops sampling; the longest block seen (see EventLoopReport.blockedMs). */
  stop(): Promise<EventLoopReport>;
}

export interface EventLoopReport {
  /** The longest the main thread ran between two loop ticks (ms); without /proc, min(maxDelayMs, cpuMs). */
  readonly blockedMs: number;
  /** monitorEventLoopDelay's maximum (wall clock, includes time waiting for a CPU). */
  readonly maxDelayMs: number;
  /** User + system CPU time of the process over the window. */
  readonly cpuMs: number;
}

const SCHEDSTAT = '/proc/thread-self/schedstat';

/** The calling thread's time on a CPU (ns), or undefined where /proc does not say. */
function threadRunNs(): number | undefined {
  try {
    return Number(readFileSync(SCHEDSTAT, 'utf8').split(' ')[0]);
  } catch {
    return undefined;
  }
}

/** Samples event-loop blocking (10 ms resolution) from now until `stop()`. */
export function watchEventLoop(): EventLoopWatch {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  const cpu0 = process.cpuUsage();
  histogram.enable();
  let last = threadRunNs();
  let longestRunNs = 0;
  const tick = (): void => {
    const now = threadRunNs();
    if (now !== undefined && last !== undefined && now - last > longestRunNs) longestRunNs = now - last;
    last = now;
  };
  const timer = last === undefined ? undefined : setInterval(tick, 10);
  let report: EventLoopReport | undefined;
  return {
    async stop() {
      if (report !== undefined) return report;
      // A block at the very end is recorded when the sampling timer next fires: let it fire.
      await new Promise((resolve) => setTimeout(resolve, 30));
      histogram.disable();
      if (timer !== undefined) {
        clearInterval(timer);
        tick();
      }
      const cpu = process.cpuUsage(cpu0);
      const cpuMs = (cpu.user + cpu.system) / 1000;
      const maxDelayMs = histogram.max / 1e6;
      const blockedMs = timer === undefined ? Math.min(maxDelayMs, cpuMs) : longestRunNs / 1e6;
      report = { blockedMs, maxDelayMs, cpuMs };
      return report;
    },
  };
}

/** Runs `fn` with the event loop watched; returns its result and the longest block seen while it ran. */
export async function measureEventLoop<T>(fn: () => Promise<T>): Promise<{ result: T } & EventLoopReport> {
  const watch = watchEventLoop();
  try {
    const result = await fn();
    return { result, ...(await watch.stop()) };
  } finally {
    await watch.stop();
  }
}
