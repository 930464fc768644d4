/**
 * Issue 16, findings 12 and 13: the bytes a client sent are the bytes stored and served. One JSON
 * value that JSON.parse + JSON.stringify would alter in every way it can (integers beyond 2^53,
 * long decimals, exponents beyond double range, -0, duplicate members, unicode escapes, a lone
 * surrogate escape) is produced over REST v1, REST v2 json, WebSocket JSON, gRPC and MQTT, is
 * stored as that exact text, and reads back byte-identical over REST v1 fetch, SSE, the REST v2
 * json consumer and WebSocket JSON (spliced verbatim into the JSON), and over gRPC and MQTT (raw
 * bytes). Keys and headers given as JSON strings that UTF-8 cannot hold are refused on every JSON
 * protocol instead of being stored as U+FFFD; REST v1 honours `headersEncoding: "base64"`.
 */
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, stubFor, SubscribeRecorder } from '../grpc/helpers.js';
import { connectClient, type TestClient } from '../mqtt/helpers.js';
import { http, V2, V2_JSON } from '../rest/http.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';

const EXACT =
  '{"big":12345678901234567890,"neg":-98765432109876543210,"long":0.1000000000000000055511151231257827,' +
  '"exp":1e400,"tiny":-2.5E-400,"zero":-0,"dup":1,"dup":2,"esc":"\\u00e9\\/\\ud83d\\ude00","lone":"\\ud800",' +
  '"raw":"é😀","arr":[1.0,2.50,[{}]]}';
const TOPIC = uniqueTopic('exact');
const SOURCES = ['v1', 'v2', 'ws', 'grpc', 'mqtt'] as const;

let gw: TestGateway;
let stub: ReturnType<typeof stubFor>;
let mqttReader: TestClient;

/** How many times `"value":<EXACT>` appears in a JSON text: each is one record served verbatim. */
const verbatim = (text: string): number => text.split(`"value":${EXACT}`).length - 1;

/** Raw text frames of a WebSocket JSON connection (the test must not parse them: parsing is lossy). */
async function wsJson(): Promise<{ ws: WebSocket; texts: string[] }> {
  const ws = new WebSocket(`${gw.wsUrl}/v1/ws`, ['streamgate.v1.json']);
  const texts: string[] = [];
  ws.on('message', (data: Buffer) => texts.push(data.toString('utf8')));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, texts };
}

async function latestOffset(): Promise<string> {
  const res = await http('GET', `${gw.httpUrl}/v1/topics/${TOPIC}/offsets`);
  return res.status === 404 ? '0' : res.json.partitions[0].latest;
}

beforeAll(async () => {
  gw = await startTestGateway({ config: { mqtt: { routes: [{ filter: `${TOPIC}/#`, topic: TOPIC }] } } });
  stub = stubFor(gw.ports.grpc);
  mqttReader = await connectClient(`mqtt://127.0.0.1:${gw.ports.mqtt}`, { protocolVersion: 5, clientId: uniqueId('exact-reader') });
  await mqttReader.client.subscribeAsync(`${TOPIC}/#`, { qos: 1 });

  // The same value, produced over each protocol in turn (one at a time: offsets follow SOURCES).
  const v1 = await http('POST', `${gw.httpUrl}/v1/topics/${TOPIC}/records`, {
    headers: { 'content-type': 'application/json' },
    raw: `{"records":[{"key":"${TOPIC}/v1","value": ${EXACT} }]}`,
  });
  expect(v1.status).toBe(200);
  const v2 = await http('POST', `${gw.httpUrl}/topics/${TOPIC}`, { headers: { 'content-type': V2_JSON }, raw: `{"records":[{"key":"${TOPIC}/v2","value":${EXACT}}]}` });
  expect([v2.status, v2.json.offsets[0].error_code]).toEqual([200, null]);
  const { ws, texts } = await wsJson();
  ws.send(`{"op":"publish","id":"p1","topic":"${TOPIC}","records":[{"key":"${TOPIC}/ws","value":\n${EXACT}\n}]}`);
  await eventually(() => texts.some((t) => t.includes('"op":"ack"')), { what: 'WebSocket ack' });
  ws.close();
  await call(stub, 'Produce', { topic: TOPIC, records: [{ key: Buffer.from(`${TOPIC}/grpc`), value: Buffer.from(EXACT) }] });
  const publisher = await connectClient(`mqtt://127.0.0.1:${gw.ports.mqtt}`, { protocolVersion: 5, clientId: uniqueId('exact-writer') });
  await publisher.client.publishAsync(`${TOPIC}/mqtt`, Buffer.from(EXACT), { qos: 1 });
  await publisher.end();
  expect(await latestOffset()).toBe(String(SOURCES.length));
});

afterAll(async () => {
  await mqttReader?.end();
  stub?.close();
  await gw?.close();
});

describe('a JSON value is stored and served as the exact text sent', () => {
  it('is stored byte for byte whatever protocol wrote it (gRPC Fetch reads the raw bytes)', async () => {
    const res = await call(stub, 'Fetch', { topic: TOPIC, partition: 0, offset: '0', max_records: 10 });
    expect(res.records.map((r: { key: Buffer }) => r.key.toString())).toEqual(SOURCES.map((s) => `${TOPIC}/${s}`));
    for (const r of res.records) expect(Buffer.from(r.value).toString('utf8')).toBe(EXACT);
  });

  it('reads back verbatim over REST v1 fetch, SSE, the REST v2 json consumer and WebSocket JSON', async () => {
    const fetched = await http('GET', `${gw.httpUrl}/v1/topics/${TOPIC}/partitions/0/records?offset=0&max=10`);
    expect(fetched.status).toBe(200);
    expect(verbatim(fetched.text)).toBe(SOURCES.length);

    const abort = new AbortController();
    const sse = await fetch(`${gw.httpUrl}/v1/topics/${TOPIC}/events?from=earliest`, { headers: { accept: 'text/event-stream' }, signal: abort.signal });
    let events = '';
    try {
      for await (const chunk of sse.body as unknown as AsyncIterable<Uint8Array>) {
        events += Buffer.from(chunk).toString('utf8');
        if (verbatim(events) >= SOURCES.length) break;
      }
    } finally {
      abort.abort();
    }
    expect(verbatim(events)).toBe(SOURCES.length);

    const group = uniqueId('exact');
    const created = await http('POST', `${gw.httpUrl}/consumers/${group}`, { headers: { 'content-type': V2 }, body: { format: 'json', 'auto.offset.reset': 'earliest' } });
    const base = `${gw.httpUrl}/consumers/${group}/instances/${created.json.instance_id}`;
    await http('POST', `${base}/subscription`, { headers: { 'content-type': V2 }, body: { topics: [TOPIC] } });
    let consumed = '';
    await eventually(async () => {
      const r = await http('GET', `${base}/records?timeout=500`, { headers: { accept: V2_JSON } });
      expect(r.status).toBe(200);
      consumed += r.text;
      return verbatim(consumed) >= SOURCES.length;
    }, { timeoutMs: 20_000 });
    expect(verbatim(consumed)).toBe(SOURCES.length);

    const { ws, texts } = await wsJson();
    ws.send(JSON.stringify({ op: 'subscribe', id: 's', topic: TOPIC, from: 'earliest' }));
    await eventually(() => verbatim(texts.join('\n')) >= SOURCES.length, { what: 'WebSocket records' });
    ws.close();
    expect(verbatim(texts.join('\n'))).toBe(SOURCES.length);
  });

  it('reads back as the same bytes over gRPC Subscribe and MQTT', async () => {
    const s = new SubscribeRecorder(stub, { topic: TOPIC, position: { earliest: {} } });
    try {
      const records = await eventually(() => s.records().length >= SOURCES.length && s.records());
      for (const r of records) expect(Buffer.from(r.value!).toString('utf8')).toBe(EXACT);
    } finally {
      s.call.cancel();
    }
    const got = await mqttReader.waitFor(SOURCES.length);
    expect(got.map((m) => m.topic)).toEqual(SOURCES.map((x) => `${TOPIC}/${x}`));
    for (const m of got) expect(Buffer.from(m.packet.payload).toString('utf8')).toBe(EXACT);
  });
});

describe('keys and headers that UTF-8 cannot represent are refused, not stored as U+FFFD (finding 13)', () => {
  it('refuses a lone-surrogate key or header over REST v1, REST v2 json and WebSocket JSON, writing nothing', async () => {
    const before = await latestOffset();
    const v1 = (record: string) => http('POST', `${gw.httpUrl}/v1/topics/${TOPIC}/records`, { headers: { 'content-type': 'application/json' }, raw: `{"records":[${record}]}` });
    const key = await v1('{"key":"\\ud800x","value":1}');
    expect([key.status, key.json.code]).toEqual([422, 'INVALID_KEY']);
    expect(key.json.message).toMatch(/lone surrogate/);
    const header = await v1('{"key":"k","value":1,"headers":{"h":"\\udc00"}}');
    expect([header.status, header.json.code]).toEqual([422, 'INVALID_ARGUMENT']);
    const headerName = await v1('{"key":"k","value":1,"headers":{"\\ud800":"v"}}');
    expect([headerName.status, headerName.json.code]).toEqual([422, 'INVALID_ARGUMENT']);

    const v2 = await http('POST', `${gw.httpUrl}/topics/${TOPIC}`, { headers: { 'content-type': V2_JSON }, raw: '{"records":[{"key":"\\ud800x","value":1}]}' });
    expect([v2.status, v2.json.error_code]).toEqual([422, 42201]);

    const { ws, texts } = await wsJson();
    ws.send(`{"op":"publish","id":"bad","topic":"${TOPIC}","records":[{"key":"ok","value":1},{"key":"\\ud800x","value":1}]}`);
    const error = await eventually(() => texts.map((t) => JSON.parse(t)).find((f) => f.id === 'bad'));
    ws.close();
    expect(error).toMatchObject({ op: 'error', code: 'INVALID_KEY' });

    expect(await latestOffset()).toBe(before);
  });

  it('REST v1 stores headers sent with headersEncoding base64 as their bytes, and WebSocket JSON serves them the same way', async () => {
    const res = await http('POST', `${gw.httpUrl}/v1/topics/${TOPIC}/records`, {
      headers: { 'content-type': 'application/json' },
      body: { records: [{ key: `${TOPIC}/h`, value: 1, headers: { bin: '/wA=', txt: 'aGk=' }, headersEncoding: 'base64' }] },
    });
    expect(res.status).toBe(200);
    const offset = res.json.offsets[0].offset;
    const fetched = await call(stub, 'Fetch', { topic: TOPIC, partition: 0, offset, max_records: 1 });
    expect(fetched.records[0].headers.map((h: { key: string; value: Uint8Array }) => [h.key, Buffer.from(h.value).toString('hex')])).toEqual([
      ['bin', 'ff00'],
      ['txt', Buffer.from('hi').toString('hex')],
    ]);
    const { ws, texts } = await wsJson();
    ws.send(JSON.stringify({ op: 'subscribe', id: 's', topic: TOPIC, from: { offsets: { '0': offset } } }));
    const records = await eventually(() => texts.map((t) => JSON.parse(t)).find((f) => f.op === 'records')?.records);
    ws.close();
    expect(records[0]).toMatchObject({ headers: [{ name: 'bin', value: '/wA=' }, { name: 'txt', value: 'aGk=' }], headersEncoding: 'base64' });
  });
});
