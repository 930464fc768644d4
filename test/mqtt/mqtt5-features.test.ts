/**
 * The rest of MQTT 5 (issue #17) with real clients (MQTT.js) and raw mqtt-packet frames: server
 * topic aliases, one PUBLISH for overlapping subscriptions (both versions), the client's Maximum
 * Packet Size on acknowledgements, what enhanced authentication is answered, retained changes a
 * client made before its own SUBSCRIBE, and server-assigned 3.1.1 client ids under
 * `mqtt.clientIdPattern`.
 */
import { SignJWT } from 'jose';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';
import { connectClient, RawClient } from './helpers.js';

let gw: TestGateway;
const url = (): string => `mqtt://127.0.0.1:${gw.ports.mqtt}`;
beforeAll(async () => {
  // One partition (the default): each subscription's reader sees the records in one order.
  gw = await startTestGateway({ backend: 'embedded', config: { mqtt: { defaultTopic: uniqueTopic('mqtt5-features'), topicAliasMaximum: 2 } } });
});
afterAll(async () => {
  await gw?.close();
});

/** A raw v5 connection past CONNACK. */
async function rawV5(properties: Record<string, unknown> = {}): Promise<RawClient> {
  const c = await RawClient.open(gw.ports.mqtt, 5);
  c.send({ cmd: 'connect', clientId: uniqueId('raw'), protocolVersion: 5, clean: true, keepalive: 30, properties });
  expect((await c.next('connack')).reasonCode).toBe(0);
  return c;
}

describe('server topic aliases (v5)', () => {
  it('a client allowing aliases gets each topic once in full with an alias, then the alias alone; no more than min(its maximum, mqtt.topicAliasMaximum) [MQTT-5:3.3.2-12]', async () => {
    const root = uniqueId('alias');
    // The client allows 5; the server is configured for 2.
    const sub = await rawV5({ topicAliasMaximum: 5 });
    sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `${root}/#`, qos: 1 }] });
    await sub.next('suback');
    const pub = await connectClient(url(), { protocolVersion: 5 });
    const sends: [string, number][] = [['t1', 0], ['t1', 1], ['t2', 0], ['t1', 0], ['t3', 1], ['t2', 1], ['t3', 0]];
    for (const [t, qos] of sends) await pub.client.publishAsync(`${root}/${t}`, `${t}`, { qos: qos as 0 | 1 });
    const got = await eventually(() => {
      const ps = sub.packets.filter((p): p is mqtt.IPublishPacket => p.cmd === 'publish');
      return ps.length >= sends.length && ps;
    });
    for (const p of got) if (p.qos > 0) sub.send({ cmd: 'puback', messageId: p.messageId!, reasonCode: 0 });
    expect(got.map((p) => [p.topic, p.properties?.topicAlias, String(p.payload)])).toEqual([
      [`${root}/t1`, 1, 't1'],
      ['', 1, 't1'],
      [`${root}/t2`, 2, 't2'],
      ['', 1, 't1'],
      [`${root}/t3`, undefined, 't3'], // the server's 2 aliases are taken: full topic, no alias
      ['', 2, 't2'],
      [`${root}/t3`, undefined, 't3'],
    ]);
    sub.destroy();
    await pub.end();
  });

  it('MQTT.js with topicAliasMaximum resolves them to the topics; a client that allows none (or 3.1.1) gets full topics only', async () => {
    const root = uniqueId('alias-js');
    const withAliases = await connectClient(url(), { protocolVersion: 5, properties: { topicAliasMaximum: 10 } });
    const raw = await rawV5();
    await withAliases.client.subscribeAsync(`${root}/#`, { qos: 0 });
    raw.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `${root}/#`, qos: 0 }] });
    await raw.next('suback');
    const pub = await connectClient(url(), { protocolVersion: 5 });
    for (const t of ['a', 'b', 'a', 'a', 'b']) await pub.client.publishAsync(`${root}/${t}`, t, { qos: 0 });
    const got = await withAliases.waitFor(5);
    expect(got.map((m) => m.topic)).toEqual(['a', 'b', 'a', 'a', 'b'].map((t) => `${root}/${t}`));
    const plain = await eventually(() => {
      const ps = raw.packets.filter((p): p is mqtt.IPublishPacket => p.cmd === 'publish');
      return ps.length >= 5 && ps;
    });
    expect(plain.map((p) => [p.topic, p.properties?.topicAlias])).toEqual(['a', 'b', 'a', 'a', 'b'].map((t) => [`${root}/${t}`, undefined]));
    raw.destroy();
    await withAliases.end();
    await pub.end();
  });
});

describe('mqtt.topicAliasMaximum: 0 switches aliases off both ways', () => {
  let off: TestGateway;
  beforeAll(async () => {
    off = await startTestGateway({ backend: 'embedded', config: { mqtt: { defaultTopic: uniqueTopic('mqtt5-noalias'), topicAliasMaximum: 0 } } });
  });
  afterAll(async () => {
    await off?.close();
  });

  it('CONNACK Topic Alias Maximum 0; no alias outbound although the client allows them; an inbound alias is DISCONNECT 0x94 [MQTT-5:3.3.2-9]', async () => {
    const root = uniqueId('noalias');
    const sub = await RawClient.open(off.ports.mqtt, 5);
    sub.send({ cmd: 'connect', clientId: uniqueId('na'), protocolVersion: 5, clean: true, keepalive: 30, properties: { topicAliasMaximum: 5 } });
    expect((await sub.next('connack')).properties?.topicAliasMaximum).toBe(0);
    sub.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `${root}/#`, qos: 0 }] });
    await sub.next('suback');
    const pub = await RawClient.open(off.ports.mqtt, 5);
    pub.send({ cmd: 'connect', clientId: uniqueId('nap'), protocolVersion: 5, clean: true, keepalive: 30 });
    await pub.next('connack');
    for (let i = 0; i < 2; i++) pub.send({ cmd: 'publish', topic: `${root}/t`, payload: Buffer.from(`m${i}`), qos: 0, dup: false, retain: false });
    const got = await eventually(() => {
      const ps = sub.packets.filter((p): p is mqtt.IPublishPacket => p.cmd === 'publish');
      return ps.length >= 2 && ps;
    });
    expect(got.map((p) => [p.topic, p.properties?.topicAlias])).toEqual([
      [`${root}/t`, undefined],
      [`${root}/t`, undefined],
    ]);
    pub.send({ cmd: 'publish', topic: `${root}/t`, payload: Buffer.from('aliased'), qos: 0, dup: false, retain: false, properties: { topicAlias: 1 } });
    expect((await pub.next('disconnect')).reasonCode).toBe(0x94);
    sub.destroy();
  });
});

describe('overlapping subscriptions: one PUBLISH per message', () => {
  for (const version of [5, 4] as const) {
    it(`v${version === 5 ? '5' : '3.1.1'}: a message matching two subscriptions arrives once, at the higher QoS${version === 5 ? ', with both Subscription Identifiers [MQTT-5:3.3.4-2] [MQTT-5:3.3.4-4]' : ' [MQTT-3.1.1:3.3.5-1]'}`, async () => {
      const root = uniqueId(`overlap${version}`);
      const c = await connectClient(url(), { protocolVersion: version });
      const id = (n: number) => (version === 5 ? { properties: { subscriptionIdentifier: n } } : {});
      await c.client.subscribeAsync(`${root}/x/#`, { qos: 0, ...id(1) });
      await c.client.subscribeAsync(`${root}/+`, { qos: 1, ...id(2) });
      const pub = await connectClient(url(), { protocolVersion: 5 });
      for (let i = 0; i < 3; i++) await pub.client.publishAsync(`${root}/x`, `both-${i}`, { qos: 1 });
      await c.client.subscribeAsync(`${root}/m`, { qos: 0, ...id(3) });
      await pub.client.publishAsync(`${root}/m`, 'm', { qos: 1 }); // matches `+` and `m`
      // A marker for each subscription alone: once all arrived, every reader is past the messages above
      // (one partition: each reader sees the records in the same order).
      await pub.client.publishAsync(`${root}/x/deep`, 'only-x/#', { qos: 1 });
      await pub.client.publishAsync(`${root}/y`, 'only-+', { qos: 1 });
      await pub.client.publishAsync(`${root}/m`, 'm-last', { qos: 1 });
      await eventually(() => ['only-x/#', 'only-+', 'm-last'].every((p) => c.received.some((m) => m.payload === p)));
      const both = c.received.filter((m) => m.payload.startsWith('both-'));
      expect(both.map((m) => m.payload)).toEqual(['both-0', 'both-1', 'both-2']);
      expect(both.every((m) => m.packet.qos === 1)).toBe(true);
      expect(c.received.filter((m) => m.payload === 'm')).toHaveLength(1);
      expect(c.received.filter((m) => m.payload === 'm-last')).toHaveLength(1);
      if (version === 5) {
        const ids = (p: mqtt.IPublishPacket) => [p.properties?.subscriptionIdentifier ?? []].flat().sort();
        expect(both.map((m) => ids(m.packet))).toEqual([[1, 2], [1, 2], [1, 2]]);
        expect(ids(c.received.find((m) => m.payload === 'm')!.packet)).toEqual([2, 3]);
        expect(ids(c.received.find((m) => m.payload === 'only-x/#')!.packet)).toEqual([1]);
        expect(ids(c.received.find((m) => m.payload === 'only-+')!.packet)).toEqual([2]);
      }
      await c.end();
      await pub.end();
    });
  }
});

describe("the client's Maximum Packet Size", () => {
  it('a message over it is not sent and does not stall the session (QoS 1 with Receive Maximum 1) [MQTT-5:3.1.2-24] [MQTT-5:3.1.2-25]', async () => {
    const root = uniqueId('maxpkt');
    const c = await connectClient(url(), { protocolVersion: 5, properties: { maximumPacketSize: 256, receiveMaximum: 1 } });
    await c.client.subscribeAsync(`${root}/#`, { qos: 1 });
    const pub = await connectClient(url(), { protocolVersion: 5 });
    await pub.client.publishAsync(`${root}/big`, 'x'.repeat(1000), { qos: 1 });
    await pub.client.publishAsync(`${root}/small`, 'small-1', { qos: 1 });
    await pub.client.publishAsync(`${root}/small`, 'small-2', { qos: 1 });
    const got = await c.waitFor(2);
    expect(got.map((m) => m.payload)).toEqual(['small-1', 'small-2']);
    await c.end();
    await pub.end();
  });

  it('acknowledgements lose their Reason String when it would exceed it: DISCONNECT, CONNACK [MQTT-5:3.2.2-19] (MQTT-5 §3.14.2.2.3)', async () => {
    // A protocol error (DUP on QoS 0) answered with DISCONNECT 0x82: with a reason string normally…
    const dupQos0 = { cmd: 'publish', topic: 'x', payload: Buffer.from('x'), qos: 0, dup: true, retain: false } as const;
    const roomy = await rawV5();
    roomy.send(dupQos0);
    expect((await roomy.next('disconnect')).properties?.reasonString).toMatch(/DUP/);
    // …and without one for a client whose Maximum Packet Size it would exceed.
    const tight = await rawV5({ maximumPacketSize: 30 });
    tight.send(dupQos0);
    const d = await tight.next('disconnect');
    expect(d.reasonCode).toBe(0x82);
    expect(d.properties?.reasonString).toBeUndefined();
    // A refused CONNECT (a credential nobody issued) the same way.
    const refused = async (properties: Record<string, unknown>) => {
      const c = await RawClient.open(gw.ports.mqtt, 5);
      c.send({ cmd: 'connect', clientId: uniqueId('mp'), protocolVersion: 5, clean: true, keepalive: 30, username: 'u', password: Buffer.from('nobody-issued-this'), properties });
      const ack = await c.next('connack');
      c.destroy();
      return ack;
    };
    expect((await refused({})).properties?.reasonString).toBeDefined();
    const small = await refused({ maximumPacketSize: 8 });
    expect(small.reasonCode).toBe(0x86);
    expect(small.properties?.reasonString).toBeUndefined();
  });
});

describe('enhanced authentication (AUTH, v5)', () => {
  it('is not supported: a CONNECT with an Authentication Method gets CONNACK 0x8C; an AUTH packet after a plain CONNECT is DISCONNECT 0x82 [MQTT-5:4.12.0-1] [MQTT-5:4.12.0-7]', async () => {
    const c = await RawClient.open(gw.ports.mqtt, 5);
    c.send({ cmd: 'connect', clientId: uniqueId('scram'), protocolVersion: 5, clean: true, keepalive: 30, properties: { authenticationMethod: 'SCRAM-SHA-256', authenticationData: Buffer.from('n,,n=user,r=abc') } });
    expect((await c.next('connack')).reasonCode).toBe(0x8c);
    await c.waitClosed();
    const d = await rawV5();
    d.send({ cmd: 'auth', reasonCode: 0x18, properties: { authenticationMethod: 'SCRAM-SHA-256' } });
    expect((await d.next('disconnect')).reasonCode).toBe(0x82);
    await d.waitClosed();
  });
});

describe('retained changes a client made, then its SUBSCRIBE on the same connection', () => {
  for (const version of [5, 4] as const) {
    it(`v${version === 5 ? '5' : '3.1.1'}: a replaced retained message is seen new, a cleared one not at all [MQTT-5:3.3.1-5] [MQTT-5:3.3.1-7] [MQTT-3.1.1:3.3.1-5] [MQTT-3.1.1:3.3.1-10]`, async () => {
      const pub = await connectClient(url(), { protocolVersion: 5 });
      for (let i = 0; i < 5; i++) {
        const c = await connectClient(url(), { protocolVersion: version });
        const replaced = `${uniqueId('rr')}/replaced`;
        const cleared = `${uniqueId('rr')}/cleared`;
        await c.client.publishAsync(replaced, 'old', { qos: 1, retain: true });
        await c.client.publishAsync(cleared, 'old', { qos: 1, retain: true });
        // QoS 0 (nothing to wait for), then SUBSCRIBE at once in the same TCP stream.
        c.client.publish(replaced, 'new', { qos: 0, retain: true });
        c.client.publish(cleared, '', { qos: 0, retain: true });
        await c.client.subscribeAsync([replaced, cleared], { qos: 0 });
        await pub.client.publishAsync(cleared, 'live', { qos: 0 });
        await eventually(() => c.received.some((m) => m.payload === 'live'));
        await eventually(() => c.received.some((m) => m.topic === replaced));
        expect(c.received.map((m) => [m.topic, m.payload])).toEqual(expect.arrayContaining([[replaced, 'new']]));
        expect(c.received.filter((m) => m.payload === 'old')).toEqual([]);
        await c.end();
      }
      await pub.end();
    });
  }
});

describe('mqtt.clientIdPattern and server-assigned ids', () => {
  const SECRET = 'mqtt5-features-secret-0123456789abcdef';
  let auth: TestGateway;
  beforeAll(async () => {
    auth = await startTestGateway({ backend: 'embedded', config: { auth: { jwt: { hs256Secret: SECRET } }, mqtt: { defaultTopic: uniqueTopic('mqtt5-pattern'), clientIdPattern: '{sub}-*' } } });
  });
  afterAll(async () => {
    await auth?.close();
  });

  it('a 3.1.1 client with an empty client id (clean session) is accepted like v5: the generated id is exempt; a wrong id is still refused (5)', async () => {
    const password = await new SignJWT({ topics: { read: [{ mqtt: '#' }], write: [{ mqtt: '#' }] } })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('alice')
      .setExpirationTime('10m')
      .sign(new TextEncoder().encode(SECRET));
    const u = `mqtt://127.0.0.1:${auth.ports.mqtt}`;
    const v311 = await mqtt.connectAsync(u, { protocolVersion: 4, clientId: '', clean: true, username: 'alice', password, reconnectPeriod: 0 });
    await v311.endAsync();
    const wrong = await mqtt.connectAsync(u, { protocolVersion: 4, clientId: 'bob-1', username: 'alice', password, reconnectPeriod: 0 }).catch((e: { code?: number }) => e);
    expect((wrong as { code?: number }).code).toBe(5);
  });
});
