/**
 * MQTT over WebSocket (`/mqtt`, MQTT 5 §6 / 3.1.1 §6) through the process's WebSocket transport,
 * against the real Kafka broker. This file runs twice in `npm test`: on the `ws` engine (shared
 * HTTP port) and in the `uws` project (STREAMGATE_TEST_WS_ENGINE=uws: the uWebSockets.js port,
 * which serves /v1/ws and /mqtt alike).
 */
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContext } from '../../gateway/context.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { RawClient as WsClient } from '../websocket/raw-client.js';
import { connectClient } from './helpers.js';

const ENGINE = process.env.STREAMGATE_TEST_WS_ENGINE === 'uws' ? 'uws' : 'ws';
let gw: TestGateway;
let topic: string;

beforeAll(async () => {
  topic = uniqueTopic('mqtt-ws');
  gw = await startTestGateway({ config: { mqtt: { defaultTopic: topic } } });
});

afterAll(async () => {
  await gw?.close();
});

/** The HTTP status of an upgrade attempt at `path` offering `protocols`, or 101 when it opened. */
function handshake(url: string, protocols: string[]): Promise<{ status: number; protocol?: string; ws?: WebSocket }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols);
    ws.once('open', () => resolve({ status: 101, protocol: ws.protocol, ws }));
    ws.once('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0 });
      res.resume();
      ws.terminate();
    });
    ws.once('error', reject);
  });
}

describe(`MQTT over WebSocket (${ENGINE} engine)`, () => {
  it('serves /mqtt on the same port as /v1/ws for this engine', () => {
    const port = Number(new URL(gw.mqttWsUrl).port);
    expect(port).toBe(ENGINE === 'uws' ? gw.ports.websocket : gw.ports.http);
    if (ENGINE === 'uws') expect(port).not.toBe(gw.ports.http);
  });

  it('subscribe and QoS 1 publish round-trip (v5)', async () => {
    const c = await connectClient(gw.mqttWsUrl, { protocolVersion: 5, clientId: uniqueId('ws') });
    const t = `ws/${uniqueId('t')}`;
    await c.client.subscribeAsync(t, { qos: 1 });
    await c.client.publishAsync(t, 'over-ws', { qos: 1 });
    const [m] = await c.waitFor(1);
    expect(m!.topic).toBe(t);
    expect(m!.payload).toBe('over-ws');
    await c.end();
  });

  it('an MQTT publish over WebSocket reaches a streamgate WebSocket subscriber on the same port, at the acked offset', async () => {
    const pub = await connectClient(gw.mqttWsUrl, { protocolVersion: 4, clientId: uniqueId('wspub') });
    const mqttTopic = `x/${uniqueId('t')}`;
    // The first publish creates the Kafka topic (subscribing to a missing topic is NOT_FOUND).
    await pub.client.publishAsync(mqttTopic, 'first', { qos: 1 });
    const sub = await WsClient.open(gw.wsUrl);
    sub.send({ op: 'subscribe', id: 's1', topic, from: 'latest', key: mqttTopic });
    await sub.waitFor((f) => f.op === 'subscribed' && f.id === 's1', 'subscribed');
    await pub.client.publishAsync(mqttTopic, JSON.stringify({ n: 2 }), { qos: 1 });
    // Acked means written: the record is in Kafka at a definite offset, and that is the one delivered.
    const ctx = createContext({ protocol: 'test', log: gw.core.log });
    const written = (await gw.core.fetch(ctx, topic, 0, 0n, { maxRecords: 10_000 })).records.filter((r) => r.key?.toString() === mqttTopic);
    expect(written.map((r) => r.value?.toString())).toEqual(['first', '{"n":2}']);
    const [rec] = await sub.waitForRecords('s1', 1);
    expect(rec.key).toBe(mqttTopic);
    expect(rec.value).toEqual({ n: 2 });
    expect(rec.offset).toBe(written[1]!.offset.toString());
    await pub.end();
    sub.close();
  });

  it('carries packets larger than one socket write (256 KiB payload, QoS 1) both ways', async () => {
    const c = await connectClient(gw.mqttWsUrl, { protocolVersion: 5, clientId: uniqueId('big') });
    const t = `big/${uniqueId('t')}`;
    const payload = Buffer.alloc(256 * 1024, 'a').toString();
    await c.client.subscribeAsync(t, { qos: 1 });
    await c.client.publishAsync(t, payload, { qos: 1 });
    const [m] = await c.waitFor(1);
    expect(m!.payload.length).toBe(payload.length);
    expect(m!.payload).toBe(payload);
    await c.end();
  });

  it('refuses a client that does not offer the mqtt subprotocol with 400 [MQTT-5:6.0.0-3], and echoes mqtt to one that does [MQTT-5:6.0.0-4]', async () => {
    expect((await handshake(gw.mqttWsUrl, ['streamgate.v1.json'])).status).toBe(400);
    expect((await handshake(gw.mqttWsUrl, [])).status).toBe(400);
    const ok = await handshake(gw.mqttWsUrl, ['foo', 'mqtt']);
    expect(ok.status).toBe(101);
    expect(ok.protocol).toBe('mqtt');
    ok.ws!.terminate();
  });

  it('closes the connection on a text frame [MQTT-5:6.0.0-1]', async () => {
    const { ws } = await handshake(gw.mqttWsUrl, ['mqtt']);
    const closed = new Promise<number>((resolve) => ws!.once('close', (code) => resolve(code)));
    ws!.send('not a packet');
    expect(await closed).toBe(1003);
  });
});
