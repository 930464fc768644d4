/**
 * Authentication, decided once in the core for every protocol. Adapters only extract credentials
 * (a bearer token, an API key, a client-certificate subject) and hand them to `authenticate`,
 * which yields a principal with its grants compiled into a `Scope` (gateway/grants.ts); the core
 * asks that scope on every produce, subscribe, fetch and join, and at delivery for key-scoped
 * principals.
 *
 * The simplest setup is one variable: with `STREAMGATE_AUTH_JWT_HS256_SECRET` set, every protocol
 * requires a valid HS256 JWT signed with it, whose `topics` claim holds its grants
 * (`{"read": [...], "write": [...], "groups": [...]}`, see gateway/grants.ts).
 *
 * Default deny: with any authentication configured, a principal without grants can do nothing.
 * Only with none at all is the anonymous principal unrestricted (the zero-setup default).
 */
import { createHash, createPublicKey, timingSafeEqual, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { z } from 'zod';
import type { Principal } from './api.js';
import { globMatch, grantsSchema, Scope, type Grants, type MqttRouting } from './grants.js';
import { ANONYMOUS } from './context.js';
import { GatewayError } from './errors.js';

/** Config section `auth`. */
export const authConfigShape = {
  auth: z
    .strictObject({
      /** Allow requests without credentials. Default: allowed only when no JWT key, API key or certificate rule is configured. */
      anonymous: z.boolean().optional(),
      /** What anonymous principals may do when anonymous access is on (default: everything while no authentication is configured, else nothing). */
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
          /** The claim naming the principal; a token without it (or with a non-string) is refused. */
          principalClaim: z.string().min(1).default('sub'),
          /** The claim holding the grants (see gateway/grants.ts); a token without it has none. */
          grantsClaim: z.string().min(1).default('topics'),
        })
        .prefault({}),
      /** API keys: `sha256` is the hex SHA-256 of the key (the key itself is never stored). */
      apiKeys: z
        .array(z.strictObject({ id: z.string().min(1), sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be 64 lowercase hex characters'), grants: grantsSchema.prefault({}) }))
        .default([]),
      /**
       * Grants of TLS client-certificate principals, first match wins: `match` is a `*` pattern over
       * the certificate's principal name (its subject CN, else the whole subject). A verified
       * certificate no rule matches authenticates, but is granted nothing.
       */
      certificates: z.array(z.strictObject({ match: z.string().min(1), grants: grantsSchema.prefault({}) })).default([]),
    })
    .prefault({}),
} as const;

/** The validated `auth` section: what the Authenticator verifies credentials against. */
export type AuthConfig = z.infer<(typeof authConfigShape)['auth']>;

/** Credentials an adapter extracted from its protocol. */
export interface Credentials {
  /** A JWT, or an API key (tried as a key when it is not a JWT). */
  readonly token?: string;
  /** The principal name of a verified TLS client certificate (see `certificateSubject`). */
  readonly certificateSubject?: string;
}

/** Verifies credentials and compiles the principal's grants. */
export class Authenticator {
  private readonly keys: JWTVerifyGetKey[] = [];
  private readonly apiKeys: { id: string; hash: Buffer; grants: Grants }[];
  /** Some authentication (JWT keys, API keys or certificate rules) is configured: principals without grants may do nothing. */
  readonly enabled: boolean;
  private readonly anonymousAllowed: boolean;
  private readonly anonymous: Principal;

  /** @param mqtt the MQTT routing `{mqtt: F}` grants expand through (absent: such grants grant nothing). */
  constructor(
    private readonly config: AuthConfig,
    private readonly mqtt?: MqttRouting,
  ) {
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
    this.enabled = this.keys.length > 0 || this.apiKeys.length > 0 || config.certificates.length > 0;
    this.anonymousAllowed = config.anonymous ?? !this.enabled;
    const anonymousScope =
      config.anonymousGrants !== undefined ? Scope.compile(config.anonymousGrants, ANONYMOUS, mqtt) : this.enabled ? Scope.EMPTY : undefined;
    this.anonymous = anonymousScope === undefined ? ANONYMOUS : Object.freeze({ ...ANONYMOUS, scope: anonymousScope });
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
    if (credentials.certificateSubject !== undefined) return this.certificatePrincipal(credentials.certificateSubject);
    if (this.anonymousAllowed) return this.anonymous;
    throw new GatewayError('UNAUTHENTICATED', 'Credentials are required.');
  }

  private certificatePrincipal(name: string): Principal {
    const identity = { id: name, subject: name };
    const rule = this.config.certificates.find((r) => globMatch(r.match, name));
    return { ...identity, anonymous: false, scope: rule === undefined ? Scope.EMPTY : Scope.compile(rule.grants, identity, this.mqtt) };
  }

  private async verifyJwt(token: string): Promise<Principal> {
    const errors: unknown[] = [];
    for (const key of this.keys) {
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(token, key, {
          algorithms: ['HS256', 'RS256', 'ES256'],
          clockTolerance: this.config.jwt.clockToleranceSec,
          ...(this.config.jwt.issuer === undefined ? {} : { issuer: this.config.jwt.issuer }),
          ...(this.config.jwt.audience === undefined ? {} : { audience: this.config.jwt.audience }),
        }));
      } catch (err) {
        errors.push(err);
        continue;
      }
      return this.principalFromClaims(payload);
    }
    // Several keys: the key that verified the signature says why it was refused (expired, wrong
    // issuer…); the others only say "not my algorithm" / "signature mismatch".
    const code = (err: unknown) => (err instanceof Error && 'code' in err ? String(err.code) : '');
    const expired = errors.find((e) => code(e) === 'ERR_JWT_EXPIRED');
    const claim = errors.find((e) => code(e) === 'ERR_JWT_CLAIM_VALIDATION_FAILED');
    if (expired !== undefined) throw new GatewayError('UNAUTHENTICATED', 'The token has expired.', { cause: expired });
    if (claim !== undefined) {
      throw new GatewayError('UNAUTHENTICATED', `The token's "${String((claim as { claim?: unknown }).claim)}" claim is not accepted.`, { cause: claim });
    }
    throw new GatewayError('UNAUTHENTICATED', 'The token is not valid.', { cause: errors.at(-1) });
  }

  private principalFromClaims(payload: JWTPayload): Principal {
    const { principalClaim, grantsClaim } = this.config.jwt;
    const subject = payload[principalClaim];
    if (typeof subject !== 'string' || subject === '') {
      // Without a name every such token would be the same principal: MQTT sessions and REST consumer instances would be shared.
      throw new GatewayError('UNAUTHENTICATED', `The token has no "${principalClaim}" claim naming its principal.`);
    }
    const claims: Record<string, string> = {};
    for (const [name, value] of Object.entries(payload)) if (typeof value === 'string') claims[name] = value;
    const raw = payload[grantsClaim];
    const parsed = raw === undefined ? undefined : grantsSchema.safeParse(raw);
    if (parsed !== undefined && !parsed.success) {
      throw new GatewayError('UNAUTHENTICATED', `The token's "${grantsClaim}" claim is not a valid grant: ${parsed.error.issues[0]?.message ?? 'invalid'}.`);
    }
    const identity = { id: subject, subject, claims };
    return {
      ...identity,
      anonymous: false,
      scope: parsed === undefined ? Scope.EMPTY : Scope.compile(parsed.data, identity, this.mqtt),
      ...(typeof payload.exp === 'number' ? { expiresAt: payload.exp * 1000 } : {}),
    };
  }

  private matchApiKey(token: string): Principal | undefined {
    const hash = createHash('sha256').update(token).digest();
    const match = this.apiKeys.find((k) => timingSafeEqual(k.hash, hash));
    if (match === undefined) return undefined;
    // Namespaced: an API key's name cannot collide with a JWT subject (MQTT sessions and consumer instances belong to principals).
    const identity = { id: `apikey:${match.id}`, subject: match.id };
    return { ...identity, anonymous: false, scope: Scope.compile(match.grants, identity, this.mqtt) };
  }
}
