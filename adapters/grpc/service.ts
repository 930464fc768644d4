/**
 * The StreamGateway handlers: unary Produce/Fetch/ListTopics/GetOffsets, the server-streaming
 * Subscribe, and the bidirectional Session (session-call.ts, over the Session state machine of
 * codecs/stream-session.ts). Each handler builds a Context whose signal aborts when grpc-js
 * reports the call cancelled (client cancel, deadline exceeded, connection loss).
 */
import type {
  Metadata,
  sendUnaryData,
  ServerUnaryCall,
  ServerWritableStream,
  UntypedServiceImplementation,
} from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { Context, Gateway, GroupMember, SubscriberSink, Subscription } from '../../gateway/api.js';
import type { Credentials } from '../../gateway/auth.js';
import { bearerToken, certificateName, type CertificateSubject } from '../../codecs/credentials.js';
import { createContext } from '../../gateway/context.js';
import { lazyChild } from '../../gateway/log.js';
import { GatewayError } from '../../gateway/errors.js';
import type { FetchRequest__Output } from '../../proto/gen/ts/streamgate/v1/FetchRequest.js';
import type { FetchResponse } from '../../proto/gen/ts/streamgate/v1/FetchResponse.js';
import type { GetOffsetsRequest__Output } from '../../proto/gen/ts/streamgate/v1/GetOffsetsRequest.js';
import type { GetOffsetsResponse } from '../../proto/gen/ts/streamgate/v1/GetOffsetsResponse.js';
import type { ListTopicsRequest__Output } from '../../proto/gen/ts/streamgate/v1/ListTopicsRequest.js';
import type { ListTopicsResponse } from '../../proto/gen/ts/streamgate/v1/ListTopicsResponse.js';
import type { ProduceRequest__Output } from '../../proto/gen/ts/streamgate/v1/ProduceRequest.js';
import type { ProduceResponse } from '../../proto/gen/ts/streamgate/v1/ProduceResponse.js';
import type { SubscribeRequest__Output } from '../../proto/gen/ts/streamgate/v1/SubscribeRequest.js';
import type { SubscribeResponse } from '../../proto/gen/ts/streamgate/v1/SubscribeResponse.js';
import {
  checkPartition,
  EncodedResponse,
  isMalformed,
  joinGroupRequest,
  malformedError,
  parseInt64,
  positionsMessage,
  producedPositions,
  produceFailure,
  produceRecord,
  recordMessage,
  RECORDS_FIELD,
  recordsFrames,
  subscribeRequest,
} from '../../codecs/proto.js';
import { recordsFrameBytes, type GrpcConfig } from './config.js';
import { toStatus } from './errors.js';
import { FrameWriter } from './flow.js';
import { GrpcSessionCall, type SessionCall } from './session-call.js';

/** Idempotency key metadata entry (same meaning as ProduceRequest.idempotency_key). */
export const IDEMPOTENCY_METADATA = 'idempotency-key';

/** A long-lived stream the adapter can end on shutdown. */
export interface OpenStream {
  end(error: GatewayError): void;
}

export interface ServiceDeps {
  readonly gateway: Gateway;
  readonly config: GrpcConfig;
  readonly log: Logger;
  /** Streams currently open; the adapter ends them with SHUTTING_DOWN on close. */
  readonly streams: Set<OpenStream>;
  /** Per-connection subscription counts (limits.maxSubscriptionsPerConnection), by the call's peer. */
  readonly connections: SubscriptionSlots;
}

/** Counts a subscription against its connection's limit; returns the release. RESOURCE_EXHAUSTED when full. */
export interface SubscriptionSlots {
  subscriptionOpened(peer: string): () => void;
}

type Call = ServerUnaryCall<unknown, unknown> | ServerWritableStream<unknown, unknown> | SessionCall;

/**
 * Credentials from call metadata — `authorization: Bearer <JWT or API key>` or `x-api-key` — plus
 * the verified client certificate's principal name, read as every other protocol reads it.
 */
export function credentialsOf(metadata: Metadata, call?: { getAuthContext?: () => { sslPeerCertificate?: { subject?: CertificateSubject } } | undefined }): Credentials {
  // grpc-js fills the peer certificate in only for verified client certificates.
  const name = certificateName(call?.getAuthContext?.()?.sslPeerCertificate?.subject);
  const certificate = name === undefined ? {} : { certificateSubject: name };
  const auth = metadata.get('authorization')[0];
  const token = typeof auth === 'string' ? bearerToken(auth) : undefined;
  if (token !== undefined) return { token, ...certificate };
  const apiKey = metadata.get('x-api-key')[0];
  return typeof apiKey === 'string' ? { token: apiKey, ...certificate } : certificate;
}

/** The remote address of a call (`ipv4:1.2.3.4:5678` / `ipv6:[::1]:5678` → the host), for per-address limits. */
export function peerAddress(call: { getPeer(): string }): string | undefined {
  const peer = call.getPeer().replace(/^ipv[46]:/, '');
  const host = peer.startsWith('[') ? peer.slice(1, peer.indexOf(']')) : peer.slice(0, peer.lastIndexOf(':'));
  return host === '' ? undefined : host;
}

/** Authenticates the call and builds its Context; the signal aborts when the call is cancelled. */
async function contextFor(deps: ServiceDeps, call: Call, method: string): Promise<Context> {
  const abort = new AbortController();
  (call as ServerUnaryCall<unknown, unknown>).on('cancelled', () =>
    abort.abort(new GatewayError('CANCELLED', 'The client cancelled the call or its deadline passed.')),
  );
  const principal = await deps.gateway.authenticate(credentialsOf(call.metadata, call as never), { protocol: 'grpc', remoteAddress: peerAddress(call) });
  const requestId = call.metadata.get('x-request-id')[0];
  return createContext({
    protocol: 'grpc',
    log: lazyChild(deps.log, { method, peer: call.getPeer() }),
    signal: abort.signal,
    principal,
    ...(typeof requestId === 'string' ? { requestId } : {}),
  });
}

/** Runs a unary handler: decode check, core call, status mapping. */
function unary<Req, Res>(deps: ServiceDeps, method: string, handle: (ctx: Context, req: Req, call: ServerUnaryCall<Req, Res>) => Promise<Res>) {
  return (call: ServerUnaryCall<Req, Res>, callback: sendUnaryData<Res>): void => {
    const request = call.request;
    let log = deps.log;
    const work = (async () => {
      const ctx = await contextFor(deps, call as ServerUnaryCall<unknown, unknown>, method);
      log = ctx.log;
      if (isMalformed(request)) throw malformedError(request);
      return handle(ctx, request, call);
    })();
    work.then(
      (response) => callback(null, response),
      (err: unknown) => {
        const error = GatewayError.from(err);
        if (error.code === 'INTERNAL') log.error({ err: error.cause ?? error }, `${method} failed`);
        else log.info({ code: error.code, method }, error.message);
        callback(toStatus(error));
      },
    );
  };
}

function clampWait(ms: number, max: number): number {
  return Math.max(0, Math.min(ms, max));
}

/** The StreamGateway implementation over the core. */
export function streamGatewayService(deps: ServiceDeps): UntypedServiceImplementation {
  const { gateway, config } = deps;
  return {
    Produce: unary<ProduceRequest__Output, ProduceResponse>(deps, 'Produce', async (ctx, req, call) => {
      const records = req.records.map(produceRecord);
      const options: { partition?: number; idempotencyKey?: string; traceparent?: string } = {};
      if (req._partition === 'partition' && req.partition !== undefined) options.partition = checkPartition(req.partition);
      const traceparent = call.metadata.get('traceparent')[0];
      if (typeof traceparent === 'string') options.traceparent = traceparent;
      const fromMetadata = call.metadata.get(IDEMPOTENCY_METADATA)[0];
      const key = req.idempotency_key !== '' ? req.idempotency_key : typeof fromMetadata === 'string' ? fromMetadata : '';
      if (key !== '') options.idempotencyKey = key;
      const results = await gateway.produce(ctx, req.topic, records, options);
      const failure = produceFailure(results);
      if (failure !== undefined) throw failure;
      return { offsets: producedPositions(results) };
    }),

    Fetch: unary<FetchRequest__Output, FetchResponse>(deps, 'Fetch', async (ctx, req) => {
      const partition = checkPartition(req.partition);
      const offset = parseInt64(req.offset, 'offset');
      if (req.max_records < 0 || req.max_bytes < 0 || req.wait_ms < 0) throw new GatewayError('INVALID_ARGUMENT', 'max_records, max_bytes and wait_ms must not be negative.');
      const result = await gateway.fetch(ctx, req.topic, partition, offset, {
        ...(req.max_records > 0 ? { maxRecords: req.max_records } : {}),
        ...(req.max_bytes > 0 ? { maxBytes: req.max_bytes } : {}),
        ...(req.wait_ms > 0 ? { waitMs: clampWait(req.wait_ms, config.maxFetchWaitMs) } : {}),
      });
      return {
        records: result.records.map(recordMessage),
        next_offset: result.nextOffset.toString(),
        latest: result.latest.toString(),
        earliest: result.earliest.toString(),
      };
    }),

    ListTopics: unary<ListTopicsRequest__Output, ListTopicsResponse>(deps, 'ListTopics', async (ctx) => {
      const topics = await gateway.listTopics(ctx);
      return { topics: topics.map((t) => ({ name: t.name, partitions: t.partitions, config: { ...t.config } })) };
    }),

    GetOffsets: unary<GetOffsetsRequest__Output, GetOffsetsResponse>(deps, 'GetOffsets', async (ctx, req) => {
      const offsets = await gateway.offsets(ctx, req.topic);
      return { partitions: offsets.map((o) => ({ partition: o.partition, earliest: o.earliest.toString(), latest: o.latest.toString() })) };
    }),

    Subscribe: (call: ServerWritableStream<SubscribeRequest__Output, SubscribeResponse>) => {
      const stream = new SubscribeStream(call, deps);
      stream.start();
      contextFor(deps, call as ServerWritableStream<unknown, unknown>, 'Subscribe').then(
        (ctx) => stream.open(ctx),
        (err: unknown) => stream.end(GatewayError.from(err)),
      );
    },

    Session: (call: SessionCall) => {
      contextFor(deps, call, 'Session').then(
        (ctx) => {
          const session = new GrpcSessionCall(call, { gateway, config, ctx, log: ctx.log, connections: deps.connections });
          deps.streams.add(session);
          // The operator's view of connections by principal counts a Session stream as one.
          const forget = gateway.connectionIdentified(ctx);
          // Credentials that expire end the session (the core ends each subscription too).
          const expiresAt = ctx.principal.expiresAt;
          const expiry =
            expiresAt === undefined
              ? undefined
              : setTimeout(
                  () => session.end(new GatewayError('UNAUTHENTICATED', 'The credentials have expired.')),
                  Math.max(0, Math.min(expiresAt - Date.now(), 2 ** 31 - 1)),
                );
          void session.closed.then(() => {
            forget();
            clearTimeout(expiry);
            deps.streams.delete(session);
          });
          session.start();
        },
        (err: unknown) => {
          deps.log.info({ err: GatewayError.from(err).message }, 'session refused');
          call.emit('error', toStatus(err));
        },
      );
    },
  };
}

/**
 * One server-streaming Subscribe. No credit here (a server stream has no way to grant it):
 * backpressure is HTTP/2's — a record batch is done when the transport took it. With a group,
 * records are acknowledged once written to the stream (at-most-once past that point; use a
 * Session with acks for at-least-once).
 */
class SubscribeStream implements OpenStream {
  private readonly writer: FrameWriter<SubscribeResponse | EncodedResponse>;
  private subscription: Subscription | undefined;
  private member: GroupMember | undefined;
  private stream: { stop(): void } | undefined;
  private done = false;
  private chain: Promise<void>;
  private openChain!: () => void;
  private log: Logger;
  private releaseSlot: (() => void) | undefined;

  constructor(
    private readonly call: ServerWritableStream<SubscribeRequest__Output, SubscribeResponse>,
    private readonly deps: ServiceDeps,
  ) {
    this.log = deps.log;
    this.writer = new FrameWriter(call, deps.config, () =>
      this.end(new GatewayError('SLOW_CONSUMER', 'The client does not read the stream; its unsent frames exceeded grpc.closeBufferedBytes.')),
    );
    this.chain = new Promise<void>((resolve) => (this.openChain = resolve));
  }

  start(): void {
    this.deps.streams.add(this);
    this.call.on('cancelled', () => void this.release());
    this.call.on('error', (err: unknown) => {
      this.log.debug({ err }, 'subscribe stream error');
      void this.release();
    });
  }

  /** Opens the subscription once the call is authenticated; failures end the stream. */
  open(ctx: Context): void {
    this.log = ctx.log;
    this.subscribe(ctx).catch((err: unknown) => this.end(GatewayError.from(err)));
  }

  private async subscribe(ctx: Context): Promise<void> {
    if (this.done) return;
    const req = this.call.request;
    if (isMalformed(req)) throw malformedError(req);
    this.releaseSlot = this.deps.connections.subscriptionOpened(this.call.getPeer());
    const sink: SubscriberSink = {
      records: (batch) => this.enqueue(() => this.deliver(batch)),
      continuityLost: (n) => {
        void this.enqueue(() =>
          this.writer.write({
            continuity_lost: { subscription_id: '', partition: n.partition, requested: n.requested.toString(), actual: n.actual.toString(), reason: n.reason },
          }),
        );
      },
      end: (error) => this.end(error ?? new GatewayError('UNAVAILABLE', 'The subscription ended.')),
    };
    if (req.group !== '') {
      const member = await this.deps.gateway.joinGroup(ctx, joinGroupRequest(req));
      this.member = member;
      if (this.done) return void (await member.leave());
      const start = new Map(member.positions().filter((p) => p.topic === req.topic).map((p) => [p.partition, p.offset] as const));
      await this.writer.write({ subscribed: { id: '', positions: positionsMessage(start), member_id: member.memberId } });
      this.openChain();
      this.stream = member.stream(sink);
    } else {
      const subscription = await this.deps.gateway.subscribe(ctx, subscribeRequest(req), sink);
      this.subscription = subscription;
      if (this.done) return subscription.close();
      await this.writer.write({ subscribed: { id: '', positions: positionsMessage(subscription.start), member_id: '' } });
      this.openChain();
    }
  }

  private enqueue(work: () => Promise<void>): Promise<void> {
    const next = this.chain.then(work);
    this.chain = next.catch((err: unknown) => this.log.warn({ err }, 'delivery failed'));
    return next;
  }

  private async deliver(batch: readonly import('../../gateway/record.js').StreamRecord[]): Promise<void> {
    for (const { records: chunk, frame } of recordsFrames(RECORDS_FIELD.subscribe, '', batch, recordsFrameBytes(this.deps.config))) {
      if (this.done) return;
      await this.writer.write(frame);
      if (this.member !== undefined && !this.writer.isClosed) for (const r of chunk) this.member.ack(r.topic, r.partition, r.offset);
    }
  }

  /** Ends the stream with the error's status (SHUTTING_DOWN on gateway shutdown). */
  end(error: GatewayError): void {
    if (this.done) return;
    if (error.code === 'INTERNAL') this.log.error({ err: error.cause ?? error }, 'subscribe failed');
    else this.log.info({ code: error.code }, error.message);
    void this.release().then(() => this.call.emit('error', toStatus(error)));
  }

  private releasing: Promise<void> | undefined;
  private release(): Promise<void> {
    this.releasing ??= (async () => {
      this.done = true;
      this.writer.markClosed();
      this.openChain();
      this.deps.streams.delete(this);
      this.releaseSlot?.();
      this.subscription?.close();
      this.stream?.stop();
      if (this.member !== undefined) await this.member.leave();
    })();
    return this.releasing;
  }
}
