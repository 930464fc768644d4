/**
 * Backpressure on an SSE stream: a client that stops reading does not stall a reading client on
 * the same topic (the hub's shared reader is never paused for one subscriber), and the hub's
 * policy ends the stalled stream with SLOW_CONSUMER, written as the stream's last `error` event
 * after a gap-free prefix of records it can resume after.
 */
import { request, type IncomingMessage } from 'node:http';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContext } from '../../gateway/context.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';

const ctx = createContext({ protocol: 'test', log: pino({ level: 'silent' }) });
const KiB = 1024;
let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway({ config: { hub: { maxQueueBytes: 64 * KiB, slowConsumerMs: 300 } } });
});
afterAll(async () => {
  await gw?.close();
});

interface Stream {
  res: IncomingMessage;
  text: () => string;
  ended: Promise<void>;
  close(): void;
}

/** An SSE stream read with node:http so the test can stop reading its socket. */
function open(topic: string): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = request(`${gw.httpUrl}/v1/topics/${topic}/events?from=latest`, { headers: { accept: 'text/event-stream' }, agent: false }, (res) => {
      if (res.statusCode !== 200) return reject(new Error(`status ${res.statusCode}`));
      let text = '';
      let subscribed = false;
      const ended = new Promise<void>((done) => res.once('end', done));
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        if (!subscribed && text.includes('event: subscribed')) {
          subscribed = true;
          resolve({ res, text: () => text, ended, close: () => req.destroy() });
        }
      });
    });
    req.once('error', reject);
    req.end();
  });
}

/** Offsets of the record (default `message`) events in an SSE text, in order: an id line followed directly by data. */
function recordOffsets(text: string): number[] {
  return [...text.matchAll(/^id: [^\n]*\ndata: (.*)\n/gm)].map((m) => Number((JSON.parse(m[1]!) as { offset: string }).offset));
}

describe('an SSE client that does not read', () => {
  it('is ended with a SLOW_CONSUMER error event while a reading client on the same topic gets every record', async () => {
    const topic = uniqueTopic('sse-slow');
    await gw.core.produce(ctx, topic, [{ value: Buffer.from('0') }]);
    const fast = await open(topic);
    const slow = await open(topic);
    // Stop reading: the kernel's socket buffers fill, then the gateway's response buffer, and the
    // sink's promise stays pending, so the hub queue (64 KiB here) fills and the subscriber is detached.
    slow.res.pause();
    slow.res.socket.pause();

    // 300 × 64 KiB ≈ 19 MiB: more than the loopback socket buffers on both sides can hold.
    const value = Buffer.from(JSON.stringify({ pad: 'x'.repeat(64 * KiB) }));
    for (let i = 0; i < 75; i++) await gw.core.produce(ctx, topic, Array.from({ length: 4 }, () => ({ value })));
    const got = await eventually(() => recordOffsets(fast.text()).length >= 300 && recordOffsets(fast.text()), { what: '300 records on the reading stream' });
    expect(got).toEqual(Array.from({ length: 300 }, (_, i) => i + 1));

    await eventually(async () => (await gw.core.metrics.slowConsumers.get()).values[0]?.value === 1, { what: 'slow consumer ended' });
    slow.res.socket.resume();
    slow.res.resume();
    await slow.ended;
    const text = slow.text();
    expect(text).toMatch(/event: error\ndata: \{"error_code":42902,"message":"[^"]*","code":"SLOW_CONSUMER"\}\n\n$/);
    // What it did get is a gap-free prefix it can resume after.
    const prefix = recordOffsets(text);
    expect(prefix.length).toBeLessThan(300);
    expect(prefix).toEqual(Array.from({ length: prefix.length }, (_, i) => i + 1));
    fast.close();
  });
});
