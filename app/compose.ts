/**
 * The composition root: the configuration schema from the core's sections and each adapter's
 * slice, then backend -> core -> shared HTTP host -> adapters, and shutdown in the reverse order.
 * The only module that knows every part; the core (gateway/) knows none of the protocols.
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { restConfigSchema } from '../adapters/rest/config.js';
import { startRestAdapter } from '../adapters/rest/index.js';
import { websocketConfigSchema } from '../adapters/websocket/config.js';
import { startWebsocketAdapter } from '../adapters/websocket/index.js';
import { mqttConfigSchema } from '../adapters/mqtt/config.js';
import { startMqttAdapter } from '../adapters/mqtt/index.js';
import { grpcConfigSchema } from '../adapters/grpc/config.js';
import { startGrpcAdapter } from '../adapters/grpc/index.js';
import type { AdapterHost, RunningAdapter, TlsMaterial } from './host.js';
import { SharedHttp } from './http-host.js';
import { registerConsole } from './console.js';
import { serveMetrics } from './metrics.js';
import type { Backend } from '../gateway/backends/port.js';
import { EmbeddedBackend } from '../gateway/backends/embedded/index.js';
import { KafkaBackend } from '../gateway/backends/kafka/index.js';
import { ConfigError, coreConfigShape, loadConfig, type ConfigSources } from '../gateway/config.js';
import { Core } from '../gateway/core.js';
import { createLogger, type Logger } from '../gateway/log.js';

/** The whole configuration schema: core sections plus one slice per adapter. */
export const configSchema = z.strictObject({
  ...coreConfigShape,
  rest: restConfigSchema.prefault({}),
  websocket: websocketConfigSchema.prefault({}),
  mqtt: mqttConfigSchema.prefault({}),
  grpc: grpcConfigSchema.prefault({}),
  /**
   * Gateway processes behind the same ports (app/workers.ts): `auto` = one per core with the
   * Kafka backend, 1 with the embedded log (which is one process's store).
   */
  workers: z.union([z.literal('auto'), z.coerce.number().int().min(1).max(256)]).default('auto'),
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
  readonly backend: Backend['kind'];
  readonly ports: { readonly http: number; readonly mqtt: number; readonly grpc: number; readonly [name: string]: number };
  /** Graceful shutdown in order: stop listeners and tell clients, drain, close the core and backend. */
  close(): Promise<void>;
}

/** How a process runs one gateway: alone (the defaults), or as one worker of several (app/workers.ts). */
export interface StartOptions {
  readonly log?: Logger;
  /** The message of the line logged with the ports once listening (default `ready`). */
  readonly readyMessage?: string;
  /** What `/metrics` serves (default: this core's registry). */
  readonly renderMetrics?: () => Promise<string>;
}

/** Starts the gateway with a validated config. */
export async function startServer(config: Config, options: StartOptions = {}): Promise<RunningServer> {
  const log = options.log ?? createLogger(config.log.level);
  const backend = createBackend(config, log);
  await backend.start();
  // `{mqtt: F}` grants mean "these MQTT topics wherever the MQTT routes put them".
  const mqtt = { routes: config.mqtt.routes.map((r) => ({ filter: r.filter, topic: r.topic })), defaultTopic: config.mqtt.defaultTopic };
  const core = new Core({ backend, config, log, mqtt });
  // Internal state's topic names are never metric label values (Kafka's own `__` topics neither).
  core.metrics.hideTopics([config.topics.internalPrefix, '__', ...(config.schemaRegistry.enabled ? [config.schemaRegistry.topic] : [])]);
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
    serveMetrics(core, req, res, log, options.renderMetrics);
    return true;
  });
  registerConsole(httpHost, log.child({ component: 'console' }));
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
  log.info({ ports, backend: backend.kind, host: config.host }, options.readyMessage ?? 'ready');

  let closing: Promise<void> | undefined;
  return {
    config,
    core,
    backend: backend.kind,
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
