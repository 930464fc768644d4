/**
 * The Confluent-compatible Schema Registry API on both backends: registration and ids, lookups,
 * references, evolution under the compatibility levels (409 when incompatible), config and mode,
 * soft and permanent deletes, the error codes of Confluent's API, and the `_schemas` topic kept
 * out of every client operation.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueId } from '../support/names.js';
import { http } from '../rest/http.js';

const SR = 'application/vnd.schemaregistry.v1+json';

const avroV1 = JSON.stringify({ type: 'record', name: 'Reading', namespace: 'sensors', fields: [{ name: 'device', type: 'string' }, { name: 'celsius', type: 'double' }] });
const avroV2 = JSON.stringify({ type: 'record', name: 'Reading', namespace: 'sensors', fields: [{ name: 'device', type: 'string' }, { name: 'celsius', type: 'double' }, { name: 'battery', type: 'int', default: 100 }] });
const avroNoDefault = JSON.stringify({ type: 'record', name: 'Reading', namespace: 'sensors', fields: [{ name: 'device', type: 'string' }, { name: 'celsius', type: 'double' }, { name: 'site', type: 'string' }] });

describe.each(['kafka', 'embedded'] as const)('schema registry API (%s)', (backend) => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ backend });
  });
  afterAll(async () => {
    await gw?.close();
  });
  const sr = (method: string, path: string, body?: unknown) => http(method, `${gw.httpUrl}${path}`, { headers: { 'content-type': SR, accept: SR }, ...(body === undefined ? {} : { body }) });

  it('registers, answers the same id again, looks up by id / subject / version, and lists', async () => {
    const subject = `${uniqueId('reading')}-value`;
    const first = await sr('POST', `/subjects/${subject}/versions`, { schema: avroV1 });
    expect(first.status).toBe(200);
    expect(first.headers['content-type']).toBe(SR);
    expect(first.json).toEqual({ id: expect.any(Number) });
    const id = first.json.id as number;
    // Same schema, other whitespace: the same version and id.
    expect((await sr('POST', `/subjects/${subject}/versions`, { schema: JSON.stringify(JSON.parse(avroV1), null, 2) })).json).toEqual({ id });
    // Same schema under another subject: the same global id.
    const other = `${uniqueId('reading')}-value`;
    expect((await sr('POST', `/subjects/${other}/versions`, { schema: avroV1, schemaType: 'AVRO' })).json).toEqual({ id });

    // An id names one schema whatever its spelling; the text it answers is the first one registered
    // (another test file on the same broker may have registered this schema with other whitespace).
    const byId = await sr('GET', `/schemas/ids/${id}`);
    expect(Object.keys(byId.json)).toEqual(['schema']);
    expect(JSON.parse(byId.json.schema)).toEqual(JSON.parse(avroV1));
    const raw = await sr('GET', `/schemas/ids/${id}/schema`);
    expect(JSON.parse(raw.text)).toEqual(JSON.parse(avroV1));
    expect((await sr('GET', `/schemas/ids/${id}/versions`)).json).toEqual(expect.arrayContaining([{ subject, version: 1 }, { subject: other, version: 1 }]));
    expect((await sr('GET', `/subjects/${subject}/versions`)).json).toEqual([1]);
    expect((await sr('GET', `/subjects/${subject}/versions/1`)).json).toEqual({ subject, version: 1, id, schema: avroV1 });
    expect((await sr('GET', `/subjects/${subject}/versions/latest`)).json).toEqual({ subject, version: 1, id, schema: avroV1 });
    expect((await sr('POST', `/subjects/${subject}`, { schema: avroV1 })).json).toEqual({ subject, version: 1, id, schema: avroV1 });
    expect((await sr('GET', '/subjects')).json).toEqual(expect.arrayContaining([subject, other]));
    expect((await sr('GET', '/schemas/types')).json).toEqual(['JSON', 'PROTOBUF', 'AVRO']);
  });

  it('BACKWARD (default): a new field without default is 409 and nothing is registered; with a default it is version 2', async () => {
    const subject = uniqueId('evolve');
    const v1 = (await sr('POST', `/subjects/${subject}/versions`, { schema: avroV1 })).json.id;
    const refused = await sr('POST', `/subjects/${subject}/versions`, { schema: avroNoDefault });
    expect(refused.status).toBe(409);
    expect(refused.json.error_code).toBe(409);
    expect(refused.json.message).toMatch(/incompatible/);
    expect((await sr('GET', `/subjects/${subject}/versions`)).json).toEqual([1]);
    const check = await sr('POST', `/compatibility/subjects/${subject}/versions/latest?verbose=true`, { schema: avroNoDefault });
    expect(check.json).toMatchObject({ is_compatible: false, messages: [expect.any(String)] });
    expect((await sr('POST', `/compatibility/subjects/${subject}/versions/latest`, { schema: avroV2 })).json).toEqual({ is_compatible: true });

    const v2 = await sr('POST', `/subjects/${subject}/versions`, { schema: avroV2 });
    expect(v2.status).toBe(200);
    expect(v2.json.id).not.toBe(v1);
    expect((await sr('GET', `/subjects/${subject}/versions`)).json).toEqual([1, 2]);
    // FORWARD: the latest (v2, battery with default) must read data of the new one; a schema without `celsius` breaks that.
    expect((await sr('PUT', `/config/${subject}`, { compatibility: 'FORWARD' })).json).toEqual({ compatibility: 'FORWARD' });
    expect((await sr('GET', `/config/${subject}`)).json).toEqual({ compatibilityLevel: 'FORWARD' });
    const dropped = JSON.stringify({ type: 'record', name: 'Reading', namespace: 'sensors', fields: [{ name: 'device', type: 'string' }] });
    expect((await sr('POST', `/subjects/${subject}/versions`, { schema: dropped })).status).toBe(409);
    // NONE: anything goes.
    await sr('PUT', `/config/${subject}`, { compatibility: 'NONE' });
    expect((await sr('POST', `/subjects/${subject}/versions`, { schema: dropped })).status).toBe(200);
    expect((await sr('PUT', `/config/${subject}`, { compatibility: 'SIDEWAYS' })).json.error_code).toBe(42203);
  });

  it('FULL_TRANSITIVE checks every live version, not only the latest', async () => {
    const subject = uniqueId('transitive');
    await sr('PUT', `/config/${subject}`, { compatibility: 'FULL' });
    const a = JSON.stringify({ type: 'record', name: 'T', fields: [{ name: 'x', type: 'int', default: 0 }] });
    const b = JSON.stringify({ type: 'record', name: 'T', fields: [{ name: 'x', type: 'int', default: 0 }, { name: 'y', type: 'string', default: '' }] });
    // c drops x (defaulted: FULL with b holds) and makes y an int (a has no y: FULL with a holds too) — but c vs b: y string→int breaks.
    const c = JSON.stringify({ type: 'record', name: 'T', fields: [{ name: 'z', type: 'long', default: 0 }] });
    for (const s of [a, b]) expect((await sr('POST', `/subjects/${subject}/versions`, { schema: s })).status).toBe(200);
    // Under FULL only b is checked: c is compatible with b (all fields defaulted).
    expect((await sr('POST', `/compatibility/subjects/${subject}/versions/latest`, { schema: c })).json.is_compatible).toBe(true);
    const cBreaksA = JSON.stringify({ type: 'record', name: 'T', fields: [{ name: 'x', type: 'string', default: '' }, { name: 'y', type: 'string', default: '' }] });
    await sr('PUT', `/config/${subject}`, { compatibility: 'FULL_TRANSITIVE' });
    // Versions a and b both have x:int; cBreaksA changes x to string: incompatible with both.
    expect((await sr('POST', `/subjects/${subject}/versions`, { schema: cBreaksA })).status).toBe(409);
  });

  it('JSON Schema and Protobuf: registration, their compatibility rules, and references', async () => {
    const subject = uniqueId('json');
    const j1 = JSON.stringify({ type: 'object', properties: { t: { type: 'number' } }, required: ['t'], additionalProperties: false });
    const j2 = JSON.stringify({ type: 'object', properties: { t: { type: 'number' }, unit: { type: 'string' } }, required: ['t'], additionalProperties: false });
    const j3 = JSON.stringify({ type: 'object', properties: { t: { type: 'number' }, unit: { type: 'string' } }, required: ['t', 'unit'], additionalProperties: false });
    expect((await sr('POST', `/subjects/${subject}/versions`, { schemaType: 'JSON', schema: j1 })).status).toBe(200);
    expect((await sr('POST', `/subjects/${subject}/versions`, { schemaType: 'JSON', schema: j2 })).status).toBe(200); // optional property added to a closed model
    const refused = await sr('POST', `/subjects/${subject}/versions`, { schemaType: 'JSON', schema: j3 }); // a required property added
    expect(refused.status).toBe(409);
    expect(refused.json.message).toMatch(/REQUIRED_PROPERTY_ADDED/);
    expect((await sr('GET', `/subjects/${subject}/versions/2`)).json).toMatchObject({ schemaType: 'JSON', schema: j2 });

    const common = uniqueId('common-proto');
    const commonProto = 'syntax = "proto3";\npackage acme.common;\nmessage Unit { string name = 1; }\n';
    expect((await sr('POST', `/subjects/${common}/versions`, { schemaType: 'PROTOBUF', schema: commonProto })).status).toBe(200);
    const p = uniqueId('proto');
    const p1 = 'syntax = "proto3";\npackage acme;\nimport "acme/common.proto";\nmessage Reading { string device = 1; double celsius = 2; acme.common.Unit unit = 3; }\n';
    const references = [{ name: 'acme/common.proto', subject: common, version: 1 }];
    const reg = await sr('POST', `/subjects/${p}/versions`, { schemaType: 'PROTOBUF', schema: p1, references });
    expect(reg.status).toBe(200);
    expect((await sr('GET', `/schemas/ids/${reg.json.id}`)).json).toEqual({ schemaType: 'PROTOBUF', references, schema: p1 });
    expect((await sr('GET', `/subjects/${common}/versions/1/referencedby`)).json).toEqual([reg.json.id]);
    // Field 2 double → string: incompatible (different wire type).
    const p2 = p1.replace('double celsius = 2', 'string celsius = 2');
    expect((await sr('POST', `/subjects/${p}/versions`, { schemaType: 'PROTOBUF', schema: p2, references })).status).toBe(409);
    // A field added: compatible.
    const p3 = p1.replace('acme.common.Unit unit = 3;', 'acme.common.Unit unit = 3; int32 battery = 4;');
    expect((await sr('POST', `/subjects/${p}/versions`, { schemaType: 'PROTOBUF', schema: p3, references })).status).toBe(200);
    // A reference that does not exist: invalid schema.
    expect((await sr('POST', `/subjects/${p}/versions`, { schemaType: 'PROTOBUF', schema: p3, references: [{ name: 'x.proto', subject: common, version: 9 }] })).json.error_code).toBe(42201);
  });

  it("answers Confluent's error codes for missing and malformed things", async () => {
    const subject = uniqueId('errors');
    expect((await sr('GET', `/subjects/${subject}/versions`)).json.error_code).toBe(40401);
    expect((await sr('GET', '/schemas/ids/987654321')).json.error_code).toBe(40403);
    await sr('POST', `/subjects/${subject}/versions`, { schema: avroV1 });
    expect((await sr('GET', `/subjects/${subject}/versions/7`)).json.error_code).toBe(40402);
    const badVersion = await sr('GET', `/subjects/${subject}/versions/zero`);
    expect([badVersion.status, badVersion.json.error_code]).toEqual([422, 42202]);
    expect((await sr('POST', `/subjects/${subject}`, { schema: avroV2 })).json.error_code).toBe(40403);
    const invalid = await sr('POST', `/subjects/${subject}/versions`, { schema: '{"type":"record","name":"X","fields":[{"name":"a","type":"nosuchtype"}]}' });
    expect([invalid.status, invalid.json.error_code]).toEqual([422, 42201]);
    expect(invalid.headers['content-type']).toBe(SR);
    const notJson = await http('POST', `${gw.httpUrl}/subjects/${subject}/versions`, { headers: { 'content-type': SR }, raw: '{"schema":' });
    expect(notJson.status).toBe(400);
  });

  it('bounds hostile schemas: deep nesting, huge enums and oversized texts are 42201 quickly', async () => {
    const subject = uniqueId('hostile');
    let deep = '"int"';
    for (let i = 0; i < 200; i++) deep = `{"type":"array","items":${deep}}`;
    const started = Date.now();
    expect((await sr('POST', `/subjects/${subject}/versions`, { schema: deep })).json.error_code).toBe(42201);
    const symbols = Array.from({ length: 50_000 }, (_, i) => `S${i}`);
    expect((await sr('POST', `/subjects/${subject}/versions`, { schema: JSON.stringify({ type: 'enum', name: 'E', symbols }) })).json.error_code).toBe(42201);
    let jsonDeep = '{}';
    for (let i = 0; i < 500; i++) jsonDeep = `{"properties":{"a":${jsonDeep}}}`;
    expect((await sr('POST', `/subjects/${subject}/versions`, { schemaType: 'JSON', schema: jsonDeep })).json.error_code).toBe(42201);
    const protoDeep = `syntax = "proto3"; ${'message M { '.repeat(300)}${'} '.repeat(300)}`;
    expect((await sr('POST', `/subjects/${subject}/versions`, { schemaType: 'PROTOBUF', schema: protoDeep })).json.error_code).toBe(42201);
    expect(Date.now() - started).toBeLessThan(20_000); // a generous bound: the point is that the process answered at all
    expect((await sr('GET', '/schemas/types')).status).toBe(200);
  });

  it('soft delete hides a version, permanent delete needs a soft one first; deleting a subject', async () => {
    const subject = uniqueId('delete');
    await sr('POST', `/subjects/${subject}/versions`, { schema: avroV1 });
    const v2 = (await sr('POST', `/subjects/${subject}/versions`, { schema: avroV2 })).json.id;
    expect((await sr('DELETE', `/subjects/${subject}/versions/2?permanent=true`)).json.error_code).toBe(40407);
    expect((await sr('DELETE', `/subjects/${subject}/versions/2`)).json).toBe(2);
    expect((await sr('GET', `/subjects/${subject}/versions`)).json).toEqual([1]);
    expect((await sr('GET', `/subjects/${subject}/versions?deleted=true`)).json).toEqual([1, 2]);
    expect((await sr('GET', `/schemas/ids/${v2}`)).status).toBe(200); // ids stay resolvable for old records
    expect((await sr('DELETE', `/subjects/${subject}/versions/2?permanent=true`)).json).toBe(2);
    expect((await sr('GET', `/subjects/${subject}/versions?deleted=true`)).json).toEqual([1]);

    expect((await sr('DELETE', `/subjects/${subject}?permanent=true`)).json.error_code).toBe(40405);
    expect((await sr('DELETE', `/subjects/${subject}`)).json).toEqual([1]);
    expect((await sr('GET', '/subjects')).json).not.toContain(subject);
    expect((await sr('GET', '/subjects?deleted=true')).json).toContain(subject);
    expect((await sr('DELETE', `/subjects/${subject}?permanent=true`)).json).toEqual([1]);
    expect((await sr('GET', '/subjects?deleted=true')).json).not.toContain(subject);
  });

  it('READONLY mode refuses registrations (42205) until set back', async () => {
    const subject = uniqueId('mode');
    expect((await sr('PUT', `/mode/${subject}`, { mode: 'READONLY' })).json).toEqual({ mode: 'READONLY' });
    expect((await sr('GET', `/mode/${subject}`)).json).toEqual({ mode: 'READONLY' });
    expect((await sr('POST', `/subjects/${subject}/versions`, { schema: avroV1 })).json.error_code).toBe(42205);
    await sr('PUT', `/mode/${subject}`, { mode: 'READWRITE' });
    expect((await sr('POST', `/subjects/${subject}/versions`, { schema: avroV1 })).status).toBe(200);
    expect((await sr('GET', '/mode')).json).toEqual({ mode: 'READWRITE' });
  });

  it('keeps _schemas out of every client operation (list, describe, produce, read)', async () => {
    await sr('POST', `/subjects/${uniqueId('hidden')}/versions`, { schema: avroV1 });
    const topics = await http('GET', `${gw.httpUrl}/topics`);
    expect(topics.json).not.toContain('_schemas');
    expect((await http('GET', `${gw.httpUrl}/topics/_schemas`)).status).toBe(403);
    const produce = await http('POST', `${gw.httpUrl}/v1/topics/_schemas/records`, { headers: { 'content-type': 'application/json' }, body: { records: [{ key: 'x', value: 'y' }] } });
    expect(produce.status).toBe(403);
    expect((await http('GET', `${gw.httpUrl}/v1/topics/_schemas/partitions/0/records?offset=0`)).status).toBe(403);
  });
});

describe('REST v2 produce with avro / jsonschema / protobuf embedded formats (kafka)', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(async () => {
    await gw?.close();
  });
  const produce = (topic: string, format: string, body: unknown) => http('POST', `${gw.httpUrl}/topics/${topic}`, { headers: { 'content-type': `application/vnd.kafka.${format}.v2+json` }, body });
  const stored = async (topic: string) => (await http('GET', `${gw.httpUrl}/v1/topics/${topic}/partitions/0/records?offset=0&max=100`)).json.records as { key: string | null; value: string; encoding?: string; keyEncoding?: string }[];
  const ctx = () => ({ protocol: 'test', log: gw.core.log, principal: { id: 'test', anonymous: false } }) as never;

  it('avro: value_schema is registered as <topic>-value on first use, the records are framed Avro, value_schema_id reuses it', async () => {
    const topic = uniqueId('v2avro');
    const first = await produce(topic, 'avro', { value_schema: avroV1, records: [{ value: { device: 'a', celsius: 1.5 } }, { value: { device: 'b', celsius: 2 } }] });
    expect(first.status).toBe(200);
    expect(first.json).toMatchObject({ key_schema_id: null, value_schema_id: expect.any(Number), offsets: [{ partition: 0, offset: 0 }, { partition: 0, offset: 1 }] });
    const id = first.json.value_schema_id;
    expect((await http('GET', `${gw.httpUrl}/subjects/${topic}-value/versions/1`)).json.id).toBe(id);
    const again = await produce(topic, 'avro', { value_schema_id: id, records: [{ value: { device: 'c', celsius: -1 } }] });
    expect(again.json.value_schema_id).toBe(id);
    const records = await stored(topic);
    expect(records).toHaveLength(3);
    const decoded = await Promise.all(records.map((r) => gw.core.schemas!.decode(ctx(), Buffer.from(r.value, 'base64'))));
    expect(decoded.map((d) => [d.schemaId, d.value])).toEqual([[id, { device: 'a', celsius: 1.5 }], [id, { device: 'b', celsius: 2 }], [id, { device: 'c', celsius: -1 }]]);
  });

  it('a record that breaks the schema fails the request (42203) and nothing of it is written', async () => {
    const topic = uniqueId('v2bad');
    expect((await produce(topic, 'avro', { value_schema: avroV1, records: [{ value: { device: 'a', celsius: 1 } }] })).status).toBe(200);
    const bad = await produce(topic, 'avro', { value_schema: avroV1, records: [{ value: { device: 'ok', celsius: 2 } }, { value: { device: 'x', celsius: 'warm' } }] });
    expect([bad.status, bad.json.error_code]).toEqual([422, 42203]);
    const invalid = await produce(topic, 'avro', { value_schema: '{"type":"nope"}', records: [{ value: 1 }] });
    expect([invalid.status, invalid.json.error_code]).toEqual([422, 42205]);
    expect((await produce(topic, 'avro', { value_schema_id: 999_999, records: [{ value: 1 }] })).json.error_code).toBe(40403);
    expect(await stored(topic)).toHaveLength(1);
  });

  it('jsonschema and protobuf: keys and values encoded with their own schemas', async () => {
    const topic = uniqueId('v2multi');
    const keySchema = JSON.stringify({ type: 'string', maxLength: 16 });
    const valueSchema = JSON.stringify({ type: 'object', properties: { t: { type: 'number' } }, required: ['t'] });
    const json = await produce(topic, 'jsonschema', { key_schema: keySchema, value_schema: valueSchema, records: [{ key: 'dev-1', value: { t: 21.5 } }] });
    expect(json.status).toBe(200);
    expect(json.json.key_schema_id).not.toBe(json.json.value_schema_id);
    expect((await produce(topic, 'jsonschema', { key_schema: keySchema, value_schema: valueSchema, records: [{ key: 'dev-1', value: { t: 'hot' } }] })).json.error_code).toBe(42203);
    const ptopic = uniqueId('v2proto');
    const proto = await produce(ptopic, 'protobuf', { value_schema: 'syntax = "proto3"; message Reading { string device = 1; double celsius = 2; }', records: [{ value: { device: 'p', celsius: 3.25 } }] });
    expect(proto.status).toBe(200);
    const [record] = await stored(ptopic);
    const bytes = Buffer.from(record!.value, 'base64');
    expect(bytes[5]).toBe(0); // message indexes [0] as the single byte 0
    expect((await gw.core.schemas!.decode(ctx(), bytes)).value).toEqual({ device: 'p', celsius: 3.25 });
    const [jrecord] = await stored(topic);
    expect((await gw.core.schemas!.decode(ctx(), Buffer.from(jrecord!.value, jrecord!.encoding === 'base64' ? 'base64' : 'utf8'))).value).toEqual({ t: 21.5 });
  });
});
