/**
 * Fan-out: one publisher, N subscribers (100, 1,000, 10,000) of one topic, per protocol, against
 * streamgate (child process, Kafka backend) and the peers (Mosquitto for MQTT, Centrifugo with its
 * Kafka consumer for WebSocket). The publisher sends at a fixed rate chosen so every N asks for
 * the same number of deliveries per second; we report what arrived, end-to-end latency (send time
 * in the payload → subscriber), and the server's CPU and peak RSS. Subscribers live in separate
 * load-generator processes whose CPU is reported too (a generator near 100 % of a core would be
 * the bottleneck).
 *
 *   npx tsx bench/fanout.ts [--quick] [--only=ws,sse,mqtt,grpc,uws,mosquitto,centrifugo] [--n=100,1000] [--rate=250000 | --sweep[=…]] [--workers=2] [--name=f] [--profile[=dir]]
 *
 * `--rate=D` offers D deliveries/s (default 100,000; 50,000 with `--quick`): the publisher sends D ÷ N records/s.
 * `--sweep[=D1,D2,…]` steps the offered rate up (default 100k, 250k, 500k, 750k, 1M) over the same
 * connections, 2 s warm-up + 5 s window each, until a step misses p99 ≤ 100 ms or 99 % delivered,
 * and reports each server's ceiling. `--workers=N` runs streamgate with N worker processes.
 * `--name=F` writes results/F.json instead of results/fanout.json.
 *
 * `--profile` runs each streamgate child with `node --cpu-prof` and writes its .cpuprofiles to
 * `<dir>/fanout-<target>-<N>/` (dir default: a new temp dir, printed);
 * `npx tsx bench/profile-summary.ts <that folder>` lists the main thread's top self-time functions.
 */
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import mqtt from 'mqtt';
import { startKafkaHarness, type KafkaHarness } from '../test/kafka/harness.js';
import { ProcSampler, benchFlags, fmt, payload, printTable, profileFlag, sleep, writeResult } from './lib/common.js';
import { CENTRIFUGO_SECRET, startCentrifugo, startGateway, startGenerators, startMosquitto, type Generators } from './lib/procs.js';
import type { SubscriberKind, SubscriberOptions } from './lib/subscribers.js';

const { Kafka, logLevel } = kafkajs;

export interface FanoutResult {
  server: string;
  protocol: string;
  subscribers: number;
  /** Deliveries/s offered: publish rate × N. */
  offeredPerSec: number;
  publishRate: number;
  windowSec: number;
  published: number;
  delivered: number;
  deliveredPerSec: number;
  deliveryRatio: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  serverCpuPct: number;
  serverPeakRssMiB: number;
  generators: number;
  generatorCpuPctMax: number;
  /** Highest run-queue wait of a generator's main thread, % of the window (runnable but no CPU). */
  generatorWaitPctMax: number;
  /** Run-queue wait of the server's (busiest) main thread, % of the window. */
  serverWaitPct: number;
  errors: number;
  note?: string;
}

type Target = 'ws' | 'uws' | 'sse' | 'mqtt' | 'grpc' | 'mosquitto' | 'centrifugo';
export const TARGETS: Target[] = ['ws', 'uws', 'sse', 'grpc', 'mqtt', 'mosquitto', 'centrifugo'];

interface Publisher {
  /** Sends `n` records now (each stamped with its send time). */
  send(n: number, seq: number): Promise<void>;
  close(): Promise<void>;
}

async function kafkaPublisher(brokers: string, topic: string): Promise<Publisher> {
  const kafka = new Kafka({ brokers: [brokers], clientId: 'bench-pub', logLevel: logLevel.NOTHING });
  const producer = kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  // Centrifugo's publication data mode reads the target channel from this header; streamgate ignores it.
  const headers = { 'centrifugo-channels': 'bench' };
  return {
    async send(n, seq) {
      const messages = Array.from({ length: n }, (_, i) => ({ value: payload(seq + i), headers }));
      await producer.send({ topic, messages, acks: -1 });
    },
    close: () => producer.disconnect(),
  };
}

async function mqttPublisher(url: string, topic: string): Promise<Publisher> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, clientId: `bench-pub-${process.pid}` });
  return {
    async send(n, seq) {
      for (let i = 0; i < n; i++) client.publish(topic, payload(seq + i), { qos: 0 });
      // Let the socket drain so a fast loop does not queue unbounded bytes in the client.
      if (client.stream.writableLength > 1 << 20) await new Promise((r) => client.stream.once('drain', r));
    },
    close: () => client.endAsync(),
  };
}

async function createTopic(brokers: string, topic: string): Promise<void> {
  const admin = new Kafka({ brokers: [brokers], clientId: 'bench-admin', logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
  await admin.disconnect();
}

/** Runs the publisher at `rate` records/s until `stop()` is called. */
function runPublisher(pub: Publisher, rate: number): { stop(): Promise<number>; sent(): number } {
  let sent = 0;
  let stopped = false;
  const started = performance.now();
  const loop = (async () => {
    while (!stopped) {
      const due = Math.floor((rate * (performance.now() - started)) / 1000) - sent;
      if (due > 0) {
        const n = Math.min(due, 1000);
        await pub.send(n, sent);
        sent += n;
      } else await sleep(Math.max(1, Math.min(20, 1000 / rate)));
    }
  })();
  return {
    sent: () => sent,
    async stop() {
      stopped = true;
      await loop;
      return sent;
    },
  };
}

function generatorsFor(n: number): number {
  return n <= 100 ? 1 : n <= 1000 ? 2 : 4;
}

/** One fan-out run against one server/protocol at one N. */
/** The sweep's default steps (deliveries/s offered). */
export const SWEEP_RATES: readonly number[] = [100_000, 250_000, 500_000, 750_000, 1_000_000];

/** A sweep step passes when the server keeps up with low latency: p99 ≤ 100 ms and ≥ 99 % delivered. */
export const sweepPasses = (r: FanoutResult): boolean => r.p99Ms <= 100 && r.deliveryRatio >= 0.99;

/**
 * Fan-out runs against one server/protocol at one N: one row per offered rate in `rates`
 * (deliveries/s), over the same connections. `sweep`: stop after the first rate that does not
 * pass (`sweepPasses`); higher rates would only queue more.
 */
async function runOne(
  broker: KafkaHarness,
  target: Target,
  n: number,
  timing: { warmupMs: number; windowMs: number; rates: readonly number[]; sweep: boolean; workers: number },
  profileDir?: string,
): Promise<FanoutResult[]> {
  const topic = `fanout-${target}-${n}-${Date.now()}`;
  await createTopic(broker.brokers, topic);
  const stops: (() => Promise<void>)[] = [];
  let gens: Generators | undefined;
  let pub: Publisher | undefined;
  try {
    let serverPids: number[];
    let server = 'streamgate';
    let kind: SubscriberKind;
    let sub: Omit<SubscriberOptions, 'kind' | 'count'>;
    let publisher: () => Promise<Publisher>;
    if (target === 'mosquitto') {
      const m = await startMosquitto();
      stops.push(() => m.stop());
      serverPids = [m.pid];
      server = 'mosquitto';
      kind = 'mqtt';
      sub = { url: `127.0.0.1:${m.port}`, topic: 'bench/fan' };
      publisher = () => mqttPublisher(`mqtt://127.0.0.1:${m.port}`, 'bench/fan');
    } else if (target === 'centrifugo') {
      const c = await startCentrifugo(broker.brokers, topic);
      stops.push(() => c.stop());
      serverPids = [c.pid];
      server = 'centrifugo';
      kind = 'centrifugo';
      sub = { url: `ws://127.0.0.1:${c.port}/connection/websocket`, topic: 'bench', centrifugoSecret: CENTRIFUGO_SECRET };
      publisher = () => kafkaPublisher(broker.brokers, topic);
    } else {
      const gw = await startGateway(
        broker.brokers,
        {
          ...(target === 'uws' ? { websocket: { engine: 'uws' } } : {}),
          ...(target === 'mqtt' ? { mqtt: { routes: [{ filter: 'bench/#', topic }] } } : {}),
          ...(timing.workers > 1 ? { workers: timing.workers } : {}),
        },
        profileDir === undefined ? {} : { cpuProfileDir: join(profileDir, `fanout-${target}-${n}`) },
      );
      stops.push(() => gw.stop());
      serverPids = [...gw.pids];
      if (target === 'uws') server = 'streamgate (uWS)';
      if (timing.workers > 1) server += ` ×${timing.workers} workers`;
      kind = target === 'uws' ? 'ws' : (target as SubscriberKind);
      const host = '127.0.0.1';
      sub = {
        ws: { url: `ws://${host}:${gw.ports.http}/v1/ws`, topic },
        uws: { url: `ws://${host}:${gw.uwsPort}/v1/ws`, topic },
        sse: { url: `http://${host}:${gw.ports.http}`, topic },
        grpc: { url: `${host}:${gw.ports.grpc}`, topic },
        mqtt: { url: `${host}:${gw.ports.mqtt}`, topic: 'bench/fan' },
      }[target];
      publisher = () => (target === 'mqtt' ? mqttPublisher(`mqtt://${host}:${gw.ports.mqtt}`, 'bench/fan') : kafkaPublisher(broker.brokers, topic));
    }
    const processes = generatorsFor(n);
    gens = await startGenerators({ kind, count: n, ...sub, grpcChannels: Math.ceil(100 / processes) }, processes);
    pub = await publisher();

    // Prime: publish until the first record arrives (consumer groups, tail readers warm up).
    const primeDeadline = Date.now() + 30_000;
    for (let i = 0; ; i++) {
      await pub.send(1, -1 - i);
      await sleep(200);
      if ((await gens.report()).delivered > 0) break;
      if (Date.now() > primeDeadline) throw new Error('no record reached the subscribers within 30 s');
    }
    const results: FanoutResult[] = [];
    for (const offered of timing.rates) {
      const rate = Math.max(1, Math.round(offered / n));
      const running = runPublisher(pub, rate);
      await sleep(timing.warmupMs);
      const sampler = new ProcSampler([...serverPids, ...gens.pids]);
      gens.reset();
      const sentBefore = running.sent();
      sampler.begin();
      const t0 = performance.now();
      await sleep(timing.windowMs);
      const report = await gens.report();
      const seconds = (performance.now() - t0) / 1000;
      const usage = sampler.end();
      const published = running.sent() - sentBefore;
      await running.stop();
      const srv = serverPids.map((p) => usage.get(p)!);
      const gen = gens.pids.map((p) => usage.get(p)!);
      const r: FanoutResult = {
        server,
        protocol: { ws: 'WebSocket', uws: 'WebSocket', sse: 'SSE', grpc: 'gRPC', mqtt: 'MQTT', mosquitto: 'MQTT', centrifugo: 'WebSocket' }[target],
        subscribers: n,
        offeredPerSec: offered,
        publishRate: rate,
        windowSec: Number(seconds.toFixed(2)),
        published,
        delivered: report.delivered,
        deliveredPerSec: Math.round(report.delivered / seconds),
        deliveryRatio: Number((report.delivered / Math.max(1, published * n)).toFixed(3)),
        p50Ms: Number(report.hist.quantile(0.5).toFixed(2)),
        p99Ms: Number(report.hist.quantile(0.99).toFixed(2)),
        maxMs: Number(report.hist.max.toFixed(2)),
        serverCpuPct: Math.round(srv.reduce((a, u) => a + u.cpuPct, 0)),
        serverPeakRssMiB: Math.round(srv.reduce((a, u) => a + u.peakRss, 0) / 2 ** 20),
        generators: gens.pids.length,
        generatorCpuPctMax: Math.round(Math.max(...gen.map((u) => u.cpuPct))),
        generatorWaitPctMax: Math.round(Math.max(...gen.map((u) => u.waitPct))),
        serverWaitPct: Math.round(Math.max(...srv.map((u) => u.waitPct))),
        errors: report.errors,
        ...(report.lastError ? { note: report.lastError } : {}),
      };
      results.push(r);
      if (timing.sweep) process.stdout.write(`[${fmt(offered)}: ${fmt(r.deliveredPerSec)}/s p99 ${fmt(r.p99Ms, 1)}] `);
      if (timing.sweep && !sweepPasses(r)) break;
    }
    return results;
  } finally {
    await pub?.close().catch(() => undefined);
    await gens?.close();
    for (const stop of stops.reverse()) await stop();
  }
}

export function fanoutRows(results: FanoutResult[]): Record<string, string | number>[] {
  return results.map((r) => ({
    server: r.server,
    protocol: r.protocol,
    N: fmt(r.subscribers),
    offered: fmt(r.offeredPerSec),
    'pub/s': fmt(r.publishRate),
    'delivered/s': fmt(r.deliveredPerSec),
    ratio: r.deliveryRatio.toFixed(2),
    'p50 ms': fmt(r.p50Ms, 1),
    'p99 ms': fmt(r.p99Ms, 1),
    'max ms': fmt(r.maxMs, 0),
    'server CPU %': r.serverCpuPct,
    'server RSS MiB': r.serverPeakRssMiB,
    'gen CPU % (max)': r.generatorCpuPctMax,
    'gen wait % (max)': r.generatorWaitPctMax ?? '–',
    'server wait %': r.serverWaitPct ?? '–',
  }));
}

/** The highest offered rate per server/protocol/N that passed (`sweepPasses`), from a sweep's rows. */
export function sweepCeilings(results: readonly FanoutResult[]): { server: string; protocol: string; subscribers: number; ceilingPerSec: number; firstFailing?: number }[] {
  const out = new Map<string, { server: string; protocol: string; subscribers: number; ceilingPerSec: number; firstFailing?: number }>();
  for (const r of results) {
    const key = `${r.server}\0${r.protocol}\0${r.subscribers}`;
    const row = out.get(key) ?? { server: r.server, protocol: r.protocol, subscribers: r.subscribers, ceilingPerSec: 0 };
    if (sweepPasses(r) && row.firstFailing === undefined) row.ceilingPerSec = Math.max(row.ceilingPerSec, r.offeredPerSec);
    else if (!sweepPasses(r)) row.firstFailing ??= r.offeredPerSec;
    out.set(key, row);
  }
  return [...out.values()];
}

export interface FanoutOptions {
  quick: boolean;
  only?: string[] | undefined;
  ns?: number[];
  /** Offered deliveries/s (one value: a fixed-rate run; several with `sweep`: ascending steps). */
  rates?: number[];
  sweep?: boolean;
  /** streamgate `workers` (default 1). */
  workers?: number;
  broker?: KafkaHarness;
  profileDir?: string;
  /** Result file name under bench/results (default `fanout`). */
  name?: string;
}

export async function runFanout(options: FanoutOptions): Promise<{ results: FanoutResult[]; skipped: { target: string; subscribers: number; reason: string }[] }> {
  const ns = options.ns ?? (options.quick ? [100, 1000] : [100, 1000, 10_000]);
  const base = options.quick ? { warmupMs: 1500, windowMs: 4000, deliveriesPerSec: 50_000 } : { warmupMs: 3000, windowMs: 10_000, deliveriesPerSec: 100_000 };
  const sweep = options.sweep ?? false;
  const rates = options.rates ?? (sweep ? SWEEP_RATES : [base.deliveriesPerSec]);
  const timing = { warmupMs: sweep ? 2000 : base.warmupMs, windowMs: sweep ? 5000 : base.windowMs, rates, sweep, workers: options.workers ?? 1 };
  const broker = options.broker ?? (await startKafkaHarness());
  const results: FanoutResult[] = [];
  const skipped: { target: string; subscribers: number; reason: string }[] = [];
  try {
    for (const n of ns) {
      for (const target of TARGETS) {
        if (options.only !== undefined && !options.only.includes(target)) continue;
        process.stdout.write(`fan-out ${target} N=${n} … `);
        try {
          const rows = await runOne(broker, target, n, timing, options.profileDir);
          results.push(...rows);
          const r = rows[rows.length - 1]!;
          process.stdout.write(`${fmt(r.deliveredPerSec)}/s p99 ${fmt(r.p99Ms, 1)} ms\n`);
        } catch (err) {
          const reason = err instanceof Error ? err.message : String(err);
          skipped.push({ target, subscribers: n, reason });
          process.stdout.write(`SKIPPED: ${reason}\n`);
        }
      }
    }
  } finally {
    if (options.broker === undefined) await broker.stop();
  }
  printTable('Fan-out (one publisher, N subscribers, 256 B JSON records)', fanoutRows(results));
  const ceilings = sweep ? sweepCeilings(results) : undefined;
  if (ceilings !== undefined) {
    printTable(
      'Sweep: highest offered deliveries/s with p99 ≤ 100 ms and ≥ 99 % delivered',
      ceilings.map((c) => ({ server: c.server, protocol: c.protocol, N: fmt(c.subscribers), ceiling: c.ceilingPerSec === 0 ? `< ${fmt(rates[0]!)}` : fmt(c.ceilingPerSec), 'first failing': c.firstFailing === undefined ? '–' : fmt(c.firstFailing) })),
    );
  }
  for (const s of skipped) process.stdout.write(`skipped ${s.target} N=${s.subscribers}: ${s.reason}\n`);
  writeResult(options.name ?? 'fanout', { timing, results, skipped, ...(ceilings === undefined ? {} : { ceilings }) });
  return { results, skipped };
}

if (process.argv[1]?.endsWith('fanout.ts')) {
  const flags = benchFlags();
  const arg = (name: string) => process.argv.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
  const n = arg('n');
  const rate = arg('rate');
  const sweep = arg('sweep');
  const workers = arg('workers');
  const name = arg('name');
  const profileDir = profileFlag('fanout');
  await runFanout({
    ...flags,
    ...(n === undefined ? {} : { ns: n.split(',').map(Number) }),
    ...(rate === undefined ? {} : { rates: [Number(rate)] }),
    ...(sweep === undefined ? {} : { sweep: true, rates: sweep.split(',').map(Number) }),
    ...(process.argv.includes('--sweep') ? { sweep: true } : {}),
    ...(workers === undefined ? {} : { workers: Number(workers) }),
    ...(name === undefined ? {} : { name }),
    ...(profileDir === undefined ? {} : { profileDir }),
  });
}
