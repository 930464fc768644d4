/**
 * The process: composes the configuration schema from the core's sections and each adapter's
 * slice, opens the backend, builds the core, starts the shared HTTP listener and the adapters,
 * and shuts everything down in order.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { z } from 'zod';
import { restConfigSchema } from '../adapters/rest/config.js';
import { startRestAdapter } from '../adapters/rest/index.js';
import { websocketConfigSchema } from '../adapters/websocket/config.js';
import { startWebsocketAdapter } from '../adapters/websocket/index.js';
import { mqttConfigSchema } from '../adapters/mqtt/config.js';
import { startMqttAdapter } from '../adapters/mqtt/index.js';
import { grpcConfigSchema } from '../adapters/grpc/config.js';
import { startGrpcAdapter } from '../adapters/grpc/index.js';
import type { AdapterHost, HttpHandler, HttpHost, RunningAdapter, TlsMaterial, UpgradeHandler } from './adapter.js';
import type { Backend } from './backends/port.js';
import { EmbeddedBackend } from './backends/embedded/index.js';
import { KafkaBackend } from './backends/kafka/index.js';
import { ConfigError, coreConfigShape, loadConfig, type ConfigSources } from './config.js';
import { Core } from './core.js';
import { GatewayError } from './errors.js';
import { createLogger, type Logger } from './log.js';
import { WebSocketTransport, type UpgradeCount, type WebSocketEndpoint } from '../transport/websocket.js';

/** The whole configuration schema: core sections plus one slice per adapter. */
export const configSchema = z.strictObject({
  ...coreConfigShape,
  rest: restConfigSchema.prefault({}),
  websocket: websocketConfigSchema.prefault({}),
  mqtt: mqttConfigSchema.prefault({}),
  grpc: grpcConfigSchema.prefault({}),
});
export type Config = Readonly<z.infer<typeof configSchema>>;

/** Loads and validates the configuration from file, environment and flags. */
export function loadServerConfig(sources?: ConfigSources): Config {
  const config = loadConfig(configSchema, sources);
  // The uWS builds here have no TLS: a plaintext WebSocket port beside a TLS one would leak
  // credentials, so this combination stops the start (`auto` falls back to ws instead).
  if (config.websocket.engine === 'uws' && config.tls.certFile !== undefined) {
    throw new ConfigError('Invalid config key "websocket.engine": uws cannot serve TLS (tls.certFile is set) — the uWebSockets.js builds have none; use ws or auto');
  }
  return config;
}

/** A running gateway process (or an in-process instance in tests and benchmarks). */
export interface RunningServer {
  readonly config: Config;
  readonly core: Core;
  readonly ports: { readonly http: number; readonly mqtt: number; readonly grpc: number; readonly [name: string]: number };
  /** Graceful shutdown in order: stop listeners and tell clients, drain, close the core and backend. */
  close(): Promise<void>;
}

/** Starts the gateway with a validated config. */
export async function startServer(config: Config, options: { log?: Logger } = {}): Promise<RunningServer> {
  const log = options.log ?? createLogger(config.log.level);
  const backend = createBackend(config, log);
  await backend.start();
  // `{mqtt: F}` grants mean "these MQTT topics wherever the MQTT routes put them".
  const mqtt = { routes: config.mqtt.routes.map((r) => ({ filter: r.filter, topic: r.topic })), defaultTopic: config.mqtt.defaultTopic };
  const core = new Core({ backend, config, log, mqtt });
  await core.start();

  const tls = loadTls(config);
  const httpHost = new SharedHttp(log, tls, (protocol, remoteAddress) => core.connectionOpened(protocol, remoteAddress), {
    engine: config.websocket.engine,
    uwsPort: config.websocket.uwsPort,
    host: config.host,
    log: log.child({ component: 'websocket-transport' }),
  });
  // Process-level endpoint, before the adapters' routes.
  httpHost.onRequest((req, res) => {
    if ((req.url ?? '').split('?')[0] !== '/metrics' || req.method !== 'GET') return false;
    core.renderMetrics().then(
      (text) => res.writeHead(200, { 'content-type': core.metrics.registry.contentType }).end(text),
      (err: unknown) => {
        log.error({ err }, 'metrics rendering failed');
        res.writeHead(500).end();
      },
    );
    return true;
  });
  const adapters: RunningAdapter[] = [];
  let httpPort = 0;
  let uwsPort: number | undefined;
  try {
    const hostFor = <C>(protocol: string, slice: C): AdapterHost<C> => ({
      gateway: core,
      config: slice,
      host: config.host,
      http: httpHost,
      ...(tls === undefined ? {} : { tls }),
      log: log.child({ protocol }),
    });
    adapters.push(await startRestAdapter(hostFor('rest', config.rest)));
    adapters.push(await startWebsocketAdapter(hostFor('websocket', config.websocket)));
    adapters.push(await startMqttAdapter(hostFor('mqtt', config.mqtt)));
    adapters.push(await startGrpcAdapter(hostFor('grpc', config.grpc)));
    httpPort = await httpHost.listen(config.host, config.http.port);
    uwsPort = await httpHost.startWebSockets();
  } catch (err) {
    await Promise.allSettled(adapters.map((a) => a.close()));
    await httpHost.close();
    await core.close();
    await backend.close();
    throw err;
  }

  // Every port an adapter bound itself is reported too, and `websocket` when the uWebSockets.js
  // engine serves the WebSocket endpoints (/v1/ws, /mqtt) on its own port.
  const ports = {
    ...Object.assign({}, ...adapters.map((a) => a.ports)),
    ...(uwsPort === undefined ? {} : { websocket: uwsPort }),
    http: httpPort,
    mqtt: adapters.find((a) => a.ports.mqtt !== undefined)?.ports.mqtt ?? 0,
    grpc: adapters.find((a) => a.ports.grpc !== undefined)?.ports.grpc ?? 0,
  } as { readonly http: number; readonly mqtt: number; readonly grpc: number; readonly [name: string]: number };
  log.info({ ports, backend: backend.kind, host: config.host }, 'ready');

  let closing: Promise<void> | undefined;
  return {
    config,
    core,
    ports,
    close() {
      closing ??= (async () => {
        log.info('shutting down');
        await httpHost.stopAccepting();
        const results = await Promise.allSettled(adapters.map((a) => a.close()));
        for (const r of results) if (r.status === 'rejected') log.error({ err: r.reason }, 'adapter close failed');
        await httpHost.close();
        await core.close();
        await backend.close();
        log.info('stopped');
      })();
      return closing;
    },
  };
}

/** Reads the TLS files once at start; a missing file stops the process with its name. */
function loadTls(config: Config): TlsMaterial | undefined {
  const { certFile, keyFile, caFile, clientAuth } = config.tls;
  if (certFile === undefined || keyFile === undefined) return undefined;
  const read = (file: string, key: string) => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new Error(`Cannot read tls.${key} ${file}: ${(err as Error).message}`);
    }
  };
  return {
    cert: read(certFile, 'certFile'),
    key: read(keyFile, 'keyFile'),
    ...(caFile === undefined ? {} : { ca: read(caFile, 'caFile') }),
    requestCert: clientAuth !== 'none',
    rejectUnauthorized: clientAuth === 'require',
  };
}

function createBackend(config: Config, log: Logger): Backend {
  if (config.kafka.brokers.length > 0) {
    return new KafkaBackend({
      brokers: [...config.kafka.brokers],
      clientId: config.kafka.clientId,
      acks: config.kafka.acks,
      connectionTimeoutMs: config.kafka.connectionTimeoutMs,
      requestTimeoutMs: config.kafka.requestTimeoutMs,
      logger: log.child({ component: 'kafka' }),
    });
  }
  return new EmbeddedBackend({
    dataDir: config.dataDir,
    defaultPartitions: config.embedded.defaultPartitions,
    retention: { maxBytesPerPartition: config.embedded.retentionBytesPerPartition, maxAgeMs: config.embedded.retentionMs },
    maxRecordBytes: config.limits.maxRecordBytes,
    logger: log.child({ component: 'embedded' }),
  });
}

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
type CountConnection = (protocol: string, remoteAddress: string | undefined) => () => void;

/** The connection count one accepted socket holds: `http` until a stream or an upgrade claims it. */
interface SocketCount {
  /** Releases whatever the socket counts as now; idempotent (the core's releases are). */
  release: () => void;
  /** Upgraded sockets never serve HTTP requests again, so a claim's end does not give them back to `http`. */
  upgraded: boolean;
}

/**
 * The one HTTP listener shared by REST/SSE, WebSocket and MQTT over WebSocket. Every socket it
 * accepts counts against the core's connection limits as protocol `http` from accept to close;
 * SSE streams and upgrades move that count to their protocol (claimConnection, UpgradeCount).
 */
class SharedHttp implements HttpHost {
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
      this.log.debug({ err }, 'http client error');
      // Bytes after a finished response (e.g. a body the route did not read after `Connection:
      // close`) must not get a second, raw response on the same connection.
      if (err.code === 'HPE_CLOSED_CONNECTION' || socket._httpMessage?.headersSent === true || !socket.writable) {
        socket.destroy();
        return;
      }
      const status = err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large' : '400 Bad Request';
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
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
    const body = JSON.stringify({ error_code: 404, message: 'HTTP 404 Not Found' });
    res.writeHead(404, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
  }

  private dispatchUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const path = (req.url ?? '/').split('?')[0]!;
    const handler = this.upgrades.get(path);
    if (handler === undefined) {
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
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
   * reading a request, as the WebSocket handshake answers the same core refusals: 429 for the
   * per-address limit, 503 when the instance is full (SERVER_BUSY); `Connection: close`
   * (RFC 9112 §9.6) because the socket is closed right after.
   */
  private admit(socket: Socket): boolean {
    let release: () => void;
    try {
      release = this.count('http', socket.remoteAddress);
    } catch (err) {
      const error = GatewayError.from(err);
      const refused = error.code === 'RESOURCE_EXHAUSTED' || error.code === 'SERVER_BUSY';
      if (!refused) this.log.error({ err }, 'connection admission failed');
      const status = error.code === 'RESOURCE_EXHAUSTED' ? '429 Too Many Requests' : '503 Service Unavailable';
      const body = JSON.stringify({ error_code: Number(status.slice(0, 3)), message: refused ? error.message : 'The gateway cannot take connections now.' });
      // Nobody else listens on this socket: its errors (a reset while we answer) end here.
      socket.on('error', (e: Error) => this.log.debug({ err: e }, 'refused socket error'));
      const linger = setTimeout(() => socket.destroy(), REFUSAL_LINGER_MS).unref();
      socket.once('close', () => clearTimeout(linger));
      socket.end(
        `HTTP/1.1 ${status}\r\nRetry-After: ${CONNECTION_RETRY_AFTER_S}\r\nConnection: close\r\n` +
          `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
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
