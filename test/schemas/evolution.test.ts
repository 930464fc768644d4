/**
 * Schema evolution over the registry API on the real broker, one refused and one accepted change
 * per format and level family (the full table is gateway/schemas/compatibility.test.ts): an
 * incompatible version is 409 with error_code 409 and leaves the subject's versions unchanged;
 * `POST /compatibility/…?verbose=true` answers the same verdict with messages naming the break.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueId } from '../support/names.js';
import { http } from '../rest/http.js';

const SR = 'application/vnd.schemaregistry.v1+json';

const avro = (fields: object[]) => JSON.stringify({ type: 'record', name: 'Reading', fields });
const obj = (properties: object, extra: object = {}) => JSON.stringify({ type: 'object', properties, ...extra });
const proto = (body: string) => `syntax = "proto3";\npackage sensors;\n${body}\n`;

const CASES = [
  { schemaType: 'AVRO', level: 'BACKWARD', v1: avro([{ name: 'a', type: 'string' }]), refused: avro([{ name: 'a', type: 'string' }, { name: 'b', type: 'int' }]), accepted: avro([{ name: 'a', type: 'string' }, { name: 'b', type: 'int', default: 0 }]), message: /b/ },
  { schemaType: 'AVRO', level: 'FORWARD', v1: avro([{ name: 'a', type: 'string' }, { name: 'b', type: 'int' }]), refused: avro([{ name: 'a', type: 'string' }]), accepted: avro([{ name: 'a', type: 'string' }, { name: 'b', type: 'int' }, { name: 'c', type: 'int' }]), message: /FORWARD/ },
  { schemaType: 'JSON', level: 'FULL', v1: obj({ a: { type: 'string' } }, { additionalProperties: false }), refused: obj({ a: { type: 'string' }, b: { type: 'number' } }, { additionalProperties: false }), accepted: obj({ a: { type: 'string', description: 'the device' } }, { additionalProperties: false }), message: /PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL/ },
  { schemaType: 'PROTOBUF', level: 'FORWARD_TRANSITIVE', v1: proto('message R { int32 n = 1; }'), refused: proto('message R { int32 n = 1; }\nmessage S { int32 m = 1; }'), accepted: proto('message R { int32 n = 1; string device = 2; }'), message: /MESSAGE_REMOVED/ },
] as const;

describe('schema evolution over the registry API (kafka)', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway();
  });
  afterAll(async () => {
    await gw?.close();
  });
  const sr = (method: string, path: string, body?: unknown) => http(method, `${gw.httpUrl}${path}`, { headers: { 'content-type': SR, accept: SR }, ...(body === undefined ? {} : { body }) });

  it.each(CASES)('$schemaType under $level: the incompatible version is 409 and nothing is registered; the compatible one is version 2', async (c) => {
    const subject = uniqueId(`evo-${c.schemaType.toLowerCase()}`);
    expect((await sr('PUT', `/config/${subject}`, { compatibility: c.level })).status).toBe(200);
    const typed = (schema: string) => ({ schema, ...(c.schemaType === 'AVRO' ? {} : { schemaType: c.schemaType }) });
    expect((await sr('POST', `/subjects/${subject}/versions`, typed(c.v1))).status).toBe(200);

    const verbose = await sr('POST', `/compatibility/subjects/${subject}/versions/latest?verbose=true`, typed(c.refused));
    expect(verbose.status).toBe(200);
    expect(verbose.json.is_compatible).toBe(false);
    expect((verbose.json.messages as string[]).join('\n')).toMatch(c.message);
    const refused = await sr('POST', `/subjects/${subject}/versions`, typed(c.refused));
    expect([refused.status, refused.json.error_code]).toEqual([409, 409]);
    expect(refused.json.message).toMatch(c.message);
    expect((await sr('GET', `/subjects/${subject}/versions`)).json).toEqual([1]);

    expect((await sr('POST', `/compatibility/subjects/${subject}/versions?verbose=true`, typed(c.accepted))).json).toEqual({ is_compatible: true, messages: [] });
    expect((await sr('POST', `/subjects/${subject}/versions`, typed(c.accepted))).status).toBe(200);
    expect((await sr('GET', `/subjects/${subject}/versions`)).json).toEqual([1, 2]);
  });
});
