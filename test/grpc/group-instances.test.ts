/**
 * A gRPC group spanning two gateways on one Kafka: a Session on each instance, one partition
 * each, every record once.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { StreamGatewayClient } from '../../clients/ts/node/index.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';
import { call, SessionRecorder, stubFor } from './helpers.js';

let a: TestGateway;
let b: TestGateway;
let stubA: StreamGatewayClient;
let stubB: StreamGatewayClient;
const config = { topics: { defaultPartitions: 2 }, groups: { heartbeatMs: 200, sessionTimeoutMs: 2000 } };
beforeAll(async () => {
  a = await startTestGateway({ config });
  b = await startTestGateway({ config });
  stubA = stubFor(a.ports.grpc);
  stubB = stubFor(b.ports.grpc);
});
afterAll(async () => {
  stubA?.close();
  stubB?.close();
  await Promise.allSettled([a?.close(), b?.close()]);
});

async function setup() {
  const topic = uniqueTopic('grpc-multi');
  const group = uniqueId('grpc-multi');
  const fill = (from: number) =>
    Promise.all([0, 1].map((partition) => call(stubA, 'Produce', { topic, partition, records: Array.from({ length: 3 }, (_, i) => ({ value: Buffer.from(String(from + i)) })) })));
  await fill(0);
  const join = async (stub: StreamGatewayClient, member: string) => {
    const s = new SessionRecorder(stub);
    s.send({ subscribe: { id: 'g', topic, group, member_id: member, position: { earliest: {} }, credit: 0 } });
    await s.waitFor('subscribed', (f) => f.id === 'g');
    return s;
  };
  const sa = await join(stubA, 'member-a');
  const sb = await join(stubB, 'member-b');
  // Both instances see each other before credit is granted, so no partition is read twice.
  const partsOn = (gw: TestGateway) => gw.core.groups.localAssignment(group).flatMap((m) => m.partitions.map((p) => p.partition));
  await eventually(() => partsOn(a).join() === '0' && partsOn(b).join() === '1', { what: 'A: [0], B: [1]' });
  sa.send({ credit: { subscription_id: 'g', records: 100 } });
  sb.send({ credit: { subscription_id: 'g', records: 100 } });
  await eventually(() => sa.records('g').length === 3 && sb.records('g').length === 3, { timeoutMs: 20_000, what: 'three records on each instance' });
  return { sa, sb, topic, group };
}

it('splits a group between sessions on two gateways: one partition each, every record once', async () => {
  const { sa, sb } = await setup();
  const partitionsOf = (s: SessionRecorder) => [...new Set(s.records('g').map((r) => r.partition))];
  expect(partitionsOf(sa)).toEqual([0]);
  expect(partitionsOf(sb)).toEqual([1]);
  sa.close();
  sb.close();
});

it('moves a partition to the remaining session when the other leaves: it resumes after the acked records and keeps streaming', async () => {
  const { sa, sb, topic, group } = await setup();
  const ackAll = (s: SessionRecorder) => {
    for (const r of s.records('g')) s.send({ ack: { subscription_id: 'g', partition: r.partition, offset: r.offset } });
  };
  ackAll(sa);
  ackAll(sb);
  // B commits what it acknowledged, so A starts partition 1 after it.
  sb.send({ commit: { id: 'c1', subscription_id: 'g' } });
  await sb.waitFor('committed', (f) => f.id === 'c1');
  sb.close();
  const partsOnA = () => a.core.groups.localAssignment(group).flatMap((m) => m.partitions.map((p) => p.partition)).join();
  await eventually(() => partsOnA() === '0,1', { timeoutMs: 20_000, what: 'A owns both partitions' });
  await Promise.all(
    [0, 1].map((partition) => call(stubA, 'Produce', { topic, partition, records: Array.from({ length: 3 }, (_, i) => ({ value: Buffer.from(`late-${i}`) })) })),
  );
  const offsetsOn = (partition: number) => sa.records('g').filter((r) => r.partition === partition).map((r) => r.offset);
  await eventually(() => offsetsOn(1).length >= 3 && offsetsOn(0).length >= 6, { timeoutMs: 20_000, what: 'the new records of both partitions on A' });
  expect(offsetsOn(1)).toEqual(['3', '4', '5']);
  expect(offsetsOn(0)).toEqual(['0', '1', '2', '3', '4', '5']);
  sa.close();
});
