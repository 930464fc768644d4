/**
 * The native v1 API and Server-Sent Events against the real Kafka broker: produce / fetch /
 * long-poll / offsets, idempotent retries, and SSE streams that resume by Last-Event-ID with no
 * gap and no duplicate (the `eventsource` client's own reconnect, and a hand-rolled reader).
 */
import { EventSource, type FetchLike } from 'eventsource';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';
import { http } from './http.js';
import { sse } from '../support/sse.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({ config: { rest: { sseRetryMs: 50, sseHeartbeatMs: 200 } } });
});
afterAll(async () => {
  await gw?.close();
});
const url = (path: string) => `${gw.httpUrl}${path}`;
const JSON_H = { 'content-type': 'application/json' };

async function produce(topic: string, records: unknown[], headers: Record<string, string> = {}) {
  const res = await http('POST', url(`/v1/topics/${topic}/records`), { headers: { ...JSON_H, ...headers }, body: { records } });
  expect(res.status).toBe(200);
  return res.json;
}

async function take(gen: AsyncGenerator<{ id?: string; event: string; data: string }>, n: number, event = 'message') {
  const out: { id?: string; event: string; data: any }[] = [];
  // gen.next() rather than for-await: breaking out of for-await would close the stream.
  for (;;) {
    const next = await gen.next();
    if (next.done === true) break;
    const ev = next.value;
    if (ev.event !== event) continue;
    out.push({ ...ev, data: JSON.parse(ev.data) });
    if (out.length === n) break;
  }
  return out;
}

describe('native v1 API (Kafka)', () => {
  it('produces, fetches by offset, long-polls, and reports offsets', async () => {
    const topic = uniqueTopic('v1');
    const produced = await produce(topic, [
      { key: 'a', value: { n: 0 }, headers: { h: 'x' } }, // the object form; served as the array
      { key: 'b', value: 'hello', timestamp: 1_700_000_000_000 },
      { value: Buffer.from([0xff, 0x00]).toString('base64'), encoding: 'base64' },
    ]);
    expect(produced).toEqual({
      topic,
      offsets: [
        { partition: 0, offset: '0', timestamp: expect.any(Number) },
        { partition: 0, offset: '1', timestamp: 1_700_000_000_000 },
        { partition: 0, offset: '2', timestamp: expect.any(Number) },
      ],
    });
    const fetched = await http('GET', url(`/v1/topics/${topic}/partitions/0/records?offset=1&max=10`));
    expect(fetched.status).toBe(200);
    expect(fetched.json).toEqual({
      topic,
      partition: 0,
      records: [
        { partition: 0, offset: '1', timestamp: 1_700_000_000_000, key: 'b', value: 'hello', headers: [] },
        { partition: 0, offset: '2', timestamp: expect.any(Number), key: null, value: '/wA=', encoding: 'base64', headers: [] },
      ],
      next_offset: '3',
      earliest: '0',
      latest: '3',
    });
    expect((await http('GET', url(`/v1/topics/${topic}/partitions/0/records?offset=earliest&max=1`))).json.records[0]).toEqual({
      partition: 0,
      offset: '0',
      timestamp: expect.any(Number),
      key: 'a',
      value: { n: 0 },
      headers: [{ name: 'h', value: 'x' }],
    });
    expect((await http('GET', url(`/v1/topics/${topic}/offsets`))).json).toEqual({ topic, partitions: [{ partition: 0, earliest: '0', latest: '3' }] });

    // Long-poll at the end: answered by the next produce, well before the timeout.
    const started = Date.now();
    const poll = http('GET', url(`/v1/topics/${topic}/partitions/0/records?offset=3&timeout_ms=10000`));
    // It is still waiting (not answered empty) after 300 ms…
    const early = await Promise.race([poll.then(() => 'answered'), new Promise((r) => setTimeout(() => r('waiting'), 300))]);
    expect(early).toBe('waiting');
    await produce(topic, [{ value: { n: 3 } }]);
    // …and the produce answers it.
    const polled = await poll;
    expect(polled.json.records.map((r: any) => [r.offset, r.value])).toEqual([['3', { n: 3 }]]);
    expect(Date.now() - started).toBeLessThan(9000);
    const empty = await http('GET', url(`/v1/topics/${topic}/partitions/0/records?offset=4&timeout_ms=200`));
    expect(empty.json).toMatchObject({ records: [], next_offset: '4' });
  });

  it('treats a retried produce with the same Idempotency-Key as the same write', async () => {
    const topic = uniqueTopic('v1idem');
    const first = await produce(topic, [{ value: 1 }, { value: 2 }], { 'idempotency-key': 'batch-1' });
    const again = await produce(topic, [{ value: 1 }, { value: 2 }], { 'idempotency-key': 'batch-1' });
    expect(again.offsets).toEqual(first.offsets);
    expect((await http('GET', url(`/v1/topics/${topic}/offsets`))).json.partitions[0].latest).toBe('2');
  });

  it('rejects bad input with catalogued codes and writes nothing from a rejected batch', async () => {
    const topic = uniqueTopic('v1bad');
    await produce(topic, [{ value: 0 }]);
    const bad = async (raw: string, headers: Record<string, string>, status: number, code: string | number) => {
      const res = await http('POST', url(`/v1/topics/${topic}/records`), { headers, raw });
      expect([res.status, typeof code === 'string' ? res.json.code : res.json.error_code]).toEqual([status, code]);
    };
    await bad('{"records":[{"value":1},{"value":"@@","encoding":"base64"}]}', JSON_H, 422, 'INVALID_VALUE');
    await bad('{"records":[{"value":1},{"key":5,"value":2}]}', JSON_H, 422, 'INVALID_KEY');
    await bad('{"records":[', JSON_H, 400, 400);
    await bad('{"records":[{"value":1}]}', { 'content-type': 'text/plain' }, 415, 415);
    await bad('{"records":[]}', JSON_H, 422, 'INVALID_ARGUMENT');
    expect((await http('GET', url(`/v1/topics/${topic}/offsets`))).json.partitions[0].latest).toBe('1');

    const missing = await http('GET', url(`/v1/topics/${uniqueTopic('nope')}/offsets`));
    expect([missing.status, missing.json.error_code, missing.json.code]).toEqual([404, 40401, 'TOPIC_NOT_FOUND']);
    const beyond = await http('GET', url(`/v1/topics/${topic}/partitions/0/records?offset=99`));
    expect([beyond.status, beyond.json.code]).toEqual([416, 'OUT_OF_RANGE']);
    const noOffset = await http('GET', url(`/v1/topics/${topic}/partitions/0/records`));
    expect([noOffset.status, noOffset.json.code]).toEqual([422, 'INVALID_ARGUMENT']);
    const noPartition = await http('GET', url(`/v1/topics/${topic}/partitions/4/records?offset=0`));
    expect([noPartition.status, noPartition.json.code]).toEqual([404, 'PARTITION_NOT_FOUND']);
  });
});

describe('Server-Sent Events (Kafka)', () => {
  it('streams a record produced over REST v2, with positions as event ids, and filters by key', async () => {
    const topic = uniqueTopic('sse');
    await produce(topic, [{ key: 'sensors/a', value: { seq: 0 } }]);
    const abort = new AbortController();
    const all = sse(url(`/v1/topics/${topic}/events?from=earliest`), {}, abort.signal);
    const filtered = sse(url(`/v1/topics/${topic}/events?from=earliest&filter=sensors/%2B&key=other`), {}, abort.signal);
    const subscribed = await take(all, 1, 'subscribed');
    expect(subscribed[0]).toEqual({ id: '0:0', event: 'subscribed', data: { topic, positions: { '0': '0' } } });
    const v2 = await http('POST', url(`/topics/${topic}`), {
      headers: { 'content-type': 'application/vnd.kafka.json.v2+json' },
      body: { records: [{ key: 'other', value: { seq: 1 } }, { key: 'nomatch', value: { seq: 2 } }, { key: 'sensors/b', value: { seq: 3 } }] },
    });
    expect(v2.status).toBe(200);
    const events = await take(all, 4);
    expect(events.map((e) => [e.id, e.data.key, e.data.value.seq])).toEqual([
      ['0:1', 'sensors/a', 0],
      ['0:2', 'other', 1],
      ['0:3', 'nomatch', 2],
      ['0:4', 'sensors/b', 3],
    ]);
    expect(events[0]!.data).toEqual({ topic, partition: 0, offset: '0', timestamp: expect.any(Number), key: 'sensors/a', value: { seq: 0 }, headers: [] });
    expect((await take(filtered, 3)).map((e) => e.data.value.seq)).toEqual([0, 1, 3]);
    abort.abort();

    const missing = await http('GET', url(`/v1/topics/${uniqueTopic('nope')}/events`));
    expect([missing.status, missing.json.code]).toEqual([404, 'TOPIC_NOT_FOUND']);
    const badId = await http('GET', url(`/v1/topics/${topic}/events`), { headers: { 'last-event-id': 'garbage' } });
    expect([badId.status, badId.json.code]).toEqual([422, 'INVALID_ARGUMENT']);
  });

  it('resumes from Last-Event-ID (header or lastEventId query) with no gap and no duplicate', async () => {
    const topic = uniqueTopic('sseresume');
    await produce(topic, Array.from({ length: 6 }, (_, seq) => ({ value: { seq } })));
    const first = new AbortController();
    const got = await take(sse(url(`/v1/topics/${topic}/events?from=earliest`), {}, first.signal), 4);
    first.abort();
    const lastId = got.at(-1)!.id!;
    expect(lastId).toBe('0:4');
    await produce(topic, [{ value: { seq: 6 } }]);
    const second = new AbortController();
    // from=latest is ignored: Last-Event-ID wins.
    const rest = await take(sse(url(`/v1/topics/${topic}/events?from=latest`), { 'last-event-id': lastId }, second.signal), 3);
    second.abort();
    expect([...got, ...rest].map((e) => e.data.value.seq)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    const third = new AbortController();
    const viaQuery = await take(sse(url(`/v1/topics/${topic}/events?lastEventId=0:6`), {}, third.signal), 1);
    third.abort();
    expect(viaQuery.map((e) => e.data.value.seq)).toEqual([6]);
  });

  it('an EventSource whose connection drops reconnects with Last-Event-ID and misses nothing', async () => {
    const topic = uniqueTopic('sseeventsource');
    await produce(topic, Array.from({ length: 10 }, (_, seq) => ({ value: { seq } })));
    const requests: (string | undefined)[] = [];
    // Cuts the first connection after three record events reached the client (a network drop).
    const droppingFetch: FetchLike = async (input, init) => {
      requests.push(init.headers['Last-Event-ID'] ?? init.headers['last-event-id']);
      const res = await fetch(input, init as RequestInit);
      if (requests.length > 1 || res.body === null) return res;
      const reader = res.body.getReader();
      let seen = 0;
      let cut = false;
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          if (cut) {
            await reader.cancel();
            controller.close();
            return;
          }
          const { done, value } = await reader.read();
          if (done) return controller.close();
          // A record event is an id line followed directly by its data (no `event:` field).
          seen += (new TextDecoder().decode(value).match(/^id: [^\n]*\ndata: /gm) ?? []).length;
          controller.enqueue(value);
          if (seen >= 3) cut = true;
        },
      });
      return new Response(body, { status: res.status, headers: res.headers });
    };
    const es = new EventSource(url(`/v1/topics/${topic}/events?from=earliest`), { fetch: droppingFetch });
    const seqs: number[] = [];
    es.onmessage = (ev) => seqs.push(JSON.parse(ev.data).value.seq);
    try {
      await eventually(() => requests.length >= 2, { what: 'a reconnect' });
      await produce(topic, Array.from({ length: 5 }, (_, i) => ({ value: { seq: 10 + i } })));
      await eventually(() => seqs.length >= 15, { what: '15 records' });
      expect(seqs).toEqual(Array.from({ length: 15 }, (_, i) => i));
      expect(requests[0]).toBeUndefined();
      expect(requests[1]).toMatch(/^0:\d+$/);
    } finally {
      es.close();
    }
  });
});
