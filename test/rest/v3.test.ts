/**
 * The Confluent v3 subset — clusters, topics, partitions, topic configs — route by route as
 * kafka-rest's v3 resources and entities answer (ClustersResource, TopicsResource,
 * PartitionsResource, TopicConfigsResource; `api/v3/openapi.yaml`), on both backends: status,
 * Content-Type, `kind`, `metadata.self` / `resource_name`, `related` links, list wrappers, errors,
 * and the admin grant on create and delete. Groups and lags: v3-groups.test.ts; records: v3-records.test.ts.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueTopic } from '../support/names.js';
import { http, type HttpResponse } from './http.js';

const JSON_TYPE = 'application/json';

/** Status, media type and body of a response, for one assertion. */
function shape(res: HttpResponse): { status: number; type: string | undefined; body: unknown } {
  const type = res.headers['content-type'];
  return { status: res.status, type: typeof type === 'string' ? type.split(';')[0] : undefined, body: res.json ?? (res.text === '' ? '' : res.text) };
}
const refusal = (status: number, code: number, message?: string | RegExp) => ({
  status,
  type: JSON_TYPE,
  body: { error_code: code, message: message === undefined ? expect.any(String) : typeof message === 'string' ? message : expect.stringMatching(message) },
});

describe.each(['embedded', 'kafka'] as const)('Confluent v3 clusters, topics, partitions, configs (%s backend)', (backend) => {
  let gw: TestGateway;
  let base: string;
  let cluster: string;
  let topic: string;
  const url = (path: string) => `${gw.httpUrl}${path}`;
  const C = () => `/v3/clusters/${cluster}`;

  beforeAll(async () => {
    gw = await startTestGateway({ backend, config: { topics: { defaultPartitions: 2 }, embedded: { defaultPartitions: 2 } } });
    base = gw.httpUrl;
    const list = await http('GET', url('/v3/clusters'));
    expect(list.status).toBe(200);
    cluster = list.json.data[0].cluster_id;
    topic = uniqueTopic('v3');
    const created = await http('POST', url(`${C()}/topics`), { headers: { 'content-type': JSON_TYPE }, body: { topic_name: topic, partitions_count: 3, configs: [{ name: 'cleanup.policy', value: 'compact' }, { name: 'retention.ms', value: '3600000' }] } });
    expect(created.status, created.text).toBe(201);
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('GET /v3/clusters: a KafkaClusterList of the one cluster; GET /v3/clusters/{id}: the KafkaCluster; another id 404/404', async () => {
    const s = shape(await http('GET', url('/v3/clusters')));
    expect(s).toMatchObject({ status: 200, type: JSON_TYPE });
    const body = s.body as { kind: string; metadata: unknown; data: Record<string, unknown>[] };
    expect(body.kind).toBe('KafkaClusterList');
    expect(body.metadata).toEqual({ self: `${base}/v3/clusters`, next: null });
    expect(body.data).toHaveLength(1);
    const c = body.data[0]!;
    expect(typeof c.cluster_id).toBe('string');
    expect((c.cluster_id as string).length).toBeGreaterThan(0);
    const self = `${base}/v3/clusters/${cluster}`;
    expect(c).toMatchObject({
      kind: 'KafkaCluster',
      metadata: { self, resource_name: `crn:///kafka=${cluster}` },
      acls: { related: `${self}/acls` },
      brokers: { related: `${self}/brokers` },
      broker_configs: { related: `${self}/broker-configs` },
      consumer_groups: { related: `${self}/consumer-groups` },
      topics: { related: `${self}/topics` },
      partition_reassignments: { related: `${self}/topics/-/partitions/-/reassignment` },
    });
    if (backend === 'kafka') expect(c.controller).toEqual({ related: expect.stringMatching(new RegExp(`^${self}/brokers/\\d+$`)) });
    else expect(c.controller).toBeNull();
    expect(shape(await http('GET', url(C())))).toEqual({ status: 200, type: JSON_TYPE, body: c });
    expect(shape(await http('GET', url('/v3/clusters/not-this-one')))).toEqual(refusal(404, 404, 'Cluster not-this-one cannot be found.'));
    expect(shape(await http('GET', url('/v3/clusters/not-this-one/topics')))).toEqual(refusal(404, 404));
  });

  it('topics: create 201 with the KafkaTopic, get, list (KafkaTopicList, next null), internal topics never listed', async () => {
    const self = `${base}${C()}/topics/${topic}`;
    const expected = {
      kind: 'KafkaTopic',
      metadata: { self, resource_name: `crn:///kafka=${cluster}/topic=${topic}` },
      cluster_id: cluster,
      topic_name: topic,
      is_internal: false,
      replication_factor: 1,
      partitions_count: 3,
      partitions: { related: `${self}/partitions` },
      configs: { related: `${self}/configs` },
      partition_reassignments: { related: `${self}/partitions/-/reassignment` },
    };
    expect(shape(await http('GET', url(`${C()}/topics/${topic}`)))).toEqual({ status: 200, type: JSON_TYPE, body: expected });
    const list = shape(await http('GET', url(`${C()}/topics`)));
    expect(list).toMatchObject({ status: 200, type: JSON_TYPE, body: { kind: 'KafkaTopicList', metadata: { self: `${base}${C()}/topics`, next: null } } });
    const data = (list.body as { data: { topic_name: string }[] }).data;
    expect(data.find((t) => t.topic_name === topic)).toEqual(expected);
    expect(data.some((t) => t.topic_name.startsWith('__'))).toBe(false);
    expect(shape(await http('GET', url(`${C()}/topics/${uniqueTopic('missing')}`)))).toEqual(refusal(404, 40403));
  });

  it('create: an existing topic 400/40002; bad partitions, unknown config, bad value 400/40002 and nothing created; no body 400', async () => {
    const post = (body: unknown) => http('POST', url(`${C()}/topics`), { headers: { 'content-type': JSON_TYPE }, body });
    expect(shape(await post({ topic_name: topic }))).toEqual(refusal(400, 40002));
    for (const bad of [
      { partitions_count: 0 },
      { partitions_count: 1_001 },
      { configs: [{ name: 'no.such.config', value: '1' }] },
      { configs: [{ name: 'cleanup.policy', value: 'sometimes' }] },
      { configs: [{ name: 'retention.ms', value: '1e9' }] },
      { validate_only: true },
    ]) {
      const name = uniqueTopic('v3bad');
      expect(shape(await post({ topic_name: name, ...bad })), JSON.stringify(bad)).toEqual(refusal(400, 40002));
      expect((await http('GET', url(`${C()}/topics/${name}`))).status).toBe(404);
    }
    expect(shape(await post({ topic_name: 'bad name!' }))).toEqual(refusal(400, 40002));
    expect(shape(await http('POST', url(`${C()}/topics`), { headers: { 'content-type': JSON_TYPE }, raw: '{"topic_name":' }))).toMatchObject({ status: 400 });
    // The embedded log keeps one copy; a one-broker Kafka cannot have two.
    expect(shape(await post({ topic_name: uniqueTopic('v3rf'), replication_factor: 2 }))).toEqual(refusal(400, 40002));
  });

  it('partitions: KafkaPartitionList and KafkaPartition with leader links where Kafka has them; a missing one 404/40403, not an int 404/404', async () => {
    const tself = `${base}${C()}/topics/${topic}`;
    const s = shape(await http('GET', url(`${C()}/topics/${topic}/partitions`)));
    expect(s).toMatchObject({ status: 200, type: JSON_TYPE, body: { kind: 'KafkaPartitionList', metadata: { self: `${tself}/partitions`, next: null } } });
    const data = (s.body as { data: Record<string, unknown>[] }).data;
    expect(data.map((p) => p.partition_id)).toEqual([0, 1, 2]);
    for (const p of data) {
      const self = `${tself}/partitions/${p.partition_id}`;
      expect(p).toMatchObject({
        kind: 'KafkaPartition',
        metadata: { self, resource_name: `crn:///kafka=${cluster}/topic=${topic}/partition=${p.partition_id}` },
        cluster_id: cluster,
        topic_name: topic,
        replicas: { related: `${self}/replicas` },
        reassignment: { related: `${self}/reassignment` },
      });
      if (backend === 'kafka') expect(p.leader).toEqual({ related: expect.stringMatching(new RegExp(`^${self}/replicas/\\d+$`)) });
      else expect(p.leader).toBeNull();
    }
    expect(shape(await http('GET', url(`${C()}/topics/${topic}/partitions/2`)))).toEqual({ status: 200, type: JSON_TYPE, body: data[2] });
    expect(shape(await http('GET', url(`${C()}/topics/${topic}/partitions/3`)))).toEqual(refusal(404, 40403));
    expect(shape(await http('GET', url(`${C()}/topics/${topic}/partitions/one`)))).toEqual(refusal(404, 404));
    expect(shape(await http('GET', url(`${C()}/topics/${uniqueTopic('missing')}/partitions`)))).toEqual(refusal(404, 40403));
  });

  it('configs: KafkaTopicConfigList with cleanup.policy and retention.ms as created (DYNAMIC_TOPIC_CONFIG); get one; an unknown name 404/404', async () => {
    const tself = `${base}${C()}/topics/${topic}`;
    const s = shape(await http('GET', url(`${C()}/topics/${topic}/configs`)));
    expect(s).toMatchObject({ status: 200, type: JSON_TYPE, body: { kind: 'KafkaTopicConfigList', metadata: { self: `${tself}/configs`, next: null } } });
    const data = (s.body as { data: Record<string, unknown>[] }).data;
    const byName = new Map(data.map((c) => [c.name, c]));
    expect(byName.get('cleanup.policy')).toEqual({
      kind: 'KafkaTopicConfig',
      metadata: { self: `${tself}/configs/cleanup.policy`, resource_name: `crn:///kafka=${cluster}/topic=${topic}/config=cleanup.policy` },
      cluster_id: cluster,
      topic_name: topic,
      name: 'cleanup.policy',
      value: 'compact',
      is_default: false,
      is_read_only: false,
      is_sensitive: false,
      source: 'DYNAMIC_TOPIC_CONFIG',
      synonyms: [],
    });
    expect(byName.get('retention.ms')).toMatchObject({ value: '3600000', is_default: false, source: 'DYNAMIC_TOPIC_CONFIG' });
    expect(byName.get('retention.bytes')).toMatchObject({ is_default: true, source: expect.stringMatching(/DEFAULT_CONFIG$/) });
    expect(shape(await http('GET', url(`${C()}/topics/${topic}/configs/retention.ms`)))).toEqual({ status: 200, type: JSON_TYPE, body: byName.get('retention.ms') });
    expect(shape(await http('GET', url(`${C()}/topics/${topic}/configs/no.such`)))).toEqual(refusal(404, 404));
  });

  it('delete: 204, then the topic, its partitions and configs are gone (404/40403); deleting it again 404/40403; an internal topic 403 and kept', async () => {
    const name = uniqueTopic('v3del');
    expect((await http('POST', url(`${C()}/topics`), { headers: { 'content-type': JSON_TYPE }, body: { topic_name: name } })).status).toBe(201);
    expect(shape(await http('DELETE', url(`${C()}/topics/${name}`)))).toEqual({ status: 204, type: undefined, body: '' });
    expect(shape(await http('GET', url(`${C()}/topics/${name}`)))).toEqual(refusal(404, 40403));
    // Nothing of it answers: its partitions and configs are gone with it.
    for (const path of ['partitions', 'partitions/0', 'configs', 'configs/cleanup.policy']) {
      expect(shape(await http('GET', url(`${C()}/topics/${name}/${path}`))), path).toEqual(refusal(404, 40403));
    }
    expect(shape(await http('DELETE', url(`${C()}/topics/${name}`)))).toEqual(refusal(404, 40403));
    // The gateway's own tables (group membership, instances) are internal: never deletable.
    for (const internal of ['__streamgate-group-members', '__streamgate-instances', '__consumer_offsets']) {
      expect(shape(await http('DELETE', url(`${C()}/topics/${internal}`))), internal).toEqual(refusal(403, 40301));
      expect(shape(await http('POST', url(`${C()}/topics`), { headers: { 'content-type': JSON_TYPE }, body: { topic_name: `${internal}-x` } }))).toEqual(refusal(403, 40301));
    }
    expect(shape(await http('GET', url(`${C()}/topics/__streamgate-group-members`)))).toEqual(refusal(403, 40301));
  });
});

describe('v3 auth: reads with read grants, create and delete need the admin grant (embedded backend)', () => {
  let gw: TestGateway;
  const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
  const READER = 'reader-key-0123456789';
  const ADMIN = 'admin-key-0123456789';
  const url = (path: string) => `${gw.httpUrl}${path}`;
  beforeAll(async () => {
    gw = await startTestGateway({
      backend: 'embedded',
      config: {
        auth: {
          apiKeys: [
            { id: 'reader', sha256: sha256(READER), grants: { read: ['v3auth-*'] } },
            { id: 'admin', sha256: sha256(ADMIN), grants: { admin: ['v3auth-*'], read: ['v3auth-*'] } },
          ],
        },
      },
    });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('no credentials 401/40101; a reader lists and reads but gets 403/40301 on create and delete; the admin creates and deletes', async () => {
    const as = (key: string) => ({ authorization: `Bearer ${key}`, 'content-type': JSON_TYPE });
    expect(shape(await http('GET', url('/v3/clusters')))).toEqual(refusal(401, 40101));
    const cluster = (await http('GET', url('/v3/clusters'), { headers: as(READER) })).json.data[0].cluster_id as string;
    const topic = uniqueTopic('v3auth');
    expect(shape(await http('POST', url(`/v3/clusters/${cluster}/topics`), { headers: as(READER), body: { topic_name: topic } }))).toEqual(refusal(403, 40301));
    expect((await http('GET', url(`/v3/clusters/${cluster}/topics/${topic}`), { headers: as(ADMIN) })).status).toBe(404);
    expect((await http('POST', url(`/v3/clusters/${cluster}/topics`), { headers: as(ADMIN), body: { topic_name: topic } })).status).toBe(201);
    // Outside the admin grant's pattern: refused although the principal is an admin elsewhere.
    expect(shape(await http('POST', url(`/v3/clusters/${cluster}/topics`), { headers: as(ADMIN), body: { topic_name: uniqueTopic('other') } }))).toEqual(refusal(403, 40301));
    const list = await http('GET', url(`/v3/clusters/${cluster}/topics`), { headers: as(READER) });
    expect(list.json.data.map((t: { topic_name: string }) => t.topic_name)).toEqual([topic]);
    expect((await http('GET', url(`/v3/clusters/${cluster}/topics/${topic}/configs`), { headers: as(READER) })).status).toBe(200);
    expect(shape(await http('DELETE', url(`/v3/clusters/${cluster}/topics/${topic}`), { headers: as(READER) }))).toEqual(refusal(403, 40301));
    expect((await http('GET', url(`/v3/clusters/${cluster}/topics/${topic}`), { headers: as(READER) })).status).toBe(200);
    expect((await http('DELETE', url(`/v3/clusters/${cluster}/topics/${topic}`), { headers: as(ADMIN) })).status).toBe(204);
  });

  it('the embedded cluster id is generated once and kept in the data dir: the same after a restart', async () => {
    const dataDir = (await import('node:fs')).mkdtempSync((await import('node:path')).join((await import('node:os')).tmpdir(), 'v3-cluster-'));
    const first = await startTestGateway({ backend: 'embedded', dataDir });
    const id1 = (await http('GET', `${first.httpUrl}/v3/clusters`)).json.data[0].cluster_id;
    await first.close();
    const second = await startTestGateway({ backend: 'embedded', dataDir });
    const id2 = (await http('GET', `${second.httpUrl}/v3/clusters`)).json.data[0].cluster_id;
    await second.close();
    const other = await startTestGateway({ backend: 'embedded' });
    const id3 = (await http('GET', `${other.httpUrl}/v3/clusters`)).json.data[0].cluster_id;
    await other.close();
    expect(id1).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(id2).toBe(id1);
    expect(id3).not.toBe(id1);
  });
});
