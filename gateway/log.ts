/**
 * The one structured logger (pino). Components take a child with their bindings.
 *
 * Secrets never reach a log line. Two layers: call sites log what they need, URLs through
 * `redactUrl` and client-offered subprotocols through `redactSubprotocols`; and pino's `redact`
 * censors the fields credentials travel in, should anything log them anyway (request headers, an
 * MQTT CONNECT's password, Node's HTTP parser errors, which carry the raw request bytes).
 */
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

export type { Logger } from 'pino';

/** What a censored value reads as. */
export const REDACTED = '[REDACTED]';

/**
 * Fields censored wherever they appear at these paths: credential headers (HTTP, WebSocket
 * handshakes, gRPC metadata), passwords and tokens, and `err.rawPacket` (Node's HTTP parser
 * attaches the unparsed request, Authorization header and query string included, to its errors).
 */
export const REDACT_PATHS: readonly string[] = [
  ...['authorization', 'cookie', 'set-cookie', 'x-api-key', 'sec-websocket-protocol', 'proxy-authorization'].flatMap((h) => [
    `headers["${h}"]`,
    `req.headers["${h}"]`,
    `request.headers["${h}"]`,
    `metadata["${h}"]`,
  ]),
  ...['password', 'token', 'apiKey', 'api_key', 'accessToken', 'access_token', 'secret', 'hs256Secret', 'credentials'].flatMap((k) => [k, `*.${k}`]),
  'err.rawPacket',
  'err.input',
];

/** Logger options every gateway logger shares (also for loggers built by embedders and tests). */
export const LOG_OPTIONS: LoggerOptions = {
  base: { service: 'streamgate' },
  timestamp: pino.stdTimeFunctions.isoTime,
  redact: { paths: [...REDACT_PATHS], censor: REDACTED },
};

/** Creates the process logger writing JSON lines to stdout (or to `destination`). */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  return destination === undefined ? pino({ ...LOG_OPTIONS, level }) : pino({ ...LOG_OPTIONS, level }, destination);
}

/** What lazyChild keeps until the child logger is first used. */
interface LazyTarget {
  /** The logger this is a child of: a real one or another lazy child. */
  readonly parent: Logger;
  readonly bindings: Record<string, unknown>;
  /** The nearest real logger up the chain: a child takes its level, so it answers level checks. */
  readonly levels: Logger;
  log?: Logger;
}

/** The lazy children made here, to their state (a lazy parent is made real before its child). */
const LAZY = new WeakMap<object, LazyTarget>();

const real = (log: Logger): Logger => {
  const t = LAZY.get(log);
  return t === undefined ? log : materialize(t);
};

const materialize = (t: LazyTarget): Logger => (t.log ??= real(t.parent).child(t.bindings));

const LEVEL_METHODS = new Set<string | symbol>(['trace', 'debug', 'info', 'warn', 'error', 'fatal']);
const noop = (): void => {};

const LAZY_CHILD: ProxyHandler<LazyTarget> = {
  get(t, key, proxy: Logger) {
    if (t.log === undefined) {
      // A call at a level that is not logged (a connection's debug lines) makes no child, and a
      // child of this one waits as this one does.
      if (LEVEL_METHODS.has(key) && !t.levels.isLevelEnabled(key as string)) return noop;
      if (key === 'isLevelEnabled') return (level: string) => t.levels.isLevelEnabled(level);
      if (key === 'child') return (bindings: Record<string, unknown>, options?: object) => (options === undefined ? lazyChild(proxy, bindings) : materialize(t).child(bindings, options));
    }
    const log = materialize(t);
    const value: unknown = Reflect.get(log, key, log);
    // pino's methods read their state from `this`: call them on the real child.
    return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(log) : value;
  },
  set: (t, key, value) => Reflect.set(materialize(t), key, value),
  has: (t, key) => Reflect.has(materialize(t), key),
};

/**
 * `parent.child(bindings)`, built on first use. pino builds a child's bindings string when the
 * child is made, and every connection takes one or more (per connection, per client id, per call
 * context): a connection that never logs then holds a few hundred bytes of strings for nothing.
 * This one holds its bindings object until something logs at an enabled level (or reads or sets
 * anything else on it), then is the child in every respect.
 */
export function lazyChild(parent: Logger, bindings: Record<string, unknown>): Logger {
  const t: LazyTarget = { parent, bindings, levels: LAZY.get(parent)?.log ?? LAZY.get(parent)?.levels ?? parent };
  const proxy = new Proxy(t, LAZY_CHILD) as unknown as Logger;
  LAZY.set(proxy, t);
  return proxy;
}

/** A logger that discards everything (embedding, benchmarks). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/**
 * Query parameter names whose values are secrets (compared case-insensitively, `-` and `_`
 * ignored): OAuth / RFC 6750 tokens, API keys, passwords, signatures.
 */
const SECRET_PARAMS = new Set(
  ['access_token', 'token', 'id_token', 'refresh_token', 'jwt', 'bearer', 'auth', 'authorization', 'api_key', 'apikey', 'key', 'x-api-key', 'password', 'passwd', 'pwd', 'pass', 'secret', 'client_secret', 'signature', 'sig', 'session', 'sessionid', 'code'].map(
    normalizeParam,
  ),
);

function normalizeParam(name: string): string {
  return name.toLowerCase().replace(/[-_]/g, '');
}

/**
 * A URL (absolute or a request target like `/v1/ws?access_token=…`) safe to log: the values of
 * secret-bearing query parameters and any userinfo (`user:password@`) replaced by `[REDACTED]`.
 * Linear in the URL; never throws.
 */
export function redactUrl(url: string | undefined): string {
  if (url === undefined) return '';
  let out = url;
  const scheme = out.indexOf('://');
  if (scheme !== -1) {
    const authorityEnd = firstOf(out, ['/', '?', '#'], scheme + 3);
    const at = out.lastIndexOf('@', authorityEnd);
    if (at > scheme) out = `${out.slice(0, scheme + 3)}${REDACTED}${out.slice(at)}`;
  }
  const q = out.indexOf('?');
  if (q === -1) return out;
  const hash = out.indexOf('#', q);
  const query = hash === -1 ? out.slice(q + 1) : out.slice(q + 1, hash);
  const params = query.split('&').map((pair) => {
    const eq = pair.indexOf('=');
    const raw = eq === -1 ? pair : pair.slice(0, eq);
    let name = raw;
    try {
      name = decodeURIComponent(raw.replace(/\+/g, ' '));
    } catch {
      // Not valid percent-encoding: judge the raw name.
    }
    return SECRET_PARAMS.has(normalizeParam(name)) ? `${raw}=${REDACTED}` : pair;
  });
  return `${out.slice(0, q)}?${params.join('&')}${hash === -1 ? '' : `#${REDACTED}`}`;
}

function firstOf(s: string, chars: string[], from: number): number {
  let best = s.length;
  for (const c of chars) {
    const i = s.indexOf(c, from);
    if (i !== -1 && i < best) best = i;
  }
  return best;
}

/**
 * The subprotocols a client offered (`Sec-WebSocket-Protocol`), safe to log: some clients carry a
 * bearer token as a subprotocol (e.g. `base64url.bearer.authorization.k8s.io.<token>`), so only
 * names that look like protocol names (≤ 32 characters of letters, digits, `.` `-` `_`, and not
 * long runs of base64) are kept; anything else is `[REDACTED]`.
 */
export function redactSubprotocols(offered: string | string[] | undefined): string[] {
  if (offered === undefined) return [];
  const list = (Array.isArray(offered) ? offered.join(',') : offered).split(',').map((p) => p.trim()).filter((p) => p !== '');
  return list.slice(0, 8).map((p) => (p.length <= 32 && /^[A-Za-z][\w.-]*$/.test(p) && !/[A-Za-z0-9_-]{20}/.test(p) ? p : REDACTED));
}
