/**
 * The read side of schema support (issue 18): REST v2 consumers created with the avro, jsonschema
 * and protobuf formats read records produced through the gateway (REST v2 embedded formats, a
 * bound WebSocket publish) decoded to JSON in kafka-rest's shape; a record not in the wire format
 * is 500 / 50002 and the consumer stays at it until it seeks past; JSON readers (WebSocket JSON,
 * SSE, REST v1) of bound topics see decoded values with their schema ids, binary readers (gRPC) the
 * exact stored bytes. Against both backends (the registry runs on either).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { createContext } from '../../gateway/context.js';
import { encodeFramed } from '../../gateway/schemas/wire.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';
import { sse } from '../support/sse.js';
import { http } from '../rest/http.js';
import { RawClient } from '../websocket/raw-client.js';
import { call, stubFor } from '../grpc/helpers.js';

const SR = 'application/vnd.schemaregistry.v1+json';
const V2 = 'application/vnd.kafka.v2+json';
const media = (f: string) => `application/vnd.kafka.${f}.v2+json`;
const avroReading = JSON.stringify({ type: 'record', name: 'Reading', namespace: 'reading', fields: [{ name: 'device', type: 'string' }, { name: 'celsius', type: 'double' }, { name: 'note', type: ['null', 'string'], default: null }] });
const protoReading = 'syntax = "proto3"; package reading; message Reading { string device = 1; int64 count = 2; }';
const jsonReading = JSON.stringify({ type: 'object', properties: { celsius: { type: 'number' } }, required: ['celsius'] });

const bindings = [
  { topic: 'ravro-*', format: 'avro', encode: true },
  { topic: 'rproto-*', format: 'protobuf', encode: true },
  // Not encoded: plain JSON is stored as sent (no frame), REST v2 jsonschema produce writes framed records.
  { topic: 'rjson-*', format: 'jsonschema' },
  { topic: 'rkey-*', format: 'avro', side: 'key' },
];

describe.each(['embedded', 'kafka'] as const)('reading schema-encoded records (%s)', (backend) => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ backend, config: { schemaRegistry: { bindings } } });
  });
  afterAll(async () => {
    await gw?.close();
  });
  const url = (path: string) => `${gw.httpUrl}${path}`;
  const register = async (subject: string, body: unknown): Promise<number> => {
    const r = await http('POST', url(`/subjects/${subject}/versions`), { headers: { 'content-type': SR, accept: SR }, body });
    expect(r.status).toBe(200);
    return r.json.id as number;
  };
  const produceV2 = async (topic: string, format: string, body: unknown) => {
    const r = await http('POST', url(`/topics/${topic}`), { headers: { 'content-type': media(format) }, body });
    expect(r.status, r.text).toBe(200);
    return r.json;
  };
  /** A subscribed v2 consumer reading from the beginning; `read` polls until it has `n` records (or returns the first error). */
  const consumer = async (format: string, topic: string) => {
    const group = uniqueId('rgroup');
    const created = await http('POST', url(`/consumers/${group}`), { headers: { 'content-type': V2 }, body: { name: 'c', format, 'auto.offset.reset': 'earliest' } });
    expect(created.status, created.text).toBe(200);
    const base = `/consumers/${group}/instances/c`;
    expect((await http('POST', url(`${base}/subscription`), { headers: { 'content-type': V2 }, body: { topics: [topic] } })).status).toBe(204);
    const get = (accept = media(format)) => http('GET', url(`${base}/records?timeout=200`), { headers: { accept } });
    const read = async (n: number) => {
      const got: any[] = [];
      return eventually(async () => {
        const r = await get();
        if (r.status !== 200) return { status: r.status, json: r.json, records: got };
        expect(r.headers['content-type']).toBe(media(format));
        got.push(...(r.json as any[]));
        return got.length >= n ? { status: 200, json: undefined, records: got } : undefined;
      }, { timeoutMs: 30_000, what: `${n} ${format} records` });
    };
    return { base, get, read };
  };
  const ctx = createContext({ protocol: 'test', log: pino({ level: 'silent' }) });
  const stored = async (topic: string) => (await gw.core.fetch(ctx, topic, 0, 0n, { maxRecords: 100 })).records;

  it('REST v2 avro consumer: records of REST v2 avro produce and of a bound WebSocket publish, decoded; an Accept of another format is 406 / 40601', async () => {
    const topic = uniqueTopic('ravro');
    const produced = await produceV2(topic, 'avro', { value_schema: avroReading, records: [{ value: { device: 'd1', celsius: 20.5, note: 'warm' } }] });
    const ws = await RawClient.open(gw.wsUrl);
    ws.send({ op: 'publish', id: 'p1', topic, records: [{ value: { device: 'd2', celsius: -1, note: null } }] });
    await ws.waitFor((f) => f.op === 'ack' && f.id === 'p1');
    ws.close();
    const c = await consumer('avro', topic);
    const { records } = await c.read(2);
    // kafka-rest's SchemaConsumerRecord: topic, key, value, partition, offset (no schema id); unions unwrapped as produce takes them.
    expect(records).toEqual([
      { topic, key: null, value: { device: 'd1', celsius: 20.5, note: 'warm' }, partition: 0, offset: 0 },
      { topic, key: null, value: { device: 'd2', celsius: -1, note: null }, partition: 0, offset: 1 },
    ]);
    expect(produced.value_schema_id).toEqual(expect.any(Number));
    expect((await c.get(media('binary'))).json).toMatchObject({ error_code: 40601 });
  });

  it('REST v2 jsonschema and protobuf consumers decode what the embedded formats wrote; null keys stay null', async () => {
    const jtopic = uniqueTopic('rjson');
    await produceV2(jtopic, 'jsonschema', { value_schema: jsonReading, records: [{ value: { celsius: 21.5 } }, { value: { celsius: 3 } }] });
    const j = await consumer('jsonschema', jtopic);
    expect((await j.read(2)).records).toEqual([
      { topic: jtopic, key: null, value: { celsius: 21.5 }, partition: 0, offset: 0 },
      { topic: jtopic, key: null, value: { celsius: 3 }, partition: 0, offset: 1 },
    ]);
    const ptopic = uniqueTopic('rproto');
    await produceV2(ptopic, 'protobuf', { value_schema: protoReading, records: [{ value: { device: 'p1', count: '9007199254740993' } }] });
    const p = await consumer('protobuf', ptopic);
    // int64 as a string (exact beyond 2^53), proto field names.
    expect((await p.read(1)).records).toEqual([{ topic: ptopic, key: null, value: { device: 'p1', count: '9007199254740993' }, partition: 0, offset: 0 }]);
  });

  it('a record not in the wire format is 500 / 50002 for an avro consumer, which stays at it until it seeks past', async () => {
    const topic = uniqueTopic('rplain'); // not bound: plain JSON may be written beside Avro records
    await produceV2(topic, 'avro', { value_schema: avroReading, records: [{ value: { device: 'a', celsius: 1 } }] });
    expect((await http('POST', url(`/v1/topics/${topic}/records`), { headers: { 'content-type': 'application/json' }, body: { records: [{ value: { plain: true } }] } })).status).toBe(200);
    await produceV2(topic, 'avro', { value_schema: avroReading, records: [{ value: { device: 'c', celsius: 3 } }] });
    const c = await consumer('avro', topic);
    // The records before the bad one are returned; then every read fails on it (never skipped silently).
    const first = await c.read(1);
    expect(first.records.map((r) => r.value)).toEqual([{ device: 'a', celsius: 1, note: null }]);
    for (let i = 0; i < 2; i++) {
      const bad = await c.get();
      expect(bad.status).toBe(500);
      expect(bad.json.error_code).toBe(50002);
      expect(bad.json.message).toMatch(/^Kafka error: Error deserializing value for partition .*-0 at offset 1: .*seek past the record/);
    }
    expect((await http('POST', url(`${c.base}/positions`), { headers: { 'content-type': V2 }, body: { offsets: [{ topic, partition: 0, offset: 2 }] } })).status).toBe(204);
    expect((await c.read(1)).records).toEqual([{ topic, key: null, value: { device: 'c', celsius: 3, note: null }, partition: 0, offset: 2 }]);
  });

  it('JSON readers (WebSocket JSON, SSE, REST v1) see decoded values with valueSchemaId; an unframed record as its bytes; gRPC the stored bytes', async () => {
    const topic = uniqueTopic('rjson');
    const id = await register(`${topic}-value`, { schemaType: 'JSON', schema: jsonReading });
    // Framed by the REST v2 jsonschema produce; then plain JSON text (the binding has no encode).
    await produceV2(topic, 'jsonschema', { value_schema_id: id, records: [{ value: { celsius: 1.5 } }] });
    expect((await http('POST', url(`/v1/topics/${topic}/records`), { headers: { 'content-type': 'application/json' }, raw: '{"records":[{"value":{"celsius":2}}]}' })).status).toBe(200);
    const atopic = uniqueTopic('ravro');
    const aid = await register(`${atopic}-value`, { schema: avroReading });
    expect((await http('POST', url(`/v1/topics/${atopic}/records`), { headers: { 'content-type': 'application/json' }, body: { records: [{ value: { device: 'v', celsius: 7 } }] } })).status).toBe(200);

    // REST v1 fetch.
    const v1 = await http('GET', url(`/v1/topics/${topic}/partitions/0/records?offset=0`));
    expect(v1.json.records.map((r: any) => [r.value, r.valueSchemaId, r.encoding])).toEqual([[{ celsius: 1.5 }, id, undefined], [{ celsius: 2 }, undefined, undefined]]);
    // The payload's own text, without the 5 header bytes; the unframed record's exact text (2, not 2.0).
    expect(v1.text).toContain(`"value":{"celsius":1.5},"valueSchemaId":${id}`);
    expect(v1.text).toContain('"value":{"celsius":2},"headers"');
    const av1 = await http('GET', url(`/v1/topics/${atopic}/partitions/0/records?offset=0`));
    expect(av1.json.records[0]).toMatchObject({ value: { device: 'v', celsius: 7, note: null }, valueSchemaId: aid });

    // WebSocket JSON.
    const ws = await RawClient.open(gw.wsUrl);
    ws.send({ op: 'subscribe', id: 's', topic: atopic, from: 'earliest' });
    const [wsRecord] = await ws.waitForRecords('s', 1);
    expect(wsRecord).toMatchObject({ value: { device: 'v', celsius: 7, note: null }, valueSchemaId: aid });
    ws.close();

    // SSE.
    const abort = new AbortController();
    let sseRecord: any;
    try {
      for await (const ev of sse(url(`/v1/topics/${atopic}/events?from=earliest`), {}, abort.signal)) {
        if (ev.event !== 'message') continue;
        sseRecord = JSON.parse(ev.data);
        abort.abort();
      }
    } catch (err) {
      if (!abort.signal.aborted) throw err;
    }
    expect(sseRecord).toMatchObject({ topic: atopic, value: { device: 'v', celsius: 7, note: null }, valueSchemaId: aid });

    // Binary readers: the exact stored bytes.
    const bytes = (await stored(atopic))[0]!.value!;
    expect(bytes[0]).toBe(0);
    expect(bytes.readInt32BE(1)).toBe(aid);
    const stub = stubFor(gw.ports.grpc);
    const fetched = await call(stub, 'Fetch', { topic: atopic, partition: 0, offset: '0', max_records: 10 });
    expect(Buffer.from((fetched as any).records[0].value)).toEqual(bytes);
    stub.close();
    const jsonStored = await stored(topic);
    expect(jsonStored[0]!.value).toEqual(encodeFramed(id, Buffer.from('{"celsius":1.5}')));
  });

  it('keys: a REST v2 avro produce with key_schema is read back with the key decoded — by an avro consumer, and by REST v1 with keySchemaId on a key-bound topic', async () => {
    const topic = uniqueTopic('rkey');
    const produced = await produceV2(topic, 'avro', { key_schema: '"long"', value_schema: avroReading, records: [{ key: 42, value: { device: 'k', celsius: 0 } }, { key: 43, value: null }] });
    const c = await consumer('avro', topic);
    expect((await c.read(2)).records).toEqual([
      { topic, key: 42, value: { device: 'k', celsius: 0, note: null }, partition: 0, offset: 0 },
      { topic, key: 43, value: null, partition: 0, offset: 1 },
    ]);
    const v1 = await http('GET', url(`/v1/topics/${topic}/partitions/0/records?offset=0`));
    // Only the key side is bound here: the value stays its bytes (base64).
    expect(v1.json.records.map((r: any) => [r.key, r.keySchemaId, r.valueSchemaId, r.encoding])).toEqual([
      [42, produced.key_schema_id, undefined, 'base64'],
      [43, produced.key_schema_id, undefined, undefined],
    ]);
  });
});
