/**
 * Authentication and authorization, decided once in the core for every protocol. Adapters only
 * extract credentials (a bearer token, an API key, a client-certificate subject) and hand them
 * to `authenticate`; the core checks grants on each produce/subscribe/fetch/join — once per
 * request or subscription, never per record.
 *
 * The simplest setup is one variable: with `STREAMGATE_AUTH_JWT_HS256_SECRET` set, every protocol
 * requires a valid HS256 JWT signed with it, whose `topics` claim
 * `{"read": [patterns], "write": [patterns]}` grants access (patterns use `*`).
 */
import { createHash, createPublicKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { z } from 'zod';
import type { Principal } from './api.js';
import { ANONYMOUS } from './context.js';
import { GatewayError } from './errors.js';

const grantsSchema = z.strictObject({
  read: z.array(z.string()).default([]),
  write: z.array(z.string()).default([]),
  admin: z.array(z.string()).default([]),
});

/** Config section `auth`. */
export const authConfigShape = {
  auth: z
    .strictObject({
      /** Allow requests without credentials. Default: allowed only when no JWT key or API key is configured. */
      anonymous: z.boolean().optional(),
      /** What anonymous principals may do when anonymous access is on (default: everything). */
      anonymousGrants: grantsSchema.optional(),
      jwt: z
        .strictObject({
          /** Shared secret for HS256 tokens. */
          hs256Secret: z.string().min(16, 'must be at least 16 characters').optional(),
          /** PEM files of RS256 / ES256 public keys. */
          publicKeyFiles: z.array(z.string()).default([]),
          /** A JWKS file (JSON `{"keys": [...]}`) with verification keys. */
          jwksFile: z.string().optional(),
          issuer: z.string().optional(),
          audience: z.string().optional(),
          clockToleranceSec: z.number().int().min(0).default(5),
        })
        .prefault({}),
      /** API keys: `sha256` is the hex SHA-256 of the key (the key itself is never stored). */
      apiKeys: z
        .array(z.strictObject({ id: z.string().min(1), sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters'), grants: grantsSchema.prefault({}) }))
        .default([]),
    })
    .prefault({}),
} as const;

export type AuthConfig = z.infer<(typeof authConfigShape)['auth']>;

/** Credentials an adapter extracted from its protocol. */
export interface Credentials {
  /** A JWT, or an API key (tried as a key when it is not a JWT). */
  readonly token?: string;
  /** The subject of a verified TLS client certificate. */
  readonly certificateSubject?: string;
}

export type Action = 'read' | 'write' | 'admin';

/** Verifies credentials and checks grants. */
export class Authenticator {
  private readonly keys: JWTVerifyGetKey[] = [];
  private readonly apiKeys: { id: string; hash: Buffer; grants: Principal['grants'] }[];
  readonly enabled: boolean;
  private readonly anonymousAllowed: boolean;
  private readonly anonymous: Principal;

  constructor(private readonly config: AuthConfig) {
    const { jwt } = config;
    if (jwt.hs256Secret !== undefined) {
      const secret = new TextEncoder().encode(jwt.hs256Secret);
      this.keys.push(async (header) => {
        if (header.alg !== 'HS256') throw new Error('not an HS256 token');
        return secret;
      });
    }
    for (const file of jwt.publicKeyFiles) {
      const key: KeyObject = createPublicKey(readFileSync(file));
      this.keys.push(async (header) => {
        const expected = key.asymmetricKeyType === 'ec' ? 'ES256' : 'RS256';
        if (header.alg !== expected) throw new Error(`key ${file} verifies ${expected} only`);
        return key;
      });
    }
    if (jwt.jwksFile !== undefined) this.keys.push(createLocalJWKSet(JSON.parse(readFileSync(jwt.jwksFile, 'utf8'))));
    this.apiKeys = config.apiKeys.map((k) => ({ id: k.id, hash: Buffer.from(k.sha256, 'hex'), grants: k.grants }));
    this.enabled = this.keys.length > 0 || this.apiKeys.length > 0;
    this.anonymousAllowed = config.anonymous ?? !this.enabled;
    this.anonymous = config.anonymousGrants === undefined ? ANONYMOUS : { ...ANONYMOUS, grants: config.anonymousGrants };
  }

  /** Returns the principal for the credentials; UNAUTHENTICATED when they are missing or invalid. */
  async authenticate(credentials: Credentials): Promise<Principal> {
    const token = credentials.token?.trim();
    if (token !== undefined && token !== '') {
      if (token.split('.').length === 3 && this.keys.length > 0) return this.verifyJwt(token);
      const apiKey = this.matchApiKey(token);
      if (apiKey !== undefined) return apiKey;
      throw new GatewayError('UNAUTHENTICATED', 'The token or API key is not valid.');
    }
    if (credentials.certificateSubject !== undefined) {
      return { id: credentials.certificateSubject, anonymous: false };
    }
    if (this.anonymousAllowed) return this.anonymous;
    throw new GatewayError('UNAUTHENTICATED', 'Credentials are required.');
  }

  private async verifyJwt(token: string): Promise<Principal> {
    let lastError: unknown;
    for (const key of this.keys) {
      try {
        const { payload } = await jwtVerify(token, key, {
          algorithms: ['HS256', 'RS256', 'ES256'],
          clockTolerance: this.config.jwt.clockToleranceSec,
          ...(this.config.jwt.issuer === undefined ? {} : { issuer: this.config.jwt.issuer }),
          ...(this.config.jwt.audience === undefined ? {} : { audience: this.config.jwt.audience }),
        });
        return principalFromClaims(payload);
      } catch (err) {
        lastError = err;
      }
    }
    const reason = lastError instanceof Error && 'code' in lastError && lastError.code === 'ERR_JWT_EXPIRED' ? 'The token has expired.' : 'The token is not valid.';
    throw new GatewayError('UNAUTHENTICATED', reason, { cause: lastError });
  }

  private matchApiKey(token: string): Principal | undefined {
    const hash = createHash('sha256').update(token).digest();
    const match = this.apiKeys.find((k) => timingSafeEqual(k.hash, hash));
    return match === undefined ? undefined : { id: `apikey:${match.id}`, anonymous: false, ...(match.grants ? { grants: match.grants } : {}) };
  }
}

function principalFromClaims(payload: JWTPayload): Principal {
  const topics = (payload as { topics?: unknown }).topics;
  const list = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
  const grants =
    typeof topics === 'object' && topics !== null
      ? { read: list((topics as Record<string, unknown>).read), write: list((topics as Record<string, unknown>).write), admin: list((topics as Record<string, unknown>).admin) }
      : { read: [], write: [], admin: [] };
  return {
    id: typeof payload.sub === 'string' ? payload.sub : 'jwt',
    anonymous: false,
    grants,
    ...(typeof payload.exp === 'number' ? { expiresAt: payload.exp * 1000 } : {}),
  };
}

const patternCache = new Map<string, RegExp>();

/** True when `topic` matches a pattern where `*` stands for any run of characters. */
export function topicMatches(pattern: string, topic: string): boolean {
  let re = patternCache.get(pattern);
  if (re === undefined) {
    re = new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\-]/g, '\\$&')).join('.*')}$`);
    if (patternCache.size < 10_000) patternCache.set(pattern, re);
  }
  return re.test(topic);
}

/** True when the principal's grants allow `action` on `topic` (admin implies all; no grants = unrestricted). */
export function isAllowed(principal: Principal, action: Action, topic: string): boolean {
  const grants = principal.grants as { read: readonly string[]; write: readonly string[]; admin?: readonly string[] } | undefined;
  if (grants === undefined) return true;
  return [...(grants[action] ?? []), ...(grants.admin ?? [])].some((pattern) => topicMatches(pattern, topic));
}

/** Throws UNAUTHENTICATED for expired credentials and PERMISSION_DENIED unless `action` on `topic` is granted. */
export function authorize(principal: Principal, action: Action, topic: string): void {
  if (principal.expiresAt !== undefined && principal.expiresAt <= Date.now()) {
    throw new GatewayError('UNAUTHENTICATED', 'The credentials have expired.');
  }
  if (!isAllowed(principal, action, topic)) {
    throw new GatewayError('PERMISSION_DENIED', `Principal ${principal.id} may not ${action} topic ${topic}.`);
  }
}

/**
 * The principal name of a verified TLS client certificate on a socket (`CN=…` of the subject,
 * else the whole subject), or undefined when the socket is not TLS or the peer sent no valid one.
 */
export function certificateSubject(socket: unknown): string | undefined {
  const tlsSocket = socket as { authorized?: boolean; getPeerCertificate?: () => { subject?: Record<string, string | string[]> } };
  if (tlsSocket.authorized !== true || typeof tlsSocket.getPeerCertificate !== 'function') return undefined;
  const subject = tlsSocket.getPeerCertificate().subject;
  if (subject === undefined) return undefined;
  const cn = subject.CN;
  if (typeof cn === 'string' && cn !== '') return cn;
  const parts = Object.entries(subject).map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : v}`);
  return parts.length > 0 ? parts.join(',') : undefined;
}
