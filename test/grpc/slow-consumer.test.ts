/**
 * gRPC streams whose client does not read. A Subscribe that never reads holds at most its hub
 * queue plus `grpc.maxBufferedBytes` and is ended by the hub with SLOW_CONSUMER (gRPC
 * RESOURCE_EXHAUSTED, `streamgate-code: SLOW_CONSUMER`), while a reading subscriber on the same
 * topic gets everything. A Session that keeps sending requests but never reads their answers is
 * ended once its unsent frames pass `grpc.closeBufferedBytes`. Real grpc-js clients.
 */
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStub } from '../../clients/ts/node/index.js';
import { createContext } from '../../gateway/context.js';
import { uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';
import { startCapturedGateway, type CapturedGateway } from '../security/helpers.js';
import { SessionRecorder, SubscribeRecorder } from './helpers.js';

const ctx = createContext({ protocol: 'test', log: pino({ level: 'silent' }) });
const KiB = 1024;
let gw: CapturedGateway;

beforeAll(async () => {
  gw = await startCapturedGateway({
    config: { hub: { maxQueueBytes: 64 * KiB, slowConsumerMs: 1_000 }, grpc: { maxBufferedBytes: 64 * KiB, closeBufferedBytes: 64 * KiB } },
  });
});
afterAll(async () => {
  await gw?.close();
});

/** A client with its own connection, so a stalled one cannot hold up another's. */
const client = () => createStub(`127.0.0.1:${gw.ports.grpc}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });

describe('a gRPC client that does not read', () => {
  it('Subscribe: ended with RESOURCE_EXHAUSTED (SLOW_CONSUMER) after a gap-free prefix; a reading subscriber gets every record', async () => {
    const topic = uniqueTopic('grpc-slow');
    await gw.core.produce(ctx, topic, [{ value: Buffer.from('0') }]);
    const fastStub = client();
    const slowStub = client();
    const fast = new SubscribeRecorder(fastStub, { topic, position: { latest: {} } });
    const slow = new SubscribeRecorder(slowStub, { topic, position: { latest: {} } });
    await fast.subscribed();
    await slow.subscribed();
    slow.call.pause();

    const value = Buffer.alloc(32 * KiB, 'x');
    for (let i = 0; i < 50; i++) await gw.core.produce(ctx, topic, Array.from({ length: 4 }, () => ({ value })));
    await eventually(() => fast.records().length >= 200, { what: '200 records on the reading subscriber', timeoutMs: 30_000 });
    expect(fast.records().map((r) => Number(r.offset))).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));

    await eventually(async () => (await gw.core.metrics.slowConsumers.get()).values[0]?.value === 1, { what: 'slow consumer ended', timeoutMs: 30_000 });
    slow.call.resume();
    const err = await eventually(() => slow.error, { what: 'the status of the stalled stream' });
    expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(err.details).toMatch(/^SLOW_CONSUMER: /);
    expect(err.metadata.get('streamgate-code')).toEqual(['SLOW_CONSUMER']);
    const prefix = slow.records().map((r) => Number(r.offset));
    expect(prefix.length).toBeLessThan(200);
    expect(prefix).toEqual(Array.from({ length: prefix.length }, (_, i) => i + 1));
    fast.call.cancel();
    fastStub.close();
    slowStub.close();
  });

  it('Session: requests whose answers are never read end it with SLOW_CONSUMER past grpc.closeBufferedBytes', async () => {
    const stub = client();
    const session = new SessionRecorder(stub);
    session.send({ ping: { nonce: 'first' } });
    await session.waitFor('pong');
    session.call.pause();
    // Each pong is a few bytes on the wire: enough of them fill the HTTP/2 window and the
    // client's buffers, then the gateway's; 20,000 pings are far more than all of that.
    for (let i = 0; i < 20_000; i++) session.send({ ping: { nonce: String(i) } });
    await eventually(() => gw.logs().some((l) => l.code === 'SLOW_CONSUMER' && String(l.msg).includes('closeBufferedBytes')), { what: 'the session ended', timeoutMs: 30_000 });
    session.call.resume();
    const err = await eventually(() => session.error, { what: 'the session status', timeoutMs: 30_000 });
    expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(err.details).toMatch(/^SLOW_CONSUMER: .*grpc\.closeBufferedBytes/);
    expect(session.of('pong').length).toBeLessThan(20_001);
    stub.close();
  });
});
