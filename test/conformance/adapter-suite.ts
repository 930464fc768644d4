/**
 * The ONE adapter conformance suite: the same cross-protocol cases asserted for every protocol
 * (REST v1, REST v2, SSE, WebSocket JSON, WebSocket proto, gRPC, MQTT), on one backend per call
 * (like backend-suite.ts per backend). Each protocol is a driver below that speaks its own wire
 * terms; the cases only say what every protocol must do:
 *
 * - produce over X: the position X's ack names holds that record, read the same over every
 *   protocol (MQTT acks carry no position: the record is found where the log grew);
 * - latest: a subscription from the end (where the protocol confirms one) sees the next record first;
 * - resume: a client that stored its position (an offset, an SSE event id, a committed group
 *   offset, a persistent MQTT session) and comes back reads on with no gap and no duplicate;
 * - errors: an unknown topic and an illegal topic name are answered in each protocol's own terms;
 * - restart: a gateway that stops announces it in each protocol's terms, and clients resume
 *   gap-free when it is back on the same data.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import protobuf from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { connect, type WebSocketConstructor } from '../../clients/ts/browser/index.js';
import { member, parseJson, plain, textOf, type JsonNode, type JsonObject } from '../../codecs/json-text.js';
import { createContext } from '../../gateway/context.js';
import { call, rejection, SessionRecorder, stubFor, SubscribeRecorder } from '../grpc/helpers.js';
import { connectClient, RawClient as MqttRawClient, type TestClient } from '../mqtt/helpers.js';
import { http, V2, V2_JSON } from '../rest/http.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { kafkaBrokers } from '../support/kafka.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { sse, type SseEvent } from '../support/sse.js';
import { eventually } from '../support/wait.js';
import { RawClient as WsClient } from '../websocket/raw-client.js';

export type BackendKind = 'kafka' | 'embedded';

/** One record as any protocol shows it: the value as its JSON text (JSON protocols splice it in, byte protocols carry it). */
export interface Seen {
  readonly partition: number;
  readonly offset: string;
  readonly key: string | null;
  readonly value: string;
}

/** A position as a client of one protocol stores it (opaque to the cases). */
type Stored = unknown;

interface Reader {
  /** Where the protocol said the subscription starts, per partition, when it says (subscribed frame / event). */
  readonly positions?: Record<string, string>;
  /** Waits until at least `n` records arrived; returns all that did, in order. */
  next(n: number): Promise<Seen[]>;
  /** Ends the client; returns the position it would resume from. */
  stop(): Promise<Stored>;
}

type From = 'earliest' | 'latest' | { partition: number; offset: string };

interface Driver {
  readonly name: string;
  /** Writes one record with a JSON value; resolves with the position the ack names (MQTT: undefined, its acks carry none). */
  produce(topic: string, key: string, json: string): Promise<{ partition: number; offset: string } | undefined>;
  /**
   * Starts reading; resolves once the protocol confirmed the subscription where it has a
   * confirmation. A live reader (MQTT) sees only records written after it opened, whatever `from` says.
   */
  open(topic: string, from: From): Promise<Reader>;
  readonly live?: boolean;
  /** Whether `open(topic, 'latest')` is confirmed before it resolves (so a record written next is the first one seen). */
  readonly confirmsLatest: boolean;
  /** Comes back with what `stop()` stored. */
  resume(topic: string, stored: Stored): Promise<Reader>;
  /** Reading (or subscribing to) a topic that does not exist, in the protocol's own terms; undefined where it cannot be asked (MQTT subscriptions wait for a topic). */
  unknownTopic?(topic: string): Promise<unknown>;
  readonly unknownTopicAnswer?: unknown;
  /** Writing to (or subscribing with) an illegal topic name or filter, in the protocol's own terms. */
  illegalTopic(): Promise<unknown>;
  readonly illegalTopicAnswer: unknown;
}

const ILLEGAL = 'bad topic!';
const REPO = join(import.meta.dirname, '../..');
const utf8 = (b: Uint8Array | null | undefined): string | null => (b === null || b === undefined ? null : Buffer.from(b).toString('utf8'));

/**
 * The records in a JSON text as `Seen`, each `value` as its exact text: JSON.parse would round
 * big integers and drop exponents, which is the very thing the cases check. (The scanner is the
 * codec's own, property-tested against JSON.parse in codecs/json-text.test.ts.)
 */
function recordsIn(text: string, at: (root: JsonNode) => JsonNode | undefined = (root) => root): Seen[] {
  const bytes = Buffer.from(text, 'utf8');
  const list = at(parseJson(bytes));
  if (list === undefined) return [];
  const items = list.type === 'array' ? list.items! : [list];
  return items.map((item) => {
    const record = item as JsonObject;
    const field = (name: string): unknown => {
      const node = member(record, name);
      return node === undefined ? undefined : plain(bytes, node);
    };
    return { partition: Number(field('partition') ?? 0), offset: String(field('offset')), key: (field('key') as string | null | undefined) ?? null, value: textOf(bytes, member(record, 'value')!) };
  });
}

const recordsMember = (root: JsonNode): JsonNode | undefined => (root.type === 'object' ? member(root, 'records') : undefined);

const protoRoot = protobuf.loadSync(join(import.meta.dirname, '../../proto/streamgate/v1/streamgate.proto'));
const SessionRequest = protoRoot.lookupType('streamgate.v1.SessionRequest');
const SessionResponse = protoRoot.lookupType('streamgate.v1.SessionResponse');

/** A WebSocket client on the proto subprotocol: binary SessionRequest / SessionResponse frames. */
class ProtoClient {
  private constructor(readonly raw: WsClient) {}
  static async open(gw: TestGateway): Promise<ProtoClient> {
    return new ProtoClient(await WsClient.open(gw.wsUrl, 'streamgate.v1.proto'));
  }
  send(frame: object): void {
    this.raw.ws.send(SessionRequest.encode(SessionRequest.fromObject(frame)).finish());
  }
  frames(): any[] {
    return this.raw.binaryFrames.map((b) => SessionResponse.toObject(SessionResponse.decode(b), { longs: String, oneofs: true, defaults: false }));
  }
  waitFor(match: (f: any) => boolean, what: string): Promise<any> {
    return eventually(() => this.frames().find(match), { what, timeoutMs: 15_000 });
  }
  records(): Seen[] {
    return this.frames()
      .filter((f) => f.frame === 'records')
      .flatMap((f) => f.records.records)
      .map((r: any) => ({ partition: r.partition ?? 0, offset: r.offset, key: utf8(r.key), value: utf8(r.value)! }));
  }
}

/** The position after the last record seen, per partition (what WebSocket and gRPC clients resume with). */
function after(seen: Seen[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const r of seen) out[String(r.partition)] = String(BigInt(r.offset) + 1n);
  return out;
}

/** A `From` as the proto Position (WebSocket proto and gRPC). */
function protoPosition(from: From): object {
  if (from === 'earliest') return { earliest: {} };
  if (from === 'latest') return { latest: {} };
  return { offsets: { offsets: { [from.partition]: from.offset } } };
}

function drivers(gw: () => TestGateway, stub: () => ReturnType<typeof stubFor>): Driver[] {
  const url = (path: string): string => `${gw().httpUrl}${path}`;

  const v1Reader = (topic: string, start: Exclude<From, 'latest'>): Reader => {
    let offset = start === 'earliest' ? '0' : start.offset;
    const seen: Seen[] = [];
    return {
      async next(n) {
        return eventually(async () => {
          const res = await http('GET', url(`/v1/topics/${topic}/partitions/0/records?offset=${offset}&max=${n}`));
          expect(res.status).toBe(200);
          seen.push(...recordsIn(res.text, recordsMember));
          offset = res.json.next_offset;
          return seen.length >= n && seen;
        }, { what: `${n} records over REST v1` });
      },
      async stop() {
        return offset;
      },
    };
  };

  const sseReader = async (topic: string, start: From | { lastEventId: string }): Promise<Reader> => {
    const abort = new AbortController();
    const seen: Seen[] = [];
    let lastId: string | undefined;
    let subscribed: Record<string, string> | undefined;
    const resuming = typeof start === 'object' && 'lastEventId' in start;
    const query = resuming ? '' : `?from=${typeof start === 'string' ? start : `${start.partition}:${start.offset}`}`;
    const headers: Record<string, string> = resuming ? { 'last-event-id': start.lastEventId } : {};
    const reading = (async () => {
      for await (const ev of sse(url(`/v1/topics/${topic}/events${query}`), headers, abort.signal) as AsyncGenerator<SseEvent>) {
        if (ev.event === 'subscribed') subscribed = JSON.parse(ev.data).positions;
        // Records are default `message` events (EventSource.onmessage); control events are named.
        if (ev.event !== 'message') continue;
        seen.push(...recordsIn(ev.data));
        lastId = ev.id;
      }
    })().catch((err: unknown) => {
      if (!abort.signal.aborted) throw err;
    });
    const positions = await eventually(() => subscribed, { what: 'the SSE subscribed event' });
    return {
      positions,
      next: (n) => eventually(() => seen.length >= n && seen, { what: `${n} SSE record events` }),
      async stop() {
        abort.abort();
        await reading;
        return { lastEventId: lastId };
      },
    };
  };

  const v2Reader = async (topic: string, group: string, start: Exclude<From, 'latest'>): Promise<Reader> => {
    const created = await http('POST', url(`/consumers/${group}`), { headers: { 'content-type': V2 }, body: { format: 'json', 'auto.offset.reset': 'earliest' } });
    expect(created.status).toBe(200);
    const base: string = created.json.base_uri;
    expect((await http('POST', `${base}/subscription`, { headers: { 'content-type': V2 }, body: { topics: [topic] } })).status).toBe(204);
    if (start !== 'earliest') {
      // Manual assignment is not served (501): seek within the subscription instead, once the
      // group gave this member the partition (a seek before that is 40903, as Kafka's).
      await eventually(async () => {
        const res = await http('GET', `${base}/assignments`);
        return res.json.partitions.some((p: { topic: string; partition: number }) => p.topic === topic && p.partition === start.partition);
      }, { what: 'the partition assigned to the v2 consumer', timeoutMs: 20_000 });
      expect((await http('POST', `${base}/positions`, { headers: { 'content-type': V2 }, body: { offsets: [{ topic, partition: start.partition, offset: Number(start.offset) }] } })).status).toBe(204);
    }
    const seen: Seen[] = [];
    return {
      async next(n) {
        return eventually(async () => {
          const res = await http('GET', `${base}/records?timeout=200`, { headers: { accept: V2_JSON } });
          expect(res.status).toBe(200);
          seen.push(...recordsIn(res.text));
          return seen.length >= n && seen;
        }, { what: `${n} records over REST v2`, timeoutMs: 20_000 });
      },
      async stop() {
        // Confluent semantics: commit the last consumed offset (the group resumes after it).
        const offsets = seen.length === 0 ? [] : [{ topic, partition: seen.at(-1)!.partition, offset: Number(seen.at(-1)!.offset) }];
        expect((await http('POST', `${base}/offsets`, { headers: { 'content-type': V2 }, body: { offsets } })).status).toBe(200);
        expect((await http('DELETE', base)).status).toBe(204);
        return group;
      },
    };
  };

  const wsJsonReader = async (topic: string, from: unknown): Promise<Reader> => {
    // Raw text frames: a parsed frame would already have lost the digits the cases compare.
    const ws = new WebSocket(`${gw().wsUrl}/v1/ws`, ['streamgate.v1.json']);
    const texts: string[] = [];
    ws.on('message', (data: Buffer) => texts.push(data.toString('utf8')));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.send(JSON.stringify({ op: 'subscribe', id: 's', topic, from }));
    const answer = await eventually(() => texts.map((t) => JSON.parse(t)).find((f) => f.id === 's'), { what: 'the subscribe answer' });
    expect(answer.op).toBe('subscribed');
    const seen = (): Seen[] =>
      texts.flatMap((t) => {
        const frame = JSON.parse(t) as { op: string; sub?: string };
        return frame.op === 'records' && frame.sub === 's' ? recordsIn(t, recordsMember) : [];
      });
    return {
      positions: answer.positions,
      next: (n) => eventually(() => seen().length >= n && seen(), { what: `${n} records over WebSocket JSON` }),
      async stop() {
        const out = after(seen());
        ws.close();
        return out;
      },
    };
  };

  const wsProtoReader = async (topic: string, position: object): Promise<Reader> => {
    const c = await ProtoClient.open(gw());
    c.send({ subscribe: { id: 's', topic, position, credit: 1000 } });
    const answer = await c.waitFor((f) => f.frame === 'subscribed' || f.frame === 'error', 'the subscribe answer');
    expect(answer.frame).toBe('subscribed');
    return {
      positions: answer.subscribed.positions,
      next: (n) => eventually(() => c.records().length >= n && c.records(), { what: `${n} records over WebSocket proto` }),
      async stop() {
        const seen = c.records();
        c.raw.close();
        return after(seen);
      },
    };
  };

  const grpcReader = async (topic: string, position: object): Promise<Reader> => {
    const s = new SubscribeRecorder(stub(), { topic, position });
    const subscribed = await s.subscribed();
    const seen = (): Seen[] =>
      s.records().map((r: any) => ({ partition: r.partition, offset: String(r.offset), key: utf8(r.key), value: utf8(r.value)! }));
    return {
      positions: subscribed.positions as Record<string, string>,
      next: (n) => eventually(() => seen().length >= n && seen(), { what: `${n} records over gRPC Subscribe` }),
      async stop() {
        const out = after(seen());
        s.call.cancel();
        return out;
      },
    };
  };

  const mqttOptions = (clientId: string) => ({ protocolVersion: 5 as const, clientId, clean: false, properties: { sessionExpiryInterval: 600 } });
  const mqttReader = (client: TestClient, clientId: string): Reader => ({
    async next(n) {
      const got = await client.waitFor(n, 15_000);
      // MQTT shows no offsets: the cases compare keys and values (the offsets are checked over the other protocols).
      return got.map((m) => ({ partition: 0, offset: '?', key: m.topic, value: Buffer.from(m.packet.payload).toString('utf8') }));
    },
    async stop() {
      await client.end();
      return clientId;
    },
  });

  const restAnswer = (res: { status: number; json: any }) => [res.status, res.json?.error_code, res.json?.code];
  const grpcAnswer = (err: grpc.ServiceError) => [err.code, err.metadata.get('streamgate-code')[0]];

  return [
    {
      name: 'REST v1',
      async produce(topic, key, json) {
        const res = await http('POST', url(`/v1/topics/${topic}/records`), { headers: { 'content-type': 'application/json' }, raw: `{"records":[{"key":${JSON.stringify(key)},"value":${json}}]}` });
        expect(res.status).toBe(200);
        return { partition: res.json.offsets[0].partition, offset: res.json.offsets[0].offset };
      },
      // Stateless fetches: there is no subscription to start at the end.
      confirmsLatest: false,
      open: async (topic, from) => v1Reader(topic, from === 'latest' ? 'earliest' : from),
      resume: async (topic, stored) => v1Reader(topic, { partition: 0, offset: stored as string }),
      unknownTopic: async (topic) => restAnswer(await http('GET', url(`/v1/topics/${topic}/partitions/0/records?offset=0`))),
      unknownTopicAnswer: [404, 40401, 'TOPIC_NOT_FOUND'],
      illegalTopic: async () =>
        restAnswer(await http('POST', url(`/v1/topics/${encodeURIComponent(ILLEGAL)}/records`), { headers: { 'content-type': 'application/json' }, body: { records: [{ value: 1 }] } })),
      illegalTopicAnswer: [400, 40002, 'INVALID_TOPIC'],
    },
    {
      name: 'REST v2',
      async produce(topic, key, json) {
        const res = await http('POST', url(`/topics/${topic}`), { headers: { 'content-type': V2_JSON }, raw: `{"records":[{"key":${JSON.stringify(key)},"value":${json}}]}` });
        expect([res.status, res.json.offsets[0].error_code]).toEqual([200, null]);
        return { partition: res.json.offsets[0].partition, offset: String(res.json.offsets[0].offset) };
      },
      // `auto.offset.reset: latest` resolves at the assignment a later poll makes: nothing confirms it up front.
      confirmsLatest: false,
      open: (topic, from) => v2Reader(topic, uniqueId('conf-v2'), from === 'latest' ? 'earliest' : from),
      resume: (topic, stored) => v2Reader(topic, stored as string, 'earliest'),
      unknownTopic: async (topic) => restAnswer(await http('GET', url(`/topics/${topic}`))),
      unknownTopicAnswer: [404, 40401, undefined],
      illegalTopic: async () =>
        restAnswer(await http('POST', url(`/topics/${encodeURIComponent(ILLEGAL)}`), { headers: { 'content-type': V2_JSON }, body: { records: [{ value: 1 }] } })),
      illegalTopicAnswer: [400, 40002, undefined],
    },
    {
      name: 'SSE',
      // SSE only reads; its records are written over REST v1, the API it belongs to.
      async produce(topic, key, json) {
        const res = await http('POST', url(`/v1/topics/${topic}/records`), { headers: { 'content-type': 'application/json' }, raw: `{"records":[{"key":${JSON.stringify(key)},"value":${json}}]}` });
        return { partition: res.json.offsets[0].partition, offset: res.json.offsets[0].offset };
      },
      confirmsLatest: true,
      open: (topic, from) => sseReader(topic, from),
      resume: (topic, stored) => sseReader(topic, stored as { lastEventId: string }),
      unknownTopic: async (topic) => restAnswer(await http('GET', url(`/v1/topics/${topic}/events`))),
      unknownTopicAnswer: [404, 40401, 'TOPIC_NOT_FOUND'],
      illegalTopic: async () => restAnswer(await http('GET', url(`/v1/topics/${encodeURIComponent(ILLEGAL)}/events`))),
      illegalTopicAnswer: [400, 40002, 'INVALID_TOPIC'],
    },
    {
      name: 'WebSocket JSON',
      async produce(topic, key, json) {
        const c = await WsClient.open(gw().wsUrl);
        c.ws.send(`{"op":"publish","id":"p","topic":${JSON.stringify(topic)},"records":[{"key":${JSON.stringify(key)},"value":${json}}]}`);
        const ack = await c.waitFor((f) => f.id === 'p', 'publish ack');
        c.close();
        expect(ack.op).toBe('ack');
        return { partition: ack.offsets[0].partition, offset: ack.offsets[0].offset };
      },
      confirmsLatest: true,
      open: (topic, from) => wsJsonReader(topic, typeof from === 'string' ? from : { offsets: { [from.partition]: from.offset } }),
      resume: (topic, stored) => wsJsonReader(topic, { offsets: stored }),
      async unknownTopic(topic) {
        const c = await WsClient.open(gw().wsUrl);
        c.send({ op: 'subscribe', id: 's', topic, from: 'earliest' });
        const error = await c.waitFor((f) => f.id === 's', 'subscribe answer');
        c.send({ op: 'ping', id: 'alive' });
        const pong = await c.waitFor((f) => f.id === 'alive', 'pong');
        c.close();
        return [error.op, error.code, pong.op];
      },
      unknownTopicAnswer: ['error', 'TOPIC_NOT_FOUND', 'pong'],
      async illegalTopic() {
        const c = await WsClient.open(gw().wsUrl);
        c.send({ op: 'publish', id: 'p', topic: ILLEGAL, records: [{ value: 1 }] });
        const error = await c.waitFor((f) => f.id === 'p', 'publish answer');
        c.close();
        return [error.op, error.code];
      },
      illegalTopicAnswer: ['error', 'INVALID_TOPIC'],
    },
    {
      name: 'WebSocket proto',
      async produce(topic, key, json) {
        const c = await ProtoClient.open(gw());
        c.send({ publish: { id: 'p', topic, records: [{ key: Buffer.from(key), value: Buffer.from(json) }] } });
        const published = await c.waitFor((f) => f.frame === 'published' || f.frame === 'error', 'published');
        c.raw.close();
        expect(published.frame).toBe('published');
        return { partition: published.published.offsets[0].partition ?? 0, offset: published.published.offsets[0].offset };
      },
      confirmsLatest: true,
      open: (topic, from) => wsProtoReader(topic, protoPosition(from)),
      resume: (topic, stored) => wsProtoReader(topic, { offsets: { offsets: stored } }),
      async unknownTopic(topic) {
        const c = await ProtoClient.open(gw());
        c.send({ subscribe: { id: 's', topic, position: { earliest: {} }, credit: 10 } });
        const error = await c.waitFor((f) => f.frame === 'error', 'error frame');
        c.raw.close();
        return [error.error.id, error.error.code];
      },
      unknownTopicAnswer: ['s', 'TOPIC_NOT_FOUND'],
      async illegalTopic() {
        const c = await ProtoClient.open(gw());
        c.send({ publish: { id: 'p', topic: ILLEGAL, records: [{ value: Buffer.from('1') }] } });
        const error = await c.waitFor((f) => f.frame === 'error', 'error frame');
        c.raw.close();
        return [error.error.id, error.error.code];
      },
      illegalTopicAnswer: ['p', 'INVALID_TOPIC'],
    },
    {
      name: 'gRPC',
      async produce(topic, key, json) {
        const res = await call(stub(), 'Produce', { topic, records: [{ key: Buffer.from(key), value: Buffer.from(json) }] });
        return { partition: res.offsets[0].partition, offset: res.offsets[0].offset };
      },
      confirmsLatest: true,
      open: (topic, from) => grpcReader(topic, protoPosition(from)),
      resume: (topic, stored) => grpcReader(topic, { offsets: { offsets: stored } }),
      unknownTopic: async (topic) => grpcAnswer(await rejection(call(stub(), 'Fetch', { topic, partition: 0, offset: '0' }))),
      unknownTopicAnswer: [grpc.status.NOT_FOUND, 'TOPIC_NOT_FOUND'],
      illegalTopic: async () => grpcAnswer(await rejection(call(stub(), 'Produce', { topic: ILLEGAL, records: [{ value: Buffer.from('1') }] }))),
      illegalTopicAnswer: [grpc.status.INVALID_ARGUMENT, 'INVALID_TOPIC'],
    },
    {
      name: 'MQTT',
      live: true,
      // SUBACK confirms the subscription, which starts at the end (no retained message on these topics).
      confirmsLatest: true,
      async produce(_topic, key, json) {
        // The MQTT topic is the record key; mqtt.routes sends `<topic>/#` to the Kafka topic.
        const c = await connectClient(`mqtt://127.0.0.1:${gw().ports.mqtt}`, { protocolVersion: 5, clientId: uniqueId('conf-pub') });
        await c.client.publishAsync(key, Buffer.from(json), { qos: 1 });
        await c.end();
        return undefined;
      },
      async open(topic) {
        const clientId = uniqueId('conf-sub');
        const c = await connectClient(`mqtt://127.0.0.1:${gw().ports.mqtt}`, mqttOptions(clientId));
        await c.client.subscribeAsync(`${topic}/#`, { qos: 1 });
        return mqttReader(c, clientId);
      },
      async resume(_topic, stored) {
        const c = await connectClient(`mqtt://127.0.0.1:${gw().ports.mqtt}`, mqttOptions(stored as string));
        return mqttReader(c, stored as string);
      },
      async illegalTopic() {
        const answers: number[] = [];
        for (const version of [5, 4] as const) {
          const c = await MqttRawClient.open(gw().ports.mqtt, version);
          c.send({ cmd: 'connect', clientId: uniqueId('conf-bad'), protocolVersion: version, clean: true, keepalive: 30 }, version);
          await c.next('connack');
          c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a/#/b', qos: 1 }] }, version);
          answers.push(...(await c.next('suback')).granted.map(Number));
          c.destroy();
        }
        return answers;
      },
      // Topic Filter invalid [MQTT-5:3.9.3]; 3.1.1 has only the SUBACK failure code [MQTT-3.1.1:3.9.3-1].
      illegalTopicAnswer: [0x8f, 0x80],
    },
  ];
}

/** Topic names known before the gateway starts, so mqtt.routes can send `<topic>/#` to each. */
function topicsFor(prefix: string, names: string[]): Record<string, string> {
  return Object.fromEntries(names.map((n) => [n, uniqueTopic(`${prefix}-${n.replace(/\W+/g, '').toLowerCase()}`)]));
}

const DRIVER_NAMES = ['REST v1', 'REST v2', 'SSE', 'WebSocket JSON', 'WebSocket proto', 'gRPC', 'MQTT'];

/** Registers the adapter conformance suite for one backend. */
export function describeAdapterConformance(backend: BackendKind): void {
  describe(`adapter conformance (${backend} backend)`, () => {
    const produceTopics = topicsFor('conf-produce', DRIVER_NAMES);
    const resumeTopics = topicsFor('conf-resume', DRIVER_NAMES);
    const latestTopics = topicsFor('conf-latest', DRIVER_NAMES);
    const headersTopic = uniqueTopic('conf-headers');
    const routes = [...Object.values(produceTopics), ...Object.values(resumeTopics), ...Object.values(latestTopics), headersTopic].map((topic) => ({ filter: `${topic}/#`, topic }));
    let gw: TestGateway;
    let stub: ReturnType<typeof stubFor>;
    const all = drivers(() => gw, () => stub);

    beforeAll(async () => {
      gw = await startTestGateway({ backend, config: { mqtt: { routes } } });
      stub = stubFor(gw.ports.grpc);
    });
    afterAll(async () => {
      stub?.close();
      await gw?.close();
    });

    describe.each(all.map((d) => [d.name, d] as const))('a record produced over %s', (_name, producer) => {
      it('is at the position its ack names, and reads the same over every protocol', async () => {
        const topic = produceTopics[producer.name]!;
        const key = `${topic}/${producer.name.replace(/\W+/g, '-')}`;
        // Digits JSON.parse + JSON.stringify would change: each protocol must serve this exact text.
        const json = `{"via":${JSON.stringify(producer.name)},"big":12345678901234567890,"long":0.1000000000000000055511151231257827,"exp":1e400,"tiny":-2.5E-400,"zero":-0}`;
        // A live reader (MQTT) must subscribe before the record is written.
        const live = await Promise.all(all.filter((d) => d.live).map((d) => d.open(topic, 'earliest')));
        const acked = await producer.produce(topic, key, json);
        const offsets = (await call(stub, 'GetOffsets', { topic })).partitions as { partition: number; latest: string }[];
        const grown = offsets.filter((p) => p.latest === '1');
        expect(grown).toHaveLength(1);
        const position = { partition: grown[0]!.partition, offset: '0' };
        if (acked !== undefined) expect({ partition: acked.partition, offset: String(acked.offset) }).toEqual(position);
        const expected: Seen = { ...position, key, value: json };
        for (const reader of all) {
          if (reader.live) continue;
          const r = await reader.open(topic, position);
          const [first] = await r.next(1);
          await r.stop();
          expect(first, `${producer.name} → ${reader.name}`).toEqual(expected);
        }
        for (const r of live) {
          const [first] = await r.next(1);
          await r.stop();
          expect(first, `${producer.name} → MQTT`).toEqual({ ...expected, partition: 0, offset: '?' });
        }
      });
    });

    describe.each(all.map((d) => [d.name, d] as const))('%s', (_name, reader) => {
      it('resumes from the position its client stored, with no gap and no duplicate', async () => {
        const topic = resumeTopics[reader.name]!;
        const writer = all[0]!;
        const write = async (seq: number): Promise<void> => {
          await writer.produce(topic, `${topic}/k${seq}`, `{"seq":${seq}}`);
        };
        const early = reader.live ? await reader.open(topic, 'earliest') : undefined;
        await write(0);
        await write(1);
        const first = early ?? (await reader.open(topic, 'earliest'));
        expect((await first.next(2)).map((r) => r.value)).toEqual(['{"seq":0}', '{"seq":1}']);
        const stored = await first.stop();
        await write(2);
        await write(3);
        const again = await reader.resume(topic, stored);
        const resumed = await again.next(2);
        await again.stop();
        expect(resumed.map((r) => [r.key, r.value])).toEqual([
          [`${topic}/k2`, '{"seq":2}'],
          [`${topic}/k3`, '{"seq":3}'],
        ]);
        if (!reader.live) expect(resumed.map((r) => r.offset)).toEqual(['2', '3']);
      });

      if (reader.confirmsLatest) {
        it('starts a subscription from latest at the end of the log: the next record written is the first one seen', async () => {
          const topic = latestTopics[reader.name]!;
          const writer = all[0]!;
          await writer.produce(topic, `${topic}/old`, '{"old":0}');
          await writer.produce(topic, `${topic}/old`, '{"old":1}');
          const r = await reader.open(topic, 'latest');
          if (r.positions !== undefined) expect(r.positions).toEqual({ '0': '2' });
          await writer.produce(topic, `${topic}/new`, '{"new":2}');
          const [first] = await r.next(1);
          await r.stop();
          expect([first!.key, first!.value]).toEqual([`${topic}/new`, '{"new":2}']);
          if (!reader.live) expect(first!.offset).toBe('2');
        });
      }

      const unknownTopic = reader.unknownTopic;
      if (unknownTopic !== undefined) {
        it('answers a topic that does not exist in its own terms', async () => {
          expect(await unknownTopic(uniqueTopic('conf-missing'))).toEqual(reader.unknownTopicAnswer);
        });
      }

      it('answers an illegal topic name in its own terms and writes nothing', async () => {
        expect(await reader.illegalTopic()).toEqual(reader.illegalTopicAnswer);
      });
    });

    describeHeaders(backend, headersTopic, () => gw, () => stub);

    describeRestart(backend);
  });
}

/** Interleaved repeats, an integer-like name (which JS objects would move first), an empty value. */
const ORDERED_HEADERS: readonly [string, string][] = [
  ['x', '1'],
  ['trace', 'a'],
  ['7', 'int-like'],
  ['y', ''],
  ['trace', 'b'],
  ['x', '2'],
  ['trace', 'c'],
];

/** The user properties of each PUBLISH in raw MQTT 5 bytes, in wire order (MQTT-5 §3.3.2.3). */
function publishUserProperties(bytes: Buffer): [string, string][][] {
  const out: [string, string][][] = [];
  const varint = (at: number): [number, number] => {
    let value = 0;
    for (let i = 0; ; i++) {
      const b = bytes[at + i]!;
      value += (b & 0x7f) * 128 ** i;
      if ((b & 0x80) === 0) return [value, i + 1];
    }
  };
  const fixed: Record<number, number> = { 0x01: 1, 0x02: 4, 0x23: 2 };
  let at = 0;
  while (at + 2 <= bytes.length) {
    const type = bytes[at]! >> 4;
    const qos = (bytes[at]! >> 1) & 3;
    const [length, n] = varint(at + 1);
    const body = at + 1 + n;
    const next = body + length;
    if (next > bytes.length) break;
    if (type === 3) {
      let p = body + 2 + bytes.readUInt16BE(body) + (qos > 0 ? 2 : 0);
      const [propsLength, m] = varint(p);
      p += m;
      const end = p + propsLength;
      const user: [string, string][] = [];
      while (p < end) {
        const id = bytes[p++]!;
        const str = (): string => {
          const len = bytes.readUInt16BE(p);
          p += 2 + len;
          return bytes.toString('utf8', p - len, p);
        };
        if (id === 0x26) user.push([str(), str()]);
        else if (fixed[id] !== undefined) p += fixed[id]!;
        else if (id === 0x0b) p += varint(p)[1];
        else str(); // 0x03 content type, 0x08 response topic, 0x09 correlation data
      }
      out.push(user);
    }
    at = next;
  }
  return out;
}

/**
 * Headers are an ordered list in which names repeat (Kafka's model): a record written by Kafka's
 * own Java client (on the Kafka backend; over gRPC on the embedded log, which no Kafka client can
 * reach) reads back with the same headers in the same order over every protocol that carries
 * them — REST v1, SSE, WebSocket JSON and proto, gRPC Fetch and Session, MQTT 5 user properties.
 */
function describeHeaders(backend: BackendKind, topic: string, gw: () => TestGateway, stub: () => ReturnType<typeof stubFor>): void {
  it('round-trip as an ordered multi-map: a record with repeated, interleaved names reads back identical on every protocol', { timeout: 120_000 }, async () => {
    const key = `${topic}/dev`;
    const json = (text: string): [string, string][] => (JSON.parse(text).headers as { name: string; value: string }[]).map((h) => [h.name, h.value]);
    const proto = (headers: { key: string; value: Uint8Array }[]): [string, string][] => headers.map((h) => [h.key, utf8(h.value)!]);

    // MQTT 5 subscriber first (a live reader), on raw bytes: the user properties' wire order is the point.
    const mqtt = await MqttRawClient.open(gw().ports.mqtt, 5);
    const wire: Buffer[] = [];
    mqtt.socket.on('data', (d: Buffer) => wire.push(d));
    mqtt.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: uniqueId('conf-headers'), clean: true, keepalive: 60 });
    await mqtt.next('connack');
    mqtt.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `${topic}/#`, qos: 0 }] });
    await mqtt.next('suback');
    // A first record creates the topic; once MQTT saw it, the subscriber reads the tail.
    const created = await http('POST', `${gw().httpUrl}/v1/topics/${topic}/records`, { headers: { 'content-type': 'application/json' }, body: { records: [{ key, value: 0, partition: 0 }] } });
    expect(created.status).toBe(200);
    await eventually(() => publishUserProperties(Buffer.concat(wire)).length === 1, { what: 'the first PUBLISH', timeoutMs: 15_000 });

    if (backend === 'kafka') {
      const run = promisify(execFile);
      const args = ['-cp', join(REPO, '.kafka/lib/*'), join(REPO, 'test/kafka/HeaderProducer.java'), kafkaBrokers(), topic, key, '{"n":1}', ...ORDERED_HEADERS.map(([n, v]) => `${n}=${v}`)];
      const { stdout } = await run('java', args, { timeout: 100_000 });
      expect(stdout.trim()).toBe('0:1');
    } else {
      const produced = await call(stub(), 'Produce', { topic, records: [{ key: Buffer.from(key), value: Buffer.from('{"n":1}'), partition: 0, headers: ORDERED_HEADERS.map(([k, v]) => ({ key: k, value: Buffer.from(v) })) }] });
      expect(produced.offsets[0]!.offset).toBe('1');
    }

    const seen: Record<string, [string, string][]> = {};
    const v1 = await http('GET', `${gw().httpUrl}/v1/topics/${topic}/partitions/0/records?offset=1&max=1`);
    seen['REST v1'] = json(JSON.stringify(v1.json.records[0]));

    const abort = new AbortController();
    try {
      for await (const ev of sse(`${gw().httpUrl}/v1/topics/${topic}/events?from=0:1`, {}, abort.signal) as AsyncGenerator<SseEvent>) {
        if (ev.event !== 'message') continue;
        seen.SSE = json(ev.data);
        abort.abort();
      }
    } catch (err) {
      if (!abort.signal.aborted) throw err;
    }

    const ws = await WsClient.open(gw().wsUrl, 'streamgate.v1.json');
    ws.send({ op: 'subscribe', id: 's', topic, from: { offsets: { '0': '1' } } });
    const [delivered] = await ws.waitForRecords('s', 1);
    seen['WebSocket JSON'] = json(JSON.stringify(delivered));
    ws.close();

    const p = await ProtoClient.open(gw());
    p.send({ subscribe: { id: 's', topic, position: { offsets: { offsets: { 0: '1' } } }, credit: 10 } });
    const records = await p.waitFor((f) => f.frame === 'records', 'a WebSocket proto records frame');
    seen['WebSocket proto'] = proto(records.records.records[0].headers);
    p.raw.close();

    const fetched = await call(stub(), 'Fetch', { topic, partition: 0, offset: '1', max_records: 1 });
    seen['gRPC Fetch'] = proto(fetched.records[0]!.headers);

    const session = new SessionRecorder(stub());
    session.send({ subscribe: { id: 's', topic, position: { offsets: { offsets: { 0: '1' } } }, credit: 10 } });
    await eventually(() => session.records('s').length > 0, { what: 'a gRPC Session record' });
    seen['gRPC Session'] = proto(session.records('s')[0]!.headers as { key: string; value: Uint8Array }[]);
    session.close();

    const published = await eventually(() => publishUserProperties(Buffer.concat(wire))[1], { what: 'the second PUBLISH', timeoutMs: 15_000 });
    seen['MQTT 5'] = published;
    mqtt.destroy();

    const expected = Object.fromEntries(Object.keys(seen).map((k) => [k, ORDERED_HEADERS]));
    expect(seen).toEqual(expected);
    expect(Object.keys(seen)).toHaveLength(7);
  });
}

/**
 * A gateway that stops says so in each protocol's terms (WebSocket 1001, MQTT DISCONNECT 0x8B,
 * an SSE error event SHUTTING_DOWN), and clients come back to where they were once it is back on
 * the same data: the browser client gap-free with the writes it queued meanwhile, an MQTT
 * persistent session with the message it missed and the retained message.
 */
function describeRestart(backend: BackendKind): void {
  describe('a gateway restart', () => {
    const dataDir = mkdtempSync(join(tmpdir(), `streamgate-conformance-${backend}-`));
    afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

    it('ends SSE streams with a SHUTTING_DOWN error event', async () => {
      const own = await startTestGateway({ backend });
      const topic = uniqueTopic('conf-sseshut');
      await http('POST', `${own.httpUrl}/v1/topics/${topic}/records`, { headers: { 'content-type': 'application/json' }, body: { records: [{ value: 1 }] } });
      const res = await fetch(`${own.httpUrl}/v1/topics/${topic}/events?from=earliest`);
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let text = '';
      // A record event (unnamed) has a partition; the subscribed event has positions.
      while (!/\ndata: \{"topic":"[^"]*","partition"/.test(text)) text += decoder.decode((await reader.read()).value);
      await own.close();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += decoder.decode(value);
      }
      expect(text).toMatch(/event: error\ndata: \{"error_code":50301,"message":"The gateway is shutting down; reconnect with Last-Event-ID.","code":"SHUTTING_DOWN"\}\n\n$/);
    });

    it('WebSocket: closes with 1001, and the browser client resumes gap-free on the same data', async () => {
      const topic = uniqueTopic('conf-ws-restart');
      let gw = await startTestGateway({ backend, dataDir });
      const port = gw.ports.http;
      const client = connect(`${gw.wsUrl}/v1/ws`, { WebSocketImpl: WebSocket as unknown as WebSocketConstructor, initialBackoffMs: 50, maxBackoffMs: 300 });
      try {
        const seen: number[] = [];
        await client.publish(topic, Array.from({ length: 50 }, (_, seq) => ({ value: { seq } })));
        const sub = client.subscribe<{ seq: number }>(topic, { from: 'earliest' }, (records) => {
          for (const r of records) seen.push((r.value as { seq: number }).seq);
        });
        await eventually(() => seen.length === 50, { what: '50 records' });
        const raw = await WsClient.open(gw.wsUrl);
        await gw.close();
        expect((await raw.closed).code).toBe(1001);
        // Published while the gateway is down: sent after the reconnect, written once.
        const later = client.publish(topic, Array.from({ length: 50 }, (_, i) => ({ value: { seq: 50 + i } })));
        gw = await startTestGateway({ backend, dataDir, config: { http: { port } } });
        const offsets = await later;
        expect(offsets.map((o) => o.offset)).toEqual(Array.from({ length: 50 }, (_, i) => String(50 + i)));
        await eventually(() => seen.length >= 100, { what: '100 records' });
        expect(seen).toEqual(Array.from({ length: 100 }, (_, i) => i));
        await sub.close();
      } finally {
        client.close();
        await gw.close();
      }
    });

    it('MQTT: QoS 1 → record, DISCONNECT 0x8B at shutdown, the persistent session and the retained message survive', async () => {
      const prefix = uniqueId('conf-mqtt');
      const kafkaTopic = uniqueTopic('conf-mqtt-restart');
      const start = (): Promise<TestGateway> =>
        startTestGateway({ backend, dataDir, config: { mqtt: { sessionFlushMs: 100, routes: [{ filter: `${prefix}/#`, topic: kafkaTopic }] }, topics: { waitPollMs: 200 } } });
      let g = await start();
      try {
        const u = (): string => `mqtt://127.0.0.1:${g.ports.mqtt}`;
        const topic = `${prefix}/${uniqueId('t')}`;
        const clientId = uniqueId('emb');
        const opts = { protocolVersion: 5 as const, clientId, clean: false, properties: { sessionExpiryInterval: 600 } };
        const sub = await connectClient(u(), opts);
        await sub.client.subscribeAsync(`${prefix}/#`, { qos: 1 });
        const pub = await connectClient(u(), { protocolVersion: 4, clientId: uniqueId('pub') });
        await pub.client.publishAsync(topic, 'kept', { qos: 1, retain: true });
        const ctx = createContext({ protocol: 'test', log: g.core.log });
        const recs = (await g.core.fetch(ctx, kafkaTopic, 0, 0n, { maxRecords: 100 })).records;
        expect(recs.find((r) => r.key?.toString() === topic)?.value?.toString()).toBe('kept');
        await sub.waitFor(1);
        await sub.end();
        await pub.client.publishAsync(topic, 'missed', { qos: 1 });
        await pub.end();

        const watcher = await MqttRawClient.open(g.ports.mqtt, 5);
        watcher.send({ cmd: 'connect', clientId: uniqueId('w'), protocolVersion: 5, clean: true, keepalive: 30 });
        await watcher.next('connack');
        await g.close();
        expect((await watcher.next('disconnect')).reasonCode).toBe(0x8b);

        g = await start();
        const again = await connectClient(u(), opts);
        const [m] = await again.waitFor(1);
        expect(m!.payload).toBe('missed');
        const fresh = await connectClient(u(), { protocolVersion: 5, clientId: uniqueId('fresh') });
        await fresh.client.subscribeAsync(topic, { qos: 1 });
        const retained = await eventually(() => fresh.received.find((r) => r.packet.retain));
        expect(retained.payload).toBe('kept');
        await Promise.all([again.end(), fresh.end()]);
      } finally {
        await g.close();
      }
    });
  });
}
