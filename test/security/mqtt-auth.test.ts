/**
 * MQTT authentication and authorization, decided in the core: the password carries the JWT;
 * denials come back as the version's reason codes.
 */
import { SignJWT } from 'jose';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';

const SECRET = 'mqtt-auth-test-secret-0123456789';

function token(topics: { read?: string[]; write?: string[] }, exp: string | number = '5m'): Promise<string> {
  return new SignJWT({ topics }).setProtectedHeader({ alg: 'HS256' }).setSubject('device-7').setExpirationTime(exp).sign(new TextEncoder().encode(SECRET));
}

describe('MQTT with JWT authentication', () => {
  let gw: TestGateway;
  const open = uniqueTopic('mqtt-open');
  const secret = uniqueTopic('mqtt-secret');
  beforeAll(async () => {
    gw = await startTestGateway({
      backend: 'embedded',
      config: { auth: { jwt: { hs256Secret: SECRET } }, mqtt: { routes: [{ filter: 'secret/#', topic: secret }], defaultTopic: open } },
    });
    // Both Kafka topics exist, so subscriptions are decided by grants alone.
    const admin = await gw.core.authenticate({ token: await token({ write: ['*'] }) });
    const { createContext } = await import('../../gateway/context.js');
    const ctx = createContext({ protocol: 'test', log: gw.core.log, principal: admin });
    await gw.core.produce(ctx, open, [{ key: Buffer.from('x'), value: Buffer.from('seed') }]);
    await gw.core.produce(ctx, secret, [{ key: Buffer.from('secret/x'), value: Buffer.from('seed') }]);
  });
  afterAll(async () => {
    await gw?.close();
  });
  const url = () => `mqtt://127.0.0.1:${gw.ports.mqtt}`;

  it('refuses a CONNECT without credentials: 0x86 in v5, return code 4 in 3.1.1', async () => {
    const v5 = await mqtt.connectAsync(url(), { protocolVersion: 5, reconnectPeriod: 0 }).catch((e: { code?: number }) => e);
    expect((v5 as { code?: number }).code).toBe(0x86);
    const v3 = await mqtt.connectAsync(url(), { protocolVersion: 4, reconnectPeriod: 0 }).catch((e: { code?: number }) => e);
    expect((v3 as { code?: number }).code).toBe(4);
    const forged = await mqtt.connectAsync(url(), { protocolVersion: 5, reconnectPeriod: 0, username: 'x', password: 'eyJhbGciOiJub25lIn0.e30.' }).catch((e: { code?: number }) => e);
    expect((forged as { code?: number }).code).toBe(0x86);
  });

  it('denies publish and subscribe on topics the token does not grant, and allows the rest', async () => {
    const client = await mqtt.connectAsync(url(), {
      protocolVersion: 5,
      reconnectPeriod: 0,
      clientId: uniqueId('dev'),
      username: 'device-7',
      password: await token({ read: [open], write: [open] }),
    });
    const denied = await client.subscribeAsync('secret/#', { qos: 1 }).catch((err: { packet?: { granted?: number[] } }) => err.packet?.granted);
    expect(denied).toEqual([0x87]);
    const granted = await client.subscribeAsync('home/#', { qos: 1 });
    expect(granted[0]!.qos).toBe(1);
    const deniedPub = await client.publishAsync('secret/door', 'open', { qos: 1 }).then(
      (packet) => (packet as { reasonCode?: number } | undefined)?.reasonCode,
      (err: { code?: number }) => err.code,
    );
    expect(deniedPub).toBe(0x87);
    const got: string[] = [];
    client.on('message', (topic, payload) => got.push(`${topic}=${payload.toString()}`));
    await client.publishAsync('home/lamp', 'on', { qos: 1 });
    await eventually(() => got.includes('home/lamp=on'));
    expect((await gw.core.offsets((await import('../../gateway/context.js')).createContext({ protocol: 'test', log: gw.core.log }), secret))[0]!.latest).toBe(1n);
    await client.endAsync();
  });

  it('ends the connection with 0x87 when the token expires mid-session', async () => {
    const exp = Math.floor(Date.now() / 1000) + 2;
    const client = await mqtt.connectAsync(url(), { protocolVersion: 5, reconnectPeriod: 0, username: 'device-7', password: await token({ read: ['*'], write: ['*'] }, exp) });
    let reason: number | undefined;
    client.on('disconnect', (packet) => (reason = packet.reasonCode));
    await eventually(() => reason !== undefined || client.disconnected, { timeoutMs: 8000, what: 'server disconnect at expiry' });
    expect(reason).toBe(0x87);
    await client.endAsync(true);
  });
  /** streamgate_auth_failures_total{kind="denied"} — lets a test wait for a denial that has no reply packet. */
  async function denials(): Promise<number> {
    const m = /streamgate_auth_failures_total\{kind="denied"\} (\d+)/.exec(await gw.core.renderMetrics());
    return m === null ? 0 : Number(m[1]);
  }
  const latest = async (topic: string): Promise<bigint> => {
    const { createContext } = await import('../../gateway/context.js');
    return (await gw.core.offsets(createContext({ protocol: 'test', log: gw.core.log }), topic))[0]!.latest;
  };

  it('a will on a topic the client may not write is refused at CONNECT (v5 0x87, 3.1.1 code 5), never published', async () => {
    const before = await denials();
    const secretEnd = await latest(secret);
    const options = {
      reconnectPeriod: 0,
      clientId: uniqueId('will'),
      username: 'device-7',
      password: await token({ read: [open], write: [open] }),
      will: { topic: 'secret/alarm', payload: Buffer.from('smuggled'), qos: 1 as const, retain: false },
    };
    const v5 = await mqtt.connectAsync(url(), { ...options, protocolVersion: 5 }).catch((e: { code?: number }) => e);
    expect((v5 as { code?: number }).code).toBe(0x87);
    const v3 = await mqtt.connectAsync(url(), { ...options, protocolVersion: 4 }).catch((e: { code?: number }) => e);
    expect((v3 as { code?: number }).code).toBe(5);
    expect(await denials()).toBeGreaterThan(before); // audited by the core
    expect(await latest(secret)).toBe(secretEnd);
  });

  it('a filter spanning an allowed and a denied Kafka topic reads the allowed one only; one that can match in none is refused', async () => {
    const client = await mqtt.connectAsync(url(), { protocolVersion: 5, reconnectPeriod: 0, clientId: uniqueId('span'), username: 'device-7', password: await token({ read: [secret] }) });
    const got: string[] = [];
    client.on('message', (topic, payload) => got.push(`${topic}=${payload.toString()}`));
    // '#' reads the route's topic (allowed) and the default topic (denied): granted, for the allowed one.
    expect((await client.subscribeAsync('#', { qos: 1 }))[0]!.qos).toBe(1);
    // 'home/#' reads only the default topic: refused.
    const refused = await client.subscribeAsync('home/#', { qos: 1 }).catch((err: { packet?: { granted?: number[] } }) => err.packet?.granted);
    expect(refused).toEqual([0x87]);
    const admin = await gw.core.authenticate({ token: await token({ write: ['*'] }) });
    const { createContext } = await import('../../gateway/context.js');
    const ctx = createContext({ protocol: 'test', log: gw.core.log, principal: admin });
    await gw.core.produce(ctx, open, [{ key: Buffer.from('home/one'), value: Buffer.from('0') }]);
    await gw.core.produce(ctx, secret, [{ key: Buffer.from('secret/one'), value: Buffer.from('1') }]);
    await eventually(() => got.includes('secret/one=1'));
    await gw.core.produce(ctx, secret, [{ key: Buffer.from('secret/two'), value: Buffer.from('2') }]);
    await eventually(() => got.includes('secret/two=2'));
    expect(got).toEqual(['secret/one=1', 'secret/two=2']);
    await client.endAsync();
  });
});
