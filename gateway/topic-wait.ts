/**
 * Waiting for a topic that does not exist yet (`waitForTopic` on subscribe and joinGroup).
 *
 * Protocols want this for different reasons — an MQTT SUBSCRIBE to a filter whose Kafka topic was
 * never written must still receive what is published later — but the decision "does the topic
 * exist now, and from where do we read it" is the core's. One poller per missing topic, shared by
 * every waiter of that topic, asks the backend every `topics.waitPollMs`; a produce through this
 * core wakes the waiters at once (it has just created or written the topic). Topics created
 * elsewhere (another gateway instance, a plain Kafka client) are found by the poll.
 *
 * A waiter starts reading the topic from its beginning, so nothing written after the call that
 * started the wait is missed, whichever way the creation was noticed.
 */
import type { Logger } from 'pino';
import type { GroupMember, SubscriberSink, Subscription } from './api.js';
import { GatewayError, type Code } from './errors.js';
import type { StreamRecord, TopicPartition } from './record.js';
import { newId } from './ids.js';

/** One party waiting for a topic. */
export interface TopicWaiter {
  /** The topic exists now (a poll found it, or this core wrote to it). Called at most once per `wait`. */
  exists(): void;
  /** The wait ended without the topic (the core is shutting down). Called at most once per `wait`. */
  cancelled(error: GatewayError): void;
}

/** Counters of the waits in progress (for stats, tests and leak checks). */
export interface TopicWaitStats {
  /** Missing topics being polled: one timer each. */
  readonly topics: number;
  /** Subscriptions and group members waiting for one of them. */
  readonly waiters: number;
}

interface Watch {
  readonly waiters: Set<TopicWaiter>;
  readonly timer: NodeJS.Timeout;
  checking: boolean;
  /** Last error code other than TOPIC_NOT_FOUND, so a backend outage is logged once, not every poll. */
  lastError: Code | undefined;
}

/** Polls for missing topics, one timer per topic however many wait for it. */
export class TopicWatcher {
  private readonly watches = new Map<string, Watch>();
  private closed = false;

  /**
   * @param describe resolves when the topic exists, throws TOPIC_NOT_FOUND while it does not
   * @param pollMs   `topics.waitPollMs`
   */
  constructor(
    private readonly describe: (topic: string) => Promise<unknown>,
    private readonly pollMs: number,
    private readonly log: Logger,
  ) {}

  /** Calls `waiter.exists()` once `topic` exists. Returns the function that stops the wait. */
  wait(topic: string, waiter: TopicWaiter): () => void {
    if (this.closed) throw new GatewayError('SHUTTING_DOWN', 'The gateway is shutting down.');
    let watch = this.watches.get(topic);
    if (watch === undefined) {
      const timer = setInterval(() => void this.check(topic), this.pollMs);
      // Waiting never keeps the process alive; close() clears the timers on shutdown anyway.
      timer.unref();
      watch = { waiters: new Set(), timer, checking: false, lastError: undefined };
      this.watches.set(topic, watch);
    }
    watch.waiters.add(waiter);
    const mine = watch;
    return () => {
      if (!mine.waiters.delete(waiter) || mine.waiters.size > 0) return;
      clearInterval(mine.timer);
      if (this.watches.get(topic) === mine) this.watches.delete(topic);
    };
  }

  /** This core has just created or written `topic`: its waiters start now instead of at the next poll. */
  exists(topic: string): void {
    const watch = this.watches.get(topic);
    if (watch === undefined) return;
    this.watches.delete(topic);
    clearInterval(watch.timer);
    for (const waiter of watch.waiters) {
      try {
        waiter.exists();
      } catch (err) {
        this.log.error({ err, topic }, 'topic waiter failed to start');
      }
    }
    watch.waiters.clear();
  }

  /** Topics watched and waiters on them, for metrics and tests. */
  stats(): TopicWaitStats {
    let waiters = 0;
    for (const watch of this.watches.values()) waiters += watch.waiters.size;
    return { topics: this.watches.size, waiters };
  }

  /** Stops every poll and tells every waiter the wait is over (shutdown). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const watches = [...this.watches.values()];
    this.watches.clear();
    const error = new GatewayError('SHUTTING_DOWN', 'The gateway is shutting down.');
    for (const watch of watches) {
      clearInterval(watch.timer);
      for (const waiter of watch.waiters) waiter.cancelled(error);
      watch.waiters.clear();
    }
  }

  private async check(topic: string): Promise<void> {
    const watch = this.watches.get(topic);
    // One describe per topic at a time: a slow backend must not stack up polls.
    if (watch === undefined || watch.checking) return;
    watch.checking = true;
    try {
      await this.describe(topic);
    } catch (err) {
      const error = GatewayError.from(err);
      if (error.code !== 'TOPIC_NOT_FOUND' && error.code !== watch.lastError) {
        // The poll is the retry: keep waiting, but say once why the topic cannot be checked.
        this.log.warn({ err: error, topic }, 'cannot check whether a waited-for topic exists; still polling');
      }
      watch.lastError = error.code === 'TOPIC_NOT_FOUND' ? undefined : error.code;
      return;
    } finally {
      watch.checking = false;
    }
    if (this.watches.get(topic) === watch) this.exists(topic);
  }
}

/** Whether a failed deferred start should wait again (the topic vanished, or the backend is not ready yet) rather than end. */
function waitAgain(error: GatewayError): boolean {
  return error.code === 'TOPIC_NOT_FOUND' || (error.retriable && error.code !== 'SHUTTING_DOWN' && error.code !== 'CANCELLED');
}

const NO_POSITIONS: ReadonlyMap<number, bigint> = new Map();

/** A subscription the core can end from its side (credential expiry). */
export type EndableSubscription = Subscription & { end(error?: GatewayError): void };

/**
 * A broadcast subscription to a topic that did not exist at subscribe time. `start` and
 * `positions()` are empty until the topic exists; then it is an ordinary hub subscription read
 * from the beginning of every partition. Credit granted while waiting is kept for the start.
 */
export class WaitingSubscription implements Subscription {
  readonly id = newId();
  private inner: EndableSubscription | undefined;
  private closed = false;
  /** Credit granted through addCredit before the hub subscription existed. */
  private grantedWhileWaiting = 0;
  private stopWaiting: (() => void) | undefined;
  /** The adapter's sink, gated so nothing reaches it after close(). */
  private readonly gated: SubscriberSink;

  /**
   * @param open starts the real subscription from the beginning with `extraCredit` added to the
   *             requested credit; throws TOPIC_NOT_FOUND if the topic is (again) missing
   */
  constructor(
    readonly topic: string,
    private readonly watcher: TopicWatcher,
    private readonly open: (sink: SubscriberSink, extraCredit: number) => Promise<EndableSubscription>,
    private readonly sink: SubscriberSink,
    private readonly log: Logger,
  ) {
    this.gated = {
      records: (batch) => (this.closed ? undefined : sink.records(batch)),
      end: (error) => {
        if (this.closed) return;
        this.closed = true;
        sink.end(error);
      },
      ...(sink.continuityLost ? { continuityLost: (n) => (this.closed ? undefined : sink.continuityLost!(n)) } : {}),
    };
  }

  /** Empty while the topic does not exist; then the next offset per partition at the start (the log start). */
  get start(): ReadonlyMap<number, bigint> {
    return this.inner?.start ?? NO_POSITIONS;
  }

  positions(): ReadonlyMap<number, bigint> {
    return this.inner?.positions() ?? NO_POSITIONS;
  }

  addCredit(n: number): void {
    if (this.inner !== undefined) this.inner.addCredit(n);
    else if (n > 0) this.grantedWhileWaiting += n;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.stopWaiting?.();
    this.stopWaiting = undefined;
    this.inner?.close();
  }

  /** Ends the subscription from the gateway's side and tells the sink why. */
  end(error?: GatewayError): void {
    if (this.closed) return;
    this.close();
    this.sink.end(error);
  }

  /** Starts (or resumes) waiting for the topic. */
  wait(): void {
    if (this.closed) return;
    try {
      this.stopWaiting = this.watcher.wait(this.topic, {
        exists: () => {
          this.stopWaiting = undefined;
          void this.attempt();
        },
        cancelled: (error) => {
          this.stopWaiting = undefined;
          this.end(error);
        },
      });
    } catch (err) {
      this.end(GatewayError.from(err));
    }
  }

  private async attempt(): Promise<void> {
    if (this.closed) return;
    const granted = this.grantedWhileWaiting;
    let sub: EndableSubscription;
    try {
      sub = await this.open(this.gated, granted);
    } catch (err) {
      const error = GatewayError.from(err);
      if (this.closed) return;
      if (waitAgain(error)) {
        this.log.debug({ err: error, topic: this.topic }, 'waited-for topic not readable yet; waiting again');
        this.wait();
      } else this.end(error);
      return;
    }
    if (this.closed) {
      sub.close();
      return;
    }
    this.inner = sub;
    if (this.grantedWhileWaiting > granted) sub.addCredit(this.grantedWhileWaiting - granted);
  }
}

/** A push stream asked for before the member could join: started on the join. */
interface PushedStream {
  readonly sink: SubscriberSink;
  readonly credit: number | undefined;
  /** Credit granted while waiting. */
  extra: number;
  handle?: { addCredit(n: number): void; stop(): void };
}

/**
 * A group member whose topics did not all exist at join time. Until they do it is not a member
 * yet as far as the group is concerned (no entry in the membership table, no partitions):
 * `assignment()`/`positions()`/`committed()` are empty, `poll` waits up to `waitMs` for the
 * topics and then returns `[]`, a `stream` waits and starts by itself, `ack` is false, `seek` and
 * an explicit `commit` are FAILED_PRECONDITION (no partition is assigned). Once the topics exist it
 * joins with the same member id, and partitions without a committed offset start at their
 * beginning whatever `resetTo` says (nothing written after the join call is missed).
 */
export class WaitingMember implements GroupMember {
  private inner: GroupMember | undefined;
  private left = false;
  private failed: GatewayError | undefined;
  private joining: Promise<void> | undefined;
  private stopWaiting: (() => void) | undefined;
  private readonly wakers = new Set<() => void>();
  private pushed: PushedStream | undefined;

  /**
   * @param missing the first of `topics` that does not exist yet, or undefined when all do
   * @param join    joins the group for real (same member id, reading new partitions from the start)
   */
  constructor(
    readonly group: string,
    readonly memberId: string,
    readonly topics: readonly string[],
    private readonly watcher: TopicWatcher,
    private readonly missing: () => Promise<string | undefined>,
    private readonly join: () => Promise<GroupMember>,
    private readonly log: Logger,
  ) {}

  /** Starts (or resumes) waiting for `topic`, one of the member's topics. */
  wait(topic: string): void {
    if (this.left || this.failed !== undefined) return;
    try {
      this.stopWaiting = this.watcher.wait(topic, {
        exists: () => {
          this.stopWaiting = undefined;
          this.joining = this.attempt();
        },
        cancelled: (error) => {
          this.stopWaiting = undefined;
          this.fail(error);
        },
      });
    } catch (err) {
      this.fail(GatewayError.from(err));
    }
  }

  private async attempt(): Promise<void> {
    if (this.left) return;
    let member: GroupMember;
    try {
      const next = await this.missing();
      if (next !== undefined) {
        this.wait(next);
        return;
      }
      member = await this.join();
    } catch (err) {
      const error = GatewayError.from(err);
      if (this.left) return;
      if (waitAgain(error)) {
        this.log.debug({ err: error, group: this.group }, 'waited-for topics not readable yet; waiting again');
        this.wait(this.topics[0]!);
      } else this.fail(error);
      return;
    }
    if (this.left) {
      await member.leave();
      return;
    }
    this.inner = member;
    const pushed = this.pushed;
    if (pushed !== undefined) {
      try {
        pushed.handle = member.stream(pushed.sink, pushed.credit === undefined ? {} : { credit: pushed.credit + pushed.extra });
      } catch (err) {
        this.fail(GatewayError.from(err));
      }
    }
    this.wake();
  }

  private fail(error: GatewayError): void {
    if (this.failed !== undefined || this.left) return;
    this.failed = error;
    const pushed = this.pushed;
    this.pushed = undefined;
    pushed?.sink.end(error);
    this.wake();
  }

  private wake(): void {
    for (const w of [...this.wakers]) w();
    this.wakers.clear();
  }

  assignment(): TopicPartition[] {
    return this.inner?.assignment() ?? [];
  }

  async poll(options: { maxRecords?: number; maxBytes?: number; waitMs?: number; signal?: AbortSignal }): Promise<StreamRecord[]> {
    this.checkLive();
    if (this.inner !== undefined) return this.inner.poll(options);
    const waitMs = options.waitMs ?? 0;
    const began = Date.now();
    if (waitMs > 0 && options.signal?.aborted !== true) {
      // Long-poll: wait for the join (or the deadline), then read what the member got.
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          options.signal?.removeEventListener('abort', done);
          this.wakers.delete(done);
          resolve();
        };
        const timer = setTimeout(done, waitMs);
        options.signal?.addEventListener('abort', done, { once: true });
        this.wakers.add(done);
      });
    }
    if (this.failed !== undefined) throw this.failed;
    // Left while this poll waited: like a member's poll cut short by its leave, it returns nothing.
    // (Read again: the await above may have joined; TypeScript still narrows `this.inner` to undefined.)
    const joined = this.inner as GroupMember | undefined;
    if (joined === undefined || this.left) return [];
    return joined.poll({ ...options, waitMs: Math.max(0, waitMs - (Date.now() - began)) });
  }

  stream(sink: SubscriberSink, options: { credit?: number } = {}): { addCredit(n: number): void; stop(): void } {
    this.checkLive();
    if (this.inner !== undefined) return this.inner.stream(sink, options);
    if (this.pushed !== undefined) throw new GatewayError('FAILED_PRECONDITION', 'This group member is already streaming.');
    const pushed: PushedStream = { sink, credit: options.credit, extra: 0 };
    this.pushed = pushed;
    return {
      addCredit: (n) => {
        if (pushed.handle !== undefined) pushed.handle.addCredit(n);
        else if (n > 0) pushed.extra += n;
      },
      stop: () => {
        pushed.handle?.stop();
        if (this.pushed === pushed) this.pushed = undefined;
      },
    };
  }

  ack(topic: string, partition: number, offset: bigint): boolean {
    return this.inner?.ack(topic, partition, offset) ?? false;
  }

  async commit(offsets?: readonly { topic: string; partition: number; offset: bigint }[]): Promise<void> {
    this.checkLive();
    if (this.inner !== undefined) return this.inner.commit(offsets);
    // Nothing was delivered yet, so "commit what was delivered" has nothing to do.
    if (offsets === undefined || offsets.length === 0) return;
    throw new GatewayError('FAILED_PRECONDITION', `Group member ${this.memberId} has no partitions yet: its topics do not exist.`);
  }

  async committed(): Promise<{ topic: string; partition: number; offset: bigint }[]> {
    this.checkLive();
    return this.inner?.committed() ?? [];
  }

  positions(): { topic: string; partition: number; offset: bigint }[] {
    return this.inner?.positions() ?? [];
  }

  async seek(topic: string, partition: number, to: bigint | 'earliest' | 'latest'): Promise<void> {
    this.checkLive();
    if (this.inner !== undefined) return this.inner.seek(topic, partition, to);
    throw new GatewayError('FAILED_PRECONDITION', `Partition ${topic}/${partition} is not assigned to this member.`);
  }

  async leave(): Promise<void> {
    if (this.left) return;
    this.left = true;
    this.stopWaiting?.();
    this.stopWaiting = undefined;
    this.pushed?.handle?.stop();
    this.pushed = undefined;
    this.wake();
    // A join in flight leaves by itself once it lands (it sees `left`).
    await this.joining;
    await this.inner?.leave();
  }

  private checkLive(): void {
    if (this.left) throw new GatewayError('CONSUMER_NOT_FOUND', `Group member ${this.memberId} has left group ${this.group}.`);
    if (this.failed !== undefined) throw this.failed;
  }
}
