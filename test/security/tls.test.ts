/**
 * TLS on the shared HTTP port (REST, SSE, WebSocket) and on the gRPC listener (issue 8; MQTT is
 * covered by mqtt-tls.test.ts). With `tls.certFile/keyFile` the listeners speak TLS only: clients
 * trusting the throwaway test CA work, plaintext clients fail cleanly and the server keeps
 * serving. With `tls.clientAuth` a verified client certificate's CN (`device-42`) is the
 * principal, so `auth.anonymous: false` admits certificate holders without a token.
 * Embedded backend: TLS is a listener matter, the backend plays no part.
 */
import { connect as netConnect } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestTls, type TestTls } from '../support/tls.js';
import { uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';
import { bearer, grpcStub, http, openWs, SECRET, signToken, SseReader, startCapturedGateway, unary, type CapturedGateway } from './helpers.js';

let pki: TestTls;
beforeAll(() => {
  pki = makeTestTls('device-42');
});
afterAll(() => pki?.remove());

const json = (v: unknown): string => JSON.stringify(v);
const serverTls = () => ({ certFile: pki.server.certFile, keyFile: pki.server.keyFile });
const grpcTls = (client?: { cert: Buffer; key: Buffer }) => grpc.credentials.createSsl(pki.ca, client?.key ?? null, client?.cert ?? null);

/** Sends a plaintext HTTP/1.1 request on a raw socket; resolves with whatever came back before the close. */
function plaintextRequest(port: number, request = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'): Promise<Buffer> {
  return new Promise((resolve) => {
    const received: Buffer[] = [];
    const s = netConnect(port, '127.0.0.1', () => s.write(request));
    s.on('data', (d: Buffer) => received.push(d));
    s.on('error', () => undefined); // a reset is one of the clean outcomes; the close below resolves
    s.on('close', () => resolve(Buffer.concat(received)));
    s.setTimeout(5_000, () => s.destroy());
  });
}

describe('TLS listeners (no client certificates)', () => {
  let gw: CapturedGateway;
  let https: string;
  beforeAll(async () => {
    gw = await startCapturedGateway({ config: { tls: serverTls() } });
    https = `https://127.0.0.1:${gw.ports.http}`;
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('HTTPS REST produce + fetch and an SSE stream work with the test CA', async () => {
    const topic = uniqueTopic('tls-rest');
    const w = await http(`${https}/v1/topics/${topic}/records`, { method: 'POST', body: json({ records: [{ value: 'over tls' }] }), tls: { ca: pki.ca } });
    expect(w.status).toBe(200);
    expect(w.json().offsets).toEqual([expect.objectContaining({ partition: 0, offset: '0' })]);
    const r = await http(`${https}/v1/topics/${topic}/partitions/0/records?offset=0`, { tls: { ca: pki.ca } });
    expect(r.json().records).toEqual([expect.objectContaining({ offset: '0', value: 'over tls' })]);
    const sse = new SseReader(`${https}/v1/topics/${topic}/events?from=earliest`, {}, { ca: pki.ca });
    try {
      const ev = await eventually(() => sse.events().find((e) => e.event === 'message'), { what: 'an SSE record over TLS' });
      expect(JSON.parse(ev.data)).toMatchObject({ offset: '0', value: 'over tls' });
    } finally {
      sse.close();
    }
  });

  it('a client that does not trust the CA refuses the server (it really is the test certificate)', async () => {
    await expect(http(`${https}/healthz`)).rejects.toThrow(/self-signed|unable to verify|certificate/i);
  });

  it('WSS: publish and subscribe over wss:// with the test CA', async () => {
    const { status, client } = await openWs(`wss://127.0.0.1:${gw.ports.http}`, { tls: { ca: pki.ca } });
    expect(status).toBe(101);
    const topic = uniqueTopic('tls-ws');
    client!.send({ op: 'publish', id: 'p', topic, records: [{ value: 1 }] });
    expect(await client!.waitFor((f) => f.id === 'p')).toMatchObject({ op: 'ack' });
    client!.send({ op: 'subscribe', id: 's', topic, from: 'earliest' });
    expect((await client!.waitFor((f) => f.op === 'records')).records[0]).toMatchObject({ offset: '0', value: 1 });
    client!.close();
  });

  it('plaintext HTTP and ws:// to the TLS port fail cleanly; the server stays up and HTTPS works afterwards', async () => {
    // A raw plaintext request: no HTTP response comes back (at most a TLS alert record, 0x15), the connection closes.
    const bytes = await plaintextRequest(gw.ports.http);
    expect(bytes.length === 0 || bytes[0] === 0x15).toBe(true);
    expect(bytes.toString('latin1')).not.toMatch(/^HTTP\/1\.1 200/);
    // Node's HTTP client and ws fail with a transport error instead of hanging.
    await expect(http(`http://127.0.0.1:${gw.ports.http}/healthz`, { timeoutMs: 5_000 })).rejects.toThrow();
    await expect(openWs(`ws://127.0.0.1:${gw.ports.http}`)).rejects.toThrow();
    const after = await http(`${https}/healthz`, { tls: { ca: pki.ca } });
    expect(after.status).toBe(200);
  });

  it('gRPC over TLS works with the test CA; plaintext gRPC to the TLS port fails (UNAVAILABLE) and TLS still works after', async () => {
    const secure = grpcStub(gw.ports.grpc, grpcTls());
    const plain = grpcStub(gw.ports.grpc);
    try {
      const topic = uniqueTopic('tls-grpc');
      const w = await unary(secure, 'Produce', { topic, records: [{ value: Buffer.from('g') }] });
      expect(w.error).toBeUndefined();
      expect(w.response.offsets).toEqual([expect.objectContaining({ partition: 0, offset: '0' })]);
      const p = await unary(plain, 'ListTopics', {}, new grpc.Metadata(), 3_000);
      expect([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED]).toContain(p.error?.code);
      const again = await unary(secure, 'Fetch', { topic, partition: 0, offset: '0' });
      expect(again.response.records.map((r: { value: Buffer }) => r.value.toString())).toEqual(['g']);
    } finally {
      secure.close();
      plain.close();
    }
  });
});

describe('clientAuth require, anonymous off: the certificate is the credential', () => {
  let gw: CapturedGateway;
  let https: string;
  beforeAll(async () => {
    gw = await startCapturedGateway({
      level: 'debug',
      config: { tls: { ...serverTls(), caFile: pki.caFile, clientAuth: 'require' }, auth: { anonymous: false, certificates: [{ match: 'device-42', grants: { read: ['*'], write: ['*'] } }] } },
    });
    https = `https://127.0.0.1:${gw.ports.http}`;
  });
  afterAll(async () => {
    await gw?.close();
  });

  /** Log lines bound to a principal (createContext binds `principal` on every request/connection logger). */
  const principals = () => new Set(gw.logs().map((l) => l.principal).filter((p) => p !== undefined));

  it('HTTPS and WSS without a certificate, or with one from another CA, are refused during the handshake', async () => {
    await expect(http(`${https}/healthz`, { tls: { ca: pki.ca } })).rejects.toThrow();
    await expect(http(`${https}/healthz`, { tls: { ca: pki.ca, cert: pki.rogue.cert, key: pki.rogue.key } })).rejects.toThrow();
    await expect(openWs(`wss://127.0.0.1:${gw.ports.http}`, { tls: { ca: pki.ca } })).rejects.toThrow();
  });

  it('HTTPS with the client certificate is authenticated as device-42', async () => {
    const tls = { ca: pki.ca, cert: pki.client.cert, key: pki.client.key };
    const topic = uniqueTopic('mtls-rest');
    const w = await http(`${https}/v1/topics/${topic}/records`, { method: 'POST', body: json({ records: [{ value: 1 }] }), tls });
    expect(w.status).toBe(200);
    // A rejected request is logged (debug) with the principal it was made as.
    expect((await http(`${https}/v1/topics/${uniqueTopic('missing')}/offsets`, { tls })).status).toBe(404);
    expect(principals()).toContain('device-42');
    expect(gw.logs().find((l) => l.msg === 'request rejected')).toMatchObject({ principal: 'device-42', status: 404 });
  });

  it('WSS with the client certificate opens as device-42', async () => {
    const { status, client } = await openWs(`wss://127.0.0.1:${gw.ports.http}`, { tls: { ca: pki.ca, cert: pki.client.cert, key: pki.client.key } });
    expect(status).toBe(101);
    await eventually(() => gw.logs().find((l) => l.protocol === 'websocket' && l.msg === 'connection open'), { what: 'connection log' });
    expect(gw.logs().find((l) => l.protocol === 'websocket' && l.msg === 'connection open')).toMatchObject({ principal: 'device-42' });
    client!.close();
  });

  it('gRPC without a certificate, or with a rogue one, fails at the TLS handshake (UNAVAILABLE)', async () => {
    for (const creds of [grpcTls(), grpcTls(pki.rogue)]) {
      const stub = grpcStub(gw.ports.grpc, creds);
      const res = await unary(stub, 'ListTopics', {}, new grpc.Metadata(), 3_000);
      expect([grpc.status.UNAVAILABLE, grpc.status.DEADLINE_EXCEEDED]).toContain(res.error?.code);
      stub.close();
    }
  });

  it('gRPC: the verified client certificate is the principal (no token needed)', async () => {
    const stub = grpcStub(gw.ports.grpc, grpcTls(pki.client));
    const res = await unary(stub, 'ListTopics', {}, new grpc.Metadata());
    expect(res.error).toBeUndefined();
    stub.close();
  });
});

describe('clientAuth request, anonymous off: a certificate OR a token', () => {
  let gw: CapturedGateway;
  let https: string;
  beforeAll(async () => {
    gw = await startCapturedGateway({
      config: { tls: { ...serverTls(), caFile: pki.caFile, clientAuth: 'request' }, auth: { anonymous: false, jwt: { hs256Secret: SECRET }, certificates: [{ match: 'device-42', grants: { read: ['*'], write: ['*'] } }] } },
    });
    https = `https://127.0.0.1:${gw.ports.http}`;
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('HTTPS: no certificate → 401, a rogue certificate → 401, the client certificate → 200, a token without certificate → 200', async () => {
    const path = `${https}/v1/topics/${uniqueTopic('req')}/records`;
    const body = json({ records: [{ value: 1 }] });
    expect((await http(path, { method: 'POST', body, tls: { ca: pki.ca } })).status).toBe(401);
    expect((await http(path, { method: 'POST', body, tls: { ca: pki.ca, cert: pki.rogue.cert, key: pki.rogue.key } })).status).toBe(401);
    expect((await http(path, { method: 'POST', body, tls: { ca: pki.ca, cert: pki.client.cert, key: pki.client.key } })).status).toBe(200);
    const token = await signToken({ sub: 'svc', topics: { read: ['*'], write: ['*'] } });
    expect((await http(path, { method: 'POST', body, headers: { authorization: `Bearer ${token}` }, tls: { ca: pki.ca } })).status).toBe(200);
  });

  it('gRPC: the handshake accepts clients without a certificate; a token then authenticates them', async () => {
    const stub = grpcStub(gw.ports.grpc, grpcTls());
    expect((await unary(stub, 'ListTopics', {})).error?.code).toBe(grpc.status.UNAUTHENTICATED);
    const token = await signToken({ sub: 'svc', topics: { read: ['*'], write: ['*'] } });
    const ok = await unary(stub, 'Produce', { topic: uniqueTopic('req-grpc'), records: [{ value: Buffer.from('x') }] }, bearer(token));
    expect(ok.error).toBeUndefined();
    stub.close();
  });
});
