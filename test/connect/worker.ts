/**
 * Starts a real Apache Kafka Connect worker (standalone mode, `ConnectStandalone`) from the
 * official jars, next to a Kafka broker, for the Connect pipeline tests and examples/connect.
 *
 * Jars: the broker's .kafka/lib (test/kafka/pom.xml) already holds connect-runtime, -api, -json
 * and -transforms (kafka-tools depends on them); test/kafka/connect-pom.xml adds connect-file
 * (the FileStream connectors). It is resolved into .kafka/connect-lib on first use, and only the
 * artifacts that .kafka/lib lacks are put on the classpath, so no class is there twice.
 *
 * The worker listens for its REST API on a free loopback port. `addConnector` creates a
 * connector through that API and waits until the connector and all its tasks are RUNNING;
 * connectors can also be given at start (standalone's connector property files). Like the broker,
 * a worker never outlives the process that started it: a watchdog kills the JVM when this process
 * dies, and `stop()` ends it (SIGTERM, then SIGKILL) and waits for the exit.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureKafkaJars, REPO_ROOT } from '../kafka/harness.js';
import { freePorts } from '../support/ports.js';
import { exited, log4jConfig, stopWithWatchdog, tail } from '../kafka/child.js';

const CONNECT_POM = join(REPO_ROOT, 'test', 'kafka', 'connect-pom.xml');
const CONNECT_LIB = join(REPO_ROOT, '.kafka', 'connect-lib');

/** Converter class names, for connector and worker configs. */
export const CONVERTERS = {
  string: 'org.apache.kafka.connect.storage.StringConverter',
  json: 'org.apache.kafka.connect.json.JsonConverter',
  byteArray: 'org.apache.kafka.connect.converters.ByteArrayConverter',
} as const;

/** Connector class names of Apache Kafka's connect-file. */
export const FILE_SOURCE = 'org.apache.kafka.connect.file.FileStreamSourceConnector';
export const FILE_SINK = 'org.apache.kafka.connect.file.FileStreamSinkConnector';

/** A connector's config as the Connect REST API takes it (every value a string). */
export type ConnectorConfig = Record<string, string>;

export interface ConnectorStatus {
  name: string;
  connector: { state: string; worker_id: string; trace?: string };
  tasks: { id: number; state: string; worker_id: string; trace?: string }[];
  type?: string;
}

export interface ConnectWorker {
  /** The worker's REST API, `http://127.0.0.1:PORT`. */
  readonly url: string;
  readonly port: number;
  /** Temp dir holding worker.properties, connector files, the offsets file and logs. */
  readonly dir: string;
  readonly pid: number | undefined;
  /** Creates (or reconfigures) a connector and waits until it and its tasks run. */
  addConnector(name: string, config: ConnectorConfig, options?: { timeoutMs?: number }): Promise<ConnectorStatus>;
  /** Removes a connector (its tasks stop; a sink's file is closed). */
  deleteConnector(name: string): Promise<void>;
  /** GET /connectors/{name}/status; undefined while the worker does not know the connector. */
  status(name: string): Promise<ConnectorStatus | undefined>;
  /** Waits until the connector and every task are RUNNING; fails at once on FAILED. */
  waitRunning(name: string, timeoutMs?: number): Promise<ConnectorStatus>;
  /** Stops the worker (SIGTERM, SIGKILL after 15 s), waits for the JVM to exit, removes its dir. Idempotent. */
  stop(): Promise<void>;
  /** The last lines of the worker's log and stdout/stderr, for failure messages. */
  logTail(lines?: number): string;
}

export interface StartWorkerOptions {
  /** Bootstrap list of the Kafka cluster (`127.0.0.1:PORT`). */
  brokers: string;
  /** Worker-level default converters (connectors may override them); default String for both. */
  keyConverter?: string;
  valueConverter?: string;
  /** Connectors given to standalone at start (one properties file each), by name. */
  connectors?: Record<string, ConnectorConfig>;
  /** Extra worker properties (override the defaults below). */
  workerProperties?: Record<string, string>;
  /** How long to wait for the REST API and the start connectors (default 90 s). */
  readyTimeoutMs?: number;
  /** JVM heap (default 384m). */
  heap?: string;
  /** Keep the worker's dir after stop (examples print where the files are). Default false. */
  keepDir?: boolean;
}

/**
 * Makes sure the Connect jars are present (fetching them with Maven on first use) and returns the
 * classpath: the broker's jars plus the Connect-only ones.
 */
export function connectClasspath(): string {
  const lib = ensureKafkaJars();
  const connectJars = (): string[] => (existsSync(CONNECT_LIB) ? readdirSync(CONNECT_LIB).filter((j) => j.endsWith('.jar')) : []);
  if (!connectJars().some((j) => /^connect-file-\d.*\.jar$/.test(j)) || !connectJars().some((j) => /^connect-runtime-\d.*\.jar$/.test(j))) {
    execFileSync('mvn', ['-q', '-f', CONNECT_POM, 'dependency:copy-dependencies', `-DoutputDirectory=${CONNECT_LIB}`], {
      stdio: 'inherit',
    });
  }
  const base = readdirSync(lib).filter((j) => j.endsWith('.jar'));
  const hasSlf4j2 = base.some((j) => /^slf4j-api-2\./.test(j));
  // SLF4J 1.7 cannot see the Log4j 2 binding (see test/kafka/harness.ts); leave it out.
  const baseJars = base.filter((j) => !(hasSlf4j2 && /^slf4j-api-1\./.test(j)));
  const artifact = (jar: string): string => jar.replace(/-\d[^-]*(-[A-Za-z]+)?\.jar$/, '');
  const have = new Set(baseJars.map(artifact));
  const extra = connectJars().filter((j) => !have.has(artifact(j)) && !(hasSlf4j2 && /^slf4j-api-1\./.test(j)));
  return [...baseJars.sort().map((j) => join(lib, j)), ...extra.sort().map((j) => join(CONNECT_LIB, j))].join(':');
}

function properties(values: Record<string, string>): string {
  // java.util.Properties: backslash escapes, so paths and values are written with `\\`.
  return (
    Object.entries(values)
      .map(([k, v]) => `${k}=${v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`)
      .join('\n') + '\n'
  );
}



const delay = (ms: number): Promise<void> => new Promise((ok) => setTimeout(ok, ms));

/** Starts a Connect worker in standalone mode and waits until its REST API and start connectors run. */
export async function startConnectWorker(options: StartWorkerOptions): Promise<ConnectWorker> {
  const cp = connectClasspath();
  const readyTimeoutMs = options.readyTimeoutMs ?? 90_000;
  const [port] = await freePorts(1);
  const dir = mkdtempSync(join(tmpdir(), 'streamgate-connect-'));
  const url = `http://127.0.0.1:${port}`;
  const workerLog = join(dir, 'connect.log');
  const outLog = join(dir, 'stdout.log');
  const log4j = join(dir, 'log4j2.properties');
  // The clients' config dumps are long and say nothing a failing test needs.
  writeFileSync(log4j, log4jConfig(workerLog, 'info', { 'org.apache.kafka.clients': 'warn', 'org.apache.kafka.common': 'warn', 'org.reflections': 'error' }));
  const workerProps = join(dir, 'worker.properties');
  writeFileSync(
    workerProps,
    properties({
      'bootstrap.servers': options.brokers,
      'key.converter': options.keyConverter ?? CONVERTERS.string,
      'value.converter': options.valueConverter ?? CONVERTERS.string,
      'offset.storage.file.filename': join(dir, 'connect.offsets'),
      // Source offsets and sink consumer offsets committed every 200 ms (default 60 s), so a
      // connector removed or a worker stopped in a test has committed what it processed.
      'offset.flush.interval.ms': '200',
      listeners: `http://127.0.0.1:${port}`,
      // connect-file is on the classpath and ships ServiceLoader manifests: no plugin scanning.
      'plugin.discovery': 'service_load',
      // A sink subscribed to a topic that appears later sees it within a second, not 5 minutes.
      'consumer.metadata.max.age.ms': '1000',
      'producer.linger.ms': '0',
      ...options.workerProperties,
    }),
  );
  const connectorFiles = Object.entries(options.connectors ?? {}).map(([name, config]) => {
    const file = join(dir, `connector-${name}.properties`);
    writeFileSync(file, properties({ name, ...config }));
    return file;
  });

  let child: ChildProcess | undefined;
  let watchdog: ChildProcess | undefined;
  let removed = false;
  const logTail = (lines = 40): string => `--- ${workerLog} ---\n${tail(workerLog, lines)}\n--- ${outLog} ---\n${tail(outLog, lines)}`;

  const halt = async (hard: boolean): Promise<void> => {
    const c = child;
    const w = watchdog;
    child = undefined;
    watchdog = undefined;
    await stopWithWatchdog(c, w, hard);
  };
  const removeDir = (): void => {
    if (removed) return;
    removed = true;
    if (!options.keepDir) rmSync(dir, { recursive: true, force: true });
  };

  const request = async (method: string, path: string, body?: unknown): Promise<{ status: number; body: unknown }> => {
    const res = await fetch(`${url}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    let parsed: unknown = text;
    if (text !== '') {
      try {
        parsed = JSON.parse(text);
      } catch (err) {
        throw new Error(`Connect ${method} ${path}: ${res.status} with a body that is not JSON (${(err as Error).message}): ${text.slice(0, 200)}`);
      }
    }
    return { status: res.status, body: parsed };
  };

  const status = async (name: string): Promise<ConnectorStatus | undefined> => {
    const res = await request('GET', `/connectors/${encodeURIComponent(name)}/status`);
    if (res.status === 404) return undefined;
    if (res.status !== 200) throw new Error(`Connect status of ${name}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
    return res.body as ConnectorStatus;
  };

  const waitRunning = async (name: string, timeoutMs = 30_000): Promise<ConnectorStatus> => {
    const deadline = Date.now() + timeoutMs;
    let last: ConnectorStatus | undefined;
    for (;;) {
      if (child === undefined || exited(child)) throw new Error(`Connect worker exited while waiting for ${name}.\n${logTail()}`);
      last = await status(name);
      if (last !== undefined) {
        const failed = [last.connector, ...last.tasks].find((s) => s.state === 'FAILED');
        if (failed !== undefined) throw new Error(`Connector ${name} FAILED: ${failed.trace ?? '(no trace)'}`);
        if (last.connector.state === 'RUNNING' && last.tasks.length > 0 && last.tasks.every((t) => t.state === 'RUNNING')) return last;
      }
      if (Date.now() > deadline) {
        throw new Error(`Connector ${name} not RUNNING within ${timeoutMs} ms (last status ${JSON.stringify(last)}).\n${logTail()}`);
      }
      await delay(100);
    }
  };

  try {
    const out = openSync(outLog, 'a');
    try {
      // Own process group: a terminal Ctrl-C reaches the Node process (which stops us), not the JVM.
      child = spawn(
        'java',
        [`-Xmx${options.heap ?? '384m'}`, `-Dlog4j2.configurationFile=${log4j}`, '-cp', cp, 'org.apache.kafka.connect.cli.ConnectStandalone', workerProps, ...connectorFiles],
        { stdio: ['ignore', out, out], detached: true },
      );
    } finally {
      closeSync(out);
    }
    const pid = child.pid;
    if (pid === undefined) throw new Error('could not spawn java');
    // Same watchdog as the broker's: EOF on our pipe means this process died → kill the JVM.
    const script = `trap '' INT TERM HUP; read -r _; kill -KILL ${pid} 2>/dev/null; sleep 1; rm -rf '${dir}'`;
    watchdog = spawn('bash', ['-c', script], { stdio: ['pipe', 'ignore', 'ignore'] });
    child.unref();
    watchdog.unref();
    (watchdog.stdin as unknown as { unref?: () => void }).unref?.();

    // The REST API answers once the herder started (standalone creates the start connectors first).
    const deadline = Date.now() + readyTimeoutMs;
    let lastError: unknown;
    for (;;) {
      if (exited(child)) throw new Error(`Connect worker exited during start (code ${child.exitCode}, signal ${child.signalCode}).\n${logTail()}`);
      try {
        const res = await request('GET', '/connectors');
        if (res.status === 200) break;
        lastError = new Error(`HTTP ${res.status}`);
      } catch (err) {
        lastError = err;
      }
      if (Date.now() > deadline) throw new Error(`Connect REST API at ${url} not up within ${readyTimeoutMs} ms (last error: ${String(lastError)}).\n${logTail()}`);
      await delay(200);
    }
    for (const name of Object.keys(options.connectors ?? {})) await waitRunning(name, Math.max(1_000, deadline - Date.now()));
  } catch (err) {
    await halt(true);
    removeDir();
    throw err;
  }

  return {
    url,
    port: port!,
    dir,
    get pid() {
      return child?.pid;
    },
    async addConnector(name, config, opts = {}) {
      const res = await request('PUT', `/connectors/${encodeURIComponent(name)}/config`, { ...config, name });
      if (res.status !== 200 && res.status !== 201) {
        throw new Error(`Connect rejected connector ${name}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
      }
      return waitRunning(name, opts.timeoutMs ?? 30_000);
    },
    async deleteConnector(name) {
      const res = await request('DELETE', `/connectors/${encodeURIComponent(name)}`);
      if (res.status !== 204 && res.status !== 404) throw new Error(`Connect delete ${name}: HTTP ${res.status} ${JSON.stringify(res.body)}`);
    },
    status,
    waitRunning,
    async stop() {
      await halt(false);
      removeDir();
    },
    logTail,
  };
}
