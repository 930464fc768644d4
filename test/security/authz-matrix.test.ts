/**
 * The authorization matrix of issue 16: ONE grant table — a topic grant, a key grant with `{sub}`,
 * the MQTT shorthand, a group grant and an admin topic — given to three principals (an HS256 JWT,
 * an API key, a TLS client certificate), exercised on every protocol × {produce, subscribe/stream,
 * fetch, group join, commit, retained}. Each case asserts allowed or denied, the error in the
 * protocol's own terms, and — on every read path — that no record outside the principal's scope
 * is ever delivered (the topics hold records of d1, d2, device-42, other keys and keyless ones,
 * written by an unrestricted admin).
 *
 * One gateway with all three authentication methods (TLS on every listener, client certificates
 * requested, not required). Embedded backend: the decisions are the core's, the backend plays no
 * part (test/core/authorization.test.ts runs the core decisions against Kafka too).
 */
import * as grpc from '@grpc/grpc-js';
import { createHash } from 'node:crypto';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamGatewayClient } from '../../clients/ts/node/index.js';
import { createContext } from '../../gateway/context.js';
import type { Context } from '../../gateway/api.js';
import { uniqueId } from '../support/names.js';
import { makeTestTls, type TestTls } from '../support/tls.js';
import { eventually } from '../support/wait.js';
import { bearer, GrpcSubscription, grpcStub, http, openWs, SECRET, signToken, SseReader, startCapturedGateway, unary, type CapturedGateway, type HttpAnswer } from './helpers.js';
import { SessionRecorder } from '../grpc/helpers.js';

const run = uniqueId('m').replace(/[^a-z0-9]/g, '');
/** The topics of the grant table (one partition each: delivery order = offset order). */
const T = {
  /** `read`/`write` topic grant: every key. */
  public: `public-${run}`,
  /** `{topic, key: 'devices/{sub}/#'}`: only the principal's own keys. */
  fleet: `fleet-${run}`,
  /** mqtt.defaultTopic: `{mqtt: 'devices/{sub}/#'}` expands to {topic: this, key: devices/{sub}/#}. */
  mqtt: `mqtt-${run}`,
  /** `admin` topic pattern: every key, every group. */
  admin: `adm-${run}`,
  /** Exists, granted to nobody. */
  secret: `secret-${run}`,
} as const;

/** The one grant table, given unchanged to all three principals. */
const GRANTS = {
  read: [T.public, { topic: T.fleet, key: 'devices/{sub}/#' }, { mqtt: 'devices/{sub}/#' }],
  write: [T.public, { topic: T.fleet, key: 'devices/{sub}/#' }, { mqtt: 'devices/{sub}/#' }],
  admin: [T.admin],
  groups: ['g-{sub}-*'],
};

const API_KEY = `sg-matrix-${run}-key`;

type Who = 'jwt' | 'apikey' | 'cert';
/** `{sub}` of each principal: the JWT `sub`, the API key's id, the certificate's CN. */
const SUB: Record<Who, string> = { jwt: 'd1', apikey: 'd2', cert: 'device-42' };
const WHO: readonly Who[] = ['jwt', 'apikey', 'cert'];
const other = (who: Who): string => (who === 'jwt' ? 'd2' : 'd1');

/** Keys in every seeded topic, in offset order; each principal's `last` marker comes after every other record. */
const SEED_KEYS: (string | null)[] = ['devices/d1/a', 'devices/d2/a', 'devices/device-42/a', null, 'other', 'devices/d1/last', 'devices/d2/last', 'devices/device-42/last'];

let pki: TestTls;
let gw: CapturedGateway;
let https: string;
let rootToken: string;
let jwtToken: string;
let root: Context;

interface Access {
  headers: Record<string, string>;
  tls: { ca: Buffer; cert?: Buffer; key?: Buffer };
  grpc: { creds: grpc.ChannelCredentials; md: () => grpc.Metadata };
  mqtt: IClientOptions;
}

function access(who: Who): Access {
  const ca = pki.ca;
  if (who === 'cert') {
    return {
      headers: {},
      tls: { ca, cert: pki.client.cert, key: pki.client.key },
      grpc: { creds: grpc.credentials.createSsl(ca, pki.client.key, pki.client.cert), md: () => new grpc.Metadata() },
      mqtt: { ca, cert: pki.client.cert, key: pki.client.key },
    };
  }
  const token = who === 'jwt' ? jwtToken : API_KEY;
  return {
    headers: { authorization: `Bearer ${token}` },
    tls: { ca },
    grpc: { creds: grpc.credentials.createSsl(ca), md: () => bearer(token) },
    mqtt: { ca, username: SUB[who], password: token },
  };
}

beforeAll(async () => {
  pki = makeTestTls('device-42');
  gw = await startCapturedGateway({
    level: 'warn',
    config: {
      tls: { certFile: pki.server.certFile, keyFile: pki.server.keyFile, caFile: pki.caFile, clientAuth: 'request' },
      topics: { defaultPartitions: 1 },
      embedded: { defaultPartitions: 1 },
      mqtt: { defaultTopic: T.mqtt },
      auth: {
        jwt: { hs256Secret: SECRET },
        apiKeys: [{ id: 'd2', sha256: createHash('sha256').update(API_KEY).digest('hex'), grants: GRANTS }],
        certificates: [{ match: 'device-42', grants: GRANTS }],
      },
    },
  });
  https = `https://127.0.0.1:${gw.ports.http}`;
  rootToken = await signToken({ sub: 'root', topics: { admin: ['*'], groups: ['*'] } });
  jwtToken = await signToken({ sub: 'd1', topics: GRANTS });
  root = createContext({ protocol: 'test', log: gw.core.log, principal: await gw.core.authenticate({ token: rootToken }) });
  for (const topic of [T.public, T.fleet, T.mqtt, T.admin, T.secret]) {
    await gw.core.produce(
      root,
      topic,
      SEED_KEYS.map((k) => ({ key: k === null ? null : Buffer.from(k), value: Buffer.from('"v"') })),
    );
  }
}, 60_000);
afterAll(async () => {
  await gw?.close();
  pki?.remove();
});

// ---------------------------------------------------------------------------------------------
// Outcomes: what a protocol answered, normalized so the matrix can compare.

/** Allowed (with the keys delivered, for reads) or denied with the protocol's own error. */
type Outcome = { ok: true; keys?: (string | null)[] } | { ok: false; error: string };

const denied = (error: string): Outcome => ({ ok: false, error });
const restError = (res: HttpAnswer): Outcome => denied(`HTTP ${res.status} ${res.json().error_code ?? ''} ${res.json().code ?? ''}`.trim());
const grpcError = (err: grpc.ServiceError): Outcome => denied(`gRPC ${grpc.status[err.code]}`);

/** Reads wait for the principal's own `last` marker: every record before it has been delivered or filtered by then. */
const seenLast = (who: Who, keys: (string | null)[]): boolean => keys.includes(`devices/${SUB[who]}/last`);

type Protocol = 'rest-v1' | 'rest-v2' | 'sse' | 'ws' | 'mqtt-3.1.1' | 'mqtt-5' | 'grpc-unary' | 'grpc-subscribe' | 'grpc-session';
type Operation = 'produce' | 'subscribe' | 'fetch' | 'join' | 'commit' | 'retained';
/** What a case targets: a topic, and for writes the key written (relative to the principal). */
type Target = { topic: keyof typeof T; key: 'own' | 'other' | 'keyless' } | { topic: keyof typeof T; filter?: 'other' } | { group: 'own' | 'other'; topic: keyof typeof T };

function keyFor(who: Who, key: 'own' | 'other' | 'keyless'): string | null {
  if (key === 'keyless') return null;
  return `devices/${key === 'own' ? SUB[who] : other(who)}/${uniqueId('w')}`;
}
const groupFor = (who: Who, g: 'own' | 'other'): string => `g-${g === 'own' ? SUB[who] : other(who)}-${uniqueId('x')}`;

// ---------------------------------------------------------------------------------------------
// Per protocol: how each operation is done.

async function restProduce(who: Who, version: 'v1' | 'v2', topic: string, key: string | null): Promise<Outcome> {
  const a = access(who);
  const record = { key, value: 'x' };
  const res =
    version === 'v1'
      ? await http(`${https}/v1/topics/${topic}/records`, { method: 'POST', headers: a.headers, tls: a.tls, body: JSON.stringify({ records: [record] }) })
      : await http(`${https}/topics/${topic}`, {
          method: 'POST',
          headers: { ...a.headers, 'content-type': 'application/vnd.kafka.json.v2+json' },
          tls: a.tls,
          body: JSON.stringify({ records: [{ ...record, value: { n: 1 } }] }),
        });
  return res.status === 200 ? { ok: true } : restError(res);
}

async function restFetch(who: Who, topic: string): Promise<Outcome> {
  const a = access(who);
  const keys: (string | null)[] = [];
  let offset = '0';
  for (let round = 0; round < 20 && !seenLast(who, keys) && !(keys.length === SEED_KEYS.length); round++) {
    const res = await http(`${https}/v1/topics/${topic}/partitions/0/records?offset=${offset}&max=3`, { headers: a.headers, tls: a.tls });
    if (res.status !== 200) return restError(res);
    const body = res.json();
    keys.push(...body.records.map((r: { key: string | null }) => r.key));
    if (String(body.next_offset) === offset) break;
    offset = String(body.next_offset);
  }
  return { ok: true, keys };
}

async function sseStream(who: Who, topic: string, filter?: string): Promise<Outcome> {
  const a = access(who);
  const q = filter === undefined ? '' : `&filter=${encodeURIComponent(filter)}`;
  const sse = new SseReader(`${https}/v1/topics/${topic}/events?from=earliest${q}`, a.headers, a.tls);
  try {
    await eventually(() => sse.status !== 0 || sse.ended, { what: 'SSE response' });
    if (sse.status !== 200) {
      await sse.done;
      return denied(`HTTP ${sse.status} ${JSON.parse(sse.text).error_code ?? ''} ${JSON.parse(sse.text).code ?? ''}`.trim());
    }
    const keys = () => sse.events().filter((e) => e.event === 'message').map((e) => JSON.parse(e.data).key as string | null);
    await eventually(() => seenLast(who, keys()), { what: `${who}'s last record over SSE` });
    return { ok: true, keys: keys() };
  } finally {
    sse.close();
  }
}

async function wsDo(who: Who, op: 'produce' | 'subscribe', topic: string, keyOrFilter: string | null | undefined): Promise<Outcome> {
  const a = access(who);
  const { status, client } = await openWs(`wss://127.0.0.1:${gw.ports.http}`, { headers: a.headers, tls: a.tls });
  expect(status).toBe(101);
  try {
    if (op === 'produce') {
      client!.send({ op: 'publish', id: 'p', topic, records: [{ key: keyOrFilter, value: 1 }] });
      const f = await client!.waitFor((x) => x.id === 'p');
      return f.op === 'ack' ? { ok: true } : denied(`${f.op} ${f.code}`);
    }
    client!.send({ op: 'subscribe', id: 's', topic, from: 'earliest', ...(keyOrFilter == null ? {} : { filter: keyOrFilter }) });
    const f = await client!.waitFor((x) => x.id === 's');
    if (f.op !== 'subscribed') return denied(`${f.op} ${f.code}`);
    const keys = () => client!.frames.filter((x) => x.op === 'records' && x.sub === 's').flatMap((x) => x.records.map((r: { key: string | null }) => r.key));
    await eventually(() => seenLast(who, keys()), { what: `${who}'s last record over WebSocket` });
    return { ok: true, keys: keys() };
  } finally {
    client!.close();
  }
}

/** REST v2 consumer: create an instance in `group`, subscribe to `topic`, poll until the principal's last record; optionally commit. */
async function restGroup(who: Who, group: string, topic: string, commit: boolean): Promise<Outcome> {
  const a = access(who);
  const V2 = 'application/vnd.kafka.v2+json';
  const h = { ...a.headers, 'content-type': V2 };
  const created = await http(`${https}/consumers/${group}`, { method: 'POST', headers: h, tls: a.tls, body: JSON.stringify({ format: 'binary', 'auto.offset.reset': 'earliest' }) });
  if (created.status !== 200) return restError(created);
  const base = `${https}/consumers/${group}/instances/${created.json().instance_id}`;
  try {
    const sub = await http(`${base}/subscription`, { method: 'POST', headers: h, tls: a.tls, body: JSON.stringify({ topics: [topic] }) });
    if (sub.status !== 204 && sub.status !== 200) return restError(sub);
    const keys: (string | null)[] = [];
    const deadline = Date.now() + 10_000;
    while (!seenLast(who, keys) && Date.now() < deadline) {
      const res = await http(`${base}/records?timeout=500`, { headers: { ...a.headers, accept: 'application/vnd.kafka.binary.v2+json' }, tls: a.tls });
      if (res.status !== 200) return restError(res);
      keys.push(...res.json().map((r: { key: string | null }) => (r.key === null ? null : Buffer.from(r.key, 'base64').toString())));
    }
    if (commit) {
      const c = await http(`${base}/offsets`, { method: 'POST', headers: h, tls: a.tls, body: '' });
      if (c.status !== 204 && c.status !== 200) return restError(c);
    }
    return { ok: true, keys };
  } finally {
    await http(base, { method: 'DELETE', headers: h, tls: a.tls }).catch(() => undefined);
  }
}

const grpcKey = (r: { key?: Buffer | null; _key?: string }): string | null => (r._key === 'key' && r.key != null ? r.key.toString() : null);

async function grpcDo(who: Who, protocol: 'grpc-unary' | 'grpc-subscribe' | 'grpc-session', op: Operation, topic: string, arg: { key?: string | null; filter?: string; group?: string }): Promise<Outcome> {
  const a = access(who);
  const stub: StreamGatewayClient = grpcStub(gw.ports.grpc, a.grpc.creds);
  try {
    if (protocol === 'grpc-unary') {
      if (op === 'produce') {
        const res = await unary(stub, 'Produce', { topic, records: [{ ...(arg.key == null ? {} : { key: Buffer.from(arg.key) }), value: Buffer.from('1') }] }, a.grpc.md());
        return res.error ? grpcError(res.error) : { ok: true };
      }
      const keys: (string | null)[] = [];
      let offset = '0';
      for (let round = 0; round < 20 && !seenLast(who, keys); round++) {
        const res = await unary(stub, 'Fetch', { topic, partition: 0, offset, max_records: 3 }, a.grpc.md());
        if (res.error) return grpcError(res.error);
        keys.push(...res.response.records.map(grpcKey));
        if (res.response.next_offset === offset) break;
        offset = res.response.next_offset;
      }
      return { ok: true, keys };
    }
    const filters = arg.filter === undefined ? [] : [{ mqtt: arg.filter }];
    if (protocol === 'grpc-subscribe') {
      const sub = new GrpcSubscription(stub, { topic, position: { earliest: {} }, filters, ...(arg.group === undefined ? {} : { group: arg.group }) }, a.grpc.md());
      try {
        await eventually(() => sub.frames.length > 0 || sub.error, { what: 'Subscribe answer' });
        if (sub.error) return grpcError(sub.error);
        await eventually(() => seenLast(who, sub.records().map(grpcKey)) || sub.error, { what: `${who}'s last record over Subscribe` });
        if (sub.error) return grpcError(sub.error);
        return { ok: true, keys: sub.records().map(grpcKey) };
      } finally {
        sub.call.cancel();
      }
    }
    const s = new SessionRecorder(stub, a.grpc.md());
    try {
      if (op === 'produce') {
        s.send({ publish: { id: 'p', topic, records: [{ ...(arg.key == null ? {} : { key: Buffer.from(arg.key) }), value: Buffer.from('1') }] } });
        await eventually(() => s.of('published').length > 0 || s.of('error').length > 0 || s.error, { what: 'publish answer' });
        const e = s.of('error')[0];
        return e ? denied(`error ${e.code}`) : s.error ? grpcError(s.error) : { ok: true };
      }
      s.send({ subscribe: { id: 's', topic, position: { earliest: {} }, filters, credit: 1000, ...(arg.group === undefined ? {} : { group: arg.group }) } });
      await eventually(() => s.of('subscribed').length > 0 || s.of('error').length > 0 || s.error, { what: 'subscribe answer' });
      const e = s.of('error')[0];
      if (e) return denied(`error ${e.code}`);
      if (s.error) return grpcError(s.error);
      await eventually(() => seenLast(who, s.records('s').map(grpcKey)), { what: `${who}'s last record over Session` });
      if (op === 'commit') {
        s.send({ commit: { id: 'c', subscription_id: 's', topic, offsets: [] } });
        await eventually(() => s.of('committed').length > 0 || s.of('error').some((x) => x.id === 'c'), { what: 'commit answer' });
        const ce = s.of('error').find((x) => x.id === 'c');
        if (ce) return denied(`error ${ce.code}`);
      }
      return { ok: true, keys: s.records('s').map(grpcKey) };
    } finally {
      s.close();
    }
  } finally {
    stub.close();
  }
}

async function mqttConnect(who: Who, version: 4 | 5, extra: IClientOptions = {}): Promise<MqttClient> {
  return mqtt.connectAsync(`mqtts://127.0.0.1:${gw.ports.mqtt}`, { protocolVersion: version, reconnectPeriod: 0, connectTimeout: 5000, clientId: uniqueId(`mx-${who}`), ...access(who).mqtt, ...extra });
}

/** QoS 1 PUBLISH: v5 → the PUBACK reason code; 3.1.1 → 'closed' when the server ends the connection instead. */
async function mqttPublish(client: MqttClient, topic: string, retain = false): Promise<number | 'closed'> {
  const closed = new Promise<'closed'>((resolve) => client.once('close', () => resolve('closed')));
  const acked = client.publishAsync(topic, 'x', { qos: 1, retain }).then(
    (packet) => (packet as { reasonCode?: number } | undefined)?.reasonCode ?? 0,
    (err: { code?: number }) => err.code ?? -1,
  );
  return Promise.race([acked, closed]);
}

/** Whether a record with this key reached the MQTT default topic (written by anyone, after `from`). */
async function storedKeys(topic: string, from: bigint): Promise<(string | null)[]> {
  const res = await gw.core.fetch(root, topic, 0, from, { maxRecords: 1000 });
  return res.records.map((r) => r.key?.toString() ?? null);
}
const latest = async (topic: string): Promise<bigint> => (await gw.core.offsets(root, topic))[0]!.latest;

async function mqttDo(who: Who, version: 4 | 5, op: Operation, target: { key?: 'own' | 'other'; filter?: string }): Promise<Outcome> {
  const client = await mqttConnect(who, version);
  client.on('error', () => undefined);
  try {
    if (op === 'produce' || (op === 'retained' && target.key !== undefined)) {
      const topic = keyFor(who, target.key!)!;
      const before = await latest(T.mqtt);
      const rc = await mqttPublish(client, topic, op === 'retained');
      const stored = (await storedKeys(T.mqtt, before)).includes(topic);
      if (rc === 0) {
        expect(stored, 'an acknowledged PUBLISH is stored').toBe(true);
        return { ok: true };
      }
      expect(stored, 'a refused PUBLISH is not stored').toBe(false);
      return denied(rc === 'closed' ? 'closed' : `PUBACK 0x${rc.toString(16)}`);
    }
    if (op === 'join') {
      // $share/<g>/<f> joins the core group mqtt-share/<g>/<hash>: outside `g-{sub}-*`, refused.
      const granted = await client.subscribeAsync(`$share/${uniqueId('sh')}/${target.filter}`, { qos: 1 }).then(
        (g) => g[0]!.qos,
        (err: { packet?: { granted?: number[] } }) => err.packet?.granted?.[0] ?? -1,
      );
      return granted >= 0x80 ? denied(`SUBACK 0x${granted.toString(16)}`) : { ok: true };
    }
    // subscribe: live records only (MQTT has no catch-up), so the admin writes a fresh batch after SUBACK.
    // Retained messages (set by the retained cases) are the retained-scope slice's matter, checked in its own block below.
    const got: (string | null)[] = [];
    client.on('message', (topic, _payload, packet) => void (packet.retain ? undefined : got.push(topic)));
    const granted = await client.subscribeAsync(target.filter!, { qos: 1 }).then(
      (g) => g[0]!.qos,
      (err: { packet?: { granted?: number[] } }) => err.packet?.granted?.[0] ?? -1,
    );
    if (granted >= 0x80) return denied(`SUBACK 0x${granted.toString(16)}`);
    const tag = uniqueId('live');
    await gw.core.produce(
      root,
      T.mqtt,
      SEED_KEYS.map((k) => ({ key: k === null ? null : Buffer.from(`${k}/${tag}`), value: Buffer.from('y') })),
    );
    await eventually(() => got.includes(`devices/${SUB[who]}/last/${tag}`), { what: `${who}'s last live MQTT message` });
    return { ok: true, keys: got.map((k) => k!.replace(`/${tag}`, '')) };
  } finally {
    await client.endAsync(true).catch(() => undefined);
  }
}

// ---------------------------------------------------------------------------------------------
// The matrix.

/** Reads deliver `own` = only the principal's keys (both of them), `all` = every key incl. other devices' and keyless. */
type Expect = { allowed: true; delivers?: 'own' | 'all' } | { allowed: false; error: string };

interface Case {
  protocol: Protocol;
  operation: Operation;
  target: Target;
  expect: Expect;
}

const ok = (delivers?: 'own' | 'all'): Expect => ({ allowed: true, ...(delivers === undefined ? {} : { delivers }) });
const no = (error: string): Expect => ({ allowed: false, error });

/** How each protocol says "denied" (the spec-correct outcome, asserted on main). */
const DENIED: Record<Protocol, { write: string; read: string }> = {
  'rest-v1': { write: 'HTTP 403 40301 PERMISSION_DENIED', read: 'HTTP 403 40301 PERMISSION_DENIED' },
  'rest-v2': { write: 'HTTP 403 40301', read: 'HTTP 403 40301' },
  sse: { write: '-', read: 'HTTP 403 40301 PERMISSION_DENIED' },
  ws: { write: 'error PERMISSION_DENIED', read: 'error PERMISSION_DENIED' },
  // [MQTT-3.1.1:3.9.3] SUBACK 0x80; 3.1.1 has no negative PUBACK, the server closes the connection.
  'mqtt-3.1.1': { write: 'closed', read: 'SUBACK 0x80' },
  // [MQTT-5:3.4.2.1] / [MQTT-5:3.9.3] 0x87 Not authorized.
  'mqtt-5': { write: 'PUBACK 0x87', read: 'SUBACK 0x87' },
  'grpc-unary': { write: 'gRPC PERMISSION_DENIED', read: 'gRPC PERMISSION_DENIED' },
  'grpc-subscribe': { write: '-', read: 'gRPC PERMISSION_DENIED' },
  'grpc-session': { write: 'error PERMISSION_DENIED', read: 'error PERMISSION_DENIED' },
};

const cases: Case[] = [];
for (const protocol of ['rest-v1', 'rest-v2', 'ws', 'grpc-unary', 'grpc-session'] as const) {
  const d = DENIED[protocol].write;
  cases.push(
    { protocol, operation: 'produce', target: { topic: 'public', key: 'other' }, expect: ok() },
    { protocol, operation: 'produce', target: { topic: 'public', key: 'keyless' }, expect: ok() },
    { protocol, operation: 'produce', target: { topic: 'fleet', key: 'own' }, expect: ok() },
    { protocol, operation: 'produce', target: { topic: 'fleet', key: 'other' }, expect: no(d) },
    { protocol, operation: 'produce', target: { topic: 'fleet', key: 'keyless' }, expect: no(d) },
    { protocol, operation: 'produce', target: { topic: 'mqtt', key: 'own' }, expect: ok() },
    { protocol, operation: 'produce', target: { topic: 'mqtt', key: 'other' }, expect: no(d) },
    { protocol, operation: 'produce', target: { topic: 'admin', key: 'keyless' }, expect: ok() },
    { protocol, operation: 'produce', target: { topic: 'secret', key: 'own' }, expect: no(d) },
  );
}
for (const [protocol, operation] of [
  ['rest-v1', 'fetch'],
  ['grpc-unary', 'fetch'],
  ['sse', 'subscribe'],
  ['ws', 'subscribe'],
  ['grpc-subscribe', 'subscribe'],
  ['grpc-session', 'subscribe'],
] as const) {
  const d = DENIED[protocol].read;
  const filterable = operation === 'subscribe';
  cases.push(
    { protocol, operation, target: { topic: 'public' }, expect: ok('all') },
    { protocol, operation, target: { topic: 'fleet' }, expect: ok('own') },
    { protocol, operation, target: { topic: 'mqtt' }, expect: ok('own') },
    { protocol, operation, target: { topic: 'admin' }, expect: ok('all') },
    { protocol, operation, target: { topic: 'secret' }, expect: no(d) },
    ...(filterable ? [{ protocol, operation, target: { topic: 'fleet', filter: 'other' }, expect: no(d) } as Case] : []),
  );
}
for (const protocol of ['rest-v2', 'grpc-subscribe', 'grpc-session'] as const) {
  const d = DENIED[protocol].read;
  cases.push(
    { protocol, operation: 'join', target: { group: 'own', topic: 'fleet' }, expect: ok('own') },
    { protocol, operation: 'join', target: { group: 'own', topic: 'public' }, expect: ok('all') },
    { protocol, operation: 'join', target: { group: 'other', topic: 'fleet' }, expect: no(d) },
    // Admin on every topic of the join allows any group.
    { protocol, operation: 'join', target: { group: 'other', topic: 'admin' }, expect: ok('all') },
    { protocol, operation: 'join', target: { group: 'own', topic: 'secret' }, expect: no(d) },
  );
}
for (const protocol of ['rest-v2', 'grpc-session'] as const) {
  cases.push({ protocol, operation: 'commit', target: { group: 'own', topic: 'fleet' }, expect: ok('own') });
}
for (const protocol of ['mqtt-3.1.1', 'mqtt-5'] as const) {
  const { write, read } = DENIED[protocol];
  cases.push(
    { protocol, operation: 'produce', target: { topic: 'mqtt', key: 'own' }, expect: ok() },
    { protocol, operation: 'produce', target: { topic: 'mqtt', key: 'other' }, expect: no(write) },
    { protocol, operation: 'retained', target: { topic: 'mqtt', key: 'own' }, expect: ok() },
    { protocol, operation: 'retained', target: { topic: 'mqtt', key: 'other' }, expect: no(write) },
    // A key-scoped principal may subscribe `#`: it receives only its own keys.
    { protocol, operation: 'subscribe', target: { topic: 'mqtt' }, expect: ok('own') },
    { protocol, operation: 'subscribe', target: { topic: 'mqtt', filter: 'other' }, expect: no(read) },
    { protocol, operation: 'join', target: { group: 'own', topic: 'mqtt' }, expect: no(read) },
  );
}

function describeTarget(t: Target): string {
  if ('group' in t) return `${t.group} group on ${t.topic}`;
  if ('key' in t) return `${t.topic} topic, ${t.key} key`;
  return `${t.topic} topic${t.filter === 'other' ? ", other device's filter" : ''}`;
}

async function perform(who: Who, c: Case): Promise<Outcome> {
  const { protocol, operation: op, target } = c;
  const topic = T[target.topic];
  const key = 'key' in target ? keyFor(who, target.key) : undefined;
  const filter = 'filter' in target && target.filter === 'other' ? `devices/${other(who)}/#` : undefined;
  const group = 'group' in target ? groupFor(who, target.group) : undefined;
  switch (protocol) {
    case 'rest-v1':
      return op === 'produce' ? restProduce(who, 'v1', topic, key!) : restFetch(who, topic);
    case 'rest-v2':
      return op === 'produce' ? restProduce(who, 'v2', topic, key!) : restGroup(who, group!, topic, op === 'commit');
    case 'sse':
      return sseStream(who, topic, filter);
    case 'ws':
      return op === 'produce' ? wsDo(who, 'produce', topic, key) : wsDo(who, 'subscribe', topic, filter);
    case 'grpc-unary':
    case 'grpc-subscribe':
    case 'grpc-session':
      return grpcDo(who, protocol, op, topic, { ...(key === undefined ? {} : { key }), ...(filter === undefined ? {} : { filter }), ...(group === undefined ? {} : { group }) });
    case 'mqtt-3.1.1':
    case 'mqtt-5': {
      const version = protocol === 'mqtt-5' ? 5 : 4;
      const mqttTarget = 'key' in target ? { key: target.key as 'own' | 'other' } : { filter: filter ?? (op === 'join' ? `devices/${SUB[who]}/#` : '#') };
      return mqttDo(who, version, op, mqttTarget);
    }
  }
}

function assertDelivery(who: Who, keys: (string | null)[], delivers: 'own' | 'all'): void {
  const own = `devices/${SUB[who]}/`;
  if (delivers === 'own') {
    // Nothing outside the scope, and nothing inside it lost.
    expect(keys.filter((k) => k === null || !k.startsWith(own)), 'records outside the scope delivered').toEqual([]);
    expect(keys).toEqual(expect.arrayContaining([`${own}a`, `${own}last`]));
  } else {
    expect(keys).toEqual(expect.arrayContaining(['devices/d1/a', 'devices/d2/a', 'devices/device-42/a', null, 'other', `${own}last`]));
  }
}

describe.each(WHO)('authorization matrix: %s principal', (who) => {
  it.each(cases.map((c) => [`${c.protocol} ${c.operation} (${describeTarget(c.target)}) → ${c.expect.allowed ? `allowed${'delivers' in c.expect && c.expect.delivers ? `, delivers ${c.expect.delivers} keys` : ''}` : c.expect.error}`, c] as const))(
    '%s',
    async (_, c) => {
      const outcome = await perform(who, c);
      if (!c.expect.allowed) {
        expect(outcome).toEqual({ ok: false, error: c.expect.error });
        return;
      }
      expect(outcome).toMatchObject({ ok: true });
      if (c.expect.delivers !== undefined) assertDelivery(who, (outcome as { keys: (string | null)[] }).keys, c.expect.delivers);
    },
    20_000,
  );
});

describe('authorization matrix: REST consumer instances belong to their principal', () => {
  const V2 = 'application/vnd.kafka.v2+json';
  it.each(WHO)("%s: another principal cannot read, commit or delete this principal's REST consumer instance (40403)", async (who) => {
    const a = access(who);
    const thief = access(who === 'jwt' ? 'apikey' : 'jwt');
    const h = { ...a.headers, 'content-type': V2 };
    const group = groupFor(who, 'own');
    const created = await http(`${https}/consumers/${group}`, { method: 'POST', headers: h, tls: a.tls, body: JSON.stringify({ format: 'binary' }) });
    const base = `${https}/consumers/${group}/instances/${created.json().instance_id}`;
    for (const [method, path] of [['GET', '/records'], ['POST', '/offsets'], ['DELETE', '']] as const) {
      const res = await http(`${base}${path}`, { method, headers: { ...thief.headers, 'content-type': V2 }, tls: thief.tls, ...(method === 'POST' ? { body: '' } : {}) });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(res.json().error_code).toBe(40403);
    }
    expect((await http(base, { method: 'DELETE', headers: h, tls: a.tls })).status).toBe(204);
  });

});

describe('authorization matrix: MQTT retained delete obeys the write scope', () => {
  it.each(WHO.flatMap((who) => (['mqtt-3.1.1', 'mqtt-5'] as const).map((p) => [who, p] as const)))(
    "%s over %s: an empty retained PUBLISH on another device's topic is refused and the retained message stays",
    async (who, protocol) => {
      const victim = `devices/${other(who)}/${uniqueId('keep')}`;
      const admin = await mqtt.connectAsync(`mqtts://127.0.0.1:${gw.ports.mqtt}`, { protocolVersion: 5, reconnectPeriod: 0, clientId: uniqueId('root'), ca: pki.ca, username: 'root', password: rootToken });
      expect(await mqttPublish(admin, victim, true)).toBe(0);
      await admin.endAsync();
      const retained = await gw.core.table('mqtt-retained');
      await eventually(() => retained.get(victim) !== undefined, { what: 'the retained message' });
      const client = await mqttConnect(who, protocol === 'mqtt-5' ? 5 : 4);
      client.on('error', () => undefined);
      try {
        const closed = new Promise<'closed'>((resolve) => client.once('close', () => resolve('closed')));
        const rc = await Promise.race([
          client.publishAsync(victim, Buffer.alloc(0), { qos: 1, retain: true }).then(
            (p) => (p as { reasonCode?: number } | undefined)?.reasonCode ?? 0,
            (err: { code?: number }) => err.code ?? -1,
          ),
          closed,
        ]);
        expect(rc).toBe(protocol === 'mqtt-5' ? 0x87 : 'closed');
        expect(retained.get(victim)).toBeDefined();
      } finally {
        await client.endAsync(true).catch(() => undefined);
      }
    },
  );
});

// ---------------------------------------------------------------------------------------------
// Waiting for the MQTT slice (helper "mqtt": retained scope). On main a key-scoped subscriber of
// `#` / `devices/+/r` is sent every device's retained messages: the retained table is read by the
// adapter, outside the core's read scope. The lead unskips this after merging that slice.
describe('authorization matrix: MQTT retained messages on subscribe follow the read scope', () => {
  it.each(WHO.flatMap((who) => (['mqtt-3.1.1', 'mqtt-5'] as const).map((p) => [who, p] as const)))('%s over %s: SUBSCRIBE devices/+/<tag> is sent only its own retained message', async (who, protocol) => {
    const tag = uniqueId('ret');
    // The admin (unrestricted) sets a retained message for every device.
    const admin = await mqtt.connectAsync(`mqtts://127.0.0.1:${gw.ports.mqtt}`, { protocolVersion: 5, reconnectPeriod: 0, clientId: uniqueId('root'), ca: pki.ca, username: 'root', password: rootToken });
    for (const d of ['d1', 'd2', 'device-42']) expect(await mqttPublish(admin, `devices/${d}/${tag}`, true)).toBe(0);
    await admin.endAsync();
    const client = await mqttConnect(who, protocol === 'mqtt-5' ? 5 : 4);
    try {
      const got: string[] = [];
      client.on('message', (topic, _p, packet) => void (packet.retain ? got.push(topic) : undefined));
      await client.subscribeAsync(`devices/+/${tag}`, { qos: 1 });
      await eventually(() => got.includes(`devices/${SUB[who]}/${tag}`), { what: 'own retained message' });
      // A round trip after the own one: any other retained message would have been sent by now.
      await client.subscribeAsync(`devices/${SUB[who]}/${uniqueId('none')}`, { qos: 1 });
      expect(got).toEqual([`devices/${SUB[who]}/${tag}`]);
    } finally {
      await client.endAsync(true);
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Waiting for the groups slice (helper "groups": commit validation, REST consumer ownership) and
// the MQTT slice (client-id ownership). Each of these fails on main today (checked: the 999 commit is
// accepted, 204 / `committed`; the thief's CONNACK is a success); the lead unskips them after merging.
describe('authorization matrix: commits and ownership', () => {
  const V2 = 'application/vnd.kafka.v2+json';
  it.each(WHO)('%s: REST v2 commit beyond the log end (999, log end 8) is refused and the committed offset is unchanged', async (who) => {
    const a = access(who);
    const h = { ...a.headers, 'content-type': V2 };
    const group = groupFor(who, 'own');
    const created = await http(`${https}/consumers/${group}`, { method: 'POST', headers: h, tls: a.tls, body: JSON.stringify({ format: 'binary', 'auto.offset.reset': 'earliest' }) });
    const base = `${https}/consumers/${group}/instances/${created.json().instance_id}`;
    expect((await http(`${base}/subscription`, { method: 'POST', headers: h, tls: a.tls, body: JSON.stringify({ topics: [T.fleet] }) })).status).toBe(204);
    await eventually(async () => (await http(`${base}/records?timeout=200`, { headers: { ...a.headers, accept: 'application/vnd.kafka.binary.v2+json' }, tls: a.tls })).json().length > 0);
    const c = await http(`${base}/offsets`, { method: 'POST', headers: h, tls: a.tls, body: JSON.stringify({ offsets: [{ topic: T.fleet, partition: 0, offset: 999 }] }) });
    expect(c.status).toBeGreaterThanOrEqual(400);
    const committed = await http(`${base}/offsets`, { method: 'GET', headers: h, tls: a.tls, body: JSON.stringify({ partitions: [{ topic: T.fleet, partition: 0 }] }) });
    expect(committed.json().offsets.every((o: { offset: number }) => o.offset <= SEED_KEYS.length)).toBe(true);
    await http(base, { method: 'DELETE', headers: h, tls: a.tls });
  });

  it.each(WHO)('%s: gRPC Session commit beyond the log end is answered with an error frame, not committed', async (who) => {
    const a = access(who);
    const stub = grpcStub(gw.ports.grpc, a.grpc.creds);
    const s = new SessionRecorder(stub, a.grpc.md());
    try {
      s.send({ subscribe: { id: 's', topic: T.fleet, position: { earliest: {} }, credit: 100, group: groupFor(who, 'own') } });
      await s.waitFor('subscribed');
      s.send({ commit: { id: 'c', subscription_id: 's', topic: T.fleet, offsets: [{ partition: 0, offset: '999' }] } });
      const e = await eventually(() => s.of('error').find((x) => x.id === 'c') ?? (s.of('committed').length > 0 ? ('committed' as const) : undefined), { what: 'commit answer' });
      expect(e).not.toBe('committed');
    } finally {
      s.close();
      stub.close();
    }
  });

  it.each([4, 5] as const)("MQTT %s: another principal connecting with a device's client id is refused; the device stays connected", async (version) => {
    const clientId = uniqueId('owned');
    const owner = await mqttConnect('jwt', version, { clientId, clean: false });
    try {
      const thief = await mqttConnect('apikey', version, { clientId, clean: false }).catch((err: { code?: number }) => err);
      expect((thief as { code?: number }).code).toBe(version === 5 ? 0x87 : 5);
      expect(owner.connected).toBe(true);
      expect(await mqttPublish(owner, `devices/d1/${uniqueId('still')}`)).toBe(0);
    } finally {
      await owner.endAsync(true);
    }
  });
});
