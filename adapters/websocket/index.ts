/**
 * The WebSocket adapter: `GET /v1/ws` on the shared HTTP listener (subprotocols
 * `streamgate.v1.json` and `streamgate.v1.proto`), plus the demo page and the bundled browser
 * client. See README.md for the protocol and its mapping to the core.
 */
import { existsSync } from 'node:fs';
import { STATUS_CODES } from 'node:http';
import { dirname, join } from 'node:path';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { AdapterHost, RunningAdapter } from '../../gateway/adapter.js';
import { certificateSubject, type Credentials } from '../../gateway/auth.js';
import { createContext } from '../../gateway/context.js';
import { GatewayError, type StatusClass } from '../../gateway/errors.js';
import { jsonCodec, loadProtoCodec, type Codec } from './codec.js';
import type { WebsocketConfig } from './config.js';
import { registerDemo } from './demo.js';
import { createWsEngine, selectSubprotocol, type Subprotocol } from './engine.js';
import { listenUws, loadUws, type HandshakeRequest, type HandshakeResponder, type UwsListener } from './engine-uws.js';
import { Heartbeat, Session } from './session.js';

/** The upgrade path (design: `GET /v1/ws`). */
export const WS_PATH = '/v1/ws';

export async function startWebsocketAdapter(host: AdapterHost<WebsocketConfig>): Promise<RunningAdapter> {
  const { config, log } = host;
  const root = packageRoot();
  if (config.demo) registerDemo(host.http, join(root, 'clients/ts/browser/dist/streamgate.js'), log);
  if (!config.enabled) return { name: 'websocket', ports: {}, close: async () => {} };

  const codecs: Record<Subprotocol, Codec> = {
    'streamgate.v1.json': jsonCodec,
    'streamgate.v1.proto': loadProtoCodec(join(root, 'proto/streamgate/v1/streamgate.proto')),
  };
  const engine = createWsEngine({ maxPayloadBytes: config.maxPayloadBytes, perMessageDeflate: config.perMessageDeflate });
  const heartbeat = new Heartbeat(config.pingIntervalMs);
  const sessions = new Set<Session>();
  let allClosed: (() => void) | undefined;
  let closing = false;
  let connections = 0;

  /**
   * The handshake, whatever the engine: subprotocol, authentication and connection limits are
   * decided before the upgrade completes, so refusals are plain HTTP statuses.
   */
  const admit = (req: HandshakeRequest, respond: HandshakeResponder): void => {
    if (closing) return respond.refuse(503, 'The gateway is shutting down.');
    const subprotocol = selectSubprotocol(req.headers['sec-websocket-protocol']);
    if (subprotocol === undefined) {
      log.info({ offered: req.headers['sec-websocket-protocol'] }, 'refused: unsupported subprotocol');
      return respond.refuse(400, 'Unsupported subprotocol: use streamgate.v1.json or streamgate.v1.proto.');
    }
    // Authenticate before the handshake completes: a refused client gets a plain HTTP 401/403.
    host.gateway.authenticate(credentials(req)).then(
      (principal) => {
        if (closing) return respond.refuse(503, 'The gateway is shutting down.');
        let release: () => void;
        try {
          // Connection limits (total and per address) are the core's.
          release = host.gateway.connectionOpened('websocket', req.remoteAddress);
        } catch (err) {
          const error = GatewayError.from(err);
          return respond.refuse(HTTP_STATUS[error.status] ?? 500, error.message);
        }
        // If the handshake fails the engine drops the socket without opening a connection.
        respond.accept(
          subprotocol,
          (connection) => {
            const conn = `ws-${++connections}`;
            // One child logger per connection (requestId = connection id): each level of pino child costs memory per idle socket.
            const ctx = createContext({ protocol: 'websocket', log, principal, requestId: conn });
            let expiry: NodeJS.Timeout | undefined;
            const session = new Session(connection, codecs[subprotocol], host.gateway, ctx, config, ctx.log, (s) => {
              release();
              clearTimeout(expiry);
              sessions.delete(s);
              heartbeat.delete(s);
              if (sessions.size === 0) allClosed?.();
            });
            sessions.add(session);
            heartbeat.add(session);
            if (principal.expiresAt !== undefined) {
              // The connection lives no longer than its credentials; the client reconnects with fresh ones.
              const error = new GatewayError('UNAUTHENTICATED', 'The credentials expired; reconnect with fresh ones.');
              expiry = setTimeout(() => session.fail(error), Math.max(0, Math.min(principal.expiresAt - Date.now(), 2 ** 31 - 1)));
              expiry.unref();
            }
            ctx.log.debug({ remote: req.remoteAddress, subprotocol }, 'connection open');
            return session;
          },
          release,
        );
      },
      (err: unknown) => {
        const error = GatewayError.from(err);
        if (error.code === 'INTERNAL') log.error({ err }, 'authentication failed unexpectedly');
        respond.refuse(HTTP_STATUS[error.status] ?? 500, error.message);
      },
    );
  };

  host.http.onUpgrade(WS_PATH, (req, socket, head) => {
    // Node's HTTP server detaches its socket error handler on upgrade; until the engine attaches
    // its own, a reset during authentication or a refusal would otherwise be an uncaught 'error'.
    const onSocketError = (err: Error): void => log.debug({ err }, 'socket error before the handshake completed');
    socket.on('error', onSocketError);
    admit(
      { headers: req.headers, url: req.url ?? '', remoteAddress: req.socket.remoteAddress, certificateSubject: certificateSubject(req.socket) },
      {
        refuse: (status, message) => refuse(socket, status, message),
        accept: (subprotocol, open, notOpened) => {
          let opened = false;
          socket.once('close', () => {
            if (!opened) notOpened();
          });
          // The engine takes over the socket, error handling included.
          socket.off('error', onSocketError);
          engine.accept(req, socket, head, subprotocol, (connection) => {
            opened = true;
            return open(connection);
          });
        },
      },
    );
  });

  // websocket.engine uws (or auto with a uWS build installed): uWS serves /v1/ws on its own port
  // as well (it cannot share the node:http listener); the shared port keeps the ws engine.
  let uwsListener: UwsListener | undefined;
  if (config.engine !== 'ws') {
    const uws = host.tls === undefined ? loadUws() : undefined;
    if (uws === undefined && host.tls !== undefined) {
      // The uWS builds on npm carry no TLS; a plain listener next to a TLS one would leak credentials.
      if (config.engine === 'uws') throw new Error('websocket.engine uws cannot serve TLS (tls.certFile is set); use ws or auto');
      log.info('websocket.engine auto: TLS is on and the uWS build has none; using ws only');
    } else if (uws === undefined) {
      if (config.engine === 'uws') throw new Error('websocket.engine is uws but neither uWebSockets.js nor @trufflesuite/uws-js-unofficial can be loaded');
      log.info('websocket.engine auto: no uWebSockets.js build installed; using ws only');
    } else {
      uwsListener = await listenUws(
        uws,
        { maxPayloadBytes: config.maxPayloadBytes, perMessageDeflate: config.perMessageDeflate, host: host.host, port: config.uwsPort, path: WS_PATH },
        admit,
      );
      log.info({ ports: { websocket: uwsListener.port }, module: uwsListener.module }, 'uWebSockets.js listening');
    }
  }

  return {
    name: 'websocket',
    ports: uwsListener === undefined ? {} : { websocket: uwsListener.port },
    async close() {
      await uwsListener?.close();
      closing = true;
      heartbeat.stop();
      if (sessions.size > 0) {
        const closed = new Promise<void>((resolve) => (allClosed = resolve));
        for (const s of sessions) void s.shutdown();
        const deadline = new Promise<'timeout'>((resolve) => setTimeout(resolve, config.closeTimeoutMs, 'timeout').unref());
        if ((await Promise.race([closed, deadline])) === 'timeout') {
          log.warn({ open: sessions.size }, 'connections still open after closeTimeoutMs; terminating');
          for (const s of sessions) s.terminate();
        }
      }
      await engine.close();
    },
  };
}

/** Handshake refusals, by status class of the error that caused them. */
const HTTP_STATUS: Partial<Record<StatusClass, number>> = {
  INVALID_ARGUMENT: 400,
  UNAUTHENTICATED: 401,
  PERMISSION_DENIED: 403,
  RESOURCE_EXHAUSTED: 429,
  UNAVAILABLE: 503,
};

/**
 * Credentials of an upgrade request: `Authorization: Bearer <token>` for clients that can set
 * headers, else `?access_token=` (RFC 6750 §2.3) because browsers cannot set headers on
 * WebSocket; plus the subject of a verified TLS client certificate when the listener is HTTPS.
 */
function credentials(req: HandshakeRequest): Credentials {
  const subject = req.certificateSubject;
  const withCert = subject === undefined ? {} : { certificateSubject: subject };
  const auth = req.headers.authorization;
  if (auth !== undefined && /^bearer\s+/i.test(auth)) return { ...withCert, token: auth.replace(/^bearer\s+/i, '') };
  const query = (req.url ?? '').split('?')[1];
  const token = query === undefined ? null : new URLSearchParams(query).get('access_token');
  return token === null ? withCert : { ...withCert, token };
}

function refuse(socket: Duplex, status: number, message: string): void {
  const reason = STATUS_CODES[status] ?? 'Error';
  if (!socket.writable) {
    socket.destroy();
    return;
  }
  socket.end(
    `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(message)}\r\n\r\n${message}`,
  );
}

/** The directory holding package.json (the repo root when run from source or from dist/). */
function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('websocket adapter: cannot find the package root (package.json)');
    dir = parent;
  }
  // dist/ has no package.json, so from dist/adapters/websocket this also lands on the root.
  return dir;
}
