/**
 * The `streamgate.v1.json` subprotocol on one connection: decode text frames (codec.ts), call the
 * core, encode answers. Broadcast subscriptions and publishes; flow control is the socket's
 * buffer bound (records wait for it), not credit — that is the proto subprotocol's Session.
 */
import type { Context, ContinuityLost, Gateway, SubscriberSink, Subscription } from '../../gateway/api.js';
import { encodeBatchOnce } from '../../gateway/encoded.js';
import { GatewayError } from '../../gateway/errors.js';
import type { ProduceResult, StreamRecord } from '../../gateway/record.js';
import { FrameError, jsonCodec, type ClientFrame, type ServerFrame } from './codec.js';
import type { FrameSession, Subprotocol, WsConnection } from './connection.js';

/** Metrics watches per connection (each sample walks the metric registry once). */
const MAX_METRICS_WATCHES = 4;

/** `streamgate.v1.json`: text frames. */
export const jsonSubprotocol: Subprotocol = {
  binary: false,
  open: (connection) => new JsonSession(connection),
};

/** One subscription of this connection, from the subscribe frame until its end. */
class SubState {
  subscription: Subscription | undefined;
  /** `subscribed` was sent: records and notices may flow. */
  announced = false;
  cancelled = false;
  readonly notices: ContinuityLost[] = [];
  pendingEnd: { error: GatewayError | undefined } | undefined;
  readonly ready: Promise<void>;
  markReady!: () => void;

  constructor(readonly id: string) {
    this.ready = new Promise((resolve) => (this.markReady = resolve));
  }
}

class JsonSession implements FrameSession {
  private readonly subs = new Map<string, SubState>();
  /** Metrics watches by id: their timers. They share the subscriptions' id space and bound. */
  private readonly watches = new Map<string, NodeJS.Timeout>();
  private readonly inFlight = new Set<Promise<void>>();
  /** Created with the first subscription: idle connections should cost as little as possible. */
  private abort: AbortController | undefined;
  private subscribeCtx: Context | undefined;

  constructor(private readonly connection: WsConnection) {}

  message(data: Buffer): void {
    let frame: ClientFrame;
    try {
      frame = jsonCodec.decode(data);
    } catch (err) {
      if (err instanceof FrameError) {
        this.connection.log.info({ code: err.error.code, msg: err.message }, 'bad frame');
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

  closed(): void {
    this.abort?.abort();
    this.stopAll();
  }

  async drain(): Promise<void> {
    this.stopAll();
    await Promise.allSettled([...this.inFlight]);
  }

  private stopAll(): void {
    for (const timer of this.watches.values()) clearInterval(timer);
    this.watches.clear();
    for (const state of this.subs.values()) {
      state.cancelled = true;
      state.subscription?.close();
      state.markReady();
    }
    this.subs.clear();
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
        this.reply({ op: 'pong', ...(frame.id === undefined ? {} : { id: frame.id }) });
        return;
      case 'metrics':
        this.watchMetrics(frame);
        return;
    }
  }

  /**
   * Periodic metrics samples (the operator console's live charts). A sample is taken only when the
   * previous one was sent and the socket is under its buffer bound, so a client that does not read
   * costs one pending sample, never a queue.
   */
  private watchMetrics(frame: Extract<ClientFrame, { op: 'metrics' }>): void {
    const { id, intervalMs } = frame;
    const { gateway, ctx } = this.connection;
    if (this.subs.has(id) || this.watches.has(id)) {
      this.reply({ op: 'error', id, error: new GatewayError('ALREADY_EXISTS', `Subscription "${id}" is already open on this connection.`) });
      return;
    }
    let sampler: ReturnType<Gateway['metricsSampler']>;
    try {
      // Each sample walks the metric registry: a few watches are all a console needs.
      if (this.watches.size >= MAX_METRICS_WATCHES) throw new GatewayError('RESOURCE_EXHAUSTED', `A connection may hold at most ${MAX_METRICS_WATCHES} metrics watches.`);
      gateway.admitSubscription(this.subs.size + this.watches.size);
      sampler = gateway.metricsSampler(ctx);
    } catch (err) {
      this.replyError(id, err);
      return;
    }
    let busy = false;
    const timer = setInterval(() => {
      if (busy) return;
      busy = true;
      sampler
        .sample()
        .then(async (sample) => {
          await this.connection.drained();
          if (this.watches.get(id) === timer && !this.connection.isClosed) this.connection.send(jsonCodec.encode({ op: 'metrics', id, sample }));
        })
        .catch((err: unknown) => this.internal(err, id))
        .finally(() => (busy = false));
    }, intervalMs);
    timer.unref();
    this.watches.set(id, timer);
  }

  private async subscribe(frame: Extract<ClientFrame, { op: 'subscribe' }>): Promise<void> {
    const { id } = frame;
    const { gateway, ctx } = this.connection;
    if (this.subs.has(id)) {
      this.reply({ op: 'error', id, error: new GatewayError('ALREADY_EXISTS', `Subscription "${id}" is already open on this connection.`) });
      return;
    }
    try {
      // The bound is the core's (limits.maxSubscriptionsPerConnection), the same for every protocol.
      gateway.admitSubscription(this.subs.size);
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
        this.subscribeCtx = { ...ctx, signal: this.abort.signal };
      }
      subscription = await gateway.subscribe(this.subscribeCtx, {
        topic: frame.topic,
        from: frame.from,
        ...(frame.partitions === undefined ? {} : { partitions: frame.partitions }),
        ...(frame.filters === undefined ? {} : { filters: frame.filters }),
        ...(frame.strict === undefined ? {} : { strict: frame.strict }),
      }, sink);
    } catch (err) {
      if (this.subs.get(id) === state) this.subs.delete(id);
      state.cancelled = true;
      state.markReady();
      if (!this.connection.isClosed) this.replyError(id, err);
      return;
    }
    if (state.cancelled || this.connection.isClosed) {
      subscription.close();
      return;
    }
    state.subscription = subscription;
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
    if (error !== undefined) this.connection.log.info({ sub: state.id, code: error.code }, 'subscription ended by the gateway');
    this.reply({ op: 'end', sub: state.id, ...(error === undefined ? {} : { error }) });
  }

  /** The hub's sink: never write while the socket is over its bound; resolve when it is back under. */
  private async deliver(state: SubState, batch: readonly StreamRecord[]): Promise<void> {
    if (!state.announced) await state.ready;
    // Records of schema-bound topics are shown decoded (the core decides and decodes, once per batch).
    const decoding = this.connection.gateway.decodeForJson(batch);
    const decoded = decoding === undefined ? undefined : await decoding;
    // Several subscriptions share the socket: wait for room even if this one's last batch drained.
    await this.connection.drained();
    if (state.cancelled || this.connection.isClosed) return;
    let frame: Buffer;
    try {
      // One frame's bytes for every subscriber with this subscription id that got this same batch
      // (the decoding is the batch's too, so it adds nothing to what the memo depends on).
      frame = encodeBatchOnce(batch, `ws.json.records\0${state.id}`, (records) => Buffer.from(jsonCodec.encode({ op: 'records', sub: state.id, records, decoded }) as string, 'utf8'));
    } catch (err) {
      // A record this subprotocol cannot carry ends this subscription only, with a catalogued
      // error; the connection and its other subscriptions go on.
      const error = GatewayError.from(err);
      this.connection.log.error({ err: error.cause ?? err, sub: state.id }, 'records could not be encoded; ending the subscription');
      state.subscription?.close();
      this.ended(state, error);
      return;
    }
    this.connection.send(frame, true);
    await this.connection.drained();
  }

  private unsubscribe(sub: string): void {
    const watch = this.watches.get(sub);
    if (watch !== undefined) {
      clearInterval(watch);
      this.watches.delete(sub);
      this.reply({ op: 'end', sub });
      return;
    }
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

  private publish(frame: Extract<ClientFrame, { op: 'publish' }>): void {
    const { id } = frame;
    const { gateway, ctx, limits } = this.connection;
    if (this.inFlight.size >= limits.maxInFlightPublishes) {
      const error = new GatewayError('RESOURCE_EXHAUSTED', `At most ${limits.maxInFlightPublishes} publishes may await acknowledgement per connection.`);
      this.reply({ op: 'error', id, error });
      return;
    }
    const done = gateway
      .produce(ctx, frame.topic, frame.records, {
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
    if (error.code === 'INTERNAL') this.connection.log.error({ err: error.cause ?? err, id }, 'request failed');
    else this.connection.log.info({ id, code: error.code }, 'request failed');
    this.reply({ op: 'error', id, error });
  }

  private internal(err: unknown, id: string | undefined): void {
    this.connection.log.error({ err, id }, 'unexpected failure handling a frame');
    this.reply({ op: 'error', ...(id === undefined ? {} : { id }), error: GatewayError.from(err) });
  }

  private reply(frame: ServerFrame): void {
    if (this.connection.isClosed) return;
    this.connection.reply(jsonCodec.encode(frame));
  }
}
