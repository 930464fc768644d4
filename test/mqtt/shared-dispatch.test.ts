/**
 * MQTT shared subscriptions spread messages over the members (issue 17): per message, least loaded
 * then round robin, within each member's window; QoS 1 held by a member that goes away goes to the
 * others at once; QoS 2 stays with its session [MQTT-5:4.8.2-4] [MQTT-5:4.8.2-5]. MQTT.js and raw
 * mqtt-packet frames, 3.1.1 and 5.0, on the embedded log and on Kafka, and across two instances.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Packet } from 'mqtt-packet';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';
import { connectClient, RawClient, type TestClient } from './helpers.js';

const FAST_GROUPS = { heartbeatMs: 200, sessionTimeoutMs: 1500, autoCommitIntervalMs: 100 };

/** The core group a `$share/<share>/<filter>` subscription joins (adapters/mqtt/README.md). */
const groupOf = (share: string, filter: string) => `mqtt-share/${share}/${createHash('sha256').update(filter).digest('hex').slice(0, 12)}`;

type Publish = Extract<Packet, { cmd: 'publish' }>;
const publishes = (c: RawClient): Publish[] => c.packets.filter((p): p is Publish => p.cmd === 'publish');
const payloads = (c: TestClient) => c.received.map((m) => m.payload);
const range = (n: number, prefix = 'm') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/** A raw client that subscribes and then never acknowledges anything. */
async function silentMember(port: number, version: 4 | 5, filter: string, qos: 1 | 2, connect: Record<string, unknown> = {}): Promise<RawClient> {
  const c = await RawClient.open(port, version);
  c.send({ cmd: 'connect', clientId: uniqueId('silent'), protocolVersion: version, clean: true, keepalive: 60, ...connect } as Packet, version);
  await c.next('connack');
  c.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos }] } as Packet, version);
  const suback = await c.next('suback');
  expect(suback.granted).toEqual([qos]);
  return c;
}

describe.each(['embedded', 'kafka'] as const)('MQTT shared subscriptions dispatch per message (%s)', (backend) => {
  let gw: TestGateway;
  let url: string;
  let pub: TestClient;

  beforeAll(async () => {
    gw = await startTestGateway({ backend, config: { mqtt: { defaultTopic: uniqueTopic('mqtt-share') }, groups: FAST_GROUPS } });
    url = `mqtt://127.0.0.1:${gw.ports.mqtt}`;
    pub = await connectClient(url, { protocolVersion: 5, clientId: uniqueId('pub') });
    await pub.client.publishAsync('seed/topic', 'seed', { qos: 1 }); // creates the Kafka topic
  });

  afterAll(async () => {
    await pub?.end();
    await gw?.close();
  });

  const publish = async (topic: string, messages: readonly string[], qos: 0 | 1 | 2 = 1) => {
    for (const m of messages) await pub.client.publishAsync(topic, m, { qos });
  };

  for (const { version, qos } of [
    { version: 4, qos: 1 },
    { version: 5, qos: 1 },
    { version: 5, qos: 0 },
  ] as const) {
    it(`v${version === 4 ? '3.1.1' : '5'} QoS ${qos}: 10 messages on one topic reach both members, each message once`, async () => {
      const topic = `one/${uniqueId('t')}`;
      const share = uniqueId('s');
      const a = await connectClient(url, { protocolVersion: version, clientId: uniqueId('a') });
      const b = await connectClient(url, { protocolVersion: version, clientId: uniqueId('b') });
      await a.client.subscribeAsync(`$share/${share}/${topic}`, { qos });
      await b.client.subscribeAsync(`$share/${share}/${topic}`, { qos });
      await publish(topic, range(10), qos);
      await eventually(() => a.received.length + b.received.length >= 10, { what: '10 messages' });
      expect(a.received.length).toBeGreaterThan(0);
      expect(b.received.length).toBeGreaterThan(0);
      expect([...payloads(a), ...payloads(b)].sort()).toEqual(range(10).sort());
      // Nothing more arrives (no duplicate after the fact): a marker published last is the next message.
      await publish(topic, ['end'], qos);
      await eventually(() => a.received.length + b.received.length >= 11, { what: 'the marker' });
      expect(a.received.length + b.received.length).toBe(11);
      await Promise.all([a.end(), b.end()]);
    });
  }

  for (const version of [4, 5] as const) {
    it(`v${version === 4 ? '3.1.1' : '5'}: a member that disconnects with unacknowledged QoS 1 messages — the other member receives them at once`, async () => {
      const topic = `gone/${uniqueId('t')}`;
      const share = uniqueId('s');
      const filter = `$share/${share}/${topic}`;
      const silent = await silentMember(gw.ports.mqtt, version, filter, 1, version === 5 ? { properties: { receiveMaximum: 4 } } : {});
      const b = await connectClient(url, { protocolVersion: version, clientId: uniqueId('b') });
      await b.client.subscribeAsync(filter, { qos: 1 });
      await publish(topic, range(10));
      await eventually(() => publishes(silent).length + b.received.length >= 10, { what: '10 messages delivered' });
      const held = publishes(silent).map((p) => p.payload.toString());
      expect(held.length).toBeGreaterThan(0);
      silent.destroy(); // no DISCONNECT, no PUBACK: the connection is just lost
      await eventually(() => b.received.length >= 10, { what: 'the lost member’s messages reach b', timeoutMs: 5000 });
      expect(payloads(b).sort()).toEqual(range(10).sort());
      expect(payloads(b).slice(-held.length).sort()).toEqual([...held].sort());
      await b.end();
    });
  }

  it('a member that never acknowledges holds at most its Receive Maximum; the other gets everything else', async () => {
    const topic = `stuck/${uniqueId('t')}`;
    const filter = `$share/${uniqueId('s')}/${topic}`;
    const silent = await silentMember(gw.ports.mqtt, 5, filter, 1, { properties: { receiveMaximum: 2 } });
    const b = await connectClient(url, { protocolVersion: 5, clientId: uniqueId('b') });
    await b.client.subscribeAsync(filter, { qos: 1 });
    await publish(topic, range(30));
    await eventually(() => b.received.length + publishes(silent).length >= 30, { what: '30 messages delivered' });
    // Least loaded first: the silent member gets a message only while it holds no more than b, and
    // never more than its window; b is never held up by it.
    expect(publishes(silent).length).toBeGreaterThan(0);
    expect(publishes(silent).length).toBeLessThanOrEqual(2);
    expect([...payloads(b), ...publishes(silent).map((p) => p.payload.toString())].sort()).toEqual(range(30).sort());
    silent.destroy();
    await b.end();
  });

  it('many members: every message once, and every member gets some', async () => {
    const topic = `many/${uniqueId('t')}`;
    const filter = `$share/${uniqueId('s')}/${topic}`;
    const members = await Promise.all(Array.from({ length: 12 }, (_, i) => connectClient(url, { protocolVersion: i % 2 === 0 ? 5 : 4, clientId: uniqueId(`m${i}`) })));
    for (const m of members) await m.client.subscribeAsync(filter, { qos: 1 });
    await publish(topic, range(60));
    await eventually(() => members.reduce((n, m) => n + m.received.length, 0) >= 60, { what: '60 messages' });
    expect(members.flatMap(payloads).sort()).toEqual(range(60).sort());
    for (const m of members) expect(m.received.length).toBeGreaterThan(0);
    await Promise.all(members.map((m) => m.end()));
  });

  it('share names with odd characters work; malformed ones are refused (0x8F / 0x80)', async () => {
    const topic = `odd/${uniqueId('t')}`;
    const share = `ĝrøüp.~!@$%^&*()=:;'"<>,?|\\${uniqueId('')}`;
    const a = await connectClient(url, { protocolVersion: 5, clientId: uniqueId('a') });
    const granted = await a.client.subscribeAsync(`$share/${share}/${topic}`, { qos: 1 });
    expect(granted.map((g) => g.qos)).toEqual([1]);
    await publish(topic, range(3));
    await a.waitFor(3);
    expect(payloads(a)).toEqual(range(3));
    await a.end();
    // MQTT.js refuses to send malformed share names: raw frames, one SUBSCRIBE each version.
    const bad = [`$share/a+b/${topic}`, `$share/#/${topic}`, `$share//${topic}`, '$share/only'];
    for (const version of [5, 4] as const) {
      const raw = await RawClient.open(gw.ports.mqtt, version);
      raw.send({ cmd: 'connect', clientId: uniqueId('raw'), protocolVersion: version, clean: true, keepalive: 60 } as Packet, version);
      await raw.next('connack');
      raw.send({ cmd: 'subscribe', messageId: 7, subscriptions: [{ topic: `$share/${share}/${topic}`, qos: 1 }, ...bad.map((t) => ({ topic: t, qos: 1 as const }))] } as Packet, version);
      const suback = await raw.next('suback');
      expect(suback.granted).toEqual([1, ...bad.map(() => (version === 5 ? 0x8f : 0x80))]);
      expect(raw.closed).toBe(false);
      raw.destroy();
    }
  });

  for (const persistent of [true, false]) {
    it(`QoS 2 held by a member whose connection breaks never goes to another member; ${persistent ? 'its persistent session completes it on reconnect [MQTT-5:4.8.2-4]' : 'a session that ended drops it [MQTT-5:4.8.2-5]'}`, async () => {
      const topic = `q2/${uniqueId('t')}`;
      const share = uniqueId('s');
      const filter = `$share/${share}/${topic}`;
      const clientId = uniqueId('q2');
      const session = persistent ? { clean: false, properties: { receiveMaximum: 1, sessionExpiryInterval: 60 } } : { properties: { receiveMaximum: 1 } };
      const silent = await silentMember(gw.ports.mqtt, 5, filter, 2, { clientId, ...session });
      const b = await connectClient(url, { protocolVersion: 5, clientId: uniqueId('b') });
      await b.client.subscribeAsync(filter, { qos: 2 });
      await publish(topic, range(6), 2);
      await eventually(() => publishes(silent).length + b.received.length >= 6, { what: '6 messages delivered' });
      const held = publishes(silent).map((p) => p.payload.toString());
      expect(held).toHaveLength(1);
      silent.destroy();
      // Once the gateway saw the connection go, only b is left in the group; a marker then reaches b.
      await eventually(() => gw.core.groups.dispatchLoads(groupOf(share, topic)).size === 1, { what: 'the broken member left' });
      await publish(topic, ['marker'], 2);
      await eventually(() => payloads(b).includes('marker'), { what: 'the marker at b' });
      expect(payloads(b)).not.toContain(held[0]);
      expect(payloads(b)).toHaveLength(6);
      if (persistent) {
        const back = await RawClient.open(gw.ports.mqtt, 5);
        back.send({ cmd: 'connect', clientId, protocolVersion: 5, clean: false, keepalive: 60, properties: { sessionExpiryInterval: 0 } } as Packet);
        expect((await back.next('connack')).sessionPresent).toBe(true);
        const again = await eventually(() => publishes(back)[0], { what: 'the held QoS 2 message resent' });
        expect(again.payload.toString()).toBe(held[0]);
        expect(again.dup).toBe(true);
        expect(again.messageId).toBe(publishes(silent)[0]!.messageId);
        back.destroy();
      }
      await b.end();
    });
  }
});

describe('MQTT shared subscriptions across two gateway instances on one Kafka', () => {
  const gateways: TestGateway[] = [];
  afterAll(async () => {
    await Promise.allSettled(gateways.map((g) => g.close()));
  });

  it('members on both instances: every message delivered once while members are stable', async () => {
    const config = { mqtt: { defaultTopic: uniqueTopic('mqtt-share-multi') }, topics: { defaultPartitions: 4 }, groups: FAST_GROUPS };
    const a = await startTestGateway({ config });
    const b = await startTestGateway({ config });
    gateways.push(a, b);
    const urlA = `mqtt://127.0.0.1:${a.ports.mqtt}`;
    const urlB = `mqtt://127.0.0.1:${b.ports.mqtt}`;
    const pub = await connectClient(urlA, { protocolVersion: 5, clientId: uniqueId('pub') });
    await pub.client.publishAsync('seed/x', 'seed', { qos: 1 }); // the 4-partition Kafka topic
    const prefix = uniqueId('multi');
    const share = uniqueId('s');
    const filter = `${prefix}/#`;
    const members = [
      await connectClient(urlA, { protocolVersion: 5, clientId: uniqueId('a1') }),
      await connectClient(urlA, { protocolVersion: 4, clientId: uniqueId('a2') }),
      await connectClient(urlB, { protocolVersion: 5, clientId: uniqueId('b1') }),
    ];
    for (const m of members) await m.client.subscribeAsync(`$share/${share}/${filter}`, { qos: 1 });
    const group = groupOf(share, filter);
    // The plan is over instances (sorted by their random ids): each owns 2 of the 4 partitions once both views converged.
    const owned = (g: TestGateway) => g.core.groups.localAssignment(group)[0]?.partitions.map((p) => p.partition).sort().join();
    const split = () => [owned(a), owned(b)].sort().join(' | ') === '0,1 | 2,3';
    await eventually(split, { what: 'two partitions per instance', timeoutMs: 15_000 }).catch((err: unknown) => {
      throw new Error(`${String(err)}; a owns ${owned(a)}, b owns ${owned(b)}`);
    });
    const messages = range(60);
    for (const [i, m] of messages.entries()) await pub.client.publishAsync(`${prefix}/k${i}`, m, { qos: 1 });
    await eventually(() => members.reduce((n, m) => n + m.received.length, 0) >= 60, { what: '60 messages', timeoutMs: 15_000 });
    expect(members.flatMap(payloads).sort()).toEqual([...messages].sort());
    // Both members on a share a's partitions message by message.
    expect(members[0]!.received.length).toBeGreaterThan(0);
    expect(members[1]!.received.length).toBeGreaterThan(0);
    expect(members[2]!.received.length).toBeGreaterThan(0);
    await Promise.all([...members, pub].map((m) => m.end()));
  });
});
