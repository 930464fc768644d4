/**
 * Finding 4 of issue 16, per protocol: the gateway's internal state topics
 * (`__streamgate-{mqtt-sessions,mqtt-retained,mqtt-connections,group-members,instances,rest-consumers}`,
 * and Kafka's own `__` topics) are unreachable by every client operation on REST (v1 produce,
 * fetch, offsets, SSE; v2 produce, describe, consumer subscribe incl. `topic_pattern`), WebSocket
 * (publish, subscribe) and gRPC (Produce, Fetch, GetOffsets, Subscribe, Session) — for the
 * anonymous client of the zero-setup default (no authentication, Kafka backend) AND for a
 * principal granted `read/write/admin: ['*']` (a `*` grant means "all user topics").
 *
 * The attacks of the finding are replayed end to end: forged `mqtt-connections`, `mqtt-sessions`,
 * `group-members` and `rest-consumers` entries (built from the real entries the gateway wrote),
 * sent through every protocol, are refused; the live MQTT client stays connected, the session
 * still delivers its queued QoS 1 message on reconnect, the group member keeps its partition and
 * the REST consumer instance keeps serving its owner. Listings never show internal topics.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Context } from '../../gateway/api.js';
import { createContext } from '../../gateway/context.js';
import { tableTopic } from '../../gateway/table.js';
import { connectClient } from '../mqtt/helpers.js';
import { SessionRecorder } from '../grpc/helpers.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';
import { bearer, GrpcSubscription, grpcStub, http, openWs, SECRET, signToken, SseReader, startCapturedGateway, unary, type CapturedGateway, type WsClient } from './helpers.js';
import type { StreamGatewayClient } from '../../clients/ts/node/index.js';

const TABLES = ['mqtt-sessions', 'mqtt-retained', 'mqtt-connections', 'group-members', 'instances', 'rest-consumers'] as const;
const INTERNAL = TABLES.map((t) => tableTopic(t));
const V2 = 'application/vnd.kafka.v2+json';

interface Mode {
  name: string;
  backend: 'kafka' | 'embedded';
  config: Record<string, unknown>;
}

const MODES: Mode[] = [
  { name: 'anonymous client, no authentication configured (zero-setup default, Kafka)', backend: 'kafka', config: {} },
  { name: "principal granted read/write/admin ['*'] (embedded)", backend: 'embedded', config: { auth: { jwt: { hs256Secret: SECRET } } } },
];

describe.each(MODES)('internal topics are sealed: $name', (mode) => {
  let gw: CapturedGateway;
  let base: string;
  let token: string | undefined;
  let stub: StreamGatewayClient;
  let ws: WsClient;
  let admin: Context;
  const headers = (): Record<string, string> => (token === undefined ? {} : { authorization: `Bearer ${token}` });
  const md = (): grpc.Metadata => (token === undefined ? new grpc.Metadata() : bearer(token));
  const mqttAuth = () => (token === undefined ? {} : { username: 'root', password: token });
  /** Internal topics of this backend: the gateway's tables, and on Kafka its own offsets topic. */
  const internal = (): string[] => (mode.backend === 'kafka' ? [...INTERNAL, '__consumer_offsets'] : INTERNAL);

  beforeAll(async () => {
    gw = await startCapturedGateway({ backend: mode.backend, level: 'warn', config: mode.config });
    base = gw.httpUrl;
    if (mode.config.auth !== undefined) token = await signToken({ sub: 'root', topics: { read: ['*'], write: ['*'], admin: ['*'] } });
    stub = grpcStub(gw.ports.grpc);
    const opened = await openWs(gw.wsUrl, { headers: headers() });
    expect(opened.status).toBe(101);
    ws = opened.client!;
    admin = createContext({ protocol: 'test', log: gw.core.log, ...(token === undefined ? {} : { principal: await gw.core.authenticate({ token }) }) });
    // Every table exists and has content: an MQTT session, a REST consumer instance, a group member.
    const c = await connectClient(`mqtt://127.0.0.1:${gw.ports.mqtt}`, { protocolVersion: 5, clientId: uniqueId('seed'), clean: false, properties: { sessionExpiryInterval: 300 }, ...mqttAuth() });
    await c.client.publishAsync('seed/retained', 'r', { qos: 1, retain: true });
    await c.end();
    for (const t of TABLES) await gw.core.table(t);
  }, 60_000);
  afterAll(async () => {
    ws?.close();
    stub?.close();
    await gw?.close();
  });

  /** Sends one write of `key`/`value` to `topic` through every protocol; each must be refused with PERMISSION_DENIED in its own terms. */
  async function forgeEverywhere(topic: string, key: string, value: Buffer | null): Promise<void> {
    const b64 = value === null ? null : value.toString('base64');
    const v1 = await http(`${base}/v1/topics/${topic}/records`, { method: 'POST', headers: headers(), body: JSON.stringify({ records: [{ key, value: b64, ...(b64 === null ? {} : { encoding: 'base64' }) }] }) });
    expect([v1.status, v1.json().error_code, v1.json().code], `REST v1 produce ${topic}`).toEqual([403, 40301, 'PERMISSION_DENIED']);
    const v2 = await http(`${base}/topics/${topic}`, {
      method: 'POST',
      headers: { ...headers(), 'content-type': 'application/vnd.kafka.binary.v2+json' },
      body: JSON.stringify({ records: [{ key: Buffer.from(key).toString('base64'), value: b64 }] }),
    });
    expect([v2.status, v2.json().error_code], `REST v2 produce ${topic}`).toEqual([403, 40301]);
    const id = uniqueId('p');
    ws.send({ op: 'publish', id, topic, records: [{ key, value: b64, ...(b64 === null ? {} : { encoding: 'base64' }) }] });
    expect(await ws.waitFor((f) => f.id === id), `WebSocket publish ${topic}`).toMatchObject({ op: 'error', code: 'PERMISSION_DENIED' });
    const record = { key: Buffer.from(key), ...(value === null ? {} : { value }) };
    const g = await unary(stub, 'Produce', { topic, records: [record] }, md());
    expect(g.error?.code, `gRPC Produce ${topic}`).toBe(grpc.status.PERMISSION_DENIED);
    const s = new SessionRecorder(stub, md());
    try {
      s.send({ publish: { id: 'f', topic, records: [record] } });
      expect((await s.waitFor('error', (e) => e.id === 'f')).code, `gRPC Session publish ${topic}`).toBe('PERMISSION_DENIED');
      expect(s.of('published')).toEqual([]);
    } finally {
      s.close();
    }
  }

  it('refuses every read path on every internal topic: REST v1 fetch/offsets/SSE, v2 describe, WebSocket, gRPC Fetch/GetOffsets/Subscribe/Session', async () => {
    for (const topic of internal()) {
      for (const path of [`/v1/topics/${topic}/partitions/0/records?offset=0`, `/v1/topics/${topic}/offsets`, `/topics/${topic}`]) {
        const res = await http(`${base}${path}`, { headers: headers() });
        expect([res.status, res.json().error_code], `GET ${path}`).toEqual([403, 40301]);
      }
      const sse = new SseReader(`${base}/v1/topics/${topic}/events?from=earliest`, headers());
      await sse.done;
      expect(sse.status, `SSE ${topic}`).toBe(403);
      expect(sse.text).not.toMatch(/^id: [^\n]*\ndata: /m);

      const id = uniqueId('s');
      ws.send({ op: 'subscribe', id, topic, from: 'earliest' });
      expect(await ws.waitFor((f) => f.id === id), `WebSocket subscribe ${topic}`).toMatchObject({ op: 'error', code: 'PERMISSION_DENIED' });

      expect((await unary(stub, 'Fetch', { topic, partition: 0, offset: '0' }, md())).error?.code, `gRPC Fetch ${topic}`).toBe(grpc.status.PERMISSION_DENIED);
      expect((await unary(stub, 'GetOffsets', { topic }, md())).error?.code, `gRPC GetOffsets ${topic}`).toBe(grpc.status.PERMISSION_DENIED);
      for (const group of [undefined, uniqueId('g')]) {
        const sub = new GrpcSubscription(stub, { topic, position: { earliest: {} }, ...(group === undefined ? {} : { group }) }, md());
        expect((await sub.failed()).code, `gRPC Subscribe ${topic} group=${group}`).toBe(grpc.status.PERMISSION_DENIED);
        expect(sub.records()).toEqual([]);
      }
      const s = new SessionRecorder(stub, md());
      try {
        s.send({ subscribe: { id: 's', topic, position: { earliest: {} }, credit: 100 } });
        expect((await s.waitFor('error', (e) => e.id === 's')).code, `gRPC Session subscribe ${topic}`).toBe('PERMISSION_DENIED');
        expect(s.of('records')).toEqual([]);
      } finally {
        s.close();
      }
    }
    // Nothing in the WebSocket connection ever carried internal records.
    expect(ws.frames.filter((f) => f.op === 'records')).toEqual([]);
  });

  it('refuses every write path on every internal topic (nothing written)', async () => {
    const before = new Map<string, number>();
    for (const t of TABLES) before.set(t, [...(await gw.core.table(t)).entries()].length);
    for (const topic of internal()) await forgeEverywhere(topic, `forged-${uniqueId('k')}`, Buffer.from('{"forged":true}'));
    for (const t of TABLES) expect([...(await gw.core.table(t)).entries()].some(([k]) => k.startsWith('forged-')), t).toBe(false);
  });

  it('REST v2 consumers: subscribing to an internal topic is 403; a topic_pattern matching them delivers only user topics', async () => {
    const group = uniqueId('g');
    const h = { ...headers(), 'content-type': V2 };
    const created = await http(`${base}/consumers/${group}`, { method: 'POST', headers: h, body: JSON.stringify({ format: 'binary', 'auto.offset.reset': 'earliest' }) });
    expect(created.status).toBe(200);
    const inst = `${base}/consumers/${group}/instances/${created.json().instance_id}`;
    try {
      for (const topic of internal()) {
        const res = await http(`${inst}/subscription`, { method: 'POST', headers: h, body: JSON.stringify({ topics: [topic] }) });
        expect([res.status, res.json().error_code], `subscribe ${topic}`).toEqual([403, 40301]);
      }
      const user = uniqueTopic('user');
      await gw.core.produce(admin, user, [{ key: Buffer.from('k'), value: Buffer.from('"user record"') }]);
      // `__.*` alone, and `__.*` next to a user topic: internal topics never join the subscription.
      const only = await http(`${inst}/subscription`, { method: 'POST', headers: h, body: JSON.stringify({ topic_pattern: '__.*' }) });
      if (only.status === 204) {
        const polled = await http(`${inst}/records?timeout=300`, { headers: { ...headers(), accept: 'application/vnd.kafka.binary.v2+json' } });
        expect(polled.json()).toEqual([]);
      } else {
        expect(only.status).toBeGreaterThanOrEqual(400);
      }
      const mixed = await http(`${inst}/subscription`, { method: 'POST', headers: h, body: JSON.stringify({ topic_pattern: `__.*|${user}` }) });
      expect(mixed.status).toBe(204);
      const got: { topic: string }[] = [];
      await eventually(async () => {
        const res = await http(`${inst}/records?timeout=300`, { headers: { ...headers(), accept: 'application/vnd.kafka.binary.v2+json' } });
        expect(res.status).toBe(200);
        got.push(...res.json());
        return got.some((r) => r.topic === user);
      }, { what: 'the user record through the pattern' });
      expect(got.filter((r) => r.topic.startsWith('__'))).toEqual([]);
      expect((await http(`${inst}/subscription`, { headers: h })).json().topics.filter((t: string) => t.startsWith('__'))).toEqual([]);
    } finally {
      await http(inst, { method: 'DELETE', headers: h });
    }
  });

  it('listings never show internal topics: GET /topics, GET /v1/topics, gRPC ListTopics', async () => {
    const v2 = await http(`${base}/topics`, { headers: headers() });
    expect(v2.status).toBe(200);
    expect((v2.json() as string[]).filter((t) => t.startsWith('__'))).toEqual([]);
    const v1 = await http(`${base}/v1/topics`, { headers: headers() });
    expect(v1.status).toBe(200);
    expect((v1.json().topics as { name: string }[]).filter((t) => t.name.startsWith('__'))).toEqual([]);
    const g = await unary(stub, 'ListTopics', {}, md());
    expect(g.error).toBeUndefined();
    expect((g.response.topics as { name: string }[]).filter((t) => t.name.startsWith('__'))).toEqual([]);
  });

  /** A forged variant of a real entry: every mention of this instance replaced (the takeover the finding did). */
  const forgedFrom = (value: Buffer | undefined): Buffer => Buffer.from((value?.toString('utf8') ?? '{}').split(gw.core.instanceId).join('forged-instance'));

  it('a forged mqtt-connections entry does not kick a live MQTT client', async () => {
    const clientId = uniqueId('live');
    const victim = await connectClient(`mqtt://127.0.0.1:${gw.ports.mqtt}`, { protocolVersion: 5, clientId, ...mqttAuth() });
    try {
      const table = await gw.core.table('mqtt-connections');
      const key = await eventually(() => [...table.entries()].map(([k]) => k).find((k) => k.includes(clientId)), { what: 'the connection entry' });
      await forgeEverywhere(tableTopic('mqtt-connections'), key, forgedFrom(table.get(key)));
      await forgeEverywhere(tableTopic('mqtt-connections'), key, null);
      // Still connected and served: a round trip through the gateway.
      await victim.client.subscribeAsync(`still/${clientId}`, { qos: 1 });
      await victim.client.publishAsync(`still/${clientId}`, 'here', { qos: 1 });
      await victim.waitFor(1);
      expect(victim.client.connected).toBe(true);
    } finally {
      await victim.end(true);
    }
  });

  it('a forged mqtt-sessions tombstone does not wipe a session: its queued QoS 1 message is delivered on reconnect', async () => {
    const clientId = uniqueId('persist');
    const topic = `queued/${clientId}`;
    const options = { protocolVersion: 5 as const, clientId, clean: false, properties: { sessionExpiryInterval: 300 }, ...mqttAuth() };
    const first = await connectClient(`mqtt://127.0.0.1:${gw.ports.mqtt}`, options);
    await first.client.subscribeAsync(topic, { qos: 1 });
    await first.end();
    // Queued while the client is away (written by another protocol: the default MQTT topic, key = MQTT topic).
    const publisher = await connectClient(`mqtt://127.0.0.1:${gw.ports.mqtt}`, { protocolVersion: 5, clientId: uniqueId('pub'), ...mqttAuth() });
    await publisher.client.publishAsync(topic, 'queued while away', { qos: 1 });
    await publisher.end();
    const table = await gw.core.table('mqtt-sessions');
    const key = await eventually(() => [...table.entries()].map(([k]) => k).find((k) => k.includes(clientId)), { what: 'the session entry' });
    const stored = table.get(key);
    await forgeEverywhere(tableTopic('mqtt-sessions'), key, null);
    await forgeEverywhere(tableTopic('mqtt-sessions'), key, Buffer.from('{"subs":[],"pending":[]}'));
    expect(table.get(key)).toEqual(stored);
    const back = await connectClient(`mqtt://127.0.0.1:${gw.ports.mqtt}`, options);
    try {
      expect(back.client.options.clientId).toBe(clientId);
      const [m] = await back.waitFor(1);
      expect([m!.topic, m!.payload, m!.packet.qos]).toEqual([topic, 'queued while away', 1]);
    } finally {
      await back.end();
    }
  });

  it('forged group-members entries do not take a partition from a live member', async () => {
    const topic = uniqueTopic('grp');
    const group = uniqueId('victims');
    await gw.core.produce(admin, topic, [{ key: Buffer.from('k0'), value: Buffer.from('0') }]);
    const member = new GrpcSubscription(stub, { topic, group, position: { earliest: {} } }, md());
    try {
      await eventually(() => member.records().length >= 1 || member.error, { what: 'the member reading' });
      expect(member.error).toBeUndefined();
      const table = await gw.core.table('group-members');
      const entries = [...table.entries()].filter(([k]) => k.includes(group));
      expect(entries.length).toBeGreaterThan(0);
      for (const [key, value] of entries) {
        await forgeEverywhere(tableTopic('group-members'), key, forgedFrom(value));
        // A second, forged member of the same group on a "live" instance.
        await forgeEverywhere(tableTopic('group-members'), `${key}-forged`, value);
        await forgeEverywhere(tableTopic('group-members'), key, null);
      }
      // The member's own heartbeat may rewrite its entry meanwhile (`seen` moves on): everything
      // else — which members exist, on which instance, for which topics and owner — is unchanged.
      const withoutSeen = (list: [string, Buffer][]) => list.map(([k, v]) => [k, { ...JSON.parse(v.toString('utf8')), seen: 0 }]);
      expect(withoutSeen([...table.entries()].filter(([k]) => k.includes(group)))).toEqual(withoutSeen(entries));
      // The member still owns the partition: a new record reaches it.
      await gw.core.produce(admin, topic, [{ key: Buffer.from('k1'), value: Buffer.from('1') }]);
      await eventually(() => member.records().some((r) => r.value.toString() === '1'), { what: 'the record after the forgery' });
      expect(member.error).toBeUndefined();
    } finally {
      member.call.cancel();
    }
  });

  it('a forged rest-consumers entry does not steal a REST consumer instance', async () => {
    const group = uniqueId('rc');
    const h = { ...headers(), 'content-type': V2 };
    const topic = uniqueTopic('rc');
    await gw.core.produce(admin, topic, [{ key: Buffer.from('k'), value: Buffer.from('"mine"') }]);
    const created = await http(`${base}/consumers/${group}`, { method: 'POST', headers: h, body: JSON.stringify({ format: 'binary', 'auto.offset.reset': 'earliest' }) });
    const name = created.json().instance_id as string;
    const inst = `${base}/consumers/${group}/instances/${name}`;
    try {
      expect((await http(`${inst}/subscription`, { method: 'POST', headers: h, body: JSON.stringify({ topics: [topic] }) })).status).toBe(204);
      const table = await gw.core.table('rest-consumers');
      // The entry as published after the subscription (it names the topic), then rewritten as the attack did: another owner and holder.
      const key = await eventually(() => [...table.entries()].find(([k, v]) => k.includes(name) && v.toString().includes(topic))?.[0], { what: 'the instance entry' });
      const stored = JSON.parse(table.get(key)!.toString()) as { owner: unknown; holder: unknown };
      const forged = Buffer.from(JSON.stringify({ ...stored, owner: 'attacker', holder: 'forged-holder', touched: Date.now() }));
      await forgeEverywhere(tableTopic('rest-consumers'), key, forged);
      await forgeEverywhere(tableTopic('rest-consumers'), key, null);
      expect(JSON.parse(table.get(key)!.toString())).toMatchObject({ owner: stored.owner, holder: stored.holder });
      // The owner still consumes through its instance.
      const values: string[] = [];
      await eventually(async () => {
        const res = await http(`${inst}/records?timeout=300`, { headers: { ...headers(), accept: 'application/vnd.kafka.binary.v2+json' } });
        expect(res.status).toBe(200);
        values.push(...res.json().map((r: { value: string }) => Buffer.from(r.value, 'base64').toString()));
        return values.includes('"mine"');
      }, { what: "the owner's record" });
    } finally {
      await http(inst, { method: 'DELETE', headers: h });
    }
  });
});
