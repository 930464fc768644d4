/**
 * Credit of one proto Session (gRPC `Session` call or WebSocket `streamgate.v1.proto` connection):
 * how many records the client granted, per subscription and session-wide. Protocol-free.
 */

/** Largest credit counter; uint32 grants add up, and a counter past 2^53 would lose precision. */
const MAX_CREDIT = Number.MAX_SAFE_INTEGER;

/**
 * A Session's credit: one pool any subscription may draw on (CreditFrame without a subscription
 * id) plus each subscription's own credit. A subscription spends its own credit first.
 */
export class SessionCredit {
  private pool = 0;
  private readonly waiters = new Set<() => void>();

  /** Adds `n` records to the session-wide pool and wakes every subscription waiting for credit. */
  grantPool(n: number): void {
    if (n <= 0) return;
    this.pool = Math.min(MAX_CREDIT, this.pool + n);
    this.wake();
  }

  /** Credit left in the pool. */
  get available(): number {
    return this.pool;
  }

  /** Takes up to `n` from the pool. */
  takePool(n: number): number {
    const taken = Math.min(this.pool, n);
    this.pool -= taken;
    return taken;
  }

  /** Creates a subscription's credit with an initial grant. */
  subscription(initial: number): SubscriptionCredit {
    return new SubscriptionCredit(this, initial);
  }

  /** @internal registers a subscription waiting for the pool to grow. */
  addWaiter(fn: () => void): void {
    this.waiters.add(fn);
  }

  /** @internal */
  removeWaiter(fn: () => void): void {
    this.waiters.delete(fn);
  }

  private wake(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const w of waiters) w();
  }
}

/** One subscription's credit: how many more records the server may send it. */
export class SubscriptionCredit {
  private own: number;
  private waiter: (() => void) | undefined;
  private cancelled = false;

  constructor(
    private readonly session: SessionCredit,
    initial: number,
  ) {
    this.own = Math.min(MAX_CREDIT, Math.max(0, initial));
  }

  /** Adds `n` records of credit for this subscription. */
  grant(n: number): void {
    if (n <= 0) return;
    this.own = Math.min(MAX_CREDIT, this.own + n);
    this.release();
  }

  /** Own credit left (the session pool not included). */
  get available(): number {
    return this.own;
  }

  /** Takes up to `n` records of credit, own first, then from the session pool. */
  take(n: number): number {
    const own = Math.min(this.own, n);
    this.own -= own;
    return own + this.session.takePool(n - own);
  }

  /** Resolves when credit was granted (own or pool) or the subscription was cancelled. */
  wait(): Promise<void> {
    if (this.cancelled) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.waiter = resolve;
      this.session.addWaiter(this.wakeFromPool);
    });
  }

  /** Ends every wait (the subscription is closing). */
  cancel(): void {
    this.cancelled = true;
    this.release();
  }

  get isCancelled(): boolean {
    return this.cancelled;
  }

  private readonly wakeFromPool = (): void => {
    this.release();
  };

  private release(): void {
    this.session.removeWaiter(this.wakeFromPool);
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }
}
