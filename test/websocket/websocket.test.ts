/**
 * The WebSocket adapter against a real gateway on the test run's Kafka broker: positions,
 * publish/ack, several subscriptions and key filters, the proto subprotocol, and bad input.
 */
import { join } from 'node:path';
import { pino } from 'pino';
import protobuf from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { KafkaBackend } from '../../gateway/backends/kafka/index.js';
import { createContext } from '../../gateway/context.js';
import { kafkaBrokers } from '../support/kafka.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';
import { RawClient } from './raw-client.js';

const ctx = createContext({ protocol: 'test', log: pino({ level: 'silent' }) });
let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway({ config: { websocket: { maxPayloadBytes: 64 * 1024 } } });
});
afterAll(async () => {
  await gw?.close();
});

/** Writes `n` records `{seq}` (keys k0, k1, …) through the core and returns their offsets. */
async function produce(topic: string, values: unknown[], options: { keys?: string[]; timestamps?: number[] } = {}): Promise<bigint[]> {
  const results = await gw.core.produce(
    ctx,
    topic,
    values.map((v, i) => ({
      key: options.keys === undefined ? null : Buffer.from(options.keys[i]!),
      value: Buffer.from(JSON.stringify(v)),
      ...(options.timestamps === undefined ? {} : { timestamp: options.timestamps[i]! }),
    })),
  );
  return results.map((r) => (r.ok ? r.offset : Promise.reject(r.error) as never));
}

describe('subscribe from each kind of position', () => {
  it('earliest, latest, offsets and timestamp start where they say and report the resolved start', async () => {
    const topic = uniqueTopic('ws-pos');
    const t0 = Date.now() - 60_000;
    await produce(topic, [{ seq: 0 }, { seq: 1 }, { seq: 2 }], { timestamps: [t0, t0 + 1000, t0 + 2000] });
    const c = await RawClient.open(gw.wsUrl);
    c.send({ op: 'subscribe', id: 'e', topic, from: 'earliest' });
    c.send({ op: 'subscribe', id: 'l', topic, from: 'latest' });
    c.send({ op: 'subscribe', id: 'o', topic, from: { offsets: { '0': '1' } } });
    c.send({ op: 'subscribe', id: 't', topic, from: { timestamp: t0 + 1000 } });

    expect((await c.waitFor((f) => f.op === 'subscribed' && f.id === 'e')).positions).toEqual({ '0': '0' });
    expect((await c.waitFor((f) => f.op === 'subscribed' && f.id === 'l')).positions).toEqual({ '0': '3' });
    expect((await c.waitFor((f) => f.op === 'subscribed' && f.id === 'o')).positions).toEqual({ '0': '1' });
    expect((await c.waitFor((f) => f.op === 'subscribed' && f.id === 't')).positions).toEqual({ '0': '1' });

    await produce(topic, [{ seq: 3 }]);
    const seqs = async (sub: string, n: number) => (await c.waitForRecords(sub, n)).map((r) => [r.offset, r.value.seq]);
    expect(await seqs('e', 4)).toEqual([['0', 0], ['1', 1], ['2', 2], ['3', 3]]);
    expect(await seqs('l', 1)).toEqual([['3', 3]]);
    expect(await seqs('o', 3)).toEqual([['1', 1], ['2', 2], ['3', 3]]);
    expect(await seqs('t', 3)).toEqual([['1', 1], ['2', 2], ['3', 3]]);
    const first = c.records('e')[0];
    expect(first).toMatchObject({ partition: 0, offset: '0', timestamp: t0, key: null, value: { seq: 0 } });
    c.close();
  });
});

describe('continuity', () => {
  it('tells the client when its start offset was deleted, before the records, and starts at the log start', async () => {
    const topic = uniqueTopic('ws-gap');
    await produce(topic, Array.from({ length: 10 }, (_, seq) => ({ seq })));
    const admin = new KafkaBackend({ brokers: [kafkaBrokers()], logger: pino({ level: 'silent' }) });
    await admin.start();
    try {
      await admin.deleteRecords(topic, 0, 5n);
    } finally {
      await admin.close();
    }
    const c = await RawClient.open(gw.wsUrl);
    c.send({ op: 'subscribe', id: 's', topic, from: { offsets: { '0': '2' } } });
    await c.waitForRecords('s', 5);
    const ops = c.frames.map((f) => f.op);
    expect(ops.slice(0, 3)).toEqual(['subscribed', 'continuity-lost', 'records']);
    expect(c.frames[0]).toEqual({ op: 'subscribed', id: 's', positions: { '0': '5' } });
    expect(c.frames[1]).toEqual({ op: 'continuity-lost', sub: 's', partition: 0, requested: '2', actual: '5', reason: 'below_log_start' });
    expect(c.records('s').map((r) => r.value.seq)).toEqual([5, 6, 7, 8, 9]);

    // strict: the same request is refused instead.
    c.send({ op: 'subscribe', id: 'strict', topic, from: { offsets: { '0': '2' } }, strict: true });
    expect(await c.waitFor((f) => f.id === 'strict')).toMatchObject({ op: 'error', code: 'OUT_OF_RANGE' });
    c.close();
  });
});

describe('publish', () => {
  it('acks with offsets after the backend acknowledged; the records are readable by offset', async () => {
    const topic = uniqueTopic('ws-pub');
    const c = await RawClient.open(gw.wsUrl);
    c.send({
      op: 'publish',
      id: 'p1',
      topic,
      records: [
        { key: 'k1', value: { n: 1 }, headers: [{ name: 'h', value: 'v' }, { name: 'g', value: 'w' }, { name: 'h', value: 'u' }] },
        { key: 'k2', value: 'AAEC', encoding: 'base64' },
      ],
    });
    const ack = await c.waitFor((f) => f.id === 'p1');
    expect(ack).toMatchObject({ op: 'ack', id: 'p1', offsets: [{ partition: 0, offset: '0' }, { partition: 0, offset: '1' }] });
    const fetched = await gw.core.fetch(ctx, topic, 0, 0n);
    expect(fetched.records.map((r) => [r.offset, r.key?.toString(), r.value, r.headers.map((h) => `${h.name}=${h.value.toString()}`).join()])).toEqual([
      [0n, 'k1', Buffer.from('{"n":1}'), 'h=v,g=w,h=u'],
      [1n, 'k2', Buffer.from([0, 1, 2]), ''],
    ]);

    // The same id again is the same publish (idempotency key): same offsets, nothing written twice.
    c.send({ op: 'publish', id: 'p1', topic, records: [{ key: 'k1', value: { n: 1 } }, { key: 'k2', value: 'AAEC', encoding: 'base64' }] });
    await eventually(() => c.frames.filter((f) => f.id === 'p1').length === 2);
    expect(c.frames.filter((f) => f.id === 'p1')[1].offsets).toEqual(ack.offsets);
    expect((await gw.core.offsets(ctx, topic))[0]!.latest).toBe(2n);
    c.close();
  });
});

describe('several subscriptions on one connection', () => {
  it('delivers each subscription its own records, filtered by exact key, key prefix and MQTT filter', async () => {
    const topic = uniqueTopic('ws-multi');
    await produce(topic, [{ seq: -1 }], { keys: ['warmup'] });
    const c = await RawClient.open(gw.wsUrl);
    c.send({ op: 'subscribe', id: 'all', topic, from: 'latest' });
    c.send({ op: 'subscribe', id: 'exact', topic, from: 'latest', key: 'a' });
    c.send({ op: 'subscribe', id: 'prefix', topic, from: 'latest', keyPrefix: 'b/' });
    c.send({ op: 'subscribe', id: 'mqtt', topic, from: 'latest', filter: 'c/+/t' });
    for (const id of ['all', 'exact', 'prefix', 'mqtt']) await c.waitFor((f) => f.op === 'subscribed' && f.id === id);
    const keys = ['a', 'b/1', 'c/x/t', 'ab', 'c/x/y', 'b/2', 'a'];
    await produce(topic, keys.map((_, i) => ({ seq: i })), { keys });
    const keysOf = async (sub: string, n: number) => (await c.waitForRecords(sub, n)).map((r) => r.key);
    expect(await keysOf('all', 7)).toEqual(keys);
    expect(await keysOf('exact', 2)).toEqual(['a', 'a']);
    expect(await keysOf('prefix', 2)).toEqual(['b/1', 'b/2']);
    expect(await keysOf('mqtt', 1)).toEqual(['c/x/t']);

    // Unsubscribe one; the others keep flowing.
    c.send({ op: 'unsubscribe', sub: 'exact' });
    await c.waitFor((f) => f.op === 'end' && f.sub === 'exact');
    await produce(topic, [{ seq: 7 }], { keys: ['a'] });
    await c.waitForRecords('all', 8);
    expect(c.records('exact')).toHaveLength(2);
    c.close();
  });
});

describe('the proto subprotocol (binary SessionRequest / SessionResponse frames)', () => {
  const root = protobuf.loadSync(join(import.meta.dirname, '../../proto/streamgate/v1/streamgate.proto'));
  const Req = root.lookupType('streamgate.v1.SessionRequest');
  const Res = root.lookupType('streamgate.v1.SessionResponse');

  it('publishes, subscribes with credit, and receives records with int64 offsets', async () => {
    const topic = uniqueTopic('ws-proto');
    const c = await RawClient.open(gw.wsUrl, 'streamgate.v1.proto');
    expect(c.ws.protocol).toBe('streamgate.v1.proto');
    const send = (o: object) => c.ws.send(Req.encode(Req.fromObject(o)).finish());
    const frames = () => c.binaryFrames.map((b) => Res.toObject(Res.decode(b), { longs: String, oneofs: true }) as any);

    send({ publish: { id: 'p1', topic, records: [{ key: Buffer.from('k'), value: Buffer.from([1, 2, 3]) }, { value: Buffer.from('x') }] } });
    const published = await eventually(() => frames().find((f) => f.frame === 'published'));
    expect(published.published).toEqual({ id: 'p1', offsets: [{ partition: 0, offset: '0', timestamp: expect.any(String) }, { partition: 0, offset: '1', timestamp: expect.any(String) }] });

    send({ subscribe: { id: 's1', topic, position: { earliest: {} }, credit: 1 } });
    const subscribed = await eventually(() => frames().find((f) => f.frame === 'subscribed'));
    expect(subscribed.subscribed).toMatchObject({ id: 's1', positions: { '0': '0' } });
    const recordsOf = () => frames().filter((f) => f.frame === 'records').flatMap((f) => f.records.records);
    await eventually(() => recordsOf().length === 1);
    expect(recordsOf()[0]).toMatchObject({ topic, partition: 0, offset: '0' });
    expect(Buffer.from(recordsOf()[0].key)).toEqual(Buffer.from('k'));
    expect(Buffer.from(recordsOf()[0].value)).toEqual(Buffer.from([1, 2, 3]));
    // Credit 1 was used up: the second record waits for a grant.
    send({ ping: { nonce: 7 } });
    await eventually(() => frames().find((f) => f.frame === 'pong'));
    expect(recordsOf()).toHaveLength(1);
    send({ credit: { subscriptionId: 's1', records: 10 } });
    await eventually(() => recordsOf().length === 2);
    expect(recordsOf()[1]).toMatchObject({ offset: '1' });
    expect(recordsOf()[1].key).toBeUndefined();

    // A text frame on the binary subprotocol is unsupported data.
    c.ws.send('{"op":"ping"}');
    expect((await c.closed).code).toBe(1003);
  });
});

describe('bad input', () => {
  it('answers invalid JSON, unknown ops and missing topics with error frames and keeps the connection', async () => {
    const c = await RawClient.open(gw.wsUrl);
    c.ws.send('{not json');
    expect(await c.waitFor((f) => f.op === 'error' && f.id === undefined)).toMatchObject({ code: 'INVALID_ARGUMENT', retriable: false });
    c.send({ op: 'teleport', id: 'x1' });
    expect(await c.waitFor((f) => f.id === 'x1')).toMatchObject({ op: 'error', code: 'INVALID_ARGUMENT' });
    c.send({ op: 'subscribe', id: 's1', topic: uniqueTopic('ws-missing'), from: 'earliest' });
    expect(await c.waitFor((f) => f.id === 's1')).toMatchObject({ op: 'error', code: 'TOPIC_NOT_FOUND' });
    c.send({ op: 'subscribe', id: 's2', topic: 'bad topic!' });
    expect(await c.waitFor((f) => f.id === 's2')).toMatchObject({ op: 'error', code: 'INVALID_TOPIC' });
    c.send({ op: 'ping', id: 'still-here' });
    expect(await c.waitFor((f) => f.id === 'still-here')).toEqual({ op: 'pong', id: 'still-here' });
    c.close();
  });

  it('closes with 1009 on a frame over maxPayloadBytes and 1003 on a binary frame, other connections unaffected', async () => {
    const bystander = await RawClient.open(gw.wsUrl);
    const big = await RawClient.open(gw.wsUrl);
    big.ws.send(JSON.stringify({ op: 'publish', id: 'p', topic: 't', records: [{ value: 'x'.repeat(70 * 1024) }] }));
    expect((await big.closed).code).toBe(1009);
    const binary = await RawClient.open(gw.wsUrl);
    binary.ws.send(Buffer.from([1, 2, 3]));
    const closed = await binary.closed;
    expect(closed).toEqual({ code: 1003, reason: 'binary frames are not part of streamgate.v1.json' });
    bystander.send({ op: 'ping', id: 'ok' });
    expect(await bystander.waitFor((f) => f.id === 'ok')).toEqual({ op: 'pong', id: 'ok' });
    bystander.close();
  });

  it('refuses an unknown subprotocol at the handshake', async () => {
    const ws = new WebSocket(`${gw.wsUrl}/v1/ws`, ['chat']);
    const status = await new Promise<number>((resolve) => ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
    expect(status).toBe(400);
  });
});
