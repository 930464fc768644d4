import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, UnsecuredJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import type { Principal } from './api.js';
import { Authenticator, type AuthConfig } from './auth.js';
import { coreConfigSchema, loadConfig } from './config.js';
import { GatewayError } from './errors.js';

const SECRET = 'a-test-secret-of-32-characters!!';
const authConfig = (auth: Record<string, unknown>): AuthConfig => loadConfig(coreConfigSchema, { argv: [], env: {}, file: { auth } }).auth;

async function hs256(claims: Record<string, unknown>, exp = '5m', secret = SECRET): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: 'HS256' }).setSubject('device-1').setIssuedAt().setExpirationTime(exp).sign(new TextEncoder().encode(secret));
}

/** The decision the core takes on a record of `topic` with `key` (unrestricted without a scope). */
const may = (p: Principal, action: 'read' | 'write', topic: string, key: string | null = 'k') =>
  p.scope === undefined || p.scope.permits(action, topic, key === null ? null : Buffer.from(key));

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
    expect(p.scope).toBeUndefined();
    expect(may(p, 'write', 'anything')).toBe(true);
  });

  it('requires a valid HS256 token once the one variable is set, and grants from the topics claim', async () => {
    const config = loadConfig(coreConfigSchema, { argv: [], env: { STREAMGATE_AUTH_JWT_HS256_SECRET: SECRET }, file: {} });
    const auth = new Authenticator(config.auth);
    expect(await code(auth.authenticate({}))).toBe('UNAUTHENTICATED');
    const p = await auth.authenticate({ token: await hs256({ topics: { read: ['sensors.*'], write: ['sensors.in'] } }) });
    expect(p.id).toBe('device-1');
    expect(may(p, 'read', 'sensors.temp')).toBe(true);
    expect(may(p, 'write', 'sensors.in')).toBe(true);
    expect(may(p, 'write', 'sensors.temp')).toBe(false);
    expect(may(p, 'read', 'billing')).toBe(false);
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
    const good = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('svc').setIssuer('https://issuer').setAudience('streamgate').setExpirationTime('1m').sign(new TextEncoder().encode(SECRET));
    const bad = await new SignJWT({}).setProtectedHeader({ alg: 'HS256' }).setSubject('svc').setIssuer('https://other').setAudience('streamgate').setExpirationTime('1m').sign(new TextEncoder().encode(SECRET));
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
    expect(p.subject).toBe('ingest');
    expect(may(p, 'write', 'events')).toBe(true);
    expect(may(p, 'read', 'events')).toBe(false);
    expect(await code(auth.authenticate({ token: 'sk_live_wrong' }))).toBe('UNAUTHENTICATED');
    expect(await code(auth.authenticate({}))).toBe('UNAUTHENTICATED');
  });

  it('says "expired" for an expired token whichever key is tried last', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-auth-'));
    const rsa = await generateKeyPair('RS256', { extractable: true });
    writeFileSync(join(dir, 'rsa.pem'), await exportSPKI(rsa.publicKey));
    const auth = new Authenticator(authConfig({ jwt: { hs256Secret: SECRET, publicKeyFiles: [join(dir, 'rsa.pem')] } }));
    await expect(auth.authenticate({ token: await hs256({}, '-1m') })).rejects.toThrow('The token has expired.');
    const expiredRsa = await new SignJWT({}).setProtectedHeader({ alg: 'RS256' }).setSubject('x').setExpirationTime('-1m').sign(rsa.privateKey);
    await expect(auth.authenticate({ token: expiredRsa })).rejects.toThrow('The token has expired.');
  });

  it('refuses a token without the principal claim instead of sharing one principal, or takes the configured claim', async () => {
    const noSub = await new SignJWT({ topics: { read: ['*'] } }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1m').sign(new TextEncoder().encode(SECRET));
    const auth = new Authenticator(authConfig({ jwt: { hs256Secret: SECRET } }));
    await expect(auth.authenticate({ token: noSub })).rejects.toThrow(/no "sub" claim/);
    const byDevice = new Authenticator(authConfig({ jwt: { hs256Secret: SECRET, principalClaim: 'device_id' } }));
    const token = await new SignJWT({ device_id: 'd-7' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1m').sign(new TextEncoder().encode(SECRET));
    expect((await byDevice.authenticate({ token })).id).toBe('d-7');
  });

  it('grants a token without a topics claim nothing, and refuses a malformed one', async () => {
    const auth = new Authenticator(authConfig({ jwt: { hs256Secret: SECRET } }));
    const p = await auth.authenticate({ token: await hs256({}) });
    expect(may(p, 'read', 'anything')).toBe(false);
    expect(await code(auth.authenticate({ token: await hs256({ topics: { read: [{ bogus: 1 }] } }) }))).toBe('UNAUTHENTICATED');
  });

  it('gives certificate principals the grants of the first matching rule, and none without one (default deny)', async () => {
    const auth = new Authenticator(
      authConfig({ anonymous: false, certificates: [{ match: 'device-*', grants: { write: [{ topic: 'telemetry', key: '{sub}/#' }] } }] }),
    );
    const device = await auth.authenticate({ certificateSubject: 'device-42' });
    expect(device.id).toBe('device-42');
    expect(may(device, 'write', 'telemetry', 'device-42/temp')).toBe(true);
    expect(may(device, 'write', 'telemetry', 'device-43/temp')).toBe(false);
    const stranger = await auth.authenticate({ certificateSubject: 'laptop' });
    expect(may(stranger, 'read', 'telemetry')).toBe(false);
    // Only certificate rules configured: still authentication, so anonymous is off by default too.
    const certOnly = new Authenticator(authConfig({ certificates: [{ match: '*', grants: {} }] }));
    expect(await code(certOnly.authenticate({}))).toBe('UNAUTHENTICATED');
  });

  it('gives anonymous principals nothing when authentication is configured and anonymous access is on without grants', async () => {
    const auth = new Authenticator(authConfig({ anonymous: true, jwt: { hs256Secret: SECRET } }));
    const p = await auth.authenticate({});
    expect(p.anonymous).toBe(true);
    expect(may(p, 'read', 'anything')).toBe(false);
    const granted = new Authenticator(authConfig({ anonymous: true, anonymousGrants: { read: ['public.*'] }, jwt: { hs256Secret: SECRET } }));
    const q = await granted.authenticate({});
    expect(may(q, 'read', 'public.news')).toBe(true);
    expect(may(q, 'write', 'public.news')).toBe(false);
  });
});
