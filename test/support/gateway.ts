/**
 * Starts a real gateway in-process for tests, on free loopback ports, backed by the test run's
 * Kafka broker (default) or a fresh embedded log.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino, type Logger } from 'pino';
import { loadServerConfig, startServer, type RunningServer } from '../../app/compose.js';
import { freePorts } from './ports.js';
import { kafkaBrokers } from './kafka.js';

export interface TestGateway extends RunningServer {
  readonly httpUrl: string;
  /** Base URL of the WebSocket endpoints (`/v1/ws`, `/mqtt`): the uWS port under STREAMGATE_TEST_WS_ENGINE=uws, else the HTTP port. */
  readonly wsUrl: string;
  /** MQTT over WebSocket: `${wsUrl}/mqtt`. */
  readonly mqttWsUrl: string;
}

/**
 * @param options.backend 'kafka' (the test broker) or 'embedded' (fresh temp dir)
 * @param options.config  extra config keys (same shape as the YAML file)
 * @param options.env     STREAMGATE_* variables as the process would read them
 * @param options.log     the gateway's logger (e.g. one capturing lines a test asserts on); default silent or STREAMGATE_TEST_LOG
 */
export async function startTestGateway(
  options: { backend?: 'kafka' | 'embedded'; config?: Record<string, unknown>; dataDir?: string; log?: Logger; env?: Record<string, string> } = {},
): Promise<TestGateway> {
  const backend = options.backend ?? 'kafka';
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'streamgate-test-'));
  const ownsDir = options.dataDir === undefined;
  const file = deepMerge(
    {
      host: '127.0.0.1',
      dataDir,
      http: { port: 0 },
      mqtt: { port: 0 },
      grpc: { port: 0 },
      kafka: { brokers: backend === 'kafka' ? [kafkaBrokers()] : [] },
    },
    options.config ?? {},
  );
  // STREAMGATE_TEST_WS_ENGINE=uws runs the suites against the uWebSockets.js engine (the `uws`
  // vitest project sets it): it serves /v1/ws and /mqtt on its own port (websocket.uwsPort), which
  // wsUrl and mqttWsUrl then point at. A gateway restarted on the same
  // HTTP port gets the same uWS port, so reconnect tests see "the same gateway came back".
  const uws = process.env.STREAMGATE_TEST_WS_ENGINE === 'uws';
  let uwsPort: number | undefined;
  if (uws) {
    const httpPort = (file.http as { port?: number }).port ?? 0;
    uwsPort = (httpPort !== 0 ? uwsPortByHttpPort.get(httpPort) : undefined) ?? (await freePorts(1))[0]!;
    file.websocket = { ...((file.websocket as object | undefined) ?? {}), engine: 'uws', uwsPort };
  }
  const config = loadServerConfig({ argv: [], env: options.env ?? {}, file });
  const log = options.log ?? pino({ level: process.env.STREAMGATE_TEST_LOG ?? 'silent' });
  const server = await startServer(config, { log });
  if (uwsPort !== undefined) uwsPortByHttpPort.set(server.ports.http, uwsPort);
  const wsUrl = `ws://127.0.0.1:${server.ports.websocket ?? server.ports.http}`;
  return {
    ...server,
    httpUrl: `http://127.0.0.1:${server.ports.http}`,
    wsUrl,
    mqttWsUrl: `${wsUrl}/mqtt`,
    async close() {
      await server.close();
      if (ownsDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

const uwsPortByHttpPort = new Map<number, number>();

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] =
      typeof v === 'object' && v !== null && !Array.isArray(v) && typeof prev === 'object' && prev !== null && !Array.isArray(prev)
        ? deepMerge(prev as Record<string, unknown>, v as Record<string, unknown>)
        : v;
  }
  return out;
}
