/**
 * The WebSocket engine boundary. The session logic never touches a WebSocket library: an engine
 * completes upgrades and hands over connections with a narrow surface (send with a backpressure
 * signal, close, ping, and three events). `ws` is the default engine; a uWebSockets.js engine can
 * sit behind the same interface later.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';

/** The subprotocols the gateway speaks (`Sec-WebSocket-Protocol`, RFC 6455 §1.9). */
export const SUBPROTOCOLS = ['streamgate.v1.json', 'streamgate.v1.proto'] as const;
export type Subprotocol = (typeof SUBPROTOCOLS)[number];

/**
 * Picks the first subprotocol the client offered that the gateway speaks. No header at all means
 * JSON (tools like `wscat` send none); a header naming only unknown protocols is refused (undefined).
 */
export function selectSubprotocol(header: string | string[] | undefined): Subprotocol | undefined {
  if (header === undefined) return 'streamgate.v1.json';
  const offered = (Array.isArray(header) ? header.join(',') : header).split(',').map((p) => p.trim());
  if (offered.every((p) => p === '')) return 'streamgate.v1.json';
  return offered.find((p): p is Subprotocol => (SUBPROTOCOLS as readonly string[]).includes(p));
}

/** One open WebSocket as the session sees it. */
export interface EngineConnection {
  readonly subprotocol: Subprotocol;
  /** Bytes queued but not yet handed to the kernel. */
  bufferedAmount(): number;
  /** Queues a frame (text for a string, binary for bytes); returns bufferedAmount() afterwards. */
  send(data: string | Uint8Array): number;
  /** Resolves once bufferedAmount() ≤ threshold, or the connection is closed. */
  whenDrained(threshold: number): Promise<void>;
  ping(): void;
  /** Starts the closing handshake. `reason` must fit a close frame (errors.ts closeReason). */
  close(code: number, reason: string): void;
  /** Destroys the socket without a handshake (dead or hostile peers). */
  terminate(): void;
}

/** What a session wants to hear from its connection. */
export interface ConnectionEvents {
  message(data: Buffer, binary: boolean): void;
  pong(): void;
  /** Exactly once, whoever closed. 1006 when the socket died without a close frame; `error` is the socket's last error. */
  close(code: number, reason: string, error: Error | undefined): void;
}

export interface EngineOptions {
  /** Frames over this close the connection with 1009 (the engine does it). */
  readonly maxPayloadBytes: number;
  readonly perMessageDeflate: boolean;
}

/** Completes upgrades; everything after the handshake goes through EngineConnection. */
export interface WebSocketEngine {
  accept(
    req: IncomingMessage,
    socket: Duplex,
    head: Buffer,
    subprotocol: Subprotocol,
    open: (connection: EngineConnection) => ConnectionEvents,
  ): void;
  close(): Promise<void>;
}

/** The `ws` engine (noServer: the shared HTTP listener hands us upgrades). */
export function createWsEngine(options: EngineOptions): WebSocketEngine {
  const server = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    maxPayload: options.maxPayloadBytes,
    perMessageDeflate: options.perMessageDeflate,
    // The subprotocol was already chosen by selectSubprotocol; echo the same choice (RFC 6455 §4.2.2).
    handleProtocols: (offered) => {
      for (const p of offered) if ((SUBPROTOCOLS as readonly string[]).includes(p)) return p;
      return false;
    },
  });
  return {
    accept(req, socket, head, subprotocol, open) {
      server.handleUpgrade(req, socket, head, (ws) => {
        const connection = new WsConnection(ws, subprotocol);
        const events = open(connection);
        ws.on('message', (data: Buffer, binary: boolean) => events.message(data, binary));
        ws.on('pong', () => events.pong());
        // Socket errors (resets, invalid frames) are followed by 'close', which carries the code;
        // ws closes with 1002/1007/1009 itself for protocol violations.
        ws.on('error', (err) => {
          connection.lastError = err;
        });
        ws.once('close', (code: number, reason: Buffer) => {
          connection.closed();
          events.close(code, reason.toString('utf8'), connection.lastError);
        });
      });
    },
    close() {
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

class WsConnection implements EngineConnection {
  lastError: Error | undefined;
  private waiters: { threshold: number; resolve: () => void }[] = [];
  private isClosed = false;
  /** One callback for every send: a write completing is when buffered bytes shrink. */
  private readonly onWritten = (err?: Error): void => {
    if (err !== undefined && err !== null) this.lastError = err;
    this.wake();
  };

  constructor(
    private readonly ws: WebSocket,
    readonly subprotocol: Subprotocol,
  ) {}

  bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  send(data: string | Uint8Array): number {
    if (this.isClosed || this.ws.readyState !== this.ws.OPEN) return 0;
    this.ws.send(data, { binary: typeof data !== 'string' }, this.onWritten);
    return this.ws.bufferedAmount;
  }

  whenDrained(threshold: number): Promise<void> {
    if (this.isClosed || this.ws.bufferedAmount <= threshold) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ threshold, resolve }));
  }

  ping(): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.ping();
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }

  terminate(): void {
    this.ws.terminate();
  }

  closed(): void {
    this.isClosed = true;
    this.wake();
  }

  private wake(): void {
    if (this.waiters.length === 0) return;
    const buffered = this.isClosed ? 0 : this.ws.bufferedAmount;
    const still: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (buffered <= w.threshold) w.resolve();
      else still.push(w);
    }
    this.waiters = still;
  }
}
