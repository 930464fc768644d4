/**
 * Confluent REST Proxy v2 against the real Kafka broker: the consumer lifecycle with the request
 * and response bodies of the Confluent API reference, the binary format, and every bad input.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';
import { http, V2, V2_BINARY, V2_JSON } from './http.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({ config: { topics: { defaultPartitions: 2 }, rest: { maxBodyBytes: 4096 } } });
});
afterAll(async () => {
  await gw?.close();
});

const url = (path: string) => `${gw.httpUrl}${path}`;

async function readRecords(base: string, accept: string, count: number): Promise<any[]> {
  const seen: any[] = [];
  await eventually(
    async () => {
      const res = await http('GET', `${base}/records?timeout=500&max_bytes=300000`, { headers: { accept } });
      expect(res.status).toBe(200);
      expect(res.headers['content-type']).toBe(accept);
      seen.push(...res.json);
      return seen.length >= count;
    },
    { what: `${count} records`, timeoutMs: 15_000 },
  );
  return seen;
}

async function endOffsets(topic: string): Promise<number[]> {
  const out: number[] = [];
  for (const p of [0, 1]) out.push((await http('GET', url(`/topics/${topic}/partitions/${p}/offsets`))).json.end_offset);
  return out;
}

describe('Confluent v2 consumer lifecycle (Kafka)', () => {
  it('creates, subscribes, reads json, commits, deletes, and a new instance of the group continues from the commit', async () => {
    const topic = uniqueTopic('v2life');
    const group = uniqueId('testgroup');

    // Produce: the "Example JSON request" of POST /topics/(topic_name).
    const produced = await http('POST', url(`/topics/${topic}`), {
      headers: { 'content-type': V2_JSON, accept: `${V2}, application/vnd.kafka+json, application/json` },
      body: { records: [{ key: 'somekey', value: { foo: 'bar' } }, { value: ['foo', 'bar'], partition: 1 }, { value: 53.5 }] },
    });
    expect(produced.status).toBe(200);
    expect(produced.headers['content-type']).toBe(V2);
    expect(produced.json).toMatchObject({ key_schema_id: null, value_schema_id: null });
    expect(produced.json.offsets).toHaveLength(3);
    for (const o of produced.json.offsets) expect(o).toEqual({ partition: expect.any(Number), offset: expect.any(Number), error_code: null, error: null });
    expect(produced.json.offsets[1].partition).toBe(1);

    // Create: the documented request (format json here; binary below).
    const created = await http('POST', url(`/consumers/${group}/`), {
      headers: { 'content-type': V2 },
      body: { name: 'my_consumer', format: 'json', 'auto.offset.reset': 'earliest', 'auto.commit.enable': 'false' },
    });
    expect(created.status).toBe(200);
    const base = url(`/consumers/${group}/instances/my_consumer`);
    expect(created.json).toEqual({ instance_id: 'my_consumer', base_uri: base });

    const subscribed = await http('POST', `${base}/subscription`, { headers: { 'content-type': V2 }, body: { topics: [topic] } });
    expect(subscribed.status).toBe(204);
    expect(subscribed.text).toBe('');
    expect((await http('GET', `${base}/subscription`, { headers: { accept: V2 } })).json).toEqual({ topics: [topic] });
    const assignments = (await http('GET', `${base}/assignments`, { headers: { accept: V2 } })).json;
    expect(assignments.partitions.map((p: any) => p.partition).sort()).toEqual([0, 1]);

    // A format the instance was not created with: 406 / 40601.
    const mismatch = await http('GET', `${base}/records`, { headers: { accept: V2_BINARY } });
    expect(mismatch.status).toBe(406);
    expect(mismatch.json).toEqual({ error_code: 40601, message: 'The requested embedded data format does not match the deserializer for this consumer instance' });

    const records = await readRecords(base, V2_JSON, 3);
    expect(records).toHaveLength(3);
    const byValue = (v: unknown) => records.find((r) => JSON.stringify(r.value) === JSON.stringify(v));
    expect(byValue({ foo: 'bar' })).toEqual({ topic, key: 'somekey', value: { foo: 'bar' }, partition: produced.json.offsets[0].partition, offset: produced.json.offsets[0].offset });
    expect(byValue(['foo', 'bar'])).toEqual({ topic, key: null, value: ['foo', 'bar'], partition: 1, offset: produced.json.offsets[1].offset });
    expect(byValue(53.5)).toMatchObject({ key: null, value: 53.5 });

    // Commit what was processed: the body names the last record, the group stores offset + 1.
    const last = new Map<number, number>();
    for (const r of records) last.set(r.partition, Math.max(last.get(r.partition) ?? -1, r.offset));
    const commitBody = { offsets: [...last].map(([partition, offset]) => ({ topic, partition, offset })) };
    expect((await http('POST', `${base}/offsets`, { headers: { 'content-type': V2 }, body: commitBody })).status).toBe(200);
    const committed = await http('GET', `${base}/offsets`, {
      headers: { 'content-type': V2, accept: V2 },
      body: { partitions: [...last.keys()].map((partition) => ({ topic, partition })) },
    });
    expect(committed.status).toBe(200);
    expect(committed.json).toEqual({ offsets: [...last].map(([partition, offset]) => ({ topic, partition, offset: offset + 1, metadata: '' })) });

    // More records after the commit; this instance goes away without committing them (auto-commit off).
    const more = await http('POST', url(`/topics/${topic}`), {
      headers: { 'content-type': V2_JSON },
      body: { records: [{ value: { n: 4 }, partition: 0 }, { value: { n: 5 }, partition: 1 }] },
    });
    expect(more.status).toBe(200);
    expect((await readRecords(base, V2_JSON, 2)).map((r) => r.value)).toEqual(expect.arrayContaining([{ n: 4 }, { n: 5 }]));
    const deleted = await http('DELETE', base, { headers: { 'content-type': V2 } });
    expect(deleted.status).toBe(204);
    const gone = await http('GET', `${base}/records`, { headers: { accept: V2_JSON } });
    expect(gone.status).toBe(404);
    expect(gone.json).toEqual({ error_code: 40403, message: 'Consumer instance not found.' });

    // Same group, same name: continues from the committed offsets, so exactly the two later records.
    expect((await http('POST', url(`/consumers/${group}`), { headers: { 'content-type': V2 }, body: { name: 'my_consumer', format: 'json', 'auto.offset.reset': 'earliest' } })).status).toBe(200);
    expect((await http('POST', `${base}/subscription`, { headers: { 'content-type': V2 }, body: { topics: [topic] } })).status).toBe(204);
    const again = await readRecords(base, V2_JSON, 2);
    expect(again.map((r) => r.value).sort((a: any, b: any) => a.n - b.n)).toEqual([{ n: 4 }, { n: 5 }]);
    expect((await http('DELETE', base)).status).toBe(204);
  });

  it('round-trips the binary format (the documented binary request) and seeks', async () => {
    const topic = uniqueTopic('v2bin');
    const group = uniqueId('bingroup');
    const produced = await http('POST', url(`/topics/${topic}`), {
      headers: { 'content-type': V2_BINARY },
      body: { records: [{ key: 'a2V5', value: 'Y29uZmx1ZW50' }, { value: 'a2Fma2E=', partition: 1 }, { value: 'bG9ncw==' }] },
    });
    expect(produced.status).toBe(200);
    const created = await http('POST', url(`/consumers/${group}`), { headers: { 'content-type': V2 }, body: { format: 'binary', 'auto.offset.reset': 'earliest' } });
    expect(created.status).toBe(200);
    expect(created.json.instance_id).toMatch(/^rest-consumer-/);
    const base = created.json.base_uri as string;
    expect((await http('POST', `${base}/subscription`, { headers: { 'content-type': V2 }, body: { topic_pattern: `${topic}.*` } })).status).toBe(204);
    expect((await http('GET', `${base}/subscription`)).json).toEqual({ topics: [topic] });
    const records = await readRecords(base, V2_BINARY, 3);
    expect(records.map((r) => [r.key, r.value]).sort()).toEqual([
      ['a2V5', 'Y29uZmx1ZW50'],
      [null, 'a2Fma2E='],
      [null, 'bG9ncw=='],
    ].sort());
    expect(Buffer.from(records.find((r) => r.key === 'a2V5').value, 'base64').toString()).toBe('confluent');

    // positions/beginning re-reads everything; positions to an offset re-reads from there.
    expect((await http('POST', `${base}/positions/beginning`, { headers: { 'content-type': V2 }, body: { partitions: [{ topic, partition: 0 }, { topic, partition: 1 }] } })).status).toBe(204);
    expect(await readRecords(base, V2_BINARY, 3)).toHaveLength(3);
    expect((await http('POST', `${base}/positions/end`, { headers: { 'content-type': V2 }, body: { partitions: [{ topic, partition: 0 }, { topic, partition: 1 }] } })).status).toBe(204);
    expect((await http('GET', `${base}/records?timeout=0`, { headers: { accept: V2_BINARY } })).json).toEqual([]);
    const p1 = produced.json.offsets[1];
    expect((await http('POST', `${base}/positions`, { headers: { 'content-type': V2 }, body: { offsets: [{ topic, partition: 1, offset: p1.offset }] } })).status).toBe(204);
    expect((await readRecords(base, V2_BINARY, 1))[0]).toEqual({ topic, key: null, value: 'a2Fma2E=', partition: 1, offset: p1.offset });
    expect((await http('DELETE', base)).status).toBe(204);
  });

  it('serves topic and partition metadata', async () => {
    const topic = uniqueTopic('v2meta');
    await http('POST', url(`/topics/${topic}/partitions/0`), { headers: { 'content-type': V2_JSON }, body: { records: [{ key: 'somekey', value: { foo: 'bar' } }, { value: 53.5 }] } });
    expect((await http('GET', url('/topics'))).json).toContain(topic);
    const meta = (await http('GET', url(`/topics/${topic}`), { headers: { accept: V2 } })).json;
    expect(meta).toMatchObject({ name: topic, partitions: [{ partition: 0, leader: 0, replicas: [{ broker: 0, leader: true, in_sync: true }] }, { partition: 1 }] });
    expect(typeof meta.configs).toBe('object');
    expect((await http('GET', url(`/topics/${topic}/partitions`))).json).toHaveLength(2);
    expect((await http('GET', url(`/topics/${topic}/partitions/0/offsets`))).json).toEqual({ beginning_offset: 0, end_offset: 2 });
  });
});

describe('Confluent v2 bad input (Kafka)', () => {
  it('rejects malformed bodies with the documented codes and writes nothing from a rejected batch', async () => {
    const topic = uniqueTopic('v2bad');
    expect((await http('POST', url(`/topics/${topic}`), { headers: { 'content-type': V2_BINARY }, body: { records: [{ value: 'AA==', partition: 0 }] } })).status).toBe(200);
    const before = await endOffsets(topic);
    expect(before).toEqual([1, 0]);

    const cases: { name: string; headers: Record<string, string>; raw: string; status: number; code: number }[] = [
      { name: 'malformed JSON', headers: { 'content-type': V2_JSON }, raw: '{"records": [', status: 400, code: 400 },
      { name: 'wrong content type', headers: { 'content-type': 'text/plain' }, raw: '{"records":[{"value":1}]}', status: 415, code: 415 },
      { name: 'no content type', headers: {}, raw: '{"records":[{"value":1}]}', status: 415, code: 415 },
      // kafka-rest VALUE_SCHEMA_MISSING: a schema format names neither value_schema nor value_schema_id.
      { name: 'avro without a value schema', headers: { 'content-type': 'application/vnd.kafka.avro.v2+json' }, raw: '{"records":[{"value":1}]}', status: 422, code: 42202 },
      { name: 'an embedded format nobody knows', headers: { 'content-type': 'application/vnd.kafka.xml.v2+json' }, raw: '{"records":[{"value":1}]}', status: 415, code: 415 },
      { name: 'bad base64 value in the second record', headers: { 'content-type': V2_BINARY }, raw: '{"records":[{"value":"AA=="},{"value":"not base64!"}]}', status: 422, code: 42202 },
      { name: 'bad base64 key', headers: { 'content-type': V2_BINARY }, raw: '{"records":[{"value":"AA=="},{"key":"%%%","value":"AA=="}]}', status: 422, code: 42201 },
      { name: 'empty records', headers: { 'content-type': V2_JSON }, raw: '{"records":[]}', status: 422, code: 422 },
      { name: 'no records', headers: { 'content-type': V2_JSON }, raw: '{"value":1}', status: 422, code: 422 },
      { name: 'body over rest.maxBodyBytes', headers: { 'content-type': V2_JSON }, raw: JSON.stringify({ records: [{ value: 'x'.repeat(5000) }] }), status: 413, code: 413 },
      { name: 'partition that does not exist', headers: { 'content-type': V2_JSON }, raw: '{"records":[{"value":1},{"value":2,"partition":7}]}', status: 404, code: 40402 },
    ];
    for (const c of cases) {
      const res = await http('POST', url(`/topics/${topic}`), { headers: c.headers, raw: c.raw });
      expect({ name: c.name, status: res.status, code: res.json?.error_code }).toEqual({ name: c.name, status: c.status, code: c.code });
      expect(typeof res.json.message).toBe('string');
    }
    const toPartition = await http('POST', url(`/topics/${topic}/partitions/5`), { headers: { 'content-type': V2_JSON }, body: { records: [{ value: 1 }] } });
    expect([toPartition.status, toPartition.json.error_code]).toEqual([404, 40402]);
    expect(await endOffsets(topic)).toEqual(before);
  });

  it('answers unknown resources and consumer misuse with Confluent codes', async () => {
    const topic = uniqueTopic('v2nf');
    await http('POST', url(`/topics/${topic}`), { headers: { 'content-type': V2_JSON }, body: { records: [{ value: 1 }] } });
    const expectError = async (res: Promise<{ status: number; json: any }>, status: number, code: number) => {
      const r = await res;
      expect([r.status, r.json?.error_code]).toEqual([status, code]);
    };
    await expectError(http('GET', url(`/topics/${uniqueTopic('missing')}`)), 404, 40401);
    await expectError(http('GET', url(`/topics/${topic}/partitions/9`)), 404, 40402);
    await expectError(http('GET', url(`/topics/${topic}/partitions/9/offsets`)), 404, 40402);
    await expectError(http('GET', url('/consumers/nogroup/instances/nobody/records')), 404, 40403);
    await expectError(http('DELETE', url('/consumers/nogroup/instances/nobody')), 404, 40403);
    await expectError(http('PUT', url('/topics')), 405, 405);
    // A 405 names the methods the resource has (RFC 9110 §15.5.6).
    expect((await http('PUT', url('/topics'))).headers.allow).toBe('GET, HEAD');
    expect((await http('PUT', url(`/topics/${topic}`))).headers.allow).toBe('GET, HEAD, POST');

    const group = uniqueId('misuse');
    await expectError(http('POST', url(`/consumers/${group}`), { headers: { 'content-type': V2 }, body: { format: 'xml' } }), 422, 422);
    await expectError(http('POST', url(`/consumers/${group}`), { headers: { 'content-type': V2 }, body: { 'auto.offset.reset': 'sometimes' } }), 422, 42204);
    await expectError(http('POST', url(`/consumers/${group}`), { headers: { 'content-type': V2 }, raw: '{' }), 400, 400);
    const created = await http('POST', url(`/consumers/${group}`), { headers: { 'content-type': V2 }, body: { name: 'c1', format: 'json' } });
    expect(created.status).toBe(200);
    await expectError(http('POST', url(`/consumers/${group}`), { headers: { 'content-type': V2 }, body: { name: 'c1' } }), 409, 40902);
    const base = created.json.base_uri;
    // A records request before any subscription: Kafka's IllegalStateException, 40903.
    await expectError(http('GET', `${base}/records`, { headers: { accept: V2_JSON } }), 409, 40903);
    // Both given: `topics` wins, as kafka-rest's KafkaConsumerState.subscribe; then unsubscribed again.
    expect((await http('POST', `${base}/subscription`, { headers: { 'content-type': V2 }, body: { topics: [topic], topic_pattern: 'x' } })).status).toBe(204);
    expect((await http('GET', `${base}/subscription`)).json).toEqual({ topics: [topic] });
    expect((await http('DELETE', `${base}/subscription`)).status).toBe(204);
    await expectError(http('POST', `${base}/subscription`, { headers: { 'content-type': V2 }, body: { topics: [uniqueTopic('missing')] } }), 404, 40401);
    await expectError(http('POST', `${base}/assignments`, { headers: { 'content-type': V2 }, body: { partitions: [{ topic, partition: 3 }] } }), 404, 40402);
    await expectError(http('POST', `${base}/subscription`, { headers: { 'content-type': 'text/plain' }, raw: 'topics' }), 415, 415);
    expect((await http('DELETE', base)).status).toBe(204);
  });
});
