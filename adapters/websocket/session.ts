/**
 * One WebSocket connection's life: decode frames, call the core, encode answers, and keep the
 * socket's buffer bounded. No offset policy, retries or idempotency here — those are the core's.
 */
import type { Logger } from 'pino';
import type { Context, ContinuityLost, Gateway, SubscriberSink, Subscription } from '../../gateway/api.js';
import { GatewayError } from '../../gateway/errors.js';
import type { ProduceResult, StreamRecord } from '../../gateway/record.js';
import { FrameError, type ClientFrame, type Codec, type ServerFrame } from './codec.js';
import type { WebsocketConfig } from './config.js';
import type { ConnectionEvents, EngineConnection } from '../../transport/websocket.js';
import { CLOSE, WS_ERRORS, closeReason } from './errors.js';

type SessionLimits = Pick<
  WebsocketConfig,
  'maxBufferedBytes' | 'closeBufferedBytes' | 'maxInFlightPublishes' | 'closeTimeoutMs'
>;

/** One subscription of this connection, from the subscribe frame until its end. */
class SubState {
  subscription: Subscription | undefined;
  /** `subscribed` was sent: records and notices may flow. */
  announced = false;
  cancelled = false;
  readonly notices: ContinuityLost[] = [];
  pendingEnd: { error: GatewayError | undefined } | undefined;
  /** Credit granted while the subscribe was still pending, handed over once it resolves. */
  credit = 0;
  readonly ready: Promise<void>;
  markReady!: () => void;

  constructor(readonly id: string) {
    this.ready = new Promise((resolve) => (this.markReady = resolve));
  }
}

export class Session implements ConnectionEvents {
  /** Set by any frame or pong; the heartbeat clears it on each ping. */
  alive = true;
  private closed = false;
  private readonly subs = new Map<string, SubState>();
  private readonly inFlight = new Set<Promise<void>>();
  /** Created with the first subscription: idle connections should cost as little as possible. */
  private abort: AbortController | undefined;
  private subscribeCtx: Context | undefined;
  private closeTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly conn: EngineConnection,
    private readonly codec: Codec,
    private readonly gateway: Gateway,
    /** Produces run to completion even if the client goes away: the idempotency key lets a resend find the result. */
    private readonly ctx: Context,
    private readonly limits: SessionLimits,
    private readonly log: Logger,
    private readonly onClosed: (session: Session) => void,
  ) {}

  // --- ConnectionEvents -------------------------------------------------------------------

  message(data: Buffer, binary: boolean): void {
    this.alive = true;
    if (this.closed) return;
    if (binary !== this.codec.binary) {
      // RFC 6455 §7.4.1: 1003 = a data type the endpoint cannot accept.
      const reason = binary ? 'binary frames are not part of streamgate.v1.json' : 'text frames are not part of streamgate.v1.proto';
      this.log.info({ binary }, 'wrong frame type for the subprotocol');
      this.conn.close(CLOSE.UNSUPPORTED_DATA, closeReason(reason));
      return;
    }
    let frame: ClientFrame;
    try {
      frame = this.codec.decode(data);
    } catch (err) {
      if (err instanceof FrameError) {
        this.log.info({ code: err.error.code, msg: err.message }, 'bad frame');
        this.reply({ op: 'error', ...(err.id === undefined ? {} : { id: err.id }), error: err.error });
      } else {
        this.internal(err, undefined);
      }
      return;
    }
    try {
      this.handle(frame);
    } catch (err) {
      // A fault here must not take the process (or other connections) down with it.
      this.internal(err, 'id' in frame ? frame.id : undefined);
    }
  }

  pong(): void {
    this.alive = true;
  }

  close(code: number, reason: string, error: Error | undefined): void {
    this.closed = true;
    clearTimeout(this.closeTimer);
    this.abort?.abort();
    for (const state of this.subs.values()) {
      state.cancelled = true;
      state.subscription?.close();
      state.markReady();
    }
    this.subs.clear();
    this.log.debug({ code, reason, err: error }, 'connection closed');
    this.onClosed(this);
  }

  // --- Lifecycle driven by the adapter ----------------------------------------------------

  /** Heartbeat tick: a connection silent since the previous ping is dead. Returns false if terminated. */
  heartbeat(): boolean {
    if (this.closed) return false;
    if (!this.alive) {
      this.log.info('no pong since the last ping; terminating');
      this.conn.terminate();
      return false;
    }
    this.alive = false;
    this.conn.ping();
    return true;
  }

  /** Graceful end: stop subscriptions, let in-flight publishes be acknowledged, then 1001. */
  async shutdown(): Promise<void> {
    if (this.closed) return;
    for (const state of this.subs.values()) {
      state.cancelled = true;
      state.subscription?.close();
      state.markReady();
    }
    this.subs.clear();
    await Promise.allSettled([...this.inFlight]);
    this.end(CLOSE.GOING_AWAY, 'gateway shutting down');
  }

  /** Ends the connection with a catalogued error (credentials expired, …). */
  fail(error: GatewayError): void {
    this.end(WS_ERRORS[error.code].close, error.message);
  }

  terminate(): void {
    this.conn.terminate();
  }

  // --- Frames -----------------------------------------------------------------------------

  private handle(frame: ClientFrame): void {
    switch (frame.op) {
      case 'subscribe':
        this.subscribe(frame).catch((err: unknown) => this.internal(err, frame.id));
        return;
      case 'unsubscribe':
        this.unsubscribe(frame.sub);
        return;
      case 'publish':
        this.publish(frame);
        return;
      case 'ping':
        this.reply({ op: 'pong', ...(frame.id === undefined ? {} : { id: frame.id }), ...(frame.nonce === undefined ? {} : { nonce: frame.nonce }) });
        return;
      case 'credit':
        this.credit(frame.sub, frame.records);
        return;
      case 'unsupported':
        this.reply({ op: 'error', id: frame.id, error: new GatewayError('UNIMPLEMENTED', frame.what) });
        return;
    }
  }

  private async subscribe(frame: Extract<ClientFrame, { op: 'subscribe' }>): Promise<void> {
    const { id } = frame;
    if (this.subs.has(id)) {
      this.reply({ op: 'error', id, error: new GatewayError('ALREADY_EXISTS', `Subscription "${id}" is already open on this connection.`) });
      return;
    }
    try {
      // The bound is the core's (limits.maxSubscriptionsPerConnection), the same for every protocol.
      this.gateway.admitSubscription(this.subs.size);
    } catch (err) {
      this.replyError(id, err);
      return;
    }
    const state = new SubState(id);
    this.subs.set(id, state);
    const sink: SubscriberSink = {
      records: (batch) => this.deliver(state, batch),
      continuityLost: (notice) => {
        if (state.announced) this.reply({ op: 'continuity-lost', sub: id, notice });
        else state.notices.push(notice);
      },
      end: (error) => {
        if (!state.announced) {
          state.pendingEnd = { error };
          return;
        }
        this.ended(state, error);
      },
    };
    let subscription: Subscription;
    try {
      if (this.subscribeCtx === undefined) {
        this.abort = new AbortController();
        this.subscribeCtx = { ...this.ctx, signal: this.abort.signal };
      }
      subscription = await this.gateway.subscribe(this.subscribeCtx, {
        topic: frame.topic,
        from: frame.from,
        ...(frame.partitions === undefined ? {} : { partitions: frame.partitions }),
        ...(frame.filters === undefined ? {} : { filters: frame.filters }),
        ...(frame.strict === undefined ? {} : { strict: frame.strict }),
        ...(frame.credit === undefined ? {} : { credit: frame.credit }),
      }, sink);
    } catch (err) {
      if (this.subs.get(id) === state) this.subs.delete(id);
      state.cancelled = true;
      state.markReady();
      if (!this.closed) this.replyError(id, err);
      return;
    }
    if (state.cancelled || this.closed) {
      subscription.close();
      return;
    }
    state.subscription = subscription;
    if (state.credit > 0) subscription.addCredit(state.credit);
    this.reply({ op: 'subscribed', id, positions: subscription.start });
    state.announced = true;
    for (const notice of state.notices.splice(0)) this.reply({ op: 'continuity-lost', sub: id, notice });
    state.markReady();
    if (state.pendingEnd !== undefined) this.ended(state, state.pendingEnd.error);
  }

  private ended(state: SubState, error: GatewayError | undefined): void {
    if (this.subs.get(state.id) !== state) return;
    this.subs.delete(state.id);
    state.cancelled = true;
    if (error !== undefined) this.log.info({ sub: state.id, code: error.code }, 'subscription ended by the gateway');
    this.reply({ op: 'end', sub: state.id, ...(error === undefined ? {} : { error }) });
  }

  /** The hub's sink: never write while the socket is over its bound; resolve when it is back under. */
  private async deliver(state: SubState, batch: readonly StreamRecord[]): Promise<void> {
    if (!state.announced) await state.ready;
    // Several subscriptions share the socket: wait for room even if this one's last batch drained.
    await this.conn.whenDrained(this.limits.maxBufferedBytes);
    if (state.cancelled || this.closed) return;
    let frame: string | Uint8Array;
    try {
      frame = this.codec.encode({ op: 'records', sub: state.id, records: batch });
    } catch (err) {
      // A record this subprotocol cannot carry ends this subscription only, with a catalogued
      // error; the connection and its other subscriptions go on.
      const error = GatewayError.from(err);
      this.log.error({ err: error.cause ?? err, sub: state.id }, 'records could not be encoded; ending the subscription');
      state.subscription?.close();
      this.ended(state, error);
      return;
    }
    this.conn.send(frame);
    await this.conn.whenDrained(this.limits.maxBufferedBytes);
  }

  private unsubscribe(sub: string): void {
    const state = this.subs.get(sub);
    if (state === undefined) {
      this.reply({ op: 'error', id: sub, error: new GatewayError('NOT_FOUND', `No subscription "${sub}" on this connection.`) });
      return;
    }
    this.subs.delete(sub);
    state.cancelled = true;
    state.subscription?.close();
    state.markReady();
    this.reply({ op: 'end', sub });
  }

  private credit(sub: string, records: number): void {
    if (sub === '') {
      // The gRPC Session's session-wide pool has no counterpart in the hub's per-subscription credit.
      this.reply({ op: 'error', id: '', error: new GatewayError('UNIMPLEMENTED', 'Session-wide credit is not supported over WebSocket; grant credit per subscription.') });
      return;
    }
    const state = this.subs.get(sub);
    if (state === undefined) {
      this.reply({ op: 'error', id: sub, error: new GatewayError('NOT_FOUND', `No subscription "${sub}" on this connection.`) });
      return;
    }
    if (state.subscription === undefined) state.credit += records;
    else state.subscription.addCredit(records);
  }

  private publish(frame: Extract<ClientFrame, { op: 'publish' }>): void {
    const { id } = frame;
    if (this.inFlight.size >= this.limits.maxInFlightPublishes) {
      const error = new GatewayError('RESOURCE_EXHAUSTED', `At most ${this.limits.maxInFlightPublishes} publishes may await acknowledgement per connection.`);
      this.reply({ op: 'error', id, error });
      return;
    }
    const done = this.gateway
      .produce(this.ctx, frame.topic, frame.records, {
        idempotencyKey: frame.idempotencyKey,
        ...(frame.traceparent === undefined ? {} : { traceparent: frame.traceparent }),
        ...(frame.partition === undefined ? {} : { partition: frame.partition }),
      })
      .then(
        (results) => {
          const failed = results.find((r): r is Extract<ProduceResult, { ok: false }> => !r.ok);
          if (failed === undefined) {
            const offsets = results.flatMap((r) => (r.ok ? [{ partition: r.partition, offset: r.offset, timestamp: r.timestamp }] : []));
            this.reply({ op: 'ack', id, offsets });
            return;
          }
          // Part of the batch may have been written: say exactly which records landed where.
          const error = new GatewayError(failed.error.code, failed.error.message, {
            details: {
              results: results.map((r) =>
                r.ok ? { partition: r.partition, offset: r.offset.toString() } : { partition: r.partition, code: r.error.code, message: r.error.message },
              ),
            },
          });
          this.reply({ op: 'error', id, error });
        },
        (err: unknown) => this.replyError(id, err),
      )
      .finally(() => this.inFlight.delete(done));
    this.inFlight.add(done);
  }

  // --- Writing ----------------------------------------------------------------------------

  private replyError(id: string, err: unknown): void {
    const error = GatewayError.from(err);
    if (error.code === 'INTERNAL') this.log.error({ err: error.cause ?? err, id }, 'request failed');
    else this.log.info({ id, code: error.code }, 'request failed');
    this.reply({ op: 'error', id, error });
  }

  private internal(err: unknown, id: string | undefined): void {
    this.log.error({ err, id }, 'unexpected failure handling a frame');
    this.reply({ op: 'error', ...(id === undefined ? {} : { id }), error: GatewayError.from(err) });
  }

  /** Replies are small and few per request; a client that lets them pile up is not reading at all. */
  private reply(frame: ServerFrame): void {
    if (this.closed) return;
    const buffered = this.conn.send(this.codec.encode(frame));
    if (buffered > this.limits.closeBufferedBytes) {
      this.log.warn({ buffered }, 'client is not reading its replies; closing');
      this.end(CLOSE.NOT_READING, 'not reading: too many unsent replies');
    }
  }

  private end(code: number, reason: string): void {
    if (this.closed || this.closeTimer !== undefined) return;
    this.conn.close(code, closeReason(reason));
    // A peer that does not read will not answer the close handshake either.
    this.closeTimer = setTimeout(() => this.conn.terminate(), this.limits.closeTimeoutMs);
    this.closeTimer.unref();
  }
}

/**
 * One timer for all connections (not one per connection, which would cost memory per idle
 * socket): every `intervalMs` each session is pinged, and one that stayed silent since the
 * previous tick is terminated.
 */
export class Heartbeat {
  private readonly sessions = new Set<{ heartbeat(): boolean }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly intervalMs: number) {}

  add(session: { heartbeat(): boolean }): void {
    this.sessions.add(session);
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.tick(), this.intervalMs);
      this.timer.unref();
    }
  }

  delete(session: { heartbeat(): boolean }): void {
    this.sessions.delete(session);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    for (const session of this.sessions) if (!session.heartbeat()) this.sessions.delete(session);
  }
}
