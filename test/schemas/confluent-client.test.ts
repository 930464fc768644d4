/**
 * Real registry clients against the gateway's registry on the Kafka backend: confluent-kafka's
 * Python SchemaRegistryClient with its Avro, JSON Schema and Protobuf serializers (Protobuf: it
 * registers a base64 FileDescriptorProto importing google/protobuf/timestamp.proto without a
 * reference for it, and fetches schemas with `?format=serialized`) (test/schemas/
 * confluent_client.py) registers and frames records it produces straight to the broker — the
 * gateway reads those bytes and decodes them with the ids the client got (the core, a JSON reader
 * of a bound topic, a REST v2 consumer in the format); the reverse: records
 * the gateway encodes and produces are deserialized by the Python consumer. Ids are the same on
 * a second gateway instance, survive a restart, and concurrent registrations on two instances
 * never share an id.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContext } from '../../gateway/context.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { kafkaBrokers } from '../support/kafka.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';
import { http } from '../rest/http.js';

const run = promisify(execFile);
const script = fileURLToPath(new URL('./confluent_client.py', import.meta.url));
const SR = 'application/vnd.schemaregistry.v1+json';

async function python(args: string[]): Promise<string[]> {
  const { stdout } = await run('python3', [script, ...args], { timeout: 60_000 });
  return stdout.trim().split('\n').filter((l) => l !== '');
}

async function readAll(gw: TestGateway, topic: string, count: number): Promise<{ value: Buffer }[]> {
  let records: { value: Buffer }[] = [];
  await eventually(
    async () => {
      const res = await http('GET', `${gw.httpUrl}/v1/topics/${topic}/partitions/0/records?offset=0&max=100`);
      if (res.status !== 200) return false;
      records = (res.json.records as { value: unknown; encoding?: string }[]).map((r) => ({ value: r.encoding === 'base64' ? Buffer.from(r.value as string, 'base64') : Buffer.from(typeof r.value === 'string' ? r.value : JSON.stringify(r.value)) }));
      return records.length >= count;
    },
    { what: `${count} records in ${topic}`, timeoutMs: 20_000 },
  );
  return records;
}

/** A REST v2 consumer instance in `format` subscribed to `topic` from the beginning; `get` reads once. */
async function v2Consumer(gw: TestGateway, format: string, topic: string): Promise<{ get: () => ReturnType<typeof http> }> {
  const v2 = 'application/vnd.kafka.v2+json';
  const group = uniqueId('py-read');
  const base = `${gw.httpUrl}/consumers/${group}/instances/c`;
  expect((await http('POST', `${gw.httpUrl}/consumers/${group}`, { headers: { 'content-type': v2 }, body: { name: 'c', format, 'auto.offset.reset': 'earliest' } })).status).toBe(200);
  expect((await http('POST', `${base}/subscription`, { headers: { 'content-type': v2 }, body: { topics: [topic] } })).status).toBe(204);
  return { get: () => http('GET', `${base}/records?timeout=1000`, { headers: { accept: `application/vnd.kafka.${format}.v2+json` } }) };
}

describe('confluent-kafka (Python) against the gateway registry (kafka)', () => {
  let gw: TestGateway;
  let gw2: TestGateway;
  const ctx = () => createContext({ protocol: 'test', log: gw.core.log });
  beforeAll(async () => {
    // The second instance binds the topics the Python producer writes, so its JSON readers decode them.
    const bindings = (['avro', 'json', 'protobuf'] as const).map((f) => ({ topic: `py-${f}-*`, format: f === 'json' ? 'jsonschema' : f }));
    [gw, gw2] = await Promise.all([startTestGateway(), startTestGateway({ config: { schemaRegistry: { bindings } } })]);
  });
  afterAll(async () => {
    await Promise.all([gw?.close(), gw2?.close()]);
  });

  it.each(['avro', 'json', 'protobuf'] as const)('%s: the serializer registers, frames and produces; the gateway decodes the bytes it stored', async (format) => {
    const topic = uniqueTopic(`py-${format}`);
    const lines = await python(['produce', '--registry', gw.httpUrl, '--bootstrap', kafkaBrokers(), '--topic', topic, '--format', format, '--count', '3']);
    const ids = lines.map((l) => JSON.parse(l) as { schema_id: number; magic: number });
    expect(ids).toHaveLength(3);
    expect(new Set(ids.map((i) => i.schema_id)).size).toBe(1);
    expect(ids[0]!.magic).toBe(0);
    // Registered under the TopicNameStrategy subject, visible through the API.
    const latest = await http('GET', `${gw.httpUrl}/subjects/${topic}-value/versions/latest`, { headers: { accept: SR } });
    expect(latest.json).toMatchObject({ subject: `${topic}-value`, version: 1, id: ids[0]!.schema_id, ...(format === 'json' ? { schemaType: 'JSON' } : format === 'protobuf' ? { schemaType: 'PROTOBUF' } : {}) });

    const records = await readAll(gw, topic, 3);
    const decoded = await Promise.all(records.map((r) => gw.core.schemas!.decode(ctx(), r.value)));
    expect(decoded.map((d) => d.schemaId)).toEqual(ids.map((i) => i.schema_id));
    expect(decoded.map((d) => d.value)).toEqual([0, 1, 2].map((i) => ({ device: `dev-${i}`, celsius: 20.5 + i })));
    // The second instance serves the same id with the same schema. (The text may be another
    // spelling of it: an id names one schema whatever its whitespace, and its first text is kept.)
    const other = await http('GET', `${gw2.httpUrl}/schemas/ids/${ids[0]!.schema_id}`, { headers: { accept: SR } });
    expect(other.status).toBe(200);
    if (format === 'protobuf') expect(other.json.schema).toBe(latest.json.schema); // the base64 FileDescriptorProto the serializer registered
    else expect(JSON.parse(other.json.schema)).toEqual(JSON.parse(latest.json.schema));

    // The gateway's readers decode what the Python serializer wrote: a JSON reader of the bound
    // topic (REST v1 fetch) shows the value with its schema id (the plain key stays bytes) ...
    const expected = [0, 1, 2].map((i) => ({ device: `dev-${i}`, celsius: 20.5 + i }));
    const fetched = await http('GET', `${gw2.httpUrl}/v1/topics/${topic}/partitions/0/records?offset=0&max=100`);
    expect(fetched.status).toBe(200);
    expect((fetched.json.records as { value: unknown; valueSchemaId?: number }[]).map((r) => [r.value, r.valueSchemaId])).toEqual(expected.map((v, i) => [v, ids[i]!.schema_id]));
    // ... and a REST v2 consumer in the format decodes key and value, as kafka-rest's deserializers
    // do: the plain key is refused (50002, seek past it), records without a key are decoded.
    const v2format = format === 'json' ? 'jsonschema' : format;
    const keyed = await v2Consumer(gw2, v2format, topic);
    const refused = await eventually(
      async () => {
        const r = await keyed.get();
        if (r.status === 200) expect(r.json).toEqual([]); // not assigned yet: nothing read, nothing skipped
        return r.status === 200 ? undefined : r;
      },
      { what: 'the keyed records refused', timeoutMs: 20_000 },
    );
    expect(refused.status).toBe(500);
    expect(refused.json).toMatchObject({ error_code: 50002, message: expect.stringContaining('Error deserializing key') });
    const keyless = uniqueTopic(`py-${format}`);
    await python(['produce', '--registry', gw.httpUrl, '--bootstrap', kafkaBrokers(), '--topic', keyless, '--format', format, '--count', '3', '--no-keys']);
    const reader = await v2Consumer(gw2, v2format, keyless);
    const got: unknown[] = [];
    await eventually(
      async () => {
        const r = await reader.get();
        expect(r.status, r.text).toBe(200);
        got.push(...(r.json as { key: unknown; value: unknown }[]).map((x) => [x.key, x.value]));
        return got.length >= 3;
      },
      { what: `3 ${v2format} records through a REST v2 consumer`, timeoutMs: 20_000 },
    );
    expect(got).toEqual(expected.map((v) => [null, v]));
  });

  it('protobuf: records REST v2 produces with the protobuf format are deserialized by ProtobufDeserializer (it fetches ?format=serialized)', async () => {
    const topic = uniqueTopic('gw-proto');
    const schema = 'syntax = "proto3";\npackage sensors;\nmessage Reading {\n  string device = 1;\n  double celsius = 2;\n}\n';
    const values = [{ device: 'a', celsius: 1.5 }, { device: 'b', celsius: -3 }];
    const produced = await http('POST', `${gw.httpUrl}/topics/${topic}`, {
      headers: { 'content-type': 'application/vnd.kafka.protobuf.v2+json', accept: 'application/vnd.kafka.v2+json' },
      body: { value_schema: schema, records: values.map((value) => ({ value })) },
    });
    expect(produced.status).toBe(200);
    const id = produced.json.value_schema_id as number;
    // The serialized form is a FileDescriptorProto of the same message (what the Python client parses).
    const serialized = await http('GET', `${gw.httpUrl}/schemas/ids/${id}?format=serialized`, { headers: { accept: SR } });
    expect(serialized.json).toEqual({ schemaType: 'PROTOBUF', schema: expect.stringMatching(/^[A-Za-z0-9+/]+=*$/) });
    expect((await http('GET', `${gw.httpUrl}/schemas/ids/${id}`, { headers: { accept: SR } })).json.schema).toBe(schema);
    const lines = await python(['consume', '--registry', gw2.httpUrl, '--bootstrap', kafkaBrokers(), '--topic', topic, '--format', 'protobuf', '--count', '2']);
    expect(lines.map((l) => JSON.parse(l))).toEqual(values);
  });

  it('avro: records the gateway encodes (wire format) are deserialized by the Python consumer', async () => {
    const topic = uniqueTopic('gw-avro');
    const schema = JSON.stringify({ type: 'record', name: 'Reading', namespace: 'sensors', fields: [{ name: 'device', type: 'string' }, { name: 'celsius', type: 'double' }] });
    const reg = await http('POST', `${gw.httpUrl}/subjects/${topic}-value/versions`, { headers: { 'content-type': SR }, body: { schema } });
    const id = reg.json.id as number;
    const values = [{ device: 'a', celsius: 1.5 }, { device: 'b', celsius: -3 }];
    const records = await Promise.all(values.map(async (v) => ({ value: (await gw.core.schemas!.encode(ctx(), id, v)).toString('base64'), encoding: 'base64' })));
    const produced = await http('POST', `${gw.httpUrl}/v1/topics/${topic}/records`, { headers: { 'content-type': 'application/json' }, body: { records } });
    expect(produced.status).toBe(200);
    const lines = await python(['consume', '--registry', gw2.httpUrl, '--bootstrap', kafkaBrokers(), '--topic', topic, '--format', 'avro', '--count', '2']);
    expect(lines.map((l) => JSON.parse(l))).toEqual(values);
    // A value that breaks the schema is refused before anything is framed.
    await expect(gw.core.schemas!.encode(ctx(), id, { device: 'c' })).rejects.toMatchObject({ code: 'INVALID_VALUE' });
  });

  it('concurrent registrations on two instances get distinct ids, and both instances agree on every id', async () => {
    const subjects = Array.from({ length: 6 }, () => uniqueId('concurrent'));
    const schemaOf = (i: number) => JSON.stringify({ type: 'record', name: `C${i}`, fields: [{ name: 'n', type: 'int' }] });
    const results = await Promise.all(
      subjects.map((s, i) => http('POST', `${(i % 2 === 0 ? gw : gw2).httpUrl}/subjects/${s}/versions`, { headers: { 'content-type': SR }, body: { schema: schemaOf(i) } })),
    );
    expect(results.map((r) => r.status)).toEqual(subjects.map(() => 200));
    const ids = results.map((r) => r.json.id as number);
    expect(new Set(ids).size).toBe(subjects.length);
    // Same subject, two instances, different schemas at once: versions 1 and 2, never both "1".
    const shared = uniqueId('race');
    await http('PUT', `${gw.httpUrl}/config/${shared}`, { headers: { 'content-type': SR }, body: { compatibility: 'NONE' } });
    const raced = await Promise.all([gw, gw2].map((g, i) => http('POST', `${g.httpUrl}/subjects/${shared}/versions`, { headers: { 'content-type': SR }, body: { schema: schemaOf(100 + i) } })));
    expect(raced.map((r) => r.status)).toEqual([200, 200]);
    for (const g of [gw, gw2]) {
      await eventually(async () => JSON.stringify((await http('GET', `${g.httpUrl}/subjects/${shared}/versions`)).json) === '[1,2]', { what: 'both versions on each instance' });
      for (const [i, s] of subjects.entries()) expect((await http('GET', `${g.httpUrl}/subjects/${s}/versions/1`)).json.id).toBe(ids[i]);
    }
    const v1 = (await http('GET', `${gw.httpUrl}/subjects/${shared}/versions/1`)).json;
    const v2 = (await http('GET', `${gw2.httpUrl}/subjects/${shared}/versions/2`)).json;
    expect(v1.id).not.toBe(v2.id);
  });

  it('ids are stable across a gateway restart', async () => {
    const subject = uniqueId('restart');
    const schema = JSON.stringify({ type: 'record', name: 'Restart', fields: [{ name: 'n', type: 'long' }] });
    const id = (await http('POST', `${gw2.httpUrl}/subjects/${subject}/versions`, { headers: { 'content-type': SR }, body: { schema } })).json.id;
    await gw2.close();
    gw2 = await startTestGateway();
    expect((await http('GET', `${gw2.httpUrl}/subjects/${subject}/versions/1`)).json).toMatchObject({ id, version: 1 });
    // Registering it again answers the same id; a new schema gets an id no earlier schema has.
    expect((await http('POST', `${gw2.httpUrl}/subjects/${subject}/versions`, { headers: { 'content-type': SR }, body: { schema } })).json.id).toBe(id);
    const fresh = (await http('POST', `${gw2.httpUrl}/subjects/${uniqueId('fresh')}/versions`, { headers: { 'content-type': SR }, body: { schema: JSON.stringify({ type: 'record', name: 'Fresh', fields: [] }) } })).json.id;
    expect(fresh).toBeGreaterThan(id);
  });
});
