/**
 * The proto Session state machine: publishes, broadcast and group subscriptions, acks, commits and
 * credit (own + session pool), over decoded SessionRequest frames and emitting SessionResponse
 * frames. It serves the gRPC `Session` bidi stream (adapters/grpc/session-call.ts) and the
 * WebSocket `streamgate.v1.proto` subprotocol (adapters/websocket/proto-session.ts) alike; each
 * adapts its transport to a SessionOutput. No transport library here (grpc-js, ws).
 *
 * Flow control: a subscription receives at most the credit the client granted (its own, then
 * the session pool). Records the client has not granted stay in the hub (whose bounded queue
 * detaches a waiting subscriber and catches it up from the log later) — the session holds at
 * most one batch per subscription. Publishes beyond `maxPendingPublishes` pause reading (the
 * transport's flow control then pushes back on the client) or, where the transport cannot, are
 * refused with RESOURCE_EXHAUSTED.
 */
import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import type { Context, Gateway, GroupMember, SubscriberSink, Subscription } from '../gateway/api.js';
import { GatewayError } from '../gateway/errors.js';
import type { StreamRecord } from '../gateway/record.js';
import type { AckFrame__Output } from '../proto/gen/ts/streamgate/v1/AckFrame.js';
import type { CommitFrame__Output } from '../proto/gen/ts/streamgate/v1/CommitFrame.js';
import type { CreditFrame__Output } from '../proto/gen/ts/streamgate/v1/CreditFrame.js';
import type { PublishFrame__Output } from '../proto/gen/ts/streamgate/v1/PublishFrame.js';
import type { SessionRequest__Output } from '../proto/gen/ts/streamgate/v1/SessionRequest.js';
import type { SessionResponse } from '../proto/gen/ts/streamgate/v1/SessionResponse.js';
import type { SubscribeFrame__Output } from '../proto/gen/ts/streamgate/v1/SubscribeFrame.js';
import {
  checkPartition,
  EncodedResponse,
  errorBody,
  joinGroupRequest,
  parseInt64,
  positionsMessage,
  producedPositions,
  produceFailure,
  produceRecord,
  RECORDS_FIELD,
  recordsFrames,
  subscribeRequest,
} from './proto.js';
import { SessionCredit, type SubscriptionCredit } from './stream-credit.js';

/** Where a session's response frames go: a gRPC call or a WebSocket connection. */
export interface SessionOutput {
  /** Hands a frame to the transport, in order; resolves once the transport took it (the hub's backpressure signal). */
  write(frame: SessionResponse | EncodedResponse): Promise<void>;
  /** A frame nobody waits for (replies, errors); the transport ends a client that lets them pile up. */
  post(frame: SessionResponse): void;
  /** Stops reading request frames (too many publishes await the backend), then reads again. */
  pause(): void;
  resume(): void;
  /** The session is releasing: pending and later frames may be dropped. */
  released(): void;
  /** Everything is released: end the stream, OK without an error (the client half-closed), else with it. */
  close(error?: GatewayError): void;
}

/** The bounds a session works within; each adapter names them in its config. */
export interface StreamSessionLimits {
  /** Publishes awaiting the backend at once. */
  readonly maxPendingPublishes: number;
  /** At the bound: `pause` reading the transport, or `refuse` the publish with RESOURCE_EXHAUSTED (a transport that cannot pause). */
  readonly whenPublishesFull: 'pause' | 'refuse';
  /** Largest records frame the session builds (a single larger record still travels alone). */
  readonly maxRecordsFrameBytes: number;
}

/** What a session needs from its adapter. */
export interface StreamSessionDeps {
  readonly gateway: Gateway;
  /** Subscriptions, group calls and commits run under it, with a signal that aborts when the session ends. */
  readonly ctx: Context;
  /** Publishes run under this; default the session's context (aborted when it ends). */
  readonly publishCtx?: Context;
  readonly log: Logger;
  readonly limits: StreamSessionLimits;
  /** Takes a slot for the session's next subscription (`current` are open); returns its release. Throws RESOURCE_EXHAUSTED when full. */
  readonly admitSubscription: (current: number) => () => void;
  /** W3C traceparent applied to every publish of the session (gRPC: the call's metadata). */
  readonly traceparent?: string;
}

/** One Session. `closed` resolves when every subscription and group membership is released. */
export class StreamSession {
  private readonly credit = new SessionCredit();
  private readonly subs = new Map<string, SessionSubscription>();
  private readonly abort = new AbortController();
  private readonly ctx: Context;
  private pendingPublishes = 0;
  private paused = false;
  private readonly inflight = new Set<Promise<void>>();
  private clientDone = false;
  private finished = false;
  private resolveClosed!: () => void;
  /** Resolves when the session released everything. */
  readonly closed = new Promise<void>((resolve) => (this.resolveClosed = resolve));

  constructor(
    private readonly output: SessionOutput,
    private readonly deps: StreamSessionDeps,
  ) {
    // Every pending publish listens on the session's signal (up to maxPendingPublishes at once):
    // many listeners are by design, not a leak.
    setMaxListeners(0, this.abort.signal);
    this.ctx = { ...deps.ctx, signal: this.abort.signal };
  }

  /** One decoded request frame. */
  handle(frame: SessionRequest__Output): void {
    switch (frame.frame) {
      case 'publish':
        this.publish(frame.publish!);
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
        this.output.post({ pong: { nonce: frame.ping!.nonce } });
        return;
      default:
        this.postError('', new GatewayError('INVALID_ARGUMENT', 'The session frame sets no frame type.'));
    }
  }

  /** The client sends nothing more (half-close): answer pending requests, then end with OK. */
  clientFinished(): void {
    this.clientDone = true;
    void this.finishWhenIdle();
  }

  /** Ends the session with an error (SHUTTING_DOWN, expired credentials, a client not reading, …). */
  end(error: GatewayError): void {
    if (this.finished) return;
    this.finished = true;
    this.deps.log.info({ code: error.code }, error.message);
    void this.release(error.code).then(() => this.output.close(error));
  }

  /** Stops every subscription (leaving groups) and waits for pending publishes, for a graceful close by the adapter. */
  async drain(): Promise<void> {
    const subs = [...this.subs.values()];
    this.subs.clear();
    await Promise.allSettled([...subs.map((s) => s.close()), ...this.inflight]);
  }

  /** Closes every subscription (leaving groups) and aborts pending core calls; the transport is gone. Idempotent. */
  private releasing: Promise<void> | undefined;
  release(reason: string): Promise<void> {
    this.releasing ??= (async () => {
      this.deps.log.debug({ reason, subscriptions: this.subs.size }, 'session released');
      this.output.released();
      this.abort.abort(new GatewayError('CANCELLED', `The session ended (${reason}).`));
      const subs = [...this.subs.values()];
      this.subs.clear();
      await Promise.allSettled(subs.map((s) => s.close()));
      this.resolveClosed();
    })();
    return this.releasing;
  }

  private track(work: Promise<void>): void {
    const p = work.catch((err: unknown) => this.deps.log.error({ err }, 'session frame handler failed'));
    this.inflight.add(p);
    void p.finally(() => {
      this.inflight.delete(p);
      void this.finishWhenIdle();
    });
  }

  private publish(frame: PublishFrame__Output): void {
    const { maxPendingPublishes, whenPublishesFull } = this.deps.limits;
    if (whenPublishesFull === 'refuse' && this.pendingPublishes >= maxPendingPublishes) {
      this.postError(frame.id, new GatewayError('RESOURCE_EXHAUSTED', `At most ${maxPendingPublishes} publishes may await acknowledgement per session.`));
      return;
    }
    this.pendingPublishes += 1;
    // Stop reading more frames while too many publishes wait for the backend.
    if (whenPublishesFull === 'pause' && this.pendingPublishes >= maxPendingPublishes && !this.paused) {
      this.paused = true;
      this.output.pause();
    }
    this.track(
      this.produce(frame).finally(() => {
        this.pendingPublishes -= 1;
        if (this.paused && this.pendingPublishes < maxPendingPublishes) {
          this.paused = false;
          this.output.resume();
        }
      }),
    );
  }

  private async produce(frame: PublishFrame__Output): Promise<void> {
    try {
      const records = frame.records.map(produceRecord);
      const options: { partition?: number; idempotencyKey?: string; traceparent?: string } = {};
      if (frame._partition === 'partition' && frame.partition !== undefined) options.partition = checkPartition(frame.partition);
      if (this.deps.traceparent !== undefined) options.traceparent = this.deps.traceparent;
      if (frame.idempotency_key !== '') options.idempotencyKey = frame.idempotency_key;
      const results = await this.deps.gateway.produce(this.deps.publishCtx ?? this.ctx, frame.topic, records, options);
      const failure = produceFailure(results);
      if (failure !== undefined) await this.sendError(frame.id, failure);
      else await this.output.write({ published: { id: frame.id, offsets: producedPositions(results) } });
    } catch (err) {
      await this.sendError(frame.id, err);
    }
  }

  private async subscribe(frame: SubscribeFrame__Output): Promise<void> {
    if (frame.id === '') return this.sendError('', new GatewayError('INVALID_ARGUMENT', 'A subscribe frame needs an id.'));
    if (this.subs.has(frame.id)) return this.sendError(frame.id, new GatewayError('ALREADY_EXISTS', `Subscription ${frame.id} is already open in this session.`));
    let releaseSlot: () => void;
    try {
      releaseSlot = this.deps.admitSubscription(this.subs.size);
    } catch (err) {
      return this.sendError(frame.id, err);
    }
    const sub = new SessionSubscription(this, frame.id, frame.topic, this.credit.subscription(frame.credit), this.deps.limits.maxRecordsFrameBytes, releaseSlot);
    // Registered before the core answers, so credit and unsubscribe frames sent right behind
    // the subscribe apply to it.
    this.subs.set(frame.id, sub);
    try {
      if (frame.group !== '') {
        const member = await this.deps.gateway.joinGroup(this.ctx, joinGroupRequest(frame));
        await sub.startGroup(member, sub.credit.available + this.credit.available);
      } else {
        // The hub hands over at most this many records until more credit is added, and never
        // ends a credit-limited subscriber as slow. It may be told more than this subscription
        // ends up spending (pool grants go to every subscription); the SubscriptionCredit gate
        // is what guarantees the client's limit.
        const subscription = await this.deps.gateway.subscribe(this.ctx, subscribeRequest(frame, sub.credit.available + this.credit.available), sub.sink);
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
    this.track(sub.close().then(() => this.output.write({ end: { subscription_id: id, code: '', message: 'Unsubscribed.', retriable: false } })));
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
      await this.output.write({ committed: { id: frame.id, subscription_id: frame.subscription_id } });
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

  /** @internal a subscription's frames go through the session's output. */
  write(frame: SessionResponse | EncodedResponse): Promise<void> {
    return this.output.write(frame);
  }

  /** @internal the gateway (or an encoder fault) ended a subscription. */
  ended(sub: SessionSubscription, error?: GatewayError): void {
    if (this.subs.get(sub.id) !== sub) return;
    this.subs.delete(sub.id);
    const body = error === undefined ? { code: '', message: 'The subscription ended.', retriable: false } : errorBody(error);
    this.track(sub.close().then(() => this.output.write({ end: { subscription_id: sub.id, ...body } })));
  }

  /** @internal */
  get log(): Logger {
    return this.deps.log;
  }

  /** Answers a request with an error frame; resolves once it was handed to the transport. */
  private sendError(id: string, err: unknown): Promise<void> {
    return this.output.write(this.errorFrame(id, err));
  }

  /** An error answer nobody waits for (the request had no handler in flight). */
  private postError(id: string, err: unknown): void {
    this.output.post(this.errorFrame(id, err));
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
    this.output.close();
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
    private readonly session: StreamSession,
    readonly id: string,
    readonly topic: string,
    readonly credit: SubscriptionCredit,
    private readonly maxFrameBytes: number,
    /** Gives the subscription slot back. */
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
    // (not in this session) — and a rebalance never strands a held batch of a partition the
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
      // The whole batch when the credit allows: the same array as other subscribers' (frames shared).
      const granted = n === rest.length ? rest : rest.slice(0, n);
      rest = rest.slice(n);
      let frames: ReturnType<typeof recordsFrames>;
      try {
        frames = recordsFrames(RECORDS_FIELD.session, this.id, granted, this.maxFrameBytes);
      } catch (err) {
        // A record this session cannot encode ends this subscription only, with a catalogued
        // error; the session and its other subscriptions go on.
        const error = GatewayError.from(err);
        this.session.log.error({ err: error.cause ?? err, subscription: this.id }, 'records could not be encoded; ending the subscription');
        this.session.ended(this, error);
        return;
      }
      for (const { records: chunk, frame } of frames) {
        for (const r of chunk) {
          const seen = this.delivered.get(r.partition);
          if (seen === undefined || r.offset > seen) this.delivered.set(r.partition, r.offset);
        }
        await this.session.write(frame);
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
