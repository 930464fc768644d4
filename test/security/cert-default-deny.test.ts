/**
 * Finding 3 of issue 16: a verified TLS client certificate that no `auth.certificates` rule
 * matches authenticates (it is not a 401 / CONNACK refusal) but is granted nothing — default
 * deny on every protocol: REST produce 403, SSE 403, WebSocket publish/subscribe
 * PERMISSION_DENIED, gRPC PERMISSION_DENIED, MQTT SUBSCRIBE `#` → SUBACK failure and PUBLISH not
 * stored. Before the fix such principals were unrestricted (read any topic, SUBSCRIBE `#` granted).
 * Embedded backend: a listener + core matter.
 */
import * as grpc from '@grpc/grpc-js';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamGatewayClient } from '../../clients/ts/node/index.js';
import { createContext } from '../../gateway/context.js';
import { SessionRecorder } from '../grpc/helpers.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { makeTestTls, type TestTls } from '../support/tls.js';
import { eventually } from '../support/wait.js';
import { GrpcSubscription, grpcStub, http, openWs, SseReader, startCapturedGateway, unary, type CapturedGateway } from './helpers.js';

let pki: TestTls;
let gw: CapturedGateway;
let https: string;
let tls: { ca: Buffer; cert: Buffer; key: Buffer };
let stub: StreamGatewayClient;
const topic = uniqueTopic('nodeny');
const mqttTopic = uniqueTopic('nodeny-mqtt');
const ctx = () => createContext({ protocol: 'test', log: gw.core.log });
const latest = async (t: string) => (await gw.core.offsets(ctx(), t))[0]!.latest;

beforeAll(async () => {
  pki = makeTestTls('device-42');
  tls = { ca: pki.ca, cert: pki.client.cert, key: pki.client.key };
  gw = await startCapturedGateway({
    level: 'debug',
    config: {
      tls: { certFile: pki.server.certFile, keyFile: pki.server.keyFile, caFile: pki.caFile, clientAuth: 'request' },
      mqtt: { defaultTopic: mqttTopic },
      // A rule for other certificates only: device-42 is verified but matches none.
      auth: { certificates: [{ match: 'gateway-*', grants: { read: ['*'], write: ['*'], admin: ['*'] } }] },
    },
  });
  https = `https://127.0.0.1:${gw.ports.http}`;
  stub = grpcStub(gw.ports.grpc, grpc.credentials.createSsl(pki.ca, pki.client.key, pki.client.cert));
  // Both topics exist with a record (written through the core, unrestricted): a 403 is not a 404 in disguise.
  await gw.core.produce(ctx(), topic, [{ key: Buffer.from('k'), value: Buffer.from('"secret"') }]);
  await gw.core.produce(ctx(), mqttTopic, [{ key: Buffer.from('devices/x'), value: Buffer.from('secret') }]);
}, 60_000);
afterAll(async () => {
  stub?.close();
  await gw?.close();
  pki?.remove();
});

describe('a client certificate no auth.certificates rule matches: authenticated, granted nothing', () => {
  it('REST: produce (v1, v2) and fetch are 403 PERMISSION_DENIED as device-42 (not 401), nothing written', async () => {
    const before = await latest(topic);
    const v1 = await http(`${https}/v1/topics/${topic}/records`, { method: 'POST', body: JSON.stringify({ records: [{ value: 1 }] }), tls });
    expect([v1.status, v1.json().error_code, v1.json().code]).toEqual([403, 40301, 'PERMISSION_DENIED']);
    const v2 = await http(`${https}/topics/${topic}`, { method: 'POST', headers: { 'content-type': 'application/vnd.kafka.json.v2+json' }, body: JSON.stringify({ records: [{ value: 1 }] }), tls });
    expect([v2.status, v2.json().error_code]).toEqual([403, 40301]);
    const fetched = await http(`${https}/v1/topics/${topic}/partitions/0/records?offset=0`, { tls });
    expect(fetched.status).toBe(403);
    expect(fetched.body).not.toContain('secret');
    expect(await latest(topic)).toBe(before);
    // Without the certificate it is a 401: the 403 above is the certificate principal's answer.
    expect((await http(`${https}/v1/topics/${topic}/records`, { method: 'POST', body: '{"records":[{"value":1}]}', tls: { ca: pki.ca } })).status).toBe(401);
    expect(gw.logs().some((l) => l.principal === 'device-42')).toBe(true);
  });

  it('SSE is 403 and streams nothing', async () => {
    const sse = new SseReader(`${https}/v1/topics/${topic}/events?from=earliest`, {}, tls);
    await sse.done;
    expect(sse.status).toBe(403);
    expect(sse.text).not.toContain('secret');
  });

  it('WebSocket: the upgrade succeeds; publish and subscribe answer PERMISSION_DENIED', async () => {
    const { status, client } = await openWs(`wss://127.0.0.1:${gw.ports.http}`, { tls });
    expect(status).toBe(101);
    try {
      client!.send({ op: 'publish', id: 'p', topic, records: [{ value: 1 }] });
      expect(await client!.waitFor((f) => f.id === 'p')).toMatchObject({ op: 'error', code: 'PERMISSION_DENIED' });
      client!.send({ op: 'subscribe', id: 's', topic, from: 'earliest' });
      expect(await client!.waitFor((f) => f.id === 's')).toMatchObject({ op: 'error', code: 'PERMISSION_DENIED' });
      expect(client!.frames.filter((f) => f.op === 'records')).toEqual([]);
    } finally {
      client!.close();
    }
  });

  it('gRPC: Produce, Fetch, Subscribe and Session answer PERMISSION_DENIED', async () => {
    expect((await unary(stub, 'Produce', { topic, records: [{ value: Buffer.from('x') }] })).error?.code).toBe(grpc.status.PERMISSION_DENIED);
    expect((await unary(stub, 'Fetch', { topic, partition: 0, offset: '0' })).error?.code).toBe(grpc.status.PERMISSION_DENIED);
    const sub = new GrpcSubscription(stub, { topic, position: { earliest: {} } });
    expect((await sub.failed()).code).toBe(grpc.status.PERMISSION_DENIED);
    expect(sub.records()).toEqual([]);
    const s = new SessionRecorder(stub);
    try {
      s.send({ publish: { id: 'p', topic, records: [{ value: Buffer.from('x') }] } });
      expect((await s.waitFor('error', (e) => e.id === 'p')).code).toBe('PERMISSION_DENIED');
      s.send({ subscribe: { id: 's', topic, position: { earliest: {} }, credit: 10 } });
      expect((await s.waitFor('error', (e) => e.id === 's')).code).toBe('PERMISSION_DENIED');
    } finally {
      s.close();
    }
  });

  it.each([5, 4] as const)('MQTT %s: CONNACK accepted; SUBSCRIBE # → SUBACK failure; PUBLISH not stored', async (version) => {
    const client: MqttClient = await mqtt.connectAsync(`mqtts://127.0.0.1:${gw.ports.mqtt}`, { protocolVersion: version, reconnectPeriod: 0, clientId: uniqueId('nogrant'), ...tls });
    client.on('error', () => undefined);
    try {
      const got: string[] = [];
      client.on('message', (t) => got.push(t));
      const granted = await client.subscribeAsync('#', { qos: 1 }).then(
        (g) => g[0]!.qos,
        (err: { packet?: { granted?: number[] } }) => err.packet?.granted?.[0],
      );
      // [MQTT-5:3.9.3] 0x87 Not authorized; [MQTT-3.1.1:3.9.3] 0x80 Failure.
      expect(granted).toBe(version === 5 ? 0x87 : 0x80);
      const before = await latest(mqttTopic);
      const closed = new Promise<'closed'>((resolve) => client.once('close', () => resolve('closed')));
      const outcome = await Promise.race([
        client.publishAsync('devices/x/forged', 'x', { qos: 1 }).then(
          (p) => (p as { reasonCode?: number } | undefined)?.reasonCode ?? 0,
          (err: { code?: number }) => err.code,
        ),
        closed,
      ]);
      // v5: PUBACK 0x87 [MQTT-5:3.4.2.1]; 3.1.1 has no negative PUBACK: the server closes the connection.
      expect(outcome).toBe(version === 5 ? 0x87 : 'closed');
      expect(await latest(mqttTopic)).toBe(before);
      // The principal was the certificate's CN.
      await eventually(() => gw.logs().some((l) => l.protocol === 'mqtt' && l.principal === 'device-42'), { what: 'an MQTT log line as device-42' });
      expect(got).toEqual([]);
    } finally {
      await client.endAsync(true).catch(() => undefined);
    }
  });
});
