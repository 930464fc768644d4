import { describe, expect, it } from 'vitest';
import { MAX_EVENT_LOOP_DELAY_MS, measureEventLoop } from './event-loop.js';

describe('the event-loop watch the hostile suites rely on', () => {
  it('reports a synchronous 300 ms block as at least the bound, and a loop that keeps yielding as far below it', async () => {
    const blocked = await measureEventLoop(async () => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      const until = performance.now() + 300;
      while (performance.now() < until) {
        /* the main thread runs without returning to the loop */
      }
    });
    expect(blocked.blockedMs).toBeGreaterThanOrEqual(MAX_EVENT_LOOP_DELAY_MS);

    const yielding = await measureEventLoop(async () => {
      const until = performance.now() + 300;
      while (performance.now() < until) {
        const slice = performance.now() + 2;
        while (performance.now() < slice) {
          /* 2 ms of work, then back to the loop */
        }
        await new Promise((resolve) => setImmediate(resolve));
      }
    });
    expect(yielding.blockedMs).toBeLessThan(MAX_EVENT_LOOP_DELAY_MS / 2);
  });
});
