/**
 * streamgate's native v1 routes (`/v1/topics`): produce and fetch in the JSON record of
 * codecs/json-record.ts (offsets as decimal strings), offsets, and the SSE event stream.
 */
import { jsonRecord } from '../../codecs/json-record.js';
import { GatewayError } from '../../gateway/errors.js';
import { parseOffset } from '../../gateway/record.js';
import { MEDIA, decodeNativeProduce, parsePartition, parseRecordsBody } from './codec.js';
import { RestError, toHttpError } from './errors.js';
import { SEG, headerValue, queryInt, traceOf, v1Reply, type Request, type RouteDeps, type RouteTable } from './http.js';
import { serveSse } from './sse.js';

/** Adds the native v1 routes to the table. */
export function defineV1Routes(routes: RouteTable, deps: RouteDeps): void {
  const g = deps.gateway;
  const v1 = v1Reply;

  // Native v1 ---------------------------------------------------------------------------------
  const nativeRecordsBody = async (r: Request): Promise<Buffer> => {
    const body = await r.body();
    const t = headerValue(r.req, 'content-type')?.split(';')[0]!.trim().toLowerCase();
    if (t !== 'application/json') throw new RestError('UNSUPPORTED_MEDIA_TYPE', 'HTTP 415 Unsupported Media Type: use Content-Type: application/json.');
    return body;
  };
  routes.add('GET', '/v1/topics', async ({ ctx }) => v1(200, { topics: (await g.listTopics(ctx)).map((t) => ({ name: t.name, partitions: t.partitions })) }), true);
  routes.add(
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
  routes.add(
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
      const max = Math.min(queryInt(r.query, 'max') ?? deps.config.v1MaxRecords, deps.config.v1MaxRecords);
      const waitMs = Math.min(queryInt(r.query, 'timeout_ms') ?? 0, deps.config.maxPollWaitMs);
      const maxBytes = queryInt(r.query, 'max_bytes');
      const result = await g.fetch(r.ctx, topic, partition, offset, { maxRecords: Math.max(1, max), waitMs, ...(maxBytes === undefined ? {} : { maxBytes }) });
      // Records are JSON text (codecs/json-record.ts: stored JSON spliced verbatim); the envelope around them is built the same way.
      // Records of schema-bound topics are shown decoded, with their schema ids (gateway/schemas/reading.ts).
      const decoding = g.decodeForJson(result.records);
      const decoded = decoding === undefined ? undefined : await decoding;
      const body =
        `{"topic":${JSON.stringify(topic)},"partition":${partition},"records":[${result.records.map((rec, i) => jsonRecord(rec, decoded?.[i])).join(',')}]` +
        `,"next_offset":"${result.nextOffset}","earliest":"${result.earliest}","latest":"${result.latest}"}`;
      return { status: 200, body, contentType: MEDIA.native };
    },
    true,
  );
  routes.add(
    'GET',
    `/v1/topics/${SEG}/offsets`,
    async (r) => v1(200, { topic: r.params[0]!, partitions: (await g.offsets(r.ctx, r.params[0]!)).map((o) => ({ partition: o.partition, earliest: o.earliest, latest: o.latest })) }),
    true,
  );
  routes.add(
    'GET',
    `/v1/topics/${SEG}/events`,
    async (r) => {
      // An event stream holds a connection like a WebSocket does: it counts against the same
      // limits. The host already counts the socket (as `http`); the count moves to `rest-sse`.
      const release = deps.claimConnection(r.req, 'rest-sse');
      // The operator's view of connections by principal counts the stream too.
      const forget = g.connectionIdentified({ ...r.ctx, protocol: 'rest-sse' });
      r.res.once('close', () => {
        release();
        forget();
      });
      await serveSse(g, r.ctx, r.req, r.res, r.params[0]!, r.query, { heartbeatMs: deps.config.sseHeartbeatMs, retryMs: deps.config.sseRetryMs }, deps.streams);
      return undefined;
    },
    true,
  );
}
