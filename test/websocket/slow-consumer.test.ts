/**
 * A client that stops reading: the gateway never lets its socket buffer grow past
 * websocket.maxBufferedBytes, other subscribers keep getting everything, and the hub's policy
 * ends the stalled subscription with SLOW_CONSUMER (retriable), told in an `end` frame.
 */
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContext } from '../../gateway/context.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';
import { RawClient } from './raw-client.js';

const ctx = createContext({ protocol: 'test', log: pino({ level: 'silent' }) });
const KiB = 1024;
let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway({
    config: { hub: { maxQueueBytes: 64 * KiB, slowConsumerMs: 300 }, websocket: { maxBufferedBytes: 64 * KiB } },
  });
});
afterAll(async () => {
  await gw?.close();
});

describe('a client that does not read', () => {
  it('is ended with SLOW_CONSUMER while a reading client on the same topic gets every record', async () => {
    const topic = uniqueTopic('ws-slow');
    await gw.core.produce(ctx, topic, [{ value: Buffer.from('0') }]);
    const fast = await RawClient.open(gw.wsUrl);
    const slow = await RawClient.open(gw.wsUrl);
    for (const c of [fast, slow]) {
      c.send({ op: 'subscribe', id: 's', topic, from: 'latest' });
      await c.waitFor((f) => f.op === 'subscribed');
    }
    // Stop reading: the kernel's socket buffers fill (up to tcp_wmem's 4 MiB on the sending side),
    // then the gateway's own buffer, which it keeps under maxBufferedBytes.
    const slowSocket = (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket;
    slowSocket.pause();

    // 12.5 MiB: far more than the kernel buffers plus the gateway's bound can hold.
    const value = Buffer.from(JSON.stringify({ pad: 'x'.repeat(64 * KiB) }));
    for (let i = 0; i < 50; i++) {
      await gw.core.produce(ctx, topic, Array.from({ length: 4 }, () => ({ value })));
    }
    const got = await fast.waitForRecords('s', 200);
    expect(got.map((r) => Number(r.offset))).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));

    // The hub's policy (behind for longer than hub.slowConsumerMs) ends it while it still is not reading.
    await eventually(async () => (await gw.core.metrics.slowConsumers.get()).values[0]?.value === 1, { what: 'slow consumer ended' });
    slowSocket.resume();
    const end = await slow.waitFor((f) => f.op === 'end');
    expect(end).toMatchObject({ op: 'end', sub: 's', code: 'SLOW_CONSUMER', retriable: true });
    // What it did get is a gap-free prefix it can resume after.
    const prefix = slow.records('s').map((r) => Number(r.offset));
    expect(prefix.length).toBeLessThan(200);
    expect(prefix).toEqual(Array.from({ length: prefix.length }, (_, i) => i + 1));
    // The connection itself stays usable.
    slow.send({ op: 'ping', id: 'alive' });
    await slow.waitFor((f) => f.id === 'alive');
    fast.close();
    slow.close();
  });
});
