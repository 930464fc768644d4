/**
 * The HTTP routes: Confluent REST Proxy v2 (`/topics`, `/consumers`), the native v1 API
 * (`/v1/topics`), SSE, OpenAPI and health. Each handler decodes the request, calls the core,
 * encodes the answer; every failure goes through errors.ts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import type { Context, Gateway } from '../../gateway/api.js';
import { certificateSubject, httpCredentials } from '../../codecs/credentials.js';
import { createContext } from '../../gateway/context.js';
import { GatewayError } from '../../gateway/errors.js';
import { parseOffset, type StreamRecord, type TopicPartition } from '../../gateway/record.js';
import { jsonRecord } from '../../codecs/json-record.js';
import {
  MEDIA,
  acceptedFormat,
  decodeNativeProduce,
  decodeV2Produce,
  encodeV2Record,
  isObject,
  parseJsonBody,
  parsePartition,
  parseRecordsBody,
  produceFormat,
  requireJsonBody,
  stringifyWithNumbers,
  stringifyWithStrings,
  type EmbeddedFormat,
} from './codec.js';
import type { RestConfig } from './config.js';
import { RestError, produceRecordErrorCode, toHttpError } from './errors.js';
import { openApiDocument } from './openapi.js';
import { ConsumerRegistry, type ConsumerInstance } from './consumer-instance.js';
import { serveSse } from './sse.js';

/** What a handler returns: a status and a body already rendered, or nothing when it wrote the response itself. */
interface Reply {
  status: number;
  body?: string;
  contentType?: string;
}

interface Request {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly ctx: Context;
  readonly params: string[];
  readonly query: URLSearchParams;
  /** Reads the body (bounded by rest.maxBodyBytes). */
  body(): Promise<Buffer>;
}

type Handler = (r: Request) => Promise<Reply | undefined>;

interface Route {
  readonly method: string;
  readonly pattern: RegExp;
  readonly native: boolean;
  readonly handler: Handler;
}

const SEG = '([^/]+)';

/** A W3C `traceparent` request header travels into the records' headers (the core validates it). */
function traceOf(req: IncomingMessage): { traceparent?: string } {
  const value = headerValue(req, 'traceparent');
  return value === undefined ? {} : { traceparent: value };
}

/** Liveness, readiness and the API description answer without credentials (probes and tooling). */
const PUBLIC_PATHS = new Set(['/healthz', '/readyz', '/openapi.json']);
/** How long shutdown waits for in-flight writes to be answered (within the process shutdown deadline). */
const WRITE_DRAIN_MS = 5_000;

/** The prefixes this adapter owns on the shared HTTP server. */
export function ownsPath(path: string): boolean {
  return (
    path === '/topics' ||
    path.startsWith('/topics/') ||
    path === '/consumers' ||
    path.startsWith('/consumers/') ||
    path === '/v1/topics' ||
    path.startsWith('/v1/topics/') ||
    path === '/openapi.json' ||
    path === '/healthz' ||
    path === '/readyz'
  );
}

export class RestRoutes {
  readonly consumers: ConsumerRegistry;
  private readonly routes: Route[] = [];
  private readonly inFlight = new Set<ServerResponse>();
  private readonly writes = new Set<ServerResponse>();
  private readonly streams = new Set<(error: GatewayError) => void>();

  /**
   * @param claimConnection the HTTP host's HttpHost.claimConnection: moves the socket's connection
   *   count to a long-lived stream's protocol.
   */
  constructor(
    private readonly gateway: Gateway,
    private readonly config: RestConfig,
    private readonly log: Logger,
    private readonly claimConnection: (req: IncomingMessage, protocol: string) => () => void,
  ) {
    this.consumers = new ConsumerRegistry(gateway, log, { timeoutMs: config.consumerInstanceTimeoutMs, maxInstances: config.maxConsumerInstances });
    this.defineRoutes();
  }

  private add(method: string, path: string, handler: Handler, native = false): void {
    this.routes.push({ method, pattern: new RegExp(`^${path}$`), native, handler });
  }

  /** Entry from the shared server; `false` leaves the request to other handlers. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      return false;
    }
    const path = withoutTrailingSlashes(url.pathname);
    if (!ownsPath(path)) return false;
    void this.dispatch(req, res, path, url.searchParams);
    return true;
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): Promise<void> {
    const native = path.startsWith('/v1/');
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    const requestId = headerValue(req, 'x-request-id');
    let ctx = createContext({ protocol: 'rest', log: this.log, signal: abort.signal, ...(requestId === undefined ? {} : { requestId }) });
    this.inFlight.add(res);
    res.on('close', () => this.inFlight.delete(res));
    if (req.method === 'POST' || req.method === 'PUT' || req.method === 'DELETE') {
      // Writes (produces, commits) are finished at shutdown, never cut off after the backend acked.
      this.writes.add(res);
      res.on('close', () => this.writes.delete(res));
    }
    try {
      if (!PUBLIC_PATHS.has(path)) {
        const principal = await this.gateway.authenticate(httpCredentials({ headers: req.headers, url: req.url, certificateSubject: certificateSubject(req.socket) }), { protocol: 'rest', remoteAddress: req.socket.remoteAddress });
        ctx = createContext({ protocol: 'rest', log: this.log, signal: abort.signal, principal, ...(requestId === undefined ? {} : { requestId }) });
      }
      const match = this.match(req.method ?? 'GET', path);
      if (match === 'method') throw new RestError('METHOD_NOT_ALLOWED', 'HTTP 405 Method Not Allowed');
      if (match === undefined) throw new RestError('NOT_FOUND', 'HTTP 404 Not Found');
      let params: string[];
      try {
        params = match.params.map((p) => decodeURIComponent(p));
      } catch {
        throw new RestError('BAD_REQUEST', 'The path is not valid percent-encoding.');
      }
      const maxBody = this.config.maxBodyBytes;
      const reply = await match.route.handler({ req, res, ctx, params, query, body: () => readBody(req, maxBody) });
      if (reply !== undefined) send(res, reply.status, reply.body, reply.contentType ?? (native ? MEDIA.native : MEDIA.v2));
    } catch (err) {
      this.fail(res, ctx, err, native);
    }
  }

  private fail(res: ServerResponse, ctx: Context, err: unknown, native: boolean): void {
    const { status, body, gatewayError } = toHttpError(err, native);
    if (status >= 500) ctx.log.error({ err: gatewayError?.cause ?? err, code: gatewayError?.code }, 'request failed');
    else ctx.log.debug({ status, error_code: body.error_code, message: body.message }, 'request rejected');
    if (res.headersSent) {
      // Mid-stream (SSE): the error event was the sink's job; just end.
      res.end();
      return;
    }
    if (status === 413) {
      // The rest of the body was never read: close rather than let the server drain it.
      res.setHeader('connection', 'close');
      res.once('finish', () => res.socket?.destroy());
    }
    send(res, status, JSON.stringify(body), native ? MEDIA.native : MEDIA.v2);
  }

  private match(method: string, path: string): { route: Route; params: string[] } | 'method' | undefined {
    let pathMatched = false;
    for (const route of this.routes) {
      const m = route.pattern.exec(path);
      if (m === null) continue;
      pathMatched = true;
      if (route.method === method || (method === 'HEAD' && route.method === 'GET')) return { route, params: m.slice(1) };
    }
    return pathMatched ? 'method' : undefined;
  }

  /**
   * Where clients reach this gateway: `rest.advertisedUrl`, else the listener's own scheme and
   * address as the socket was accepted on — never the client-chosen `Host` header.
   */
  private advertisedBase(req: IncomingMessage): string {
    const advertised = this.config.advertisedUrl;
    if (advertised !== undefined) return advertised.endsWith('/') ? advertised.slice(0, -1) : advertised;
    const socket = req.socket as IncomingMessage['socket'] & { encrypted?: boolean };
    const scheme = socket.encrypted === true ? 'https' : 'http';
    const address = socket.localAddress ?? '127.0.0.1';
    // An IPv4-mapped IPv6 address (dual-stack listener) reads as the IPv4 address it is.
    const host = address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address.includes(':') ? `[${address}]` : address;
    return `${scheme}://${host}:${socket.localPort ?? 0}`;
  }

  /** Ends open requests (SSE streams, long polls) and drops every consumer instance. */
  async close(): Promise<void> {
    // SSE clients learn why (`event: error`, 50301) and reconnect — to another gateway instance — with Last-Event-ID.
    for (const end of [...this.streams]) end(new GatewayError('SHUTTING_DOWN', 'The gateway is shutting down; reconnect with Last-Event-ID.'));
    // In-flight writes get their answer: a record the backend acknowledged is reported as written.
    const deadline = Date.now() + WRITE_DRAIN_MS;
    while (this.writes.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    for (const res of this.inFlight) {
      if (res.headersSent) res.end();
      else res.destroy();
    }
    await this.consumers.close();
  }

  // -------------------------------------------------------------------------------------------

  private defineRoutes(): void {
    const g = this.gateway;
    const v2 = (status: number, body: unknown, contentType: string = MEDIA.v2): Reply => ({ status, body: stringifyWithNumbers(body), contentType });
    const v1 = (status: number, body: unknown): Reply => ({ status, body: stringifyWithStrings(body), contentType: MEDIA.native });
    const noContent: Reply = { status: 204 };

    // Health -----------------------------------------------------------------------------------
    this.add('GET', '/healthz', async () => v1(200, { status: 'ok' }));
    this.add('GET', '/readyz', async () => ((await g.ready()) ? v1(200, { status: 'ready' }) : v1(503, { status: 'unavailable' })));
    this.add('GET', '/openapi.json', async () => v1(200, openApiDocument));

    // Confluent v2: topics and partitions ------------------------------------------------------
    this.add('GET', '/topics', async ({ ctx }) => v2(200, (await g.listTopics(ctx)).map((t) => t.name)));
    this.add('GET', `/topics/${SEG}`, async ({ ctx, params }) => {
      const info = await g.describeTopic(ctx, params[0]!);
      return v2(200, { name: info.name, configs: info.config, partitions: range(info.partitions).map(partitionMetadata) });
    });
    this.add('GET', `/topics/${SEG}/partitions`, async ({ ctx, params }) => {
      const info = await g.describeTopic(ctx, params[0]!);
      return v2(200, range(info.partitions).map(partitionMetadata));
    });
    this.add('GET', `/topics/${SEG}/partitions/${SEG}`, async ({ ctx, params }) => {
      const p = await existingPartition(g, ctx, params[0]!, params[1]!);
      return v2(200, partitionMetadata(p));
    });
    this.add('GET', `/topics/${SEG}/partitions/${SEG}/offsets`, async ({ ctx, params }) => {
      const p = await existingPartition(g, ctx, params[0]!, params[1]!);
      const o = (await g.offsets(ctx, params[0]!)).find((x) => x.partition === p);
      if (o === undefined) throw new GatewayError('PARTITION_NOT_FOUND', 'Partition not found.');
      return v2(200, { beginning_offset: o.earliest, end_offset: o.latest });
    });
    const produceV2 = async (r: Request, partition: number | undefined): Promise<Reply> => {
      const format = produceFormat(headerValue(r.req, 'content-type'));
      const raw = await r.body();
      const records = decodeV2Produce(raw, parseRecordsBody(raw), format, partition);
      const idempotencyKey = headerValue(r.req, 'idempotency-key');
      const results = await g.produce(r.ctx, r.params[0]!, records, {
        ...(partition === undefined ? {} : { partition }),
        ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
        ...traceOf(r.req),
      });
      const offsets = results.map((x) =>
        x.ok
          ? { partition: x.partition, offset: x.offset, error_code: null, error: null }
          : { partition: x.partition, offset: null, error_code: produceRecordErrorCode(x.error), error: x.error.message },
      );
      return v2(200, { key_schema_id: null, value_schema_id: null, offsets });
    };
    this.add('POST', `/topics/${SEG}`, (r) => produceV2(r, undefined));
    this.add('POST', `/topics/${SEG}/partitions/${SEG}`, (r) => produceV2(r, parsePartition(r.params[1]!)));

    // Confluent v2: consumer instances ----------------------------------------------------------
    const jsonBody = async (r: Request): Promise<unknown> => {
      const body = await r.body();
      requireJsonBody(headerValue(r.req, 'content-type'), body.length);
      return parseJsonBody(body);
    };
    const instance = (r: Request): Promise<ConsumerInstance> => this.consumers.get(r.params[0]!, r.params[1]!, r.ctx);
    const I = `/consumers/${SEG}/instances/${SEG}`;

    this.add('POST', `/consumers/${SEG}`, async (r) => {
      const body = (await jsonBody(r)) ?? {};
      if (!isObject(body)) throw new RestError('UNPROCESSABLE', 'The request body must be a JSON object.');
      const name = body.name ?? body.id;
      if (name !== undefined && name !== null && (typeof name !== 'string' || !/^[A-Za-z0-9._-]{1,249}$/.test(name))) {
        throw new RestError('INVALID_CONSUMER_CONFIG', 'Invalid consumer configuration: name must be 1–249 characters of A-Z a-z 0-9 . _ -');
      }
      const format = body.format ?? 'binary';
      if (format !== 'json' && format !== 'binary') {
        throw new RestError('INVALID_CONSUMER_CONFIG', `Invalid consumer configuration: format "${String(format)}" is not supported (json or binary).`);
      }
      const reset = body['auto.offset.reset'] ?? 'latest';
      const resetTo = reset === 'earliest' || reset === 'smallest' ? 'earliest' : reset === 'latest' || reset === 'largest' ? 'latest' : undefined;
      if (resetTo === undefined) throw new RestError('INVALID_CONSUMER_CONFIG', `Invalid consumer configuration: auto.offset.reset must be earliest or latest.`);
      const autoCommitRaw = body['auto.commit.enable'] ?? 'true';
      if (!['true', 'false', true, false].includes(autoCommitRaw as string | boolean)) {
        throw new RestError('INVALID_CONSUMER_CONFIG', 'Invalid consumer configuration: auto.commit.enable must be true or false.');
      }
      const timeoutRaw = body['consumer.request.timeout.ms'];
      let requestTimeoutMs = this.config.consumerRequestTimeoutMs;
      if (timeoutRaw !== undefined && timeoutRaw !== null) {
        const t = Number(timeoutRaw);
        if (!Number.isInteger(t) || t < 0) throw new RestError('INVALID_CONSUMER_CONFIG', 'Invalid consumer configuration: consumer.request.timeout.ms must be a non-negative integer.');
        requestTimeoutMs = Math.min(t, this.config.maxPollWaitMs);
      }
      const group = r.params[0]!;
      // An instance name is group state: nobody may squat names in a group they may not use.
      this.gateway.authorizeGroup(r.ctx, group);
      const created = await this.consumers.create(group, typeof name === 'string' ? name : undefined, r.ctx.principal.id, {
        format,
        resetTo,
        autoCommit: autoCommitRaw === true || autoCommitRaw === 'true',
        requestTimeoutMs,
      });
      return v2(200, { instance_id: created.id, base_uri: `${this.advertisedBase(r.req)}/consumers/${encodeURIComponent(group)}/instances/${encodeURIComponent(created.id)}` });
    });
    this.add('DELETE', I, async (r) => {
      await this.consumers.delete(r.params[0]!, r.params[1]!, r.ctx);
      return noContent;
    });

    this.add('POST', `${I}/subscription`, async (r) => {
      const c = await instance(r);
      const body = await jsonBody(r);
      if (!isObject(body)) throw new RestError('UNPROCESSABLE', 'The body must be {"topics":[…]} or {"topic_pattern":"…"}.');
      const hasTopics = body.topics !== undefined && body.topics !== null;
      const hasPattern = body.topic_pattern !== undefined && body.topic_pattern !== null;
      if (hasTopics === hasPattern) {
        throw new RestError('ILLEGAL_STATE', 'Illegal state: Subscription to topics, partitions and pattern are mutually exclusive.');
      }
      if (hasTopics) {
        const topics = body.topics;
        if (!Array.isArray(topics) || topics.length === 0 || !topics.every((t) => typeof t === 'string')) {
          throw new RestError('UNPROCESSABLE', 'topics must be a non-empty array of topic names.');
        }
        await c.run(() => c.subscribe(r.ctx, { topics: [...new Set(topics as string[])] }));
      } else {
        if (typeof body.topic_pattern !== 'string') throw new RestError('UNPROCESSABLE', 'topic_pattern must be a string.');
        const pattern = body.topic_pattern;
        await c.run(() => c.subscribe(r.ctx, { pattern }));
      }
      return noContent;
    });
    this.add('GET', `${I}/subscription`, async (r) => v2(200, { topics: (await instance(r)).subscription() }));
    this.add('DELETE', `${I}/subscription`, async (r) => {
      const c = await instance(r);
      await c.run(() => c.unsubscribe());
      return noContent;
    });

    this.add('POST', `${I}/assignments`, async (r) => {
      const c = await instance(r);
      const partitions = topicPartitions(await jsonBody(r));
      await c.run(() => c.assign(r.ctx, partitions));
      return noContent;
    });
    this.add('GET', `${I}/assignments`, async (r) => v2(200, { partitions: (await instance(r)).assignment() }));

    this.add('POST', `${I}/positions`, async (r) => {
      const c = await instance(r);
      const offsets = topicPartitionOffsets(await jsonBody(r));
      await c.run(() => c.seek(r.ctx, offsets.map((o) => ({ topic: o.topic, partition: o.partition, to: o.offset }))));
      return noContent;
    });
    for (const [suffix, to] of [
      ['beginning', 'earliest'],
      ['end', 'latest'],
    ] as const) {
      this.add('POST', `${I}/positions/${suffix}`, async (r) => {
        const c = await instance(r);
        const partitions = topicPartitions(await jsonBody(r));
        await c.run(() => c.seek(r.ctx, partitions.map((p) => ({ ...p, to }))));
        return noContent;
      });
    }

    this.add('GET', `${I}/records`, async (r) => {
      const c = await instance(r);
      const asked = acceptedFormat(headerValue(r.req, 'accept'));
      if (asked === 'unacceptable' || (asked !== undefined && asked !== c.options.format)) {
        throw new RestError('FORMAT_MISMATCH', 'The requested embedded data format does not match the deserializer for this consumer instance');
      }
      const waitMs = Math.min(queryInt(r.query, 'timeout') ?? c.options.requestTimeoutMs, this.config.maxPollWaitMs);
      const maxBytes = Math.min(queryInt(r.query, 'max_bytes') ?? this.config.consumerRequestMaxBytes, this.config.consumerRequestMaxBytes);
      const body = await c.run(async () => {
        const records = await c.records(r.ctx, { maxBytes, waitMs });
        // As a KafkaConsumer with a failing deserializer: the records before the bad one are
        // returned, the rest go back to the log, and the bad one fails the next request.
        const out: string[] = [];
        for (let i = 0; i < records.length; i++) {
          try {
            out.push(encodeV2Record(records[i]!, c.options.format));
          } catch (err) {
            await rewind(r.ctx, c, records.slice(i));
            if (out.length === 0) throw err;
            break;
          }
        }
        return out;
      });
      // Each record is JSON text already (stored JSON values spliced verbatim): join, never re-serialize.
      return { status: 200, body: `[${body.join(',')}]`, contentType: c.options.format === 'json' ? MEDIA.json : MEDIA.binary };
    });

    this.add('POST', `${I}/offsets`, async (r) => {
      const c = await instance(r);
      const body = await jsonBody(r);
      const offsets = body === undefined || (isObject(body) && body.offsets === undefined) ? undefined : topicPartitionOffsets(body);
      await c.run(() => c.commit(offsets));
      return noContent;
    });
    this.add('GET', `${I}/offsets`, async (r) => {
      const c = await instance(r);
      const partitions = topicPartitions(await jsonBody(r));
      const committed = await c.run(() => c.committed(partitions));
      return v2(200, { offsets: committed.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset, metadata: '' })) });
    });

    // Native v1 ---------------------------------------------------------------------------------
    const nativeRecordsBody = async (r: Request): Promise<Buffer> => {
      const body = await r.body();
      const t = headerValue(r.req, 'content-type')?.split(';')[0]!.trim().toLowerCase();
      if (t !== 'application/json') throw new RestError('UNSUPPORTED_MEDIA_TYPE', 'HTTP 415 Unsupported Media Type: use Content-Type: application/json.');
      return body;
    };
    this.add('GET', '/v1/topics', async ({ ctx }) => v1(200, { topics: (await g.listTopics(ctx)).map((t) => ({ name: t.name, partitions: t.partitions })) }), true);
    this.add(
      'POST',
      `/v1/topics/${SEG}/records`,
      async (r) => {
        const raw = await nativeRecordsBody(r);
        const records = decodeNativeProduce(raw, parseRecordsBody(raw));
        const partitionParam = r.query.get('partition');
        const idempotencyKey = headerValue(r.req, 'idempotency-key');
        const results = await g.produce(r.ctx, r.params[0]!, records, {
          ...(partitionParam === null ? {} : { partition: parsePartition(partitionParam) }),
          ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
        ...traceOf(r.req),
        });
        // Nothing written: answer with the error's own status (e.g. 503 while Kafka is away), so a
        // client that only checks the status never takes a failed write for a success.
        const firstFailure = results.find((x) => !x.ok);
        if (firstFailure !== undefined && !firstFailure.ok && results.every((x) => !x.ok)) throw firstFailure.error;
        return v1(200, {
          topic: r.params[0]!,
          offsets: results.map((x) =>
            x.ok
              ? { partition: x.partition, offset: x.offset, timestamp: x.timestamp }
              : { partition: x.partition, offset: null, error_code: toHttpError(x.error, true).body.error_code, code: x.error.code, error: x.error.message },
          ),
        });
      },
      true,
    );
    this.add(
      'GET',
      `/v1/topics/${SEG}/partitions/${SEG}/records`,
      async (r) => {
        const topic = r.params[0]!;
        const partition = parsePartition(r.params[1]!);
        const offsetParam = r.query.get('offset');
        if (offsetParam === null) throw new GatewayError('INVALID_ARGUMENT', 'The offset query parameter is required (a number, earliest or latest).');
        let offset: bigint;
        if (offsetParam === 'earliest' || offsetParam === 'latest') {
          const o = (await g.offsets(r.ctx, topic)).find((x) => x.partition === partition);
          if (o === undefined) throw new GatewayError('PARTITION_NOT_FOUND', `Partition ${partition} of topic ${topic} not found.`);
          offset = offsetParam === 'earliest' ? o.earliest : o.latest;
        } else offset = parseOffset(offsetParam, 'offset');
        const max = Math.min(queryInt(r.query, 'max') ?? this.config.v1MaxRecords, this.config.v1MaxRecords);
        const waitMs = Math.min(queryInt(r.query, 'timeout_ms') ?? 0, this.config.maxPollWaitMs);
        const maxBytes = queryInt(r.query, 'max_bytes');
        const result = await g.fetch(r.ctx, topic, partition, offset, { maxRecords: Math.max(1, max), waitMs, ...(maxBytes === undefined ? {} : { maxBytes }) });
        // Records are JSON text (codecs/json-record.ts: stored JSON spliced verbatim); the envelope around them is built the same way.
        const body =
          `{"topic":${JSON.stringify(topic)},"partition":${partition},"records":[${result.records.map(jsonRecord).join(',')}]` +
          `,"next_offset":"${result.nextOffset}","earliest":"${result.earliest}","latest":"${result.latest}"}`;
        return { status: 200, body, contentType: MEDIA.native };
      },
      true,
    );
    this.add(
      'GET',
      `/v1/topics/${SEG}/offsets`,
      async (r) => v1(200, { topic: r.params[0]!, partitions: (await g.offsets(r.ctx, r.params[0]!)).map((o) => ({ partition: o.partition, earliest: o.earliest, latest: o.latest })) }),
      true,
    );
    this.add(
      'GET',
      `/v1/topics/${SEG}/events`,
      async (r) => {
        // An event stream holds a connection like a WebSocket does: it counts against the same
        // limits. The host already counts the socket (as `http`); the count moves to `rest-sse`.
        const release = this.claimConnection(r.req, 'rest-sse');
        r.res.once('close', release);
        await serveSse(g, r.ctx, r.req, r.res, r.params[0]!, r.query, { heartbeatMs: this.config.sseHeartbeatMs, retryMs: this.config.sseRetryMs }, this.streams);
        return undefined;
      },
      true,
    );
  }
}

// ---------------------------------------------------------------------------------------------

/**
 * `/topics/` → `/topics`. A loop, not `replace(/\/+$/, '')`: that regex retries from every slash of
 * a long run not at the end, quadratic in the path (a 16 KB path of slashes blocked 450 ms).
 */
function withoutTrailingSlashes(path: string): string {
  let end = path.length;
  while (end > 1 && path.charCodeAt(end - 1) === 0x2f) end--;
  return path.slice(0, end);
}

function headerValue(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  const s = Array.isArray(v) ? v[0] : v;
  return s === undefined || s === '' ? undefined : s;
}

function send(res: ServerResponse, status: number, body: string | undefined, contentType: string): void {
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) }).end(body);
}

/** Reads at most `limit` bytes; over it (by Content-Length or by counting) rejects with 413 and stops reading. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
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

function queryInt(query: URLSearchParams, name: string): number | undefined {
  const v = query.get(name);
  if (v === null || v === '') return undefined;
  if (!/^\d{1,15}$/.test(v)) throw new GatewayError('INVALID_ARGUMENT', `The ${name} query parameter must be a non-negative integer.`);
  return Number(v);
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

/**
 * Partition metadata in Confluent's shape. The gateway does not expose Kafka broker ids; it
 * reports itself as the one broker (0) leading every partition.
 */
function partitionMetadata(partition: number): Record<string, unknown> {
  return { partition, leader: 0, replicas: [{ broker: 0, leader: true, in_sync: true }] };
}

async function existingPartition(g: Gateway, ctx: Context, topic: string, raw: string): Promise<number> {
  const p = parsePartition(raw);
  const info = await g.describeTopic(ctx, topic);
  if (p >= info.partitions) throw new GatewayError('PARTITION_NOT_FOUND', 'Partition not found.');
  return p;
}

function topicPartitions(body: unknown): TopicPartition[] {
  if (!isObject(body) || !Array.isArray(body.partitions)) throw new RestError('UNPROCESSABLE', 'The body must be {"partitions":[{"topic":…,"partition":…}]}.');
  return body.partitions.map((p: unknown, i: number) => {
    if (!isObject(p) || typeof p.topic !== 'string') throw new RestError('UNPROCESSABLE', `partitions[${i}] must be {"topic":…,"partition":…}.`);
    return { topic: p.topic, partition: parsePartition(p.partition, `partitions[${i}].partition`) };
  });
}

function topicPartitionOffsets(body: unknown): { topic: string; partition: number; offset: bigint }[] {
  if (!isObject(body) || !Array.isArray(body.offsets)) throw new RestError('UNPROCESSABLE', 'The body must be {"offsets":[{"topic":…,"partition":…,"offset":…}]}.');
  return body.offsets.map((o: unknown, i: number) => {
    if (!isObject(o) || typeof o.topic !== 'string') throw new RestError('UNPROCESSABLE', `offsets[${i}] must be {"topic":…,"partition":…,"offset":…}.`);
    return { topic: o.topic, partition: parsePartition(o.partition, `offsets[${i}].partition`), offset: parseOffset(o.offset, `offsets[${i}].offset`) };
  });
}

/** A batch that cannot be rendered goes back to the log: seek each partition to its first record in the batch. */
async function rewind(ctx: Context, c: ConsumerInstance, records: StreamRecord[]): Promise<void> {
  const first = new Map<string, { topic: string; partition: number; to: bigint }>();
  for (const r of records) {
    const k = `${r.partition}\u0000${r.topic}`;
    if (!first.has(k)) first.set(k, { topic: r.topic, partition: r.partition, to: r.offset });
  }
  await c.seek(ctx, [...first.values()]);
}

export type { EmbeddedFormat };
