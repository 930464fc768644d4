/**
 * Group commits through a Session: an explicit commit must not be undone when the member
 * leaves. Exposes core behaviour (gateway/groups.ts `leave()` auto-commits the acknowledged
 * prefix, which moves an explicitly committed offset backwards when nothing was acked).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';
import { call, SessionRecorder, stubFor } from './helpers.js';

describe('gRPC group commit (embedded)', () => {
  let gw: TestGateway;
  let stub: ReturnType<typeof stubFor>;

  beforeAll(async () => {
    gw = await startTestGateway({ backend: 'embedded' });
    stub = stubFor(gw.ports.grpc);
  });
  afterAll(async () => {
    stub?.close();
    await gw?.close();
  });

  it('an explicit commit without acks survives the member leaving', async () => {
    const topic = uniqueTopic('grpc-commit');
    const group = uniqueId('grpc-commit');
    await call(stub, 'Produce', { topic, records: [0, 1, 2, 3].map((i) => ({ value: Buffer.from(`v${i}`) })) });
    const first = new SessionRecorder(stub);
    first.send({ subscribe: { id: 'g', topic, group, member_id: 'm', position: { earliest: {} }, credit: 100 } });
    await eventually(() => first.records('g').length === 4);
    first.send({ commit: { id: 'c', subscription_id: 'g', offsets: [{ partition: 0, offset: '2' }] } });
    await first.waitFor('committed');
    first.close();
    await eventually(() => first.error !== undefined);

    const second = new SessionRecorder(stub);
    second.send({ subscribe: { id: 'g', topic, group, member_id: 'm', position: { earliest: {} }, credit: 100 } });
    const subscribed = await second.waitFor('subscribed');
    second.close();
    expect(subscribed.positions).toEqual({ '0': '2' });
  });
});
