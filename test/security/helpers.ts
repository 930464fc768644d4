/**
 * Shared helpers for the security tests: JWT minting (valid, `alg: none`, forged), an in-process
 * gateway whose pino output is collected (startTestGateway takes no logger), and small HTTP(S),
 * WebSocket and gRPC clients that report what the server answered instead of throwing.
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import * as grpc from '@grpc/grpc-js';
import { SignJWT } from 'jose';
import { createLogger } from '../../gateway/log.js';
import { WebSocket, type ClientOptions } from 'ws';
import { createStub, type StreamGatewayClient } from '../../clients/ts/node/index.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { eventually } from '../support/wait.js';

/** HS256 secret used by the security tests (not numeric: the env loader would coerce digits to a number). */
export const SECRET = 'streamgate-security-test-secret-0123456789';

export interface TokenClaims {
  sub?: string;
  /** Grants (gateway/grants.ts syntax). */
  topics?: { read?: unknown[]; write?: unknown[]; admin?: string[]; groups?: string[]; metrics?: boolean };
  /** Seconds since the epoch; default one hour from now. */
  exp?: number;
  [claim: string]: unknown;
}

/** An HS256 JWT signed with `secret`. */
export async function signToken(claims: TokenClaims, secret = SECRET): Promise<string> {
  const { exp, ...rest } = claims;
  return new SignJWT(rest)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setIssuedAt()
    .setExpirationTime(exp ?? Math.floor(Date.now() / 1000) + 3600)
    .sign(new TextEncoder().encode(secret));
}

const b64url = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

/** An unsigned token (`alg: none`, empty signature) carrying generous claims (RFC 7519 §6). */
export function algNoneToken(claims: TokenClaims): string {
  return `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ exp: Math.floor(Date.now() / 1000) + 3600, ...claims })}.`;
}

/** A valid token whose payload was swapped for a more generous one, keeping the original signature. */
export async function tamperedToken(valid: TokenClaims, forged: TokenClaims): Promise<string> {
  const [header, , signature] = (await signToken(valid)).split('.');
  return `${header}.${b64url({ exp: Math.floor(Date.now() / 1000) + 3600, ...forged })}.${signature}`;
}

// ---------------------------------------------------------------------------------------------
// In-process gateway with collected logs

export interface CapturedGateway extends TestGateway {
  /** Every JSON log line written so far, raw (to search for leaked secrets) and parsed. */
  readonly logText: () => string;
  readonly logs: () => Record<string, unknown>[];
}

/** startTestGateway (embedded by default) with a pino logger writing into memory at `level`, so tests can assert on audit lines. */
export async function startCapturedGateway(
  options: { backend?: 'kafka' | 'embedded'; config?: Record<string, unknown>; level?: string; env?: Record<string, string> } = {},
): Promise<CapturedGateway> {
  const lines: string[] = [];
  // The gateway's own logger options (redaction included), writing into memory.
  const log = createLogger(options.level ?? 'info', { write: (line: string) => void lines.push(line) });
  const gw = await startTestGateway({ backend: options.backend ?? 'embedded', log, ...(options.config ? { config: options.config } : {}), ...(options.env ? { env: options.env } : {}) });
  return {
    ...gw,
    logText: () => lines.join(''),
    logs: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

// ---------------------------------------------------------------------------------------------
// HTTP(S)

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  json(): any;
}

export interface HttpOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string | Buffer;
  /** TLS client options (https only). */
  tls?: { ca?: Buffer; cert?: Buffer; key?: Buffer };
  timeoutMs?: number;
}

/** One HTTP(S) request; resolves with status and body, rejects on a transport error (reset, TLS failure). */
export function http(url: string, options: HttpOptions = {}): Promise<HttpAnswer> {
  const u = new URL(url);
  const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = send(
      u,
      {
        method: options.method ?? 'GET',
        // An explicit length: Node sends a GET body (Confluent's GET …/offsets has one) unframed otherwise.
        headers: { ...(options.body === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(options.body)) }), ...options.headers },
        agent: false,
        ...(options.tls ?? {}),
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: () => JSON.parse(body) });
        });
      },
    );
    req.setTimeout(options.timeoutMs ?? 10_000, () => req.destroy(new Error('request timed out')));
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Reads a Server-Sent Events response as it arrives (raw text), without ending it. */
export class SseReader {
  text = '';
  status = 0;
  ended = false;
  private req: ReturnType<typeof httpRequest> | undefined;
  readonly done: Promise<void>;

  constructor(url: string, headers: Record<string, string> = {}, tls?: HttpOptions['tls']) {
    const u = new URL(url);
    const send = u.protocol === 'https:' ? httpsRequest : httpRequest;
    this.done = new Promise((resolve) => {
      this.req = send(u, { headers: { accept: 'text/event-stream', ...headers }, agent: false, ...(tls ?? {}) }, (res) => {
        this.status = res.statusCode ?? 0;
        res.setEncoding('utf8');
        res.on('data', (c: string) => (this.text += c));
        res.on('error', () => resolve());
        res.on('end', () => {
          this.ended = true;
          resolve();
        });
      });
      this.req.on('error', () => {
        this.ended = true;
        resolve();
      });
      this.req.end();
    });
  }

  /** Parsed events so far: `{event, data, id}`. */
  events(): { event: string; data: string; id?: string }[] {
    return this.text
      .split('\n\n')
      .filter((block) => block.split('\n').some((l) => l.startsWith('data:')))
      .map((block) => {
        const field = (name: string) =>
          block
            .split('\n')
            .filter((l) => l.startsWith(`${name}:`))
            .map((l) => l.slice(name.length + 1).replace(/^ /, ''));
        const id = field('id')[0];
        return { event: field('event')[0] ?? 'message', data: field('data').join('\n'), ...(id === undefined ? {} : { id }) };
      });
  }

  close(): void {
    this.req?.destroy();
  }
}

// ---------------------------------------------------------------------------------------------
// WebSocket

export interface WsAnswer {
  /** 101 when the upgrade succeeded, else the HTTP status of the refusal. */
  status: number;
  client?: WsClient;
}

/** A JSON-subprotocol WebSocket client that records frames and its close. */
export class WsClient {
  readonly frames: any[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  constructor(readonly ws: WebSocket) {
    ws.on('message', (data: Buffer, binary: boolean) => {
      if (!binary) this.frames.push(JSON.parse(data.toString('utf8')));
    });
    ws.on('error', () => undefined);
    this.closed = new Promise((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  }
  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }
  waitFor(match: (f: any) => boolean, what = 'frame'): Promise<any> {
    return eventually(() => this.frames.find(match), { what, timeoutMs: 10_000 });
  }
  close(): void {
    this.ws.close();
  }
}

/** Opens `/v1/ws` (streamgate.v1.json); resolves with 101 + client or the refusal's HTTP status. */
export function openWs(baseUrl: string, options: { query?: string; headers?: Record<string, string>; tls?: ClientOptions } = {}): Promise<WsAnswer> {
  const url = `${baseUrl}/v1/ws${options.query === undefined ? '' : `?${options.query}`}`;
  const ws = new WebSocket(url, ['streamgate.v1.json'], { headers: options.headers ?? {}, ...(options.tls ?? {}) });
  return new Promise((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0 });
      res.resume();
      ws.terminate();
    });
    const client = new WsClient(ws);
    ws.once('open', () => resolve({ status: 101, client }));
    ws.once('error', reject);
  });
}

// ---------------------------------------------------------------------------------------------
// gRPC

/**
 * A stub for `127.0.0.1:<port>` (TLS when `credentials` says so). The server certificate is
 * checked against `localhost` (also in its SAN): an IP address is not a valid TLS server name (RFC 6066 §3).
 */
export function grpcStub(port: number, credentials = grpc.credentials.createInsecure()): StreamGatewayClient {
  return createStub(`127.0.0.1:${port}`, credentials, { 'grpc.ssl_target_name_override': 'localhost' });
}

/** Metadata carrying `authorization: Bearer <token>`. */
export function bearer(token: string): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${token}`);
  return md;
}

/** Calls a unary method; resolves with `{response}` or `{error}` (never rejects). */
export function unary(stub: StreamGatewayClient, method: 'Produce' | 'Fetch' | 'ListTopics' | 'GetOffsets', request: unknown, md = new grpc.Metadata(), deadlineMs = 10_000): Promise<{ response?: any; error?: grpc.ServiceError }> {
  return new Promise((resolve) => {
    (stub[method] as any)(request, md, { deadline: Date.now() + deadlineMs }, (error: grpc.ServiceError | null, response: unknown) =>
      resolve(error ? { error } : { response }),
    );
  });
}

/** Records the frames and final status of a Subscribe stream. */
export class GrpcSubscription {
  readonly frames: any[] = [];
  error: grpc.ServiceError | undefined;
  ended = false;
  readonly call: grpc.ClientReadableStream<any>;
  constructor(stub: StreamGatewayClient, request: unknown, md = new grpc.Metadata()) {
    this.call = (stub.Subscribe as any)(request, md);
    this.call.on('data', (f: any) => this.frames.push(f));
    this.call.on('error', (err: grpc.ServiceError) => (this.error = err));
    this.call.on('end', () => (this.ended = true));
  }
  records(): any[] {
    return this.frames.filter((f) => f.frame === 'records').flatMap((f) => f.records.records);
  }
  /** Waits until the stream failed; returns its status. */
  failed(timeoutMs = 10_000): Promise<grpc.ServiceError> {
    return eventually(() => this.error, { what: 'Subscribe status', timeoutMs });
  }
}
