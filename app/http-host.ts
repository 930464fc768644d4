/**
 * The process's one HTTP/HTTPS listener, shared by REST/SSE, WebSocket and MQTT over WebSocket:
 * request routing in registration order, upgrades by exact path, the WebSocket transport, and
 * connection admission — every accepted socket counts against the core's connection limits as
 * protocol `http` from accept to close; SSE streams and upgrades move that count to their
 * protocol (claimConnection, UpgradeCount). Its own answers (404, malformed requests, refused
 * connections) are the core's errors in HTTP terms from codecs/http-status.ts, like REST's.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { httpErrorOf, rawHttpError, rawHttpResponse } from '../codecs/http-status.js';
import { GatewayError } from '../gateway/errors.js';
import type { Logger } from '../gateway/log.js';
import { WebSocketTransport, type UpgradeCount, type WebSocketEndpoint } from '../transport/websocket.js';
import type { HttpHandler, HttpHost, TlsMaterial, UpgradeHandler } from './host.js';

/** Time a client has to send its request headers. */
const HEADERS_TIMEOUT_MS = 10_000;
/** Time a client has to send its whole request (headers and body). */
const REQUEST_TIMEOUT_MS = 30_000;

/** A claim for a socket that has closed already. */
function clientGone(): GatewayError {
  return new GatewayError('CANCELLED', 'The client closed the connection.');
}

/** `Retry-After` (seconds) on a socket refused over the connection limits: a slot frees whenever any connection closes. */
const CONNECTION_RETRY_AFTER_S = 1;
/** How long a refused socket may stay half-closed, our answer sent, before it is cut. */
const REFUSAL_LINGER_MS = 2_000;

/** The core's connection admission (Gateway.connectionOpened). */
export type CountConnection = (protocol: string, remoteAddress: string | undefined) => () => void;

/** The connection count one accepted socket holds: `http` until a stream or an upgrade claims it. */
interface SocketCount {
  /** Releases whatever the socket counts as now; idempotent (the core's releases are). */
  release: () => void;
  /** Upgraded sockets never serve HTTP requests again, so a claim's end does not give them back to `http`. */
  upgraded: boolean;
}

/** The shared listener (see the file comment). */
export class SharedHttp implements HttpHost {
  private readonly handlers: HttpHandler[] = [];
  private readonly upgrades = new Map<string, UpgradeHandler>();
  private readonly server: Server;
  private readonly sockets = new Set<Duplex>();
  private readonly counts = new Map<Duplex, SocketCount>();
  private readonly websockets: WebSocketTransport;

  constructor(
    private readonly log: Logger,
    tls: TlsMaterial | undefined,
    private readonly count: CountConnection,
    websocket: { engine: 'ws' | 'uws' | 'auto'; uwsPort: number; host: string; log: Logger },
  ) {
    this.websockets = new WebSocketTransport({ ...websocket, tls: tls !== undefined, onUpgrade: (path, handler) => this.onUpgrade(path, handler) });
    const handler = (req: IncomingMessage, res: ServerResponse) => this.dispatch(req, res);
    this.server = tls === undefined ? createServer(handler) : createTlsServer({ ...tls }, handler);
    // Admission happens before Node's HTTP machinery sees the socket: its own listener (on
    // 'connection' for plain HTTP, on 'secureConnection' after the TLS handshake for HTTPS) runs
    // only for admitted sockets, so a refused one never has a request parsed or dispatched.
    // Under TLS a refused client gets its answer after the handshake, like any HTTPS response
    // (handshakes themselves are bounded by Node's tls handshakeTimeout, not by this count).
    const acceptEvent = tls === undefined ? 'connection' : 'secureConnection';
    const nodeListeners = this.server.listeners(acceptEvent) as ((socket: Socket) => void)[];
    this.server.removeAllListeners(acceptEvent);
    this.server.on(acceptEvent, (socket: Socket) => {
      if (!this.admit(socket)) return;
      for (const listener of nodeListeners) listener.call(this.server, socket);
    });
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.dispatchUpgrade(req, socket, head));
    // Slow or stuck clients (slowloris) are cut off in seconds, not Node's default minutes.
    // requestTimeout bounds receiving the request only: long-polls and SSE responses are unaffected.
    this.server.headersTimeout = HEADERS_TIMEOUT_MS;
    this.server.requestTimeout = REQUEST_TIMEOUT_MS;
    this.server.maxHeadersCount = 100;
    this.server.maxRequestsPerSocket = 1_000;
    this.server.on('connection', (socket: Duplex) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex & { _httpMessage?: { headersSent?: boolean } }) => {
      // Not `{err}`: Node's parser errors carry the raw request (rawPacket), credentials included.
      this.log.debug({ code: err.code, reason: err.message }, 'http client error');
      // Bytes after a finished response (e.g. a body the route did not read after `Connection:
      // close`) must not get a second, raw response on the same connection.
      if (err.code === 'HPE_CLOSED_CONNECTION' || socket._httpMessage?.headersSent === true || !socket.writable) {
        socket.destroy();
        return;
      }
      socket.end(rawHttpResponse(err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : err.code === 'HPE_HEADER_OVERFLOW' ? 431 : 400));
    });
  }

  onRequest(handler: HttpHandler): void {
    this.handlers.push(handler);
  }

  onUpgrade(path: string, handler: UpgradeHandler): void {
    if (this.upgrades.has(path)) throw new Error(`Upgrade path ${path} is already taken`);
    this.upgrades.set(path, handler);
  }

  onWebSocket(path: string, endpoint: WebSocketEndpoint): void {
    this.websockets.add(path, endpoint);
  }

  claimConnection(req: IncomingMessage, protocol: string): () => void {
    const socket = req.socket;
    const counted = this.counts.get(socket);
    // The socket closed under the request: nothing would ever release a count taken now.
    if (counted === undefined) throw clientGone();
    const release = this.convert(counted, socket.remoteAddress, protocol);
    return () => {
      if (counted.release !== release) return;
      release();
      // Back to plain requests on a kept-alive socket: it counts as `http` again. This cannot be
      // refused: the slot was freed just now, in the same synchronous step.
      counted.release = counted.upgraded || socket.destroyed ? () => undefined : this.count('http', socket.remoteAddress);
    };
  }

  /** Opens the uWS listener for the registered WebSocket endpoints when that engine is chosen; its port. */
  startWebSockets(): Promise<number | undefined> {
    return this.websockets.start();
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        const address = this.server.address();
        resolve(typeof address === 'object' && address !== null ? address.port : port);
      });
    });
  }

  /** Stops accepting new connections; open ones are the adapters' to end. */
  async stopAccepting(): Promise<void> {
    this.websockets.stopAccepting();
    this.server.close();
    this.server.closeIdleConnections();
  }

  async close(): Promise<void> {
    this.server.close();
    this.server.closeAllConnections();
    for (const socket of this.sockets) socket.destroy();
    await this.websockets.close();
  }

  private dispatch(req: IncomingMessage, res: ServerResponse): void {
    for (const handler of this.handlers) {
      if (handler(req, res)) return;
    }
    // Confluent's message for a path no resource serves (Jersey's NotFoundException).
    const { status, body } = httpErrorOf(new GatewayError('NOT_FOUND', 'HTTP 404 Not Found'));
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
  }

  private dispatchUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = (req.url ?? '/').split('?')[0]!;
    const handler = this.upgrades.get(path);
    if (handler === undefined) {
      socket.end(rawHttpResponse(404));
      return;
    }
    const counted = this.counts.get(socket);
    const remoteAddress = req.socket.remoteAddress;
    if (counted !== undefined) counted.upgraded = true;
    let claimed = false;
    const upgradeCount: UpgradeCount = {
      claim: (protocol) => {
        // The socket closed during the handshake (e.g. while authenticating): it is not admitted,
        // as nothing would ever release a count taken now.
        if (counted === undefined || !this.counts.has(socket)) throw clientGone();
        const release = this.convert(counted, remoteAddress, protocol);
        claimed = true;
        return release;
      },
      release: () => {
        // After a claim the count is the endpoint's protocol's, released by the endpoint.
        if (counted === undefined || claimed) return;
        counted.release();
        counted.release = () => undefined;
      },
    };
    handler(req, socket, head, upgradeCount);
  }

  /**
   * Counts an accepted socket as `http`, or answers it over the limit in HTTP's own terms without
   * reading a request, with the same status and body REST and the WebSocket handshake give the
   * same core refusal: 429/42901 for the per-address limit, 503/50303 when the instance is full
   * (SERVER_BUSY); `Connection: close` (RFC 9112 §9.6) because the socket is closed right after.
   */
  private admit(socket: Socket): boolean {
    let release: () => void;
    try {
      release = this.count('http', socket.remoteAddress);
    } catch (err) {
      const { status, body, gatewayError } = httpErrorOf(err);
      const refused = gatewayError.code === 'RESOURCE_EXHAUSTED' || gatewayError.code === 'SERVER_BUSY';
      if (!refused) this.log.error({ err }, 'connection admission failed');
      // Nobody else listens on this socket: its errors (a reset while we answer) end here.
      socket.on('error', (e: Error) => this.log.debug({ err: e }, 'refused socket error'));
      const linger = setTimeout(() => socket.destroy(), REFUSAL_LINGER_MS).unref();
      socket.once('close', () => clearTimeout(linger));
      socket.end(rawHttpError(status, refused ? body : { error_code: 50303, message: 'The gateway cannot take connections now.' }, { 'Retry-After': CONNECTION_RETRY_AFTER_S }));
      // Whatever the client already sent is discarded, not parsed: closing with unread bytes would
      // reset the connection and could lose the answer on the client's side.
      socket.resume();
      return false;
    }
    const counted: SocketCount = { release, upgraded: false };
    this.counts.set(socket, counted);
    socket.once('close', () => {
      this.counts.delete(socket);
      counted.release();
    });
    return true;
  }

  /**
   * Moves a socket's count to `protocol`. The `http` slot is freed first so the socket is not
   * counted twice against its own limit; if `protocol` does not fit, the `http` count is taken
   * back (it cannot be refused: the slot was freed in the same synchronous step) and the core's
   * error is thrown.
   */
  private convert(counted: SocketCount, remoteAddress: string | undefined, protocol: string): () => void {
    counted.release();
    try {
      counted.release = this.count(protocol, remoteAddress);
    } catch (err) {
      counted.release = this.count('http', remoteAddress);
      throw err;
    }
    return counted.release;
  }
}
