/**
 * The Confluent v2 contract route by route, as kafka-rest's sources answer (resources/v2/*,
 * entities/v2/*, KafkaConsumerManager, Errors, rest-utils' exception mappers), against the real
 * Kafka broker: status, Content-Type, and the body's fields with their JSON types. The differences
 * kept on purpose are listed in adapters/rest/README.md ("Differences from Confluent REST Proxy").
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';
import { http, V2, V2_BINARY, V2_JSON, type HttpResponse } from './http.js';

let gw: TestGateway;
let topic: string;
beforeAll(async () => {
  gw = await startTestGateway({ backend: 'kafka', config: { topics: { defaultPartitions: 2 } } });
  topic = uniqueTopic('v2contract');
  const seeded = await http('POST', url(`/topics/${topic}/partitions/0`), { headers: { 'content-type': V2_JSON }, body: { records: [{ key: 'k', value: { n: 0 } }, { value: { n: 1 } }] } });
  expect(seeded.status).toBe(200);
});
afterAll(async () => {
  await gw?.close();
});

const url = (path: string) => `${gw.httpUrl}${path}`;
const json = { 'content-type': V2 };

/** Status, media type (without parameters) and body of a response, for one assertion. */
function shape(res: HttpResponse): { status: number; type: string | undefined; body: unknown } {
  const type = res.headers['content-type'];
  return { status: res.status, type: typeof type === 'string' ? type.split(';')[0] : undefined, body: res.json ?? (res.text === '' ? '' : res.text) };
}

/** A v2 error: rest-utils' exception mappers answer 422s and Kafka-level failures as application/json, other refusals negotiated to v2. */
const refusal = (status: number, code: number, message?: string) => ({
  status,
  type: status === 422 || [40002, 40101, 40301, 42901, 50002, 50003, 50302].includes(code) ? 'application/json' : V2,
  body: { error_code: code, message: message ?? expect.any(String) },
});

async function newInstance(body: Record<string, unknown> = { format: 'json', 'auto.offset.reset': 'earliest' }): Promise<string> {
  const res = await http('POST', url(`/consumers/${uniqueId('contract')}`), { headers: json, body });
  expect(res.status).toBe(200);
  return res.json.base_uri as string;
}

describe('Confluent v2 topics, partitions, brokers (kafka-rest TopicsResource, PartitionsResource, BrokersResource)', () => {
  it('GET /topics: 200, a JSON array of names', async () => {
    const s = shape(await http('GET', url('/topics')));
    expect(s).toMatchObject({ status: 200, type: V2 });
    expect(Array.isArray(s.body)).toBe(true);
    expect(s.body).toContain(topic);
    expect((s.body as unknown[]).every((n) => typeof n === 'string')).toBe(true);
  });

  it('GET /topics/{t}: 200, GetTopicResponse {name, configs: string map, partitions: GetPartitionResponse[]}; missing 40401', async () => {
    const s = shape(await http('GET', url(`/topics/${topic}`)));
    expect(s).toMatchObject({ status: 200, type: V2 });
    const body = s.body as { name: string; configs: Record<string, unknown>; partitions: unknown[] };
    expect(Object.keys(body).sort()).toEqual(['configs', 'name', 'partitions']);
    expect(body.name).toBe(topic);
    expect(Object.values(body.configs).every((v) => typeof v === 'string')).toBe(true);
    expect(body.partitions).toEqual([0, 1].map((partition) => ({ partition, leader: 0, replicas: [{ broker: 0, leader: true, in_sync: true }] })));
    expect(shape(await http('GET', url(`/topics/${uniqueTopic('missing')}`)))).toEqual(refusal(404, 40401));
  });

  it('GET /topics/{t}/partitions: 200, GetPartitionResponse[]', async () => {
    const s = shape(await http('GET', url(`/topics/${topic}/partitions`)));
    expect(s).toEqual({ status: 200, type: V2, body: [0, 1].map((partition) => ({ partition, leader: 0, replicas: [{ broker: 0, leader: true, in_sync: true }] })) });
  });

  it('GET /topics/{t}/partitions/{p}: 200, one GetPartitionResponse; an absent or negative partition 40402; not an int 404/404', async () => {
    expect(shape(await http('GET', url(`/topics/${topic}/partitions/1`)))).toEqual({ status: 200, type: V2, body: { partition: 1, leader: 0, replicas: [{ broker: 0, leader: true, in_sync: true }] } });
    expect(shape(await http('GET', url(`/topics/${topic}/partitions/7`)))).toEqual(refusal(404, 40402, 'Partition not found.'));
    expect(shape(await http('GET', url(`/topics/${topic}/partitions/-1`)))).toEqual(refusal(404, 40402, 'Partition not found.'));
    expect(shape(await http('GET', url(`/topics/${topic}/partitions/one`)))).toEqual(refusal(404, 404, 'HTTP 404 Not Found'));
    expect(shape(await http('GET', url(`/topics/${topic}/partitions/99999999999`)))).toEqual(refusal(404, 404, 'HTTP 404 Not Found'));
  });

  it('GET /topics/{t}/partitions/{p}/offsets: 200, TopicPartitionOffsetResponse {beginning_offset, end_offset} as numbers', async () => {
    expect(shape(await http('GET', url(`/topics/${topic}/partitions/0/offsets`)))).toEqual({ status: 200, type: V2, body: { beginning_offset: 0, end_offset: 2 } });
    expect(shape(await http('GET', url(`/topics/${topic}/partitions/x/offsets`)))).toEqual(refusal(404, 404));
  });

  it('GET /brokers: 200, BrokerList {brokers: [ids]} — the gateway is broker 0', async () => {
    expect(shape(await http('GET', url('/brokers')))).toEqual({ status: 200, type: V2, body: { brokers: [0] } });
  });

  it('POST /topics/{t}: 200, ProduceResponse {offsets: PartitionOffset[], key_schema_id, value_schema_id}; bad bodies 400 (mapping) / 422 (constraint, application/json)', async () => {
    const t = uniqueTopic('v2contract-produce');
    const s = shape(await http('POST', url(`/topics/${t}`), { headers: { 'content-type': V2_BINARY }, body: { records: [{ key: 'a2V5', value: 'dmFsdWU=', partition: 1 }, { value: null, partition: 1 }] } }));
    expect(s).toEqual({
      status: 200,
      type: V2,
      body: {
        offsets: [
          { partition: 1, offset: 0, error_code: null, error: null },
          { partition: 1, offset: 1, error_code: null, error: null },
        ],
        key_schema_id: null,
        value_schema_id: null,
      },
    });
    const raw = (body: string) => http('POST', url(`/topics/${t}`), { headers: { 'content-type': V2_JSON }, raw: body });
    expect(shape(await raw('[{"value":1}]'))).toEqual(refusal(400, 400));
    expect(shape(await raw('{"records":{"value":1}}'))).toEqual(refusal(400, 400));
    expect(shape(await raw('{"records":[1]}'))).toEqual(refusal(400, 400));
    expect(shape(await raw('{"records":[]}'))).toEqual(refusal(422, 422));
    expect(shape(await raw('{"records":null}'))).toEqual(refusal(422, 422));
    expect(shape(await raw('{"records":[{"value":'))).toEqual(refusal(400, 400));
    // Nothing of the refused requests was written.
    expect((await http('GET', url(`/topics/${t}/partitions/1/offsets`))).json).toEqual({ beginning_offset: 0, end_offset: 2 });
  });

  it('POST /topics/{t}/partitions/{p}: 200, ProduceResponse; not an int 404/404, a missing partition 40402', async () => {
    const s = shape(await http('POST', url(`/topics/${topic}/partitions/1`), { headers: { 'content-type': V2_JSON }, body: { records: [{ value: [1, 2] }] } }));
    expect(s).toEqual({ status: 200, type: V2, body: { offsets: [{ partition: 1, offset: expect.any(Number), error_code: null, error: null }], key_schema_id: null, value_schema_id: null } });
    expect(shape(await http('POST', url(`/topics/${topic}/partitions/p1`), { headers: { 'content-type': V2_JSON }, body: { records: [{ value: 1 }] } }))).toEqual(refusal(404, 404));
    expect(shape(await http('POST', url(`/topics/${topic}/partitions/5`), { headers: { 'content-type': V2_JSON }, body: { records: [{ value: 1 }] } }))).toEqual(refusal(404, 40402));
  });
});

describe('Confluent v2 consumer instances (kafka-rest ConsumersResource)', () => {
  it('POST /consumers/{g}: 200, CreateConsumerInstanceResponse {instance_id, base_uri}; id overrides name; format in any case', async () => {
    const group = uniqueId('contract-create');
    const s = shape(await http('POST', url(`/consumers/${group}`), { headers: json, body: { name: 'by-name', id: 'by-id', format: 'JSON', 'auto.commit.enable': 'FALSE' } }));
    expect(s).toEqual({ status: 200, type: V2, body: { instance_id: 'by-id', base_uri: url(`/consumers/${group}/instances/by-id`) } });
    // The instance is a json one: it serves the json embedded format.
    const base = (s.body as { base_uri: string }).base_uri;
    expect((await http('POST', `${base}/subscription`, { headers: json, body: { topics: [topic] } })).status).toBe(204);
    const read = await http('GET', `${base}/records?timeout=200`, { headers: { accept: V2_JSON } });
    expect([read.status, read.headers['content-type']]).toEqual([200, V2_JSON]);
    // No body at all: kafka-rest's PROTOTYPE request (binary, generated name).
    const bare = shape(await http('POST', url(`/consumers/${group}`)));
    expect(bare).toMatchObject({ status: 200, type: V2, body: { instance_id: expect.stringMatching(/^rest-consumer-/) } });

    expect(shape(await http('POST', url(`/consumers/${group}`), { headers: json, body: { name: 'by-id' } }))).toEqual(refusal(409, 40902));
    expect(shape(await http('POST', url(`/consumers/${group}`), { headers: json, body: { format: 'xml' } }))).toEqual(refusal(422, 422, 'Invalid format type.'));
    expect(shape(await http('POST', url(`/consumers/${group}`), { headers: json, body: { 'auto.offset.reset': 'sometimes' } }))).toEqual(refusal(422, 42204));
    expect(shape(await http('POST', url(`/consumers/${group}`), { headers: json, body: ['name'] }))).toEqual(refusal(400, 400));
    await http('DELETE', base);
    await http('DELETE', (bare.body as { base_uri: string }).base_uri);
  });

  it('DELETE …/instances/{i}: 204 with no body; then 40403', async () => {
    const base = await newInstance();
    const res = await http('DELETE', base);
    expect([res.status, res.text, res.headers['content-type']]).toEqual([204, '', undefined]);
    expect(shape(await http('DELETE', base))).toEqual(refusal(404, 40403, 'Consumer instance not found.'));
  });

  it('POST/GET/DELETE …/subscription: 204 / 200 ConsumerSubscriptionResponse {topics} / 204; topics wins over topic_pattern; [] unsubscribes; neither changes nothing', async () => {
    const base = await newInstance();
    const subscribe = (body: unknown) => http('POST', `${base}/subscription`, { headers: json, body });
    const current = async () => shape(await http('GET', `${base}/subscription`));
    const sub = await subscribe({ topics: [topic] });
    expect([sub.status, sub.text]).toEqual([204, '']);
    expect(await current()).toEqual({ status: 200, type: V2, body: { topics: [topic] } });
    expect((await subscribe({})).status).toBe(204);
    expect(await current()).toEqual({ status: 200, type: V2, body: { topics: [topic] } });
    expect((await subscribe({ topics: [], topic_pattern: 'x.*' })).status).toBe(204);
    expect(await current()).toEqual({ status: 200, type: V2, body: { topics: [] } });
    expect((await subscribe({ topics: [topic], topic_pattern: 'nothing-matches-this' })).status).toBe(204);
    expect(await current()).toEqual({ status: 200, type: V2, body: { topics: [topic] } });
    expect(shape(await subscribe({ topics: topic }))).toEqual(refusal(400, 400));
    const unsub = await http('DELETE', `${base}/subscription`);
    expect([unsub.status, unsub.text]).toEqual([204, '']);
    expect(await current()).toEqual({ status: 200, type: V2, body: { topics: [] } });
    await http('DELETE', base);
  });

  it('POST/GET …/assignments: 204 / 200 ConsumerAssignmentResponse {partitions: [{topic, partition}]}', async () => {
    const base = await newInstance();
    const res = await http('POST', `${base}/assignments`, { headers: json, body: { partitions: [{ topic, partition: 0 }] } });
    expect([res.status, res.text]).toEqual([204, '']);
    expect(shape(await http('GET', `${base}/assignments`))).toEqual({ status: 200, type: V2, body: { partitions: [{ topic, partition: 0 }] } });
    expect(shape(await http('POST', `${base}/assignments`, { headers: json, body: { partitions: { topic, partition: 0 } } }))).toEqual(refusal(400, 400));
    await http('DELETE', base);
  });

  it('POST …/positions, …/positions/beginning, …/positions/end: 204 with no body', async () => {
    const base = await newInstance();
    await http('POST', `${base}/assignments`, { headers: json, body: { partitions: [{ topic, partition: 0 }] } });
    for (const [suffix, body] of [
      ['', { offsets: [{ topic, partition: 0, offset: 1 }] }],
      ['/beginning', { partitions: [{ topic, partition: 0 }] }],
      ['/end', { partitions: [{ topic, partition: 0 }] }],
    ] as const) {
      const res = await http('POST', `${base}/positions${suffix}`, { headers: json, body });
      expect([suffix, res.status, res.text]).toEqual([suffix, 204, '']);
    }
    await http('DELETE', base);
  });

  it('GET …/records: 200, the embedded format as Content-Type, JsonConsumerRecord / BinaryConsumerRecord {topic, key, value, partition, offset}; timeout not a long 404/404', async () => {
    const jsonBase = await newInstance();
    await http('POST', `${jsonBase}/assignments`, { headers: json, body: { partitions: [{ topic, partition: 0 }] } });
    const records = await eventually(
      async () => {
        const res = await http('GET', `${jsonBase}/records?timeout=500`, { headers: { accept: V2_JSON } });
        expect([res.status, res.headers['content-type']]).toEqual([200, V2_JSON]);
        return (res.json as unknown[]).length >= 2 && res.json;
      },
      { what: 'two json records' },
    );
    expect(records.slice(0, 2)).toEqual([
      { topic, key: 'k', value: { n: 0 }, partition: 0, offset: 0 },
      { topic, key: null, value: { n: 1 }, partition: 0, offset: 1 },
    ]);
    expect(shape(await http('GET', `${jsonBase}/records?timeout=soon`, { headers: { accept: V2_JSON } }))).toEqual(refusal(404, 404));
    expect(shape(await http('GET', `${jsonBase}/records`, { headers: { accept: V2_BINARY } }))).toEqual(refusal(406, 40601));

    const binBase = await newInstance({ format: 'binary', 'auto.offset.reset': 'earliest' });
    await http('POST', `${binBase}/assignments`, { headers: json, body: { partitions: [{ topic, partition: 0 }] } });
    const bin = await eventually(
      async () => {
        // max_bytes ≤ 0 is "no limit" (kafka-rest), not a refusal.
        const res = await http('GET', `${binBase}/records?timeout=500&max_bytes=-1`, { headers: { accept: V2_BINARY } });
        expect([res.status, res.headers['content-type']]).toEqual([200, V2_BINARY]);
        return (res.json as unknown[]).length >= 1 && res.json;
      },
      { what: 'a binary record' },
    );
    expect(bin[0]).toEqual({ topic, key: Buffer.from('k').toString('base64'), value: Buffer.from('{"n":0}').toString('base64'), partition: 0, offset: 0 });
    await http('DELETE', jsonBase);
    await http('DELETE', binBase);
  });

  it('POST …/offsets: 200, CommitOffsetsResponse (a JSON array, empty); GET …/offsets: 200 ConsumerCommittedResponse {offsets: [{topic, partition, offset, metadata}]}; GET without a body 40402', async () => {
    const base = await newInstance({ format: 'json', 'auto.offset.reset': 'earliest', 'auto.commit.enable': 'false' });
    await http('POST', `${base}/subscription`, { headers: json, body: { topics: [topic] } });
    await eventually(async () => ((await http('GET', `${base}/records?timeout=300`, { headers: { accept: V2_JSON } })).json as { partition: number }[]).some((r) => r.partition === 0), {
      what: 'a record of partition 0',
    });
    const commit = await http('POST', `${base}/offsets`, { headers: json, body: { offsets: [{ topic, partition: 0, offset: 0 }] } });
    expect(shape(commit)).toEqual({ status: 200, type: V2, body: [] });
    expect(commit.text).toBe('[]');
    // An empty body commits everything returned so far: the same answer.
    expect(shape(await http('POST', `${base}/offsets`, { headers: json }))).toEqual({ status: 200, type: V2, body: [] });

    const committed = shape(await http('GET', `${base}/offsets`, { headers: json, body: { partitions: [{ topic, partition: 0 }] } }));
    expect(committed).toEqual({ status: 200, type: V2, body: { offsets: [{ topic, partition: 0, offset: expect.any(Number), metadata: '' }] } });
    expect(shape(await http('GET', `${base}/offsets`))).toEqual(refusal(404, 40402, 'Partition not found.'));
    await http('DELETE', base);
  });
});
