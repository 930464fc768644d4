/**
 * Gateway crash: `kill -9` instance A while MQTT QoS 1, REST and gRPC producers stream
 * sequence-numbered records to it. Every acknowledged record must be in Kafka exactly where its
 * ack said; the producers move to instance B and finish; subscribers that were reading through A
 * resume on B from their last position with no gap. Duplicates are allowed only for requests
 * that were in flight when A died (their outcome was unknown, so the producer sent them again),
 * and are counted against that bound.
 */
import kafkajs from 'kafkajs';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamRecord } from '../../clients/ts/browser/index.js';
import { StreamgateClient as GrpcClient } from '../../clients/ts/node/index.js';
import { kafkaBrokers } from '../support/kafka.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { killAllGateways, spawnGateway, type GatewayProcess } from '../support/process.js';
import { eventually } from '../support/wait.js';
import { browserClient, checkAcks, gapsAndRepeats, newLog, readTopicFromKafka, recordAck, seqValue, type Placement, type ProducerLog } from './helpers.js';

const { Kafka, logLevel } = kafkajs;

const PARTITIONS = 3;
/** Records each producer must get acknowledged in total (before and after the crash). */
const N = 500;
/** REST sends batches, so it writes more to stay mid-stream when A is killed. */
const REST_N = 2000;
const REST_BATCH = 5;

const prefix = uniqueId('crash');
const tRest = uniqueTopic('faults-crash-rest');
const tGrpc = uniqueTopic('faults-crash-grpc');
const tMqtt = uniqueTopic('faults-crash-mqtt');
let a: GatewayProcess;
let b: GatewayProcess;

beforeAll(async () => {
  const admin = new Kafka({ brokers: [kafkaBrokers()], clientId: 'faults-crash', logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    await admin.createTopics({ waitForLeaders: true, topics: [tRest, tGrpc, tMqtt].map((topic) => ({ topic, numPartitions: PARTITIONS })) });
  } finally {
    await admin.disconnect();
  }
  const env = { STREAMGATE_MQTT_ROUTES: `${prefix}/#=${tMqtt}` };
  a = await spawnGateway({ brokers: kafkaBrokers(), env, name: 'A' });
  b = await spawnGateway({ brokers: kafkaBrokers(), env, name: 'B' });
});

afterAll(async () => {
  await killAllGateways();
});

/** The instance producers should use right now: A until it is known dead, then B. */
let target: () => GatewayProcess = () => a;

async function restProducer(log: ProducerLog): Promise<void> {
  let seq = 1;
  while (seq <= REST_N) {
    const g = target();
    const batch = Array.from({ length: Math.min(REST_BATCH, REST_N - seq + 1) }, (_, i) => seq + i);
    const t0 = Date.now();
    let res: Response;
    try {
      res = await fetch(`${g.httpUrl}/v1/topics/${tRest}/records`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ records: batch.map((s) => ({ key: `k${s % 7}`, value: { src: log.source, seq: s } })) }),
        signal: AbortSignal.timeout(10_000),
      });
    } catch (err) {
      // Connection refused/reset: the outcome of this batch is unknown; send it again (to B).
      log.unknown += 1;
      log.errors.push({ seq, error: String(err), ms: Date.now() - t0 });
      continue;
    }
    const body = (await res.json()) as { offsets?: { partition: number; offset: string | null }[] };
    log.maxAttemptMs = Math.max(log.maxAttemptMs, Date.now() - t0);
    if (res.status !== 200) {
      log.errors.push({ seq, error: `HTTP ${res.status} ${JSON.stringify(body)}`, ms: Date.now() - t0 });
      continue;
    }
    batch.forEach((s, i) => {
      const o = body.offsets![i]!;
      recordAck(log, s, { partition: o.partition, offset: BigInt(o.offset!) });
    });
    seq += batch.length;
  }
}

async function grpcProducer(log: ProducerLog): Promise<void> {
  const clients = new Map<GatewayProcess, GrpcClient>();
  try {
    let seq = 1;
    while (seq <= N) {
      const g = target();
      let client = clients.get(g);
      if (client === undefined) clients.set(g, (client = new GrpcClient({ address: g.grpcAddress, timeoutMs: 10_000 })));
      const t0 = Date.now();
      try {
        const [ack] = await client.produce(tGrpc, [{ key: `k${seq % 7}`, value: seqValue(log.source, seq) }]);
        log.maxAttemptMs = Math.max(log.maxAttemptMs, Date.now() - t0);
        recordAck(log, seq, ack!);
        seq += 1;
      } catch (err) {
        log.unknown += 1;
        log.errors.push({ seq, error: String(err), ms: Date.now() - t0 });
      }
    }
  } finally {
    for (const c of clients.values()) c.close();
  }
}

/** One QoS 1 publish; rejects when the connection closes first (the PUBACK will never come). */
function publishQos1(client: MqttClient, topic: string, payload: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (!client.connected) return reject(new Error('not connected'));
    const onClose = (): void => reject(new Error('connection closed with the PUBLISH in flight'));
    client.once('close', onClose);
    client.publish(topic, payload, { qos: 1 }, (err) => {
      client.off('close', onClose);
      if (err) reject(err);
      else resolve();
    });
  });
}

async function mqttProducer(log: ProducerLog): Promise<void> {
  let client: MqttClient | undefined;
  let connectedTo: GatewayProcess | undefined;
  try {
    let seq = 1;
    while (seq <= N) {
      const g = target();
      if (connectedTo !== g || client?.connected !== true) {
        client?.end(true);
        connectedTo = g;
        client = mqtt.connect(g.mqttUrl, { protocolVersion: 5, clientId: uniqueId('crash-pub'), reconnectPeriod: 0, connectTimeout: 2000 });
        client.on('error', (err) => log.errors.push({ seq, error: `mqtt error ${String(err)}`, ms: 0 }));
        const ok = await new Promise<boolean>((resolve) => {
          client!.once('connect', () => resolve(true));
          client!.once('close', () => resolve(false));
        });
        if (!ok) continue;
      }
      const t0 = Date.now();
      try {
        await publishQos1(client, `${prefix}/dev/${seq % 5}`, seqValue(log.source, seq));
        log.maxAttemptMs = Math.max(log.maxAttemptMs, Date.now() - t0);
        // A PUBACK carries no offset: MQTT records are checked by sequence number only.
        recordAck(log, seq, { partition: -1, offset: -1n });
        seq += 1;
      } catch (err) {
        log.unknown += 1;
        log.errors.push({ seq, error: String(err), ms: Date.now() - t0 });
      }
    }
  } finally {
    client?.end(true);
  }
}

describe('kill -9 of a gateway instance under load', () => {
  it('loses no acknowledged record, producers finish on B, resumed subscribers see no gap', async () => {
    const rest = newLog('rest');
    const grpcLog = newLog('grpc');
    const mqttLog = newLog('mqtt');

    // Subscribers reading through A from the start.
    const wsSeen: Placement[] = [];
    const wsA = browserClient(a.wsUrl);
    const wsSubA = wsA.subscribe(tRest, { from: 'earliest' }, (records: StreamRecord[]) => {
      for (const r of records) wsSeen.push({ partition: r.partition, offset: BigInt(r.offset) });
    });
    await wsSubA.subscribed();
    const grpcSeen: Placement[] = [];
    const grpcA = new GrpcClient({ address: a.grpcAddress, reconnect: { initialDelayMs: 50, maxDelayMs: 200 } });
    const grpcSubA = grpcA.subscribe(tGrpc, { from: 'earliest' });
    const grpcLoopA = (async () => {
      for await (const r of grpcSubA) grpcSeen.push({ partition: r.partition, offset: r.offset });
    })();

    const producers = Promise.all([restProducer(rest), grpcProducer(grpcLog), mqttProducer(mqttLog)]);

    // Kill A in the middle of the stream: every producer has had acks from it, none is finished.
    await eventually(() => rest.acks.size >= 60 && grpcLog.acks.size >= 60 && mqttLog.acks.size >= 60, {
      timeoutMs: 20_000,
      what: 'acks from A on every protocol',
    });
    const ackedBeforeKill = { rest: rest.acks.size, grpc: grpcLog.acks.size, mqtt: mqttLog.acks.size };
    a.kill('SIGKILL');
    const exit = await a.exited;
    expect(exit.signal).toBe('SIGKILL');
    target = () => b;

    // Subscribers move to B from the position after the last record they received through A.
    const wsPositions = wsSubA.positions();
    wsA.close();
    grpcSubA.close();
    await grpcLoopA;
    const grpcPositions = new Map(grpcSubA.positions());
    grpcA.close();

    await producers;
    expect(rest.acks.size).toBe(REST_N);
    expect(grpcLog.acks.size).toBe(N);
    expect(mqttLog.acks.size).toBe(N);

    const wsB = browserClient(b.wsUrl);
    const wsSubB = wsB.subscribe(tRest, { from: { offsets: wsPositions, otherwise: 'earliest' } }, (records: StreamRecord[]) => {
      for (const r of records) wsSeen.push({ partition: r.partition, offset: BigInt(r.offset) });
    });
    const grpcB = new GrpcClient({ address: b.grpcAddress });
    const grpcSubB = grpcB.subscribe(tGrpc, {
      from: { offsets: Object.fromEntries(grpcPositions), otherwise: 'earliest' },
    });
    const grpcLoopB = (async () => {
      for await (const r of grpcSubB) grpcSeen.push({ partition: r.partition, offset: r.offset });
    })();

    // What Kafka holds, read directly (not through a gateway).
    const [kRest, kGrpc, kMqtt] = await Promise.all([tRest, tGrpc, tMqtt].map((t) => readTopicFromKafka(kafkaBrokers(), t)));
    const restCheck = checkAcks(rest, kRest!, REST_N);
    const grpcCheck = checkAcks(grpcLog, kGrpc!, N);
    const mqttCheck = checkAcks({ ...mqttLog, acks: new Map() }, kMqtt!, N);
    console.info(
      `[faults] crash: acked before kill ${JSON.stringify(ackedBeforeKill)}; unknown-outcome attempts rest=${rest.unknown} grpc=${grpcLog.unknown} mqtt=${mqttLog.unknown}; ` +
        `duplicates in Kafka rest=${restCheck.duplicates} grpc=${grpcCheck.duplicates} mqtt=${mqttCheck.duplicates}; A exited after ${exit.at} ms`,
    );
    // Every ack points at its own record.
    expect(restCheck.misplaced).toEqual([]);
    expect(grpcCheck.misplaced).toEqual([]);
    // Nothing acknowledged (and, since every producer finished, nothing at all) is missing.
    expect(restCheck.missing).toEqual([]);
    expect(grpcCheck.missing).toEqual([]);
    expect(mqttCheck.missing).toEqual([]);
    // Copies only from attempts whose outcome was unknown (at-least-once when a producer resends).
    expect(restCheck.duplicates).toBeLessThanOrEqual(rest.unknown * REST_BATCH);
    expect(grpcCheck.duplicates).toBeLessThanOrEqual(grpcLog.unknown);
    expect(mqttCheck.duplicates).toBeLessThanOrEqual(mqttLog.unknown);
    // MQTT order: per MQTT topic (one key → one partition) the seqs are increasing apart from resends.
    for (let t = 0; t < 5; t++) {
      const seqs = kMqtt!.filter((r) => r.key === `${prefix}/dev/${t}`).map((r) => (JSON.parse(r.value!) as { seq: number }).seq);
      const firsts = seqs.filter((s, i) => seqs.indexOf(s) === i);
      expect(firsts).toEqual([...firsts].sort((x, y) => x - y));
    }

    // Resumed subscribers: every offset up to the end of the log, each exactly once.
    const ends = (records: readonly { partition: number; offset: bigint }[]): Map<number, bigint> => {
      const m = new Map<number, bigint>();
      for (const r of records) if (r.offset + 1n > (m.get(r.partition) ?? 0n)) m.set(r.partition, r.offset + 1n);
      return m;
    };
    const total = (m: Map<number, bigint>): number => [...m.values()].reduce((s, v) => s + Number(v), 0);
    await eventually(() => wsSeen.length >= total(ends(kRest!)), { timeoutMs: 20_000, what: 'WebSocket subscriber caught up on B' });
    await eventually(() => grpcSeen.length >= total(ends(kGrpc!)), { timeoutMs: 20_000, what: 'gRPC subscriber caught up on B' });
    for (const [seen, records] of [
      [wsSeen, kRest!],
      [grpcSeen, kGrpc!],
    ] as const) {
      const sorted = [...seen].sort((x, y) => x.partition - y.partition || (x.offset < y.offset ? -1 : x.offset > y.offset ? 1 : 0));
      expect(gapsAndRepeats(sorted)).toEqual({ gaps: [], repeats: 0 });
      expect(ends(seen)).toEqual(ends(records));
    }
    // The in-order guarantee per partition held across the move (A's records, then B's, no going back).
    for (const seen of [wsSeen, grpcSeen]) expect(gapsAndRepeats(seen)).toEqual({ gaps: [], repeats: 0 });

    wsB.close();
    grpcSubB.close();
    await grpcLoopB;
    grpcB.close();
  }, 90_000);
});
