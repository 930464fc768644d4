/**
 * The idempotent-produce window: a produce carrying an idempotency key that is retried within
 * the window gets the original results instead of writing again. Keys are scoped by principal
 * and topic. In-flight duplicates wait for the first attempt. A failed attempt is forgotten so
 * a retry can write. Memory is bounded by `maxKeys` (oldest forgotten first).
 */
import type { ProduceResult } from './record.js';

interface Entry {
  readonly expires: number;
  readonly result: Promise<ProduceResult[]>;
}

/** Remembers produce results by idempotency key for a bounded time and count. */
export class IdempotencyWindow {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly options: { windowMs: number; maxKeys: number }) {}

  /** Runs `produce` once per (scope, key) within the window; later calls get the same results. */
  run(scope: string, key: string, produce: () => Promise<ProduceResult[]>): Promise<ProduceResult[]> {
    const id = `${scope}\u0000${key}`;
    const now = Date.now();
    const existing = this.entries.get(id);
    if (existing !== undefined && existing.expires > now) return existing.result;
    if (existing !== undefined) this.entries.delete(id);
    const result = produce();
    this.entries.set(id, { expires: now + this.options.windowMs, result });
    result.then(
      (results) => {
        // A batch that was not fully written may be retried as a whole.
        if (results.some((r) => !r.ok)) this.forget(id, result);
      },
      () => this.forget(id, result),
    );
    this.evict(now);
    return result;
  }

  /** Keys remembered now (bounded by `idempotency.maxKeys`). */
  get size(): number {
    return this.entries.size;
  }

  private forget(id: string, result: Promise<ProduceResult[]>): void {
    if (this.entries.get(id)?.result === result) this.entries.delete(id);
  }

  private evict(now: number): void {
    for (const [id, entry] of this.entries) {
      if (this.entries.size <= this.options.maxKeys && entry.expires > now) break;
      this.entries.delete(id);
    }
  }
}
