/**
 * One bidirectional `Session` stream's life: publishes, broadcast and group subscriptions,
 * acks, commits and credit. The same frames are the WebSocket binary subprotocol's, but this
 * file only serves gRPC.
 *
 * Flow control: a subscription receives at most the credit the client granted (its own, then
 * the session pool). Records the client has not granted stay in the hub (whose bounded queue
 * detaches a waiting subscriber and catches it up from the log later) — the adapter holds at
 * most one batch per subscription. Publishes beyond `maxPendingPublishes` pause reading the
 * stream, so HTTP/2 flow control pushes back on the client.
 */
import { setMaxListeners } from 'node:events';
import type { ServerDuplexStream } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { Context, Gateway, GroupMember, SubscriberSink, Subscription } from '../../gateway/api.js';
import { GatewayError } from '../../gateway/errors.js';
import type { StreamRecord } from '../../gateway/record.js';
import type { AckFrame__Output } from '../../proto/gen/ts/streamgate/v1/AckFrame.js';
import type { CommitFrame__Output } from '../../proto/gen/ts/streamgate/v1/CommitFrame.js';
import type { CreditFrame__Output } from '../../proto/gen/ts/streamgate/v1/CreditFrame.js';
import type { PublishFrame__Output } from '../../proto/gen/ts/streamgate/v1/PublishFrame.js';
import type { SessionRequest__Output } from '../../proto/gen/ts/streamgate/v1/SessionRequest.js';
import type { SessionResponse } from '../../proto/gen/ts/streamgate/v1/SessionResponse.js';
import type { SubscribeFrame__Output } from '../../proto/gen/ts/streamgate/v1/SubscribeFrame.js';
import {
  checkPartition,
  chunkBySize,
  EncodedResponse,
  encodeRecordsFrame,
  isMalformed,
  keyFilters,
  malformedError,
  parseInt64,
  partitionList,
  position,
  positionsMessage,
  produceRecord,
  RECORDS_FIELD,
  resetTo,
} from './codec.js';
import { recordsFrameBytes, type GrpcConfig } from './config.js';
import { errorBody, toStatus } from './errors.js';
import { FrameWriter, SessionCredit, type SubscriptionCredit } from './flow.js';
import { produceFailure, producedPositions } from './produce.js';
import type { SubscriptionSlots } from './service.js';

export type SessionCall = ServerDuplexStream<SessionRequest__Output, SessionResponse>;

/** What a session needs from the adapter. */
export interface SessionDeps {
  readonly gateway: Gateway;
  readonly config: GrpcConfig;
  readonly ctx: Context;
  readonly log: Logger;
  /** Per-connection subscription counts (limits.maxSubscriptionsPerConnection). */
  readonly connections: SubscriptionSlots;
}

/** One Session call. `closed` resolves when every subscription and group membership is released. */
export class GrpcSession {
  private readonly writer: FrameWriter<SessionResponse | EncodedResponse>;
  private readonly credit = new SessionCredit();
  private readonly subs = new Map<string, SessionSubscription>();
  private readonly abort = new AbortController();
  private readonly ctx: Context;
  private pendingPublishes = 0;
  private readonly inflight = new Set<Promise<void>>();
  private clientDone = false;
  private finished = false;
  private resolveClosed!: () => void;
  /** Resolves when the session released everything. */
  readonly closed = new Promise<void>((resolve) => (this.resolveClosed = resolve));

  constructor(
    private readonly call: SessionCall,
    private readonly deps: SessionDeps,
  ) {
    this.writer = new FrameWriter(call, deps.config, () =>
      this.end(new GatewayError('SLOW_CONSUMER', 'The client does not read the session stream; its unsent frames exceeded grpc.closeBufferedBytes.')),
    );
    // Every pending publish listens on the session's signal (up to maxPendingPublishes at once):
    // many listeners are by design, not a leak.
    setMaxListeners(0, this.abort.signal);
    this.ctx = { ...deps.ctx, signal: this.abort.signal };
  }

  start(): void {
    this.call.on('data', (frame: SessionRequest__Output) => this.onFrame(frame));
    // Half-close: the client sends nothing more; answer pending publishes, then end with OK.
    this.call.on('end', () => {
      this.clientDone = true;
      void this.finishWhenIdle();
    });
    // Client cancel, deadline exceeded or connection loss (grpc-js emits 'cancelled' for all).
    this.call.on('cancelled', () => void this.release('cancelled'));
    this.call.on('error', (err: unknown) => {
      this.deps.log.debug({ err }, 'session stream error');
      void this.release('stream error');
    });
  }

  /** Ends the session with a status (e.g. SHUTTING_DOWN on gateway shutdown). */
  end(error: GatewayError): void {
    if (this.finished) return;
    this.finished = true;
    this.deps.log.info({ code: error.code }, error.message);
    void this.release(error.code).then(() => {
      this.call.emit('error', toStatus(error));
    });
  }

  private onFrame(frame: SessionRequest__Output): void {
    if (isMalformed(frame)) {
      // A frame that does not decode leaves no id to answer to: the stream ends.
      this.deps.log.info({ reason: frame }, 'malformed session frame');
      this.end(malformedError(frame));
      return;
    }
    switch (frame.frame) {
      case 'publish':
        this.track(this.publish(frame.publish!));
        return;
      case 'subscribe':
        this.track(this.subscribe(frame.subscribe!));
        return;
      case 'unsubscribe':
        this.unsubscribe(frame.unsubscribe!.id);
        return;
      case 'ack':
        this.ack(frame.ack!);
        return;
      case 'commit':
        this.track(this.commit(frame.commit!));
        return;
      case 'credit':
        this.grant(frame.credit!);
        return;
      case 'ping':
        this.writer.post({ pong: { nonce: frame.ping!.nonce } });
        return;
      default:
        this.postError('', new GatewayError('INVALID_ARGUMENT', 'The session frame sets no frame type.'));
    }
  }

  private track(work: Promise<void>): void {
    const p = work.catch((err: unknown) => this.deps.log.error({ err }, 'session frame handler failed'));
    this.inflight.add(p);
    void p.finally(() => {
      this.inflight.delete(p);
      void this.finishWhenIdle();
    });
  }

  private async publish(frame: PublishFrame__Output): Promise<void> {
    this.pendingPublishes += 1;
    // Stop reading more frames while too many publishes wait for the backend.
    if (this.pendingPublishes >= this.deps.config.maxPendingPublishes) this.call.pause();
    try {
      const records = frame.records.map(produceRecord);
      const options: { partition?: number; idempotencyKey?: string; traceparent?: string } = {};
      if (frame._partition === 'partition' && frame.partition !== undefined) options.partition = checkPartition(frame.partition);
      // The Session's traceparent metadata applies to every publish on it.
      const traceparent = this.call.metadata.get('traceparent')[0];
      if (typeof traceparent === 'string') options.traceparent = traceparent;
      if (frame.idempotency_key !== '') options.idempotencyKey = frame.idempotency_key;
      const results = await this.deps.gateway.produce(this.ctx, frame.topic, records, options);
      const failure = produceFailure(results);
      if (failure !== undefined) await this.sendError(frame.id, failure);
      else await this.writer.write({ published: { id: frame.id, offsets: producedPositions(results) } });
    } catch (err) {
      await this.sendError(frame.id, err);
    } finally {
      this.pendingPublishes -= 1;
      if (this.pendingPublishes < this.deps.config.maxPendingPublishes && this.call.isPaused()) this.call.resume();
    }
  }

  private async subscribe(frame: SubscribeFrame__Output): Promise<void> {
    if (frame.id === '') return this.sendError('', new GatewayError('INVALID_ARGUMENT', 'A subscribe frame needs an id.'));
    if (this.subs.has(frame.id)) return this.sendError(frame.id, new GatewayError('ALREADY_EXISTS', `Subscription ${frame.id} is already open in this session.`));
    if (this.subs.size >= this.deps.config.maxSubscriptionsPerSession) {
      return this.sendError(frame.id, new GatewayError('RESOURCE_EXHAUSTED', `A session may hold at most ${this.deps.config.maxSubscriptionsPerSession} subscriptions.`));
    }
    let releaseSlot: () => void;
    try {
      releaseSlot = this.deps.connections.subscriptionOpened(this.call.getPeer());
    } catch (err) {
      return this.sendError(frame.id, err);
    }
    const sub = new SessionSubscription(this, frame.id, frame.topic, this.credit.subscription(frame.credit), recordsFrameBytes(this.deps.config), releaseSlot);
    // Registered before the core answers, so credit and unsubscribe frames sent right behind
    // the subscribe apply to it.
    this.subs.set(frame.id, sub);
    try {
      if (frame.group !== '') {
        if (frame.partitions.length > 0) throw new GatewayError('INVALID_ARGUMENT', 'A group subscription reads the partitions the group assigns; do not list partitions.');
        const filters = keyFilters(frame.filters);
        const member = await this.deps.gateway.joinGroup(this.ctx, {
          group: frame.group,
          topics: [frame.topic],
          resetTo: resetTo(frame.position),
          ...(frame.member_id === '' ? {} : { memberId: frame.member_id }),
          ...(filters === undefined ? {} : { filters }),
        });
        await sub.startGroup(member, sub.credit.available + this.credit.available);
      } else {
        const partitions = partitionList(frame.partitions);
        const filters = keyFilters(frame.filters);
        const subscription = await this.deps.gateway.subscribe(
          this.ctx,
          {
            topic: frame.topic,
            from: position(frame.position),
            strict: frame.strict,
            // The hub hands over at most this many records until more credit is added, and
            // never ends a credit-limited subscriber as slow. It may be told more than this
            // subscription ends up spending (pool grants go to every subscription); the
            // SubscriptionCredit gate below is what guarantees the client's limit.
            credit: sub.credit.available + this.credit.available,
            ...(partitions === undefined ? {} : { partitions }),
            ...(filters === undefined ? {} : { filters }),
          },
          sub.sink,
        );
        await sub.startBroadcast(subscription);
      }
    } catch (err) {
      if (this.subs.get(frame.id) === sub) this.subs.delete(frame.id);
      await sub.close();
      await this.sendError(frame.id, err);
    }
  }

  private unsubscribe(id: string): void {
    const sub = this.subs.get(id);
    if (sub === undefined) {
      this.postError(id, new GatewayError('NOT_FOUND', `No subscription ${id} in this session.`));
      return;
    }
    this.subs.delete(id);
    this.track(
      sub.close().then(() => this.writer.write({ end: { subscription_id: id, code: '', message: 'Unsubscribed.', retriable: false } })),
    );
  }

  private ack(frame: AckFrame__Output): void {
    const sub = this.subs.get(frame.subscription_id);
    try {
      if (sub === undefined) throw new GatewayError('NOT_FOUND', `No subscription ${frame.subscription_id} in this session.`);
      sub.ack(checkPartition(frame.partition), parseInt64(frame.offset, 'ack offset'));
    } catch (err) {
      this.postError(frame.subscription_id, err);
    }
  }

  private async commit(frame: CommitFrame__Output): Promise<void> {
    const sub = this.subs.get(frame.subscription_id);
    try {
      if (sub === undefined) throw new GatewayError('NOT_FOUND', `No subscription ${frame.subscription_id} in this session.`);
      const topic = frame.topic === '' ? sub.topic : frame.topic;
      const offsets = frame.offsets.map((o) => ({ topic, partition: checkPartition(o.partition), offset: parseInt64(o.offset, 'commit offset') }));
      await sub.commit(offsets.length === 0 ? undefined : offsets);
      await this.writer.write({ committed: { id: frame.id, subscription_id: frame.subscription_id } });
    } catch (err) {
      await this.sendError(frame.id === '' ? frame.subscription_id : frame.id, err);
    }
  }

  private grant(frame: CreditFrame__Output): void {
    if (frame.subscription_id === '') {
      this.credit.grantPool(frame.records);
      for (const sub of this.subs.values()) sub.addHubCredit(frame.records);
      return;
    }
    const sub = this.subs.get(frame.subscription_id);
    if (sub === undefined) {
      this.postError(frame.subscription_id, new GatewayError('NOT_FOUND', `No subscription ${frame.subscription_id} in this session.`));
      return;
    }
    sub.credit.grant(frame.records);
    sub.addHubCredit(frame.records);
  }

  /** @internal a subscription's frames go through the session's writer. */
  write(frame: SessionResponse | EncodedResponse): Promise<void> {
    return this.writer.write(frame);
  }

  /** @internal a frame of a subscription nobody waits for. */
  post(frame: SessionResponse): void {
    this.writer.post(frame);
  }

  /** @internal the gateway ended a subscription. */
  ended(sub: SessionSubscription, error?: GatewayError): void {
    if (this.subs.get(sub.id) !== sub) return;
    this.subs.delete(sub.id);
    const body = error === undefined ? { code: '', message: 'The subscription ended.', retriable: false } : errorBody(error);
    this.track(sub.close().then(() => this.writer.write({ end: { subscription_id: sub.id, ...body } })));
  }

  /** @internal */
  get log(): Logger {
    return this.deps.log;
  }

  /** Answers a request with an error frame; resolves once it was handed to the transport. */
  private sendError(id: string, err: unknown): Promise<void> {
    return this.writer.write(this.errorFrame(id, err));
  }

  /** An error answer nobody waits for (the request had no handler in flight). */
  private postError(id: string, err: unknown): void {
    this.writer.post(this.errorFrame(id, err));
  }

  private errorFrame(id: string, err: unknown): SessionResponse {
    const error = GatewayError.from(err);
    if (error.code === 'INTERNAL') this.deps.log.error({ err: error.cause ?? error }, 'session request failed');
    else this.deps.log.info({ code: error.code, id }, error.message);
    return { error: { id, ...errorBody(error) } };
  }

  private async finishWhenIdle(): Promise<void> {
    if (!this.clientDone || this.finished || this.inflight.size > 0) return;
    this.finished = true;
    await this.release('client finished');
    this.call.end();
  }

  /** Closes every subscription (leaving groups) and aborts pending core calls. Idempotent. */
  private releasing: Promise<void> | undefined;
  private release(reason: string): Promise<void> {
    this.releasing ??= (async () => {
      this.deps.log.debug({ reason, subscriptions: this.subs.size }, 'session released');
      this.writer.markClosed();
      this.abort.abort(new GatewayError('CANCELLED', `The session ended (${reason}).`));
      const subs = [...this.subs.values()];
      this.subs.clear();
      await Promise.allSettled(subs.map((s) => s.close()));
      this.resolveClosed();
    })();
    return this.releasing;
  }
}

/** One subscription of a Session: a hub subscription or a group member's push stream. */
class SessionSubscription {
  private subscription: Subscription | undefined;
  private member: GroupMember | undefined;
  private stream: { addCredit(n: number): void; stop(): void } | undefined;
  /** Highest offset sent per partition, to refuse acks for records never delivered. */
  private readonly delivered = new Map<number, bigint>();
  /** Frames go out in order: `subscribed` first, then notices and records as the hub hands them. */
  private chain: Promise<void>;
  private openChain!: () => void;
  private closing: Promise<void> | undefined;
  /** Credit granted before the hub subscription existed, handed to it once it does. */
  private pendingHubCredit = 0;
  readonly sink: SubscriberSink;

  constructor(
    private readonly session: GrpcSession,
    readonly id: string,
    readonly topic: string,
    readonly credit: SubscriptionCredit,
    private readonly maxFrameBytes: number,
    /** Gives the connection's subscription slot back. */
    private readonly releaseSlot: () => void,
  ) {
    this.chain = new Promise<void>((resolve) => (this.openChain = resolve));
    this.sink = {
      records: (batch) => this.enqueue(() => this.deliver(batch)),
      continuityLost: (n) => {
        void this.enqueue(() =>
          this.session.write({
            continuity_lost: {
              subscription_id: this.id,
              partition: n.partition,
              requested: n.requested.toString(),
              actual: n.actual.toString(),
              reason: n.reason,
            },
          }),
        );
      },
      end: (error) => this.session.ended(this, error),
    };
  }

  async startBroadcast(subscription: Subscription): Promise<void> {
    this.subscription = subscription;
    if (this.closing !== undefined) return subscription.close();
    if (this.pendingHubCredit > 0) subscription.addCredit(this.pendingHubCredit);
    await this.session.write({ subscribed: { id: this.id, positions: positionsMessage(subscription.start), member_id: '' } });
    this.openChain();
  }

  async startGroup(member: GroupMember, credit: number): Promise<void> {
    this.member = member;
    // Closed while joining: leave at once rather than keep a member nobody reads.
    if (this.closing !== undefined) return member.leave();
    const start = new Map(member.positions().filter((p) => p.topic === this.topic).map((p) => [p.partition, p.offset] as const));
    await this.session.write({ subscribed: { id: this.id, positions: positionsMessage(start), member_id: member.memberId } });
    this.openChain();
    // The client's credit goes to the core too, so records nobody granted stay in the log
    // (not in this adapter) — and a rebalance never strands a held batch of a partition the
    // member no longer owns.
    this.stream = member.stream(this.sink, { credit: credit + this.pendingHubCredit });
    this.pendingHubCredit = 0;
  }

  /** Lets the core hand over `n` more records (hub subscription or group push stream). */
  addHubCredit(n: number): void {
    if (n <= 0) return;
    if (this.subscription !== undefined) this.subscription.addCredit(n);
    else if (this.stream !== undefined) this.stream.addCredit(n);
    else this.pendingHubCredit += n;
  }

  private enqueue(work: () => Promise<void>): Promise<void> {
    const next = this.chain.then(work);
    this.chain = next.catch((err: unknown) => this.session.log.warn({ err, subscription: this.id }, 'delivery failed'));
    return next;
  }

  /** Sends a batch within the granted credit, waiting for more credit as needed. */
  private async deliver(batch: readonly StreamRecord[]): Promise<void> {
    let rest = batch;
    while (rest.length > 0) {
      if (this.credit.isCancelled) return;
      const n = this.credit.take(rest.length);
      if (n === 0) {
        await this.credit.wait();
        continue;
      }
      const granted = rest.slice(0, n);
      rest = rest.slice(n);
      for (const chunk of chunkBySize(granted, this.maxFrameBytes)) {
        for (const r of chunk) {
          const seen = this.delivered.get(r.partition);
          if (seen === undefined || r.offset > seen) this.delivered.set(r.partition, r.offset);
        }
        await this.session.write(encodeRecordsFrame(RECORDS_FIELD.session, this.id, chunk));
      }
    }
  }

  /**
   * Acks only records this subscription sent: anything else is INVALID_ARGUMENT (a client bug
   * that would otherwise commit past unread records). On broadcast subscriptions acks are
   * accepted and change nothing (there is nothing to commit).
   */
  ack(partition: number, offset: bigint): void {
    const seen = this.delivered.get(partition);
    if (seen === undefined || offset > seen) {
      throw new GatewayError('INVALID_ARGUMENT', `Offset ${offset} of partition ${partition} was never delivered on subscription ${this.id}.`);
    }
    this.member?.ack(this.topic, partition, offset);
  }

  async commit(offsets?: { topic: string; partition: number; offset: bigint }[]): Promise<void> {
    if (this.member === undefined) throw new GatewayError('FAILED_PRECONDITION', `Subscription ${this.id} is not a group subscription; only groups commit.`);
    await this.member.commit(offsets);
  }

  /** Stops delivery and leaves the group (committing acknowledged records). Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.releaseSlot();
      this.credit.cancel();
      this.openChain();
      this.subscription?.close();
      this.stream?.stop();
      if (this.member !== undefined) await this.member.leave();
    })();
    return this.closing;
  }
}
