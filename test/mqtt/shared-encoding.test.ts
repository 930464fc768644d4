/**
 * A record fanned out from one shared tail reader is encoded once per format and shared by the
 * subscribers it fits (gateway/encoded.ts): subscribers whose PUBLISH differs — protocol version,
 * MQTT 5 subscription identifier, QoS (packet id) — must still each get their own packet.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueTopic } from '../support/names.js';
import { connectClient, type TestClient } from './helpers.js';

const kafkaTopic = uniqueTopic('mqtt-enc');
let gw: TestGateway;
const clients: TestClient[] = [];

beforeAll(async () => {
  gw = await startTestGateway({ config: { mqtt: { routes: [{ filter: 'enc/#', topic: kafkaTopic }] } } });
});
afterAll(async () => {
  for (const c of clients) await c.end(true);
  await gw?.close();
});

async function client(options: Parameters<typeof connectClient>[1]): Promise<TestClient> {
  const c = await connectClient(`mqtt://127.0.0.1:${gw.ports.mqtt}`, options);
  clients.push(c);
  return c;
}

describe('one record, many MQTT encodings', () => {
  it('gives 3.1.1, 5.0, 5.0-with-subscription-id and QoS 1 subscribers each the packet their subscription asks for', async () => {
    const publisher = await client({ protocolVersion: 5 });
    // The Kafka topic exists before the SUBSCRIBEs, so all of them read it through one shared reader.
    await publisher.client.publishAsync('enc/warm', 'w', { qos: 1 });

    const v4 = await client({ protocolVersion: 4 });
    const v5 = await client({ protocolVersion: 5 });
    const v5id = await client({ protocolVersion: 5 });
    // Receive Maximum 2: the gateway may have only two unacknowledged QoS 1 PUBLISHes out to each
    // of these, so all six messages arrive only if every PUBACK names a packet id it really sent.
    const v5q1 = await client({ protocolVersion: 5, properties: { receiveMaximum: 2 } });
    const v4q1 = await client({ protocolVersion: 4 });
    await v4.client.subscribeAsync('enc/#', { qos: 0 });
    await v5.client.subscribeAsync('enc/#', { qos: 0 });
    await v5id.client.subscribeAsync('enc/#', { qos: 0, properties: { subscriptionIdentifier: 7 } });
    await v5q1.client.subscribeAsync('enc/#', { qos: 1 });
    await v4q1.client.subscribeAsync('enc/#', { qos: 1 });

    for (let i = 0; i < 3; i++) {
      await publisher.client.publishAsync(`enc/a${i}`, `m${i}`, { qos: 1, properties: { userProperties: { n: String(i) }, contentType: 'text/plain' } });
    }
    const expected = [0, 1, 2].map((i) => [`enc/a${i}`, `m${i}`]);
    const seen = (c: TestClient) => c.received.map((m) => [m.topic, m.payload]);

    await v4.waitFor(3);
    expect(seen(v4)).toEqual(expected);
    // 3.1.1 has no properties.
    expect(v4.received.map((m) => m.packet.properties)).toEqual([undefined, undefined, undefined]);
    expect(v4.received.map((m) => m.packet.qos)).toEqual([0, 0, 0]);

    await v5.waitFor(3);
    expect(seen(v5)).toEqual(expected);
    expect(v5.received.map((m) => [m.packet.qos, m.packet.properties?.userProperties, m.packet.properties?.contentType, m.packet.properties?.subscriptionIdentifier])).toEqual(
      [0, 1, 2].map((i) => [0, { n: String(i) }, 'text/plain', undefined]),
    );

    await v5id.waitFor(3);
    expect(seen(v5id)).toEqual(expected);
    expect(v5id.received.map((m) => [m.packet.properties?.userProperties, m.packet.properties?.subscriptionIdentifier])).toEqual(
      [0, 1, 2].map((i) => [{ n: String(i) }, 7]),
    );

    // QoS 1 deliveries carry each session's own packet ids ([MQTT-5:2.2.1-3]).
    for (const c of [v5q1, v4q1]) {
      await c.waitFor(3);
      expect(seen(c)).toEqual(expected);
      expect(c.received.map((m) => m.packet.qos)).toEqual([1, 1, 1]);
      expect(new Set(c.received.map((m) => m.packet.messageId)).size).toBe(3);
    }
    expect(v5q1.received.map((m) => m.packet.properties?.userProperties)).toEqual([0, 1, 2].map((i) => ({ n: String(i) })));

    for (let i = 3; i < 6; i++) await publisher.client.publishAsync(`enc/a${i}`, `m${i}`, { qos: 1 });
    for (const c of [v5q1, v4q1]) {
      await c.waitFor(6);
      expect(seen(c)).toEqual([0, 1, 2, 3, 4, 5].map((i) => [`enc/a${i}`, `m${i}`]));
    }
  });
});
