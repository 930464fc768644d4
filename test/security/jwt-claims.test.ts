/**
 * What a JWT must carry (issue 16, finding 14), over REST, WebSocket, gRPC and MQTT: a token
 * without the principal claim is refused — it used to become the shared principal "jwt", so every
 * such token owned the same sessions and consumer instances — and an expired token says it expired
 * even when a public key is configured next to the HS256 secret (it used to say "not valid",
 * the last key's complaint).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { exportSPKI, generateKeyPair, SignJWT } from 'jose';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { bearer, grpcStub, http, openWs, SECRET, signToken, unary } from './helpers.js';

let gw: TestGateway;
let dir: string;
let noSub: string;
let expired: string;
const topic = uniqueTopic('jwt-claims');

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sg-jwt-'));
  const rsa = await generateKeyPair('RS256', { extractable: true });
  writeFileSync(join(dir, 'rsa.pem'), await exportSPKI(rsa.publicKey));
  gw = await startTestGateway({ backend: 'embedded', config: { auth: { jwt: { hs256Secret: SECRET, publicKeyFiles: [join(dir, 'rsa.pem')], clockToleranceSec: 0 } } } });
  const grants = { read: ['*'], write: ['*'] };
  noSub = await new SignJWT({ topics: grants }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('5m').sign(new TextEncoder().encode(SECRET));
  expired = await signToken({ sub: 'alice', topics: grants, exp: Math.floor(Date.now() / 1000) - 60 });
});
afterAll(async () => {
  await gw?.close();
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
});

describe('JWT claims', () => {
  it('REST: no sub → 401 naming the claim; expired → 401 saying expired', async () => {
    const post = (token: string) =>
      http(`${gw.httpUrl}/v1/topics/${topic}/records`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: JSON.stringify({ records: [{ value: 1 }] }) });
    const a = await post(noSub);
    expect(a.status).toBe(401);
    expect(a.body).toContain('no \\"sub\\" claim');
    const b = await post(expired);
    expect(b.status).toBe(401);
    expect(b.body).toContain('expired');
  });

  it('WebSocket: the upgrade is refused for both', async () => {
    expect((await openWs(gw.wsUrl, { headers: { authorization: `Bearer ${noSub}` } })).status).toBe(401);
    expect((await openWs(gw.wsUrl, { headers: { authorization: `Bearer ${expired}` } })).status).toBe(401);
  });

  it('gRPC: UNAUTHENTICATED with the reason', async () => {
    const stub = grpcStub(gw.ports.grpc);
    try {
      const a = await unary(stub, 'ListTopics', {}, bearer(noSub));
      expect(a.error?.code).toBe(grpc.status.UNAUTHENTICATED);
      expect(a.error?.details).toContain('"sub"');
      const b = await unary(stub, 'ListTopics', {}, bearer(expired));
      expect(b.error?.code).toBe(grpc.status.UNAUTHENTICATED);
      expect(b.error?.details).toContain('expired');
    } finally {
      stub.close();
    }
  });

  it('MQTT 5: CONNACK refuses both', async () => {
    for (const password of [noSub, expired]) {
      const client = mqtt.connect(`mqtt://127.0.0.1:${gw.ports.mqtt}`, { protocolVersion: 5, clientId: uniqueId('jwt'), username: 'jwt', password, reconnectPeriod: 0 });
      const code = await new Promise<number | undefined>((resolve) => {
        client.once('connect', () => resolve(0));
        client.once('error', (err) => resolve((err as { code?: number }).code));
      });
      client.end(true);
      expect(code).toBe(0x86);
    }
  });
});
