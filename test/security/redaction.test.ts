/**
 * Issue 16, finding 10: a refused WebSocket upgrade logged the full URL, `access_token=` included
 * (on /v1/ws and /mqtt). Every protocol's credentials are tried here — query tokens on refused
 * and accepted upgrades, a token offered as a subprotocol, bearer tokens and API keys on REST and
 * gRPC metadata, MQTT CONNECT passwords over TCP and WebSocket, and a malformed HTTP request
 * carrying an Authorization header (Node's parser error holds the raw bytes) — with the gateway
 * logging at trace level; no line may contain any of them. Before the fix the refused upgrades'
 * lines held `access_token=<secret>` (the first assertion on them failed).
 */
import { createHash, randomBytes } from 'node:crypto';
import { connect as netConnect } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import mqtt from 'mqtt';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REDACTED, redactSubprotocols, redactUrl } from '../../gateway/log.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';
import { bearer, grpcStub, http, openWs, SECRET, signToken, startCapturedGateway, unary, type CapturedGateway } from './helpers.js';

const secret = (what: string): string => `${what}-${randomBytes(12).toString('hex')}`;

describe('redactUrl / redactSubprotocols', () => {
  it('replaces secret query values and userinfo; keeps the rest', () => {
    expect(redactUrl('/v1/ws?access_token=abc.def.ghi&from=earliest')).toBe(`/v1/ws?access_token=${REDACTED}&from=earliest`);
    expect(redactUrl('/x?API_KEY=1&apiKey=2&api-key=3&Password=4&token=5&key=6&sig=7&topic=t')).toBe(
      `/x?API_KEY=${REDACTED}&apiKey=${REDACTED}&api-key=${REDACTED}&Password=${REDACTED}&token=${REDACTED}&key=${REDACTED}&sig=${REDACTED}&topic=t`,
    );
    expect(redactUrl('/x?access%5Ftoken=s')).toBe(`/x?access%5Ftoken=${REDACTED}`);
    expect(redactUrl('/x?access_token')).toBe(`/x?access_token=${REDACTED}`);
    expect(redactUrl('https://user:pw@host:1/p?q=1')).toBe(`https://${REDACTED}@host:1/p?q=1`);
    expect(redactUrl('/plain/path')).toBe('/plain/path');
    expect(redactUrl(undefined)).toBe('');
    expect(redactUrl('/x?%zz=1&token=%zz')).toBe(`/x?%zz=1&token=${REDACTED}`);
  });

  it('keeps subprotocol names, censors anything shaped like a credential', () => {
    expect(redactSubprotocols('streamgate.v1.json, mqtt')).toEqual(['streamgate.v1.json', 'mqtt']);
    expect(redactSubprotocols(['x', 'base64url.bearer.authorization.k8s.io.ZXlKaGJHY2lPaUpJVXpJMU5pSjk'])).toEqual(['x', REDACTED]);
    expect(redactSubprotocols('eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln')).toEqual([REDACTED]);
    expect(redactSubprotocols('k-4f1c9d2e7b8a6c5d4e3f2a1b')).toEqual([REDACTED]);
    expect(redactSubprotocols(undefined)).toEqual([]);
  });
});

describe('no secret in any log line (every protocol, trace level)', () => {
  const API_KEY = secret('apikey');
  let gw: CapturedGateway;
  beforeAll(async () => {
    gw = await startCapturedGateway({
      level: 'trace',
      config: {
        auth: {
          jwt: { hs256Secret: SECRET },
          apiKeys: [{ id: 'redaction', sha256: createHash('sha256').update(API_KEY).digest('hex'), grants: { read: ['redact-*'] } }],
        },
      },
    });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('refused and accepted upgrades, REST, gRPC and MQTT credentials never appear', async () => {
    const secrets: string[] = [SECRET, API_KEY];
    const keep = (s: string): string => (secrets.push(s), s);
    const valid = keep(await signToken({ sub: 'redactee', topics: { read: ['redact-*'], write: ['redact-*'] } }));
    const forged = keep(await signToken({ sub: 'mallory', topics: { write: ['*'] } }, 'another-secret-0123456789abcdefghij'));
    const ws = gw.wsUrl;

    // WebSocket /v1/ws and /mqtt: refused for the subprotocol (the line that leaked), refused by
    // authentication, accepted; a token offered as a subprotocol.
    const refusedUpgrade = (path: string, query: string, protocols: string[]): Promise<number> =>
      new Promise((resolve, reject) => {
        const c = new WebSocket(`${ws}${path}?${query}`, protocols);
        c.once('unexpected-response', (_req, res) => {
          resolve(res.statusCode ?? 0);
          res.resume();
          c.terminate();
        });
        c.once('open', () => reject(new Error('upgrade accepted')));
        c.once('error', () => undefined);
      });
    expect(await refusedUpgrade('/v1/ws', `access_token=${keep(secret('ws-query'))}&from=earliest`, ['bogus.v9'])).toBe(400);
    expect(await refusedUpgrade('/mqtt', `access_token=${keep(secret('mqtt-ws-query'))}`, ['bogus'])).toBe(400);
    const protoToken = keep(`base64url.bearer.authorization.k8s.io.${randomBytes(24).toString('base64url')}`);
    expect(await refusedUpgrade('/v1/ws', `token=${keep(secret('ws-token-param'))}`, ['bogus', protoToken])).toBe(400);
    expect((await openWs(ws, { query: `access_token=${forged}` })).status).toBe(401);
    const accepted = await openWs(ws, { query: `access_token=${valid}` });
    expect(accepted.status).toBe(101);
    accepted.client!.close();
    await accepted.client!.closed;

    // REST: header, query string, an API key with a denial, and a malformed request with a bearer
    // token (Node's HTTP parser error carries the raw request).
    const base = gw.httpUrl;
    expect((await http(`${base}/v1/topics`, { headers: { authorization: `Bearer ${keep(secret('rest-bearer'))}` } })).status).toBe(401);
    expect((await http(`${base}/v1/topics/x/events?access_token=${keep(secret('sse-query'))}`)).status).toBe(401);
    expect((await http(`${base}/v1/topics/${uniqueTopic('redact')}/records`, { method: 'POST', headers: { authorization: `Bearer ${API_KEY}` }, body: '{"records":[{"value":1}]}' })).status).toBe(403);
    const raw = keep(secret('raw-bearer'));
    const rawAnswer = await new Promise<string>((resolve) => {
      let text = '';
      const s = netConnect(Number(new URL(base).port), '127.0.0.1', () =>
        s.write(`GET /v1/topics?access_token=${raw} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${raw}\r\nBad Header: \u0001\r\n\r\n`),
      );
      s.on('data', (d: Buffer) => (text += d.toString('latin1')));
      s.on('error', () => undefined);
      s.on('close', () => resolve(text));
    });
    expect(rawAnswer).toMatch(/^HTTP\/1\.1 400/);

    // gRPC metadata: a bearer token and an API key that do not authenticate.
    const stub = grpcStub(gw.ports.grpc);
    expect((await unary(stub, 'ListTopics', {}, bearer(keep(secret('grpc-bearer'))))).error?.code).toBe(grpc.status.UNAUTHENTICATED);
    const md = new grpc.Metadata();
    md.set('x-api-key', keep(secret('grpc-apikey')));
    expect((await unary(stub, 'ListTopics', {}, md)).error?.code).toBe(grpc.status.UNAUTHENTICATED);
    stub.close();

    // MQTT: bad passwords over TCP (5 and 3.1.1) and over WebSocket.
    const refusedConnect = (url: string, options: mqtt.IClientOptions): Promise<void> =>
      new Promise((resolve) => {
        const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5_000, clientId: uniqueId('redact'), ...options });
        c.on('error', () => undefined);
        c.once('close', () => {
          c.end(true);
          resolve();
        });
      });
    await refusedConnect(`mqtt://127.0.0.1:${gw.ports.mqtt}`, { protocolVersion: 5, username: 'device', password: keep(secret('mqtt5-password')) });
    await refusedConnect(`mqtt://127.0.0.1:${gw.ports.mqtt}`, { protocolVersion: 4, username: 'device', password: keep(secret('mqtt311-password')) });
    await refusedConnect(`${gw.mqttWsUrl}?access_token=${keep(secret('mqtt-ws-url'))}`, { protocolVersion: 5, username: 'device', password: keep(secret('mqtt-ws-password')) });

    // Everything above was logged (so the absence below means redaction, not silence).
    await eventually(() => gw.logs().filter((l) => l.audit === 'authentication_failed').length >= 8, { what: 'the authentication failures logged' });
    const refusals = gw.logs().filter((l) => l.msg === 'refused: unsupported subprotocol');
    expect(refusals.length).toBeGreaterThanOrEqual(3);
    for (const l of refusals) expect(String(l.path)).not.toMatch(/(access_token|token)=(?!\[REDACTED\])/);
    expect(refusals.map((l) => l.path)).toContain(`/v1/ws?access_token=${REDACTED}&from=earliest`);
    expect(refusals.flatMap((l) => l.offered as string[])).toContain(REDACTED);
    expect(gw.logs().some((l) => l.msg === 'http client error')).toBe(true);

    const text = gw.logText();
    for (const s of secrets) {
      for (const part of [s, ...s.split('.').filter((p) => p.length >= 16)]) expect(text.includes(part), `log contains ${part.slice(0, 14)}…`).toBe(false);
    }
    expect(text).not.toMatch(/rawPacket/);
  });
});
