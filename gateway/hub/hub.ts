/**
 * The fan-out hub: broadcast subscriptions of every protocol share ONE reader per
 * topic-partition at the live tail. A subscriber that starts behind the tail, or falls behind
 * its byte bound, is served by its own catch-up reads from the log and re-joins the shared
 * reader without a gap or a duplicate (each subscriber keeps the next offset it expects per
 * partition and drops anything below it). The shared reader is never paused for a slow
 * subscriber: a subscriber whose queue is full is detached and caught up later, or ended with
 * SLOW_CONSUMER when it stays behind past the configured time or lag.
 */
import type { Logger } from 'pino';
import type { ContinuityLost, SubscriberSink, Subscription } from '../api.js';
import type { Backend } from '../backends/port.js';
import { GatewayError } from '../errors.js';
import { recordSize, type StreamRecord } from '../record.js';
import { MATCH_ALL, type KeyPredicate } from './filters.js';
import { newId } from '../ids.js';

/** Bounds and timings of the hub (config section `hub`). */
export interface HubOptions {
  /** Default per-subscriber queue bound; past it the subscriber is detached and caught up from the log. */
  readonly maxQueueBytes: number;
  /** A detached subscriber this many records behind its partition's reader is ended SLOW_CONSUMER. */
  readonly maxLagRecords: number;
  /** A subscriber behind (or not taking records) for this long is ended SLOW_CONSUMER. */
  readonly slowConsumerMs: number;
  /** Records per backend fetch of the shared readers and catch-up reads. */
  readonly fetchMaxRecords: number;
  /** Bytes per backend fetch of the shared readers and catch-up reads. */
  readonly fetchMaxBytes: number;
  /** Long-poll wait of a shared tail reader's fetch. */
  readonly tailWaitMs: number;
  /** Pause after a backend error before a reader fetches again. */
  readonly retryBackoffMs: number;
}

/** What the hub needs to start a subscription; positions are already resolved by the core. */
export interface HubSubscribeRequest {
  readonly topic: string;
  /** Next offset to deliver, per partition. */
  readonly start: ReadonlyMap<number, bigint>;
  /** The log end per partition when `start` was resolved (lets a tail subscriber join the reader at once). */
  readonly latest?: ReadonlyMap<number, bigint>;
  /** Which records the subscriber gets: its key filters and read scope, already combined. */
  readonly predicate: KeyPredicate;
  readonly sink: SubscriberSink;
  /** This subscriber's queue bound (the request's, clamped by the core). */
  readonly maxQueueBytes: number;
  /**
   * Credit-based flow control: at most this many records are handed to the sink before
   * `addCredit` grants more. Undefined = no credit limit (backpressure only).
   */
  readonly credit?: number;
}

/** Counters for tests, metrics and benchmarks. */
export interface HubStats {
  /** Shared tail readers running (one per topic-partition with live subscribers). */
  readonly readers: number;
  readonly subscriptions: number;
  /** Bytes queued for all subscribers together. */
  readonly queuedBytes: number;
  /** Subscriber partitions currently detached from the tail, catching up from the log. */
  readonly detached: number;
  /** Times a subscriber was detached from a tail reader because its queue was full (since start). */
  readonly detachments: number;
}

interface QueueItem {
  readonly partition: number;
  records: readonly StreamRecord[];
  readonly nextAfter: bigint;
  readonly bytes: number;
}

/** Per-partition state of one subscription. */
class PartitionCursor {
  /** Next offset to enqueue (everything below was enqueued or filtered out). */
  enqueuedNext: bigint;
  /** Next offset to deliver (everything below was handed to the sink or filtered out). */
  deliveredNext: bigint;
  reader: PartitionReader | undefined;
  catchingUp = false;
  /** Since when this partition has been detached from the tail because the subscriber was slow. */
  behindSince: number | undefined;
  /** Since when catching up has waited for the subscriber to take queued records (it is not reading). */
  stalledSince: number | undefined;

  constructor(
    readonly sub: HubSubscription,
    readonly partition: number,
    start: bigint,
  ) {
    this.enqueuedNext = start;
    this.deliveredNext = start;
  }
}

/** The one shared tail reader of a topic-partition. */
class PartitionReader {
  readonly cursors = new Set<PartitionCursor>();
  private abort: AbortController | undefined;
  private stopped = false;

  constructor(
    private readonly hub: Hub,
    readonly topic: string,
    readonly partition: number,
    /** Next offset this reader fetches; every record below it has been offered to attached cursors. */
    public next: bigint,
  ) {}

  attach(cursor: PartitionCursor): void {
    this.cursors.add(cursor);
    cursor.reader = this;
    cursor.behindSince = undefined;
  }

  detach(cursor: PartitionCursor): void {
    this.cursors.delete(cursor);
    cursor.reader = undefined;
    if (this.cursors.size === 0) this.stop();
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.hub.readerStopped(this);
    this.abort?.abort();
  }

  async run(): Promise<void> {
    const { backend, options, log } = this.hub;
    while (!this.stopped) {
      this.abort = new AbortController();
      let result;
      try {
        result = await backend.fetch(this.topic, this.partition, this.next, {
          maxRecords: options.fetchMaxRecords,
          maxBytes: options.fetchMaxBytes,
          waitMs: options.tailWaitMs,
          signal: this.abort.signal,
        });
      } catch (err) {
        if (this.stopped) return;
        const error = GatewayError.from(err);
        if (error.code === 'OUT_OF_RANGE') {
          // The log moved under the tail reader (retention, truncation or a re-created topic):
          // jump to where the log now is and tell every attached subscriber explicitly.
          const earliest = BigInt(String(error.details?.earliest ?? this.next));
          const latest = BigInt(String(error.details?.latest ?? this.next));
          const to = this.next < earliest ? earliest : latest;
          const reason = this.next < earliest ? 'below_log_start' : 'beyond_log_end';
          log.warn({ topic: this.topic, partition: this.partition, from: String(this.next), to: String(to) }, 'tail reader position left the log');
          const from = this.next;
          this.next = to;
          for (const cursor of [...this.cursors]) cursor.sub.jump(cursor, from, to, reason);
          continue;
        }
        if (error.code === 'TOPIC_NOT_FOUND' || error.code === 'PARTITION_NOT_FOUND') {
          for (const cursor of [...this.cursors]) cursor.sub.end(error);
          this.stop();
          return;
        }
        log.warn({ err: error, topic: this.topic, partition: this.partition }, 'tail read failed; retrying');
        await delay(options.retryBackoffMs);
        continue;
      }
      if (this.stopped) return;
      if (result.records.length > 0 || result.nextOffset > this.next) {
        this.next = result.nextOffset > this.next ? result.nextOffset : this.next;
        // Every attached cursor gets the same array (and its size, counted once).
        const bytes = result.records.reduce((n, r) => n + recordSize(r), 0);
        for (const cursor of [...this.cursors]) cursor.sub.offer(cursor, result.records, this.next, bytes);
      }
    }
  }
}

/** A broadcast subscription as the hub runs it. */
export class HubSubscription implements Subscription {
  readonly id = newId();
  readonly start: ReadonlyMap<number, bigint>;
  private readonly cursors = new Map<number, PartitionCursor>();
  private readonly queue: QueueItem[] = [];
  private queuedBytes = 0;
  private pumping = false;
  private closed = false;
  private credit: number | undefined;
  private wakeCredit: (() => void) | undefined;
  private readonly roomWaiters = new Set<() => void>();

  constructor(
    private readonly hub: Hub,
    readonly topic: string,
    private readonly request: HubSubscribeRequest,
  ) {
    this.start = new Map(request.start);
    this.credit = request.credit;
    for (const [partition, offset] of request.start) this.cursors.set(partition, new PartitionCursor(this, partition, offset));
  }

  /** Begins delivery: partitions at the tail join the shared reader, the others catch up first. */
  begin(): void {
    for (const cursor of this.cursors.values()) {
      const latest = this.request.latest?.get(cursor.partition);
      const reader = this.hub.existingReader(this.topic, cursor.partition);
      if (reader !== undefined && reader.next <= cursor.enqueuedNext) reader.attach(cursor);
      else if (reader === undefined && latest !== undefined && cursor.enqueuedNext >= latest) {
        this.hub.ensureReader(this.topic, cursor.partition, cursor.enqueuedNext).attach(cursor);
      } else void this.catchUp(cursor);
    }
  }

  positions(): ReadonlyMap<number, bigint> {
    const out = new Map<number, bigint>();
    for (const [p, c] of this.cursors) out.set(p, c.deliveredNext);
    return out;
  }

  /** True when delivery is limited by client-granted credit: such a subscriber waits by design and is never ended as slow. */
  get creditLimited(): boolean {
    return this.request.credit !== undefined;
  }

  /** Grants `n` more records under credit-based flow control. */
  addCredit(n: number): void {
    if (this.credit === undefined || n <= 0) return;
    this.credit += n;
    const wake = this.wakeCredit;
    this.wakeCredit = undefined;
    wake?.();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const cursor of this.cursors.values()) cursor.reader?.detach(cursor);
    this.queue.length = 0;
    this.queuedBytes = 0;
    this.wakeCredit?.();
    for (const wake of this.roomWaiters) wake();
    this.roomWaiters.clear();
    this.hub.subscriptionClosed(this);
  }

  /** Ends the subscription from the gateway's side and tells the sink why. */
  end(error?: GatewayError): void {
    if (this.closed) return;
    this.close();
    try {
      this.request.sink.end(error);
    } catch (err) {
      this.hub.log.error({ err }, 'subscriber end callback threw');
    }
  }

  /** Queued bytes and detached partitions, for stats and slow-consumer sweeps. */
  state(): { queuedBytes: number; detached: PartitionCursor[] } {
    return { queuedBytes: this.queuedBytes, detached: [...this.cursors.values()].filter((c) => c.behindSince !== undefined || c.stalledSince !== undefined) };
  }

  /** Records from the shared reader (`size`: their bytes). Called synchronously by the reader for each fetch. */
  offer(cursor: PartitionCursor, records: readonly StreamRecord[], nextOffset: bigint, size: number): void {
    if (this.closed) return;
    const fresh = records.length > 0 && records[0]!.offset < cursor.enqueuedNext ? records.filter((r) => r.offset >= cursor.enqueuedNext) : records;
    if (nextOffset <= cursor.enqueuedNext) return;
    const bytes = fresh === records ? size : fresh.reduce((n, r) => n + recordSize(r), 0);
    if (this.queue.length > 0 && this.queuedBytes + bytes > this.request.maxQueueBytes) {
      // Never pause the shared reader for one subscriber: detach it and catch it up from the log.
      cursor.reader?.detach(cursor);
      cursor.behindSince = Date.now();
      this.hub.detachments++;
      this.hub.log.debug({ sub: this.id, topic: this.topic, partition: cursor.partition }, 'subscriber detached from tail (queue full)');
      void this.catchUp(cursor);
      return;
    }
    this.enqueue(cursor, fresh, nextOffset, bytes);
  }

  /** The shared reader jumped (the log moved); the subscriber is told explicitly. */
  jump(cursor: PartitionCursor, from: bigint, to: bigint, reason: ContinuityLost['reason']): void {
    if (this.closed || cursor.enqueuedNext >= to) return;
    this.notify({ partition: cursor.partition, requested: cursor.enqueuedNext > from ? cursor.enqueuedNext : from, actual: to, reason });
    this.enqueue(cursor, [], to, 0, true);
  }

  private notify(notice: ContinuityLost): void {
    try {
      this.request.sink.continuityLost?.(notice);
    } catch (err) {
      this.hub.log.error({ err }, 'continuity notice callback threw');
    }
  }

  /** Queues records for delivery; `reposition` moves the cursor to `nextAfter` even backwards (the log moved under it). */
  private enqueue(cursor: PartitionCursor, records: readonly StreamRecord[], nextAfter: bigint, bytes: number, reposition = false): void {
    // Never hand out a record twice, whatever a read returned (a batch may start below the offset asked for).
    // A subscriber that takes every key and is past none of them gets the array itself (shared
    // with the reader's other subscribers: nobody mutates it).
    const whole = this.request.predicate === MATCH_ALL && (records.length === 0 || records[0]!.offset >= cursor.enqueuedNext);
    const matched = whole ? records : records.filter((r) => r.offset >= cursor.enqueuedNext && this.request.predicate(r.key));
    const last = records.length > 0 ? records[records.length - 1]!.offset + 1n : 0n;
    const next = reposition || nextAfter > last ? nextAfter : last;
    if (!reposition && next <= cursor.enqueuedNext && matched.length === 0) return;
    cursor.enqueuedNext = next;
    this.queue.push({ partition: cursor.partition, records: matched, nextAfter: next, bytes });
    this.queuedBytes += bytes;
    void this.pump();
  }

  private async pump(): Promise<void> {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (!this.closed && this.queue.length > 0) {
        const item = this.queue[0]!;
        const cursor = this.cursors.get(item.partition)!;
        while (item.records.length > 0 && !this.closed) {
          let chunk = item.records;
          if (this.credit !== undefined) {
            while (this.credit <= 0 && !this.closed) await new Promise<void>((resolve) => (this.wakeCredit = resolve));
            if (this.closed) return;
            chunk = item.records.slice(0, this.credit);
            this.credit -= chunk.length;
          }
          item.records = item.records.slice(chunk.length);
          await this.request.sink.records(chunk);
          if (this.closed) return;
          cursor.deliveredNext = chunk[chunk.length - 1]!.offset + 1n;
        }
        if (this.closed) return;
        this.queue.shift();
        this.queuedBytes -= item.bytes;
        cursor.deliveredNext = item.nextAfter;
        if (this.queuedBytes <= this.request.maxQueueBytes / 2) {
          for (const wake of this.roomWaiters) wake();
          this.roomWaiters.clear();
        }
      }
    } catch (err) {
      // The transport failed to take the bytes: the connection is gone or broken.
      this.hub.log.debug({ err, sub: this.id }, 'subscriber sink failed; ending subscription');
      this.end(GatewayError.from(err));
    } finally {
      this.pumping = false;
    }
  }

  private hasRoom(): boolean {
    return this.queuedBytes <= this.request.maxQueueBytes / 2 || this.closed;
  }

  private waitForRoom(): Promise<void> {
    if (this.hasRoom()) return Promise.resolve();
    return new Promise((resolve) => this.roomWaiters.add(resolve));
  }

  /** Reads the partition from the log until it reaches the shared reader, then joins it. */
  private async catchUp(cursor: PartitionCursor): Promise<void> {
    if (cursor.catchingUp) return;
    cursor.catchingUp = true;
    const { backend, options } = this.hub;
    try {
      while (!this.closed && cursor.reader === undefined) {
        // A subscriber that stops reading during its first catch-up never gets detached from
        // the tail (it was never attached): time its wait, so the sweep ends it as slow too.
        cursor.stalledSince = this.hasRoom() ? undefined : (cursor.stalledSince ?? Date.now());
        await this.waitForRoom();
        cursor.stalledSince = undefined;
        if (this.closed) return;
        const reader = this.hub.existingReader(this.topic, cursor.partition);
        if (reader !== undefined && reader.next <= cursor.enqueuedNext) {
          reader.attach(cursor);
          return;
        }
        if (this.hub.isSlow(cursor, reader)) {
          this.end(new GatewayError('SLOW_CONSUMER', 'The subscriber fell too far behind the log tail; resume from its last position.'));
          return;
        }
        let result;
        try {
          result = await backend.fetch(this.topic, cursor.partition, cursor.enqueuedNext, {
            maxRecords: options.fetchMaxRecords,
            maxBytes: Math.min(options.fetchMaxBytes, this.request.maxQueueBytes),
          });
        } catch (err) {
          if (this.closed) return;
          const error = GatewayError.from(err);
          if (error.code === 'OUT_OF_RANGE') {
            const earliest = BigInt(String(error.details?.earliest ?? cursor.enqueuedNext));
            const latest = BigInt(String(error.details?.latest ?? cursor.enqueuedNext));
            const below = cursor.enqueuedNext < earliest;
            const to = below ? earliest : latest;
            this.notify({ partition: cursor.partition, requested: cursor.enqueuedNext, actual: to, reason: below ? 'below_log_start' : 'beyond_log_end' });
            this.enqueue(cursor, [], to, 0, true);
            continue;
          }
          if (error.code === 'TOPIC_NOT_FOUND' || error.code === 'PARTITION_NOT_FOUND') {
            this.end(error);
            return;
          }
          this.hub.log.warn({ err: error, topic: this.topic, partition: cursor.partition }, 'catch-up read failed; retrying');
          await delay(options.retryBackoffMs);
          continue;
        }
        if (this.closed) return;
        if (result.records.length === 0 && result.nextOffset <= cursor.enqueuedNext) {
          // At the end of the log: join (or start) the shared tail reader.
          const tail = this.hub.ensureReader(this.topic, cursor.partition, cursor.enqueuedNext);
          if (tail.next <= cursor.enqueuedNext) {
            tail.attach(cursor);
            return;
          }
          continue;
        }
        const bytes = result.records.reduce((n, r) => n + recordSize(r), 0);
        this.enqueue(cursor, result.records, result.nextOffset, bytes);
      }
    } finally {
      cursor.catchingUp = false;
    }
  }
}

/** One hub per core: owns the shared readers and the subscriptions. */
export class Hub {
  private readonly readers = new Map<string, PartitionReader>();
  private readonly subscriptions = new Set<HubSubscription>();
  private readonly sweep: NodeJS.Timeout;
  private closed = false;
  /** See HubStats.detachments. */
  detachments = 0;

  constructor(
    readonly backend: Backend,
    readonly options: HubOptions,
    readonly log: Logger,
  ) {
    this.sweep = setInterval(() => this.sweepSlow(), Math.min(1000, options.slowConsumerMs));
    this.sweep.unref();
  }

  /** Starts a broadcast subscription with resolved start positions. */
  subscribe(request: HubSubscribeRequest): HubSubscription {
    if (this.closed) throw new GatewayError('SHUTTING_DOWN', 'The gateway is shutting down.');
    const sub = new HubSubscription(this, request.topic, request);
    this.subscriptions.add(sub);
    sub.begin();
    return sub;
  }

  /** A snapshot of the counters (walks every subscription: for scrapes and tests, not hot paths). */
  stats(): HubStats {
    let queuedBytes = 0;
    let detached = 0;
    for (const sub of this.subscriptions) {
      const s = sub.state();
      queuedBytes += s.queuedBytes;
      detached += s.detached.length;
    }
    return { readers: this.readers.size, subscriptions: this.subscriptions.size, queuedBytes, detached, detachments: this.detachments };
  }

  /** Shared tail readers currently running for one topic. */
  readersOf(topic: string): number {
    let n = 0;
    for (const reader of this.readers.values()) if (reader.topic === topic) n++;
    return n;
  }

  /** Ends every subscription with SHUTTING_DOWN and stops the readers. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweep);
    for (const sub of [...this.subscriptions]) sub.end(new GatewayError('SHUTTING_DOWN', 'The gateway is shutting down.'));
    for (const reader of [...this.readers.values()]) reader.stop();
  }

  /** The running reader of one partition, if any (for the hub's subscriptions and readers). */
  existingReader(topic: string, partition: number): PartitionReader | undefined {
    return this.readers.get(readerKey(topic, partition));
  }

  /** The running reader of one partition, started at `startAt` if there was none (for the hub's subscriptions). */
  ensureReader(topic: string, partition: number, startAt: bigint): PartitionReader {
    const key = readerKey(topic, partition);
    let reader = this.readers.get(key);
    if (reader === undefined) {
      reader = new PartitionReader(this, topic, partition, startAt);
      this.readers.set(key, reader);
      void reader.run();
    }
    return reader;
  }

  /** A reader that stopped (no subscribers left, a fatal error, or close) reports here so the next subscriber starts a new one. */
  readerStopped(reader: PartitionReader): void {
    const key = readerKey(reader.topic, reader.partition);
    if (this.readers.get(key) === reader) this.readers.delete(key);
  }

  /** A subscription that ended or was closed reports here. */
  subscriptionClosed(sub: HubSubscription): void {
    this.subscriptions.delete(sub);
  }

  /** Whether a subscriber partition has fallen too far or too long behind (credit-limited ones never are). */
  isSlow(cursor: PartitionCursor, reader: PartitionReader | undefined): boolean {
    if (cursor.sub.creditLimited) return false;
    if (cursor.stalledSince !== undefined && Date.now() - cursor.stalledSince > this.options.slowConsumerMs) return true;
    if (cursor.behindSince === undefined) return false;
    if (Date.now() - cursor.behindSince > this.options.slowConsumerMs) return true;
    return reader !== undefined && reader.next - cursor.enqueuedNext > BigInt(this.options.maxLagRecords);
  }

  private sweepSlow(): void {
    for (const sub of [...this.subscriptions]) {
      for (const cursor of sub.state().detached) {
        if (this.isSlow(cursor, this.existingReader(sub.topic, cursor.partition))) {
          sub.end(new GatewayError('SLOW_CONSUMER', 'The subscriber did not keep up with the log tail; resume from its last position.'));
          break;
        }
      }
    }
  }
}

function readerKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
