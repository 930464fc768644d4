/**
 * The WebSocket adapter: `GET /v1/ws` on the shared HTTP listener (subprotocols
 * `streamgate.v1.json` and `streamgate.v1.proto`), plus the demo page and the bundled browser
 * client. See README.md for the protocol and its mapping to the core.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AdapterHost, RunningAdapter } from '../../app/host.js';
import { httpCredentials } from '../../codecs/credentials.js';
import { httpErrorOf } from '../../codecs/http-status.js';
import type { Principal } from '../../gateway/api.js';
import { createContext } from '../../gateway/context.js';
import { GatewayError } from '../../gateway/errors.js';
import type { WebsocketConfig } from './config.js';
import { registerDemo } from './demo.js';
import type { EngineConnection, HandshakeRequest, HandshakeResponder } from '../../transport/websocket.js';
import { Heartbeat, WsConnection, type Subprotocol as SubprotocolServer } from './connection.js';
import { jsonSubprotocol } from './json-session.js';
import { protoSubprotocol } from './proto-session.js';

/** The upgrade path (design: `GET /v1/ws`). */
export const WS_PATH = '/v1/ws';

/** The subprotocols this endpoint speaks (`Sec-WebSocket-Protocol`, RFC 6455 §1.9), one session kind each. */
export const SUBPROTOCOLS = ['streamgate.v1.json', 'streamgate.v1.proto'] as const;
export type Subprotocol = (typeof SUBPROTOCOLS)[number];

export async function startWebsocketAdapter(host: AdapterHost<WebsocketConfig>): Promise<RunningAdapter> {
  const { config, log } = host;
  const root = packageRoot();
  if (config.demo) registerDemo(host.http, join(root, 'clients/ts/browser/dist/streamgate.js'), log);
  if (!config.enabled) return { name: 'websocket', ports: {}, close: async () => {} };

  const subprotocols: Record<Subprotocol, SubprotocolServer> = {
    'streamgate.v1.json': jsonSubprotocol,
    'streamgate.v1.proto': protoSubprotocol(),
  };
  const heartbeat = new Heartbeat(config.pingIntervalMs);
  const sessions = new Set<WsConnection>();
  let allClosed: (() => void) | undefined;
  let closing = false;
  let connections = 0;

  /**
   * An accepted connection's session. Outside `admit` on purpose: the session's close callback
   * lives as long as the connection, and a closure inside the handshake would keep the handshake's
   * request and responder (and through them the HTTP upgrade request) alive with it.
   */
  const openSession = (connection: EngineConnection, principal: Principal, subprotocol: Subprotocol, remote: string | undefined, release: () => void): WsConnection => {
    const conn = `ws-${++connections}`;
    // One child logger per connection (requestId = connection id): each level of pino child costs memory per idle socket.
    const ctx = createContext({ protocol: 'websocket', log, principal, requestId: conn });
    let expiry: NodeJS.Timeout | undefined;
    const forget = host.gateway.connectionIdentified(ctx);
    const session = new WsConnection(connection, subprotocols[subprotocol], host.gateway, ctx, config, ctx.log, (s) => {
      release();
      forget();
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
    ctx.log.debug({ remote, subprotocol }, 'connection open');
    return session;
  };

  /**
   * The handshake, whatever the engine: subprotocol, authentication and connection limits are
   * decided before the upgrade completes, so refusals are plain HTTP statuses.
   */
  const admit = (req: HandshakeRequest, respond: HandshakeResponder): void => {
    if (closing) return refuse(respond, new GatewayError('SHUTTING_DOWN', 'The gateway is shutting down.'));
    // The transport chose it from SUBPROTOCOLS (or the default), so it names one of ours.
    const subprotocol = req.subprotocol as Subprotocol;
    // Authenticate before the handshake completes: a refused client gets a plain HTTP 401/403.
    host.gateway.authenticate(httpCredentials(req), { protocol: 'websocket', remoteAddress: req.remoteAddress }).then(
      (principal) => {
        if (closing) return refuse(respond, new GatewayError('SHUTTING_DOWN', 'The gateway is shutting down.'));
        let release: () => void;
        try {
          // Connection limits (total and per address) are the core's. On the shared HTTP port the
          // socket is already counted (as `http`): the count moves to `websocket` rather than doubling.
          release = req.claimConnection?.('websocket') ?? host.gateway.connectionOpened('websocket', req.remoteAddress);
        } catch (err) {
          return refuse(respond, err);
        }
        // If the handshake fails the engine drops the socket without opening a connection.
        respond.accept((connection) => openSession(connection, principal, subprotocol, req.remoteAddress, release), release);
      },
      (err: unknown) => {
        if (GatewayError.from(err).code === 'INTERNAL') log.error({ err }, 'authentication failed unexpectedly');
        refuse(respond, err);
      },
    );
  };

  // The process's WebSocket transport serves this on the shared HTTP port and, with
  // websocket.engine uws, on the uWS port too; both run the same handshake.
  host.http.onWebSocket(WS_PATH, {
    subprotocols: SUBPROTOCOLS,
    // No header at all means JSON (tools like `wscat` send none).
    defaultSubprotocol: 'streamgate.v1.json',
    maxPayloadBytes: config.maxPayloadBytes,
    perMessageDeflate: config.perMessageDeflate,
    handshake: admit,
  });

  return {
    name: 'websocket',
    ports: {},
    async close() {
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
    },
  };
}

/** A handshake refusal: the core's error in HTTP terms, as REST answers it. */
function refuse(respond: HandshakeResponder, err: unknown): void {
  const { status, body } = httpErrorOf(err);
  respond.refuse(status, body);
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
