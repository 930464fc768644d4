/**
 * A client id belongs to the principal that created its session, also across gateway instances on
 * one Kafka (issue #16, finding 6): another principal connecting through another instance is
 * refused before it writes a claim, so the holder's connection on the first instance is never
 * taken over and its session (with what is queued for it) is never read or discarded.
 */
import { SignJWT } from 'jose';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeOwner, encodeOwner } from '../../adapters/mqtt/ownership.js';
import { connectClient, type TestClient } from '../mqtt/helpers.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';

const SECRET = 'mqtt-clientid-test-secret-0123456789';
const DEVICE = { read: [{ mqtt: 'devices/{sub}/#' }], write: [{ mqtt: 'devices/{sub}/#' }] };
const token = (sub: string, topics: unknown = DEVICE): Promise<string> =>
  new SignJWT({ topics }).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setExpirationTime('10m').sign(new TextEncoder().encode(SECRET));

let a: TestGateway;
let b: TestGateway;
// Principal ids unique to this run: the tables live in the shared test broker.
const alice = uniqueId('alice');
const bob = uniqueId('bob');

beforeAll(async () => {
  const config = { auth: { jwt: { hs256Secret: SECRET } }, mqtt: { defaultTopic: uniqueTopic('mqtt-clientid'), sessionFlushMs: 100, takeoverWaitMs: 1500 }, topics: { waitPollMs: 200 } };
  // One after the other: two instances creating the shared tables at the same moment race.
  a = await startTestGateway({ config });
  b = await startTestGateway({ config });
});
afterAll(async () => {
  await a?.close();
  await b?.close();
});

const url = (g: TestGateway): string => `mqtt://127.0.0.1:${g.ports.mqtt}`;
const owner = async (g: TestGateway, clientId: string) => decodeOwner((await g.core.table('mqtt-connections')).get(clientId));

async function connackCode(g: TestGateway, options: mqtt.IClientOptions): Promise<number | undefined> {
  const result = await mqtt.connectAsync(url(g), { reconnectPeriod: 0, connectTimeout: 10_000, ...options }).catch((e: { code?: number }) => e);
  if (result instanceof mqtt.MqttClient) {
    await result.endAsync(true);
    return undefined;
  }
  return result.code;
}

async function operatorPublish(g: TestGateway, topic: string, payload: string): Promise<void> {
  const op = await connectClient(url(g), { protocolVersion: 5, username: 'operator', password: await token('operator', { admin: ['*'] }) });
  await op.client.publishAsync(topic, payload, { qos: 1 });
  await op.end();
}

describe('MQTT client ids across gateway instances', () => {
  it("another principal connecting through instance B with a client id held on A is refused; A's connection and claim are untouched", async () => {
    const clientId = uniqueId('bob-dev');
    const onA = await connectClient(url(a), { protocolVersion: 5, clientId, clean: false, properties: { sessionExpiryInterval: 300 }, username: bob, password: await token(bob) });
    let closed = false;
    onA.client.on('close', () => (closed = true));
    try {
      await onA.client.subscribeAsync(`devices/${bob}/cmd`, { qos: 1 });
      const claim = await owner(a, clientId);
      expect(claim).toMatchObject({ instance: a.core.instanceId, principal: bob });
      // B's copy may not have A's claim yet when the CONNECT arrives: the check syncs first.
      expect(await connackCode(b, { protocolVersion: 5, clientId, clean: false, properties: { sessionExpiryInterval: 300 }, username: alice, password: await token(alice) })).toBe(0x87);
      expect(await connackCode(b, { protocolVersion: 4, clientId, clean: true, username: alice, password: await token(alice) })).toBe(5);
      // No claim was written: both copies still name A's connection.
      expect((await owner(b, clientId))?.nonce).toBe(claim!.nonce);
      expect((await owner(a, clientId))?.nonce).toBe(claim!.nonce);
      await operatorPublish(b, `devices/${bob}/cmd`, 'still-yours');
      await onA.waitFor(1);
      expect(onA.received.map((m) => m.payload)).toEqual(['still-yours']);
      expect(closed).toBe(false);
    } finally {
      await onA.end();
    }
  });

  it("an offline session stored by A keeps its queued message when another principal tries it through B; its owner resumes it through B", async () => {
    const clientId = uniqueId('bob-dev');
    const session = { protocolVersion: 5 as const, clientId, clean: false, properties: { sessionExpiryInterval: 300 } };
    const first = await connectClient(url(a), { ...session, username: bob, password: await token(bob) });
    await first.client.subscribeAsync(`devices/${bob}/cmd`, { qos: 1 });
    await first.end();
    await operatorPublish(a, `devices/${bob}/cmd`, 'queued');

    expect(await connackCode(b, { ...session, username: alice, password: await token(alice) })).toBe(0x87);
    expect(await connackCode(b, { protocolVersion: 5, clientId, clean: true, username: alice, password: await token(alice) })).toBe(0x87);

    const back = await connectClient(url(b), { ...session, username: bob, password: await token(bob) });
    try {
      await back.waitFor(1);
      expect(back.received.map((m) => m.payload)).toEqual(['queued']);
    } finally {
      await back.end();
    }
  });

  it('a racing claim by another principal (written past the check) does not take over: the holder stays and re-asserts its claim naming the other as refused', async () => {
    const clientId = uniqueId('bob-dev');
    const onA = await connectClient(url(a), { protocolVersion: 5, clientId, username: bob, password: await token(bob) });
    let closed = false;
    onA.client.on('close', () => (closed = true));
    try {
      const held = (await owner(a, clientId))!;
      // What B would have written had alice's CONNECT there raced past the ownership check.
      const racing = uniqueId('nonce');
      await (await b.core.table('mqtt-connections')).set(clientId, encodeOwner({ instance: b.core.instanceId, nonce: racing, since: Date.now(), persistent: false, principal: alice }));
      await eventually(async () => (await owner(b, clientId))?.refuses === racing, { what: "A's re-asserted claim on B" });
      expect(await owner(b, clientId)).toMatchObject({ instance: a.core.instanceId, nonce: held.nonce, principal: bob, refuses: racing });
      await operatorPublish(b, `devices/${bob}/after`, 'after');
      await onA.client.subscribeAsync(`devices/${bob}/after`, { qos: 1 });
      await operatorPublish(b, `devices/${bob}/after`, 'after-subscribe');
      await onA.waitFor(1);
      expect(closed).toBe(false);
    } finally {
      await onA.end();
    }
  });

  it("the connection a re-asserted claim names as refused is closed by its instance (v5 DISCONNECT 0x87), without writing its session", async () => {
    const clientId = uniqueId('dev');
    // The connection that lost the race (its principal's claim came second), on B.
    const loser = await connectClient(url(b), { protocolVersion: 5, clientId, clean: false, properties: { sessionExpiryInterval: 300 }, username: alice, password: await token(alice) });
    const disconnects: number[] = [];
    loser.client.on('disconnect', (packet) => disconnects.push(packet.reasonCode ?? 0));
    const sessions = await b.core.table('mqtt-sessions');
    expect(sessions.get(clientId)).toBeDefined();
    let writes = 0;
    const stop = sessions.onChange((key) => void (key === clientId && writes++));
    const lost = (await owner(b, clientId))!;
    // What A writes when it re-asserts the holder's earlier claim over the loser's.
    await (await a.core.table('mqtt-connections')).set(clientId, encodeOwner({ instance: a.core.instanceId, nonce: uniqueId('nonce'), since: Date.now(), persistent: false, principal: bob, refuses: lost.nonce }));
    await eventually(() => disconnects.length > 0 && !loser.client.connected, { what: 'the refused connection closed' });
    expect(disconnects).toEqual([0x87]);
    await loser.end(true);
    // Its close wrote nothing (a close normally writes the persistent session): a marker written to
    // the sessions table after the close arrives with no session write before it.
    const marker = uniqueId('marker');
    await sessions.set(marker, Buffer.from('{}'));
    await eventually(() => sessions.get(marker) !== undefined);
    stop();
    expect(writes).toBe(0);
    await sessions.delete(marker);
    expect((await owner(b, clientId))?.refuses).toBe(lost.nonce);
  });
});
