/**
 * `--workers N`: N gateway processes behind the same ports (node:cluster — the primary holds the
 * listening sockets and hands each accepted connection to a worker in turn). Every worker is a
 * whole gateway: its own core, hub and backend client, and an instance of the multi-instance
 * coordination the gateway already has (instance heartbeats, group membership, MQTT session
 * takeover, REST v2 consumer instances served by any instance) — so a client whose connections
 * land on different workers sees one gateway, exactly as with several gateways behind a load
 * balancer.
 *
 * The primary serves no client. It starts the workers, logs the one `ready` line once all of them
 * are, replaces a worker that dies (a crash loop stops the whole process), aggregates `/metrics`
 * over the workers (a scrape lands on one worker, which asks the primary), and on SIGTERM/SIGINT
 * stops every worker gracefully within the shutdown deadline.
 *
 * `workers: auto` (the default) is one worker per core with the Kafka backend and 1 with the
 * embedded log: that log is one process's store (LMDB environment + in-process tail waits), so
 * more than one worker on it is a config error.
 */
import cluster, { type Worker } from 'node:cluster';
import { availableParallelism } from 'node:os';
import { AggregatorRegistry } from 'prom-client';
import { ConfigError } from '../gateway/config.js';
import type { Logger } from '../gateway/log.js';
import type { Config, RunningServer } from './compose.js';

/** A worker that dies this many times within CRASH_WINDOW_MS stops the gateway (a crash loop, not a fault to ride out). */
const MAX_CRASHES = 5;
const CRASH_WINDOW_MS = 60_000;
/** How long the primary waits for a worker's aggregated-metrics answer. */
const METRICS_TIMEOUT_MS = 5_000;

type Ports = RunningServer['ports'];
type WorkerMessage =
  | { readonly type: 'streamgate:ready'; readonly ports: Ports; readonly backend: string }
  | { readonly type: 'streamgate:metrics-request'; readonly id: number };
type PrimaryMessage = { readonly type: 'streamgate:metrics'; readonly id: number; readonly text?: string; readonly error?: string };

/** How many gateway processes the config asks for (`auto` resolved); ConfigError for several on the embedded log. */
export function workerCount(config: Config): number {
  const embedded = config.kafka.brokers.length === 0;
  const count = config.workers === 'auto' ? (embedded ? 1 : availableParallelism()) : config.workers;
  if (embedded && count > 1) {
    throw new ConfigError(`Invalid config key "workers": ${count} workers need the Kafka backend (kafka.brokers); the embedded log is one process's store`);
  }
  // uWebSockets.js does not listen through node:cluster: every worker binds the port itself
  // (SO_REUSEPORT), so it must be one known port — with 0 each worker would get its own.
  if (count > 1 && config.websocket.engine !== 'ws' && config.websocket.uwsPort === 0) {
    throw new ConfigError(`Invalid config key "websocket.uwsPort": with ${count} workers and websocket.engine ${config.websocket.engine} it must name a port (the workers share it through SO_REUSEPORT); 0 would give each worker its own`);
  }
  return count;
}

/** True in a process forked by `runPrimary`. */
export const isWorker = (): boolean => cluster.isWorker;

/** This worker's number (1, 2, … as the primary forked them; a replacement gets a new one). */
export const workerId = (): number | undefined => cluster.worker?.id;

/**
 * Runs the primary: forks `count` workers (each re-runs this program and calls `runWorker`), logs
 * `ready` with the shared ports once all are ready, and resolves with the exit code once they are
 * all gone after a signal (or a crash loop).
 */
export function runPrimary(config: Config, log: Logger, count: number): Promise<number> {
  return new Promise((resolveExit) => {
    const ready = new Map<number, Ports>();
    const crashes: number[] = [];
    let announced = false;
    let stopping = false;
    let exitCode = 0;
    const aggregator = new AggregatorRegistry();
    let metricsInFlight: Promise<string> | undefined;

    const fork = (): void => {
      const worker = cluster.fork();
      worker.on('message', (message: WorkerMessage) => onMessage(worker, message));
    };

    const onMessage = (worker: Worker, message: WorkerMessage): void => {
      if (message?.type === 'streamgate:ready') {
        ready.set(worker.id, message.ports);
        if (!announced && ready.size === count) {
          announced = true;
          log.info({ ports: message.ports, backend: message.backend, host: config.host, workers: count }, 'ready');
        }
      } else if (message?.type === 'streamgate:metrics-request') {
        // Concurrent scrapes share one round over the workers.
        metricsInFlight ??= aggregator.clusterMetrics().finally(() => (metricsInFlight = undefined));
        const reply = (answer: PrimaryMessage): void => {
          if (worker.isConnected()) worker.send(answer);
        };
        metricsInFlight.then(
          (text) => reply({ type: 'streamgate:metrics', id: message.id, text }),
          (err: unknown) => reply({ type: 'streamgate:metrics', id: message.id, error: (err as Error).message }),
        );
      }
    };

    cluster.on('exit', (worker, code, signal) => {
      ready.delete(worker.id);
      if (stopping) {
        if (code !== 0) exitCode = 1;
        if (Object.keys(cluster.workers ?? {}).length === 0) resolveExit(exitCode);
        return;
      }
      if (!announced) {
        // A worker that cannot start (a port taken, the backend unreachable) will not start on a retry either.
        log.fatal({ workerId: worker.id, code, signal }, 'a worker failed to start; stopping');
        exitCode = 1;
        stop();
        if (Object.keys(cluster.workers ?? {}).length === 0) resolveExit(exitCode);
        return;
      }
      const now = Date.now();
      crashes.push(now);
      while (crashes.length > 0 && crashes[0]! < now - CRASH_WINDOW_MS) crashes.shift();
      if (crashes.length >= MAX_CRASHES) {
        log.fatal({ workerId: worker.id, code, signal, crashes: crashes.length, windowMs: CRASH_WINDOW_MS }, 'workers keep dying; stopping');
        exitCode = 1;
        stop();
        if (Object.keys(cluster.workers ?? {}).length === 0) resolveExit(exitCode);
        return;
      }
      log.error({ workerId: worker.id, code, signal }, 'worker died; starting a replacement');
      fork();
    });

    const stop = (): void => {
      if (stopping) return;
      stopping = true;
      for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGTERM');
      // Each worker holds itself to the deadline; this is the backstop for one that hangs.
      const backstop = setTimeout(() => {
        for (const worker of Object.values(cluster.workers ?? {})) worker?.process.kill('SIGKILL');
      }, config.shutdown.deadlineMs + 2_000);
      backstop.unref();
    };
    const onSignal = (signal: string): void => {
      log.info({ signal }, 'signal received');
      stop();
    };
    process.on('SIGTERM', () => onSignal('SIGTERM'));
    process.on('SIGINT', () => onSignal('SIGINT'));

    for (let i = 0; i < count; i++) fork();
  });
}

/**
 * Worker side: reports `ready` to the primary and lets the primary's aggregation read this
 * worker's registry (`clusterMetrics` is the worker's `/metrics` renderer).
 */
export function runWorker(server: RunningServer): void {
  AggregatorRegistry.setRegistries([server.core.metrics.registry]);
  // Constructing one installs prom-client's answer to the primary's collection requests.
  new AggregatorRegistry();
  const message: WorkerMessage = { type: 'streamgate:ready', ports: server.ports, backend: server.backend };
  process.send?.(message);
}

let nextMetricsRequest = 0;

/** In a worker: the Prometheus text of every worker's registry, aggregated by the primary. */
export function clusterMetrics(): Promise<string> {
  const id = nextMetricsRequest++;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      process.off('message', onMessage);
      reject(new Error(`no aggregated metrics from the primary within ${METRICS_TIMEOUT_MS} ms`));
    }, METRICS_TIMEOUT_MS);
    const onMessage = (answer: PrimaryMessage): void => {
      if (answer?.type !== 'streamgate:metrics' || answer.id !== id) return;
      clearTimeout(timer);
      process.off('message', onMessage);
      if (answer.text !== undefined) resolve(answer.text);
      else reject(new Error(answer.error ?? 'metrics aggregation failed'));
    };
    process.on('message', onMessage);
    const request: WorkerMessage = { type: 'streamgate:metrics-request', id };
    process.send?.(request);
  });
}
