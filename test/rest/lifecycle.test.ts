/**
 * The key REST scenarios on each backend (both behind one API): the v2 lifecycle read back over
 * v1 and SSE, consumer instance idle expiry, API keys, health/readiness, and every sample
 * response validated against the served OpenAPI 3.1 document. (What every protocol shares —
 * positions, resume, error mapping, shutdown — is the adapter conformance suite's.)
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openApiDocument } from '../../adapters/rest/openapi.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';
import { http, V2, V2_BINARY, V2_JSON, type HttpResponse } from './http.js';
import { OpenApiCheck } from './openapi-check.js';

describe.each(['embedded', 'kafka'] as const)('REST on the %s backend', (backend) => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ backend, config: { rest: { consumerInstanceTimeoutMs: 300 } } });
  });
  afterAll(async () => {
    await gw?.close();
  });
  const url = (path: string) => `${gw.httpUrl}${path}`;

  /** An SSE stream as read by the lifecycle test, checked against the document's event schema at the end. */
  let sseText = '';
  /** Responses collected by the tests, checked against the document at the end. */
  const samples: { template: string; method: string; res: HttpResponse }[] = [];
  async function call(method: string, template: string, path: string, options: Parameters<typeof http>[2] = {}): Promise<HttpResponse> {
    const res = await http(method, url(path), options);
    samples.push({ template, method: method.toLowerCase(), res });
    return res;
  }

  it('walks the v2 lifecycle and reads back over v1 and SSE', async () => {
    const topic = uniqueTopic('embrest');
    const group = uniqueId('g');
    const produced = await call('POST', '/topics/{topic}', `/topics/${topic}`, { headers: { 'content-type': V2_JSON }, body: { records: [{ key: 'somekey', value: { foo: 'bar' } }, { value: 53.5 }] } });
    expect(produced.json).toEqual({
      key_schema_id: null,
      value_schema_id: null,
      offsets: [
        { partition: 0, offset: 0, error_code: null, error: null },
        { partition: 0, offset: 1, error_code: null, error: null },
      ],
    });
    await call('POST', '/topics/{topic}/partitions/{partition}', `/topics/${topic}/partitions/0`, { headers: { 'content-type': V2_BINARY }, body: { records: [{ value: 'bG9ncw==' }] } });
    await call('GET', '/topics', '/topics');
    await call('GET', '/topics/{topic}', `/topics/${topic}`);
    await call('GET', '/topics/{topic}/partitions', `/topics/${topic}/partitions`);
    await call('GET', '/topics/{topic}/partitions/{partition}', `/topics/${topic}/partitions/0`);
    expect((await call('GET', '/topics/{topic}/partitions/{partition}/offsets', `/topics/${topic}/partitions/0/offsets`)).json).toEqual({ beginning_offset: 0, end_offset: 3 });

    const created = await call('POST', '/consumers/{group}', `/consumers/${group}`, { headers: { 'content-type': V2 }, body: { name: 'c', format: 'binary', 'auto.offset.reset': 'earliest' } });
    const base = `/consumers/${group}/instances/c`;
    const I = '/consumers/{group}/instances/{instance}';
    expect(created.json.base_uri).toBe(url(base));
    expect((await call('POST', `${I}/subscription`, `${base}/subscription`, { headers: { 'content-type': V2 }, body: { topics: [topic] } })).status).toBe(204);
    await call('GET', `${I}/subscription`, `${base}/subscription`);
    await call('GET', `${I}/assignments`, `${base}/assignments`);
    const records: any[] = [];
    await eventually(async () => {
      const res = await call('GET', `${I}/records`, `${base}/records?timeout=200`, { headers: { accept: V2_BINARY } });
      records.push(...res.json);
      return records.length >= 3;
    });
    expect(records.map((r) => [r.offset, r.key, Buffer.from(r.value, 'base64').toString()])).toEqual([
      [0, 'c29tZWtleQ==', '{"foo":"bar"}'],
      [1, null, '53.5'],
      [2, null, 'logs'],
    ]);
    // Auto-commit (default on): the next poll counts the returned records as processed and commits them.
    await call('GET', `${I}/records`, `${base}/records?timeout=0`, { headers: { accept: V2_BINARY } });
    const committed = await call('GET', `${I}/offsets`, `${base}/offsets`, { headers: { 'content-type': V2 }, body: { partitions: [{ topic, partition: 0 }] } });
    expect(committed.json).toEqual({ offsets: [{ topic, partition: 0, offset: 3, metadata: '' }] });
    expect((await call('POST', `${I}/offsets`, `${base}/offsets`, { headers: { 'content-type': V2 }, body: { offsets: [{ topic, partition: 0, offset: 1 }] } })).status).toBe(200);
    expect((await call('GET', `${I}/offsets`, `${base}/offsets`, { headers: { 'content-type': V2 }, body: { partitions: [{ topic, partition: 0 }] } })).json.offsets[0].offset).toBe(2);
    expect((await call('DELETE', I, base)).status).toBe(204);

    const fetched = await call('GET', '/v1/topics/{topic}/partitions/{partition}/records', `/v1/topics/${topic}/partitions/0/records?offset=0`);
    expect(fetched.json.records.map((r: any) => r.value)).toEqual([{ foo: 'bar' }, 53.5, 'bG9ncw==']);
    expect(fetched.json.records[2].encoding).toBe('base64');
    await call('GET', '/v1/topics/{topic}/offsets', `/v1/topics/${topic}/offsets`);
    await call('GET', '/v1/topics', '/v1/topics');
    await call('POST', '/v1/topics/{topic}/records', `/v1/topics/${topic}/records`, { headers: { 'content-type': 'application/json' }, body: { records: [{ key: 'k', value: { seq: 3 } }] } });

    const abort = new AbortController();
    const res = await fetch(url(`/v1/topics/${topic}/events?from=0:3`), { signal: abort.signal });
    const reader = res.body!.getReader();
    let text = '';
    // Until the record's event (the `subscribed` event before it carries {"topic"… too; on Kafka the record may come in a later chunk).
    while (!text.includes('id: 0:4\n')) text += new TextDecoder().decode((await reader.read()).value);
    abort.abort();
    // Records are default `message` events (no event: line), so EventSource.onmessage gets them.
    expect(text).toContain('id: 0:4\ndata: {"topic":"' + topic + '","partition":0,"offset":"3"');
    sseText = text;
  });

  it('returns the JSON records before a non-JSON value, then reports it without losing it (json format)', async () => {
    const topic = uniqueTopic('mixed');
    await http('POST', url(`/topics/${topic}`), { headers: { 'content-type': V2_JSON }, body: { records: [{ value: { n: 0 } }, { value: { n: 1 } }] } });
    await http('POST', url(`/topics/${topic}`), { headers: { 'content-type': V2_BINARY }, body: { records: [{ value: Buffer.from('not json').toString('base64') }] } });
    await http('POST', url(`/topics/${topic}`), { headers: { 'content-type': V2_JSON }, body: { records: [{ value: { n: 3 } }] } });
    const group = uniqueId('mixed');
    const base = (await http('POST', url(`/consumers/${group}`), { headers: { 'content-type': V2 }, body: { format: 'json', 'auto.offset.reset': 'earliest' } })).json.base_uri;
    await http('POST', `${base}/subscription`, { headers: { 'content-type': V2 }, body: { topics: [topic] } });
    const first = await eventually(async () => {
      const res = await http('GET', `${base}/records?timeout=200`, { headers: { accept: V2_JSON } });
      return res.json.length > 0 ? res : undefined;
    }, { timeoutMs: 20_000, what: 'the first records of the new consumer' });
    expect(first.json.map((r: any) => r.value)).toEqual([{ n: 0 }, { n: 1 }]);
    for (let i = 0; i < 2; i++) {
      const bad = await http('GET', `${base}/records?timeout=200`, { headers: { accept: V2_JSON } });
      expect([bad.status, bad.json.error_code]).toEqual([422, 42202]);
    }
    expect((await http('POST', `${base}/positions`, { headers: { 'content-type': V2 }, body: { offsets: [{ topic, partition: 0, offset: 3 }] } })).status).toBe(204);
    expect((await http('GET', `${base}/records?timeout=200`, { headers: { accept: V2_JSON } })).json).toEqual([{ topic, key: null, value: { n: 3 }, partition: 0, offset: 3 }]);
    expect((await http('DELETE', base)).status).toBe(204);
  });

  it('expires an idle consumer instance (rest.consumerInstanceTimeoutMs) and leaves its group', async () => {
    const group = uniqueId('idle');
    const topic = uniqueTopic('idle');
    await http('POST', url(`/topics/${topic}`), { headers: { 'content-type': V2_JSON }, body: { records: [{ value: 1 }] } });
    const created = await http('POST', url(`/consumers/${group}`), { headers: { 'content-type': V2 }, body: { name: 'sleepy' } });
    expect(created.status).toBe(200);
    const sub = { headers: { 'content-type': V2 }, body: { topics: [topic] } };
    expect((await http('POST', url(`/consumers/${group}/instances/sleepy/subscription`), sub)).status).toBe(204);
    // Probe by re-creating the name (409 while it lives): touching the instance would keep it alive.
    const started = Date.now();
    await eventually(async () => (await http('POST', url(`/consumers/${group}`), { headers: { 'content-type': V2 }, body: { name: 'sleepy', format: 'json' } })).status === 200, {
      what: 'expiry',
      timeoutMs: 5_000,
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    // The instance that answers now is the new one (json), not the expired one (binary).
    expect((await http('GET', url(`/consumers/${group}/instances/sleepy/records`), { headers: { accept: V2_BINARY } })).json.error_code).toBe(40601);
    // The expired member left the group: the new one is assigned the topic's only partition.
    expect((await http('POST', url(`/consumers/${group}/instances/sleepy/subscription`), sub)).status).toBe(204);
    expect((await http('GET', url(`/consumers/${group}/instances/sleepy/assignments`))).json).toEqual({ partitions: [{ topic, partition: 0 }] });
    const other = await http('GET', url(`/consumers/${group}/instances/other/subscription`));
    expect(other.json).toEqual({ error_code: 40403, message: 'Consumer instance not found.' });
  });

  it('authenticates with a bearer API key (or access_token for EventSource); health needs none', async () => {
    const sha256 = (k: string) => createHash('sha256').update(k).digest('hex');
    const all = { read: ['*'], write: ['*'], groups: ['*'] };
    const own = await startTestGateway({
      backend,
      config: { auth: { apiKeys: [{ id: 'a', sha256: sha256('key-a-0123456789'), grants: all }, { id: 'b', sha256: sha256('key-b-0123456789'), grants: all }] } },
    });
    try {
      const topic = uniqueTopic('auth');
      const body = { records: [{ value: 1 }] };
      const anonymous = await http('POST', `${own.httpUrl}/v1/topics/${topic}/records`, { headers: { 'content-type': 'application/json' }, body });
      expect([anonymous.status, anonymous.json.error_code]).toEqual([401, 40101]);
      const a = { authorization: 'Bearer key-a-0123456789' };
      expect((await http('POST', `${own.httpUrl}/v1/topics/${topic}/records`, { headers: { ...a, 'content-type': 'application/json' }, body })).status).toBe(200);
      expect((await http('GET', `${own.httpUrl}/healthz`)).status).toBe(200);
      const wrong = await http('GET', `${own.httpUrl}/topics`, { headers: { authorization: 'Bearer nope' } });
      expect([wrong.status, wrong.json.error_code]).toEqual([401, 40101]);
      const sse = await fetch(`${own.httpUrl}/v1/topics/${topic}/events?access_token=key-a-0123456789`);
      expect(sse.status).toBe(200);
      await sse.body!.cancel();
      // A consumer instance belongs to its creator.
      const base = (await http('POST', `${own.httpUrl}/consumers/g`, { headers: { ...a, 'content-type': V2 }, body: {} })).json.base_uri;
      expect((await http('GET', `${base}/subscription`, { headers: a })).status).toBe(200);
      expect((await http('GET', `${base}/subscription`, { headers: { authorization: 'Bearer key-b-0123456789' } })).json.error_code).toBe(40403);
    } finally {
      await own.close();
    }
  });

  it('answers health and readiness, and leaves routes it does not own to others', async () => {
    expect((await call('GET', '/healthz', '/healthz')).json).toEqual({ status: 'ok' });
    expect((await call('GET', '/readyz', '/readyz')).status).toBe(200);
    const unknown = await http('GET', url('/nothing-here'));
    expect(unknown.status).toBe(404);
    const notFound = await call('GET', '/topics/{topic}', `/topics/${uniqueTopic('none')}`);
    expect(notFound.json).toEqual({ error_code: 40401, message: expect.any(String) });
  });

  it('serves an OpenAPI 3.1 document that describes every route and every sample response', async () => {
    const served = await call('GET', '/openapi.json', '/openapi.json');
    expect(served.json.openapi).toBe('3.1.0');
    expect(served.json).toEqual(JSON.parse(JSON.stringify(openApiDocument)));
    const doc = served.json;
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        '/healthz', '/readyz', '/openapi.json', '/brokers', '/topics', '/topics/{topic}', '/topics/{topic}/partitions', '/topics/{topic}/partitions/{partition}',
        '/topics/{topic}/partitions/{partition}/offsets', '/consumers/{group}', '/consumers/{group}/instances/{instance}',
        '/consumers/{group}/instances/{instance}/subscription', '/consumers/{group}/instances/{instance}/assignments',
        '/consumers/{group}/instances/{instance}/positions', '/consumers/{group}/instances/{instance}/positions/beginning',
        '/consumers/{group}/instances/{instance}/positions/end', '/consumers/{group}/instances/{instance}/records',
        '/consumers/{group}/instances/{instance}/offsets', '/v1/topics', '/v1/topics/{topic}/records',
        '/v1/topics/{topic}/partitions/{partition}/records', '/v1/topics/{topic}/offsets', '/v1/topics/{topic}/events',
        ...[
          '', '/{cluster_id}', '/{cluster_id}/topics', '/{cluster_id}/topics/{topic_name}', '/{cluster_id}/topics/{topic_name}/partitions',
          '/{cluster_id}/topics/{topic_name}/partitions/{partition_id}', '/{cluster_id}/topics/{topic_name}/configs', '/{cluster_id}/topics/{topic_name}/configs/{name}',
          '/{cluster_id}/topics/{topic_name}/records', '/{cluster_id}/consumer-groups', '/{cluster_id}/consumer-groups/{consumer_group_id}',
          '/{cluster_id}/consumer-groups/{consumer_group_id}/consumers', '/{cluster_id}/consumer-groups/{consumer_group_id}/consumers/{consumer_id}',
          '/{cluster_id}/consumer-groups/{consumer_group_id}/lags', '/{cluster_id}/consumer-groups/{consumer_group_id}/lags/{topic_name}/partitions/{partition_id}',
          '/{cluster_id}/consumer-groups/{consumer_group_id}/lag-summary',
        ].map((p) => `/v3/clusters${p}`),
        '/v1/whoami', '/v1/admin/connections', '/v1/admin/mqtt',
      ].sort(),
    );
    const check = new OpenApiCheck(doc);
    const distinct = new Set<string>();
    for (const { template, method, res } of samples) {
      const op = doc.paths[template]?.[method];
      expect(op, `${method} ${template} is documented`).toBeDefined();
      const response = op.responses[String(res.status)];
      expect(response, `${method} ${template} documents status ${res.status}`).toBeDefined();
      distinct.add(`${method} ${template} ${res.status}`);
      if (res.status === 204) continue;
      const type = String(res.headers['content-type']).split(';')[0]!;
      const media = response.content?.[type];
      expect(media, `${method} ${template} ${res.status} documents ${type}`).toBeDefined();
      expect(check.responseErrors(template, method, res.status, type, res.json), `${method} ${template} ${res.status}`).toEqual([]);
    }
    expect(distinct.size).toBeGreaterThanOrEqual(20);

    // The SSE events as an SSE parser yields them (WHATWG HTML §9.2.6): each matches SseEvent, and
    // its data the schema its contentSchema names (ajv does not validate contentSchema itself).
    const events = parseSse(sseText);
    expect(events.map((e) => e.event)).toEqual(['subscribed', 'message']);
    for (const event of events) {
      expect(check.errors(['components', 'schemas', 'SseEvent'], event), event.event).toEqual([]);
      const contentSchema = doc.components.schemas.SseEvent.oneOf.find((o: any) => o.properties.event.const === event.event).properties.data.contentSchema;
      if (contentSchema !== undefined) expect(check.errors(contentSchema.$ref.slice(2).split('/'), JSON.parse(event.data)), `${event.event} data`).toEqual([]);
    }
  });
});

/** Events of an SSE text: `event` defaults to `message`, `id` persists, blocks without data are skipped; a cut-off last block is dropped. */
function parseSse(text: string): { event: string; data: string; id?: string; retry?: number }[] {
  const out: { event: string; data: string; id?: string; retry?: number }[] = [];
  let id: string | undefined;
  for (const block of text.split('\n\n').slice(0, -1)) {
    let event = 'message';
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon === -1 ? line : line.slice(0, colon);
      const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
      else if (field === 'id') id = value;
    }
    if (data.length > 0) out.push({ event, data: data.join('\n'), ...(id === undefined ? {} : { id }) });
  }
  return out;
}
