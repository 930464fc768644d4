/**
 * Issue 16, finding 1 (crash class): a record that a protocol's encoder cannot take — a stored
 * JSON value nested 300,000 levels deep (written as raw bytes over gRPC, as a device would over
 * MQTT), and a header longer than an MQTT 5 string may be — is contained to its readers on EVERY
 * delivery path: the process stays up, every other subscriber of the topic keeps receiving, and
 * the reader gets the record in a safe form (base64 with the protocol's binary marker, or the
 * exact bytes where the protocol carries bytes) or a catalogued error — never a crash, a 500 or
 * a desynchronized stream. Before the fix, SSE catch-up of the deep value killed the process with
 * ERR_STREAM_WRITE_AFTER_END (and every reconnecting EventSource killed it again), the v2 JSON
 * consumer answered 500, and MQTT 5 subscribers got a truncated PUBLISH for the long header.
 */
import { join } from 'node:path';
import { EventSource } from 'eventsource';
import protobuf from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, SessionRecorder, stubFor, SubscribeRecorder } from '../grpc/helpers.js';
import { connectClient } from '../mqtt/helpers.js';
import { http, V2, V2_BINARY, V2_JSON } from '../rest/http.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';
import { RawClient } from '../websocket/raw-client.js';
import { sse, type SseEvent } from '../support/sse.js';

const DEPTH = 300_000;
const DEEP = Buffer.from(`${'['.repeat(DEPTH)}${']'.repeat(DEPTH)}`);
/** Longer than an MQTT 5 UTF-8 string may be (65,535 bytes): breaks mqtt-packet's PUBLISH encoder. */
const LONG_HEADER = Buffer.alloc(70_000, 'x');
const TOPIC = uniqueTopic('enc');
const PROTO = join(import.meta.dirname, '../../proto/streamgate/v1/streamgate.proto');

let gw: TestGateway;
let stub: ReturnType<typeof stubFor>;
/** A subscriber of the same topic for the whole file: it must receive everything, whatever the others hit. */
let bystander: SubscribeRecorder;
let produced = 0;

/** Four records: plain JSON, the deep value, a long header, plain JSON. Values name their batch. */
async function produceHostileBatch(tag: string): Promise<void> {
  await call(stub, 'Produce', {
    topic: TOPIC,
    records: [
      { key: Buffer.from(`${TOPIC}/a`), value: Buffer.from(`{"n":"${tag}-0"}`) },
      { key: Buffer.from(`${TOPIC}/deep`), value: DEEP },
      { key: Buffer.from(`${TOPIC}/long`), value: Buffer.from(`{"n":"${tag}-2"}`), headers: [{ key: 'long', value: LONG_HEADER }, { key: 'short', value: Buffer.from('ok') }] },
      { key: Buffer.from(`${TOPIC}/z`), value: Buffer.from(`{"n":"${tag}-3"}`) },
    ],
  });
  produced += 4;
}

/** Checks four JSON-record deliveries of one batch: the deep value arrives base64 with the marker. */
function expectJsonBatch(records: any[], tag: string): void {
  expect(records.map((r) => r.value?.n ?? r.encoding)).toEqual([`${tag}-0`, 'base64', `${tag}-2`, `${tag}-3`]);
  expect(Buffer.from(records[1].value, 'base64').equals(DEEP)).toBe(true);
  expect(records[2].headers).toEqual([{ name: 'long', value: LONG_HEADER.toString() }, { name: 'short', value: 'ok' }]);
}

async function alive(): Promise<void> {
  expect((await http('GET', `${gw.httpUrl}/healthz`)).status).toBe(200);
}

beforeAll(async () => {
  gw = await startTestGateway({ config: { rest: { sseRetryMs: 50, sseHeartbeatMs: 200 }, mqtt: { routes: [{ filter: `${TOPIC}/#`, topic: TOPIC }] } } });
  stub = stubFor(gw.ports.grpc);
  await produceHostileBatch('b0');
  bystander = new SubscribeRecorder(stub, { topic: TOPIC, position: { earliest: {} } });
  await bystander.subscribed();
});

afterAll(async () => {
  bystander?.call.cancel();
  stub?.close();
  await gw?.close();
});

/** The next `n` events of a stream. */
async function take(stream: AsyncGenerator<SseEvent>, n: number): Promise<SseEvent[]> {
  const out: SseEvent[] = [];
  while (out.length < n) {
    const next = await stream.next();
    if (next.done === true) break;
    out.push(next.value);
  }
  return out;
}

describe('an unencodable or deep record is contained on every delivery path', () => {
  it('SSE catch-up and live: the deep value arrives base64; an EventSource reconnecting by Last-Event-ID is served again', async () => {
    const abort = new AbortController();
    try {
      const catchUp = sse(`${gw.httpUrl}/v1/topics/${TOPIC}/events?from=earliest`, {}, abort.signal);
      const live = sse(`${gw.httpUrl}/v1/topics/${TOPIC}/events?from=latest`, {}, abort.signal);
      const [caught, liveStart] = await Promise.all([take(catchUp, 1 + 4), take(live, 1)]);
      expect([caught[0]!.event, liveStart[0]!.event]).toEqual(['subscribed', 'subscribed']);
      expectJsonBatch(caught.slice(1).map((e) => JSON.parse(e.data)), 'b0');
      await produceHostileBatch('sse-live');
      expectJsonBatch((await take(live, 4)).map((e) => JSON.parse(e.data)), 'sse-live');
      expectJsonBatch((await take(catchUp, 4)).map((e) => JSON.parse(e.data)), 'sse-live');
      await alive();

      // The reconnect that used to kill the gateway again: resume right before the deep record.
      const resumed = await take(sse(`${gw.httpUrl}/v1/topics/${TOPIC}/events`, { 'last-event-id': caught[1]!.id! }, abort.signal), 1 + 3);
      expect(resumed.slice(1).map((e) => JSON.parse(e.data).offset)).toEqual(['1', '2', '3']);
      expect(JSON.parse(resumed[1]!.data).encoding).toBe('base64');
    } finally {
      abort.abort();
    }

    // A real EventSource (the browser's reconnecting client) from the start.
    const es = new EventSource(`${gw.httpUrl}/v1/topics/${TOPIC}/events?from=earliest`);
    const seen: any[] = [];
    es.onmessage = (m) => seen.push(JSON.parse(m.data));
    try {
      await eventually(() => seen.length >= 8, { what: 'EventSource records' });
      expectJsonBatch(seen.slice(0, 4), 'b0');
    } finally {
      es.close();
    }
    await alive();
  });

  it('WebSocket JSON catch-up and live: base64 with "encoding", the connection stays usable', async () => {
    const c = await RawClient.open(gw.wsUrl);
    try {
      c.send({ op: 'subscribe', id: 'catchup', topic: TOPIC, from: 'earliest' });
      c.send({ op: 'subscribe', id: 'live', topic: TOPIC, from: 'latest' });
      await c.waitFor((f) => f.op === 'subscribed' && f.id === 'live');
      expectJsonBatch((await c.waitForRecords('catchup', 4)).slice(0, 4), 'b0');
      await produceHostileBatch('ws-live');
      expectJsonBatch(await c.waitForRecords('live', 4), 'ws-live');
      c.send({ op: 'ping', id: 'still-there' });
      await c.waitFor((f) => f.op === 'pong' && f.id === 'still-there');
      expect(c.frames.filter((f) => f.op === 'error' || f.op === 'end')).toEqual([]);
    } finally {
      c.ws.close();
    }
    await alive();
  });

  it('WebSocket proto, gRPC Subscribe and gRPC Session carry the exact bytes', async () => {
    const root = protobuf.loadSync(PROTO);
    const Req = root.lookupType('streamgate.v1.SessionRequest');
    const Res = root.lookupType('streamgate.v1.SessionResponse');
    const c = await RawClient.open(gw.wsUrl, 'streamgate.v1.proto');
    const subscribe = new SubscribeRecorder(stub, { topic: TOPIC, position: { earliest: {} } });
    const session = new SessionRecorder(stub);
    try {
      c.ws.send(Req.encode(Req.fromObject({ subscribe: { id: 's', topic: TOPIC, position: { earliest: {} }, credit: 1000 } })).finish());
      session.send({ subscribe: { id: 's', topic: TOPIC, position: { earliest: {} }, credit: 1000 } });
      const wsRecords = () => c.binaryFrames.map((b) => Res.toObject(Res.decode(b), { oneofs: true }) as any).filter((f) => f.frame === 'records').flatMap((f) => f.records.records);
      const byPath = {
        'ws proto': await eventually(() => wsRecords().length >= 4 && wsRecords()),
        'grpc subscribe': await eventually(() => subscribe.records().length >= 4 && subscribe.records()),
        'grpc session': await eventually(() => session.records('s').length >= 4 && session.records('s')),
      };
      for (const [path, records] of Object.entries(byPath)) {
        expect(Buffer.from(records[1].value).equals(DEEP), path).toBe(true);
        expect(records[2].headers[0].key, path).toBe('long');
        expect(Buffer.from(records[2].headers[0].value).equals(LONG_HEADER), path).toBe(true);
        expect(Buffer.from(records[3].value).toString(), path).toBe('{"n":"b0-3"}');
      }
    } finally {
      c.ws.close();
      subscribe.call.cancel();
      session.close();
    }
    await alive();
  });

  it('MQTT 3.1.1 and 5: the deep payload arrives as its bytes; a header too long for MQTT 5 is left out, the stream stays in sync', async () => {
    const v5 = await connectClient(`mqtt://127.0.0.1:${gw.ports.mqtt}`, { protocolVersion: 5, clientId: uniqueId('enc5') });
    const v4 = await connectClient(`mqtt://127.0.0.1:${gw.ports.mqtt}`, { protocolVersion: 4, clientId: uniqueId('enc4') });
    try {
      await v5.client.subscribeAsync(`${TOPIC}/#`, { qos: 0 });
      await v4.client.subscribeAsync(`${TOPIC}/#`, { qos: 0 });
      await produceHostileBatch('mqtt');
      for (const client of [v5, v4]) {
        const got = await client.waitFor(4);
        expect(got.map((m) => m.topic)).toEqual([`${TOPIC}/a`, `${TOPIC}/deep`, `${TOPIC}/long`, `${TOPIC}/z`]);
        expect(Buffer.from(got[1]!.packet.payload).equals(DEEP)).toBe(true);
        expect(got[3]!.payload).toBe('{"n":"mqtt-3"}');
        expect(client.client.connected).toBe(true);
      }
      expect((await v5.waitFor(4))[2]!.packet.properties?.userProperties).toEqual({ short: 'ok' });
    } finally {
      await v5.end();
      await v4.end();
    }
    await alive();
  });

  it('REST v1 fetch: base64 with "encoding"', async () => {
    const res = await http('GET', `${gw.httpUrl}/v1/topics/${TOPIC}/partitions/0/records?offset=0&max=4`);
    expect(res.status).toBe(200);
    expectJsonBatch(res.json.records, 'b0');
  });

  it('REST v2: the json consumer answers the deep value with 42202 (not 500) after the records before it; the binary consumer gets every byte', async () => {
    const consumer = async (format: 'json' | 'binary') => {
      const group = uniqueId(`enc-${format}`);
      const created = await http('POST', `${gw.httpUrl}/consumers/${group}`, { headers: { 'content-type': V2 }, body: { format, 'auto.offset.reset': 'earliest' } });
      expect(created.status).toBe(200);
      const base = `${gw.httpUrl}/consumers/${group}/instances/${created.json.instance_id}`;
      expect((await http('POST', `${base}/subscription`, { headers: { 'content-type': V2 }, body: { topics: [TOPIC] } })).status).toBe(204);
      return base;
    };
    const json = await consumer('json');
    const first = await eventually(async () => {
      const r = await http('GET', `${json}/records?timeout=1000`, { headers: { accept: V2_JSON } });
      return r.status !== 200 || r.json.length > 0 ? r : undefined;
    }, { timeoutMs: 20_000 });
    expect(first.status).toBe(200);
    expect(first.text).toContain('"value":{"n":"b0-0"}');
    expect(first.json.map((r: any) => r.offset)).toEqual([0]);
    const bad = await http('GET', `${json}/records?timeout=1000`, { headers: { accept: V2_JSON } });
    expect([bad.status, bad.json.error_code]).toEqual([422, 42202]);

    const binary = await consumer('binary');
    const all: any[] = [];
    await eventually(async () => {
      const r = await http('GET', `${binary}/records?timeout=500`, { headers: { accept: V2_BINARY } });
      expect(r.status).toBe(200);
      all.push(...r.json);
      return all.length >= 4;
    }, { timeoutMs: 20_000 });
    expect(Buffer.from(all[1].value, 'base64').equals(DEEP)).toBe(true);
    expect(Buffer.from(all[0].value, 'base64').toString()).toBe('{"n":"b0-0"}');
    await alive();
  });

  it('the bystander subscriber of the same topic received every record of every batch, in order', async () => {
    await eventually(() => bystander.records().length >= produced, { what: `${produced} records on the bystander`, timeoutMs: 20_000 });
    const records = bystander.records();
    expect(records.map((r) => r.offset)).toEqual(records.map((_, i) => String(i)));
    for (let i = 1; i < produced; i += 4) expect(Buffer.from(records[i]!.value!).equals(DEEP)).toBe(true);
    expect(bystander.error).toBeUndefined();
  });
});
