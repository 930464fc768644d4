/**
 * The REST adapter's HTTP plumbing, shared by its route families: a route table matched in
 * order, bounded body reading, replies. No protocol semantics here — routes-v2.ts (Confluent)
 * and routes-v1.ts (native + SSE) define the routes, routes.ts dispatches.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context, Gateway } from '../../gateway/api.js';
import { GatewayError } from '../../gateway/errors.js';
import { MEDIA, stringifyWithNumbers, stringifyWithStrings } from './codec.js';
import type { RestConfig } from './config.js';
import { RestError } from './errors.js';
import type { ConsumerRegistry } from './consumer-instance.js';
import { params, queryInteger } from './schemas.js';

/** What a handler returns: a status and a body already rendered, or nothing when it wrote the response itself. */
export interface Reply {
  status: number;
  body?: string;
  contentType?: string;
}

export interface Request {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly ctx: Context;
  readonly params: string[];
  readonly query: URLSearchParams;
  /** Reads the body (bounded by rest.maxBodyBytes). */
  body(): Promise<Buffer>;
}

export type Handler = (r: Request) => Promise<Reply | undefined>;

export interface Route {
  readonly method: string;
  readonly pattern: RegExp;
  readonly native: boolean;
  readonly handler: Handler;
}

/** A path segment (one route parameter). */
export const SEG = '([^/]+)';

/** The routes of the adapter, tried in definition order. */
export class RouteTable {
  private readonly routes: Route[] = [];

  /** `native` routes answer errors with the core's `code` and `details` (streamgate's v1 API). */
  add(method: string, path: string, handler: Handler, native = false): void {
    this.routes.push({ method, pattern: new RegExp(`^${path}$`), native, handler });
  }

  /** The routes in match order (test/rest compares them with the OpenAPI document). */
  list(): readonly Route[] {
    return this.routes;
  }

  /**
   * The route for a request; when the path exists but not with this method, the methods it
   * does have (for 405's `Allow`, RFC 9110 §15.5.6; GET routes answer HEAD too).
   */
  match(method: string, path: string): { route: Route; params: string[] } | { allowed: string[] } | undefined {
    const allowed = new Set<string>();
    for (const route of this.routes) {
      const m = route.pattern.exec(path);
      if (m === null) continue;
      if (route.method === method || (method === 'HEAD' && route.method === 'GET')) return { route, params: m.slice(1) };
      allowed.add(route.method);
      if (route.method === 'GET') allowed.add('HEAD');
    }
    return allowed.size > 0 ? { allowed: [...allowed] } : undefined;
  }
}

/** A W3C `traceparent` request header travels into the records' headers (the core validates it). */
export function traceOf(req: IncomingMessage): { traceparent?: string } {
  const value = headerValue(req, 'traceparent');
  return value === undefined ? {} : { traceparent: value };
}

/**
 * `/topics/` → `/topics`. A loop, not `replace(/\/+$/, '')`: that regex retries from every slash of
 * a long run not at the end, quadratic in the path (a 16 KB path of slashes blocked 450 ms).
 */
export function withoutTrailingSlashes(path: string): string {
  let end = path.length;
  while (end > 1 && path.charCodeAt(end - 1) === 0x2f) end--;
  return path.slice(0, end);
}

/** A request header's first value; empty counts as absent. */
export function headerValue(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s === '' ? undefined : s;
}

/** Writes a whole reply (with Content-Length), or a bodiless status. */
export function send(res: ServerResponse, status: number, body: string | undefined, contentType: string): void {
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) }).end(body);
}

/** Reads at most `limit` bytes; over it (by Content-Length or by counting) rejects with 413 and stops reading. */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? 0);
    const tooLarge = () => new RestError('BODY_TOO_LARGE', `The request body exceeds the limit of ${limit} bytes (rest.maxBodyBytes).`);
    if (declared > limit) {
      req.pause();
      reject(tooLarge());
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.pause();
        reject(tooLarge());
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(new GatewayError('CANCELLED', 'The request body could not be read.', { cause: err }));
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

/** A non-negative integer query parameter of the v1 API (schemas.ts params.v1Count), absent when missing or empty. */
export function queryInt(query: URLSearchParams, name: string): number | undefined {
  return queryInteger(query.get(name), params.v1Count, () => new GatewayError('INVALID_ARGUMENT', `The ${name} query parameter must be a non-negative integer of at most 15 digits.`));
}

/** What the route families need from the adapter. */
export interface RouteDeps {
  readonly gateway: Gateway;
  readonly config: RestConfig;
  readonly consumers: ConsumerRegistry;
  /** Where clients reach this gateway: `rest.advertisedUrl`, else the accepting socket's address. */
  advertisedBase(req: IncomingMessage): string;
  /** The HTTP host's HttpHost.claimConnection: moves the socket's count to a long-lived stream's protocol. */
  claimConnection(req: IncomingMessage, protocol: string): () => void;
  /** Open SSE streams, ended with an error event at shutdown. */
  readonly streams: Set<(error: GatewayError) => void>;
}

/** A Confluent v2 reply: JSON with offsets as bare numbers. */
export function v2Reply(status: number, body: unknown, contentType: string = MEDIA.v2): Reply {
  return { status, body: stringifyWithNumbers(body), contentType };
}

/** A native v1 reply: JSON with offsets as decimal strings. */
export function v1Reply(status: number, body: unknown): Reply {
  return { status, body: stringifyWithStrings(body), contentType: MEDIA.native };
}

/** 204 No Content. */
export const NO_CONTENT: Reply = { status: 204 };
