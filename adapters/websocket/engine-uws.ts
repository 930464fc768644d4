/**
 * The uWebSockets.js engine. uWS runs its own event loop integration and sockets in C++, so it
 * cannot take over sockets from node:http: it listens on its own port (`websocket.uwsPort`) and
 * serves `/v1/ws` there, calling the adapter's handshake (subprotocol, authentication,
 * connection limits) before it completes the upgrade (RFC 6455 §4.2.2). Everything after the
 * handshake goes through the same EngineConnection surface as the `ws` engine.
 *
 * Module: the official `uWebSockets.js` (GitHub-only) when installed, else the npm build
 * `@trufflesuite/uws-js-unofficial` (optional dependency; no TLS, no compression here).
 */
import { createRequire } from 'node:module';
import { STATUS_CODES, type IncomingHttpHeaders } from 'node:http';
import type { ConnectionEvents, EngineConnection, EngineOptions, Subprotocol } from './engine.js';

/** The parts of the uWS API this engine uses (typed here: the module is optional). */
interface UwsSocket {
  send(message: string | Uint8Array, isBinary?: boolean): number;
  getBufferedAmount(): number;
  end(code?: number, shortMessage?: string): void;
  close(): void;
  ping(message?: string): number;
  getUserData(): UserData;
}
interface UwsResponse {
  onAborted(handler: () => void): UwsResponse;
  cork(cb: () => void): UwsResponse;
  writeStatus(status: string): UwsResponse;
  writeHeader(key: string, value: string): UwsResponse;
  end(body?: string): UwsResponse;
  upgrade(userData: UserData, key: string, protocol: string, extensions: string, context: unknown): void;
  getRemoteAddressAsText(): ArrayBuffer;
}
interface UwsRequest {
  forEach(cb: (key: string, value: string) => void): void;
  getUrl(): string;
  getQuery(): string | undefined;
}
interface UwsApp {
  ws(pattern: string, behavior: Record<string, unknown>): UwsApp;
  any(pattern: string, handler: (res: UwsResponse, req: UwsRequest) => void): UwsApp;
  listen(host: string, port: number, cb: (token: unknown) => void): UwsApp;
}
interface UwsModule {
  App(): UwsApp;
  us_listen_socket_close(token: unknown): void;
  us_socket_local_port(token: unknown): number;
  DISABLED: number;
  SHARED_COMPRESSOR: number;
}

interface UserData {
  subprotocol: Subprotocol;
  open: (connection: EngineConnection) => ConnectionEvents;
  connection?: UwsConnection;
  events?: ConnectionEvents;
}

/** Which uWS build is installed, if any: the official module first. */
export function loadUws(): { module: UwsModule; name: string } | undefined {
  const require = createRequire(import.meta.url);
  for (const name of ['uWebSockets.js', '@trufflesuite/uws-js-unofficial']) {
    try {
      return { module: require(name) as UwsModule, name };
    } catch (err) {
      // Not installed (or no binary for this platform/Node ABI): try the next one.
      if (!(err instanceof Error)) throw err;
    }
  }
  return undefined;
}

/** An upgrade request as the adapter's handshake sees it, whatever the engine. */
export interface HandshakeRequest {
  readonly headers: IncomingHttpHeaders;
  /** Path and query, e.g. `/v1/ws?access_token=…`. */
  readonly url: string;
  readonly remoteAddress: string | undefined;
  readonly certificateSubject: string | undefined;
}

/** How the handshake answers: refuse with a plain HTTP status, or complete the upgrade. */
export interface HandshakeResponder {
  refuse(status: number, message: string): void;
  /** `notOpened` runs if the client went away before the connection opened (release what admission took). */
  accept(subprotocol: Subprotocol, open: (connection: EngineConnection) => ConnectionEvents, notOpened: () => void): void;
}

export interface UwsListener {
  readonly port: number;
  readonly module: string;
  close(): Promise<void>;
}

/** Starts the uWS listener serving `path`; `handshake` decides each upgrade. */
export async function listenUws(
  uws: { module: UwsModule; name: string },
  options: EngineOptions & { host: string; port: number; path: string },
  handshake: (request: HandshakeRequest, respond: HandshakeResponder) => void,
): Promise<UwsListener> {
  const { module: m } = uws;
  const app = m.App();
  app.ws(options.path, {
    // uWS drops a connection over its limit without a close frame; so its limit is twice ours and
    // a frame between the two gets the 1009 close the ws engine sends (RFC 6455 §7.4.1). Frames
    // beyond twice the limit are still cut off (1006) before they are buffered.
    maxPayloadLength: options.maxPayloadBytes * 2,
    // Heartbeats are the adapter's (one shared timer, websocket.pingIntervalMs).
    idleTimeout: 0,
    sendPingsAutomatically: false,
    compression: options.perMessageDeflate ? m.SHARED_COMPRESSOR : m.DISABLED,
    // The session bounds its own buffer (maxBufferedBytes / closeBufferedBytes); uWS must never drop a frame.
    maxBackpressure: 1024 * 1024 * 1024,
    closeOnBackpressureLimit: 0,
    upgrade: (res: UwsResponse, req: UwsRequest, context: unknown) => {
      // The request object is only valid synchronously: copy what the handshake needs now.
      const headers: IncomingHttpHeaders = {};
      req.forEach((k, v) => (headers[k] = v));
      const query = req.getQuery();
      const request: HandshakeRequest = {
        headers,
        url: req.getUrl() + (query ? `?${query}` : ''),
        remoteAddress: Buffer.from(res.getRemoteAddressAsText()).toString(),
        certificateSubject: undefined,
      };
      let aborted = false;
      let onAbort: (() => void) | undefined;
      res.onAborted(() => {
        aborted = true;
        onAbort?.();
      });
      handshake(request, {
        refuse(status, message) {
          if (aborted) return;
          res.cork(() => {
            res
              .writeStatus(`${status} ${STATUS_CODES[status] ?? 'Error'}`)
              .writeHeader('Content-Type', 'text/plain; charset=utf-8')
              .writeHeader('Connection', 'close')
              .end(message);
          });
        },
        accept(subprotocol, open, notOpened) {
          if (aborted) return notOpened();
          onAbort = notOpened;
          res.cork(() => {
            res.upgrade({ subprotocol, open }, headers['sec-websocket-key'] as string, subprotocol, (headers['sec-websocket-extensions'] as string | undefined) ?? '', context);
          });
        },
      });
    },
    open: (ws: UwsSocket) => {
      const data = ws.getUserData();
      const connection = new UwsConnection(ws, data.subprotocol);
      data.connection = connection;
      data.events = data.open(connection);
    },
    message: (ws: UwsSocket, message: ArrayBuffer, isBinary: boolean) => {
      if (message.byteLength > options.maxPayloadBytes) return ws.end(1009, 'Message too big');
      // The ArrayBuffer is neutered when this handler returns: copy it.
      ws.getUserData().events?.message(Buffer.from(Buffer.from(message)), isBinary);
    },
    drain: (ws: UwsSocket) => ws.getUserData().connection?.wake(),
    pong: (ws: UwsSocket) => ws.getUserData().events?.pong(),
    close: (ws: UwsSocket, code: number, message: ArrayBuffer) => {
      const data = ws.getUserData();
      data.connection?.closed();
      data.events?.close(code, Buffer.from(message).toString('utf8'), undefined);
    },
  });
  // Any other path on this port: 404, like the shared listener does for unknown upgrade paths.
  app.any('/*', (res) => {
    res.cork(() => res.writeStatus('404 Not Found').writeHeader('Connection', 'close').end());
  });
  const token = await new Promise<unknown>((resolve, reject) => {
    app.listen(options.host, options.port, (t) => (t ? resolve(t) : reject(new Error(`uWebSockets.js could not listen on ${options.host}:${options.port}`))));
  });
  return {
    port: m.us_socket_local_port(token),
    module: uws.name,
    async close() {
      // Stops accepting; open connections are the sessions' to close (the adapter does it first).
      m.us_listen_socket_close(token);
    },
  };
}

class UwsConnection implements EngineConnection {
  private waiters: { threshold: number; resolve: () => void }[] = [];
  private isClosed = false;

  constructor(
    private readonly ws: UwsSocket,
    readonly subprotocol: Subprotocol,
  ) {}

  bufferedAmount(): number {
    return this.isClosed ? 0 : this.ws.getBufferedAmount();
  }

  send(data: string | Uint8Array): number {
    if (this.isClosed) return 0;
    this.ws.send(data, typeof data !== 'string');
    return this.ws.getBufferedAmount();
  }

  whenDrained(threshold: number): Promise<void> {
    if (this.isClosed || this.ws.getBufferedAmount() <= threshold) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ threshold, resolve }));
  }

  ping(): void {
    if (!this.isClosed) this.ws.ping();
  }

  close(code: number, reason: string): void {
    if (!this.isClosed) this.ws.end(code, reason);
  }

  terminate(): void {
    if (!this.isClosed) this.ws.close();
  }

  closed(): void {
    this.isClosed = true;
    this.wake();
  }

  /** uWS `drain` (or close): resolve the waiters whose threshold is met. */
  wake(): void {
    if (this.waiters.length === 0) return;
    const buffered = this.isClosed ? 0 : this.ws.getBufferedAmount();
    const still: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (buffered <= w.threshold) w.resolve();
      else still.push(w);
    }
    this.waiters = still;
  }
}
