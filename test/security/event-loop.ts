/**
 * The issue 16 criterion "no client input blocks the event loop for more than 200 ms", measured
 * inside the test: the gateway runs in-process, so its event loop is the test's.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks';

/** The bound: the longest the event loop may be blocked by any client input. */
export const MAX_EVENT_LOOP_DELAY_MS = 200;

/** Samples event-loop delay from now until `stop()`; `stop()` returns the longest delay seen, in ms. */
export function watchEventLoop(): { stop(): number; maxMs(): number } {
  const histogram: IntervalHistogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  const maxMs = () => histogram.max / 1e6;
  return {
    maxMs,
    stop() {
      histogram.disable();
      return maxMs();
    },
  };
}

/** Runs `fn` with the event loop watched; returns its result and the longest delay seen while it ran. */
export async function measureEventLoop<T>(fn: () => Promise<T>): Promise<{ result: T; maxDelayMs: number }> {
  const watch = watchEventLoop();
  try {
    const result = await fn();
    // A block at the very end is recorded when the sampling timer next fires: let it fire.
    await new Promise((resolve) => setTimeout(resolve, 30));
    return { result, maxDelayMs: watch.stop() };
  } finally {
    watch.stop();
  }
}
