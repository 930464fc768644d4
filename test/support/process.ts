/**
 * Runs the real gateway as a child process (`node --import tsx app/main.ts`), the way it runs in
 * production, for fault tests that must kill it (-9), signal it (SIGTERM) or run several instances
 * side by side on one Kafka.
 *
 * A child never outlives the test process: every one is killed in `killAllGateways()` (call it in
 * afterAll), on this process's 'exit', and — if this process is itself SIGKILLed — by a tiny
 * watchdog (`bash` blocked reading a pipe from us, as test/kafka/harness.ts does for the JVM).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../kafka/harness.js';

export interface GatewayProcessOptions {
  /** Kafka bootstrap list (`host:port`, comma-separated). Empty = embedded backend. */
  brokers: string;
  /** Extra STREAMGATE_* variables (e.g. STREAMGATE_MQTT_ROUTES, STREAMGATE_SHUTDOWN_DEADLINE_MS). */
  env?: Record<string, string>;
  /** Data dir (default: a fresh temp dir, removed when the process is gone). */
  dataDir?: string;
  /** Log level of the child (default warn; its stdout/stderr lines are kept in `output`). */
  logLevel?: string;
  /** How long to wait for the `ready` line (default 30 s). */
  readyTimeoutMs?: number;
  /** A name for failure messages. */
  name?: string;
  /** `workers` (default 1: one process, whose pid is the gateway's; `auto` is one per core with Kafka). */
  workers?: number | 'auto';
}

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  /** ms since the process was spawned. */
  readonly at: number;
}

export interface GatewayProcess {
  readonly name: string;
  readonly pid: number;
  readonly ports: { readonly http: number; readonly mqtt: number; readonly grpc: number };
  readonly httpUrl: string;
  /** `ws://127.0.0.1:<http>` (append /v1/ws or /mqtt). */
  readonly wsUrl: string;
  readonly mqttUrl: string;
  readonly grpcAddress: string;
  /** The last lines the child wrote (stdout and stderr), for failure messages. */
  readonly output: string[];
  /** With workers: the pid of each worker that logged `worker ready`, in that order (replacements too). */
  readonly workerPids: number[];
  /** Resolves when the child has exited. */
  readonly exited: Promise<ExitInfo>;
  /** The exit, once it happened. */
  readonly exitInfo: ExitInfo | undefined;
  kill(signal: NodeJS.Signals): void;
  /** SIGKILL (if still running) and wait for the exit. Idempotent. */
  stop(): Promise<void>;
  /** Parsed /metrics (series name with labels → value). */
  metrics(): Promise<Map<string, number>>;
}

const MAX_OUTPUT_LINES = 400;
const live = new Set<{ child: ChildProcess; watchdog: ChildProcess }>();

let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // Synchronous last resort (vitest worker ending without afterAll, an uncaught error …).
  process.on('exit', () => {
    for (const { child, watchdog } of live) {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      watchdog.kill('SIGKILL');
    }
  });
}

/** Spawns a gateway process and resolves once it logged `ready` (with its ports). */
export async function spawnGateway(options: GatewayProcessOptions): Promise<GatewayProcess> {
  installExitHook();
  const name = options.name ?? 'gateway';
  const ownsDir = options.dataDir === undefined;
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'streamgate-proc-'));
  const started = Date.now();
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '',
    STREAMGATE_HTTP_PORT: '0',
    STREAMGATE_MQTT_PORT: '0',
    STREAMGATE_GRPC_PORT: '0',
    STREAMGATE_DATA_DIR: dataDir,
    STREAMGATE_LOG_LEVEL: options.logLevel ?? 'warn',
    ...(options.brokers === '' ? {} : { STREAMGATE_KAFKA_BROKERS: options.brokers }),
    STREAMGATE_WORKERS: String(options.workers ?? 1),
    ...options.env,
  };
  // `ready` is logged at info: the child always logs at least info to stdout for the ports; the
  // requested level only decides what we keep.
  const wantedLevel = env.STREAMGATE_LOG_LEVEL!;
  env.STREAMGATE_LOG_LEVEL = 'info';
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'app', 'main.ts')], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not spawn the gateway');
  const watchdog = spawn('bash', ['-c', `trap '' INT TERM HUP; read -r _; kill -KILL ${pid} 2>/dev/null`], {
    stdio: ['pipe', 'ignore', 'ignore'],
  });
  watchdog.unref();
  (watchdog.stdin as unknown as { unref?: () => void }).unref?.();
  const entry = { child, watchdog };
  live.add(entry);

  const output: string[] = [];
  const workerPids: number[] = [];
  let exitInfo: ExitInfo | undefined;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal, at: Date.now() - started };
      live.delete(entry);
      watchdog.kill('SIGKILL');
      if (ownsDir) rmSync(dataDir, { recursive: true, force: true });
      resolve(exitInfo);
    });
  });

  let onReady: ((ports: GatewayProcess['ports']) => void) | undefined;
  const levelRank: Record<string, number> = { trace: 10, debug: 20, info: 30, warn: 40, error: 50, fatal: 60, silent: 100 };
  const keep = (line: string): void => {
    output.push(line);
    if (output.length > MAX_OUTPUT_LINES) output.shift();
  };
  const onLine = (line: string): void => {
    if (line === '') return;
    let parsed: { level?: number; msg?: string; ports?: GatewayProcess['ports']; pid?: number } | undefined;
    try {
      parsed = JSON.parse(line) as typeof parsed;
    } catch (err) {
      // Not a log line (a stack trace, a tsx warning): keep it verbatim.
      keep(`${line} (${(err as Error).name})`);
      return;
    }
    if (parsed?.msg === 'ready' && parsed.ports !== undefined) onReady?.(parsed.ports);
    if (parsed?.msg === 'worker ready' && parsed.pid !== undefined) workerPids.push(parsed.pid);
    if ((parsed?.level ?? 100) >= (levelRank[wantedLevel] ?? 40)) keep(line);
  };
  for (const stream of [child.stdout!, child.stderr!]) {
    let buffered = '';
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        onLine(buffered.slice(0, nl));
        buffered = buffered.slice(nl + 1);
      }
    });
  }

  const readyTimeoutMs = options.readyTimeoutMs ?? 30_000;
  let timer: NodeJS.Timeout | undefined;
  const ports = await Promise.race([
    new Promise<GatewayProcess['ports']>((resolve) => (onReady = resolve)),
    exited.then((e) => Promise.reject(new Error(`${name} exited before ready (code ${e.code}, signal ${e.signal}):\n${output.join('\n')}`))),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${name} not ready within ${readyTimeoutMs} ms:\n${output.join('\n')}`)), readyTimeoutMs);
    }),
  ]).catch(async (err: unknown) => {
    child.kill('SIGKILL');
    await exited;
    throw err;
  });
  clearTimeout(timer);

  const httpUrl = `http://127.0.0.1:${ports.http}`;
  return {
    name,
    pid,
    ports,
    httpUrl,
    wsUrl: `ws://127.0.0.1:${ports.http}`,
    mqttUrl: `mqtt://127.0.0.1:${ports.mqtt}`,
    grpcAddress: `127.0.0.1:${ports.grpc}`,
    output,
    workerPids,
    exited,
    get exitInfo() {
      return exitInfo;
    },
    kill(signal) {
      if (exitInfo === undefined) child.kill(signal);
    },
    async stop() {
      if (exitInfo === undefined) child.kill('SIGKILL');
      await exited;
    },
    async metrics() {
      const res = await fetch(`${httpUrl}/metrics`);
      if (res.status !== 200) throw new Error(`/metrics answered ${res.status}`);
      return parseMetrics(await res.text());
    },
  };
}

/** Kills every gateway process this test process started and waits for them. */
export async function killAllGateways(): Promise<void> {
  const exits = [...live].map(
    ({ child }) =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGKILL');
      }),
  );
  await Promise.all(exits);
}

/** Prometheus text format → map of `name{labels}` → value (comments skipped). */
export function parseMetrics(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}
