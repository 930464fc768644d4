/** Polling helpers for tests: wait for a condition with a deadline instead of sleeping. */

/**
 * Calls `probe` until it returns a value other than undefined/false (or stops throwing), then
 * returns that value. Fails with the last error or a timeout message after `timeoutMs`.
 */
export async function eventually<T>(
  probe: () => T | Promise<T>,
  options: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<Exclude<T, undefined | false>> {
  const deadline = Date.now() + (options.timeoutMs ?? 10_000);
  const interval = options.intervalMs ?? 20;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value as Exclude<T, undefined | false>;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const what = options.what ?? 'condition';
      if (lastError instanceof Error) {
        lastError.message = `${what} not met within ${options.timeoutMs ?? 10_000} ms: ${lastError.message}`;
        throw lastError;
      }
      throw new Error(`${what} not met within ${options.timeoutMs ?? 10_000} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, interval));
  }
}

/** Resolves with the first emission of `event` on an EventEmitter-like, or rejects after timeoutMs. */
export function nextEvent<T = unknown>(
  emitter: { once(event: string, fn: (...args: any[]) => void): unknown; off?(event: string, fn: (...args: any[]) => void): unknown },
  event: string,
  timeoutMs = 10_000,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no "${event}" event within ${timeoutMs} ms`)), timeoutMs);
    emitter.once(event, (value: T) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}
