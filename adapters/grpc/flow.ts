/**
 * The transport's own backpressure of one gRPC stream: a write is done when HTTP/2 took it. (The
 * client's credit is the Session state machine's, codecs/stream-credit.ts.)
 */
import type { Writable } from 'node:stream';
import { EncodedResponse } from '../../codecs/proto.js';

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
