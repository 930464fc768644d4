/**
 * Several gateway processes on one Kafka: Kafka is the shared state, so data, MQTT persistent
 * sessions and retained messages written through instance A are visible through instance B.
 *
 * Not covered (a known limitation, see the operations guide): REST v2 consumer instances and
 * group membership (REST v2, gRPC group sessions, MQTT $share) are per instance — committed offsets
 * are in Kafka, but instances do not coordinate partition assignment, and a v2 consumer instance
 * exists only on the instance that created it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamRecord } from '../../clients/ts/browser/index.js';
import { connectClient, type TestClient } from '../mqtt/helpers.js';
import { kafkaBrokers } from '../support/kafka.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { killAllGateways, spawnGateway, type GatewayProcess } from '../support/process.js';
import { eventually } from '../support/wait.js';
import { browserClient, parseSeq } from './helpers.js';

const prefix = uniqueId('so');
const kafkaTopic = uniqueTopic('faults-scale');
let a: GatewayProcess;
let b: GatewayProcess;

beforeAll(async () => {
  // Both instances route this test's MQTT topics to this test's Kafka topic (unique per run).
  const env = { STREAMGATE_MQTT_ROUTES: `${prefix}/#=${kafkaTopic}`, STREAMGATE_TOPICS_DEFAULT_PARTITIONS: '3' };
  // One after the other: two instances opening the shared tables of a fresh cluster at the same
  // moment race (the loser fails its start with TOPIC_NOT_FOUND; reported to the lead).
  a = await spawnGateway({ brokers: kafkaBrokers(), env, name: 'A' });
  b = await spawnGateway({ brokers: kafkaBrokers(), env, name: 'B' });
});

afterAll(async () => {
  await killAllGateways();
});

describe('two gateway instances on one Kafka', () => {
  it('an MQTT device on A and a WebSocket client on B see each other’s data, in order, nothing missing', async () => {
    const N = 200;
    const device = await connectClient(a.mqttUrl, { protocolVersion: 5, clientId: uniqueId('dev') });
    const ws = browserClient(b.wsUrl);
    try {
      await device.client.subscribeAsync(`${prefix}/cmd/#`, { qos: 1 });
      // The device writes first: that creates the Kafka topic the browser then subscribes to.
      await device.client.publishAsync(`${prefix}/tele/0`, JSON.stringify({ src: 'mqtt', seq: 0 }), { qos: 1 });
      const seen: StreamRecord[] = [];
      const sub = ws.subscribe(kafkaTopic, { from: 'earliest', filter: `${prefix}/tele/#` }, (records) => seen.push(...records));
      await sub.subscribed();

      for (let seq = 1; seq <= N; seq++) {
        await device.client.publishAsync(`${prefix}/tele/${seq % 4}`, JSON.stringify({ src: 'mqtt', seq }), { qos: 1 });
      }
      for (let seq = 1; seq <= N; seq += 20) {
        const batch = Array.from({ length: 20 }, (_, i) => ({ key: `${prefix}/cmd/${(seq + i) % 4}`, value: { src: 'ws', seq: seq + i } }));
        await ws.publish(kafkaTopic, batch);
      }

      await eventually(() => seen.length >= N + 1, { timeoutMs: 20_000, what: `${N + 1} MQTT records on B's WebSocket` });
      const fromMqtt = seen.map((r) => (r.value as { seq: number }).seq).sort((x, y) => x - y);
      expect(fromMqtt).toEqual(Array.from({ length: N + 1 }, (_, i) => i));
      // No record delivered twice to B's subscriber.
      const places = seen.map((r) => `${r.partition}:${r.offset}`);
      expect(new Set(places).size).toBe(places.length);
      // Order per MQTT topic (= per key, one partition each) is the publish order.
      for (let t = 0; t < 4; t++) {
        const perTopic = seen.filter((r) => r.key === `${prefix}/tele/${t}`).map((r) => (r.value as { seq: number }).seq);
        expect(perTopic).toEqual([...perTopic].sort((x, y) => x - y));
      }

      await device.waitFor(N, 20_000);
      const fromWs = device.received.map((m) => parseSeq(m.payload)!);
      expect(fromWs.every((v) => v.src === 'ws')).toBe(true);
      expect(fromWs.map((v) => v.seq).sort((x, y) => x - y)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
      for (let t = 0; t < 4; t++) {
        const perTopic = device.received.filter((m) => m.topic === `${prefix}/cmd/${t}`).map((m) => parseSeq(m.payload)!.seq);
        expect(perTopic).toEqual([...perTopic].sort((x, y) => x - y));
      }
      await sub.close();
    } finally {
      ws.close();
      await device.end(true);
    }
  });

  it('a persistent MQTT v5 session created on A resumes on B with every message published while offline', async () => {
    const clientId = uniqueId('persist');
    const filter = `${prefix}/persist/${clientId}/#`;
    const opts = { protocolVersion: 5 as const, clientId, clean: false, properties: { sessionExpiryInterval: 300 } };
    const first = await connectClient(a.mqttUrl, opts);
    await first.client.subscribeAsync(filter, { qos: 1 });
    // Seen live on A before going offline.
    const publisher = await connectClient(b.mqttUrl, { protocolVersion: 5, clientId: uniqueId('pub') });
    let resumed: TestClient | undefined;
    try {
      for (let seq = 1; seq <= 10; seq++) await publisher.client.publishAsync(`${prefix}/persist/${clientId}/x`, JSON.stringify({ src: 'p', seq }), { qos: 1 });
      await first.waitFor(10);
      await first.end(); // normal DISCONNECT: the session (positions) is written to the shared table

      // Published while the device is offline, through the other instance.
      const N = 100;
      for (let seq = 11; seq <= 10 + N; seq++) await publisher.client.publishAsync(`${prefix}/persist/${clientId}/x`, JSON.stringify({ src: 'p', seq }), { qos: 1 });

      resumed = await connectClient(b.mqttUrl, opts);
      expect(resumed.client.connected).toBe(true);
      await resumed.waitFor(N, 20_000);
      const seqs = resumed.received.map((m) => parseSeq(m.payload)!.seq);
      // Nothing published while offline is missed, and it comes in order.
      const offline = seqs.filter((s) => s > 10);
      expect(offline).toEqual(Array.from({ length: N }, (_, i) => i + 11));
      // At-least-once: only what A had already delivered may come again (if B resumed from a session
      // version older than the one A wrote at DISCONNECT), each at most once.
      const again = seqs.filter((s) => s <= 10);
      expect(new Set(again).size).toBe(again.length);
      console.info(`[faults] persistent session A→B: ${offline.length} offline messages delivered, ${again.length} redelivered`);
    } finally {
      await resumed?.end();
      await publisher.end(true);
    }
  });

  it('a retained message set through A is delivered on subscribe through B (and cleared through B for A)', async () => {
    const topic = `${prefix}/retained/${uniqueId('r')}`;
    const setter = await connectClient(a.mqttUrl, { protocolVersion: 5, clientId: uniqueId('set') });
    try {
      await setter.client.publishAsync(topic, 'state-1', { qos: 1, retain: true });
    } finally {
      await setter.end();
    }
    // B follows the compacted retained table; poll with fresh subscribers until it has caught up.
    const got = await eventually(
      async () => {
        const c = await connectClient(b.mqttUrl, { protocolVersion: 5, clientId: uniqueId('get') });
        try {
          await c.client.subscribeAsync(topic, { qos: 1 });
          return await c.waitFor(1, 300).then(
            (m) => m,
            () => undefined,
          );
        } finally {
          await c.end(true);
        }
      },
      { timeoutMs: 10_000, what: 'retained message on B' },
    );
    expect(got[0]!.payload).toBe('state-1');
    expect(got[0]!.packet.retain).toBe(true);

    // Cleared through B (empty retained payload) → gone on A too.
    const clearer = await connectClient(b.mqttUrl, { protocolVersion: 5, clientId: uniqueId('clr') });
    await clearer.client.publishAsync(topic, '', { qos: 1, retain: true });
    await clearer.end();
    await eventually(
      async () => {
        const c = await connectClient(a.mqttUrl, { protocolVersion: 5, clientId: uniqueId('chk') });
        try {
          await c.client.subscribeAsync(topic, { qos: 1 });
          // A live marker published after SUBACK: retained messages come before it, if any.
          await c.client.publishAsync(topic, 'marker', { qos: 1 });
          const msgs = await c.waitFor(1, 2000);
          return msgs[0]!.payload === 'marker';
        } finally {
          await c.end(true);
        }
      },
      { timeoutMs: 10_000, what: 'retained message cleared on A' },
    );
  });
});
