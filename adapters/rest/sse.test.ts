import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import type { Gateway, SubscriberSink } from '../../gateway/api.js';
import { createContext } from '../../gateway/context.js';
import { encodeOnce } from '../../gateway/encoded.js';
import { GatewayError } from '../../gateway/errors.js';
import type { StreamRecord } from '../../gateway/record.js';
import { eventually } from '../../test/support/wait.js';
import { SSE_RECORD_FORMAT, serveSse } from './sse.js';

const record = (offset: bigint): StreamRecord => ({ topic: 't', partition: 0, offset, timestamp: 1, key: null, value: Buffer.from(`{"o":${offset}}`), headers: [] });

/**
 * A gateway whose subscribe hands the sink to the test, delivering `early` before it resolves
 * (as the hub may, ahead of the 200).
 */
function fakeGateway(early: readonly StreamRecord[]) {
  const state: { sink?: SubscriberSink; closed: number; delivered: Promise<void>[] } = { closed: 0, delivered: [] };
  const gateway = {
    // No topic is schema-bound here: records are served as their bytes.
    decodeForJson: () => undefined,
    subscribe: async (_ctx: unknown, _req: unknown, sink: SubscriberSink) => {
      state.sink = sink;
      const p = sink.records(early);
      if (p !== undefined) state.delivered.push(p);
      return { id: 'x', topic: 't', start: new Map([[0, 0n]]), positions: () => new Map(), addCredit: () => undefined, close: () => void state.closed++ };
    },
  } as unknown as Gateway;
  return { gateway, state };
}

let server: Server | undefined;
afterEach(async () => {
  await new Promise((resolve) => (server === undefined ? resolve(undefined) : server.close(resolve)));
  server = undefined;
});

async function serve(gateway: Gateway): Promise<{ url: string; errors: unknown[] }> {
  const errors: unknown[] = [];
  server = createServer((req, res) => {
    // Whatever the stream does, the response must never emit an error (a write after end would).
    res.on('error', (err) => errors.push(err));
    const ctx = createContext({ protocol: 'test', log: pino({ level: 'silent' }) });
    serveSse(gateway, ctx, req, res, 't', new URL(req.url!, 'http://x').searchParams, { heartbeatMs: 10, retryMs: 50 }, new Set()).catch((err: unknown) => errors.push(err));
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, errors };
}

describe('SSE stream: a failure for one stream stays with that stream', () => {
  it('an unencodable record in the early (pre-200) delivery ends the stream with a catalogued error event, and nothing is written after the end', async () => {
    const bad = record(1n);
    // The record's SSE encoding fails (as an encoder fault would); every stream gets the memoized failure.
    expect(() => encodeOnce(bad, SSE_RECORD_FORMAT, () => {
      throw new RangeError('Maximum call stack size exceeded');
    })).toThrow(GatewayError);
    const { gateway, state } = fakeGateway([record(0n), bad, record(2n)]);
    const { url, errors } = await serve(gateway);

    const res = await fetch(url);
    const text = await res.text(); // resolves only because the gateway ended the stream
    expect(res.status).toBe(200);
    const events = text.split('\n\n').filter((b) => b.includes('data:'));
    // A record is a default `message` event (no `event:` field, WHATWG HTML §9.2.6); control events are named.
    expect(events.map((b) => /event: (\S+)/.exec(b)?.[1] ?? 'message')).toEqual(['subscribed', 'message', 'error']);
    expect(events[1]).toContain('id: 0:1');
    // The error names the record and carries the id past it: a reconnect does not hit it again.
    expect(events[2]).toContain('id: 0:2');
    expect(JSON.parse(/data: (.*)/.exec(events[2]!)![1]!)).toMatchObject({ code: 'INTERNAL', message: 'The record at t/0@1 could not be encoded (sse.record).', details: { offset: '1' } });
    await Promise.all(state.delivered);
    expect(state.closed).toBeGreaterThan(0);

    // The hub (or a heartbeat, or shutdown) still calling in after the end writes nothing and throws nothing.
    await state.sink!.records([record(3n)]);
    state.sink!.continuityLost!({ partition: 0, requested: 4n, actual: 5n, reason: 'below_log_start' });
    state.sink!.end(new GatewayError('SHUTTING_DOWN', 'bye'));
    await new Promise(setImmediate); // a write after end emits its error on the next tick
    expect(errors).toEqual([]);
  });

  it('a client that goes away mid-stream ends the subscription; later deliveries are no-ops', async () => {
    const { gateway, state } = fakeGateway([]);
    const { url, errors } = await serve(gateway);
    const abort = new AbortController();
    const res = await fetch(url, { signal: abort.signal });
    expect(res.status).toBe(200);
    abort.abort();
    await eventually(() => state.closed > 0, { what: 'the subscription to be closed' });
    await state.sink!.records([record(0n)]);
    expect(errors).toEqual([]);
  });
});
