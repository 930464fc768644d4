/**
 * Processes a benchmark starts: the gateway (child), Mosquitto, Centrifugo, load generators.
 * Each is a child of the benchmark process and is stopped by it; every one also dies with it
 * (IPC disconnect for node children, stdin EOF watchdog for the peers).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePorts } from '../../test/support/ports.js';
import { Histogram, REPO, sleep } from './common.js';
import type { SubscriberOptions } from './subscribers.js';

function waitMessage<T>(child: ChildProcess, pick: (m: any) => T | undefined, what: string, timeoutMs = 120_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${what}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const onMessage = (m: unknown) => {
      if (typeof m === 'object' && m !== null && 'failed' in m) {
        cleanup();
        return reject(new Error(`${what}: ${(m as { failed: string }).failed}`));
      }
      const v = pick(m);
      if (v !== undefined) {
        cleanup();
        resolve(v);
      }
    };
    const onExit = (code: number | null) => {
      cleanup();
      reject(new Error(`${what}: process exited (${code})`));
    };
    const cleanup = () => {
      clearTimeout(timer);
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.once('exit', onExit);
  });
}

function exited(child: ChildProcess): Promise<void> {
  return child.exitCode !== null || child.signalCode !== null ? Promise.resolve() : new Promise((r) => child.once('exit', () => r()));
}

async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = exited(child);
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await done;
  clearTimeout(timer);
}

export interface GatewayProcess {
  readonly pid: number;
  /** Every process of the gateway: the child, and with `workers` > 1 its workers too. */
  readonly pids: readonly number[];
  readonly ports: { http: number; mqtt: number; grpc: number };
  /** Port of the uWebSockets.js listener when websocket.engine is uws (picked by us, see startGateway). */
  readonly uwsPort: number | undefined;
  mem(): Promise<NodeJS.MemoryUsage>;
  stop(): Promise<void>;
}

/**
 * How to run the gateway child: `cpuProfileDir` = write V8 .cpuprofiles (node --cpu-prof) there
 * when it stops, one per thread (the main thread's is the largest; tsx's loader thread has its own).
 */
export interface GatewayRunOptions {
  readonly cpuProfileDir?: string;
}

let built = false;

/** Compiles the gateway (tsconfig.build.json → dist/) once per benchmark process: the child runs what `npm start` runs. */
export function buildGateway(): void {
  if (built) return;
  const r = spawnSync(process.execPath, [join(REPO, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json'], { cwd: REPO, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`tsc -p tsconfig.build.json failed (${r.status ?? r.signal})`);
  built = true;
}

/** Starts the gateway in a child process on the Kafka broker (or embedded when brokers is ''). */
export async function startGateway(brokers: string, extra: Record<string, any> = {}, run: GatewayRunOptions = {}): Promise<GatewayProcess> {
  buildGateway();
  const dataDir = mkdtempSync(join(tmpdir(), 'sg-bench-gw-'));
  let uwsPort: number | undefined;
  const websocket = { ...(extra.websocket ?? {}) };
  if (websocket.engine === 'uws') {
    // The ready line's ports come from app/compose.ts, which does not carry the WebSocket
    // adapter's own listener; pick a free port up front instead.
    [uwsPort] = await freePorts(1);
    websocket.uwsPort = uwsPort;
  }
  const config = {
    host: '127.0.0.1',
    dataDir,
    http: { port: 0 },
    mqtt: { port: 0, ...(extra.mqtt ?? {}) },
    grpc: { port: 0 },
    kafka: { brokers: brokers === '' ? [] : [brokers] },
    // 10,000 subscribers plus the publisher come from one address (loopback).
    limits: { maxConnectionsPerAddress: 100_000, maxConnections: 100_000 },
    // One process unless a benchmark asks for more (`auto` would be one per core with Kafka).
    workers: 1,
    ...extra,
    websocket,
  };
  // --cpu-prof writes its file when the child exits normally (the `stop` message ends it with process.exit).
  const prof = run.cpuProfileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${run.cpuProfileDir}`];
  const child = spawn(process.execPath, ['--expose-gc', ...prof, '--import', 'tsx', join(REPO, 'bench/lib/gateway-child.ts'), JSON.stringify(config)], {
    cwd: REPO,
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const { ports, pids } = await waitMessage(child, (m) => (m?.ready ? (m as { ports: GatewayProcess['ports']; pids: number[] }) : undefined), 'gateway start', 60_000);
  return {
    pid: child.pid!,
    pids,
    ports,
    uwsPort,
    mem: () => {
      const answer = waitMessage(child, (m) => m?.mem as NodeJS.MemoryUsage | undefined, 'gateway mem');
      child.send('mem');
      return answer;
    },
    async stop() {
      const done = exited(child);
      child.send('stop');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await done;
      clearTimeout(timer);
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface PeerProcess {
  readonly pid: number;
  readonly port: number;
  stop(): Promise<void>;
}

export const MOSQUITTO = '/usr/sbin/mosquitto';

/** Mosquitto on a free loopback port, no persistence, anonymous, no connection limit. */
export async function startMosquitto(): Promise<PeerProcess> {
  if (!existsSync(MOSQUITTO)) throw new Error(`${MOSQUITTO} not found (Debian package mosquitto)`);
  const [port] = await freePorts(1);
  const dir = mkdtempSync(join(tmpdir(), 'sg-bench-mosq-'));
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, [`listener ${port} 127.0.0.1`, 'allow_anonymous true', 'persistence false', 'log_dest none', 'max_connections -1', 'max_queued_messages 10000', ''].join('\n'));
  const child = spawn(MOSQUITTO, ['-c', conf], { stdio: ['ignore', 'ignore', 'inherit'] });
  await waitPort(port, child, 'mosquitto');
  return {
    pid: child.pid!,
    port,
    async stop() {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const CENTRIFUGO = join(REPO, '.bench-bin', 'centrifugo');
export const CENTRIFUGO_SECRET = 'bench-secret-0123456789abcdef0123456789';

/**
 * Centrifugo v6 on a free port with a Kafka async consumer in publication data mode: each Kafka
 * record's value is published to the channels named in its `centrifugo-channels` header.
 */
export async function startCentrifugo(brokers: string, topic: string): Promise<PeerProcess & { version: string }> {
  if (!existsSync(CENTRIFUGO)) throw new Error(`${CENTRIFUGO} not built (GOBIN=$PWD/.bench-bin go install github.com/centrifugal/centrifugo/v6@v6.9.1)`);
  const [port] = await freePorts(1);
  const dir = mkdtempSync(join(tmpdir(), 'sg-bench-centrifugo-'));
  const conf = join(dir, 'config.json');
  writeFileSync(
    conf,
    JSON.stringify({
      log: { level: 'error' },
      http_server: { address: '127.0.0.1', port },
      client: { token: { hmac_secret_key: CENTRIFUGO_SECRET }, allowed_origins: ['*'] },
      channel: { without_namespace: { allow_subscribe_for_client: true } },
      consumers: [
        {
          name: 'bench',
          enabled: true,
          type: 'kafka',
          kafka: {
            brokers: [brokers],
            topics: [topic],
            consumer_group: `centrifugo-${port}`,
            publication_data_mode: { enabled: true, channels_header: 'centrifugo-channels' },
          },
        },
      ],
    }),
  );
  const version = await new Promise<string>((resolve) => {
    const v = spawn(CENTRIFUGO, ['version'], { stdio: ['ignore', 'pipe', 'ignore'] });
    let out = '';
    v.stdout.on('data', (d) => (out += d));
    v.on('exit', () => resolve(out.trim()));
  });
  const child = spawn(CENTRIFUGO, ['--config', conf], { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] });
  await waitPort(port, child, 'centrifugo');
  return {
    pid: child.pid!,
    port,
    version,
    async stop() {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitPort(port: number, child: ChildProcess, what: string): Promise<void> {
  const { connect } = await import('node:net');
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`${what} did not listen on ${port} within 30 s`);
    await sleep(100);
  }
}

export interface Generators {
  readonly pids: number[];
  reset(): void;
  report(): Promise<{ delivered: number; errors: number; lastError: string; hist: Histogram }>;
  close(): Promise<void>;
}

/** Spreads `options.count` subscribers over `processes` generator children and waits until all are subscribed. */
export async function startGenerators(options: SubscriberOptions, processes: number): Promise<Generators> {
  const children: ChildProcess[] = [];
  const per = Math.ceil(options.count / processes);
  const ready: Promise<unknown>[] = [];
  for (let p = 0; p < processes; p++) {
    const count = Math.min(per, options.count - p * per);
    if (count <= 0) break;
    const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'bench/lib/subscribers.ts'), JSON.stringify({ ...options, count })], {
      cwd: REPO,
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    children.push(child);
    ready.push(waitMessage(child, (m) => m?.ready, `${options.kind} subscribers`, 180_000));
  }
  try {
    await Promise.all(ready);
  } catch (err) {
    await Promise.all(children.map((c) => stopChild(c, 1000)));
    throw err;
  }
  return {
    pids: children.map((c) => c.pid!),
    reset: () => children.forEach((c) => c.send({ cmd: 'reset' })),
    async report() {
      const reports = await Promise.all(
        children.map((c) => {
          const r = waitMessage(c, (m) => m?.report as { delivered: number; errors: number; lastError: string; hist: Histogram } | undefined, 'report');
          c.send({ cmd: 'report' });
          return r;
        }),
      );
      const hist = new Histogram();
      let delivered = 0;
      let errors = 0;
      let lastError = '';
      for (const r of reports) {
        hist.merge(r.hist);
        delivered += r.delivered;
        errors += r.errors;
        if (r.lastError) lastError = r.lastError;
      }
      return { delivered, errors, lastError, hist };
    },
    async close() {
      for (const c of children) if (c.connected) c.send({ cmd: 'close' });
      await Promise.all(children.map((c) => Promise.race([exited(c), sleep(3000).then(() => stopChild(c, 1000))])));
    },
  };
}
