/**
 * Isolation between MQTT devices (issue #16, findings 5 and 6): two devices alice and bob hold the
 * one fleet grant `{"mqtt": "devices/{sub}/#"}` (read and write). Each reads, writes and retains
 * only under its own prefix, whatever it subscribes to or publishes, and a client id belongs to the
 * principal that created its session: another principal connecting with it is refused (v5 CONNACK
 * 0x87, 3.1.1 return code 5) while the holder's connection and session stay as they were.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { SignJWT } from 'jose';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Context } from '../../gateway/api.js';
import { createContext } from '../../gateway/context.js';
import { decodeRetained } from '../../adapters/mqtt/codec.js';
import { connectClient, RawClient, type TestClient } from '../mqtt/helpers.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';

const SECRET = 'mqtt-isolation-test-secret-0123456789';
const DEVICE = { read: [{ mqtt: 'devices/{sub}/#' }], write: [{ mqtt: 'devices/{sub}/#' }] };

function token(sub: string, topics: unknown = DEVICE, extra: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT({ topics, ...extra }).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setExpirationTime('10m').sign(new TextEncoder().encode(SECRET));
}

type RefusedConnect = { code?: number };
/** The CONNACK failure code of a CONNECT (undefined when it was accepted — the client is then closed). */
async function connackCode(url: string, options: mqtt.IClientOptions): Promise<number | undefined> {
  const result = await mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options }).catch((e: RefusedConnect) => e);
  if (result instanceof mqtt.MqttClient) {
    await result.endAsync(true);
    return undefined;
  }
  return result.code;
}

/** A PUBLISH's v5 acknowledgement reason code (0 = success). */
async function publishReason(c: mqtt.MqttClient, topic: string, payload: string, opts: mqtt.IClientPublishOptions): Promise<number | undefined> {
  return c.publishAsync(topic, payload, opts).then(
    (packet) => (packet as { reasonCode?: number } | undefined)?.reasonCode ?? 0,
    (err: { code?: number }) => err.code,
  );
}

describe('MQTT device isolation with the fleet grant devices/{sub}/#', () => {
  let gw: TestGateway;
  let admin: Context;
  const topic = uniqueTopic('mqtt-fleet');
  const url = (): string => `mqtt://127.0.0.1:${gw.ports.mqtt}`;
  const as = async (sub: string, options: mqtt.IClientOptions = {}): Promise<TestClient> =>
    connectClient(url(), { protocolVersion: 5, clientId: uniqueId(sub), username: sub, password: await token(sub), ...options });

  /** Every record of the MQTT Kafka topic, read with an admin principal: what the gateway stored. */
  async function stored(): Promise<{ key: string; value: string }[]> {
    const res = await gw.core.fetch(admin, topic, 0, 0n, { maxRecords: 10_000 });
    return res.records.map((r) => ({ key: r.key?.toString('utf8') ?? '', value: r.value?.toString('utf8') ?? '' }));
  }

  beforeAll(async () => {
    gw = await startTestGateway({ backend: 'embedded', config: { auth: { jwt: { hs256Secret: SECRET } }, mqtt: { defaultTopic: topic, sessionFlushMs: 100 } } });
    admin = createContext({ protocol: 'test', log: gw.core.log, principal: await gw.core.authenticate({ token: await token('operator', { admin: ['*'] }) }) });
    // The Kafka topic exists before the first subscription (one partition: stored order is delivery order).
    await gw.core.produce(admin, topic, [{ key: Buffer.from('seed'), value: Buffer.from('seed') }]);
  });
  afterAll(async () => {
    await gw?.close();
  });

  it("a device subscribed to '#' receives only its own devices/<sub>/… messages", async () => {
    const alice = await as('alice');
    const bob = await as('bob');
    try {
      expect((await alice.client.subscribeAsync('#', { qos: 1 }))[0]!.qos).toBe(1);
      await bob.client.publishAsync('devices/bob/telemetry', 'bob-1', { qos: 1 });
      await gw.core.produce(admin, topic, [{ key: Buffer.from('other/thing'), value: Buffer.from('operator-1') }]);
      await alice.client.publishAsync('devices/alice/telemetry', 'alice-1', { qos: 1 });
      // One partition: bob's and the operator's records came before alice's, so had they been
      // delivered they would be here already.
      await alice.waitFor(1);
      expect(alice.received.map((m) => `${m.topic}=${m.payload}`)).toEqual(['devices/alice/telemetry=alice-1']);
    } finally {
      await alice.end();
      await bob.end();
    }
  });

  it("a subscription that can never match the device's scope is refused: SUBACK 0x87 (v5), 0x80 (3.1.1)", async () => {
    const v5 = await as('alice');
    const v3 = await as('alice', { protocolVersion: 4 });
    try {
      const refused = await v5.client.subscribeAsync('devices/bob/#', { qos: 1 }).catch((err: { packet?: { granted?: number[] } }) => err.packet?.granted);
      expect(refused).toEqual([0x87]);
      const granted = await v3.client.subscribeAsync(['devices/bob/#', 'devices/alice/#'], { qos: 1 }).catch((err: { packet?: { granted?: number[] } }) => err.packet?.granted);
      expect(granted).toEqual([0x80, 1]);
    } finally {
      await v5.end();
      await v3.end();
    }
  });

  it("publishing as another device is refused per message (v5 PUBACK/PUBREC 0x87; QoS 0 not written); the device's own messages in the same burst are written", async () => {
    const alice = await as('alice');
    try {
      // Back to back: while the first is written the next ones queue up and would share one produce
      // call, which the core refuses whole — the refused one must not take its neighbours down.
      const reasons = await Promise.all([
        publishReason(alice.client, 'devices/alice/a', 'own-0', { qos: 1 }),
        publishReason(alice.client, 'devices/alice/a', 'own-1', { qos: 1 }),
        publishReason(alice.client, 'devices/bob/x', 'forged-1', { qos: 1 }),
        publishReason(alice.client, 'devices/alice/b', 'own-2', { qos: 1 }),
        publishReason(alice.client, 'devices/bob/y', 'forged-2', { qos: 2 }),
      ]);
      expect(reasons).toEqual([0, 0, 0x87, 0, 0x87]);
      await alice.client.publishAsync('devices/bob/z', 'forged-0', { qos: 0 });
      await alice.client.publishAsync('devices/alice/c', 'own-3', { qos: 1 });
      // v5: the connection survives a refused QoS 0 publish (nothing says it must end).
      expect(alice.client.connected).toBe(true);
      const values = (await stored()).map((r) => r.value);
      expect(values).toEqual(expect.arrayContaining(['own-0', 'own-1', 'own-2', 'own-3']));
      expect(values.filter((v) => v.startsWith('forged'))).toEqual([]);
    } finally {
      await alice.end();
    }
  });

  it('MQTT 3.1.1: a QoS 1 publish as another device closes the connection with no PUBACK, nothing written [MQTT-3.1.1:3.3.5-2]', async () => {
    const raw = await RawClient.open(gw.ports.mqtt, 4);
    try {
      raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: uniqueId('alice'), clean: true, keepalive: 0, username: 'alice', password: Buffer.from(await token('alice')) }, 4);
      expect((await raw.next('connack')).returnCode).toBe(0);
      raw.send({ cmd: 'publish', topic: 'devices/bob/x', payload: Buffer.from('forged-311'), qos: 1, messageId: 7, retain: false, dup: false }, 4);
      await raw.waitClosed();
      expect(raw.packets.some((p) => p.cmd === 'puback')).toBe(false);
      expect((await stored()).map((r) => r.value)).not.toContain('forged-311');
    } finally {
      raw.destroy();
    }
  });

  it("a device can neither set nor delete another device's retained message, nor receive it on subscribe", async () => {
    const retained = await gw.core.table('mqtt-retained');
    const bob = await as('bob');
    const alice = await as('alice');
    try {
      await bob.client.publishAsync('devices/bob/state', 'bob-on', { qos: 1, retain: true });
      await alice.client.publishAsync('devices/alice/state', 'alice-on', { qos: 1, retain: true });
      expect(await publishReason(alice.client, 'devices/bob/state', 'hacked', { qos: 1, retain: true })).toBe(0x87);
      expect(await publishReason(alice.client, 'devices/bob/state', '', { qos: 1, retain: true })).toBe(0x87);
      expect(decodeRetained(retained.get('devices/bob/state')!)?.payload.toString()).toBe('bob-on');

      // Retained messages sent on SUBSCRIBE follow the read scope. The retained marker of a second
      // SUBSCRIBE goes out after the first SUBSCRIBE's retained messages.
      await alice.client.publishAsync('devices/alice/marker', 'marker', { qos: 1, retain: true });
      expect((await alice.client.subscribeAsync('devices/+/state', { qos: 1 }))[0]!.qos).toBe(1);
      await alice.client.subscribeAsync('devices/alice/marker', { qos: 1 });
      await eventually(() => alice.received.some((m) => m.payload === 'marker'));
      expect(alice.received.map((m) => `${m.topic}=${m.payload}`)).toEqual(['devices/alice/state=alice-on', 'devices/alice/marker=marker']);
    } finally {
      await alice.end();
      await bob.end();
    }
  });

  it('a will outside the write scope is refused at CONNECT (v5 0x87, 3.1.1 code 5), as Mosquitto does', async () => {
    const will = { topic: 'devices/bob/status', payload: Buffer.from('offline'), qos: 1 as const, retain: true };
    expect(await connackCode(url(), { protocolVersion: 5, clientId: uniqueId('alice'), username: 'alice', password: await token('alice'), will })).toBe(0x87);
    expect(await connackCode(url(), { protocolVersion: 4, clientId: uniqueId('alice'), username: 'alice', password: await token('alice'), will })).toBe(5);
    // Its own will is fine.
    expect(await connackCode(url(), { protocolVersion: 5, clientId: uniqueId('alice'), username: 'alice', password: await token('alice'), will: { ...will, topic: 'devices/alice/status' } })).toBeUndefined();
  });

  it("connecting with another device's client id is refused (v5 0x87, 3.1.1 code 5); the holder stays connected and keeps receiving", async () => {
    const clientId = uniqueId('bob');
    const bob = await as('bob', { clientId, clean: false, properties: { sessionExpiryInterval: 300 } });
    let bobDisconnected = false;
    bob.client.on('close', () => (bobDisconnected = true));
    try {
      await bob.client.subscribeAsync('devices/bob/cmd', { qos: 1 });
      expect(await connackCode(url(), { protocolVersion: 5, clientId, clean: false, properties: { sessionExpiryInterval: 300 }, username: 'alice', password: await token('alice') })).toBe(0x87);
      expect(await connackCode(url(), { protocolVersion: 5, clientId, clean: true, username: 'alice', password: await token('alice') })).toBe(0x87);
      expect(await connackCode(url(), { protocolVersion: 4, clientId, clean: true, username: 'alice', password: await token('alice') })).toBe(5);
      const operator = await connectClient(url(), { protocolVersion: 5, username: 'operator', password: await token('operator', { admin: ['*'] }) });
      await operator.client.publishAsync('devices/bob/cmd', 'still-yours', { qos: 1 });
      await operator.end();
      await bob.waitFor(1);
      expect(bob.received.map((m) => m.payload)).toEqual(['still-yours']);
      expect(bobDisconnected).toBe(false);
    } finally {
      await bob.end();
    }
  });

  it("an offline device's persistent session and its queued message survive another principal's CONNECT (resume or clean start)", async () => {
    const clientId = uniqueId('bob');
    const session = { clientId, clean: false, properties: { sessionExpiryInterval: 300 } };
    const bob = await as('bob', session);
    await bob.client.subscribeAsync('devices/bob/cmd', { qos: 1 });
    await bob.end();
    const operator = await connectClient(url(), { protocolVersion: 5, username: 'operator', password: await token('operator', { admin: ['*'] }) });
    await operator.client.publishAsync('devices/bob/cmd', 'queued', { qos: 1 });
    await operator.end();

    expect(await connackCode(url(), { protocolVersion: 5, ...session, username: 'alice', password: await token('alice') })).toBe(0x87);
    expect(await connackCode(url(), { protocolVersion: 5, clientId, clean: true, username: 'alice', password: await token('alice') })).toBe(0x87);
    expect(await connackCode(url(), { protocolVersion: 4, clientId, clean: false, username: 'alice', password: await token('alice') })).toBe(5);

    const back = await as('bob', session);
    try {
      await back.waitFor(1);
      expect(back.received.map((m) => m.payload)).toEqual(['queued']);
    } finally {
      await back.end();
    }
  });

  it("a QoS 1 delivery left unacknowledged is re-checked when the session resumes: a token without that scope does not get it again", async () => {
    const clientId = uniqueId('alice');
    const wide = { read: [{ mqtt: 'devices/{sub}/#' }, { mqtt: 'fleet/#' }], write: DEVICE.write };
    const connect = async (grants: unknown): Promise<RawClient> => {
      const raw = await RawClient.open(gw.ports.mqtt, 5);
      raw.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId, clean: false, keepalive: 0, username: 'alice', password: Buffer.from(await token('alice', grants)), properties: { sessionExpiryInterval: 300 } });
      expect((await raw.next('connack')).reasonCode).toBe(0);
      return raw;
    };
    const first = await connect(wide);
    first.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '#', qos: 1, rh: 2 }] }); // no retained messages: live ones only
    await first.next('suback');
    await gw.core.produce(admin, topic, [{ key: Buffer.from('fleet/broadcast'), value: Buffer.from('for-the-wide-token') }]);
    const delivery = await first.next('publish');
    expect(delivery.topic).toBe('fleet/broadcast');
    first.destroy(); // never acknowledged: pending in the session

    const second = await connect(DEVICE);
    try {
      // Pending deliveries are resent before the subscriptions resume: a message after it proves the resend is over.
      await gw.core.produce(admin, topic, [{ key: Buffer.from('devices/alice/after'), value: Buffer.from('after') }]);
      await eventually(() => second.packets.some((p) => p.cmd === 'publish' && p.topic === 'devices/alice/after'));
      expect(second.packets.filter((p) => p.cmd === 'publish').map((p) => (p as { topic: string }).topic)).toEqual(['devices/alice/after']);
    } finally {
      second.destroy();
    }
  });

  it("$share/ groups need a group grant: mqtt-share/<share name>/* (the group name is mqtt-share/<share name>/<filter hash>)", async () => {
    const grants = { ...DEVICE, groups: ['mqtt-share/{sub}/*'] };
    const alice = await connectClient(url(), { protocolVersion: 5, clientId: uniqueId('alice'), username: 'alice', password: await token('alice', grants) });
    try {
      expect((await alice.client.subscribeAsync('$share/alice/devices/alice/#', { qos: 1 }))[0]!.qos).toBe(1);
      const refused = await alice.client.subscribeAsync('$share/bob/devices/alice/#', { qos: 1 }).catch((err: { packet?: { granted?: number[] } }) => err.packet?.granted);
      expect(refused).toEqual([0x87]);
      // A share name that only starts like the principal's id is another group.
      const prefixed = await alice.client.subscribeAsync('$share/alice-x/devices/alice/#', { qos: 1 }).catch((err: { packet?: { granted?: number[] } }) => err.packet?.granted);
      expect(prefixed).toEqual([0x87]);
    } finally {
      await alice.end();
    }
  });
  it.each(['mqttv311', 'mqttv5'])("mosquitto_sub (%s) as alice on '#' prints only alice's messages; mosquitto_pub as alice cannot write bob's", async (version) => {
    const port = String(gw.ports.mqtt);
    const cred = async (sub: string): Promise<string[]> => ['-h', '127.0.0.1', '-p', port, '-V', version, '-u', sub, '-P', await token(sub), '-i', uniqueId(sub)];
    const pub = async (sub: string, t: string, m: string): Promise<void> => {
      await run('mosquitto_pub', [...(await cred(sub)), '-t', t, '-m', m, '-q', '1']).done;
    };
    const tag = uniqueId(version);
    const sub = run('mosquitto_sub', [...(await cred('alice')), '-t', '#', '-q', '1', '-v', '-W', '30']);
    try {
      // mosquitto_sub has no "subscribed" signal: publish probes until one arrives.
      await eventually(
        async () => {
          await pub('alice', `devices/alice/${tag}/probe`, 'probe');
          return sub.stdout().includes('probe');
        },
        { timeoutMs: 15_000, intervalMs: 100 },
      );
      await pub('bob', `devices/bob/${tag}`, 'bob-secret');
      await pub('alice', `devices/bob/${tag}/forged`, 'alice-forged');
      await pub('alice', `devices/alice/${tag}/done`, 'done');
      await eventually(() => sub.stdout().includes(`devices/alice/${tag}/done done`));
      expect(sub.stdout()).not.toContain('bob-secret');
      expect(sub.stdout()).not.toContain('forged');
      const values = (await stored()).map((r) => r.value);
      expect(values).toContain('bob-secret');
      expect(values).not.toContain('alice-forged');
    } finally {
      sub.kill();
      await sub.done;
    }
  });
});

function run(cmd: string, args: string[]): { done: Promise<number | null>; stdout: () => string; kill: () => void } {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.resume();
  const done = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve(code));
  });
  return { done, stdout: () => stdout, kill: () => child.kill() };
}

describe('mqtt.clientIdPattern', () => {
  const SENSOR_KEY = 'sensor7-api-key-0123456789abcdef';
  let gw: TestGateway;
  const url = (): string => `mqtt://127.0.0.1:${gw.ports.mqtt}`;
  beforeAll(async () => {
    gw = await startTestGateway({
      backend: 'embedded',
      config: {
        auth: { jwt: { hs256Secret: SECRET }, apiKeys: [{ id: 'sensor7', sha256: createHash('sha256').update(SENSOR_KEY).digest('hex'), grants: DEVICE }] },
        mqtt: { defaultTopic: uniqueTopic('mqtt-pattern'), clientIdPattern: '{sub}-*' },
      },
    });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('accepts client ids matching {sub}-* and server-assigned ids; refuses others with 0x87 (v5) / 5 (3.1.1)', async () => {
    const password = await token('alice');
    expect(await connackCode(url(), { protocolVersion: 5, clientId: 'alice-sensor-1', username: 'alice', password })).toBeUndefined();
    expect(await connackCode(url(), { protocolVersion: 5, clientId: 'bob-sensor-1', username: 'alice', password })).toBe(0x87);
    expect(await connackCode(url(), { protocolVersion: 5, clientId: 'alice', username: 'alice', password })).toBe(0x87);
    expect(await connackCode(url(), { protocolVersion: 4, clientId: 'bob-sensor-1', username: 'alice', password })).toBe(5);
    // An empty client id gets a server-assigned one, which is nobody else's [MQTT-5:3.1.3-6].
    const assigned = await mqtt.connectAsync(url(), { protocolVersion: 5, clientId: '', username: 'alice', password, reconnectPeriod: 0 });
    await assigned.endAsync();
  });

  it("an API key's {sub} is its id (principal apikey:<id>): sensor7-* ids only", async () => {
    expect(await connackCode(url(), { protocolVersion: 5, clientId: 'sensor7-a', username: 'sensor7', password: SENSOR_KEY })).toBeUndefined();
    expect(await connackCode(url(), { protocolVersion: 5, clientId: 'alice-a', username: 'sensor7', password: SENSOR_KEY })).toBe(0x87);
    expect(await connackCode(url(), { protocolVersion: 5, clientId: 'apikey:sensor7-a', username: 'sensor7', password: SENSOR_KEY })).toBe(0x87);
  });
});
