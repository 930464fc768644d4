import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { Authenticator, authorize, topicMatches, type AuthConfig } from './auth.js';
import { coreConfigSchema, loadConfig } from './config.js';
import { GatewayError } from './errors.js';

const SECRET = 'a-test-secret-of-32-characters!!';
const authConfig = (auth: Record<string, unknown>): AuthConfig => loadConfig(coreConfigSchema, { argv: [], env: {}, file: { auth } }).auth;

async function hs256(claims: Record<string, unknown>, exp = '5m', secret = SECRET): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject('device-1').setIssuedAt().setExpirationTime(exp).sign(new TextEncoder().encode(secret));
}

async function code(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(GatewayError);
  return (err as GatewayError).code;
}

describe('authentication', () => {
  it('is anonymous and unrestricted when nothing is configured', async () => {
    const auth = new Authenticator(authConfig({}));
    const p = await auth.authenticate({});
    expect(p.anonymous).toBe(true);
    expect(() => authorize(p, 'write', 'anything')).not.toThrow();
  });

  it('requires a valid HS256 token once the one variable is set, and grants from the topics claim', async () => {
    const config = loadConfig(coreConfigSchema, { argv: [], env: { STREAMGATE_AUTH_JWT_HS256_SECRET: SECRET }, file: {} });
    const auth = new Authenticator(config.auth);
    expect(await code(auth.authenticate({}))).toBe('UNAUTHENTICATED');
    const p = await auth.authenticate({ token: await hs256({ topics: { read: ['sensors.*'], write: ['sensors.in'] } }) });
    expect(p.id).toBe('device-1');
    expect(() => authorize(p, 'read', 'sensors.temp')).not.toThrow();
    expect(() => authorize(p, 'write', 'sensors.in')).not.toThrow();
    expect(() => authorize(p, 'write', 'sensors.temp')).toThrow(/may not write/);
    expect(() => authorize(p, 'read', 'billing')).toThrow(GatewayError);
  });

  it('rejects expired, wrongly signed, alg:none and garbage tokens', async () => {
    const auth = new Authenticator(authConfig({ jwt: { hs256Secret: SECRET } }));
    expect(await code(auth.authenticate({ token: await hs256({}, '-1m') }))).toBe('UNAUTHENTICATED');
    expect(await code(auth.authenticate({ token: await hs256({}, '5m', 'another-secret-of-32-characters!') }))).toBe('UNAUTHENTICATED');
    expect(await code(auth.authenticate({ token: new UnsecuredJWT({ topics: { read: ['*'] } }).setSubject('x').encode() }))).toBe('UNAUTHENTICATED');
    expect(await code(auth.authenticate({ token: 'not.a.jwt' }))).toBe('UNAUTHENTICATED');
  });

  it('checks iss and aud when configured', async () => {
    const auth = new Authenticator(authConfig({ jwt: { hs256Secret: SECRET, issuer: 'https://issuer', audience: 'streamgate' } }));
    const good = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setIssuer('https://issuer').setAudience('streamgate').setExpirationTime('1m').sign(new TextEncoder().encode(SECRET));
    const bad = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setIssuer('https://other').setAudience('streamgate').setExpirationTime('1m').sign(new TextEncoder().encode(SECRET));
    await expect(auth.authenticate({ token: good })).resolves.toMatchObject({ anonymous: false });
    expect(await code(auth.authenticate({ token: bad }))).toBe('UNAUTHENTICATED');
  });

  it('verifies RS256 and ES256 tokens from PEM files and a JWKS file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-auth-'));
    const rsa = await generateKeyPair('RS256', { extractable: true });
    const ec = await generateKeyPair('ES256', { extractable: true });
    const ec2 = await generateKeyPair('ES256', { extractable: true });
    writeFileSync(join(dir, 'rsa.pem'), await exportSPKI(rsa.publicKey));
    writeFileSync(join(dir, 'ec.pem'), await exportSPKI(ec.publicKey));
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [{ ...(await exportJWK(ec2.publicKey)), kid: 'k2', alg: 'ES256' }] }));
    const auth = new Authenticator(authConfig({ jwt: { publicKeyFiles: [join(dir, 'rsa.pem'), join(dir, 'ec.pem')], jwksFile: join(dir, 'jwks.json') } }));
    const sign = (key: Parameters<SignJWT['sign']>[0], alg: string, kid?: string) =>
      new SignJWT({ topics: { read: ['*'] } }).setProtectedHeader(kid ? { alg, kid } : { alg }).setSubject(alg).setExpirationTime('1m').sign(key);
    expect((await auth.authenticate({ token: await sign(rsa.privateKey, 'RS256') })).id).toBe('RS256');
    expect((await auth.authenticate({ token: await sign(ec.privateKey, 'ES256') })).id).toBe('ES256');
    expect((await auth.authenticate({ token: await sign(ec2.privateKey, 'ES256', 'k2') })).id).toBe('ES256');
    const stranger = await generateKeyPair('ES256');
    expect(await code(auth.authenticate({ token: await sign(stranger.privateKey, 'ES256') }))).toBe('UNAUTHENTICATED');
  });

  it('accepts API keys stored as SHA-256 hashes only', async () => {
    const key = 'sk_live_0123456789';
    const auth = new Authenticator(authConfig({ apiKeys: [{ id: 'ingest', sha256: createHash('sha256').update(key).digest('hex'), grants: { write: ['events'] } }] }));
    const p = await auth.authenticate({ token: key });
    expect(p.id).toBe('apikey:ingest');
    expect(() => authorize(p, 'write', 'events')).not.toThrow();
    expect(() => authorize(p, 'read', 'events')).toThrow(/may not read/);
    expect(await code(auth.authenticate({ token: 'sk_live_wrong' }))).toBe('UNAUTHENTICATED');
    expect(await code(auth.authenticate({}))).toBe('UNAUTHENTICATED');
  });

  it('matches topic patterns with * only', () => {
    expect(topicMatches('a.*', 'a.b.c')).toBe(true);
    expect(topicMatches('a.*', 'ab')).toBe(false);
    expect(topicMatches('*', 'x')).toBe(true);
    expect(topicMatches('a-b', 'a-b')).toBe(true);
    expect(topicMatches('a.b', 'aXb')).toBe(false);
  });
});
