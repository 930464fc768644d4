/**
 * The browser client (clients/ts/browser, run in Node 20 with `ws` as its WebSocket) across
 * connection losses in the middle of a stream: the application must see every sequence number
 * exactly once, in order, and publishes made while disconnected must land exactly once.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { connect, type StreamgateClient, type WebSocketConstructor } from '../../clients/ts/browser/index.js';
import { createContext } from '../../gateway/context.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';

const ctx = createContext({ protocol: 'test', log: pino({ level: 'silent' }) });

/** `ws` with every instance remembered, so a test can cut the transport under the client. */
class TrackedWebSocket extends WebSocket {
  static instances: TrackedWebSocket[] = [];
  constructor(url: string, protocols?: string | string[]) {
    super(url, protocols);
    TrackedWebSocket.instances.push(this);
  }
  /** Destroys the TCP connection without a close frame (a network drop; both sides see 1006). */
  drop(): void {
    (this as unknown as { _socket: { destroy(): void } })._socket.destroy();
  }
}

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway();
});
afterAll(async () => {
  await gw?.close();
});

async function produceSeqs(target: TestGateway, topic: string, from: number, to: number): Promise<void> {
  for (let i = from; i < to; i += 10) {
    const batch = [];
    for (let s = i; s < Math.min(i + 10, to); s++) batch.push({ key: null, value: Buffer.from(JSON.stringify({ seq: s })) });
    const results = await target.core.produce(ctx, topic, batch);
    if (!results.every((r) => r.ok)) throw new Error('produce failed');
  }
}

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, i) => from + i);

describe('browser client reconnect', () => {
  it('resumes after network drops mid-stream with no gap and no duplicate', async () => {
    const topic = uniqueTopic('ws-drop');
    await produceSeqs(gw, topic, 0, 1);
    TrackedWebSocket.instances = [];
    const client = connect(`${gw.wsUrl}/v1/ws`, { WebSocketImpl: TrackedWebSocket as unknown as WebSocketConstructor, initialBackoffMs: 20, maxBackoffMs: 200 });
    const seen: number[] = [];
    const sub = client.subscribe<{ seq: number }>(topic, { from: 'earliest' }, (records) => {
      for (const r of records) seen.push((r.value as { seq: number }).seq);
    });
    expect(await sub.subscribed()).toEqual({ '0': '0' });

    // Cut the connection twice under the client, each time while the next records are being
    // written: the drops land mid-stream by construction (not by how fast delivery happens to be).
    await produceSeqs(gw, topic, 1, 200);
    await eventually(() => seen.length >= 150, { what: '150 records' });
    let writing = produceSeqs(gw, topic, 200, 400);
    TrackedWebSocket.instances.at(-1)!.drop();
    await writing;
    await eventually(() => seen.length >= 350 && TrackedWebSocket.instances.length >= 2, { what: '350 records after a reconnect' });
    writing = produceSeqs(gw, topic, 400, 600);
    TrackedWebSocket.instances.at(-1)!.drop();
    await writing;
    await eventually(() => seen.length >= 600 && TrackedWebSocket.instances.length >= 3, { what: 'all 600 records and a third connection' });
    expect(seen).toEqual(range(0, 600));
    expect(sub.positions()).toEqual({ '0': '600' });
    await sub.close();
    client.close();
  });

  it('resumes across a gateway restart on the same port, and a publish made while it was down lands once', async () => {
    const topic = uniqueTopic('ws-restart');
    let first = await startTestGateway();
    const port = first.ports.http;
    const states: string[] = [];
    const client: StreamgateClient = connect(`${first.wsUrl}/v1/ws`, {
      WebSocketImpl: WebSocket as unknown as WebSocketConstructor,
      initialBackoffMs: 50,
      maxBackoffMs: 300,
      onStateChange: (s) => states.push(s),
    });
    try {
      await produceSeqs(gw, topic, 0, 100);
      const seen: number[] = [];
      const sub = client.subscribe<{ seq: number }>(topic, { from: 'earliest' }, (records) => {
        for (const r of records) seen.push((r.value as { seq: number }).seq);
      });
      await eventually(() => seen.length === 100, { what: '100 records before the restart' });

      // Graceful shutdown tells the client 1001 (going away): it reconnects, which fails while the gateway is down.
      await first.close();
      await eventually(() => client.state === 'reconnecting');
      const published = client.publish(topic, [{ key: 'while-down', value: { seq: 'p' } }]);
      await produceSeqs(gw, topic, 100, 200);

      first = await startTestGateway({ config: { http: { port } } });
      const [pos] = await published;
      await eventually(() => seen.length >= 200, { what: '200 records after the restart' });
      expect(seen.filter((s) => typeof s === 'number')).toEqual(range(0, 200));
      expect(pos).toMatchObject({ partition: 0 });
      // Exactly one copy of the publish in the log, at the offset it was acked with.
      const all = await gw.core.fetch(ctx, topic, 0, 0n, { maxRecords: 1000 });
      const copies = all.records.filter((r) => r.key?.toString() === 'while-down');
      expect(copies.map((r) => r.offset.toString())).toEqual([pos!.offset]);
      expect(states).toContain('reconnecting');
      expect(client.state).toBe('open');
      await sub.close();
    } finally {
      client.close();
      await first.close();
    }
  });
});
