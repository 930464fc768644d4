/**
 * Flow control of one gRPC stream: credit granted by the client (Session) and the transport's
 * own backpressure (a write is done when HTTP/2 took it).
 */
import type { Writable } from 'node:stream';
import { EncodedResponse } from './codec.js';

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

/** The byte bounds of one stream's writer (grpc.maxBufferedBytes / grpc.closeBufferedBytes). */
export interface WriterLimits {
  readonly maxBufferedBytes: number;
  readonly closeBufferedBytes: number;
}

/** Accounting size of a frame that is not pre-encoded (replies: pong, published, error…, a few dozen bytes in practice). */
const REPLY_FRAME_BYTES = 256;

interface Queued {
  readonly frame: unknown;
  readonly bytes: number;
  /** Set for `write` (someone waits for the hand-over); unset for `post`. */
  readonly handedOver?: () => void;
}

/**
 * Writes frames to a grpc-js stream within a byte bound. A frame is handed to grpc-js only while
 * the stream's unaccepted bytes (handed over, write callback not yet fired — grpc-js calls it
 * once HTTP/2 flow control let the bytes out) are below `maxBufferedBytes`; later frames wait,
 * in order, in this writer. `write` resolves at the hand-over, so a subscriber's sink resolves
 * only when the transport is taking its bytes, and a client that does not read stops the hub's
 * deliveries to it (the hub then ends it with SLOW_CONSUMER). Frames are pipelined up to the
 * bound rather than written one callback at a time: waiting for each write's own callback cost
 * every subscriber a flush per batch (the fan-out bottleneck the benchmarks showed).
 *
 * `post` is for replies nobody waits for (pong, errors of fire-and-forget frames, notices): they
 * queue too, and when unaccepted plus posted-and-waiting bytes pass `closeBufferedBytes` the
 * client is not reading at all — `onOverflow` ends the stream. Awaited frames do not count there
 * while they wait: each waiting caller (one per subscription) holds its own frame.
 *
 * Once the call is over every pending write resolves at once and frames are dropped.
 */
export class FrameWriter<T> {
  private closed = false;
  private unaccepted = 0;
  private postedWaiting = 0;
  private readonly queue: Queued[] = [];

  constructor(
    private readonly stream: Writable,
    private readonly limits: WriterLimits,
    private readonly onOverflow: () => void,
  ) {}

  get isClosed(): boolean {
    return this.closed;
  }

  /** Bytes handed to grpc-js that HTTP/2 has not accepted yet. */
  get bufferedBytes(): number {
    return this.unaccepted;
  }

  /** Marks the call finished (cancelled, ended or failed) and releases every pending write. */
  markClosed(): void {
    if (this.closed) return;
    this.closed = true;
    const queued = this.queue.splice(0);
    this.postedWaiting = 0;
    for (const q of queued) q.handedOver?.();
  }

  /** Queues a frame; resolves once it was handed to grpc-js (or the call is over). */
  write(frame: T): Promise<void> {
    if (this.isGone()) return Promise.resolve();
    if (this.queue.length === 0 && this.unaccepted < this.limits.maxBufferedBytes) {
      this.handOver(frame, sizeOf(frame));
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => {
      this.queue.push({ frame, bytes: sizeOf(frame), handedOver: resolve });
    });
  }

  /** Queues a frame nobody waits for; ends the stream (onOverflow) when the client is not reading. */
  post(frame: T): void {
    if (this.isGone()) return;
    const bytes = sizeOf(frame);
    if (this.queue.length === 0 && this.unaccepted < this.limits.maxBufferedBytes) this.handOver(frame, bytes);
    else {
      this.queue.push({ frame, bytes });
      this.postedWaiting += bytes;
    }
    if (this.unaccepted + this.postedWaiting > this.limits.closeBufferedBytes) this.onOverflow();
  }

  private isGone(): boolean {
    return this.closed || this.stream.writableEnded || this.stream.destroyed;
  }

  private handOver(frame: unknown, bytes: number): void {
    this.unaccepted += bytes;
    // A write error means the call is gone; the 'error'/'cancelled' handlers report it (and
    // markClosed releases the queue). grpc-js never calls back a write on a cancelled call.
    this.stream.write(frame, () => {
      this.unaccepted -= bytes;
      this.flush();
    });
  }

  private flush(): void {
    while (!this.isGone() && this.queue.length > 0 && this.unaccepted < this.limits.maxBufferedBytes) {
      const q = this.queue.shift()!;
      if (q.handedOver === undefined) this.postedWaiting -= q.bytes;
      this.handOver(q.frame, q.bytes);
      q.handedOver?.();
    }
  }
}

function sizeOf(frame: unknown): number {
  return frame instanceof EncodedResponse ? frame.bytes.length : REPLY_FRAME_BYTES;
}
