/**
 * Soak: a gateway process under mixed traffic on every protocol with connection churn, for a
 * bounded time (CI: 30 s; `SOAK_MS=600000 npx vitest run test/faults/soak.test.ts` for the long
 * run). RSS and event-loop delay are sampled from the gateway's own /metrics every second
 * (prom-client's default process metrics; the event-loop histogram restarts at every scrape, so
 * each p99 covers one interval). Asserts: RSS at the end within a factor of RSS after the warm-up,
 * event-loop p99 under a limit, and the traffic itself correct (every ack in Kafka, long-lived
 * subscribers without gap or repeat).
 */
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamRecord } from '../../clients/ts/browser/index.js';
import { StreamgateClient as GrpcClient } from '../../clients/ts/node/index.js';
import { connectClient } from '../mqtt/helpers.js';
import { kafkaBrokers } from '../support/kafka.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { killAllGateways, spawnGateway, type GatewayProcess } from '../support/process.js';
import { eventually } from '../support/wait.js';
import { browserClient, checkAcks, gapsAndRepeats, newLog, pace, readTopicFromKafka, recordAck, seqValue, type Placement } from './helpers.js';

/** Test-run knob (not gateway config): how long the traffic runs. */
const SOAK_MS = Number(process.env.SOAK_MS ?? 30_000);
const WARMUP_MS = Math.min(10_000, SOAK_MS / 3);
/** RSS at the end may be at most this factor of RSS after the warm-up (plus allocator slack). */
const RSS_FACTOR = 1.5;
const RSS_SLACK = 32 * 2 ** 20;
/** Worst one-second event-loop p99 allowed (a shared 2-core CI box; typical values are ~10–30 ms). */
const LOOP_P99_LIMIT_S = 0.5;

const prefix = uniqueId('soak');
const tRest = uniqueTopic('faults-soak-rest');
const tGrpc = uniqueTopic('faults-soak-grpc');
const tMqtt = uniqueTopic('faults-soak-mqtt');
const tWs = uniqueTopic('faults-soak-ws');
let g: GatewayProcess;

beforeAll(async () => {
  g = await spawnGateway({ brokers: kafkaBrokers(), env: { STREAMGATE_MQTT_ROUTES: `${prefix}/#=${tMqtt}`, STREAMGATE_TOPICS_DEFAULT_PARTITIONS: '2' }, name: 'gateway' });
});

afterAll(async () => {
  await killAllGateways();
});

interface Sample {
  t: number;
  rss: number;
  heap: number;
  p99: number;
  handles: number;
}

describe('soak', () => {
  it(`mixed traffic with connection churn for ${SOAK_MS / 1000} s: bounded memory and event-loop delay, nothing lost`, async () => {
    for (const t of [tRest, tGrpc, tWs]) {
      const res = await fetch(`${g.httpUrl}/v1/topics/${t}/records`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ records: [{ value: { src: 'init', seq: 0 } }] }),
      });
      expect(res.status).toBe(200);
    }
    const started = Date.now();
    const running = (): boolean => Date.now() - started < SOAK_MS;
    const counts = { rest: 0, grpc: 0, mqtt: 0, ws: 0, mqttConnections: 0, wsConnections: 0, churnSubscriptions: 0, mqttReceived: 0 };

    // Long-lived subscribers (checked for gaps at the end).
    const wsSeen: Placement[] = [];
    const wsSub = browserClient(g.wsUrl);
    const sub = wsSub.subscribe(tRest, { from: 'earliest' }, (records: StreamRecord[]) => {
      for (const r of records) wsSeen.push({ partition: r.partition, offset: BigInt(r.offset) });
    });
    await sub.subscribed();
    const grpcSubClient = new GrpcClient({ address: g.grpcAddress });
    const grpcSub = grpcSubClient.subscribe(tGrpc, { from: 'earliest' });
    const grpcSeen: Placement[] = [];
    const grpcLoop = (async () => {
      for await (const r of grpcSub) grpcSeen.push({ partition: r.partition, offset: r.offset });
    })();
    const mqttSub = await connectClient(g.mqttUrl, { protocolVersion: 5, clientId: uniqueId('soak-sub') });
    await mqttSub.client.subscribeAsync(`${prefix}/#`, { qos: 1 });

    // Sampler.
    const samples: Sample[] = [];
    const sampler = (async () => {
      while (running()) {
        const m = await g.metrics();
        samples.push({
          t: Date.now() - started,
          rss: m.get('streamgate_process_resident_memory_bytes')!,
          heap: m.get('streamgate_nodejs_heap_size_used_bytes')!,
          p99: m.get('streamgate_nodejs_eventloop_lag_p99_seconds')!,
          handles: m.get('streamgate_nodejs_active_handles_total')!,
        });
        await pace(1000);
      }
    })();

    const restLog = newLog('rest');
    const grpcLog = newLog('grpc');
    const wsLog = newLog('ws');
    let restSeq = 0;
    let grpcSeq = 0;
    let wsSeq = 0;
    const workers: Promise<void>[] = [
      // REST: batches of 10 over keep-alive connections.
      (async () => {
        while (running()) {
          const batch = Array.from({ length: 10 }, () => ++restSeq);
          const res = await fetch(`${g.httpUrl}/v1/topics/${tRest}/records`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ records: batch.map((s) => ({ key: `k${s % 5}`, value: { src: 'rest', seq: s } })) }),
          });
          const body = (await res.json()) as { offsets: { partition: number; offset: string }[] };
          expect(res.status).toBe(200);
          batch.forEach((s, i) => recordAck(restLog, s, { partition: body.offsets[i]!.partition, offset: BigInt(body.offsets[i]!.offset) }));
          counts.rest += batch.length;
          await pace(20);
        }
      })(),
      // gRPC: unary produce.
      (async () => {
        const c = new GrpcClient({ address: g.grpcAddress, timeoutMs: 10_000 });
        try {
          while (running()) {
            const s = ++grpcSeq;
            const [ack] = await c.produce(tGrpc, [{ key: `k${s % 5}`, value: seqValue('grpc', s) }]);
            recordAck(grpcLog, s, ack!);
            counts.grpc += 1;
            await pace(5);
          }
        } finally {
          c.close();
        }
      })(),
      // MQTT: devices connect, publish 20 QoS 1 messages, disconnect — over and over.
      ...[0, 1].map(async (d) => {
        while (running()) {
          const c = await mqtt.connectAsync(g.mqttUrl, { protocolVersion: d === 0 ? 5 : 4, clientId: uniqueId('soak-dev'), reconnectPeriod: 0 });
          counts.mqttConnections += 1;
          for (let i = 0; i < 20; i++) {
            await c.publishAsync(`${prefix}/dev${d}/t${i % 3}`, JSON.stringify({ src: 'mqtt', i }), { qos: 1 });
            counts.mqtt += 1;
          }
          await c.endAsync();
        }
      }),
      // WebSocket: a browser client publishes a few batches, then closes; repeat.
      (async () => {
        while (running()) {
          const c = browserClient(g.wsUrl);
          counts.wsConnections += 1;
          for (let i = 0; i < 5; i++) {
            const batch = Array.from({ length: 10 }, () => ++wsSeq);
            const acks = await c.publish(
              tWs,
              batch.map((s) => ({ key: `k${s % 5}`, value: { src: 'ws', seq: s } })),
            );
            batch.forEach((s, j) => recordAck(wsLog, s, { partition: acks[j]!.partition, offset: BigInt(acks[j]!.offset) }));
            counts.ws += batch.length;
          }
          c.close();
          await pace(50);
        }
      })(),
      // Subscription churn: WebSocket clients subscribe from latest, take some records, leave.
      (async () => {
        while (running()) {
          const c = browserClient(g.wsUrl);
          counts.wsConnections += 1;
          const s = c.subscribe(tWs, { from: 'latest' }, () => undefined);
          await s.subscribed();
          counts.churnSubscriptions += 1;
          await pace(300);
          c.close();
        }
      })(),
    ];
    await Promise.all(workers);
    await sampler;

    // Correctness of the traffic itself.
    const [kRest, kGrpc, kWs] = await Promise.all([tRest, tGrpc, tWs].map((t) => readTopicFromKafka(kafkaBrokers(), t, 60_000)));
    for (const [log, records, n] of [
      [restLog, kRest!, restSeq],
      [grpcLog, kGrpc!, grpcSeq],
      [wsLog, kWs!, wsSeq],
    ] as const) {
      const check = checkAcks(log, records, n);
      expect(check.misplaced, log.source).toEqual([]);
      expect(check.missing, log.source).toEqual([]);
      expect(check.duplicates, log.source).toBe(0);
    }
    await eventually(() => wsSeen.length >= kRest!.length && grpcSeen.length >= kGrpc!.length && mqttSub.received.length >= counts.mqtt, {
      timeoutMs: 30_000,
      what: 'long-lived subscribers caught up',
    });
    expect(gapsAndRepeats(wsSeen)).toEqual({ gaps: [], repeats: 0 });
    expect(gapsAndRepeats(grpcSeen)).toEqual({ gaps: [], repeats: 0 });
    expect(mqttSub.received.length).toBe(counts.mqtt);
    counts.mqttReceived = mqttSub.received.length;

    // Memory and event-loop delay.
    const warm = samples.filter((s) => s.t >= WARMUP_MS);
    expect(warm.length).toBeGreaterThan(3);
    const rssWarm = warm[0]!.rss;
    const rssEnd = samples.at(-1)!.rss;
    const p99s = samples.slice(1).map((s) => s.p99);
    const sortedP99 = [...p99s].sort((x, y) => x - y);
    const mib = (b: number): string => (b / 2 ** 20).toFixed(1);
    console.info(
      `[faults] soak ${SOAK_MS / 1000} s: ${JSON.stringify(counts)}; RSS after warm-up ${mib(rssWarm)} MiB, max ${mib(Math.max(...samples.map((s) => s.rss)))} MiB, end ${mib(rssEnd)} MiB; ` +
        `heap end ${mib(samples.at(-1)!.heap)} MiB; event-loop p99 per second: median ${(sortedP99[Math.floor(sortedP99.length / 2)]! * 1000).toFixed(1)} ms, max ${(sortedP99.at(-1)! * 1000).toFixed(1)} ms; ` +
        `handles ${samples[0]!.handles} → ${samples.at(-1)!.handles}`,
    );
    expect(rssEnd).toBeLessThan(rssWarm * RSS_FACTOR + RSS_SLACK);
    expect(Math.max(...p99s)).toBeLessThan(LOOP_P99_LIMIT_S);
    expect(g.exitInfo).toBeUndefined();

    sub.close();
    wsSub.close();
    grpcSub.close();
    await grpcLoop;
    grpcSubClient.close();
    await mqttSub.end();
  }, SOAK_MS + 120_000);
});
