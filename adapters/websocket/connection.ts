/**
 * One WebSocket connection's life, whatever its subprotocol: liveness (heartbeat), the frame type
 * the subprotocol allows, the socket's buffer bounds, graceful and failing ends. The frames
 * themselves are the subprotocol's session: json-session.ts for `streamgate.v1.json`,
 * proto-session.ts (the shared proto Session state machine) for `streamgate.v1.proto`. No offset
 * policy, retries or idempotency here — those are the core's.
 */
import type { Logger } from 'pino';
import type { Context, Gateway } from '../../gateway/api.js';
import type { GatewayError } from '../../gateway/errors.js';
import type { ConnectionEvents, EngineConnection } from '../../transport/websocket.js';
import type { WebsocketConfig } from './config.js';
import { CLOSE, WS_ERRORS, closeReason } from './errors.js';

/** The bounds a connection and its session work within (`websocket.*`). */
export type ConnectionLimits = Pick<WebsocketConfig, 'maxBufferedBytes' | 'closeBufferedBytes' | 'maxInFlightPublishes' | 'closeTimeoutMs'>;

/** One subprotocol's frames on one connection. */
export interface FrameSession {
  /** One client frame (already of the subprotocol's frame type). */
  message(data: Buffer): void;
  /** The socket is gone: release subscriptions and pending core calls. */
  closed(): void;
  /** Graceful end: stop subscriptions and let in-flight publishes be acknowledged. */
  drain(): Promise<void>;
}

/** A subprotocol this endpoint speaks (`Sec-WebSocket-Protocol`, RFC 6455 §1.9). */
export interface Subprotocol {
  /** Binary frames (proto) or text frames (JSON). */
  readonly binary: boolean;
  /** The session of one connection, opened with its first frame: an idle connection costs only the connection. */
  open(connection: WsConnection): FrameSession;
}

export class WsConnection implements ConnectionEvents {
  /** Set by any frame or pong; the heartbeat clears it on each ping. */
  alive = true;
  private isOver = false;
  private session: FrameSession | undefined;
  private closeTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly conn: EngineConnection,
    private readonly subprotocol: Subprotocol,
    readonly gateway: Gateway,
    /** Produces run to completion even if the client goes away: the idempotency key lets a resend find the result. */
    readonly ctx: Context,
    readonly limits: ConnectionLimits,
    readonly log: Logger,
    private readonly onClosed: (connection: WsConnection) => void,
  ) {}

  // --- ConnectionEvents -------------------------------------------------------------------

  message(data: Buffer, binary: boolean): void {
    this.alive = true;
    if (this.isOver) return;
    if (binary !== this.subprotocol.binary) {
      // RFC 6455 §7.4.1: 1003 = a data type the endpoint cannot accept.
      const reason = binary ? 'binary frames are not part of streamgate.v1.json' : 'text frames are not part of streamgate.v1.proto';
      this.log.info({ binary }, 'wrong frame type for the subprotocol');
      this.conn.close(CLOSE.UNSUPPORTED_DATA, closeReason(reason));
      return;
    }
    this.session ??= this.subprotocol.open(this);
    this.session.message(data);
  }

  pong(): void {
    this.alive = true;
  }

  close(code: number, reason: string, error: Error | undefined): void {
    this.isOver = true;
    clearTimeout(this.closeTimer);
    this.session?.closed();
    this.log.debug({ code, reason, err: error }, 'connection closed');
    this.onClosed(this);
  }

  // --- Lifecycle driven by the adapter ----------------------------------------------------

  /** Heartbeat tick: a connection silent since the previous ping is dead. Returns false if terminated. */
  heartbeat(): boolean {
    if (this.isOver) return false;
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
    if (this.isOver) return;
    await this.session?.drain();
    this.end(CLOSE.GOING_AWAY, 'gateway shutting down');
  }

  /** Ends the connection with a catalogued error (credentials expired, …). */
  fail(error: GatewayError): void {
    this.end(WS_ERRORS[error.code].close, error.message);
  }

  terminate(): void {
    this.conn.terminate();
  }

  // --- What sessions write with -----------------------------------------------------------

  /** The socket closed (or is closing): nothing more is sent. */
  get isClosed(): boolean {
    return this.isOver;
  }

  /** Resolves once the socket holds at most `maxBufferedBytes` unsent (or is closed): records wait for it. */
  drained(): Promise<void> {
    return this.conn.whenDrained(this.limits.maxBufferedBytes);
  }

  /** Queues a frame as is (records, after `drained`); `text` sends bytes as a text frame (UTF-8 encoded once for many sockets). */
  send(frame: string | Uint8Array, text?: boolean): void {
    this.conn.send(frame, text);
  }

  /** Replies are small and few per request; a client that lets them pile up is not reading at all. */
  reply(frame: string | Uint8Array): void {
    if (this.isOver) return;
    const buffered = this.conn.send(frame);
    if (buffered > this.limits.closeBufferedBytes) {
      this.log.warn({ buffered }, 'client is not reading its replies; closing');
      this.end(CLOSE.NOT_READING, 'not reading: too many unsent replies');
    }
  }

  private end(code: number, reason: string): void {
    if (this.isOver || this.closeTimer !== undefined) return;
    this.conn.close(code, closeReason(reason));
    // A peer that does not read will not answer the close handshake either.
    this.closeTimer = setTimeout(() => this.conn.terminate(), this.limits.closeTimeoutMs);
    this.closeTimer.unref();
  }
}

/**
 * One timer for all connections (not one per connection, which would cost memory per idle
 * socket): every `intervalMs` each connection is pinged, and one that stayed silent since the
 * previous tick is terminated.
 */
export class Heartbeat {
  private readonly connections = new Set<{ heartbeat(): boolean }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly intervalMs: number) {}

  add(connection: { heartbeat(): boolean }): void {
    this.connections.add(connection);
    if (this.timer === undefined) {
      this.timer = setInterval(() => this.tick(), this.intervalMs);
      this.timer.unref();
    }
  }

  delete(connection: { heartbeat(): boolean }): void {
    this.connections.delete(connection);
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  private tick(): void {
    for (const connection of this.connections) if (!connection.heartbeat()) this.connections.delete(connection);
  }
}
