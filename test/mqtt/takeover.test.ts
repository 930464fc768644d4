/**
 * Session takeover across gateway instances [MQTT-5:3.1.4-3] [MQTT-3.1.1:3.1.4-2]: two gateways on the test Kafka, one
 * client id connecting through A and then through B. The old connection is told (v5 DISCONNECT
 * 0x8E) or closed (3.1.1), B continues the persistent session A handed over, messages go to B
 * only, and the `mqtt-connections` entry follows the connection that holds the client id.
 */
import mqtt, { type IClientOptions, type IConnackPacket, type IDisconnectPacket } from 'mqtt';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeOwner, encodeOwner, type OwnerEntry } from '../../adapters/mqtt/ownership.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';
import { connectClient, type Received, type TestClient } from './helpers.js';

const TAKEOVER_WAIT_MS = 1500;
interface LogLine {
  msg: string;
  clientId?: string;
  previous?: string;
}
/** Gateway B's log lines, for asserting which way a CONNECT went (waited or not) without timing it. */
const bLog: LogLine[] = [];
const prefix = uniqueId('to');
let a: TestGateway;
let b: TestGateway;

beforeAll(async () => {
  const config = {
    mqtt: { routes: [{ filter: `${prefix}/#`, topic: uniqueTopic('mqtt-takeover') }], sessionFlushMs: 100, takeoverWaitMs: TAKEOVER_WAIT_MS },
    topics: { waitPollMs: 200 },
  };
  // One after the other: two instances creating the shared tables at the same moment race (see scale-out.test.ts).
  a = await startTestGateway({ config });
  b = await startTestGateway({ config, log: pino({ level: 'info' }, { write: (line: string) => void bLog.push(JSON.parse(line) as LogLine) }) });
});

afterAll(async () => {
  await a?.close();
  await b?.close();
});

const mqttUrl = (g: TestGateway): string => `mqtt://127.0.0.1:${g.ports.mqtt}`;

/** The connections-table entry for a client id as gateway `g`'s copy of the table has it. */
async function ownerOn(g: TestGateway, clientId: string): Promise<OwnerEntry | undefined> {
  return decodeOwner((await g.core.table('mqtt-connections')).get(clientId));
}

/**
 * Writes a marker entry through `from` and waits until `to`'s copy has it: the table is one
 * partition, so everything written before the marker has been applied on `to` as well.
 */
async function syncTables(from: TestGateway, to: TestGateway): Promise<void> {
  const key = uniqueId('sync');
  const table = await from.core.table('mqtt-connections');
  await table.set(key, encodeOwner({ instance: 'test-sync', nonce: key, since: Date.now(), persistent: false }));
  const target = await to.core.table('mqtt-connections');
  await eventually(() => target.get(key) !== undefined, { what: 'sync marker on the other instance' });
  await table.delete(key);
}

interface Observed extends TestClient {
  connack: IConnackPacket;
  disconnects: IDisconnectPacket[];
  closed: () => boolean;
}

/** Like connectClient, plus the CONNACK, the DISCONNECTs received and whether the connection closed. */
async function connectObserved(url: string, options: IClientOptions): Promise<Observed> {
  const received: Received[] = [];
  const disconnects: IDisconnectPacket[] = [];
  let closed = false;
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 10_000, ...options });
  // Listeners before CONNECT goes out: a resumed session's PUBLISHes may come with the CONNACK.
  client.on('message', (topic, payload, packet) => received.push({ topic, payload: payload.toString(), packet }));
  client.on('disconnect', (packet) => disconnects.push(packet));
  client.on('close', () => (closed = true));
  // Kept, not thrown: after CONNACK these tests look at `disconnects` / `closed`; before it, the close rejects.
  const errors: Error[] = [];
  client.on('error', (err) => errors.push(err));
  const connack = await new Promise<IConnackPacket>((resolve, reject) => {
    client.once('connect', resolve);
    client.once('close', () => reject(new Error(`connection closed before CONNACK${errors.length > 0 ? `: ${errors[0]!.message}` : ''}`)));
  });
  return {
    client,
    received,
    connack,
    disconnects,
    closed: () => closed,
    waitFor: (n, timeoutMs = 10_000) => eventually(() => received.length >= n && received, { timeoutMs, what: `${n} MQTT messages` }),
    end: async (force = false) => {
      await client.endAsync(force);
    },
  };
}

const payloads = (received: Received[]): string[] => received.map((m) => m.payload);

describe('MQTT takeover across gateway instances', () => {
  it('v5: connecting through B disconnects the A connection with 0x8E; B continues the session; each message goes to B once', async () => {
    const clientId = uniqueId('dev');
    const opts: IClientOptions = { protocolVersion: 5, clientId, clean: false, properties: { sessionExpiryInterval: 300 } };
    const pub = await connectClient(mqttUrl(a), { protocolVersion: 5, clientId: uniqueId('pub') });
    const onA = await connectObserved(mqttUrl(a), opts);
    try {
      await onA.client.subscribeAsync(`${prefix}/${clientId}/cmd/#`, { qos: 1 });
      await pub.client.publishAsync(`${prefix}/${clientId}/cmd/0`, 'm0', { qos: 1 });
      await onA.waitFor(1);
      const ownerA = await ownerOn(a, clientId);
      expect(ownerA).toMatchObject({ persistent: true });

      const started = Date.now();
      const onB = await connectObserved(mqttUrl(b), opts);
      const connectMs = Date.now() - started;
      try {
        // [MQTT-5:3.1.4-3] the old connection is told why (v5) and closed.
        await eventually(() => onA.disconnects.length > 0 && onA.closed(), { timeoutMs: 5000, what: 'DISCONNECT 0x8E on A' });
        const takeoverMs = Date.now() - started;
        expect(onA.disconnects[0]!.reasonCode).toBe(0x8e);
        // The session A handed over: present, with its subscription (no SUBSCRIBE on B).
        expect(onB.connack.sessionPresent).toBe(true);
        // The handover finished before CONNACK: well inside the wait bound, not by timing out.
        expect(connectMs).toBeLessThan(TAKEOVER_WAIT_MS);
        console.info(`takeover: CONNACK on B after ${connectMs} ms, A closed after ${takeoverMs} ms`);

        // The entry names B's connection, on both instances' copies; A's cleanup did not delete it
        // (A released its connection before B's CONNACK, and the sync orders everything A wrote).
        const ownerB = await ownerOn(b, clientId);
        expect(ownerB).toBeDefined();
        expect(ownerB!.instance).not.toBe(ownerA!.instance);
        expect(ownerB!.takesOver).toBe(ownerA!.nonce);
        await syncTables(b, a);
        expect(await ownerOn(a, clientId)).toEqual(ownerB);

        // Published through A after the takeover: delivered once, to B, never on the old connection.
        const receivedOnA = onA.received.length;
        await pub.client.publishAsync(`${prefix}/${clientId}/cmd/1`, 'm1', { qos: 1 });
        await pub.client.publishAsync(`${prefix}/${clientId}/cmd/2`, 'm2', { qos: 1 });
        await eventually(() => payloads(onB.received).includes('m2'), { what: 'm2 on B' });
        expect(payloads(onB.received).filter((p) => p === 'm1')).toHaveLength(1);
        expect(payloads(onB.received)).not.toContain('m0');
        expect(onA.received).toHaveLength(receivedOnA);

        // B's session works both ways.
        await onB.client.publishAsync(`${prefix}/${clientId}/cmd/3`, 'm3', { qos: 1 });
        await eventually(() => payloads(onB.received).includes('m3'), { what: 'm3 on B' });

        // A clean disconnect removes B's entry (from both copies).
        await onB.end();
        await eventually(async () => (await ownerOn(b, clientId)) === undefined, { what: 'entry deleted on B' });
        await eventually(async () => (await ownerOn(a, clientId)) === undefined, { what: 'entry deleted on A' });
      } finally {
        await onB.end(true);
      }
    } finally {
      await onA.end(true);
      await pub.end();
    }
  });

  it('v3.1.1: the A connection is closed (3.1.1 has no DISCONNECT from the server); B resumes the session', async () => {
    const clientId = uniqueId('dev311');
    const opts: IClientOptions = { protocolVersion: 4, clientId, clean: false };
    const onA = await connectObserved(mqttUrl(a), opts);
    try {
      await onA.client.subscribeAsync(`${prefix}/${clientId}/#`, { qos: 1 });
      const onB = await connectObserved(mqttUrl(b), opts);
      try {
        await eventually(() => onA.closed(), { timeoutMs: 5000, what: 'A connection closed' });
        expect(onA.disconnects).toHaveLength(0);
        expect(onB.connack.sessionPresent).toBe(true);
        const pub = await connectClient(mqttUrl(b), { protocolVersion: 4, clientId: uniqueId('pub') });
        await pub.client.publishAsync(`${prefix}/${clientId}/x`, 'hello', { qos: 1 });
        await eventually(() => payloads(onB.received).includes('hello'), { what: 'hello on B' });
        expect(onA.received).toHaveLength(0);
        await pub.end();
      } finally {
        await onB.end();
      }
    } finally {
      await onA.end(true);
    }
  });

  it('back to A after B changed the session: A reads the stored session, not its stale copy', async () => {
    const clientId = uniqueId('back');
    const opts: IClientOptions = { protocolVersion: 5, clientId, clean: false, properties: { sessionExpiryInterval: 300 } };
    const first = await connectObserved(mqttUrl(a), opts);
    await first.client.subscribeAsync(`${prefix}/${clientId}/one`, { qos: 1 });
    await first.end(); // offline on A: A keeps the session in memory
    const second = await connectObserved(mqttUrl(b), opts);
    expect(second.connack.sessionPresent).toBe(true);
    await second.client.subscribeAsync(`${prefix}/${clientId}/two`, { qos: 1 });
    await second.end();
    await syncTables(b, a);
    const third = await connectObserved(mqttUrl(a), opts);
    try {
      expect(third.connack.sessionPresent).toBe(true);
      const pub = await connectClient(mqttUrl(b), { protocolVersion: 5, clientId: uniqueId('pub') });
      await pub.client.publishAsync(`${prefix}/${clientId}/two`, 'via-two', { qos: 1 });
      await eventually(() => payloads(third.received).includes('via-two'), { what: 'the subscription made on B, delivered on A' });
      await pub.end();
    } finally {
      await third.end();
    }
  });

  it('an in-memory session another instance superseded without a hand-over (here: dropped by a clean start elsewhere) is not resumed', async () => {
    const clientId = uniqueId('superseded');
    const opts: IClientOptions = { protocolVersion: 5, clientId, clean: false, properties: { sessionExpiryInterval: 300 } };
    const first = await connectObserved(mqttUrl(a), opts);
    await first.client.subscribeAsync(`${prefix}/${clientId}/one`, { qos: 1 });
    await first.end(); // offline on A: A keeps the session in memory
    // A's last session write precedes the release of its claim.
    await eventually(async () => (await ownerOn(a, clientId)) === undefined, { what: 'A released the client id' });
    // What a clean start through another instance leaves, when A never heard of that connection.
    await (await a.core.table('mqtt-sessions')).delete(clientId);
    const again = await connectObserved(mqttUrl(a), opts);
    try {
      expect(again.connack.sessionPresent).toBe(false);
    } finally {
      await again.end();
    }
  });

  it('an entry left by an instance that is gone (no heartbeat): CONNECT does not wait for a hand-over and reads the stored session', async () => {
    const clientId = uniqueId('stale');
    const gone = uniqueId('gone');
    // What a crashed instance leaves behind: a persistent owner that will never hand over, and no
    // live entry in the instances table.
    expect(b.core.instanceAlive(gone)).toBe(false);
    const table = await a.core.table('mqtt-connections');
    await table.set(clientId, encodeOwner({ instance: gone, nonce: uniqueId('n'), since: Date.now(), persistent: true }));
    await syncTables(a, b);
    const c = await connectObserved(mqttUrl(b), { protocolVersion: 5, clientId, clean: false, properties: { sessionExpiryInterval: 60 } });
    try {
      expect(c.connack.sessionPresent).toBe(false);
      const owner = await ownerOn(b, clientId);
      expect(owner?.instance).toBe(b.core.instanceId);
      expect(owner?.persistent).toBe(true);
      // The claim names no previous owner to wait for: B skipped the hand-over wait, and said why.
      expect(owner?.takesOver).toBeUndefined();
      const lines = bLog.filter((l) => l.clientId === clientId || l.previous === gone);
      expect(lines.map((l) => l.msg)).toContain('previous MQTT owner instance is gone; not waiting for its hand-over');
      expect(lines.find((l) => l.msg.startsWith('previous MQTT owner'))?.previous).toBe(gone);
      expect(bLog.filter((l) => l.previous === gone).map((l) => l.msg)).not.toContain('no hand-over from the previous gateway instance in time; reading the stored session');
    } finally {
      await c.end();
    }
    await eventually(async () => (await ownerOn(b, clientId)) === undefined, { what: 'entry deleted at disconnect' });
  });

  it('an entry of a live instance that does not hand over: CONNECT waits at most takeoverWaitMs, then reads the stored session', async () => {
    const clientId = uniqueId('silent');
    // A's instance is alive, but it holds no connection with this nonce: it never writes a marker.
    const nonce = uniqueId('n');
    expect(b.core.instanceAlive(a.core.instanceId)).toBe(true);
    const table = await a.core.table('mqtt-connections');
    await table.set(clientId, encodeOwner({ instance: a.core.instanceId, nonce, since: Date.now(), persistent: true }));
    await syncTables(a, b);
    const started = Date.now();
    const c = await connectObserved(mqttUrl(b), { protocolVersion: 5, clientId, clean: false, properties: { sessionExpiryInterval: 60 } });
    const elapsed = Date.now() - started;
    try {
      expect(elapsed).toBeGreaterThanOrEqual(TAKEOVER_WAIT_MS - 50);
      expect(elapsed).toBeLessThan(TAKEOVER_WAIT_MS + 3000);
      expect(c.connack.sessionPresent).toBe(false);
      const owner = await ownerOn(b, clientId);
      expect(owner?.takesOver).toBe(nonce);
      expect(bLog.filter((l) => l.previous === a.core.instanceId).map((l) => l.msg)).toContain('no hand-over from the previous gateway instance in time; reading the stored session');
    } finally {
      await c.end();
    }
    await eventually(async () => (await ownerOn(b, clientId)) === undefined, { what: 'entry deleted at disconnect' });
  });
});
