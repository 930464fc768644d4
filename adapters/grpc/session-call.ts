/**
 * One bidirectional `Session` call: the grpc-js duplex stream adapted to the Session state machine
 * (codecs/stream-session.ts), which the WebSocket proto subprotocol shares. What is gRPC's stays
 * here: a request that does not decode ends the call with INVALID_ARGUMENT (it leaves no id to
 * answer to), the client's half-close ends it with OK once pending requests are answered, the
 * call's `traceparent` metadata applies to every publish, FrameWriter bounds what the stream
 * holds, and publishes beyond `maxPendingPublishes` pause reading so HTTP/2 flow control pushes
 * back on the client.
 */
import type { ServerDuplexStream } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { EncodedResponse, isMalformed, malformedError, type Malformed } from '../../codecs/proto.js';
import { StreamSession } from '../../codecs/stream-session.js';
import type { Context, Gateway } from '../../gateway/api.js';
import { GatewayError } from '../../gateway/errors.js';
import type { SessionRequest__Output } from '../../proto/gen/ts/streamgate/v1/SessionRequest.js';
import type { SessionResponse } from '../../proto/gen/ts/streamgate/v1/SessionResponse.js';
import { recordsFrameBytes, type GrpcConfig } from './config.js';
import { toStatus } from './errors.js';
import { FrameWriter } from './flow.js';
import type { SubscriptionSlots } from './service.js';

export type SessionCall = ServerDuplexStream<SessionRequest__Output | Malformed, SessionResponse>;

/** What a Session call needs from the adapter. */
export interface SessionCallDeps {
  readonly gateway: Gateway;
  readonly config: GrpcConfig;
  readonly ctx: Context;
  readonly log: Logger;
  /** Per-connection subscription counts (limits.maxSubscriptionsPerConnection). */
  readonly connections: SubscriptionSlots;
}

/** One Session call. `closed` resolves when every subscription and group membership is released. */
export class GrpcSessionCall {
  private readonly writer: FrameWriter<SessionResponse | EncodedResponse>;
  private readonly session: StreamSession;
  /** Resolves when the session released everything. */
  readonly closed: Promise<void>;

  constructor(
    private readonly call: SessionCall,
    private readonly deps: SessionCallDeps,
  ) {
    const { config } = deps;
    this.writer = new FrameWriter(call, config, () =>
      this.end(new GatewayError('SLOW_CONSUMER', 'The client does not read the session stream; its unsent frames exceeded grpc.closeBufferedBytes.')),
    );
    const traceparent = call.metadata.get('traceparent')[0];
    this.session = new StreamSession(
      {
        write: (frame) => this.writer.write(frame),
        post: (frame) => this.writer.post(frame),
        pause: () => call.pause(),
        resume: () => call.resume(),
        released: () => this.writer.markClosed(),
        close: (error) => (error === undefined ? call.end() : call.emit('error', toStatus(error))),
      },
      {
        gateway: deps.gateway,
        ctx: deps.ctx,
        log: deps.log,
        limits: { maxPendingPublishes: config.maxPendingPublishes, whenPublishesFull: 'pause', maxRecordsFrameBytes: recordsFrameBytes(config) },
        admitSubscription: (current) => {
          if (current >= config.maxSubscriptionsPerSession) {
            throw new GatewayError('RESOURCE_EXHAUSTED', `A session may hold at most ${config.maxSubscriptionsPerSession} subscriptions.`);
          }
          return deps.connections.subscriptionOpened(call.getPeer());
        },
        ...(typeof traceparent === 'string' ? { traceparent } : {}),
      },
    );
    this.closed = this.session.closed;
  }

  start(): void {
    this.call.on('data', (frame: SessionRequest__Output | Malformed) => {
      if (isMalformed(frame)) {
        // A frame that does not decode leaves no id to answer to: the stream ends.
        this.deps.log.info({ reason: frame }, 'malformed session frame');
        this.end(malformedError(frame));
        return;
      }
      this.session.handle(frame);
    });
    // Half-close: the client sends nothing more; answer pending publishes, then end with OK.
    this.call.on('end', () => this.session.clientFinished());
    // Client cancel, deadline exceeded or connection loss (grpc-js emits 'cancelled' for all).
    this.call.on('cancelled', () => void this.session.release('cancelled'));
    this.call.on('error', (err: unknown) => {
      this.deps.log.debug({ err }, 'session stream error');
      void this.session.release('stream error');
    });
  }

  /** Ends the call with a status (e.g. SHUTTING_DOWN on gateway shutdown). */
  end(error: GatewayError): void {
    this.session.end(error);
  }
}
