/**
 * Audit log (issue 8): authentication failures and authorization denials on REST, SSE, WebSocket
 * and gRPC produce structured log lines with an `audit` field, and no credential (token, any of
 * its three segments, API key, HS256 secret) appears anywhere in the log, even at trace level.
 * The gateway runs in-process with a pino logger writing into memory.
 */
import { createHash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';
import { algNoneToken, bearer, grpcStub, http, openWs, SECRET, signToken, startCapturedGateway, unary, type CapturedGateway } from './helpers.js';

const API_KEY = 'audit-test-api-key-4f1c9d2e7b';
let gw: CapturedGateway;

beforeAll(async () => {
  gw = await startCapturedGateway({
    level: 'trace',
    config: {
      auth: {
        jwt: { hs256Secret: SECRET },
        apiKeys: [{ id: 'reader', sha256: createHash('sha256').update(API_KEY).digest('hex'), grants: { read: ['audit-*'] } }],
      },
    },
  });
});
afterAll(async () => {
  await gw?.close();
});

describe('audit log', () => {
  it('failures and denials on every protocol are audited; no credential appears in the log', async () => {
    const base = `http://127.0.0.1:${gw.ports.http}`;
    const ws = `ws://127.0.0.1:${gw.ports.http}`;
    const topic = uniqueTopic('audit');
    const denied = uniqueTopic('other');
    const valid = await signToken({ sub: 'auditee', topics: { read: ['audit-*'], write: ['audit-*'] } });
    const forged = await signToken({ sub: 'mallory', topics: { write: ['*'] } }, 'a-different-secret-0123456789abcdef');
    const none = algNoneToken({ sub: 'mallory', topics: { write: ['*'] } });
    const expired = await signToken({ sub: 'late', exp: Math.floor(Date.now() / 1000) - 30 });
    const wrongKey = 'audit-test-api-key-WRONG-000000';
    const body = JSON.stringify({ records: [{ value: 1 }] });

    // REST / SSE: missing, forged (header), alg none (query string), expired; then a denial.
    expect((await http(`${base}/v1/topics/${topic}/records`, { method: 'POST', body })).status).toBe(401);
    expect((await http(`${base}/v1/topics/${topic}/records`, { method: 'POST', body, headers: { authorization: `Bearer ${forged}` } })).status).toBe(401);
    expect((await http(`${base}/v1/topics/${topic}/events?access_token=${none}`)).status).toBe(401);
    expect((await http(`${base}/v1/topics/${topic}/offsets?access_token=${expired}`)).status).toBe(401);
    expect((await http(`${base}/v1/topics/${topic}/offsets`, { headers: { authorization: `Bearer ${wrongKey}` } })).status).toBe(401);
    expect((await http(`${base}/v1/topics/${denied}/records`, { method: 'POST', body, headers: { authorization: `Bearer ${valid}` } })).status).toBe(403);
    // The API key may read but not write.
    expect((await http(`${base}/v1/topics/${topic}/records`, { method: 'POST', body, headers: { authorization: `Bearer ${API_KEY}` } })).status).toBe(403);

    // WebSocket: a forged token at the handshake (query string), then a denied publish on a valid connection.
    expect((await openWs(ws, { query: `access_token=${forged}` })).status).toBe(401);
    const { client } = await openWs(ws, { query: `access_token=${valid}` });
    client!.send({ op: 'publish', id: 'p', topic: denied, records: [{ value: 1 }] });
    expect(await client!.waitFor((f) => f.id === 'p')).toMatchObject({ code: 'PERMISSION_DENIED' });
    client!.close();

    // gRPC: alg none and an API key that does not exist, then a denied Produce.
    const stub = grpcStub(gw.ports.grpc);
    expect((await unary(stub, 'ListTopics', {}, bearer(none))).error?.code).toBe(grpc.status.UNAUTHENTICATED);
    const md = new grpc.Metadata();
    md.set('x-api-key', wrongKey);
    expect((await unary(stub, 'ListTopics', {}, md)).error?.code).toBe(grpc.status.UNAUTHENTICATED);
    expect((await unary(stub, 'Produce', { topic: denied, records: [{ value: Buffer.from('x') }] }, bearer(valid))).error?.code).toBe(grpc.status.PERMISSION_DENIED);
    stub.close();

    await eventually(() => gw.logs().filter((l) => l.audit === 'denied').length >= 4, { what: 'four denial audit lines' });
    const logs = gw.logs();
    const failures = logs.filter((l) => l.audit === 'authentication_failed');
    // 5 REST + 1 WebSocket + 2 gRPC failed authentications, each one line at warn.
    expect(failures).toHaveLength(8);
    for (const l of failures) expect(l).toMatchObject({ level: 40, reason: expect.any(String), remoteAddress: expect.stringMatching(/127\.0\.0\.1$/) });
    expect(failures.map((l) => l.protocol)).toEqual(['rest', 'rest', 'rest', 'rest', 'rest', 'websocket', 'grpc', 'grpc']);
    expect(failures.map((l) => l.reason)).toContain('The token has expired.');
    const denials = logs.filter((l) => l.audit === 'denied');
    expect(denials.map((l) => [l.protocol, l.principal, l.action, l.topic])).toEqual(
      expect.arrayContaining([
        ['rest', 'auditee', 'write', denied],
        ['rest', 'apikey:reader', 'write', topic],
        ['websocket', 'auditee', 'write', denied],
        ['grpc', 'auditee', 'write', denied],
      ]),
    );

    // No credential anywhere in the log, whole or in part (a JWT's segments are each sensitive:
    // the payload tells who and what, the signature with the header and payload replays it).
    const text = gw.logText();
    expect(text.length).toBeGreaterThan(0);
    const secrets = [SECRET, API_KEY, wrongKey, ...[valid, forged, none, expired].flatMap((t) => [t, ...t.split('.').filter((s) => s.length >= 16)])];
    for (const s of secrets) expect(text.includes(s), `log contains ${s.slice(0, 12)}…`).toBe(false);
    expect(text).not.toMatch(/access_token=/);
  });
});
