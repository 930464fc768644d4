/**
 * Confluent v2 commits and seeks against the real Kafka broker (issue 16, finding 7): a commit is
 * accepted only for partitions the instance is assigned and for offsets inside the log, checked
 * for the whole request before anything is written; a seek only moves inside the log. What was
 * committed is read back through `GET …/offsets` and straight from the broker (kafkajs admin).
 */
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { kafkaBrokers } from '../support/kafka.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';
import { http, V2, V2_JSON } from './http.js';

let gw: TestGateway;
let admin: Admin;
beforeAll(async () => {
  gw = await startTestGateway({ config: { groups: { heartbeatMs: 200, sessionTimeoutMs: 3000 } } });
  admin = new Kafka({ brokers: [kafkaBrokers()], clientId: 'v2-commit-rules', logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
});
afterAll(async () => {
  await admin?.disconnect();
  await gw?.close();
});

/** The group's committed offsets as the broker holds them: partition → offset (-1: none). */
async function brokerOffsets(group: string, topic: string): Promise<Record<number, string>> {
  const [t] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
  return Object.fromEntries(t!.partitions.map((p) => [p.partition, p.offset]));
}

const json = { 'content-type': V2 };

async function createSubscribed(group: string, name: string, topic: string): Promise<string> {
  const created = await http('POST', `${gw.httpUrl}/consumers/${group}`, { headers: json, body: { name, format: 'json', 'auto.offset.reset': 'earliest', 'auto.commit.enable': 'false' } });
  expect(created.status).toBe(200);
  const base = `${gw.httpUrl}/consumers/${group}/instances/${name}`;
  expect((await http('POST', `${base}/subscription`, { headers: json, body: { topics: [topic] } })).status).toBe(204);
  return base;
}

const assigned = async (base: string): Promise<number[]> =>
  ((await http('GET', `${base}/assignments`)).json.partitions as { partition: number }[]).map((p) => p.partition).sort();

async function committedVia(base: string, topic: string, partitions: number[]): Promise<unknown> {
  const res = await http('GET', `${base}/offsets`, { headers: { ...json, accept: V2 }, body: { partitions: partitions.map((partition) => ({ topic, partition })) } });
  expect(res.status).toBe(200);
  return res.json;
}

describe('v2 commit rules (Kafka)', () => {
  it('refuses offsets past the log end and partitions not assigned, whole request, nothing written; accepts a valid commit', async () => {
    const topic = uniqueTopic('v2commit');
    const group = uniqueId('v2commit');
    await admin.createTopics({ topics: [{ topic, numPartitions: 2 }], waitForLeaders: true });
    // Log end 3 on partition 0, 1 on partition 1.
    const records = [{ value: 0, partition: 0 }, { value: 1, partition: 0 }, { value: 2, partition: 0 }, { value: 3, partition: 1 }];
    expect((await http('POST', `${gw.httpUrl}/topics/${topic}`, { headers: { 'content-type': V2_JSON }, body: { records } })).status).toBe(200);

    const a = await createSubscribed(group, 'a', topic);
    expect(await assigned(a)).toEqual([0, 1]);

    // A valid commit: the body names the last record processed (1), the group stores 2.
    expect((await http('POST', `${a}/offsets`, { headers: json, body: { offsets: [{ topic, partition: 0, offset: 1 }] } })).status).toBe(200);
    expect(await committedVia(a, topic, [0])).toEqual({ offsets: [{ topic, partition: 0, offset: 2, metadata: '' }] });
    expect(await brokerOffsets(group, topic)).toEqual({ 0: '2', 1: '-1' });

    // 999 with the log end at 3: refused, the committed offset stays.
    const past = await http('POST', `${a}/offsets`, { headers: json, body: { offsets: [{ topic, partition: 0, offset: 999 }] } });
    expect([past.status, past.json.error_code]).toEqual([416, 41601]);
    // In the body's terms: the last record processed, so the log's last offset is 2.
    expect(past.json.message).toBe(`Cannot commit offset 999 of ${topic}/0: the log holds offsets 0 to 2 (a commit names the last record processed).`);
    // The whole request is checked first: the valid entry before the bad one is not written either.
    const mixed = await http('POST', `${a}/offsets`, { headers: json, body: { offsets: [{ topic, partition: 0, offset: 2 }, { topic, partition: 1, offset: 999 }] } });
    expect([mixed.status, mixed.json.error_code]).toEqual([416, 41601]);
    expect(await committedVia(a, topic, [0, 1])).toEqual({ offsets: [{ topic, partition: 0, offset: 2, metadata: '' }] });
    expect(await brokerOffsets(group, topic)).toEqual({ 0: '2', 1: '-1' });

    // Committing the log end itself (everything read) is inside the log.
    expect((await http('POST', `${a}/offsets`, { headers: json, body: { offsets: [{ topic, partition: 0, offset: 2 }] } })).status).toBe(200);
    expect(await brokerOffsets(group, topic)).toEqual({ 0: '3', 1: '-1' });

    // A second instance takes partition 1; `a` may no longer commit it (Kafka: no current assignment, 40903).
    const b = await createSubscribed(group, 'b', topic);
    await eventually(async () => (await assigned(a)).join() === '0' && (await assigned(b)).join() === '1', { what: 'a: [0], b: [1]' });
    const foreign = await http('POST', `${a}/offsets`, { headers: json, body: { offsets: [{ topic, partition: 1, offset: 0 }] } });
    expect([foreign.status, foreign.json.error_code]).toEqual([409, 40903]);
    const otherTopic = await http('POST', `${a}/offsets`, { headers: json, body: { offsets: [{ topic: uniqueTopic('elsewhere'), partition: 0, offset: 0 }] } });
    expect([otherTopic.status, otherTopic.json.error_code]).toEqual([409, 40903]);
    const noSuchPartition = await http('POST', `${a}/offsets`, { headers: json, body: { offsets: [{ topic, partition: 7, offset: 0 }] } });
    expect([noSuchPartition.status, noSuchPartition.json.error_code]).toEqual([409, 40903]);
    expect(await brokerOffsets(group, topic)).toEqual({ 0: '3', 1: '-1' });
    // Its owner may.
    expect((await http('POST', `${b}/offsets`, { headers: json, body: { offsets: [{ topic, partition: 1, offset: 0 }] } })).status).toBe(200);
    expect(await brokerOffsets(group, topic)).toEqual({ 0: '3', 1: '1' });

    expect((await http('DELETE', a)).status).toBe(204);
    expect((await http('DELETE', b)).status).toBe(204);
  });

  it('seeks only inside the log and only on assigned partitions; a refused request moves nothing', async () => {
    const topic = uniqueTopic('v2seek');
    const group = uniqueId('v2seek');
    await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
    const records = [{ value: 'r0' }, { value: 'r1' }, { value: 'r2' }];
    expect((await http('POST', `${gw.httpUrl}/topics/${topic}`, { headers: { 'content-type': V2_JSON }, body: { records } })).status).toBe(200);
    const a = await createSubscribed(group, 'a', topic);
    const read = async (n: number) => {
      const seen: any[] = [];
      await eventually(async () => {
        seen.push(...(await http('GET', `${a}/records?timeout=200`, { headers: { accept: V2_JSON } })).json);
        return seen.length >= n;
      });
      return seen.map((r) => r.value);
    };
    expect(await read(3)).toEqual(['r0', 'r1', 'r2']);

    const past = await http('POST', `${a}/positions`, { headers: json, body: { offsets: [{ topic, partition: 0, offset: 999 }] } });
    expect([past.status, past.json.error_code]).toEqual([416, 41601]);
    // The valid target before the refused one did not move either.
    const mixed = await http('POST', `${a}/positions`, { headers: json, body: { offsets: [{ topic, partition: 0, offset: 0 }, { topic, partition: 3, offset: 0 }] } });
    expect([mixed.status, mixed.json.error_code]).toEqual([409, 40903]);
    expect((await http('GET', `${a}/records?timeout=0`, { headers: { accept: V2_JSON } })).json).toEqual([]);

    expect((await http('POST', `${a}/positions`, { headers: json, body: { offsets: [{ topic, partition: 0, offset: 1 }] } })).status).toBe(204);
    expect(await read(2)).toEqual(['r1', 'r2']);
    expect((await http('DELETE', a)).status).toBe(204);
  });
});
