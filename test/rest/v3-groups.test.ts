/**
 * v3 consumer groups (kafka-rest ConsumerGroupsResource, ConsumersResource, ConsumerLagsResource,
 * ConsumerGroupLagSummariesResource) on both backends: the gateway's own groups (a REST v2
 * consumer instance here; gRPC and MQTT $share members live in the same membership table) and,
 * on Kafka, a Kafka-native group of a kafkajs consumer. Lag = log end − committed, and it drops
 * when the consumer reads and commits.
 */
import { createHash } from 'node:crypto';
import kafkajs from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { kafkaBrokers } from '../support/kafka.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';
import { http, V2, V2_JSON } from './http.js';

const JSON_TYPE = 'application/json';

describe.each(['embedded', 'kafka'] as const)('Confluent v3 consumer groups (%s backend)', (backend) => {
  let gw: TestGateway;
  let cluster: string;
  const url = (path: string) => `${gw.httpUrl}${path}`;
  const C = () => `/v3/clusters/${cluster}`;

  beforeAll(async () => {
    gw = await startTestGateway({ backend, config: { topics: { defaultPartitions: 2 }, embedded: { defaultPartitions: 2 } } });
    cluster = (await http('GET', url('/v3/clusters'))).json.data[0].cluster_id;
  });
  afterAll(async () => {
    await gw?.close();
  });

  const produce = async (topic: string, n: number, partition = 0) => {
    const res = await http('POST', url(`/topics/${topic}/partitions/${partition}`), { headers: { 'content-type': V2_JSON }, body: { records: Array.from({ length: n }, (_, i) => ({ value: { i } })) } });
    expect(res.status, res.text).toBe(200);
  };

  it("a streamgate group (REST v2 consumer instance): listed, its member in consumers, lags and lag-summary = latest − committed, dropping after a read and commit", async () => {
    const topic = uniqueTopic('v3g');
    const group = uniqueId('v3group');
    await produce(topic, 5, 0);
    await produce(topic, 2, 1);
    const created = await http('POST', url(`/consumers/${group}`), { headers: { 'content-type': V2 }, body: { name: 'member-1', format: 'json', 'auto.offset.reset': 'earliest', 'auto.commit.enable': 'false' } });
    expect(created.status).toBe(200);
    const inst = `/consumers/${group}/instances/member-1`;
    expect((await http('POST', url(`${inst}/subscription`), { headers: { 'content-type': V2 }, body: { topics: [topic] } })).status).toBe(204);
    // Read partition 0 up to offset 3 and commit there (offset = last processed, kafka-rest's v2 commit).
    await eventually(async () => (await http('GET', url(`${inst}/records?timeout=200`), { headers: { accept: V2_JSON } })).json?.length > 0);
    expect((await http('POST', url(`${inst}/offsets`), { headers: { 'content-type': V2 }, body: { offsets: [{ topic, partition: 0, offset: 2 }, { topic, partition: 1, offset: 0 }] } })).status).toBe(200);

    const groups = await http('GET', url(`${C()}/consumer-groups`));
    expect(groups.status).toBe(200);
    expect(groups.json).toMatchObject({ kind: 'KafkaConsumerGroupList', metadata: { self: `${gw.httpUrl}${C()}/consumer-groups`, next: null } });
    const gself = `${gw.httpUrl}${C()}/consumer-groups/${group}`;
    const entry = {
      kind: 'KafkaConsumerGroup',
      metadata: { self: gself, resource_name: `crn:///kafka=${cluster}/consumer-group=${group}` },
      cluster_id: cluster,
      consumer_group_id: group,
      is_simple: true,
      partition_assignor: 'range',
      state: 'STABLE',
      coordinator: null,
      consumers: { related: `${gself}/consumers` },
      lag_summary: { related: `${gself}/lag-summary` },
    };
    expect(groups.json.data.find((g: { consumer_group_id: string }) => g.consumer_group_id === group)).toEqual(entry);
    const one = await http('GET', url(`${C()}/consumer-groups/${group}`));
    expect({ status: one.status, type: one.headers['content-type'], body: one.json }).toEqual({ status: 200, type: JSON_TYPE, body: entry });

    const consumers = await http('GET', url(`${C()}/consumer-groups/${group}/consumers`));
    expect(consumers.json).toMatchObject({ kind: 'KafkaConsumerList', metadata: { self: `${gself}/consumers`, next: null } });
    expect(consumers.json.data).toEqual([
      {
        kind: 'KafkaConsumer',
        metadata: { self: `${gself}/consumers/member-1`, resource_name: `crn:///kafka=${cluster}/consumer-group=${group}/consumer=member-1` },
        cluster_id: cluster,
        consumer_group_id: group,
        consumer_id: 'member-1',
        instance_id: null,
        client_id: 'streamgate',
        assignments: { related: `${gself}/consumers/member-1/assignments` },
      },
    ]);
    expect((await http('GET', url(`${C()}/consumer-groups/${group}/consumers/member-1`))).json).toEqual(consumers.json.data[0]);
    expect((await http('GET', url(`${C()}/consumer-groups/${group}/consumers/nobody`))).json).toEqual({ error_code: 404, message: expect.any(String) });

    const lags = await http('GET', url(`${C()}/consumer-groups/${group}/lags`));
    expect(lags.json).toMatchObject({ kind: 'KafkaConsumerLagList', metadata: { self: `${gself}/lags`, next: null } });
    const lag = (p: number, current: number, end: number) => ({
      kind: 'KafkaConsumerLag',
      metadata: { self: `${gself}/lags/${topic}/partitions/${p}`, resource_name: `crn:///kafka=${cluster}/consumer-group=${group}/lag=${topic}/partition=${p}` },
      cluster_id: cluster,
      consumer_group_id: group,
      topic_name: topic,
      partition_id: p,
      current_offset: current,
      log_end_offset: end,
      lag: end - current,
      consumer_id: 'member-1',
      instance_id: null,
      client_id: 'streamgate',
    });
    expect(lags.json.data).toEqual([lag(0, 3, 5), lag(1, 1, 2)]);
    expect((await http('GET', url(`${C()}/consumer-groups/${group}/lags/${topic}/partitions/0`))).json).toEqual(lag(0, 3, 5));
    expect((await http('GET', url(`${C()}/consumer-groups/${group}/lags/${topic}/partitions/5`))).status).toBe(404);
    const summary = await http('GET', url(`${C()}/consumer-groups/${group}/lag-summary`));
    expect(summary.json).toEqual({
      kind: 'KafkaConsumerGroupLagSummary',
      metadata: { self: `${gself}/lag-summary`, resource_name: `crn:///kafka=${cluster}/consumer-group=${group}/lag-summary` },
      cluster_id: cluster,
      consumer_group_id: group,
      max_lag_consumer_id: 'member-1',
      max_lag_instance_id: null,
      max_lag_client_id: 'streamgate',
      max_lag_topic_name: topic,
      max_lag_partition_id: 0,
      max_lag: 2,
      total_lag: 3,
      max_lag_consumer: { related: `${gself}/consumers/member-1` },
      max_lag_partition: { related: `${gw.httpUrl}${C()}/topics/${topic}/partitions/0` },
    });

    // The consumer commits everything: the lag drops to 0.
    expect((await http('POST', url(`${inst}/offsets`), { headers: { 'content-type': V2 }, body: { offsets: [{ topic, partition: 0, offset: 4 }, { topic, partition: 1, offset: 1 }] } })).status).toBe(200);
    expect((await http('GET', url(`${C()}/consumer-groups/${group}/lag-summary`))).json).toMatchObject({ max_lag: 0, total_lag: 0 });

    // Once the instance is gone the group keeps its commits: EMPTY, no members.
    expect((await http('DELETE', url(inst))).status).toBe(204);
    const after = await http('GET', url(`${C()}/consumer-groups/${group}`));
    expect(after.json).toMatchObject({ consumer_group_id: group, state: 'EMPTY', is_simple: true });
    expect((await http('GET', url(`${C()}/consumer-groups/${group}/consumers`))).json.data).toEqual([]);
    expect((await http('GET', url(`${C()}/consumer-groups/${group}/lags`))).json.data.map((l: { consumer_id: string }) => l.consumer_id)).toEqual(['', '']);
  });

  it('an unknown group 404/404; an internal topic never shows in lags', async () => {
    const missing = await http('GET', url(`${C()}/consumer-groups/${uniqueId('nogroup')}`));
    expect({ status: missing.status, body: missing.json }).toEqual({ status: 404, body: { error_code: 404, message: expect.any(String) } });
    expect((await http('GET', url(`${C()}/consumer-groups/${uniqueId('nogroup')}/lags`))).status).toBe(404);
    const all = await http('GET', url(`${C()}/consumer-groups`));
    expect(all.json.data.some((g: { consumer_group_id: string }) => g.consumer_group_id.startsWith('__'))).toBe(false);
  });

  it.runIf(backend === 'kafka')('a Kafka-native group (kafkajs consumer): state STABLE, its member with client id and assignment, lag from its commits', async () => {
    const topic = uniqueTopic('v3native');
    const group = uniqueId('v3native');
    await produce(topic, 4, 0);
    const kafka = new kafkajs.Kafka({ brokers: [kafkaBrokers()], clientId: 'v3-test-client', logLevel: kafkajs.logLevel.NOTHING });
    const consumer = kafka.consumer({ groupId: group });
    await consumer.connect();
    try {
      await consumer.subscribe({ topics: [topic], fromBeginning: true });
      let seen = 0;
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ message, partition }) => {
          seen++;
          // Commit after the second record only: the group lags by 2 on partition 0.
          if (seen === 2) await consumer.commitOffsets([{ topic, partition, offset: (BigInt(message.offset) + 1n).toString() }]);
        },
      });
      const g = await eventually(async () => {
        const res = await http('GET', url(`${C()}/consumer-groups/${group}`));
        return res.status === 200 && res.json.state === 'STABLE' ? res.json : undefined;
      }, { timeoutMs: 30_000, what: 'the kafkajs group is STABLE' });
      expect(g).toMatchObject({ kind: 'KafkaConsumerGroup', consumer_group_id: group, is_simple: false, partition_assignor: 'RoundRobinAssigner' });
      const members = (await http('GET', url(`${C()}/consumer-groups/${group}/consumers`))).json.data;
      expect(members).toHaveLength(1);
      expect(members[0]).toMatchObject({ kind: 'KafkaConsumer', client_id: 'v3-test-client', consumer_group_id: group });
      const lags = await eventually(async () => {
        const l = (await http('GET', url(`${C()}/consumer-groups/${group}/lags`))).json.data;
        return l.length > 0 ? l : undefined;
      }, { timeoutMs: 20_000 });
      const partitions = (await http('GET', url(`/topics/${topic}`))).json.partitions.length as number;
      expect(lags.filter((l: { partition_id: number }) => l.partition_id === 0)).toEqual([
        expect.objectContaining({ topic_name: topic, partition_id: 0, current_offset: 2, log_end_offset: 4, lag: 2, consumer_id: members[0].consumer_id, client_id: 'v3-test-client' }),
      ]);
      expect(partitions).toBeGreaterThan(0);
    } finally {
      await consumer.disconnect();
    }
  });
});

describe('v3 groups with auth: only groups the principal holds a grant for (embedded)', () => {
  let gw: TestGateway;
  const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
  afterAll(async () => {
    await gw?.close();
  });

  it('a principal sees its groups only; another group is 403/40301; lags list only topics it may read', async () => {
    gw = await startTestGateway({
      backend: 'embedded',
      config: {
        auth: {
          apiKeys: [
            { id: 'a', sha256: sha256('key-a-0123456789'), grants: { read: ['v3ga-*'], write: ['v3ga-*'], groups: ['ga-*'] } },
            { id: 'b', sha256: sha256('key-b-0123456789'), grants: { read: ['v3gb-*'], write: ['v3gb-*'], groups: ['gb-*'] } },
          ],
        },
      },
    });
    const A = { authorization: 'Bearer key-a-0123456789' };
    const B = { authorization: 'Bearer key-b-0123456789' };
    const url = (path: string) => `${gw.httpUrl}${path}`;
    const cluster = (await http('GET', url('/v3/clusters'), { headers: A })).json.data[0].cluster_id;
    const topic = uniqueTopic('v3ga');
    const group = uniqueId('ga');
    expect((await http('POST', url(`/topics/${topic}`), { headers: { ...A, 'content-type': V2_JSON }, body: { records: [{ value: 1 }] } })).status).toBe(200);
    expect((await http('POST', url(`/consumers/${group}`), { headers: { ...A, 'content-type': V2 }, body: { name: 'm', 'auto.offset.reset': 'earliest' } })).status).toBe(200);
    expect((await http('POST', url(`/consumers/${group}/instances/m/subscription`), { headers: { ...A, 'content-type': V2 }, body: { topics: [topic] } })).status).toBe(204);
    await eventually(async () => (await http('GET', url(`/consumers/${group}/instances/m/records?timeout=200`), { headers: A })).json?.length > 0);
    expect((await http('POST', url(`/consumers/${group}/instances/m/offsets`), { headers: { ...A, 'content-type': V2 } })).status).toBe(200);

    const listA = (await http('GET', url(`/v3/clusters/${cluster}/consumer-groups`), { headers: A })).json.data.map((g: { consumer_group_id: string }) => g.consumer_group_id);
    expect(listA).toContain(group);
    const listB = (await http('GET', url(`/v3/clusters/${cluster}/consumer-groups`), { headers: B })).json.data.map((g: { consumer_group_id: string }) => g.consumer_group_id);
    expect(listB).not.toContain(group);
    const denied = await http('GET', url(`/v3/clusters/${cluster}/consumer-groups/${group}/lags`), { headers: B });
    expect({ status: denied.status, body: denied.json }).toEqual({ status: 403, body: { error_code: 40301, message: expect.any(String) } });
    const lags = (await http('GET', url(`/v3/clusters/${cluster}/consumer-groups/${group}/lags`), { headers: A })).json.data;
    expect(lags).toEqual([expect.objectContaining({ topic_name: topic, current_offset: 1, log_end_offset: 1, lag: 0 })]);
  });
});

describe('v3 groups: a gRPC group session is a member of a streamgate group (embedded)', () => {
  let gw: TestGateway;
  afterAll(async () => {
    await gw?.close();
  });

  it('the Session member shows in consumers with its assignment, and its commit in lags', async () => {
    const { call, SessionRecorder, stubFor } = await import('../grpc/helpers.js');
    gw = await startTestGateway({ backend: 'embedded' });
    const stub = stubFor(gw.ports.grpc);
    try {
      const url = (path: string) => `${gw.httpUrl}${path}`;
      const cluster = (await http('GET', url('/v3/clusters'))).json.data[0].cluster_id;
      const topic = uniqueTopic('v3grpc');
      const group = uniqueId('v3grpc');
      await call(stub, 'Produce', { topic, records: [0, 1, 2, 3].map((i) => ({ value: Buffer.from(`v${i}`) })) });
      const session = new SessionRecorder(stub);
      session.send({ subscribe: { id: 'g', topic, group, member_id: 'grpc-member', position: { earliest: {} }, credit: 100 } });
      await eventually(() => session.records('g').length === 4);
      session.send({ commit: { id: 'c', subscription_id: 'g', offsets: [{ partition: 0, offset: '1' }] } });
      await session.waitFor('committed');
      const members = (await http('GET', url(`/v3/clusters/${cluster}/consumer-groups/${group}/consumers`))).json.data;
      expect(members.map((m: { consumer_id: string }) => m.consumer_id)).toEqual(['grpc-member']);
      const lags = (await http('GET', url(`/v3/clusters/${cluster}/consumer-groups/${group}/lags`))).json.data;
      expect(lags).toEqual([expect.objectContaining({ topic_name: topic, partition_id: 0, current_offset: 1, log_end_offset: 4, lag: 3, consumer_id: 'grpc-member' })]);
      session.close();
    } finally {
      stub.close();
    }
  });
});
