/**
 * Kafka-only behaviour of the Kafka backend, against real brokers: the shared harness broker for
 * most tests, and a broker of its own for the outage test (stopped and started again).
 * The behaviour both backends share is in test/conformance/.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import kafkajs from 'kafkajs';
import { pino } from 'pino';
import { GatewayError, type Code } from '../../errors.js';
import type { ProduceResult } from '../../record.js';
import { startKafkaHarness, type KafkaHarness } from '../../../test/kafka/harness.js';
import { kafkaBrokers } from '../../../test/support/kafka.js';
import { uniqueTopic } from '../../../test/support/names.js';
import { eventually } from '../../../test/support/wait.js';
import { KafkaBackend } from './index.js';

const { Kafka, CompressionTypes, Partitioners, logLevel } = kafkajs;
const b = (s: string): Buffer => Buffer.from(s, 'utf8');

async function codeOf(promise: Promise<unknown>): Promise<Code | 'resolved'> {
  try {
    await promise;
    return 'resolved';
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    return (err as GatewayError).code;
  }
}

function offsetsOf(results: ProduceResult[]): [number, bigint][] {
  return results.map((r) => {
    if (!r.ok) throw new Error(`not written: ${r.error.code}`);
    return [r.partition, r.offset];
  });
}

function newBackend(brokers: string): KafkaBackend {
  return new KafkaBackend({ brokers: [brokers], clientId: 'kafka-test', connectionTimeoutMs: 1000, logger: pino({ level: 'silent' }) });
}

describe('KafkaBackend (harness broker)', () => {
  let backend: KafkaBackend;

  beforeAll(async () => {
    backend = newBackend(kafkaBrokers());
    await backend.start();
  });
  afterAll(async () => {
    await backend?.close();
  });

  it('long-polls on several partitions at once without one holding up the other', async () => {
    const topic = uniqueTopic('kb-parallel');
    await backend.createTopic(topic, { partitions: 2 });
    const started = Date.now();
    let p0Done = false;
    const p0 = backend.fetch(topic, 0, 0n, { waitMs: 8000 }).then((r) => {
      p0Done = true;
      return r;
    });
    const p1 = backend.fetch(topic, 1, 0n, { waitMs: 8000 });
    await backend.produce(topic, [{ value: b('one'), partition: 1 }]);
    const r1 = await p1;
    // Kafka answers one connection's requests in order: on a shared connection partition 1's
    // fetch would only be answered after partition 0's 8 s long-poll.
    expect(Date.now() - started).toBeLessThan(4000);
    expect(r1.records.map((r) => r.value?.toString())).toEqual(['one']);
    expect(p0Done).toBe(false);
    await backend.produce(topic, [{ value: b('zero'), partition: 0 }]);
    expect((await p0).records.map((r) => r.value?.toString())).toEqual(['zero']);
  });

  it('an aborted long-poll is CANCELLED at once and the backend keeps serving', async () => {
    const topic = uniqueTopic('kb-abort');
    await backend.createTopic(topic, { partitions: 1 });
    const controller = new AbortController();
    const started = Date.now();
    const pending = backend.fetch(topic, 0, 0n, { waitMs: 10_000, signal: controller.signal });
    setTimeout(() => controller.abort(), 200);
    expect(await codeOf(pending)).toBe('CANCELLED');
    expect(Date.now() - started).toBeLessThan(2000);
    await backend.produce(topic, [{ value: b('after'), partition: 0 }]);
    const res = await backend.fetch(topic, 0, 0n, { waitMs: 1000 });
    expect(res.records.map((r) => r.value?.toString())).toEqual(['after']);
  });

  it('reports per record which partition batch failed (MESSAGE_TOO_LARGE) and writes the rest', async () => {
    const topic = uniqueTopic('kb-partial');
    await backend.createTopic(topic, { partitions: 2, config: { 'max.message.bytes': '2048' } });
    const results = await backend.produce(topic, [
      { value: Buffer.alloc(10_000, 0x61), partition: 0 },
      { value: b('small-1'), partition: 1 },
      { value: b('small-0'), partition: 0 },
      { value: b('small-2'), partition: 1 },
    ]);
    expect(results.map((r) => r.ok)).toEqual([false, true, false, true]);
    for (const r of [results[0], results[2]]) if (!r.ok) expect([r.partition, r.error.code]).toEqual([0, 'MESSAGE_TOO_LARGE']);
    expect(results.filter((r) => r.ok).map((r) => r.ok && [r.partition, r.offset])).toEqual([
      [1, 0n],
      [1, 1n],
    ]);
    const offsets = await backend.offsets(topic);
    expect(offsets).toEqual([
      { partition: 0, earliest: 0n, latest: 0n },
      { partition: 1, earliest: 0n, latest: 2n },
    ]);
  });

  it('keeps producing to other topics after a topic it wrote to was deleted', async () => {
    // kafkajs's own producer fails every later send in this situation (stale target topic).
    const gone = uniqueTopic('kb-gone');
    const other = uniqueTopic('kb-other');
    await backend.createTopic(gone, { partitions: 1 });
    await backend.produce(gone, [{ value: b('x') }]);
    await backend.deleteTopic(gone);
    await backend.createTopic(other, { partitions: 1 });
    expect(offsetsOf(await backend.produce(other, [{ value: b('y') }]))).toEqual([[0, 0n]]);
    expect(await codeOf(backend.produce(gone, [{ value: b('z') }]))).toBe('TOPIC_NOT_FOUND');
  });

  it('reads batches written by another Kafka client: compressed, from mid-batch, repeated headers', async () => {
    const topic = uniqueTopic('kb-interop');
    await backend.createTopic(topic, { partitions: 1 });
    const kafka = new Kafka({ brokers: [kafkaBrokers()], logLevel: logLevel.NOTHING });
    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    try {
      await producer.send({
        topic,
        compression: CompressionTypes.GZIP,
        messages: Array.from({ length: 5 }, (_, i) => ({
          key: `k${i}`,
          value: `v${i}`,
          headers: { trace: [`first-${i}`, `last-${i}`] },
        })),
      });
    } finally {
      await producer.disconnect();
    }
    // Kafka returns the whole (compressed) batch 0..4; the backend must start at offset 2.
    const res = await backend.fetch(topic, 0, 2n);
    expect(res.records.map((r) => [r.offset, r.key?.toString(), r.value?.toString(), r.headers.map((h) => `${h.name}=${h.value.toString()}`).join()])).toEqual([
      [2n, 'k2', 'v2', 'trace=first-2,trace=last-2'],
      [3n, 'k3', 'v3', 'trace=first-3,trace=last-3'],
      [4n, 'k4', 'v4', 'trace=first-4,trace=last-4'],
    ]);
    expect(res.nextOffset).toBe(5n);
    const limited = await backend.fetch(topic, 0, 1n, { maxRecords: 2 });
    expect(limited.records.map((r) => r.offset)).toEqual([1n, 2n]);
    expect(limited.nextOffset).toBe(3n);
  });

  it('deleteRecords moves the log start; reading below it is OUT_OF_RANGE', async () => {
    const topic = uniqueTopic('kb-delrec');
    await backend.createTopic(topic, { partitions: 1 });
    await backend.produce(topic, ['a', 'b', 'c', 'd'].map((v) => ({ value: b(v), partition: 0 })));
    await backend.deleteRecords(topic, 0, 2n);
    expect(await backend.offsets(topic)).toEqual([{ partition: 0, earliest: 2n, latest: 4n }]);
    const below = backend.fetch(topic, 0, 1n);
    await expect(below).rejects.toMatchObject({ code: 'OUT_OF_RANGE', details: { earliest: '2', latest: '4' } });
    expect((await backend.fetch(topic, 0, 2n)).records.map((r) => r.value?.toString())).toEqual(['c', 'd']);
    expect(await codeOf(backend.deleteRecords(topic, 0, 9n))).toBe('OUT_OF_RANGE');
  });

  it('start() against nothing listening is UNAVAILABLE', async () => {
    const dead = newBackend('127.0.0.1:1');
    expect(await codeOf(dead.start())).toBe('UNAVAILABLE');
    expect(await dead.healthy()).toBe(false);
    await dead.close();
  });
});

describe('KafkaBackend across a broker outage', () => {
  let broker: KafkaHarness;
  let backend: KafkaBackend;

  beforeAll(async () => {
    broker = await startKafkaHarness();
    backend = newBackend(broker.brokers);
    await backend.start();
  });
  afterAll(async () => {
    await backend?.close();
    await broker?.stop();
  });

  it('reports UNAVAILABLE while the broker is down, and works again when it is back', async () => {
    const topic = uniqueTopic('kb-outage');
    await backend.createTopic(topic, { partitions: 1 });
    expect(offsetsOf(await backend.produce(topic, [{ value: b('before'), partition: 0 }]))).toEqual([[0, 0n]]);
    const longPoll = backend.fetch(topic, 0, 1n, { waitMs: 5000 }).then(
      (r) => `records:${r.records.length}`,
      (err: unknown) => (err as GatewayError).code,
    );

    // A clean stop: after a hard kill the restarted broker waits out its old registration
    // (broker.session.timeout.ms, 9 s) before serving, which only makes the test slower.
    await broker.pause();
    const downAt = Date.now();
    // The pending long-poll ends (with an error or empty), it does not hang.
    const pollOutcome = await longPoll;
    expect(['UNAVAILABLE', 'TIMEOUT', 'records:0']).toContain(pollOutcome);
    const produced = await backend.produce(topic, [{ value: b('during'), partition: 0 }]);
    expect(produced[0].ok).toBe(false);
    if (!produced[0].ok) expect(['UNAVAILABLE', 'TIMEOUT']).toContain(produced[0].error.code);
    expect(await codeOf(backend.fetch(topic, 0, 0n))).toBe('UNAVAILABLE');
    expect(await backend.healthy()).toBe(false);
    expect(Date.now() - downAt).toBeLessThan(15_000);

    await broker.resume();
    await eventually(() => backend.healthy(), { timeoutMs: 20_000, what: 'healthy again' });
    const after = await eventually(
      async () => {
        const [r] = await backend.produce(topic, [{ value: b('after'), partition: 0 }]);
        return r.ok ? r : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 200, what: 'produce works again' },
    );
    expect(after.offset).toBe(1n);
    const res = await backend.fetch(topic, 0, 0n);
    expect(res.records.map((r) => r.value?.toString())).toEqual(['before', 'after']);
  }, 90_000);
});
