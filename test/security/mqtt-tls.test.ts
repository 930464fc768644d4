/**
 * MQTT over TLS (issue 8): with `tls.certFile/keyFile` the MQTT port (and MQTT over WebSocket on
 * the shared HTTP port) speaks TLS only; a plaintext client fails cleanly and the server stays
 * up. With `tls.clientAuth` + `caFile`, a verified client certificate's CN is the principal, so
 * `auth.anonymous: false` admits certificate holders without any JWT. Throwaway PKI per run.
 */
import { connect as netConnect } from 'node:net';
import mqttPacket from 'mqtt-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContext } from '../../gateway/context.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';
import { makeTestPki, type TestPki } from '../mqtt/certs.js';
import { connectClient } from '../mqtt/helpers.js';

let pki: TestPki;
beforeAll(() => {
  pki = makeTestPki(['device-a', 'device-b']);
});
afterAll(() => pki?.remove());

/** PUBACK reason code of a QoS 1 publish (MQTT.js resolves 0x00 and rejects ≥ 0x80 with `code`). */
async function pubackCode(client: import('mqtt').MqttClient, topic: string, payload: string): Promise<number | undefined> {
  return client.publishAsync(topic, payload, { qos: 1 }).then(
    (packet) => (packet as { reasonCode?: number } | undefined)?.reasonCode ?? 0,
    (err: { code?: number }) => err.code,
  );
}

describe('TLS listener (no client certificates)', () => {
  let gw: TestGateway;
  let defaultTopic: string;
  beforeAll(async () => {
    defaultTopic = uniqueTopic('mqtt-tls');
    gw = await startTestGateway({ backend: 'embedded', config: { tls: { certFile: pki.certFile, keyFile: pki.keyFile }, mqtt: { defaultTopic } } });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('mqtts:// and wss:///mqtt work with the test CA; the record lands in the topic', async () => {
    const tcp = await connectClient(`mqtts://127.0.0.1:${gw.ports.mqtt}`, { protocolVersion: 5, clientId: uniqueId('tls'), ca: pki.ca });
    const ws = await connectClient(`wss://127.0.0.1:${gw.ports.http}/mqtt`, { protocolVersion: 4, clientId: uniqueId('wss'), ca: pki.ca });
    const topic = `tls/${uniqueId('t')}`;
    await tcp.client.subscribeAsync(topic, { qos: 1 });
    expect(await pubackCode(ws.client, topic, 'over wss')).toBe(0);
    const [m] = await tcp.waitFor(1);
    expect(m!.payload).toBe('over wss');
    const ctx = createContext({ protocol: 'test', log: gw.core.log });
    const recs = (await gw.core.fetch(ctx, defaultTopic, 0, 0n, { maxRecords: 10 })).records;
    expect(recs.map((r) => `${r.key?.toString()}=${r.value?.toString()}`)).toEqual([`${topic}=over wss`]);
    await Promise.all([tcp.end(), ws.end()]);
  });

  it('a plaintext client to the TLS port fails cleanly (no CONNACK, connection closed) and the server stays up', async () => {
    // MQTT.js over plain TCP: the connect attempt fails instead of hanging.
    await expect(connectClient(`mqtt://127.0.0.1:${gw.ports.mqtt}`, { protocolVersion: 5, clientId: uniqueId('plain'), connectTimeout: 3000 })).rejects.toThrow();

    // A raw plaintext CONNECT: the server answers with at most a TLS alert and closes.
    const received: Buffer[] = [];
    const closed = await new Promise<boolean>((resolve) => {
      const s = netConnect(gw.ports.mqtt, '127.0.0.1', () => s.write(mqttPacket.generate({ cmd: 'connect', clientId: 'plain', protocolVersion: 4, clean: true, keepalive: 10 })));
      s.on('data', (d: Buffer) => received.push(d));
      s.on('error', () => undefined);
      s.on('close', () => resolve(true));
    });
    expect(closed).toBe(true);
    const bytes = Buffer.concat(received);
    // Nothing that reads as a CONNACK (0x20): either nothing or a TLS record (0x15 = alert).
    expect(bytes.length === 0 || bytes[0] === 0x15).toBe(true);

    const after = await connectClient(`mqtts://127.0.0.1:${gw.ports.mqtt}`, { protocolVersion: 5, clientId: uniqueId('after'), ca: pki.ca });
    expect(after.client.connected).toBe(true);
    await after.end();
  });
});

describe('TLS client certificates: clientAuth require, anonymous off, no JWT', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({
      backend: 'embedded',
      config: {
        tls: { certFile: pki.certFile, keyFile: pki.keyFile, caFile: pki.caFile, clientAuth: 'require' },
        auth: { anonymous: false, certificates: [{ match: 'device-*', grants: { read: ['*'], write: ['*'] } }] },
        mqtt: { defaultTopic: uniqueTopic('mqtt-mtls') },
        // One publish per principal (practically no refill): shows which principal a connection is.
        limits: { publishRatePerPrincipal: 0.001, publishBurstPerPrincipal: 1 },
      },
    });
  });
  afterAll(async () => {
    await gw?.close();
  });
  const url = (): string => `mqtts://127.0.0.1:${gw.ports.mqtt}`;

  it("a certificate signed by the CA is admitted, and its CN is the principal (one publish budget per CN, shared by that CN's connections)", async () => {
    const a1 = await connectClient(url(), { protocolVersion: 5, clientId: uniqueId('a1'), ca: pki.ca, ...pki.client('device-a') });
    expect(await pubackCode(a1.client, 'mtls/a', '1')).toBe(0);
    // Same certificate on a second connection: same principal, its budget is spent → 0x97.
    const a2 = await connectClient(url(), { protocolVersion: 5, clientId: uniqueId('a2'), ca: pki.ca, ...pki.client('device-a') });
    expect(await pubackCode(a2.client, 'mtls/a', '2')).toBe(0x97);
    // Another CN is another principal with its own budget.
    const b = await connectClient(url(), { protocolVersion: 5, clientId: uniqueId('b'), ca: pki.ca, ...pki.client('device-b') });
    expect(await pubackCode(b.client, 'mtls/b', '1')).toBe(0);
    await Promise.all([a1.end(), a2.end(), b.end()]);
  });

  it('without a certificate, or with one from another CA, the TLS handshake fails and MQTT never starts', async () => {
    await expect(connectClient(url(), { protocolVersion: 5, clientId: uniqueId('nocert'), ca: pki.ca, connectTimeout: 3000 })).rejects.toThrow();
    await expect(connectClient(url(), { protocolVersion: 5, clientId: uniqueId('rogue'), ca: pki.ca, ...pki.rogue, connectTimeout: 3000 })).rejects.toThrow();
    const ok = await connectClient(url(), { protocolVersion: 4, clientId: uniqueId('ok'), ca: pki.ca, ...pki.client('device-b') });
    await eventually(() => ok.client.connected);
    await ok.end();
  });
});

describe('TLS client certificates: clientAuth request, anonymous off', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({
      backend: 'embedded',
      config: { tls: { certFile: pki.certFile, keyFile: pki.keyFile, caFile: pki.caFile, clientAuth: 'request' }, auth: { anonymous: false, certificates: [{ match: 'device-*', grants: { read: ['*'], write: ['*'] } }] }, mqtt: { defaultTopic: uniqueTopic('mqtt-mtls-req') } },
    });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('no certificate or an untrusted one → CONNACK 0x86 (v5) / 4 (3.1.1); a trusted one is admitted', async () => {
    const url = `mqtts://127.0.0.1:${gw.ports.mqtt}`;
    const code = (p: Promise<unknown>): Promise<number | undefined> => p.then(() => undefined, (e: { code?: number }) => e.code);
    expect(await code(connectClient(url, { protocolVersion: 5, clientId: uniqueId('n'), ca: pki.ca }))).toBe(0x86);
    expect(await code(connectClient(url, { protocolVersion: 4, clientId: uniqueId('n'), ca: pki.ca }))).toBe(4);
    expect(await code(connectClient(url, { protocolVersion: 5, clientId: uniqueId('r'), ca: pki.ca, ...pki.rogue }))).toBe(0x86);
    const ok = await connectClient(url, { protocolVersion: 5, clientId: uniqueId('ok'), ca: pki.ca, ...pki.client('device-a') });
    expect(await pubackCode(ok.client, 'req/a', 'x')).toBe(0);
    await ok.end();
  });
});
