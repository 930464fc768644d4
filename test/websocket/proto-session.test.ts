/**
 * The WebSocket `streamgate.v1.proto` subprotocol serves the same Session as gRPC: group
 * subscriptions with ack and commit (a reconnect resumes where the group committed), and credit —
 * per subscription and the session-wide pool — that bounds how many records are sent. A real
 * WebSocket client speaking protobufjs-encoded SessionRequest / SessionResponse frames, against
 * the test run's Kafka broker. (Before the shared state machine, group, ack, commit and pool
 * credit were answered UNIMPLEMENTED here.)
 */
import { join } from 'node:path';
import { pino } from 'pino';
import protobuf from 'protobufjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContext } from '../../gateway/context.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';
import { RawClient } from './raw-client.js';

const ctx = createContext({ protocol: 'test', log: pino({ level: 'silent' }) });
const root = protobuf.loadSync(join(import.meta.dirname, '../../proto/streamgate/v1/streamgate.proto'));
const Req = root.lookupType('streamgate.v1.SessionRequest');
const Res = root.lookupType('streamgate.v1.SessionResponse');

let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(async () => {
  await gw?.close();
});

/** A proto-subprotocol client: sends SessionRequest objects, decodes every SessionResponse. */
class ProtoClient {
  private constructor(private readonly raw: RawClient) {}

  static async open(): Promise<ProtoClient> {
    return new ProtoClient(await RawClient.open(gw.wsUrl, 'streamgate.v1.proto'));
  }

  send(request: object): void {
    this.raw.ws.send(Req.encode(Req.fromObject(request)).finish());
  }

  frames(): any[] {
    return this.raw.binaryFrames.map((b) => Res.toObject(Res.decode(b), { longs: String, oneofs: true }));
  }

  /** The first frame of this kind matching `match` (waits for it). */
  waitFor(kind: string, match: (body: any) => boolean = () => true): Promise<any> {
    return eventually(() => this.frames().find((f) => f.frame === kind && match(f[kind]))?.[kind], { what: `a ${kind} frame`, timeoutMs: 15_000 });
  }

  /** Offsets delivered to subscription `sub` so far, in order. */
  offsets(sub: string): string[] {
    return this.frames()
      .filter((f) => f.frame === 'records' && f.records.subscriptionId === sub)
      .flatMap((f) => f.records.records.map((r: any) => r.offset));
  }

  /** A ping answered: every frame the server sent before the pong has arrived. */
  async roundTrip(nonce: number): Promise<void> {
    this.send({ ping: { nonce } });
    await this.waitFor('pong', (p) => p.nonce === String(nonce));
  }

  async close(): Promise<void> {
    this.raw.close();
    await this.raw.closed;
  }
}

async function produce(topic: string, n: number): Promise<void> {
  const results = await gw.core.produce(ctx, topic, Array.from({ length: n }, (_, i) => ({ key: null, value: Buffer.from(`v${i}`) })));
  expect(results.every((r) => r.ok)).toBe(true);
}

describe('group subscriptions over the proto subprotocol', () => {
  it('acks only delivered records, and a reconnect resumes after the acknowledged ones', async () => {
    const topic = uniqueTopic('ws-proto-ack');
    const group = uniqueId('ws-proto-ack');
    await produce(topic, 6);
    const first = await ProtoClient.open();
    first.send({ subscribe: { id: 'g', topic, group, memberId: 'm1', position: { earliest: {} }, credit: 100 } });
    expect(await first.waitFor('subscribed')).toMatchObject({ id: 'g', positions: { '0': '0' }, memberId: 'm1' });
    await eventually(() => first.offsets('g').length === 6);
    expect(first.offsets('g')).toEqual(['0', '1', '2', '3', '4', '5']);
    for (const offset of ['0', '1', '2']) first.send({ ack: { subscriptionId: 'g', partition: 0, offset } });
    // An ack for a record never delivered is the client's bug, refused rather than committed.
    first.send({ ack: { subscriptionId: 'g', partition: 0, offset: '9' } });
    expect(await first.waitFor('error')).toMatchObject({ id: 'g', code: 'INVALID_ARGUMENT' });
    await first.close();

    const second = await ProtoClient.open();
    second.send({ subscribe: { id: 'g', topic, group, memberId: 'm1', position: { earliest: {} }, credit: 100 } });
    expect(await second.waitFor('subscribed')).toMatchObject({ positions: { '0': '3' } });
    await eventually(() => second.offsets('g').length === 3);
    await second.roundTrip(1);
    expect(second.offsets('g')).toEqual(['3', '4', '5']);
    await second.close();
  });

  it('commits explicit offsets (answered by committed), and a reconnect starts at the committed offset', async () => {
    const topic = uniqueTopic('ws-proto-commit');
    const group = uniqueId('ws-proto-commit');
    await produce(topic, 6);
    const first = await ProtoClient.open();
    first.send({ subscribe: { id: 'g', topic, group, memberId: 'm1', position: { earliest: {} }, credit: 100 } });
    first.send({ subscribe: { id: 'b', topic, position: { earliest: {} } } });
    await eventually(() => first.offsets('g').length === 6);
    first.send({ commit: { id: 'c1', subscriptionId: 'g', offsets: [{ partition: 0, offset: '5' }] } });
    expect(await first.waitFor('committed')).toEqual({ id: 'c1', subscriptionId: 'g' });
    // Only groups commit.
    first.send({ commit: { id: 'c2', subscriptionId: 'b' } });
    expect(await first.waitFor('error', (e) => e.id === 'c2')).toMatchObject({ code: 'FAILED_PRECONDITION' });
    await first.close();

    const second = await ProtoClient.open();
    second.send({ subscribe: { id: 'g', topic, group, memberId: 'm1', position: { earliest: {} }, credit: 100 } });
    expect(await second.waitFor('subscribed')).toMatchObject({ positions: { '0': '5' } });
    await eventually(() => second.offsets('g').length === 1);
    expect(second.offsets('g')).toEqual(['5']);
    await second.close();
  });
});

describe('credit over the proto subprotocol', () => {
  it('sends no more records than granted: own credit, then the session pool, then more own credit', async () => {
    const topic = uniqueTopic('ws-proto-credit');
    await produce(topic, 7);
    const c = await ProtoClient.open();
    c.send({ subscribe: { id: 's', topic, position: { earliest: {} }, credit: 2 } });
    await eventually(() => c.offsets('s').length === 2);
    await c.roundTrip(1);
    expect(c.offsets('s')).toEqual(['0', '1']);
    // The session-wide pool (empty subscription id) was UNIMPLEMENTED here before.
    c.send({ credit: { subscriptionId: '', records: 3 } });
    await eventually(() => c.offsets('s').length === 5);
    await c.roundTrip(2);
    expect(c.offsets('s')).toEqual(['0', '1', '2', '3', '4']);
    c.send({ credit: { subscriptionId: 's', records: 10 } });
    await eventually(() => c.offsets('s').length === 7);
    expect(c.frames().filter((f) => f.frame === 'error')).toEqual([]);
    await c.close();
  });

  it('bounds a group subscription by its credit too', async () => {
    const topic = uniqueTopic('ws-proto-group-credit');
    const group = uniqueId('ws-proto-group-credit');
    await produce(topic, 4);
    const c = await ProtoClient.open();
    c.send({ subscribe: { id: 'g', topic, group, position: { earliest: {} }, credit: 1 } });
    await eventually(() => c.offsets('g').length === 1);
    await c.roundTrip(1);
    expect(c.offsets('g')).toEqual(['0']);
    c.send({ credit: { subscriptionId: 'g', records: 3 } });
    await eventually(() => c.offsets('g').length === 4);
    expect(c.offsets('g')).toEqual(['0', '1', '2', '3']);
    await c.close();
  });
});
