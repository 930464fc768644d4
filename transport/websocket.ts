/**
 * The process's WebSocket transport, shared by every protocol that runs over WebSocket (`/v1/ws`
 * of the WebSocket adapter, `/mqtt` of the MQTT adapter). It owns the WebSocket libraries so that
 * no adapter imports one and no adapter imports another: an adapter registers an endpoint (path,
 * subprotocols, frame limit, handshake) and receives connections through a narrow surface (send
 * with a backpressure signal, close, ping, three events) — or, for byte-stream protocols, a Duplex
 * built on that surface. The core (hub, groups, backends) never sees this module.
 *
 * Engines: `ws` always serves every endpoint on the shared HTTP port (the listener hands us
 * upgrades). With `websocket.engine: uws` (or `auto` when a build loads and TLS is off)
 * uWebSockets.js serves the same endpoints, with the same handshakes, on its own port
 * (websocket-uws.ts): uWS cannot adopt sockets from node:http.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { certificateSubject } from '../codecs/credentials.js';
import { rawHttpError, type ErrorBody } from '../codecs/http-status.js';
import { redactSubprotocols, redactUrl } from '../gateway/log.js';
import { listenUws, loadUws, type UwsListener } from './websocket-uws.js';
import { DrainWaiters, selectSubprotocol, unsupportedSubprotocol } from './websocket-shared.js';

/** One open WebSocket as a protocol session sees it, whatever the engine. */
export interface EngineConnection {
  /** The subprotocol agreed in the handshake (`Sec-WebSocket-Protocol`, RFC 6455 §1.9). */
  readonly subprotocol: string;
  /** Bytes queued but not yet handed to the kernel. */
  bufferedAmount(): number;
  /**
   * Queues a frame (text for a string, binary for bytes — or text for bytes with `text`: UTF-8
   * already encoded once for many connections); returns bufferedAmount() afterwards.
   */
  send(data: string | Uint8Array, text?: boolean): number;
  /** Resolves once bufferedAmount() ≤ threshold, or the connection is closed. */
  whenDrained(threshold: number): Promise<void>;
  ping(): void;
  /**
   * Stops reading from the socket (inbound backpressure: TCP flow control reaches the peer).
   * False when the engine cannot (the uWS npm build has no pause): the caller must bound what it
   * buffers itself.
   */
  pause(): boolean;
  /** Reads again after pause(). */
  resume(): void;
  /** Starts the closing handshake. `reason` must fit a close frame (≤ 123 bytes, RFC 6455 §5.5). */
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

/** An upgrade request as an endpoint's handshake sees it, whatever the engine. */
export interface HandshakeRequest {
  readonly headers: IncomingHttpHeaders;
  /** Path and query, e.g. `/v1/ws?access_token=…`. */
  readonly url: string;
  readonly remoteAddress: string | undefined;
  readonly certificateSubject: string | undefined;
  /** The subprotocol the transport selected from the client's offer and the endpoint's list. */
  readonly subprotocol: string;
  /**
   * Set when the upgrade arrived on a socket the HTTP listener already counts (as `http`, see
   * UpgradeCount): the endpoint counts its connection with this instead of the core's
   * connectionOpened, so the socket counts once. Absent on the uWS port, whose sockets nobody
   * counted before the handshake.
   */
  readonly claimConnection?: (protocol: string) => () => void;
}

/** How a handshake answers: refuse with an HTTP error (codecs/http-status.ts), or complete the upgrade. */
export interface HandshakeResponder {
  refuse(status: number, body: ErrorBody): void;
  /** `notOpened` runs if the client went away before the connection opened (release what admission took). */
  accept(open: (connection: EngineConnection) => ConnectionEvents, notOpened: () => void): void;
}

/** One WebSocket endpoint (a path on the shared HTTP port and, under uWS, on the uWS port). */
export interface WebSocketEndpoint {
  /** Subprotocols the endpoint speaks; the first one the client offers is chosen (the client's preference, RFC 6455 §4.2.2). */
  readonly subprotocols: readonly string[];
  /** Chosen when the client offers none; without it such a client is refused with 400. */
  readonly defaultSubprotocol?: string;
  /** Frames over this close the connection with 1009 (RFC 6455 §7.4.1); the engine does it. */
  readonly maxPayloadBytes: number;
  /** permessage-deflate (RFC 7692); `ws` engine only (uWS: its shared compressor). */
  readonly perMessageDeflate: boolean;
  /** Decides each upgrade (authentication, limits) before it completes, so refusals are HTTP statuses. */
  handshake(request: HandshakeRequest, respond: HandshakeResponder): void;
}

/** `websocket.engine`: which library speaks WebSocket (see adapters/websocket/config.ts). */
export type EngineChoice = 'ws' | 'uws' | 'auto';

/**
 * The shared HTTP listener's connection count of an upgrading socket (protocol `http`, taken when
 * it accepted the socket). The upgrade ends the socket's HTTP life, so the count must either move
 * to the protocol it becomes or be given up; whatever it holds is released when the socket closes.
 */
export interface UpgradeCount {
  /**
   * Moves the count to `protocol` (limits checked without this socket's own `http` count); throws
   * the core's RESOURCE_EXHAUSTED (the count unchanged), or CANCELLED if the socket closed already.
   */
  claim(protocol: string): () => void;
  /** Gives the `http` count up, for an endpoint that counts its connections later itself (MQTT at CONNECT). */
  release(): void;
}

/** Registers an upgrade handler for one path on the shared HTTP listener; `count` is absent when that listener counts no sockets. */
export type UpgradeRegistrar = (path: string, handler: (req: IncomingMessage, socket: Duplex, head: Buffer, count?: UpgradeCount) => void) => void;

/**
 * Every WebSocket endpoint of the process on the engine chosen once from config. `add` before
 * `start`; `start` opens the uWS listener when that engine is chosen.
 */
export class WebSocketTransport {
  private readonly endpoints = new Map<string, WebSocketEndpoint>();
  private readonly servers: WebSocketServer[] = [];
  /** Open `ws` connections, so close() can cut what the protocols left open, as under uWS. */
  private readonly open = new Set<WsConnection>();
  private uws: UwsListener | undefined;

  constructor(
    private readonly options: {
      readonly engine: EngineChoice;
      /** Port of the uWS listener; 0 picks a free one. */
      readonly uwsPort: number;
      readonly host: string;
      /** The shared listener speaks TLS: uWS (no TLS in the builds here) must not serve plaintext beside it. */
      readonly tls: boolean;
      readonly log: Logger;
      readonly onUpgrade: UpgradeRegistrar;
    },
  ) {}

  /** Serves `endpoint` at `path` on the shared HTTP port, and on the uWS port when that engine runs. */
  add(path: string, endpoint: WebSocketEndpoint): void {
    if (this.endpoints.has(path)) throw new Error(`WebSocket path ${path} is already taken`);
    if (endpoint.defaultSubprotocol !== undefined && !endpoint.subprotocols.includes(endpoint.defaultSubprotocol)) {
      throw new Error(`WebSocket path ${path}: the default subprotocol must be one of its subprotocols`);
    }
    this.endpoints.set(path, endpoint);
    const server = new WebSocketServer({
      noServer: true,
      clientTracking: false,
      maxPayload: endpoint.maxPayloadBytes,
      perMessageDeflate: endpoint.perMessageDeflate,
      // Only called when the client sent the header: echo the same choice selectSubprotocol made (RFC 6455 §4.2.2).
      handleProtocols: (offered) => selectSubprotocol([...offered].join(','), endpoint) ?? false,
    });
    this.servers.push(server);
    this.options.onUpgrade(path, (req, socket, head, count) => this.upgradeWs(endpoint, server, req, socket, head, count));
  }

  /** Opens the uWS listener if the engine is uws (or auto and a build loads); returns its port. */
  async start(): Promise<number | undefined> {
    const { engine, tls, log } = this.options;
    if (engine === 'ws' || this.endpoints.size === 0) return undefined;
    if (tls) {
      // The uWS builds on npm carry no TLS; a plain listener next to a TLS one would leak credentials.
      // loadServerConfig refuses `uws` with TLS, so only `auto` gets here.
      if (engine === 'uws') throw new Error('websocket.engine uws cannot serve TLS (tls.certFile is set); use ws or auto');
      log.info('websocket.engine auto: TLS is on and the uWS build has none; using ws only');
      return undefined;
    }
    const module = loadUws();
    if (module === undefined) {
      if (engine === 'uws') throw new Error('websocket.engine is uws but neither uWebSockets.js nor @trufflesuite/uws-js-unofficial can be loaded');
      log.info('websocket.engine auto: no uWebSockets.js build installed; using ws only');
      return undefined;
    }
    this.uws = await listenUws(module, { host: this.options.host, port: this.options.uwsPort }, this.endpoints, log);
    log.info({ ports: { websocket: this.uws.port }, module: this.uws.module, paths: [...this.endpoints.keys()] }, 'uWebSockets.js listening');
    return this.uws.port;
  }

  /** Stops accepting on the uWS port; open connections are the adapters' to close. */
  stopAccepting(): void {
    this.uws?.stopAccepting();
  }

  /** Cuts whatever the adapters left open and releases the engines. */
  async close(): Promise<void> {
    this.uws?.stopAccepting();
    this.uws?.terminateAll();
    for (const c of [...this.open]) c.terminate();
    await Promise.all(this.servers.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
  }

  private upgradeWs(endpoint: WebSocketEndpoint, server: WebSocketServer, req: IncomingMessage, socket: Duplex, head: Buffer, count: UpgradeCount | undefined): void {
    const { log } = this.options;
    // Node's HTTP server detaches its socket error handler on upgrade; until ws attaches its own,
    // a reset during authentication or a refusal would otherwise be an uncaught 'error'.
    const onSocketError = (err: Error): void => log.debug({ err }, 'socket error before the handshake completed');
    socket.on('error', onSocketError);
    const offered = req.headers['sec-websocket-protocol'];
    const subprotocol = selectSubprotocol(offered, endpoint);
    if (subprotocol === undefined) {
      // The request target may carry ?access_token= and an offered "subprotocol" may be a token.
      log.info({ offered: redactSubprotocols(offered), path: redactUrl(req.url) }, 'refused: unsupported subprotocol');
      return refuse(socket, 400, { error_code: 400, message: unsupportedSubprotocol(endpoint) });
    }
    // The callbacks below may outlive the handshake (an endpoint can hold them): they reach the
    // request and the read buffer only through `pending`, dropped once the upgrade is accepted.
    let pending: { req: IncomingMessage; head: Buffer } | undefined = { req, head };
    endpoint.handshake(
      {
        headers: req.headers,
        url: req.url ?? '',
        remoteAddress: req.socket.remoteAddress,
        certificateSubject: certificateSubject(req.socket),
        subprotocol,
        ...(count === undefined ? {} : { claimConnection: (protocol: string) => count.claim(protocol) }),
      },
      {
        // A refused socket keeps its `http` count until it closes: it is still a socket of this host.
        refuse: (status, body) => refuse(socket, status, body),
        accept: (open, notOpened) => {
          // An endpoint that claimed the count holds it now (release is then a no-op); one that
          // counts later (MQTT at CONNECT) must not find this socket counted twice.
          count?.release();
          // ws takes over the socket, error handling included.
          socket.off('error', onSocketError);
          const upgrade = pending;
          pending = undefined;
          if (upgrade !== undefined) acceptWs(server, upgrade.req, socket, upgrade.head, subprotocol, open, notOpened, this.open);
        },
      },
    );
  }
}

/**
 * Completes an accepted upgrade. A module-level function on purpose: the closures that live as
 * long as the connection (the socket's close listener, ws's events) must not share a V8 context
 * with the upgrade request — capturing `req` or `head` there kept each connection's
 * IncomingMessage and the read buffer `head` slices (≈ 4 KiB) alive until it closed.
 */
function acceptWs(
  server: WebSocketServer,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  subprotocol: string,
  open: (connection: EngineConnection) => ConnectionEvents,
  notOpened: () => void,
  tracked: Set<WsConnection>,
): void {
  const handshake = notOpenedOnClose(socket, notOpened);
  // If ws's handshake fails it drops the socket without opening a connection (notOpened then runs).
  server.handleUpgrade(req, socket, head, (ws) => {
    handshake.opened = true;
    attachWs(ws, subprotocol, open, tracked);
  });
}

/** Calls `notOpened` when the socket closes before the upgrade opened. Its own scope: the listener lives as long as the socket. */
function notOpenedOnClose(socket: Duplex, notOpened: () => void): { opened: boolean } {
  const handshake = { opened: false };
  socket.once('close', () => {
    if (!handshake.opened) notOpened();
  });
  return handshake;
}

function attachWs(ws: WebSocket, subprotocol: string, open: (connection: EngineConnection) => ConnectionEvents, tracked: Set<WsConnection>): void {
  const connection = new WsConnection(ws, subprotocol);
  tracked.add(connection);
  const events = open(connection);
  ws.on('message', (data: Buffer, binary: boolean) => events.message(data, binary));
  ws.on('pong', () => events.pong());
  // Socket errors (resets, invalid frames) are followed by 'close', which carries the code;
  // ws closes with 1002/1007/1009 itself for protocol violations.
  ws.on('error', (err) => {
    connection.lastError = err;
  });
  ws.once('close', (code: number, reason: Buffer) => {
    tracked.delete(connection);
    connection.closed();
    events.close(code, reason.toString('utf8'), connection.lastError);
  });
}

/** An HTTP error answer on a socket that has not been upgraded. */
function refuse(socket: Duplex, status: number, body: ErrorBody): void {
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(rawHttpError(status, body));
}


class WsConnection implements EngineConnection {
  lastError: Error | undefined;
  private readonly drain = new DrainWaiters();
  private isClosed = false;
  /** One callback for every send: a write completing is when buffered bytes shrink. */
  private readonly onWritten = (err?: Error): void => {
    if (err !== undefined && err !== null) this.lastError = err;
    this.drain.wake(this.isClosed ? 0 : this.ws.bufferedAmount);
  };

  constructor(
    private readonly ws: WebSocket,
    readonly subprotocol: string,
  ) {}

  bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  send(data: string | Uint8Array, text = typeof data === 'string'): number {
    if (this.isClosed || this.ws.readyState !== this.ws.OPEN) return 0;
    this.ws.send(data, { binary: !text }, this.onWritten);
    return this.ws.bufferedAmount;
  }

  whenDrained(threshold: number): Promise<void> {
    return this.drain.wait(this.isClosed ? 0 : this.ws.bufferedAmount, threshold);
  }

  ping(): void {
    if (this.ws.readyState === this.ws.OPEN) this.ws.ping();
  }

  pause(): boolean {
    if (!this.isClosed) this.ws.pause();
    return true;
  }

  resume(): void {
    if (!this.isClosed) this.ws.resume();
  }

  close(code: number, reason: string): void {
    this.ws.close(code, reason);
  }

  terminate(): void {
    this.ws.terminate();
  }

  closed(): void {
    this.isClosed = true;
    this.drain.wake(0);
  }
}

/**
 * A byte stream over one WebSocket, for protocols whose packets are not tied to frames (MQTT over
 * WebSocket, MQTT 5 §6: packets may span or share binary frames). Reads: each binary frame's bytes;
 * backpressure pauses the socket. Writes: each write (or corked batch) becomes one binary frame,
 * and completes once the socket's buffered amount is back under the high-water mark, so
 * `write()` returning false and 'drain' mean what they mean on a TCP socket. `end()` is a 1000
 * close; `destroy()` cuts the socket. A text frame closes the connection with 1003 (RFC 6455
 * §7.4.1: a data type the endpoint cannot accept).
 */
export class WebSocketDuplex extends Duplex {
  private wsClosed = false;
  private readonly maxUnreadBytes: number;

  /**
   * @param options.maxUnreadBytes bound on received bytes the reader has not taken yet, for engines
   *   that cannot pause reading (uWS): over it the connection is closed with 1008 rather than
   *   buffering without bound (RFC 6455 §7.4.1 policy violation).
   */
  constructor(
    private readonly connection: EngineConnection,
    options: { readonly highWaterMark?: number; readonly maxUnreadBytes: number },
  ) {
    super({ highWaterMark: options.highWaterMark ?? 64 * 1024, allowHalfOpen: false });
    this.maxUnreadBytes = options.maxUnreadBytes;
  }

  /** The events to return from the endpoint's `open` callback. */
  readonly events: ConnectionEvents = {
    message: (data, binary) => {
      if (!binary) {
        this.connection.close(1003, 'binary frames only');
        return;
      }
      if (this.push(data) || this.connection.pause()) return;
      if (this.readableLength > this.maxUnreadBytes) this.connection.close(1008, 'sending faster than the gateway reads');
    },
    pong: () => {},
    close: (code, reason, error) => {
      this.wsClosed = true;
      // A close without a close frame (1006) is an abrupt end, like a TCP reset.
      if (code === 1006) this.destroy(error ?? new Error(`WebSocket closed abnormally (1006)${reason === '' ? '' : `: ${reason}`}`));
      else this.push(null);
    },
  };

  override _read(): void {
    if (!this.wsClosed) this.connection.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.sendFrame(chunk, callback);
  }

  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    // Several packets written in one tick travel in one frame (allowed by MQTT 5 §6.0.0).
    this.sendFrame(chunks.length === 1 ? chunks[0]!.chunk : Buffer.concat(chunks.map((c) => c.chunk)), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    if (!this.wsClosed) this.connection.close(1000, '');
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (!this.wsClosed) this.connection.terminate();
    callback(error);
  }

  private sendFrame(bytes: Buffer, callback: (error?: Error | null) => void): void {
    if (this.wsClosed) return callback(new Error('WebSocket is closed'));
    const buffered = this.connection.send(bytes);
    if (buffered <= this.writableHighWaterMark) return callback();
    this.connection.whenDrained(this.writableHighWaterMark).then(() => callback(), callback);
  }
}
