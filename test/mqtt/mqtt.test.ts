/**
 * MQTT adapter against the real Kafka broker: MQTT.js (3.1.1 and 5.0 over TCP) and the core from
 * the other side (gateway.produce / gateway.fetch, the calls REST uses). MQTT over WebSocket is
 * websocket.test.ts, which also runs on the uWebSockets.js engine.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headerValue } from '../../gateway/record.js';
import { createContext } from '../../gateway/context.js';
import type { StreamRecord } from '../../gateway/record.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';
import { connectClient, RawClient } from './helpers.js';

let gw: TestGateway;
let url: string;
let defaultTopic: string;
let routedTopic: string;
/** Kafka topic of the `fresh-share/#` route: nothing writes it before the $share test subscribes. */
let freshShareTopic: string;

async function readAll(g: TestGateway, topic: string): Promise<StreamRecord[]> {
  const ctx = createContext({ protocol: 'test', log: g.core.log });
  const res = await g.core.fetch(ctx, topic, 0, 0n, { maxRecords: 1000 });
  return res.records;
}

beforeAll(async () => {
  defaultTopic = uniqueTopic('mqtt');
  routedTopic = uniqueTopic('sensors');
  freshShareTopic = uniqueTopic('fresh-share');
  gw = await startTestGateway({
    config: {
      mqtt: {
        defaultTopic,
        routes: [
          { filter: 'sensors/#', topic: routedTopic },
          { filter: 'fresh-share/#', topic: freshShareTopic },
        ],
        sessionFlushMs: 100,
      },
      topics: { waitPollMs: 200 },
    },
  });
  url = `mqtt://127.0.0.1:${gw.ports.mqtt}`;
});

afterAll(async () => {
  await gw?.close();
});

describe('publish → record', () => {
  it('QoS 1 (v5) is acknowledged after the write; the record has key = MQTT topic and the properties as headers', async () => {
    const c = await connectClient(url, { protocolVersion: 5, clientId: uniqueId('pub') });
    const topic = `dev/${uniqueId('t')}/temp`;
    await c.client.publishAsync(topic, '21.5', {
      qos: 1,
      properties: { contentType: 'text/plain', userProperties: { unit: 'C' }, correlationData: Buffer.from('c1'), responseTopic: 'reply/x' },
    });
    // Acked means written: the record is readable right away at a definite offset.
    const rec = (await readAll(gw, defaultTopic)).find((r) => r.key?.toString() === topic);
    expect(rec).toBeDefined();
    expect(rec!.value?.toString()).toBe('21.5');
    expect(headerValue(rec!.headers, 'mqtt.qos')?.toString()).toBe('1');
    expect(headerValue(rec!.headers, 'mqtt.content-type')?.toString()).toBe('text/plain');
    expect(headerValue(rec!.headers, 'mqtt.up.unit')?.toString()).toBe('C');
    expect(headerValue(rec!.headers, 'mqtt.correlation-data')?.toString()).toBe('c1');
    expect(headerValue(rec!.headers, 'mqtt.response-topic')?.toString()).toBe('reply/x');
    await c.end();
  });

  it('routes MQTT topics to Kafka topics by the first matching filter', async () => {
    const c = await connectClient(url, { protocolVersion: 4, clientId: uniqueId('pub') });
    const topic = `sensors/${uniqueId('s')}/hum`;
    await c.client.publishAsync(topic, '40', { qos: 1 });
    const recs = await readAll(gw, routedTopic);
    expect(recs.map((r) => r.key?.toString())).toContain(topic);
    await c.end();
  });

  it('QoS 2 writes exactly one record even when the PUBLISH is resent with DUP before PUBREL', async () => {
    const raw = await RawClient.open(gw.ports.mqtt, 5);
    raw.send({ cmd: 'connect', clientId: uniqueId('q2'), protocolVersion: 5, clean: true, keepalive: 30 });
    await raw.next('connack');
    const topic = `q2/${uniqueId('t')}`;
    const publish = { cmd: 'publish' as const, topic, payload: Buffer.from('once'), qos: 2 as const, retain: false, dup: false, messageId: 7 };
    raw.send(publish);
    const rec = await raw.next('pubrec');
    expect(rec.messageId).toBe(7);
    raw.send({ ...publish, dup: true }); // resent before PUBREL: must not be written again [MQTT-5:4.3.3-10]
    await eventually(() => raw.packets.filter((p) => p.cmd === 'pubrec').length === 2);
    raw.send({ cmd: 'pubrel', messageId: 7 });
    const comp = await raw.next('pubcomp');
    expect(comp.messageId).toBe(7);
    const recs = (await readAll(gw, defaultTopic)).filter((r) => r.key?.toString() === topic);
    expect(recs).toHaveLength(1);
    // The same packet id after PUBCOMP is a new message.
    raw.send({ ...publish, payload: Buffer.from('twice') });
    await eventually(() => raw.packets.filter((p) => p.cmd === 'pubrec').length === 3);
    expect((await readAll(gw, defaultTopic)).filter((r) => r.key?.toString() === topic)).toHaveLength(2);
    raw.destroy();
  });
});

describe('record → subscriber', () => {
  it('a record produced through the core (the REST path) reaches a wildcard subscriber with its headers', async () => {
    const sub = await connectClient(url, { protocolVersion: 5, clientId: uniqueId('sub') });
    const base = uniqueId('rest');
    await sub.client.subscribeAsync(`${base}/+/state`, { qos: 1 });
    const ctx = createContext({ protocol: 'rest', log: gw.core.log });
    await gw.core.produce(ctx, defaultTopic, [{ key: Buffer.from(`${base}/lamp/state`), value: Buffer.from('on'), headers: [{ name: 'trace', value: Buffer.from('t-1') }] }]);
    await gw.core.produce(ctx, defaultTopic, [{ key: Buffer.from(`${base}/lamp/other`), value: Buffer.from('no') }]);
    const [m] = await sub.waitFor(1);
    expect(m!.topic).toBe(`${base}/lamp/state`);
    expect(m!.payload).toBe('on');
    expect(m!.packet.qos).toBe(1); // records from other protocols are QoS 1 (foreignRecordQos)
    expect(m!.packet.properties?.userProperties).toEqual({ trace: 't-1' });
    await sub.end();
    expect(sub.received).toHaveLength(1);
  });

  it('MQTT 3.1.1 and 5 clients exchange QoS 0/1/2 messages; a subscription waits for a Kafka topic that does not exist yet', async () => {
    const freshTopicBase = `sensors/${uniqueId('new')}`;
    const sub = await connectClient(url, { protocolVersion: 4, clientId: uniqueId('sub') });
    await sub.client.subscribeAsync(`${freshTopicBase}/#`, { qos: 2 });
    const pub = await connectClient(url, { protocolVersion: 5, clientId: uniqueId('pub') });
    for (const qos of [0, 1, 2] as const) await pub.client.publishAsync(`${freshTopicBase}/q${qos}`, `m${qos}`, { qos });
    const got = await sub.waitFor(3);
    expect(got.map((m) => [m.topic, m.payload, m.packet.qos])).toEqual([
      [`${freshTopicBase}/q0`, 'm0', 0],
      [`${freshTopicBase}/q1`, 'm1', 1],
      [`${freshTopicBase}/q2`, 'm2', 2],
    ]);
    await Promise.all([sub.end(), pub.end()]);
  });

  it('v5: No Local, subscription identifiers and topic aliases', async () => {
    const c = await connectClient(url, { protocolVersion: 5, clientId: uniqueId('nl') });
    const topic = `nl/${uniqueId('t')}`;
    await c.client.subscribeAsync(topic, { qos: 1, nl: true });
    await c.client.subscribeAsync(`${topic}/#`, { qos: 1, properties: { subscriptionIdentifier: 42 } });
    await c.client.publishAsync(topic, 'own', { qos: 1 }); // matches both: No Local suppresses one copy
    await c.client.publishAsync(topic, 'aliased', { qos: 1, properties: { topicAlias: 3 } });
    await c.client.publishAsync('', 'by-alias', { qos: 1, properties: { topicAlias: 3 } });
    const got = await c.waitFor(3);
    expect(got.map((m) => [m.topic, m.payload, m.packet.properties?.subscriptionIdentifier])).toEqual([
      [topic, 'own', 42],
      [topic, 'aliased', 42],
      [topic, 'by-alias', 42],
    ]);
    await c.end();
  });
});

describe('retained and will messages', () => {
  it('a retained message is sent on subscribe with the retain flag; an empty payload deletes it', async () => {
    const topic = `ret/${uniqueId('t')}`;
    const pub = await connectClient(url, { protocolVersion: 5, clientId: uniqueId('pub') });
    await pub.client.publishAsync(topic, 'last-known', { qos: 1, retain: true });
    const a = await connectClient(url, { protocolVersion: 4, clientId: uniqueId('a') });
    await a.client.subscribeAsync(`ret/#`, { qos: 1 });
    const got = await eventually(() => a.received.find((m) => m.topic === topic));
    expect(got.payload).toBe('last-known');
    expect(got.packet.retain).toBe(true);
    await pub.client.publishAsync(topic, '', { qos: 1, retain: true });
    const b = await connectClient(url, { protocolVersion: 5, clientId: uniqueId('b') });
    await b.client.subscribeAsync(topic, { qos: 1 });
    await pub.client.publishAsync(topic, 'live', { qos: 1 });
    const [first] = await b.waitFor(1);
    expect(first!.payload).toBe('live'); // no retained message any more
    expect(first!.packet.retain).toBe(false);
    await Promise.all([pub.end(), a.end(), b.end()]);
  });

  it('the will is published when a client drops without DISCONNECT, not after a normal one', async () => {
    const topic = `will/${uniqueId('t')}`;
    const watcher = await connectClient(url, { protocolVersion: 5, clientId: uniqueId('w') });
    await watcher.client.subscribeAsync(topic, { qos: 1 });
    const polite = await connectClient(url, { protocolVersion: 4, clientId: uniqueId('p'), will: { topic, payload: Buffer.from('polite-gone'), qos: 1, retain: false } });
    await polite.end();
    const rude = await connectClient(url, { protocolVersion: 5, clientId: uniqueId('r'), will: { topic, payload: Buffer.from('rude-gone'), qos: 1, retain: false } });
    rude.client.stream.destroy();
    const [m] = await watcher.waitFor(1);
    expect(m!.payload).toBe('rude-gone');
    await rude.end(true);
    await watcher.end();
    expect(watcher.received.map((r) => r.payload)).toEqual(['rude-gone']);
  });
});

describe('persistent sessions', () => {
  it('a v5 session with expiry gets what it missed while offline, with session present', async () => {
    const clientId = uniqueId('persist');
    const topic = `p/${uniqueId('t')}`;
    const opts = { protocolVersion: 5 as const, clientId, clean: false, properties: { sessionExpiryInterval: 300 } };
    const first = await connectClient(url, opts);
    await first.client.subscribeAsync(topic, { qos: 1 });
    await first.end();
    const pub = await connectClient(url, { protocolVersion: 4, clientId: uniqueId('pub') });
    for (let i = 0; i < 5; i++) await pub.client.publishAsync(topic, `m${i}`, { qos: 1 });
    await pub.end();
    const again = await connectClient(url, opts);
    const got = await again.waitFor(5);
    expect(got.map((m) => m.payload)).toEqual(['m0', 'm1', 'm2', 'm3', 'm4']);
    await again.end();
  });

  it('survives a gateway restart (3.1.1 clean session = false)', async () => {
    const topicName = uniqueTopic('mqtt-restart');
    const config = { mqtt: { defaultTopic: topicName, sessionFlushMs: 100 } };
    let g = await startTestGateway({ config });
    const clientId = uniqueId('restart');
    const topic = `r/${uniqueId('t')}`;
    const opts = { protocolVersion: 4 as const, clientId, clean: false };
    try {
      const c1 = await connectClient(`mqtt://127.0.0.1:${g.ports.mqtt}`, opts);
      await c1.client.subscribeAsync(topic, { qos: 1 });
      const pub = await connectClient(`mqtt://127.0.0.1:${g.ports.mqtt}`, { clientId: uniqueId('pub') });
      await pub.client.publishAsync(topic, 'before', { qos: 1 });
      await c1.waitFor(1);
      await c1.end();
      await pub.client.publishAsync(topic, 'offline-1', { qos: 1 });
      await pub.end();
      await g.close();
      g = await startTestGateway({ config });
      const pub2 = await connectClient(`mqtt://127.0.0.1:${g.ports.mqtt}`, { clientId: uniqueId('pub') });
      await pub2.client.publishAsync(topic, 'offline-2', { qos: 1 });
      await pub2.end();
      const c2 = await connectClient(`mqtt://127.0.0.1:${g.ports.mqtt}`, opts);
      const got = await c2.waitFor(2);
      expect(got.map((m) => m.payload)).toEqual(['offline-1', 'offline-2']);
      await c2.end();
    } finally {
      await g.close();
    }
  });
});

describe('shared subscriptions and takeover', () => {
  it('$share/group/filter splits messages between two clients, each message once', async () => {
    const topicName = uniqueTopic('mqtt-share');
    const g = await startTestGateway({ config: { mqtt: { defaultTopic: topicName }, topics: { defaultPartitions: 4 } } });
    try {
      const u = `mqtt://127.0.0.1:${g.ports.mqtt}`;
      const pub = await connectClient(u, { protocolVersion: 5, clientId: uniqueId('pub') });
      await pub.client.publishAsync('share/seed', 'seed', { qos: 1 }); // creates the 4-partition topic
      const group = uniqueId('g');
      const a = await connectClient(u, { protocolVersion: 5, clientId: uniqueId('a') });
      const b = await connectClient(u, { protocolVersion: 5, clientId: uniqueId('b') });
      await a.client.subscribeAsync(`$share/${group}/share/#`, { qos: 1 });
      await b.client.subscribeAsync(`$share/${group}/share/#`, { qos: 1 });
      await eventually(async () => {
        // Publish until both members hold partitions and deliver (rebalance takes a moment).
        await pub.client.publishAsync(`share/k${Math.random()}`, 'x', { qos: 1 });
        return a.received.length > 0 && b.received.length > 0;
      }, { timeoutMs: 20_000, intervalMs: 100 });
      const n = 40;
      for (let i = 0; i < n; i++) await pub.client.publishAsync(`share/d${i}`, `d${i}`, { qos: 1 });
      await eventually(() => a.received.filter((m) => m.payload.startsWith('d')).length + b.received.filter((m) => m.payload.startsWith('d')).length >= n, { timeoutMs: 15_000 });
      const all = [...a.received, ...b.received].map((m) => m.payload).filter((p) => p.startsWith('d'));
      expect(new Set(all).size).toBe(n);
      expect(all).toHaveLength(n);
      await Promise.all([a.end(), b.end(), pub.end()]);
    } finally {
      await g.close();
    }
  });

  it('$share subscription before its Kafka topic exists receives everything published after the SUBSCRIBE', async () => {
    const a = await connectClient(url, { protocolVersion: 5, clientId: uniqueId('a') });
    await a.client.subscribeAsync(`$share/${uniqueId('g')}/fresh-share/#`, { qos: 1 });
    const pub = await connectClient(url, { protocolVersion: 4, clientId: uniqueId('pub') });
    // The first PUBLISH creates the Kafka topic; the waiting group member then reads it from its start.
    for (let i = 0; i < 5; i++) await pub.client.publishAsync(`fresh-share/s${i}`, `s${i}`, { qos: 1 });
    const got = await a.waitFor(5);
    expect(got.map((m) => [m.topic, m.payload])).toEqual(Array.from({ length: 5 }, (_, i) => [`fresh-share/s${i}`, `s${i}`]));
    await Promise.all([a.end(), pub.end()]);
    expect(a.received).toHaveLength(5);
  });

  it('a second connection with the same client id takes over (v5 DISCONNECT 0x8E)', async () => {
    const clientId = uniqueId('dup');
    const first = await RawClient.open(gw.ports.mqtt, 5);
    first.send({ cmd: 'connect', clientId, protocolVersion: 5, clean: true, keepalive: 30 });
    await first.next('connack');
    const second = await connectClient(url, { protocolVersion: 5, clientId });
    const d = await first.next('disconnect');
    expect(d.reasonCode).toBe(0x8e);
    await first.waitClosed();
    expect(second.client.connected).toBe(true);
    await second.end();
  });
});

describe('protocol limits and bad input', () => {
  // Keepalive (DISCONNECT 0x8D after 1.5 × the keepalive, not earlier) is checked with fake timers
  // in the unit tier: adapters/mqtt/client.test.ts and connection.test.ts.

  it('first packet not CONNECT → closed; unsupported version → CONNACK 1', async () => {
    const a = await RawClient.open(gw.ports.mqtt, 4);
    a.send({ cmd: 'pingreq' }, 4);
    await a.waitClosed();
    expect(a.packets).toHaveLength(0);
    const b = await RawClient.open(gw.ports.mqtt, 4);
    // CONNECT with protocol level 6.
    b.write(Buffer.from([0x10, 0x0d, 0x00, 0x04, 0x4d, 0x51, 0x54, 0x54, 0x06, 0x02, 0x00, 0x1e, 0x00, 0x01, 0x78]));
    const ack = await b.next('connack');
    expect(ack.returnCode).toBe(1);
    await b.waitClosed();
  });

  it('v5: wildcard topic → DISCONNECT 0x90; oversized packet → 0x95; invalid filter → SUBACK 0x8F (3.1.1: 0x80)', async () => {
    const a = await RawClient.open(gw.ports.mqtt, 5);
    a.send({ cmd: 'connect', clientId: uniqueId('bad'), protocolVersion: 5, clean: true, keepalive: 30 });
    const ack = await a.next('connack');
    expect(ack.properties?.maximumPacketSize).toBe(1024 * 1024);
    a.send({ cmd: 'publish', topic: 'a/+', payload: Buffer.from('x'), qos: 0, retain: false, dup: false });
    expect((await a.next('disconnect')).reasonCode).toBe(0x90);
    await a.waitClosed();

    const b = await RawClient.open(gw.ports.mqtt, 5);
    b.send({ cmd: 'connect', clientId: uniqueId('big'), protocolVersion: 5, clean: true, keepalive: 30 });
    await b.next('connack');
    b.send({ cmd: 'publish', topic: 'big', payload: Buffer.alloc(1024 * 1024 + 10), qos: 1, messageId: 1, retain: false, dup: false });
    expect((await b.next('disconnect')).reasonCode).toBe(0x95);
    await b.waitClosed();

    const c = await RawClient.open(gw.ports.mqtt, 5);
    c.send({ cmd: 'connect', clientId: uniqueId('f'), protocolVersion: 5, clean: true, keepalive: 30 });
    await c.next('connack');
    c.send({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'a/#/b', qos: 1 }, { topic: 'ok/+', qos: 1 }] });
    expect((await c.next('suback')).granted).toEqual([0x8f, 1]);
    c.destroy();

    const d = await RawClient.open(gw.ports.mqtt, 4);
    d.send({ cmd: 'connect', clientId: uniqueId('f'), protocolVersion: 4, clean: true, keepalive: 30 }, 4);
    await d.next('connack');
    d.send({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'a+', qos: 1 }] }, 4);
    expect((await d.next('suback')).granted).toEqual([0x80]);
    d.destroy();
  });

  it('v5: exceeding the Receive Maximum → DISCONNECT 0x93', async () => {
    const g = await startTestGateway({ config: { mqtt: { receiveMaximum: 2 } } });
    try {
      const raw = await RawClient.open(g.ports.mqtt, 5);
      raw.send({ cmd: 'connect', clientId: uniqueId('rm'), protocolVersion: 5, clean: true, keepalive: 30 });
      expect((await raw.next('connack')).properties?.receiveMaximum).toBe(2);
      // QoS 2 flows hold their slot until PUBCOMP; never sending PUBREL keeps them open.
      for (let i = 1; i <= 3; i++) raw.send({ cmd: 'publish', topic: `rm/${i}`, payload: Buffer.from('x'), qos: 2, messageId: i, retain: false, dup: false });
      expect((await raw.next('disconnect')).reasonCode).toBe(0x93);
      await raw.waitClosed();
    } finally {
      await g.close();
    }
  });
});
