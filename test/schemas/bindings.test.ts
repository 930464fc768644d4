/**
 * Topic bindings (`schemaRegistry.bindings`, issue 18 part 4): every produce on every protocol —
 * MQTT 5 and 3.1.1 (MQTT.js), REST v1 and v2, WebSocket JSON, gRPC — is checked against the bound
 * subject before anything is written: a valid payload is written (as sent, or encoded to the
 * Confluent wire format with `encode: true`), an invalid one is refused in the protocol's terms
 * and nothing is written (each test reads the topic back).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import avro from 'avsc';
import { createContext } from '../../gateway/context.js';
import { decodeFramed } from '../../gateway/schemas/wire.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueTopic } from '../support/names.js';
import { http } from '../rest/http.js';
import { connectClient } from '../mqtt/helpers.js';
import { RawClient } from '../websocket/raw-client.js';
import { call, rejection, stubFor } from '../grpc/helpers.js';

const SR = 'application/vnd.schemaregistry.v1+json';
const reading = JSON.stringify({ type: 'object', properties: { celsius: { type: 'number' } }, required: ['celsius'], additionalProperties: false });
const avroReading = { type: 'record', name: 'Reading', namespace: 'bindings', fields: [{ name: 'device', type: 'string' }, { name: 'celsius', type: 'double' }] };

// The MQTT topics route to one Kafka topic per run: config is fixed at start.
const mqttTopic = uniqueTopic('bjson-mqtt');

const bindings = [
  { topic: 'bjson-*', format: 'jsonschema' },
  { topic: 'bavro-*', format: 'avro', encode: true },
  { topic: 'bavrowire-*', format: 'avro' },
  { topic: 'bmissing-*', subject: 'bindings-subject-never-registered', format: 'jsonschema' },
];

async function readBack(gw: TestGateway, topic: string): Promise<{ key: Buffer | null; value: Buffer | null }[]> {
  const ctx = createContext({ protocol: 'test', log: pino({ level: 'silent' }) });
  try {
    const result = await gw.core.fetch(ctx, topic, 0, 0n, { maxRecords: 100 });
    return result.records.map((r) => ({ key: r.key, value: r.value }));
  } catch (err) {
    // A refused first produce creates no topic.
    if ((err as { code?: string }).code === 'TOPIC_NOT_FOUND') return [];
    throw err;
  }
}

describe.each(['embedded', 'kafka'] as const)('topic bindings (%s)', (backend) => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ backend, config: { schemaRegistry: { bindings }, mqtt: { routes: [{ filter: 'bound/#', topic: mqttTopic }] } } });
    // The MQTT topic's subject exists before any test publishes to it.
    expect((await register(`${mqttTopic}-value`, { schemaType: 'JSON', schema: reading })).status).toBe(200);
  });
  afterAll(async () => {
    await gw?.close();
  });
  const register = (subject: string, body: unknown) => http('POST', `${gw.httpUrl}/subjects/${subject}/versions`, { headers: { 'content-type': SR, accept: SR }, body });
  const v1 = (topic: string, records: unknown[] | string) =>
    http('POST', `${gw.httpUrl}/v1/topics/${topic}/records`, { headers: { 'content-type': 'application/json' }, raw: typeof records === 'string' ? records : JSON.stringify({ records }) });

  it('REST v1: a valid JSON value is stored byte for byte, an invalid one is 422 / 42203 and nothing is written', async () => {
    const topic = uniqueTopic('bjson-rest');
    await register(`${topic}-value`, { schemaType: 'JSON', schema: reading });
    const ok = await v1(topic, '{"records":[{"value":{"celsius":21.50}}]}');
    expect(ok.status).toBe(200);
    const refused = await v1(topic, [{ value: { celsius: 22 } }, { value: { celsius: 'warm' } }]);
    expect(refused.status).toBe(422);
    expect(refused.json).toMatchObject({ error_code: 42203, code: 'SCHEMA_VALIDATION', details: { index: 1, side: 'value' } });
    expect(refused.json.message).toMatch(/Record 1 value: .*celsius/);
    const stored = await readBack(gw, topic);
    // The first request only: the refused one wrote neither of its records. 21.50 keeps its text.
    expect(stored.map((r) => r.value?.toString())).toEqual(['{"celsius":21.50}']);
  });

  it('REST v2 json: an invalid record is 422 / 42203 for the whole request', async () => {
    const topic = uniqueTopic('bjson-v2');
    await register(`${topic}-value`, { schemaType: 'JSON', schema: reading });
    const post = (records: unknown[]) => http('POST', `${gw.httpUrl}/topics/${topic}`, { headers: { 'content-type': 'application/vnd.kafka.json.v2+json' }, body: { records } });
    expect((await post([{ value: { celsius: 1 } }])).status).toBe(200);
    const refused = await post([{ value: { celsius: 2 } }, { value: { kelvin: 3 } }]);
    expect(refused.status).toBe(422);
    expect(refused.json.error_code).toBe(42203);
    expect((await readBack(gw, topic)).map((r) => r.value?.toString())).toEqual(['{"celsius":1}']);
  });

  it('MQTT 5: PUBACK 0x99 Payload format invalid for the invalid message only; 3.1.1 closes the connection', async () => {
    const url = `mqtt://127.0.0.1:${gw.ports.mqtt}`;
    const c5 = await connectClient(url, { protocolVersion: 5, clientId: uniqueTopic('b5') });
    await c5.client.publishAsync('bound/a', '{"celsius":1}', { qos: 1 });
    // Published back to back: the gateway may batch them; each gets its own answer.
    const results = await Promise.allSettled([
      c5.client.publishAsync('bound/a', '{"celsius":2}', { qos: 1 }),
      c5.client.publishAsync('bound/a', '{"celsius":"cold"}', { qos: 1 }),
      c5.client.publishAsync('bound/a', '{"celsius":3}', { qos: 1 }),
      c5.client.publishAsync('bound/a', 'not json', { qos: 2 }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected']);
    for (const r of [results[1], results[3]]) expect((r as PromiseRejectedResult).reason).toMatchObject({ code: 0x99 });
    await c5.end();

    const c3 = await connectClient(url, { protocolVersion: 4, clientId: uniqueTopic('b3') });
    const closed = new Promise<void>((resolve) => c3.client.once('close', () => resolve()));
    c3.client.publish('bound/b', '[]', { qos: 1 });
    await closed;
    await c3.end(true);
    expect((await readBack(gw, mqttTopic)).map((r) => [r.key?.toString(), r.value?.toString()])).toEqual([
      ['bound/a', '{"celsius":1}'],
      ['bound/a', '{"celsius":2}'],
      ['bound/a', '{"celsius":3}'],
    ]);
  });

  it('WebSocket: an error frame SCHEMA_VALIDATION with the message; gRPC: INVALID_ARGUMENT', async () => {
    const topic = uniqueTopic('bjson-ws');
    await register(`${topic}-value`, { schemaType: 'JSON', schema: reading });
    const ws = await RawClient.open(gw.wsUrl);
    ws.send({ op: 'publish', id: 'p1', topic, records: [{ value: { celsius: 5 } }] });
    await ws.waitFor((f) => f.op === 'ack' && f.id === 'p1');
    ws.send({ op: 'publish', id: 'p2', topic, records: [{ value: { celsius: null } }] });
    const error = await ws.waitFor((f) => f.op === 'error' && f.id === 'p2');
    expect(error).toMatchObject({ code: 'SCHEMA_VALIDATION', message: expect.stringMatching(/celsius/) });
    ws.close();

    const stub = stubFor(gw.ports.grpc);
    await call(stub, 'Produce', { topic, records: [{ value: Buffer.from('{"celsius":6}') }] });
    const err = await rejection(call(stub, 'Produce', { topic, records: [{ value: Buffer.from('{"fahrenheit":6}') }] }));
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.details).toMatch(/SCHEMA_VALIDATION.*Record 0 value/);
    stub.close();
    expect((await readBack(gw, topic)).map((r) => r.value?.toString())).toEqual(['{"celsius":5}', '{"celsius":6}']);
  });

  it('encode: true writes JSON as Avro in the wire format of the latest version; the wire format of the subject passes as sent', async () => {
    const topic = uniqueTopic('bavro');
    const id = (await register(`${topic}-value`, { schema: JSON.stringify(avroReading) })).json.id as number;
    expect((await v1(topic, [{ value: { device: 'd1', celsius: 20.5 } }])).status).toBe(200);
    const refused = await v1(topic, [{ value: { device: 'd1' } }]);
    expect(refused.status).toBe(422);
    // A Confluent serializer's bytes (REST v2 avro produce writes them) pass unchanged.
    const v2 = await http('POST', `${gw.httpUrl}/topics/${topic}`, {
      headers: { 'content-type': 'application/vnd.kafka.avro.v2+json' },
      body: { value_schema_id: id, records: [{ value: { device: 'd2', celsius: 1 } }] },
    });
    expect(v2.status).toBe(200);
    // A framed payload naming another schema id, or not decoding, is refused.
    const other = Buffer.concat([Buffer.from([0, 0x7f, 0, 0, 0]), avro.Type.forSchema(avroReading as avro.Schema).toBuffer({ device: 'x', celsius: 1 })]);
    const stub = stubFor(gw.ports.grpc);
    expect((await rejection(call(stub, 'Produce', { topic, records: [{ value: other }] }))).details).toMatch(/not a live version/);
    const truncated = Buffer.from([0, 0, 0, 0, 0, 2]);
    truncated.writeInt32BE(id, 1);
    expect((await rejection(call(stub, 'Produce', { topic, records: [{ value: truncated }] }))).code).toBe(grpc.status.INVALID_ARGUMENT);
    stub.close();

    const stored = await readBack(gw, topic);
    expect(stored).toHaveLength(2);
    const type = avro.Type.forSchema(avroReading as avro.Schema);
    expect(stored.map((r) => {
      const framed = decodeFramed(r.value!);
      return [framed.schemaId, type.fromBuffer(framed.payload)];
    })).toEqual([
      [id, { device: 'd1', celsius: 20.5 }],
      [id, { device: 'd2', celsius: 1 }],
    ]);
  });

  it('an Avro binding without encode refuses JSON; a bound subject with no schema refuses produce (409 FAILED_PRECONDITION)', async () => {
    const topic = uniqueTopic('bavrowire');
    await register(`${topic}-value`, { schema: JSON.stringify(avroReading) });
    const json = await v1(topic, [{ value: { device: 'd', celsius: 1 } }]);
    expect(json.status).toBe(422);
    expect(json.json.message).toMatch(/wire format/);
    const missing = uniqueTopic('bmissing');
    const refused = await v1(missing, [{ value: { celsius: 1 } }]);
    expect(refused.status).toBe(409);
    expect(refused.json).toMatchObject({ code: 'FAILED_PRECONDITION', message: expect.stringMatching(/bindings-subject-never-registered.*no schema/) });
    expect(await readBack(gw, topic)).toEqual([]);
  });

  it('hostile: a payload nested past schemaRegistry.maxDepth is refused before it is parsed', async () => {
    const topic = uniqueTopic('bjson-deep');
    await register(`${topic}-value`, { schemaType: 'JSON', schema: JSON.stringify({ $ref: '#/$defs/n', $defs: { n: { type: 'array', items: { $ref: '#/$defs/n' } } } }) });
    const deep = Buffer.from('['.repeat(200_000) + ']'.repeat(200_000));
    const stub = stubFor(gw.ports.grpc);
    const err = await rejection(call(stub, 'Produce', { topic, records: [{ value: deep }] }));
    expect(err.details).toMatch(/nests deeper than 64/);
    stub.close();
  });
});
