/**
 * How a protocol adapter plugs into the process. The process owns the listeners' lifecycle and
 * the one shared HTTP server; an adapter receives the core and its config slice, translates,
 * and reports the ports it bound. Adapters never import each other.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Gateway } from '../gateway/api.js';
import type { UpgradeCount, WebSocketEndpoint } from '../transport/websocket.js';

/** Handles an HTTP request; returns false if the route is not its own (the next handler is tried). */
export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => boolean;

/**
 * Handles an HTTP upgrade (WebSocket) on an exact path. `count` is the host's connection count of
 * the socket (protocol `http`): the handler converts it to its protocol or releases it.
 */
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer, count: UpgradeCount) => void;

/**
 * The shared HTTP listener: REST/SSE register request handlers; WebSocket and MQTT-over-WS
 * register WebSocket endpoints, served by the process's one WebSocket transport
 * (transport/websocket.ts) on the engine chosen by `websocket.engine`.
 */
export interface HttpHost {
  /** Handlers are tried in registration order; an unclaimed request gets a 404 from the host. */
  onRequest(handler: HttpHandler): void;
  /** One handler per path for a raw upgrade; other upgrade paths are refused with 404. */
  onUpgrade(path: string, handler: UpgradeHandler): void;
  /**
   * A WebSocket endpoint (`/v1/ws`, `/mqtt`): on the shared HTTP port, and also on the uWS port
   * when that engine runs. Register before the process starts listening.
   */
  onWebSocket(path: string, endpoint: WebSocketEndpoint): void;
  /**
   * Every socket the host accepts counts against `limits.maxConnections` /
   * `limits.maxConnectionsPerAddress` as protocol `http`. A request that turns its socket into a
   * long-lived stream (SSE) moves that count to `protocol` instead of opening a second one, so the
   * socket counts once. Throws the core's RESOURCE_EXHAUSTED when it does not fit (the socket keeps
   * its `http` count), CANCELLED when the socket has closed already. Call the returned function when the stream ends: the socket counts as
   * `http` again if it stays open for more requests.
   */
  claimConnection(req: IncomingMessage, protocol: string): () => void;
}

/** TLS material for listeners an adapter binds itself (Node's `tls.createServer` options). */
export interface TlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly ca?: Buffer;
  /** Ask clients for a certificate (verified against `ca`). */
  readonly requestCert: boolean;
  /** Refuse clients whose certificate is missing or invalid. */
  readonly rejectUnauthorized: boolean;
}

/** What the process hands each adapter. */
export interface AdapterHost<C> {
  readonly gateway: Gateway;
  /** The adapter's frozen config slice. */
  readonly config: C;
  /** Interface to bind listeners to. */
  readonly host: string;
  readonly http: HttpHost;
  /** Set when the listeners must speak TLS; the shared HTTP server already does. */
  readonly tls?: TlsMaterial;
  /** Child logger with `protocol` bound. */
  readonly log: Logger;
}

/** A started adapter. */
export interface RunningAdapter {
  readonly name: string;
  /** Ports this adapter bound itself (e.g. `{ mqtt: 1883 }`); adapters on the shared HTTP server bind none. */
  readonly ports: Readonly<Record<string, number>>;
  /**
   * Graceful stop: stop accepting, finish in-flight produces, tell clients to reconnect in the
   * protocol's terms (MQTT v5 DISCONNECT 0x8B, WebSocket 1001, gRPC GOAWAY), then release everything.
   */
  close(): Promise<void>;
}
