/**
 * Authentication and per-topic authorization on REST, SSE, WebSocket and gRPC (issue 8; MQTT is
 * covered by mqtt-auth.test.ts) with the one-variable setup: an HS256 secret, and the token's
 * `topics` claim as the grants. For each protocol: no credentials → rejected in its own terms;
 * `alg: none`, forged, tampered and expired tokens → rejected; a valid token on a topic outside
 * its grants → denied for publish AND for subscribe; inside them → works; a token that expires
 * while a stream is open ends that stream with a clear reason. Real Kafka broker.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StreamGatewayClient } from '../../clients/ts/node/index.js';
import { createContext } from '../../gateway/context.js';
import { uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';
import {
  algNoneToken,
  bearer,
  GrpcSubscription,
  grpcStub,
  http,
  openWs,
  SECRET,
  SseReader,
  signToken,
  startCapturedGateway,
  tamperedToken,
  unary,
  type CapturedGateway,
} from './helpers.js';

let gw: CapturedGateway;
let base: string;
let stub: StreamGatewayClient;
/** Granted: read + write on `sec-ok-*`. The denied topic exists (so a 403 is not a 404 in disguise). */
const allowedPrefix = `sec-ok-${Math.random().toString(36).slice(2, 8)}`;
const denied = uniqueTopic('sec-no');
const grants = { read: [`${allowedPrefix}-*`], write: [`${allowedPrefix}-*`] };
let token: string;
/** Tokens that must never be accepted, by name. */
let badTokens: Record<string, string>;

const allowed = (name: string): string => uniqueTopic(`${allowedPrefix}-${name}`);
const json = (v: unknown): string => JSON.stringify(v);

beforeAll(async () => {
  gw = await startCapturedGateway({ backend: 'kafka', config: { auth: { jwt: { hs256Secret: SECRET, clockToleranceSec: 0 } } } });
  base = `http://127.0.0.1:${gw.ports.http}`;
  stub = grpcStub(gw.ports.grpc);
  token = await signToken({ sub: 'alice', topics: grants });
  const everything = { sub: 'mallory', topics: { read: ['*'], write: ['*'], admin: ['*'] } };
  badTokens = {
    'alg none': algNoneToken(everything),
    'signed with another secret': await signToken(everything, 'not-the-gateway-secret-0123456789'),
    'payload swapped under a valid signature': await tamperedToken({ sub: 'alice', topics: grants }, everything),
    expired: await signToken({ ...everything, exp: Math.floor(Date.now() / 1000) - 60 }),
    'not a token': 'hello',
  };
  // The denied topic exists with one record: written through the core as an unrestricted principal.
  await gw.core.produce(createContext({ protocol: 'test', log: gw.core.log }), denied, [{ key: null, value: Buffer.from('secret'), headers: [] }]);
});
afterAll(async () => {
  stub?.close();
  await gw?.close();
});

describe('REST', () => {
  const produce = (topic: string, headers: Record<string, string> = {}) =>
    http(`${base}/v1/topics/${topic}/records`, { method: 'POST', headers, body: json({ records: [{ key: 'k', value: { n: 1 } }] }) });
  const fetch = (topic: string, headers: Record<string, string> = {}) => http(`${base}/v1/topics/${topic}/partitions/0/records?offset=0`, { headers });

  it('no credentials → 401 UNAUTHENTICATED on produce, fetch and the v2 API; probes stay public', async () => {
    const topic = allowed('rest-anon');
    for (const res of [await produce(topic), await fetch(topic)]) {
      expect(res.status).toBe(401);
      expect(res.json()).toMatchObject({ error_code: 40101, code: 'UNAUTHENTICATED' });
    }
    const v2 = await http(`${base}/topics`);
    expect(v2.status).toBe(401);
    expect(v2.json()).toMatchObject({ error_code: 40101 });
    expect((await http(`${base}/healthz`)).status).toBe(200);
  });

  it('alg:none, forged, tampered, expired and garbage tokens → 401, as header and as access_token', async () => {
    const topic = allowed('rest-bad');
    for (const [name, bad] of Object.entries(badTokens)) {
      const viaHeader = await produce(topic, { authorization: `Bearer ${bad}` });
      expect(viaHeader.status, name).toBe(401);
      expect(viaHeader.json().code, name).toBe('UNAUTHENTICATED');
      const viaQuery = await http(`${base}/v1/topics/${topic}/offsets?access_token=${encodeURIComponent(bad)}`);
      expect(viaQuery.status, name).toBe(401);
    }
    expect((await produce(topic, { authorization: `Bearer ${badTokens.expired}` })).json().message).toMatch(/expired/);
  });

  it('a topic outside the grants → 403 PERMISSION_DENIED for produce (v1 and v2) and for fetch', async () => {
    const auth = { authorization: `Bearer ${token}` };
    const w = await produce(denied, auth);
    expect(w.status).toBe(403);
    expect(w.json()).toMatchObject({ error_code: 40301, code: 'PERMISSION_DENIED' });
    const v2 = await http(`${base}/topics/${denied}`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/vnd.kafka.json.v2+json' },
      body: json({ records: [{ value: { n: 1 } }] }),
    });
    expect(v2.status).toBe(403);
    expect(v2.json()).toMatchObject({ error_code: 40301 });
    const r = await fetch(denied, auth);
    expect(r.status).toBe(403);
    expect(r.json()).toMatchObject({ error_code: 40301, code: 'PERMISSION_DENIED' });
    expect(r.body).not.toContain('secret');
  });

  it('a granted topic → produce 200 with offsets, fetch returns the record', async () => {
    const topic = allowed('rest-ok');
    const auth = { authorization: `Bearer ${token}` };
    const w = await produce(topic, auth);
    expect(w.status).toBe(200);
    expect(w.json().offsets).toEqual([expect.objectContaining({ partition: 0, offset: '0' })]);
    const r = await fetch(topic, auth);
    expect(r.status).toBe(200);
    expect(r.json().records).toEqual([expect.objectContaining({ offset: '0', key: 'k', value: { n: 1 } })]);
  });
});

describe('SSE', () => {
  const events = (topic: string, query = '') => `${base}/v1/topics/${topic}/events?from=earliest${query}`;

  it('no credentials → 401; a bad access_token → 401; a topic outside the grants → 403', async () => {
    const topic = allowed('sse-anon');
    expect((await http(events(topic))).status).toBe(401);
    expect((await http(events(topic, `&access_token=${encodeURIComponent(badTokens['alg none']!)}`))).status).toBe(401);
    expect((await http(events(topic, `&access_token=${encodeURIComponent(badTokens['signed with another secret']!)}`))).status).toBe(401);
    const d = await http(events(denied), { headers: { authorization: `Bearer ${token}` } });
    expect(d.status).toBe(403);
    expect(d.json()).toMatchObject({ code: 'PERMISSION_DENIED' });
  });

  it('a granted topic streams its records (access_token, as EventSource sends it)', async () => {
    const topic = allowed('sse-ok');
    await http(`${base}/v1/topics/${topic}/records`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: json({ records: [{ value: 'hi' }] }) });
    const sse = new SseReader(events(topic, `&access_token=${token}`));
    try {
      const ev = await eventually(() => sse.events().find((e) => e.event === 'message'), { what: 'an SSE record' });
      expect(sse.status).toBe(200);
      expect(JSON.parse(ev.data)).toMatchObject({ offset: '0', value: 'hi' });
    } finally {
      sse.close();
    }
  });
});

describe('WebSocket', () => {
  it('no credentials → handshake 401; alg:none, forged, tampered, expired → 401 (header and access_token)', async () => {
    expect((await openWs(`ws://127.0.0.1:${gw.ports.http}`)).status).toBe(401);
    for (const [name, bad] of Object.entries(badTokens)) {
      expect((await openWs(`ws://127.0.0.1:${gw.ports.http}`, { query: `access_token=${encodeURIComponent(bad)}` })).status, name).toBe(401);
      expect((await openWs(`ws://127.0.0.1:${gw.ports.http}`, { headers: { authorization: `Bearer ${bad}` } })).status, name).toBe(401);
    }
  });

  it('a topic outside the grants → PERMISSION_DENIED error frames for publish and subscribe; the connection stays usable', async () => {
    const { status, client } = await openWs(`ws://127.0.0.1:${gw.ports.http}`, { headers: { authorization: `Bearer ${token}` } });
    expect(status).toBe(101);
    client!.send({ op: 'publish', id: 'p1', topic: denied, records: [{ value: 1 }] });
    expect(await client!.waitFor((f) => f.id === 'p1')).toMatchObject({ op: 'error', code: 'PERMISSION_DENIED' });
    client!.send({ op: 'subscribe', id: 's1', topic: denied, from: 'earliest' });
    expect(await client!.waitFor((f) => f.id === 's1')).toMatchObject({ op: 'error', code: 'PERMISSION_DENIED' });
    expect(client!.frames.some((f) => f.op === 'records')).toBe(false);
    // Same connection, granted topic: subscribe, publish, receive.
    const topic = allowed('ws-ok');
    client!.send({ op: 'publish', id: 'p2', topic, records: [{ key: 'k', value: { n: 2 } }] });
    expect(await client!.waitFor((f) => f.id === 'p2')).toMatchObject({ op: 'ack', offsets: [{ partition: 0, offset: '0' }] });
    client!.send({ op: 'subscribe', id: 's2', topic, from: 'earliest' });
    const recs = await client!.waitFor((f) => f.op === 'records' && f.sub === 's2');
    expect(recs.records[0]).toMatchObject({ offset: '0', value: { n: 2 } });
    client!.close();
  });
});

describe('gRPC', () => {
  it('no credentials → UNAUTHENTICATED on Produce, Fetch and Subscribe; bad tokens too', async () => {
    const topic = allowed('grpc-anon');
    const produce = { topic, records: [{ value: Buffer.from('x') }] };
    expect((await unary(stub, 'Produce', produce)).error?.code).toBe(grpc.status.UNAUTHENTICATED);
    expect((await unary(stub, 'Fetch', { topic, partition: 0, offset: '0' })).error?.code).toBe(grpc.status.UNAUTHENTICATED);
    const sub = new GrpcSubscription(stub, { topic, position: { earliest: {} } });
    expect((await sub.failed()).code).toBe(grpc.status.UNAUTHENTICATED);
    for (const [name, bad] of Object.entries(badTokens)) {
      expect((await unary(stub, 'Produce', produce, bearer(bad))).error?.code, name).toBe(grpc.status.UNAUTHENTICATED);
      const md = new grpc.Metadata();
      md.set('x-api-key', bad);
      expect((await unary(stub, 'Produce', produce, md)).error?.code, `${name} as x-api-key`).toBe(grpc.status.UNAUTHENTICATED);
    }
  });

  it('a topic outside the grants → PERMISSION_DENIED for Produce and for Subscribe', async () => {
    const w = await unary(stub, 'Produce', { topic: denied, records: [{ value: Buffer.from('x') }] }, bearer(token));
    expect(w.error?.code).toBe(grpc.status.PERMISSION_DENIED);
    const sub = new GrpcSubscription(stub, { topic: denied, position: { earliest: {} } }, bearer(token));
    expect((await sub.failed()).code).toBe(grpc.status.PERMISSION_DENIED);
    expect(sub.records()).toEqual([]);
    expect((await unary(stub, 'Fetch', { topic: denied, partition: 0, offset: '0' }, bearer(token))).error?.code).toBe(grpc.status.PERMISSION_DENIED);
  });

  it('a granted topic → Produce returns offsets and Subscribe streams the record', async () => {
    const topic = allowed('grpc-ok');
    const w = await unary(stub, 'Produce', { topic, records: [{ value: Buffer.from('v') }] }, bearer(token));
    expect(w.error).toBeUndefined();
    expect(w.response.offsets).toEqual([expect.objectContaining({ partition: 0, offset: '0' })]);
    const sub = new GrpcSubscription(stub, { topic, position: { earliest: {} } }, bearer(token));
    await eventually(() => sub.records().length === 1, { what: 'the record over Subscribe' });
    expect(sub.records()[0].value.toString()).toBe('v');
    sub.call.cancel();
  });
});

describe('a token that expires while a stream is open ends the stream with a clear reason', () => {
  // exp is in whole seconds: these tokens live 1–2 s, the streams run in parallel.
  const shortLived = () => signToken({ sub: 'brief', topics: grants, exp: Math.floor(Date.now() / 1000) + 2 });

  it.concurrent('SSE: `event: error` with UNAUTHENTICATED, then the response ends', async () => {
    const topic = allowed('exp-sse');
    const t = await shortLived();
    await http(`${base}/v1/topics/${topic}/records`, { method: 'POST', headers: { authorization: `Bearer ${t}` }, body: json({ records: [{ value: 1 }] }) });
    const sse = new SseReader(`${base}/v1/topics/${topic}/events?from=earliest`, { authorization: `Bearer ${t}` });
    await eventually(() => sse.events().length > 0, { what: 'first SSE record' });
    await sse.done;
    const last = sse.events().at(-1)!;
    expect(last.event).toBe('error');
    expect(JSON.parse(last.data)).toMatchObject({ error_code: 40101, code: 'UNAUTHENTICATED', message: expect.stringMatching(/expired/) });
  });

  it.concurrent('WebSocket: close 4512 with a reason that says the credentials expired', async () => {
    const { status, client } = await openWs(`ws://127.0.0.1:${gw.ports.http}`, { headers: { authorization: `Bearer ${await shortLived()}` } });
    expect(status).toBe(101);
    client!.send({ op: 'subscribe', id: 's', topic: allowed('exp-ws'), from: 'latest' });
    const closed = await client!.closed;
    expect(closed.code).toBe(4512);
    expect(closed.reason).toMatch(/expired/);
  });

  it.concurrent('gRPC: a Subscribe stream ends with UNAUTHENTICATED', async () => {
    const t = await shortLived();
    const topic = allowed('exp-grpc');
    await unary(stub, 'Produce', { topic, records: [{ value: Buffer.from('v') }] }, bearer(t));
    const sub = new GrpcSubscription(stub, { topic, position: { earliest: {} } }, bearer(t));
    await eventually(() => sub.records().length === 1, { what: 'the record before expiry' });
    const status = await sub.failed(5_000);
    expect(status.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(status.details).toMatch(/expired/);
  });
});

describe('the one-variable setup: STREAMGATE_AUTH_JWT_HS256_SECRET alone turns authentication on everywhere', () => {
  let one: CapturedGateway;
  beforeAll(async () => {
    // Only the environment variable (no auth keys in the file): loadServerConfig maps it to auth.jwt.hs256Secret.
    one = await startCapturedGateway({ env: { STREAMGATE_AUTH_JWT_HS256_SECRET: SECRET } });
  });
  afterAll(async () => {
    await one?.close();
  });

  it('REST, SSE, WebSocket and gRPC refuse requests without a token and accept one signed with the secret', async () => {
    expect(one.config.auth.jwt.hs256Secret).toBe(SECRET);
    const http1 = `http://127.0.0.1:${one.ports.http}`;
    const ws1 = `ws://127.0.0.1:${one.ports.http}`;
    const topic = uniqueTopic('env');
    const t = await signToken({ sub: 'env-user', topics: { read: [topic], write: [topic] } });
    const body = json({ records: [{ value: 1 }] });

    expect((await http(`${http1}/v1/topics/${topic}/records`, { method: 'POST', body })).status).toBe(401);
    expect((await http(`${http1}/v1/topics/${topic}/records`, { method: 'POST', body, headers: { authorization: `Bearer ${t}` } })).status).toBe(200);
    expect((await http(`${http1}/v1/topics/${topic}/events`)).status).toBe(401);
    expect((await openWs(ws1)).status).toBe(401);
    const ok = await openWs(ws1, { query: `access_token=${t}` });
    expect(ok.status).toBe(101);
    ok.client!.close();
    const s = grpcStub(one.ports.grpc);
    expect((await unary(s, 'GetOffsets', { topic })).error?.code).toBe(grpc.status.UNAUTHENTICATED);
    expect((await unary(s, 'GetOffsets', { topic }, bearer(t))).response.partitions).toEqual([expect.objectContaining({ partition: 0, latest: '1' })]);
    // The token's grants apply: another topic is denied.
    expect((await unary(s, 'GetOffsets', { topic: `${topic}-other` }, bearer(t))).error?.code).toBe(grpc.status.PERMISSION_DENIED);
    s.close();
  });
});
