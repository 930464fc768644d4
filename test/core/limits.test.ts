/** Core limits: connections (total, per address), subscriptions per connection, publish rate per principal, headers per record. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayError } from '../../gateway/errors.js';
import { createTestCore, type TestCore } from '../support/core.js';
import { uniqueTopic } from '../support/names.js';

describe('core limits', () => {
  let t: TestCore;
  beforeAll(async () => {
    t = await createTestCore('embedded', {
      limits: { maxConnections: 3, maxConnectionsPerAddress: 2, maxSubscriptionsPerConnection: 2, publishRatePerPrincipal: 10, publishBurstPerPrincipal: 5 },
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  const code = (fn: () => unknown): string | undefined => {
    try {
      fn();
      return undefined;
    } catch (err) {
      return (err as GatewayError).code;
    }
  };

  it('refuses connections past the total and per-address limits, and admits again after a close', () => {
    const a1 = t.core.connectionOpened('mqtt', '10.0.0.1');
    const a2 = t.core.connectionOpened('websocket', '10.0.0.1');
    expect(code(() => t.core.connectionOpened('grpc', '10.0.0.1'))).toBe('RESOURCE_EXHAUSTED');
    const b1 = t.core.connectionOpened('rest', '10.0.0.2');
    // The instance is full: busy (another instance may take the client), not the client's quota.
    expect(code(() => t.core.connectionOpened('rest', '10.0.0.3'))).toBe('SERVER_BUSY');
    a1();
    a1(); // releasing twice counts once
    const a3 = t.core.connectionOpened('grpc', '10.0.0.1');
    expect(code(() => t.core.connectionOpened('grpc', '10.0.0.4'))).toBe('SERVER_BUSY');
    for (const release of [a2, a3, b1]) release();
  });

  it('bounds subscriptions per connection', () => {
    expect(code(() => t.core.admitSubscription(1))).toBeUndefined();
    expect(code(() => t.core.admitSubscription(2))).toBe('RESOURCE_EXHAUSTED');
  });

  it('rate-limits produce per principal with a burst, writing nothing when refused', async () => {
    const topic = uniqueTopic('rate');
    const rec = (n: number) => Array.from({ length: n }, () => ({ value: Buffer.from('x') }));
    await t.core.produce(t.ctx, topic, rec(5));
    const refused = await t.core.produce(t.ctx, topic, rec(3)).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(GatewayError);
    expect((refused as GatewayError).code).toBe('RESOURCE_EXHAUSTED');
    expect((await t.core.offsets(t.ctx, topic))[0]!.latest).toBe(5n);
  });
});

describe('core limits: headers per record', () => {
  let t: TestCore;
  beforeAll(async () => {
    t = await createTestCore('embedded', { limits: { maxHeadersPerRecord: 3 } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('refuses a batch with a record over limits.maxHeadersPerRecord whole (MESSAGE_TOO_LARGE), repeats counted', async () => {
    const topic = uniqueTopic('headers-limit');
    const h = (n: number) => Array.from({ length: n }, () => ({ name: 'same', value: Buffer.from('v') }));
    await t.core.produce(t.ctx, topic, [{ value: Buffer.from('ok'), headers: h(3) }]);
    const refused = await t.core.produce(t.ctx, topic, [{ value: Buffer.from('a') }, { value: Buffer.from('b'), headers: h(4) }]).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(GatewayError);
    expect((refused as GatewayError).code).toBe('MESSAGE_TOO_LARGE');
    expect((refused as GatewayError).message).toMatch(/Record 1 has 4 headers; the limit is 3/);
    expect((await t.core.offsets(t.ctx, topic))[0]!.latest).toBe(1n);
  });
});
