/**
 * Produce throughput and latency per protocol against raw kafkajs on the same broker: the same
 * 256 B JSON values, the same batch sizes, the same number of requests in flight. Closed loop:
 * `concurrency` requests outstanding, each a batch of `batch` records; a request's latency is
 * send → acknowledgement (after the broker acked, acks=all, for every path).
 *
 *   npx tsx bench/produce.ts [--quick] [--only=kafkajs,rest-v1,rest-v1-jsonschema,rest-v1-avro,rest-v2,ws,grpc-unary,grpc-session,mqtt-qos1,mqtt-qos0] [--profile[=dir]]
 *
 * `rest-v1-jsonschema` / `rest-v1-avro` are `rest-v1` to topics bound to a schema (BENCH_BINDINGS):
 * run them with `rest-v1` (`--only=rest-v1,rest-v1-jsonschema,rest-v1-avro`) and compare their
 * records/s — the table's `vs rest-v1` column is that ratio, validation vs none, in one run.
 *
 * `--profile` runs the gateway child with `node --cpu-prof` (see bench/README.md); profile one
 * path at a time (`--only=rest-v1`) to read where the gateway's CPU goes per produced record.
 */
import { Agent, request } from 'node:http';
import * as grpc from '@grpc/grpc-js';
import kafkajs from 'kafkajs';
import mqtt from 'mqtt';
import { WebSocket } from 'ws';
import { createStub } from '../clients/ts/node/index.js';
import { startKafkaHarness, type KafkaHarness } from '../test/kafka/harness.js';
import { Histogram, ProcSampler, benchFlags, fmt, payload, printTable, profileFlag, sleep, writeResult } from './lib/common.js';
import { startGateway, type GatewayProcess } from './lib/procs.js';

const { Kafka, logLevel } = kafkajs;

export interface ProduceResult {
  path: string;
  batch: number;
  concurrency: number;
  seconds: number;
  records: number;
  recordsPerSec: number;
  /** Raw kafkajs with the same batch and concurrency, records/s. */
  rawRecordsPerSec: number;
  ratio: number;
  /** Bound paths: records/s over `rest-v1`'s in the same run (validation vs none). */
  vsRestV1?: number;
  p50Ms: number;
  p99Ms: number;
  gatewayCpuPct: number;
  clientCpuPct: number;
}

/** Keeps `concurrency` calls of `op` outstanding for `ms`; returns completed calls and their latencies. */
async function closedLoop(concurrency: number, ms: number, op: (i: number) => Promise<void>): Promise<{ ops: number; hist: Histogram; seconds: number }> {
  const hist = new Histogram();
  let ops = 0;
  let seq = 0;
  const started = performance.now();
  const end = started + ms;
  const worker = async () => {
    while (performance.now() < end) {
      const t = performance.now();
      await op(seq++);
      hist.record(performance.now() - t);
      ops++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { ops, hist, seconds: (performance.now() - started) / 1000 };
}

function values(n: number, seq: number): string[] {
  return Array.from({ length: n }, (_, i) => payload(seq * n + i));
}

type Op = (i: number) => Promise<void>;
interface Path {
  /** What `--only` names it by. */
  id: string;
  name: string;
  batch: number;
  concurrency: number;
  /** Prefix of the path's topic (default `produce`): the schema bindings match the bound paths' prefixes. */
  topicPrefix?: string;
  /** Builds the operation (connects clients); close() releases them. */
  open(topic: string): Promise<{ op: Op; close(): Promise<void> }>;
}

function httpPost(agent: Agent, port: number, path: string, contentType: string, body: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', agent, headers: { 'content-type': contentType, 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`${path}: HTTP ${res.statusCode} ${Buffer.concat(chunks).toString().slice(0, 200)}`))));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Schema bindings of the bench gateway (README "Topic bindings"): the same REST v1 produce as
 * `rest-v1`, to a topic whose values must match a JSON Schema (validated, stored as sent), and to
 * one bound to Avro with `encode: true` (validated, encoded to Avro, framed) — the cost of
 * validation is the ratio of those paths to `rest-v1` in the same run.
 */
export const BENCH_BINDINGS = [
  { topic: 'produce-bound-json-*', format: 'jsonschema' },
  { topic: 'produce-bound-avro-*', format: 'avro', encode: true },
];
/** The bench payload (bench/lib/common.ts `payload`: `{"t":ms,"s":seq,"p":"xxx…"}`) as each format's schema. */
const BENCH_SCHEMAS = {
  json: { schemaType: 'JSON', schema: JSON.stringify({ type: 'object', properties: { t: { type: 'number' }, s: { type: 'integer', minimum: 0 }, p: { type: 'string', maxLength: 1024 } }, required: ['t', 's', 'p'], additionalProperties: false }) },
  avro: { schema: JSON.stringify({ type: 'record', name: 'BenchValue', fields: [{ name: 't', type: 'double' }, { name: 's', type: 'long' }, { name: 'p', type: 'string' }] }) },
};

function paths(gw: GatewayProcess, brokers: string, batch: number, concurrency: number): Path[] {
  const http = gw.ports.http;
  const json = (n: number, seq: number) => values(n, seq).map((v) => `{"value":${v}}`).join(',');
  const boundV1 = (id: string, name: string, kind: keyof typeof BENCH_SCHEMAS): Path => ({
    id,
    name,
    batch,
    concurrency,
    topicPrefix: `produce-bound-${kind}`,
    async open(topic) {
      const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
      // The binding's subject (`<topic>-value`) exists before the first produce.
      await httpPost(agent, http, `/subjects/${topic}-value/versions`, 'application/vnd.schemaregistry.v1+json', JSON.stringify(BENCH_SCHEMAS[kind]));
      return { op: (i) => httpPost(agent, http, `/v1/topics/${topic}/records`, 'application/json', `{"records":[${json(batch, i)}]}`), close: async () => agent.destroy() };
    },
  });
  return [
    {
      id: 'kafkajs',
      name: 'kafkajs (raw)',
      batch,
      concurrency,
      async open(topic) {
        const producer = new Kafka({ brokers: [brokers], clientId: 'bench-raw', logLevel: logLevel.NOTHING }).producer();
        await producer.connect();
        return { op: async (i) => void (await producer.send({ topic, acks: -1, messages: values(batch, i).map((value) => ({ value })) })), close: () => producer.disconnect() };
      },
    },
    {
      id: 'rest-v1',
      name: 'REST v1 POST /v1/topics/{t}/records',
      batch,
      concurrency,
      async open(topic) {
        const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
        return { op: (i) => httpPost(agent, http, `/v1/topics/${topic}/records`, 'application/json', `{"records":[${json(batch, i)}]}`), close: async () => agent.destroy() };
      },
    },
    boundV1('rest-v1-jsonschema', 'REST v1 to a JSON Schema-bound topic (validated)', 'json'),
    boundV1('rest-v1-avro', 'REST v1 to an Avro-bound topic (validated, encoded)', 'avro'),
    {
      id: 'rest-v2',
      name: 'REST v2 POST /topics/{t} (Confluent)',
      batch,
      concurrency,
      async open(topic) {
        const agent = new Agent({ keepAlive: true, maxSockets: concurrency });
        return { op: (i) => httpPost(agent, http, `/topics/${topic}`, 'application/vnd.kafka.json.v2+json', `{"records":[${json(batch, i)}]}`), close: async () => agent.destroy() };
      },
    },
    {
      id: 'ws',
      name: 'WebSocket publish',
      batch,
      concurrency,
      async open(topic) {
        const ws = new WebSocket(`ws://127.0.0.1:${http}/v1/ws`, ['streamgate.v1.json']);
        await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
        const waiting = new Map<string, { resolve: () => void; reject: (e: Error) => void }>();
        ws.on('message', (data: Buffer) => {
          const f = JSON.parse(data.toString()) as { op: string; id: string; message?: string };
          const w = waiting.get(f.id);
          if (w === undefined) return;
          waiting.delete(f.id);
          if (f.op === 'ack') w.resolve();
          else w.reject(new Error(`${f.op}: ${f.message}`));
        });
        return {
          op: (i) =>
            new Promise<void>((resolve, reject) => {
              waiting.set(`p${i}`, { resolve, reject });
              ws.send(`{"op":"publish","id":"p${i}","topic":"${topic}","records":[${json(batch, i)}]}`);
            }),
          close: async () => ws.close(),
        };
      },
    },
    {
      id: 'grpc-unary',
      name: 'gRPC unary Produce',
      batch,
      concurrency,
      async open(topic) {
        const stub = createStub(`127.0.0.1:${gw.ports.grpc}`);
        return {
          op: (i) =>
            new Promise<void>((resolve, reject) =>
              stub.Produce({ topic, records: values(batch, i).map((v) => ({ value: Buffer.from(v) })) }, (err: grpc.ServiceError | null) => (err ? reject(err) : resolve())),
            ),
          close: async () => stub.close(),
        };
      },
    },
    {
      id: 'grpc-session',
      name: 'gRPC Session publish',
      batch,
      concurrency,
      async open(topic) {
        const stub = createStub(`127.0.0.1:${gw.ports.grpc}`);
        const call = stub.Session();
        const waiting = new Map<string, { resolve: () => void; reject: (e: Error) => void }>();
        call.on('data', (f: { published?: { id: string }; error?: { id: string; message: string } }) => {
          const id = f.published?.id ?? f.error?.id;
          const w = id === undefined ? undefined : waiting.get(id);
          if (w === undefined) return;
          waiting.delete(id!);
          if (f.published) w.resolve();
          else w.reject(new Error(f.error!.message));
        });
        call.on('error', (err: Error) => {
          for (const w of waiting.values()) w.reject(err);
        });
        return {
          op: (i) =>
            new Promise<void>((resolve, reject) => {
              waiting.set(`p${i}`, { resolve, reject });
              call.write({ publish: { id: `p${i}`, topic, records: values(batch, i).map((v) => ({ value: Buffer.from(v) })) } });
            }),
          async close() {
            call.end();
            stub.close();
          },
        };
      },
    },
  ];
}

/** MQTT: one message per PUBLISH (MQTT has no batches), so the raw baseline is kafkajs with batch 1 and the same window. */
function mqttPaths(gw: GatewayProcess, brokers: string, inflight: number): Path[] {
  return [
    {
      id: 'kafkajs-batch1',
      name: 'kafkajs (raw, batch 1)',
      batch: 1,
      concurrency: inflight,
      async open(topic) {
        const producer = new Kafka({ brokers: [brokers], clientId: 'bench-raw1', logLevel: logLevel.NOTHING }).producer();
        await producer.connect();
        return { op: async (i) => void (await producer.send({ topic, acks: -1, messages: [{ key: 'bench/p', value: payload(i) }] })), close: () => producer.disconnect() };
      },
    },
    {
      id: 'mqtt-qos1',
      name: 'MQTT QoS 1 (PUBACK after Kafka ack)',
      batch: 1,
      concurrency: inflight,
      async open() {
        const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.ports.mqtt}`, { reconnectPeriod: 0, clientId: `bench-q1-${process.pid}` });
        return { op: async (i) => void (await client.publishAsync('bench/p', payload(i), { qos: 1 })), close: () => client.endAsync() };
      },
    },
  ];
}

async function createTopic(brokers: string, topic: string): Promise<void> {
  const admin = new Kafka({ brokers: [brokers], clientId: 'bench-admin', logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1, replicationFactor: 1 }], waitForLeaders: true });
  await admin.disconnect();
}

async function latestOffset(brokers: string, topic: string): Promise<number> {
  const admin = new Kafka({ brokers: [brokers], clientId: 'bench-admin', logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  return offsets.reduce((s, o) => s + Number(o.high), 0);
}

async function measure(path: Path, topic: string, gwPid: number, warmupMs: number, windowMs: number): Promise<{ records: number; seconds: number; hist: Histogram; gatewayCpuPct: number; clientCpuPct: number }> {
  const { op, close } = await path.open(topic);
  try {
    await closedLoop(path.concurrency, warmupMs, op);
    const sampler = new ProcSampler([gwPid, process.pid]);
    sampler.begin();
    const r = await closedLoop(path.concurrency, windowMs, op);
    const usage = sampler.end();
    return { records: r.ops * path.batch, seconds: r.seconds, hist: r.hist, gatewayCpuPct: usage.get(gwPid)!.cpuPct, clientCpuPct: usage.get(process.pid)!.cpuPct };
  } finally {
    await close();
  }
}

/** QoS 0 has no acknowledgement: publish flat out for the window, then count what reached Kafka and when. */
async function mqttQos0(gw: GatewayProcess, brokers: string, topic: string, windowMs: number): Promise<{ records: number; seconds: number; gatewayCpuPct: number; clientCpuPct: number }> {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.ports.mqtt}`, { reconnectPeriod: 0, clientId: `bench-q0-${process.pid}` });
  const before = await latestOffset(brokers, topic);
  const sampler = new ProcSampler([gw.pid, process.pid]);
  sampler.begin();
  const started = performance.now();
  let sent = 0;
  while (performance.now() - started < windowMs) {
    for (let i = 0; i < 100; i++) client.publish('bench/p', payload(sent++), { qos: 0 });
    if (client.stream.writableLength > 256 * 1024) await new Promise((r) => client.stream.once('drain', r));
    else await new Promise((r) => setImmediate(r));
  }
  // Done when every message reached Kafka (QoS 0 may drop under overload; then we stop after 30 s).
  const deadline = performance.now() + 30_000;
  let landed = 0;
  while ((landed = (await latestOffset(brokers, topic)) - before) < sent && performance.now() < deadline) await sleep(100);
  const seconds = (performance.now() - started) / 1000;
  const usage = sampler.end();
  await client.endAsync();
  return { records: landed, seconds, gatewayCpuPct: usage.get(gw.pid)!.cpuPct, clientCpuPct: usage.get(process.pid)!.cpuPct };
}

export async function runProduce(options: { quick: boolean; only?: string[] | undefined; broker?: KafkaHarness; profileDir?: string }): Promise<ProduceResult[]> {
  const warmupMs = options.quick ? 1000 : 2000;
  const windowMs = options.quick ? 3000 : 6000;
  const batch = 100;
  const concurrency = 8;
  const inflight = 64;
  const broker = options.broker ?? (await startKafkaHarness());
  const mqttTopic = `produce-mqtt-${Date.now()}`;
  const gw = await startGateway(
    broker.brokers,
    { mqtt: { routes: [{ filter: 'bench/#', topic: mqttTopic }], maxInflight: 1000 }, schemaRegistry: { bindings: BENCH_BINDINGS } },
    options.profileDir === undefined ? {} : { cpuProfileDir: options.profileDir },
  );
  const results: ProduceResult[] = [];
  try {
    await createTopic(broker.brokers, mqttTopic);
    const wanted = (id: string) => options.only === undefined || options.only.includes(id);
    const run = async (list: Path[]) => {
      let raw: number | undefined;
      let restV1: number | undefined;
      for (const path of list) {
        if (!path.id.startsWith('kafkajs') && !wanted(path.id)) continue;
        const topic = path.name.startsWith('MQTT') ? mqttTopic : `${path.topicPrefix ?? 'produce'}-${results.length}-${Date.now()}`;
        if (!path.name.startsWith('MQTT')) await createTopic(broker.brokers, topic);
        process.stdout.write(`produce ${path.name} … `);
        const m = await measure(path, topic, gw.pid, warmupMs, windowMs);
        const perSec = m.records / m.seconds;
        raw ??= perSec;
        if (path.id === 'rest-v1') restV1 = perSec;
        results.push({
          path: path.name,
          batch: path.batch,
          concurrency: path.concurrency,
          seconds: Number(m.seconds.toFixed(2)),
          records: m.records,
          recordsPerSec: Math.round(perSec),
          rawRecordsPerSec: Math.round(raw),
          ratio: Number((perSec / raw).toFixed(2)),
          ...(path.topicPrefix !== undefined && restV1 !== undefined ? { vsRestV1: Number((perSec / restV1).toFixed(2)) } : {}),
          p50Ms: Number(m.hist.quantile(0.5).toFixed(2)),
          p99Ms: Number(m.hist.quantile(0.99).toFixed(2)),
          gatewayCpuPct: path.name.startsWith('kafkajs') ? 0 : Math.round(m.gatewayCpuPct),
          clientCpuPct: Math.round(m.clientCpuPct),
        });
        process.stdout.write(`${fmt(perSec)} records/s\n`);
      }
      return raw!;
    };
    // A fresh broker and gateway are slower for their first seconds (JIT, first log segments, the
    // gateway's Kafka producer): measured without this, the first paths of a run (raw kafkajs,
    // REST v1) ran at a third of their later rate. Raw kafkajs, then REST v1, produce unmeasured.
    process.stdout.write('produce: warming the broker and the gateway up … ');
    for (const path of paths(gw, broker.brokers, batch, concurrency).slice(0, 2)) {
      const warmTopic = `produce-warm-${path.id}-${Date.now()}`;
      await createTopic(broker.brokers, warmTopic);
      await measure(path, warmTopic, gw.pid, options.quick ? 3000 : 10_000, 1000);
    }
    process.stdout.write('done\n');
    await run(paths(gw, broker.brokers, batch, concurrency));
    const raw1 = await run(mqttPaths(gw, broker.brokers, inflight));
    if (wanted('mqtt-qos0')) {
      process.stdout.write('produce MQTT QoS 0 … ');
      const q0 = await mqttQos0(gw, broker.brokers, mqttTopic, windowMs);
      const perSec = q0.records / q0.seconds;
      results.push({
        path: 'MQTT QoS 0 (until all in Kafka)',
        batch: 1,
        concurrency: 0,
        seconds: Number(q0.seconds.toFixed(2)),
        records: q0.records,
        recordsPerSec: Math.round(perSec),
        rawRecordsPerSec: Math.round(raw1),
        ratio: Number((perSec / raw1).toFixed(2)),
        p50Ms: NaN,
        p99Ms: NaN,
        gatewayCpuPct: Math.round(q0.gatewayCpuPct),
        clientCpuPct: Math.round(q0.clientCpuPct),
      });
      process.stdout.write(`${fmt(perSec)} records/s\n`);
    }
  } finally {
    await gw.stop();
    if (options.broker === undefined) await broker.stop();
  }
  printTable(`Produce (256 B JSON values; batch ${batch} × ${concurrency} in flight; MQTT: 1 per PUBLISH × ${inflight} in flight)`, produceRows(results));
  writeResult('produce', { warmupMs, windowMs, results });
  return results;
}

export function produceRows(results: ProduceResult[]): Record<string, string | number>[] {
  return results.map((r) => ({
    path: r.path,
    'batch×inflight': `${r.batch}×${r.concurrency || '∞'}`,
    'records/s': fmt(r.recordsPerSec),
    'raw kafkajs/s': fmt(r.rawRecordsPerSec),
    'gateway/raw': r.ratio.toFixed(2),
    'vs rest-v1': r.vsRestV1 === undefined ? '' : r.vsRestV1.toFixed(2),
    'p50 ms': fmt(r.p50Ms, 1),
    'p99 ms': fmt(r.p99Ms, 1),
    'gateway CPU %': r.gatewayCpuPct,
    'client CPU %': r.clientCpuPct,
  }));
}

if (process.argv[1]?.endsWith('produce.ts')) {
  const profileDir = profileFlag('produce');
  await runProduce({ ...benchFlags(), ...(profileDir === undefined ? {} : { profileDir }) });
}
