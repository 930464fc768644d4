/**
 * The process: composes the configuration schema from the core's sections and each adapter's
 * slice, opens the backend, builds the core, starts the shared HTTP listener and the adapters,
 * and shuts everything down in order.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
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
import { createLogger, type Logger } from './log.js';
import { WebSocketTransport, type WebSocketEndpoint } from '../transport/websocket.js';

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
  const core = new Core({ backend, config, log });
  await core.start();

  const tls = loadTls(config);
  const httpHost = new SharedHttp(log, tls, {
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

/** The one HTTP listener shared by REST/SSE, WebSocket and MQTT over WebSocket. */
class SharedHttp implements HttpHost {
  private readonly handlers: HttpHandler[] = [];
  private readonly upgrades = new Map<string, UpgradeHandler>();
  private readonly server: Server;
  private readonly sockets = new Set<Duplex>();
  private readonly websockets: WebSocketTransport;

  constructor(
    private readonly log: Logger,
    tls: TlsMaterial | undefined,
    websocket: { engine: 'ws' | 'uws' | 'auto'; uwsPort: number; host: string; log: Logger },
  ) {
    this.websockets = new WebSocketTransport({ ...websocket, tls: tls !== undefined, onUpgrade: (path, handler) => this.onUpgrade(path, handler) });
    const handler = (req: IncomingMessage, res: ServerResponse) => this.dispatch(req, res);
    this.server = tls === undefined ? createServer(handler) : createTlsServer({ ...tls }, handler);
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
    handler(req, socket, head);
  }
}
