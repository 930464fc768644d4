import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Gateway, SubscriberSink, Subscription } from '../../gateway/api.js';
import { createContext } from '../../gateway/context.js';
import { encodeOnce } from '../../gateway/encoded.js';
import { GatewayError } from '../../gateway/errors.js';
import type { StreamRecord } from '../../gateway/record.js';
import { FakeConnection } from '../../test/support/fake-connection.js';
import { Heartbeat, WsConnection } from './connection.js';
import { jsonSubprotocol } from './json-session.js';

const limits = { maxBufferedBytes: 1000, closeBufferedBytes: 5000, maxInFlightPublishes: 2, closeTimeoutMs: 1000 };
/** The core's per-connection subscription bound, as a fake with a limit of 2. */
const admitSubscription = (current: number): void => {
  if (current >= 2) throw new GatewayError('RESOURCE_EXHAUSTED', 'A connection may hold at most 2 subscriptions.');
};
const log = pino({ level: 'silent' });
const record = (offset: bigint): StreamRecord => ({ topic: 't', partition: 0, offset, timestamp: 1, key: null, value: Buffer.from('1'), headers: [] });

function setup(gateway: Partial<Gateway>) {
  const conn = new FakeConnection();
  const ctx = createContext({ protocol: 'websocket', log });
  const session = new WsConnection(conn, jsonSubprotocol, { admitSubscription, decodeForJson: () => undefined, ...gateway } as Gateway, ctx, limits, log, () => undefined);
  const send = (frame: unknown) => session.message(Buffer.from(JSON.stringify(frame)), false);
  return { conn, session, send };
}

afterEach(() => {
  vi.useRealTimers();
});

describe('Heartbeat (fake timers)', () => {
  it('pings every interval and terminates a connection that stayed silent for a whole interval', () => {
    vi.useFakeTimers();
    const { conn, session } = setup({});
    const heartbeat = new Heartbeat(30_000);
    heartbeat.add(session);
    vi.advanceTimersByTime(30_000);
    expect([conn.pings, conn.terminated]).toEqual([1, false]);
    session.pong();
    vi.advanceTimersByTime(30_000);
    expect([conn.pings, conn.terminated]).toEqual([2, false]);
    // No pong and no frame since the second ping: dead.
    vi.advanceTimersByTime(30_000);
    expect([conn.pings, conn.terminated]).toEqual([2, true]);
    heartbeat.stop();
  });

  it('counts any frame from the client as a sign of life', () => {
    vi.useFakeTimers();
    const { conn, session, send } = setup({});
    const heartbeat = new Heartbeat(1_000);
    heartbeat.add(session);
    vi.advanceTimersByTime(1_000);
    send({ op: 'ping', id: 'x' });
    vi.advanceTimersByTime(1_000);
    expect(conn.terminated).toBe(false);
    heartbeat.stop();
  });
});

describe('Session with a fake core', () => {
  it('announces the subscription before any record, then waits for the socket to drain below the bound', async () => {
    let sink!: SubscriberSink;
    const subscription: Subscription = { id: 'x', topic: 't', start: new Map([[0, 5n]]), positions: () => new Map(), addCredit: vi.fn(), close: vi.fn() };
    const { conn, send } = setup({
      subscribe: async (_ctx, _req, s) => {
        sink = s;
        return subscription;
      },
    });
    send({ op: 'subscribe', id: 's1', topic: 't', from: 'earliest' });
    await vi.waitFor(() => expect(conn.frames()).toEqual([{ op: 'subscribed', id: 's1', positions: { '0': '5' } }]));

    conn.setBuffered(4000);
    let resolved = false;
    const delivered = Promise.resolve(sink.records([record(5n)])).then(() => (resolved = true));
    await new Promise((r) => setTimeout(r, 10));
    // Over the bound: nothing written yet, and the hub's promise is pending.
    expect(conn.frames()).toHaveLength(1);
    expect(resolved).toBe(false);
    conn.setBuffered(0);
    await delivered;
    expect(conn.frames()[1]).toMatchObject({ op: 'records', sub: 's1', records: [{ offset: '5' }] });
  });

  it('answers duplicate ids, too many subscriptions, unknown unsubscribes and core errors with error frames', async () => {
    const subscription: Subscription = { id: 'x', topic: 't', start: new Map(), positions: () => new Map(), addCredit: vi.fn(), close: vi.fn() };
    const { conn, send } = setup({
      subscribe: async (_ctx, req) => {
        if (req.topic === 'missing') {
          throw new GatewayError('TOPIC_NOT_FOUND', 'Topic missing does not exist.');
        }
        return subscription;
      },
    });
    send({ op: 'subscribe', id: 'a', topic: 't' });
    send({ op: 'subscribe', id: 'a', topic: 't' });
    send({ op: 'subscribe', id: 'b', topic: 't' });
    send({ op: 'subscribe', id: 'c', topic: 't' });
    send({ op: 'unsubscribe', sub: 'zzz' });
    await vi.waitFor(() => expect(conn.frames().length).toBeGreaterThanOrEqual(5));
    send({ op: 'unsubscribe', sub: 'b' });
    send({ op: 'subscribe', id: 'd', topic: 'missing' });
    await vi.waitFor(() => expect(conn.frames().length).toBe(7));
    const byCode = conn.frames().map((f) => `${f.op}:${f.id ?? f.sub}:${f.code ?? ''}`);
    expect(byCode).toEqual(
      expect.arrayContaining([
        'subscribed:a:',
        'error:a:ALREADY_EXISTS',
        'subscribed:b:',
        'error:c:RESOURCE_EXHAUSTED',
        'error:zzz:NOT_FOUND',
        'end:b:',
        'error:d:TOPIC_NOT_FOUND',
      ]),
    );
    expect(subscription.close).toHaveBeenCalledTimes(1);
  });

  it('closes with 1003 on a binary frame, and with 4008 when replies pile up unread', () => {
    const a = setup({});
    a.session.message(Buffer.from([1, 2, 3]), true);
    expect(a.conn.closedWith?.[0]).toBe(1003);

    const b = setup({});
    b.conn.buffered = 6000;
    b.send({ op: 'ping' });
    expect(b.conn.closedWith?.[0]).toBe(4008);
  });

  it('ends only the subscription whose records cannot be encoded, with a catalogued error; the connection and its other subscriptions go on', async () => {
    const sinks = new Map<string, SubscriberSink>();
    const closed: string[] = [];
    const { conn, send } = setup({
      subscribe: async (_ctx, req, s) => {
        const id = req.partitions![0] === 0 ? 'bad' : 'good';
        sinks.set(id, s);
        return { id, topic: 't', start: new Map([[0, 0n]]), positions: () => new Map(), addCredit: vi.fn(), close: () => void closed.push(id) };
      },
    });
    send({ op: 'subscribe', id: 'bad', topic: 't', from: 'earliest', partitions: [0] });
    send({ op: 'subscribe', id: 'good', topic: 't', from: 'earliest', partitions: [1] });
    await vi.waitFor(() => expect(conn.frames().filter((f) => f.op === 'subscribed')).toHaveLength(2));
    const broken = record(9n);
    // An encoder fault for this record (memoized: every subscriber of it gets the same failure).
    expect(() => encodeOnce(broken, 'json.record', () => {
      throw new RangeError('Maximum call stack size exceeded');
    })).toThrow(GatewayError);
    await sinks.get('bad')!.records([broken]);
    await sinks.get('good')!.records([record(1n)]);
    send({ op: 'ping', id: 'after' });
    const frames = conn.frames().slice(2);
    expect(frames).toEqual([
      { op: 'end', sub: 'bad', code: 'INTERNAL', message: 'The record at t/0@9 could not be encoded (json.record).', retriable: false },
      { op: 'records', sub: 'good', records: [expect.objectContaining({ offset: '1', value: 1 })] },
      { op: 'pong', id: 'after' },
    ]);
    expect(closed).toEqual(['bad']);
    expect(conn.closedWith).toBeUndefined();
  });
});
