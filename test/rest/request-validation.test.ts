/**
 * Requests at the edges of what /openapi.json allows, answered as the document says: each field
 * checked by its own rule (consumer `name` and `id`, both timeout spellings), Kafka's boolean text,
 * strict SSE positions, partitions and filters, integer query parameters in the documented range.
 * Each case here was answered differently before the document was derived from the schemas the
 * routes validate with (schemathesis found most of them); scripts/schemathesis.sh keeps it so.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { http, V2, V2_JSON } from './http.js';

let gw: TestGateway;
let topic: string;
beforeAll(async () => {
  gw = await startTestGateway({ backend: 'embedded' });
  topic = uniqueTopic('validation');
  expect((await http('POST', url(`/topics/${topic}`), { headers: { 'content-type': V2_JSON }, body: { records: [{ value: 1 }] } })).status).toBe(200);
});
afterAll(async () => {
  await gw?.close();
});

const url = (path: string) => `${gw.httpUrl}${path}`;
const outcome = async (res: Promise<{ status: number; json: any }>) => {
  const r = await res;
  return [r.status, r.json?.error_code];
};
const create = (body: unknown) => http('POST', url(`/consumers/${uniqueId('validation')}`), { headers: { 'content-type': V2 }, raw: JSON.stringify(body) });

describe('v2 consumer creation: every field by its own rule', () => {
  it('checks name even when id wins, and both timeout spellings', async () => {
    expect(await outcome(create({ id: 'fine', name: 'not a name!' }))).toEqual([422, 42204]);
    expect(await outcome(create({ 'consumer.request.timeout.ms': 5, requestWaitMs: 'soon' }))).toEqual([422, 42204]);
    // Number() would have read these as 16, 0 and 1.
    for (const t of ['0x10', '', true]) expect(await outcome(create({ 'consumer.request.timeout.ms': t })), String(t)).toEqual([422, 42204]);
    expect((await create({ 'consumer.request.timeout.ms': '250' })).status).toBe(200);
  });

  it("reads auto.commit.enable as Kafka does (Java's trim: U+0000–U+0020 only), and a JSON null body as no body", async () => {
    expect((await create({ 'auto.commit.enable': ' TRUE\t' })).status).toBe(200);
    expect(await outcome(create({ 'auto.commit.enable': '\u00a0true' }))).toEqual([422, 42204]);
    const bare = await create(null);
    expect([bare.status, bare.json.instance_id]).toEqual([200, expect.stringMatching(/^rest-consumer-/)]);
  });

  it('refuses a topic_pattern that is not a string even where topics wins, and illegal topic names with 40002', async () => {
    const base = (await create({})).json.base_uri as string;
    const subscribe = (body: unknown) => http('POST', `${base}/subscription`, { headers: { 'content-type': V2 }, body });
    expect(await outcome(subscribe({ topics: [topic], topic_pattern: 5 }))).toEqual([400, 400]);
    expect(await outcome(subscribe({ topics: ['not a topic'] }))).toEqual([400, 40002]);
    expect(await outcome(http('POST', `${base}/assignments`, { headers: { 'content-type': V2 }, body: { partitions: [{ topic: '..', partition: 0 }] } }))).toEqual([400, 40002]);
    expect((await subscribe({ topics: [topic], topic_pattern: 'ignored' })).status).toBe(204);
    await http('DELETE', base);
  });

  it('converts timeout and max_bytes only within ±(2^53 − 1), as documented', async () => {
    const base = (await create({ format: 'json' })).json.base_uri as string;
    await http('POST', `${base}/subscription`, { headers: { 'content-type': V2 }, body: { topics: [topic] } });
    expect(await outcome(http('GET', `${base}/records?timeout=99999999999999999`))).toEqual([404, 404]);
    expect((await http('GET', `${base}/records?timeout=-9007199254740991&max_bytes=9007199254740991`)).status).toBe(200);
    await http('DELETE', base);
  });
});

describe('native v1 and SSE parameters', () => {
  it('refuses v1 counts over 15 digits (422), and the document says so', async () => {
    const doc = (await http('GET', url('/openapi.json'))).json;
    const max = doc.paths['/v1/topics/{topic}/partitions/{partition}/records'].get.parameters.find((p: { name: string }) => p.name === 'max');
    expect(max.schema).toMatchObject({ type: 'integer', minimum: 0, maximum: 999_999_999_999_999 });
    expect(await outcome(http('GET', url(`/v1/topics/${topic}/partitions/0/records?offset=0&max=1775515873812614`)))).toEqual([422, 422]);
    expect((await http('GET', url(`/v1/topics/${topic}/partitions/0/records?offset=0&max=999999999999999`))).status).toBe(200);
  });

  /** The status of an SSE request (a stream that opened is closed at once). */
  async function sseStatus(query: string, headers: Record<string, string> = {}): Promise<number> {
    const abort = new AbortController();
    const res = await fetch(url(`/v1/topics/${topic}/events${query}`), { headers, signal: abort.signal });
    abort.abort();
    return res.status;
  }

  it('reads event ids, partitions and filters strictly', async () => {
    expect(await sseStatus('?lastEventId=0:0')).toBe(200);
    // Spaces, an int32 overflow, an offset past int64: not an id this server sends.
    for (const id of ['%20', '0:%201', '2147483648:0', '0:9223372036854775808']) expect(await sseStatus(`?lastEventId=${id}`), id).toBe(422);
    expect(await sseStatus('?from=0:1')).toBe(200);
    expect(await sseStatus('?from=%200:1')).toBe(422);
    // An empty Last-Event-ID header is no header: the query's id is read (and checked).
    expect(await sseStatus('?lastEventId=x', { 'last-event-id': '' })).toBe(422);
    expect(await sseStatus('?partitions=0')).toBe(200);
    expect(await sseStatus('?partitions=0,%201')).toBe(422);
    expect(await sseStatus('?filter=a%2F%2B')).toBe(200);
    expect(await sseStatus('?filter=a%00')).toBe(422);
  });
});
