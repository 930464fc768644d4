/**
 * `POST /v3/clusters/{cluster_id}/topics/{topic_name}/records`, as kafka-rest's ProduceAction and
 * StreamingResponse: the body is one or more ProduceRequest objects, concatenated (a streaming
 * produce sends them in one chunked request as it goes); the answer is `200` and one delivery
 * report per record, in order, each a JSON object on its own line (`\r\n`, Jersey's ChunkedOutput
 * delimiter), written as the record completes: a ProduceResponse (`error_code: 200`) or an error
 * `{error_code, message}` (400 for a record that is not a ProduceRequest, as kafka-rest's JSON
 * mapping errors). A record that fails (bad data, a key outside the write scope, a
 * missing partition) gets its own error report and the stream goes on; bytes that are not JSON
 * (or one record over `rest.maxBodyBytes`) end the stream after an error report, since no
 * record boundary can be found after them.
 *
 * Bounded per stream: at most V3_STREAM_MAX_INFLIGHT records read and not yet reported (reading
 * pauses), one record's bytes at most `rest.maxBodyBytes`, and a report is written only when the
 * previous one drained — a client that streams records and never reads the reports stops being
 * read (TCP backpressure), it does not grow the gateway's memory.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ClusterInfo } from '../../gateway/backends/port.js';
import type { Context, Gateway } from '../../gateway/api.js';
import { GatewayError } from '../../gateway/errors.js';
import { validateTopicName, type Headers, type ProduceRecord, type ProduceResult } from '../../gateway/record.js';
import { decodeBase64, utf8Of } from '../../codecs/json-record.js';
import { bytesOf, JsonSyntaxError, member, parseJson, plain, type JsonNode } from '../../codecs/json-text.js';
import { MEDIA } from './codec.js';
import { RestError, toV3HttpError } from './errors.js';
import { SEG, headerValue, type Request, type RouteDeps, type RouteTable } from './http.js';
import type { V3Names } from './routes-v3.js';
import * as V3 from './schemas-v3.js';

/**
 * Records of one stream read but not yet reported. Enough to keep a backend batch full (the
 * records waiting while one batch is written go out as the next), small enough that a stream
 * holds at most this many records' bytes.
 */
export const V3_STREAM_MAX_INFLIGHT = 64;

/** One report: its JSON text, and the HTTP status it would have as a request's only answer. */
interface Line {
  readonly text: string;
  readonly status: number;
}

/** What one v3 record decodes to, and what its report says about its key and value. */
interface Decoded {
  readonly record: ProduceRecord;
  readonly key: { type: string; size: number } | null;
  readonly value: { type: string; size: number } | null;
}

/** Adds the records route (its cluster check is routes-v3.ts's). */
export function defineV3RecordRoutes(
  routes: RouteTable,
  deps: RouteDeps,
  names: (r: Request) => Promise<{ n: V3Names; cluster: ClusterInfo }>,
): void {
  routes.add('POST', `/v3/clusters/${SEG}/topics/${SEG}/records`, async (r) => {
    const { n } = await names(r);
    // An illegal name fails every record alike: refused with a status, before the stream starts.
    validateTopicName(r.params[1]!);
    const type = headerValue(r.req, 'content-type');
    if (type !== undefined && type.split(';')[0]!.trim().toLowerCase() !== MEDIA.native) {
      throw new RestError('UNSUPPORTED_MEDIA_TYPE', `Content-Type ${type.slice(0, 100)} is not application/json.`);
    }
    await new ProduceStream(deps.gateway, r.ctx, r.req, r.res, n, r.params[1]!, deps.config.maxBodyBytes).run();
    return undefined;
  });
}

/** One streaming produce: reads records, writes them in batches, reports each in order. */
export class ProduceStream {
  private readonly splitter: JsonSplitter;
  /** Reports in record order; each resolves to its line. */
  private readonly reports: Promise<Line>[] = [];
  /** Decoded records waiting for the next batch. */
  private waiting: { decoded: Decoded; resolve: (line: Line) => void }[] = [];
  /** A body with a Content-Length is one request, not a stream: one record is answered with its own status. */
  private readonly sized: boolean;
  private producing = false;
  private ended = false;
  private writing = false;
  private closed = false;
  /** Records seen in the body (a body without any is refused with a status, not a stream). */
  private seen = 0;
  private done!: () => void;

  constructor(
    private readonly gateway: Gateway,
    private readonly ctx: Context,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly n: V3Names,
    private readonly topic: string,
    maxRecordBytes: number,
  ) {
    this.splitter = new JsonSplitter(maxRecordBytes);
    this.sized = req.headers['content-length'] !== undefined;
  }

  run(): Promise<void> {
    return new Promise((resolve) => {
      this.done = resolve;
      this.res.on('close', () => {
        this.closed = true;
        // The client went away mid-stream: stop reading its body.
        if (!this.res.writableFinished) this.req.destroy();
        resolve();
      });
      this.req.on('data', (chunk: Buffer) => this.onData(chunk));
      this.req.on('end', () => this.onEnd());
      this.req.on('error', () => this.stop());
    });
  }

  private onData(chunk: Buffer): void {
    if (this.ended) return;
    // (A body with a Content-Length is one request; its reports wait for its end: see write.)
    let values: Buffer[];
    let failure: unknown;
    try {
      values = this.splitter.push(chunk);
    } catch (err) {
      values = this.splitter.taken();
      failure = err;
    }
    for (const v of values) this.accept(v);
    if (failure !== undefined) this.finish(failure);
    else this.flowControl();
  }

  private onEnd(): void {
    if (this.ended) return;
    if (this.seen === 0 && this.reports.length === 0 && !this.splitter.pending()) {
      // kafka-rest: a produce needs data. Nothing was written yet, so this is a plain 400.
      this.ended = true;
      const body = JSON.stringify({ error_code: 400, message: 'Request body is empty. Data is required.' });
      this.res.writeHead(400, { 'content-type': MEDIA.native, 'content-length': Buffer.byteLength(body) }).end(body);
      this.done();
      return;
    }
    if (this.splitter.pending()) this.finish(new RestError('BAD_REQUEST', 'Error processing JSON: the request body ends inside a record.'));
    else this.finish(undefined);
  }

  /** No more records: a last error report (if any), then the response ends after the reports. */
  private finish(error: unknown): void {
    this.ended = true;
    if (error !== undefined) this.reports.push(Promise.resolve(this.errorLine(error)));
    // Whatever follows is read and dropped (onData), and Node's server discards the rest once the
    // response ended: bounded by server.requestTimeout like any request.
    this.req.resume();
    void this.write();
  }

  private stop(): void {
    this.ended = true;
    this.closed = true;
    this.done();
  }

  /** Pauses reading while too many records are unreported (or the client is not reading reports). */
  private flowControl(): void {
    if (this.ended) return;
    if (this.reports.length >= V3_STREAM_MAX_INFLIGHT || this.res.writableNeedDrain) this.req.pause();
    else this.req.resume();
  }

  private accept(bytes: Buffer): void {
    this.seen++;
    let decoded: Decoded;
    try {
      decoded = decodeV3Record(bytes);
    } catch (err) {
      this.reports.push(Promise.resolve(this.errorLine(err)));
      void this.write();
      return;
    }
    this.reports.push(new Promise<Line>((resolve) => this.waiting.push({ decoded, resolve })));
    void this.produce();
  }

  /** Writes the waiting records as one batch; a batch the core refuses whole is retried record by record, so each gets its own outcome. */
  private async produce(): Promise<void> {
    if (this.producing) return;
    this.producing = true;
    try {
      while (this.waiting.length > 0 && !this.closed) {
        const batch = this.waiting;
        this.waiting = [];
        const results = await this.write1(batch.map((b) => b.decoded.record)).catch(async (err: unknown) => {
          if (batch.length === 1) return [err];
          const each: (ProduceResult | unknown)[] = [];
          for (const b of batch) each.push(...(await this.write1([b.decoded.record]).catch((e: unknown) => [e])));
          return each;
        });
        batch.forEach((b, i) => b.resolve(this.reportLine(b.decoded, results[i])));
        void this.write();
      }
    } finally {
      this.producing = false;
    }
  }

  private write1(records: ProduceRecord[]): Promise<ProduceResult[]> {
    return this.gateway.produce(this.ctx, this.topic, records);
  }

  /** Writes ready reports in order, one drained write at a time. */
  private async write(): Promise<void> {
    if (this.writing) return;
    this.writing = true;
    let held = false;
    try {
      while (this.reports.length > 0 && !this.closed) {
        if (!this.res.headersSent && this.sized && !this.ended && this.seen < 2) {
          // Not a stream: the status waits until it is known whether the body holds one record.
          held = true;
          break;
        }
        const line = await this.reports[0]!;
        this.reports.shift();
        if (!this.res.headersSent && this.sized && this.ended && this.seen <= 1 && this.reports.length === 0 && line.status !== 200) {
          // One record (or bytes that are none), refused: a plain error response, as any other route's.
          const body = `${line.text}\r\n`;
          this.res.writeHead(line.status, { 'content-type': MEDIA.native, 'content-length': Buffer.byteLength(body) }).end(body);
          this.done();
          return;
        }
        if (!this.res.headersSent) this.res.writeHead(200, { 'content-type': MEDIA.native });
        if (!this.res.write(`${line.text}\r\n`)) await new Promise<void>((resolve) => this.res.once('drain', resolve).once('close', resolve));
        this.flowControl();
      }
      if (this.ended && this.reports.length === 0 && !this.closed) {
        if (!this.res.headersSent) this.res.writeHead(200, { 'content-type': MEDIA.native });
        this.res.end();
        this.done();
      }
    } finally {
      this.writing = false;
    }
    // A report that became ready while the last write drained.
    if (!held && this.reports.length > 0 && !this.closed) void this.write();
  }

  private reportLine(decoded: Decoded, result: ProduceResult | unknown): Line {
    const r = result as ProduceResult;
    if (typeof r === 'object' && r !== null && 'ok' in r && typeof r.ok === 'boolean') {
      if (!r.ok) return this.errorLine(r.error);
      const text = JSON.stringify({
        error_code: 200,
        cluster_id: this.n.clusterId,
        topic_name: this.topic,
        partition_id: r.partition,
        // An int64 offset as a JSON number (kafka-rest's `long`); exact below 2^53.
        offset: Number(r.offset),
        timestamp: timestampOf(r, decoded.record),
        key: decoded.key,
        value: decoded.value,
      });
      return { text, status: 200 };
    }
    return this.errorLine(result);
  }

  private errorLine(err: unknown): Line {
    const { status, body, gatewayError } = toV3HttpError(err);
    if (status >= 500) this.ctx.log.error({ err: gatewayError?.cause ?? err }, 'v3 record failed');
    return { text: JSON.stringify({ error_code: body.error_code, message: body.message }), status };
  }
}

/** The record's timestamp as kafka-rest writes an Instant (ISO-8601, UTC), from the backend's answer or the request. */
function timestampOf(result: ProduceResult & { ok: true }, record: ProduceRecord): string | null {
  const t = result.timestamp ?? record.timestamp;
  return t === undefined || !Number.isFinite(t) ? null : new Date(t).toISOString();
}

/**
 * One ProduceRequest object (its exact bytes) as a core record. The shape is checked by the same
 * zod schema the document renders; a JSON key or value is stored as the exact text sent.
 */
export function decodeV3Record(bytes: Buffer): Decoded {
  let root: JsonNode;
  try {
    root = parseJson(bytes, { expand: (depth) => depth <= 2 });
  } catch (err) {
    if (err instanceof JsonSyntaxError) throw new RestError('BAD_REQUEST', `Error processing JSON: ${err.message}.`);
    throw err;
  }
  const parsed = V3.ProduceRecordRequest.safeParse(plain(bytes, root));
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const at = issue.path.map(String).join('.');
    throw new RestError('BAD_REQUEST', at === '' ? `Invalid record: ${issue.message}.` : `Invalid ${at}: ${issue.message}.`);
  }
  const body = parsed.data;
  const data = (name: 'key' | 'value'): { bytes: Buffer | null; report: { type: string; size: number } | null } => {
    const spec = body[name];
    if (spec === undefined || spec === null) return { bytes: null, report: null };
    const code = name === 'key' ? 'INVALID_KEY' : 'INVALID_VALUE';
    let out: Buffer | null = null;
    if (spec.type === 'BINARY') out = spec.data == null ? null : decodeBase64(spec.data, code, `${name}.data`);
    else if (spec.type === 'STRING') out = spec.data == null ? null : utf8Of(spec.data, code, `${name}.data`);
    else {
      // The client's own JSON text (its span in the request), never JSON.stringify of a parse.
      const node = root.type === 'object' ? member(root, name) : undefined;
      const dataNode = node !== undefined && node.type === 'object' ? member(node, 'data') : undefined;
      out = dataNode === undefined || dataNode.type === 'null' ? null : bytesOf(bytes, dataNode);
    }
    return { bytes: out, report: { type: spec.type, size: out?.length ?? 0 } };
  };
  const key = data('key');
  const value = data('value');
  const headers: Headers = (body.headers ?? []).map((h) => ({ name: h.name, value: h.value == null ? Buffer.alloc(0) : decodeBase64(h.value, 'INVALID_ARGUMENT', `header ${h.name.slice(0, 64)}`) }));
  const record: ProduceRecord = { key: key.bytes, value: value.bytes };
  if (headers.length > 0) record.headers = headers;
  if (body.partition_id !== undefined && body.partition_id !== null) record.partition = body.partition_id;
  if (body.timestamp !== undefined && body.timestamp !== null) {
    const t = Date.parse(body.timestamp);
    if (!Number.isFinite(t) || t < 0) throw new RestError('BAD_REQUEST', `Invalid timestamp: ${body.timestamp.slice(0, 40)} is not a date after 1970.`);
    record.timestamp = t;
  }
  return { record, key: key.report, value: value.report };
}

/**
 * Splits a byte stream of concatenated JSON objects into each object's bytes, in one linear scan
 * that tracks only nesting depth and string state (the values are validated when decoded). Each
 * chunk is scanned once and an object's chunks are joined once, when it completes — however the
 * client slices its bytes. An object over `limit` bytes, or bytes between objects that are not
 * whitespace, are refused.
 */
export class JsonSplitter {
  /** The unfinished object's bytes so far (chunk slices), and their size. */
  private parts: Buffer[] = [];
  private size = 0;
  private inValue = false;
  private depth = 0;
  private inString = false;
  private escaped = false;
  private out: Buffer[] = [];

  constructor(private readonly limit: number) {}

  /** Adds a chunk; returns the objects it completed. Throws on bytes that cannot start or continue one. */
  push(chunk: Buffer): Buffer[] {
    this.out = [];
    let from = 0;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i]!;
      if (!this.inValue) {
        if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) continue;
        if (c !== 0x7b) throw new RestError('BAD_REQUEST', 'Error processing JSON: expected a JSON object ({) to start the next record.');
        this.inValue = true;
        this.depth = 1;
        from = i;
        continue;
      }
      if (this.size + (i + 1 - from) > this.limit) throw new GatewayError('MESSAGE_TOO_LARGE', `A record is over ${this.limit} bytes (rest.maxBodyBytes).`);
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (c === 0x5c) this.escaped = true;
        else if (c === 0x22) this.inString = false;
        continue;
      }
      if (c === 0x22) this.inString = true;
      else if (c === 0x7b || c === 0x5b) this.depth++;
      else if ((c === 0x7d || c === 0x5d) && --this.depth === 0) {
        this.parts.push(chunk.subarray(from, i + 1));
        // A copy: the record must not pin the request's chunks.
        this.out.push(Buffer.concat(this.parts));
        this.parts = [];
        this.size = 0;
        this.inValue = false;
      }
    }
    if (this.inValue) {
      this.parts.push(chunk.subarray(from));
      this.size += chunk.length - from;
    }
    return this.out;
  }

  /** The objects completed by the last `push` before it threw. */
  taken(): Buffer[] {
    return this.out;
  }

  /** Whether bytes of an unfinished object are buffered. */
  pending(): boolean {
    return this.inValue;
  }
}
