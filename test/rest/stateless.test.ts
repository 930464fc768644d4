/**
 * No sticky load balancer needed: a Confluent v2 consumer instance created through gateway A is
 * read, committed and deleted through gateway B (both on one Kafka), and A lets go of it.
 */
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { kafkaBrokers } from '../support/kafka.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';
import { http, V2, V2_JSON } from './http.js';

let a: TestGateway;
let b: TestGateway;
beforeAll(async () => {
  a = await startTestGateway({ config: { groups: { heartbeatMs: 200, sessionTimeoutMs: 2000 } } });
  b = await startTestGateway({ config: { groups: { heartbeatMs: 200, sessionTimeoutMs: 2000 } } });
});
afterAll(async () => {
  await Promise.allSettled([a?.close(), b?.close()]);
});

async function poll(base: string, count: number): Promise<any[]> {
  const seen: any[] = [];
  await eventually(
    async () => {
      const res = await http('GET', `${base}/records?timeout=300`, { headers: { accept: V2_JSON } });
      expect(res.status).toBe(200);
      seen.push(...res.json);
      return seen.length >= count;
    },
    { what: `${count} records`, timeoutMs: 15_000 },
  );
  return seen;
}

it('serves a consumer instance created through A from B: read, commit, delete; A answers 40403 afterwards', async () => {
  const topic = uniqueTopic('stateless');
  const group = uniqueId('g');
  const produce = (from: number, n: number) =>
    http('POST', `${a.httpUrl}/topics/${topic}`, { headers: { 'content-type': V2_JSON }, body: { records: Array.from({ length: n }, (_, i) => ({ value: { seq: from + i } })) } });
  expect((await produce(0, 5)).status).toBe(200);

  const created = await http('POST', `${a.httpUrl}/consumers/${group}`, { headers: { 'content-type': V2 }, body: { name: 'c1', format: 'json', 'auto.offset.reset': 'earliest', 'auto.commit.enable': 'false' } });
  expect(created.status).toBe(200);
  const path = `/consumers/${group}/instances/c1`;
  expect((await http('POST', `${a.httpUrl}${path}/subscription`, { headers: { 'content-type': V2 }, body: { topics: [topic] } })).status).toBe(204);
  const first = await poll(`${a.httpUrl}${path}`, 5);
  expect(first.map((r) => r.value.seq)).toEqual([0, 1, 2, 3, 4]);
  const commit = await http('POST', `${a.httpUrl}${path}/offsets`, { headers: { 'content-type': V2 }, body: { offsets: [{ topic, partition: 0, offset: 4 }] } });
  expect(commit.status).toBe(200);

  // The same instance through B: same subscription, continuing from the committed offset.
  expect((await produce(5, 3)).status).toBe(200);
  const viaB = `${b.httpUrl}${path}`;
  expect((await http('GET', `${viaB}/subscription`)).json).toEqual({ topics: [topic] });
  const next = await poll(viaB, 3);
  expect(next.map((r) => r.value.seq)).toEqual([5, 6, 7]);
  expect((await http('POST', `${viaB}/offsets`, { headers: { 'content-type': V2 }, body: { offsets: [{ topic, partition: 0, offset: 7 }] } })).status).toBe(200);
  const committed = await http('GET', `${viaB}/offsets`, { headers: { 'content-type': V2 }, body: { partitions: [{ topic, partition: 0 }] } });
  expect(committed.json.offsets[0].offset).toBe(8);

  expect((await http('DELETE', viaB, { headers: { 'content-type': V2 } })).status).toBe(204);
  await eventually(async () => (await http('GET', `${a.httpUrl}${path}/subscription`)).json.error_code === 40403, { what: 'A no longer serves the deleted instance' });
  expect((await http('GET', `${viaB}/subscription`)).json.error_code).toBe(40403);
});

it('splits a group across gateways: a consumer through A and one through B each read their own partitions', async () => {
  const topic = uniqueTopic('split');
  const group = uniqueId('g');
  const admin = new Kafka({ brokers: [kafkaBrokers()], logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
  await admin.disconnect();
  const records = Array.from({ length: 20 }, (_, i) => ({ partition: i % 2, value: { seq: i } }));
  expect((await http('POST', `${a.httpUrl}/topics/${topic}`, { headers: { 'content-type': V2_JSON }, body: { records } })).status).toBe(200);

  const join = async (gw: TestGateway, name: string) => {
    const path = `${gw.httpUrl}/consumers/${group}/instances/${name}`;
    expect((await http('POST', `${gw.httpUrl}/consumers/${group}`, { headers: { 'content-type': V2 }, body: { name, format: 'json', 'auto.offset.reset': 'earliest' } })).status).toBe(200);
    expect((await http('POST', `${path}/subscription`, { headers: { 'content-type': V2 }, body: { topics: [topic] } })).status).toBe(204);
    return path;
  };
  const viaA = await join(a, 'ca');
  const viaB = await join(b, 'cb');
  // Each gateway sees the other's member and keeps one partition.
  const assigned = async (path: string) => ((await http('GET', `${path}/assignments`)).json.partitions as { partition: number }[]).map((p) => p.partition);
  await eventually(async () => (await assigned(viaA)).join() === '0' && (await assigned(viaB)).join() === '1', { what: 'ca: [0], cb: [1]', timeoutMs: 15_000 });
  const fromA = await poll(viaA, 10);
  const fromB = await poll(viaB, 10);
  expect(fromA.map((r) => r.partition)).toEqual(Array(10).fill(0));
  expect(fromB.map((r) => r.partition)).toEqual(Array(10).fill(1));
  expect([...fromA, ...fromB].map((r) => r.value.seq).sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i));
});
