/**
 * The `streamgate.v1.proto` subprotocol on one connection: each binary message is one
 * SessionRequest / SessionResponse, served by the same Session state machine as the gRPC
 * `Session` call (codecs/stream-session.ts) — publishes, broadcast and group subscriptions, acks,
 * commits, credit (own + session pool). What is WebSocket's stays here: an undecodable message is
 * answered with an error frame and the connection goes on, request ids are bounded as on the JSON
 * subprotocol, a publish's idempotency key defaults to its id, publishes over
 * `websocket.maxInFlightPublishes` are refused (uWS cannot pause reading), and frames leave in
 * order within the socket's buffer bound.
 */
import {
  decodeSessionRequest,
  encodeSessionResponse,
  errorBody,
  isMalformed,
  MALFORMED,
  streamGateway,
  type EncodedResponse,
} from '../../codecs/proto.js';
import { StreamSession } from '../../codecs/stream-session.js';
import { GatewayError } from '../../gateway/errors.js';
import type { SessionRequest__Output } from '../../proto/gen/ts/streamgate/v1/SessionRequest.js';
import type { SessionResponse } from '../../proto/gen/ts/streamgate/v1/SessionResponse.js';
import { MAX_ID_LENGTH } from './codec.js';
import type { FrameSession, Subprotocol, WsConnection } from './connection.js';

/** `streamgate.v1.proto`: binary frames. Loads the contract now, so a broken proto fails the start, not the first client. */
export function protoSubprotocol(): Subprotocol {
  streamGateway();
  return { binary: true, open: (connection) => new ProtoSession(connection) };
}

class ProtoSession implements FrameSession {
  private readonly session: StreamSession;
  /** Frames written in order: each waits for the one before it and for room in the socket. */
  private tail: Promise<void> = Promise.resolve();
  private released = false;

  constructor(private readonly connection: WsConnection) {
    const { gateway, ctx, limits, log } = connection;
    this.session = new StreamSession(
      {
        write: (frame) => this.write(frame),
        post: (frame) => this.post(frame),
        // Publishes over the bound are refused (whenPublishesFull below): reading never pauses.
        pause: () => {},
        resume: () => {},
        released: () => (this.released = true),
        close: (error) => {
          if (error !== undefined) connection.fail(error);
        },
      },
      {
        gateway,
        ctx,
        // Produces run to completion even if the client goes away: the idempotency key lets a resend find the result.
        publishCtx: ctx,
        log,
        limits: { maxPendingPublishes: limits.maxInFlightPublishes, whenPublishesFull: 'refuse', maxRecordsFrameBytes: limits.maxBufferedBytes },
        admitSubscription: (current) => {
          // The bound is the core's (limits.maxSubscriptionsPerConnection), the same for every protocol.
          gateway.admitSubscription(current);
          return () => {};
        },
      },
    );
  }

  message(data: Buffer): void {
    const frame = decodeSessionRequest(data);
    if (isMalformed(frame)) {
      const error = new GatewayError('INVALID_ARGUMENT', `The frame is not a valid streamgate.v1.SessionRequest: ${frame[MALFORMED]}`);
      this.connection.log.info({ code: error.code, msg: error.message }, 'bad frame');
      this.post({ error: { id: '', ...errorBody(error) } });
      return;
    }
    const refused = checkRequestId(frame);
    if (refused !== undefined) {
      this.connection.log.info({ code: refused.code, msg: refused.message }, 'bad frame');
      this.post({ error: { id: '', ...errorBody(refused) } });
      return;
    }
    if (frame.publish != null && frame.publish.idempotency_key === '') frame.publish.idempotency_key = frame.publish.id;
    try {
      this.session.handle(frame);
    } catch (err) {
      // A fault here must not take the process (or other connections) down with it.
      this.connection.log.error({ err }, 'unexpected failure handling a frame');
      this.post({ error: { id: '', ...errorBody(err) } });
    }
  }

  closed(): void {
    void this.session.release('connection closed');
  }

  drain(): Promise<void> {
    return this.session.drain();
  }

  private write(frame: SessionResponse | EncodedResponse): Promise<void> {
    const sent = this.tail.then(async () => {
      // Several subscriptions share the socket: wait for room even if this one's last frame drained.
      await this.connection.drained();
      if (this.released || this.connection.isClosed) return;
      this.connection.send(encodeSessionResponse(frame));
    });
    this.tail = sent.catch(() => {});
    // The hub's sink resolves only once the socket is back under its bound.
    return sent.then(() => this.connection.drained());
  }

  private post(frame: SessionResponse): void {
    if (this.released || this.connection.isClosed) return;
    this.connection.reply(encodeSessionResponse(frame));
  }
}

/** A publish, subscribe or unsubscribe needs an id of 1–MAX_ID_LENGTH characters, as on the JSON subprotocol. */
function checkRequestId(frame: SessionRequest__Output): GatewayError | undefined {
  const kind = frame.frame;
  if (kind !== 'publish' && kind !== 'subscribe' && kind !== 'unsubscribe') return undefined;
  const id = frame[kind]?.id ?? '';
  if (id.length > 0 && id.length <= MAX_ID_LENGTH) return undefined;
  return new GatewayError('INVALID_ARGUMENT', `A ${kind} frame needs an "id": a string of 1–${MAX_ID_LENGTH} characters.`);
}
