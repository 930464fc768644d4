/**
 * MQTT limits decided by the core (issue 8): subscriptions per connection
 * (`limits.maxSubscriptionsPerConnection`, SUBACK 0x97 in v5 / 0x80 in 3.1.1) and the publish
 * rate per principal (`limits.publishRatePerPrincipal`, PUBACK 0x97; 3.1.1 has no negative
 * PUBACK, so the connection is closed and nothing is written).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContext } from '../../gateway/context.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';
import { RawClient } from '../mqtt/helpers.js';

let gw: TestGateway;
let defaultTopic: string;
beforeAll(async () => {
  defaultTopic = uniqueTopic('mqtt-limits');
  gw = await startTestGateway({
    backend: 'embedded',
    config: {
      mqtt: { defaultTopic, sessionFlushMs: 100 },
      // Burst 3, then practically no refill: the 4th record of the (anonymous) principal is refused.
      limits: { maxSubscriptionsPerConnection: 2, publishRatePerPrincipal: 0.001, publishBurstPerPrincipal: 3 },
    },
  });
});
afterAll(async () => {
  await gw?.close();
});

async function connected(version: 4 | 5, extra: { clientId?: string; clean?: boolean; properties?: { sessionExpiryInterval: number } } = {}): Promise<RawClient> {
  const c = await RawClient.open(gw.ports.mqtt, version);
  c.send({ cmd: 'connect', clientId: extra.clientId ?? uniqueId('lim'), protocolVersion: version, clean: extra.clean ?? true, keepalive: 30, ...(extra.properties ? { properties: extra.properties } : {}) }, version);
  await c.next('connack');
  return c;
}

/** The n-th packet of a kind (packets arrive in order; `next` returns the first). */
function nth<C extends 'suback' | 'puback' | 'unsuback'>(c: RawClient, cmd: C, n: number) {
  return c.packets.filter((p) => p.cmd === cmd)[n] as Extract<(typeof c.packets)[number], { cmd: C }> | undefined;
}

describe('subscriptions per connection', () => {
  it('v5: the third subscription gets SUBACK 0x97; replacing one is not a new one; after UNSUBSCRIBE there is room again', async () => {
    const c = await connected(5);
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'l/a', qos: 1 }, { topic: 'l/b', qos: 0 }, { topic: 'l/c', qos: 1 }] });
    expect((await c.next('suback')).granted).toEqual([1, 0, 0x97]);
    c.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: 'l/a', qos: 2 }] });
    await eventuallyPacket(c, 'suback', 1);
    expect(nth(c, 'suback', 1)!.granted).toEqual([2]);
    c.send({ cmd: 'unsubscribe', messageId: 3, unsubscriptions: ['l/b'] });
    await c.next('unsuback');
    c.send({ cmd: 'subscribe', messageId: 4, subscriptions: [{ topic: 'l/c', qos: 1 }, { topic: 'l/d', qos: 1 }] });
    await eventuallyPacket(c, 'suback', 2);
    expect(nth(c, 'suback', 2)!.granted).toEqual([1, 0x97]);
    c.destroy();
  });

  it('3.1.1: the refused subscription gets 0x80', async () => {
    const c = await connected(4);
    c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'm/a', qos: 1 }, { topic: 'm/b', qos: 1 }, { topic: 'm/c', qos: 1 }] }, 4);
    expect((await c.next('suback')).granted).toEqual([1, 1, 0x80]);
    c.destroy();
  });

  it("a resumed persistent session's subscriptions count toward the limit", async () => {
    const clientId = uniqueId('persist');
    const opts = { clientId, clean: false, properties: { sessionExpiryInterval: 60 } };
    const first = await connected(5, opts);
    first.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'p/a', qos: 1 }, { topic: 'p/b', qos: 1 }] });
    expect((await first.next('suback')).granted).toEqual([1, 1]);
    first.send({ cmd: 'disconnect', reasonCode: 0 });
    await first.waitClosed();
    const again = await connected(5, opts);
    expect((await again.next('connack')).sessionPresent).toBe(true);
    again.send({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: 'p/c', qos: 1 }] });
    expect((await again.next('suback')).granted).toEqual([0x97]);
    again.send({ cmd: 'disconnect', reasonCode: 0, properties: { sessionExpiryInterval: 0 } });
    await again.waitClosed();
  });
});

describe('publish rate per principal', () => {
  it('v5: PUBACK 0x97 with a reason string once the budget is spent; 3.1.1: connection closed; nothing extra written', async () => {
    const c = await connected(5);
    for (let i = 1; i <= 4; i++) {
      c.send({ cmd: 'publish', topic: 'rate/x', payload: Buffer.from(String(i)), qos: 1, messageId: i, retain: false, dup: false });
      await eventuallyPacket(c, 'puback', i - 1); // one at a time: a batch would be refused as a whole
    }
    const acks = c.packets.filter((p) => p.cmd === 'puback');
    expect(acks.map((a) => a.reasonCode)).toEqual([0, 0, 0, 0x97]);
    expect(String(acks[3]!.properties?.reasonString)).toMatch(/^RESOURCE_EXHAUSTED: .*rate/);
    c.destroy();

    // Same (anonymous) principal over 3.1.1: no negative PUBACK exists, so the connection closes.
    const old = await connected(4);
    old.send({ cmd: 'publish', topic: 'rate/y', payload: Buffer.from('5'), qos: 1, messageId: 1, retain: false, dup: false }, 4);
    await old.waitClosed();
    expect(old.packets.filter((p) => p.cmd === 'puback')).toHaveLength(0);

    const ctx = createContext({ protocol: 'test', log: gw.core.log });
    const recs = (await gw.core.fetch(ctx, defaultTopic, 0, 0n, { maxRecords: 100 })).records;
    expect(recs.map((r) => r.value?.toString())).toEqual(['1', '2', '3']);
  });
});

async function eventuallyPacket(c: RawClient, cmd: 'suback' | 'puback', index: number): Promise<void> {
  await eventually(() => nth(c, cmd, index) !== undefined, { what: `${cmd} #${index + 1}` });
}
