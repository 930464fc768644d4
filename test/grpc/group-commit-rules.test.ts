/**
 * Group commits through a gRPC Session against the real Kafka broker (issue 16, finding 7): a
 * commit frame is accepted only for partitions the member is assigned and offsets between the
 * log start and the log end, checked for the whole frame before anything is written. What was
 * committed is read straight from the broker (kafkajs admin `fetchOffsets`).
 */
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { kafkaBrokers } from '../support/kafka.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';
import { call, SessionRecorder, stubFor } from './helpers.js';

let gw: TestGateway;
let stub: ReturnType<typeof stubFor>;
let admin: Admin;
beforeAll(async () => {
  gw = await startTestGateway({ config: { groups: { heartbeatMs: 200, sessionTimeoutMs: 3000 } } });
  stub = stubFor(gw.ports.grpc);
  admin = new Kafka({ brokers: [kafkaBrokers()], clientId: 'grpc-commit-rules', logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
});
afterAll(async () => {
  stub?.close();
  await admin?.disconnect();
  await gw?.close();
});

async function brokerOffsets(group: string, topic: string): Promise<Record<number, string>> {
  const [t] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  return Object.fromEntries(t!.partitions.map((p) => [p.partition, p.offset]));
}

describe('gRPC Session group commit rules (Kafka)', () => {
  it('refuses a commit past the log end or of a partition not assigned, writes nothing of the frame, accepts a valid one', async () => {
    const topic = uniqueTopic('grpc-commit-rules');
    const group = uniqueId('grpc-commit-rules');
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
    // Log end 3 on partition 0, 2 on partition 1.
    await call(stub, 'Produce', { topic, partition: 0, records: [0, 1, 2].map((i) => ({ value: Buffer.from(`v${i}`) })) });
    await call(stub, 'Produce', { topic, partition: 1, records: [3, 4].map((i) => ({ value: Buffer.from(`v${i}`) })) });
    // gRPC members auto-commit their acknowledged prefix (here: nothing acknowledged, offset 0 at
    // most), so partition 1 reads "none yet" or 0 until someone commits it explicitly.
    const unset = ['-1', '0'];

    const a = new SessionRecorder(stub);
    a.send({ subscribe: { id: 'g', topic, group, member_id: 'a', position: { earliest: {} }, credit: 100 } });
    await a.waitFor('subscribed');
    await eventually(() => a.records('g').length === 5);

    a.send({ commit: { id: 'c1', subscription_id: 'g', offsets: [{ partition: 0, offset: '2' }] } });
    await a.waitFor('committed', (f) => f.id === 'c1');
    expect((await brokerOffsets(group, topic))[0]).toBe('2');

    // 999 with the log end at 3.
    a.send({ commit: { id: 'c2', subscription_id: 'g', offsets: [{ partition: 0, offset: '999' }] } });
    expect(await a.waitFor('error', (f) => f.id === 'c2')).toMatchObject({ code: 'OUT_OF_RANGE', retriable: false });
    // A valid offset in the same frame as a bad one is not written either.
    a.send({ commit: { id: 'c3', subscription_id: 'g', offsets: [{ partition: 0, offset: '3' }, { partition: 1, offset: '999' }] } });
    expect(await a.waitFor('error', (f) => f.id === 'c3')).toMatchObject({ code: 'OUT_OF_RANGE' });
    // A partition the topic does not have is not assigned either.
    a.send({ commit: { id: 'c4', subscription_id: 'g', offsets: [{ partition: 9, offset: '0' }] } });
    expect(await a.waitFor('error', (f) => f.id === 'c4')).toMatchObject({ code: 'FAILED_PRECONDITION' });
    let broker = await brokerOffsets(group, topic);
    expect(broker[0]).toBe('2');
    expect(unset).toContain(broker[1]);

    // A second member takes partition 1 (the join returns after this instance rebalanced both):
    // `a` may no longer commit it, even at an offset inside the log; `b` may.
    const b = new SessionRecorder(stub);
    b.send({ subscribe: { id: 'g', topic, group, member_id: 'b', position: { earliest: {} }, credit: 100 } });
    expect((await b.waitFor('subscribed')).positions).toEqual({ '1': '0' });
    a.send({ commit: { id: 'c5', subscription_id: 'g', offsets: [{ partition: 1, offset: '2' }] } });
    expect(await a.waitFor('error', (f) => f.id === 'c5')).toMatchObject({ code: 'FAILED_PRECONDITION' });
    broker = await brokerOffsets(group, topic);
    expect(broker[0]).toBe('2');
    expect(unset).toContain(broker[1]);
    b.send({ commit: { id: 'c6', subscription_id: 'g', offsets: [{ partition: 1, offset: '2' }] } });
    await b.waitFor('committed', (f) => f.id === 'c6');
    expect(await brokerOffsets(group, topic)).toEqual({ 0: '2', 1: '2' });
    a.close();
    b.close();
  });
});
