/**
 * The uWebSockets.js engine of the WebSocket transport. uWS runs its sockets in C++ with its own
 * event-loop integration, so it cannot take over sockets from node:http: it listens on its own port
 * (`websocket.uwsPort`) and serves every registered endpoint there (`/v1/ws`, `/mqtt`), running
 * the transport's subprotocol choice and the endpoint's handshake (authentication, connection
 * limits) before it completes the upgrade (RFC 6455 §4.2.2). Everything after the handshake goes
 * through the same EngineConnection surface as the `ws` engine.
 *
 * Module: the official `uWebSockets.js` (GitHub-only) when installed, else the npm build
 * `@trufflesuite/uws-js-unofficial` (optional dependency; no TLS, no compression here).
 */
import { createRequire } from 'node:module';
import { STATUS_CODES, type IncomingHttpHeaders } from 'node:http';
import type { Logger } from 'pino';
import type { ErrorBody } from '../codecs/http-status.js';
import { redactSubprotocols } from '../gateway/log.js';
import type { ConnectionEvents, EngineConnection, HandshakeRequest, WebSocketEndpoint } from './websocket.js';
import { DrainWaiters, selectSubprotocol, unsupportedSubprotocol } from './websocket-shared.js';

/** The parts of the uWS API this engine uses (typed here: the module is optional). */
interface UwsSocket {
  send(message: string | Uint8Array, isBinary?: boolean): number;
  getBufferedAmount(): number;
  end(code?: number, shortMessage?: string): void;
  close(): void;
  ping(message?: string): number;
  /** Newer uWS builds only: stop/start reading from the socket. */
  pause?(): void;
  resume?(): void;
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
/** The loaded uWS module (official or npm build). */
export interface UwsModule {
  App(): UwsApp;
  us_listen_socket_close(token: unknown): void;
  us_socket_local_port(token: unknown): number;
  DISABLED: number;
  SHARED_COMPRESSOR: number;
}

interface UserData {
  subprotocol: string;
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

/** A running uWS listener. */
export interface UwsListener {
  readonly port: number;
  /** Which module serves it (`uWebSockets.js` or the npm build). */
  readonly module: string;
  /** Closes the listen socket (idempotent); open connections stay. */
  stopAccepting(): void;
  /** Cuts every connection still open (after the adapters had their graceful close). */
  terminateAll(): void;
}

/** Starts one uWS listener serving every endpoint at its path. */
export async function listenUws(
  uws: { module: UwsModule; name: string },
  options: { host: string; port: number },
  endpoints: ReadonlyMap<string, WebSocketEndpoint>,
  log: Logger,
): Promise<UwsListener> {
  const { module: m } = uws;
  const app = m.App();
  const open = new Set<UwsConnection>();
  for (const [path, endpoint] of endpoints) {
    app.ws(path, {
      // uWS drops a connection over its limit without a close frame; so its limit is twice ours and
      // a frame between the two gets the 1009 close the ws engine sends (RFC 6455 §7.4.1). Frames
      // beyond twice the limit are still cut off (1006) before they are buffered.
      maxPayloadLength: endpoint.maxPayloadBytes * 2,
      // Heartbeats are the protocols' (websocket.pingIntervalMs, MQTT keepalive).
      idleTimeout: 0,
      sendPingsAutomatically: false,
      compression: endpoint.perMessageDeflate ? m.SHARED_COMPRESSOR : m.DISABLED,
      // Sessions bound their own buffers (bufferedAmount / whenDrained); uWS must never drop a frame.
      maxBackpressure: 1024 * 1024 * 1024,
      closeOnBackpressureLimit: 0,
      upgrade: (res: UwsResponse, req: UwsRequest, context: unknown) => {
        // The request object is only valid synchronously: copy what the handshake needs now.
        const headers: IncomingHttpHeaders = {};
        req.forEach((k, v) => (headers[k] = v));
        const query = req.getQuery();
        const url = req.getUrl() + (query ? `?${query}` : '');
        let aborted = false;
        let onAbort: (() => void) | undefined;
        res.onAborted(() => {
          aborted = true;
          onAbort?.();
        });
        const refuse = (status: number, body: ErrorBody): void => {
          if (aborted) return;
          res.cork(() => {
            res
              .writeStatus(`${status} ${STATUS_CODES[status] ?? 'Error'}`)
              .writeHeader('Content-Type', 'application/json')
              .writeHeader('Connection', 'close')
              .end(JSON.stringify(body));
          });
        };
        const subprotocol = selectSubprotocol(headers['sec-websocket-protocol'], endpoint);
        if (subprotocol === undefined) {
          log.info({ offered: redactSubprotocols(headers['sec-websocket-protocol']), path }, 'refused: unsupported subprotocol');
          return refuse(400, { error_code: 400, message: unsupportedSubprotocol(endpoint) });
        }
        const request: HandshakeRequest = {
          headers,
          url,
          remoteAddress: Buffer.from(res.getRemoteAddressAsText()).toString(),
          certificateSubject: undefined,
          subprotocol,
        };
        endpoint.handshake(request, {
          refuse,
          accept(openConnection, notOpened) {
            if (aborted) return notOpened();
            onAbort = notOpened;
            res.cork(() => {
              // Echo the chosen subprotocol only if the client offered one (RFC 6455 §4.2.2 /Subprotocol/).
              const echoed = headers['sec-websocket-protocol'] === undefined ? '' : subprotocol;
              res.upgrade(
                { subprotocol, open: openConnection },
                headers['sec-websocket-key'] as string,
                echoed,
                (headers['sec-websocket-extensions'] as string | undefined) ?? '',
                context,
              );
            });
          },
        });
      },
      open: (ws: UwsSocket) => {
        const data = ws.getUserData();
        const connection = new UwsConnection(ws, data.subprotocol);
        open.add(connection);
        data.connection = connection;
        data.events = data.open(connection);
      },
      message: (ws: UwsSocket, message: ArrayBuffer, isBinary: boolean) => {
        if (message.byteLength > endpoint.maxPayloadBytes) return ws.end(1009, 'Message too big');
        // The ArrayBuffer is neutered when this handler returns: copy it.
        ws.getUserData().events?.message(Buffer.from(Buffer.from(message)), isBinary);
      },
      drain: (ws: UwsSocket) => ws.getUserData().connection?.wake(),
      pong: (ws: UwsSocket) => ws.getUserData().events?.pong(),
      close: (ws: UwsSocket, code: number, message: ArrayBuffer) => {
        const data = ws.getUserData();
        if (data.connection !== undefined) {
          open.delete(data.connection);
          data.connection.closed();
        }
        data.events?.close(code, Buffer.from(message).toString('utf8'), undefined);
      },
    });
  }
  // Any other path on this port: 404, like the shared listener does for unknown upgrade paths.
  app.any('/*', (res) => {
    res.cork(() => res.writeStatus('404 Not Found').writeHeader('Connection', 'close').end());
  });
  const token = await new Promise<unknown>((resolve, reject) => {
    app.listen(options.host, options.port, (t) => (t ? resolve(t) : reject(new Error(`uWebSockets.js could not listen on ${options.host}:${options.port}`))));
  });
  let listening = true;
  return {
    port: m.us_socket_local_port(token),
    module: uws.name,
    stopAccepting() {
      if (!listening) return;
      listening = false;
      m.us_listen_socket_close(token);
    },
    terminateAll() {
      for (const c of [...open]) c.terminate();
    },
  };
}

class UwsConnection implements EngineConnection {
  private readonly drain = new DrainWaiters();
  private isClosed = false;

  constructor(
    private readonly ws: UwsSocket,
    readonly subprotocol: string,
  ) {}

  bufferedAmount(): number {
    return this.isClosed ? 0 : this.ws.getBufferedAmount();
  }

  send(data: string | Uint8Array, text = typeof data === 'string'): number {
    if (this.isClosed) return 0;
    this.ws.send(data, !text);
    return this.ws.getBufferedAmount();
  }

  whenDrained(threshold: number): Promise<void> {
    return this.drain.wait(this.bufferedAmount(), threshold);
  }

  ping(): void {
    if (!this.isClosed) this.ws.ping();
  }

  pause(): boolean {
    if (this.ws.pause === undefined) return false;
    if (!this.isClosed) this.ws.pause();
    return true;
  }

  resume(): void {
    if (!this.isClosed) this.ws.resume?.();
  }

  close(code: number, reason: string): void {
    if (!this.isClosed) this.ws.end(code, reason);
  }

  terminate(): void {
    if (!this.isClosed) this.ws.close();
  }

  closed(): void {
    this.isClosed = true;
    this.drain.wake(0);
  }

  /** uWS `drain`: resolve the waiters whose threshold is met. */
  wake(): void {
    this.drain.wake(this.bufferedAmount());
  }
}
