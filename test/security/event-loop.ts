/**
 * The issue 16 criterion "no client input blocks the event loop for more than 200 ms", measured
 * inside the test with monitorEventLoopDelay: the gateway runs in-process, so its event loop is
 * the test's.
 *
 * The histogram measures wall-clock lateness, which on a loaded machine (CI, agents sharing two
 * cores) also counts time the OS did not schedule the process at all. A block by our code needs
 * the main thread to run for that long, so it also consumes that much CPU: the reported block is
 * the histogram's maximum, capped by the CPU time the process used over the same window. That
 * can only hide delays no code of the process caused; a real 200 ms block still reports ≥ 200.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';

/** The bound: the longest the event loop may be blocked by any client input. */
export const MAX_EVENT_LOOP_DELAY_MS = 200;

export interface EventLoopWatch {
  /** Stops sampling; the longest block seen (ms): the delay histogram's maximum, capped by the CPU time used. */
  stop(): Promise<EventLoopReport>;
}

export interface EventLoopReport {
  /** min(maxDelayMs, cpuMs): what the process itself can have blocked. */
  readonly blockedMs: number;
  /** monitorEventLoopDelay's maximum. */
  readonly maxDelayMs: number;
  /** User + system CPU time of the process over the window. */
  readonly cpuMs: number;
}

/** Samples event-loop delay (10 ms resolution) from now until `stop()`. */
export function watchEventLoop(): EventLoopWatch {
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  const cpu0 = process.cpuUsage();
  histogram.enable();
  let report: EventLoopReport | undefined;
  return {
    async stop() {
      if (report !== undefined) return report;
      // A block at the very end is recorded when the sampling timer next fires: let it fire.
      await new Promise((resolve) => setTimeout(resolve, 30));
      histogram.disable();
      const cpu = process.cpuUsage(cpu0);
      const cpuMs = (cpu.user + cpu.system) / 1000;
      const maxDelayMs = histogram.max / 1e6;
      report = { blockedMs: Math.min(maxDelayMs, cpuMs), maxDelayMs, cpuMs };
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
