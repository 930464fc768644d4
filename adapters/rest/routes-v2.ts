/**
 * The Confluent REST Proxy v2 routes: topics and partitions (metadata, produce) and consumer
 * instances (subscription, assignment, positions, records, offsets), with Confluent's shapes
 * and error codes. Each handler decodes, calls the core, encodes.
 */
import type { Context, Gateway } from '../../gateway/api.js';
import { GatewayError } from '../../gateway/errors.js';
import { parseOffset, type StreamRecord, type TopicPartition } from '../../gateway/record.js';
import {
  MEDIA,
  acceptedFormat,
  decodeV2Produce,
  encodeV2Record,
  isObject,
  parseJsonBody,
  parsePartition,
  parseRecordsBody,
  type EmbeddedFormat,
  produceFormat,
  requireJsonBody,
} from './codec.js';
import { RestError, produceRecordErrorCode } from './errors.js';
import { NO_CONTENT, SEG, headerValue, traceOf, v2Reply, type Reply, type Request, type RouteDeps, type RouteTable } from './http.js';
import type { ConsumerInstance } from './consumer-instance.js';

/** Adds the v2 routes to the table. */
export function defineV2Routes(routes: RouteTable, deps: RouteDeps): void {
  const g = deps.gateway;
  const v2 = v2Reply;
  const noContent = NO_CONTENT;

  // Confluent v2: topics and partitions ------------------------------------------------------
  routes.add('GET', '/topics', async ({ ctx }) => v2(200, (await g.listTopics(ctx)).map((t) => t.name)));
  routes.add('GET', `/topics/${SEG}`, async ({ ctx, params }) => {
    const info = await g.describeTopic(ctx, params[0]!);
    return v2(200, { name: info.name, configs: info.config, partitions: range(info.partitions).map(partitionMetadata) });
  });
  routes.add('GET', `/topics/${SEG}/partitions`, async ({ ctx, params }) => {
    const info = await g.describeTopic(ctx, params[0]!);
    return v2(200, range(info.partitions).map(partitionMetadata));
  });
  routes.add('GET', '/brokers', async () => v2(200, { brokers: [0] }));
  routes.add('GET', `/topics/${SEG}/partitions/${SEG}`, async ({ ctx, params }) => {
    const p = await existingPartition(g, ctx, params[0]!, params[1]!);
    return v2(200, partitionMetadata(p));
  });
  routes.add('GET', `/topics/${SEG}/partitions/${SEG}/offsets`, async ({ ctx, params }) => {
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
    // kafka-rest (AbstractProduceAction): a failed record has neither partition nor offset.
    const offsets = results.map((x) =>
      x.ok
        ? { partition: x.partition, offset: x.offset, error_code: null, error: null }
        : { partition: null, offset: null, error_code: produceRecordErrorCode(x.error), error: x.error.message },
    );
    return v2(200, { key_schema_id: null, value_schema_id: null, offsets });
  };
  routes.add('POST', `/topics/${SEG}`, (r) => produceV2(r, undefined));
  routes.add('POST', `/topics/${SEG}/partitions/${SEG}`, (r) => produceV2(r, pathPartition(r.params[1]!)));

  // Confluent v2: consumer instances ----------------------------------------------------------
  const jsonBody = async (r: Request): Promise<unknown> => {
    const body = await r.body();
    requireJsonBody(headerValue(r.req, 'content-type'), body.length);
    return parseJsonBody(body);
  };
  const instance = (r: Request): Promise<ConsumerInstance> => deps.consumers.get(r.params[0]!, r.params[1]!, r.ctx);
  const I = `/consumers/${SEG}/instances/${SEG}`;

  routes.add('POST', `/consumers/${SEG}`, async (r) => {
    // No body is kafka-rest's PROTOTYPE request: every field at its default.
    const body = (await jsonBody(r)) ?? {};
    if (!isObject(body)) throw mappingError('the body must be a JSON object');
    // kafka-rest (KafkaConsumerManager.createConsumer): the legacy `id` overrides `name`.
    const name = body.id ?? body.name;
    if (name !== undefined && name !== null && (typeof name !== 'string' || !/^[A-Za-z0-9._-]{1,249}$/.test(name))) {
      throw new RestError('INVALID_CONSUMER_CONFIG', 'Invalid consumer configuration: name must be 1–249 characters of A-Z a-z 0-9 . _ -');
    }
    const format = consumerFormat(body.format);
    const reset = body['auto.offset.reset'] ?? 'latest';
    const resetTo = reset === 'earliest' || reset === 'smallest' ? 'earliest' : reset === 'latest' || reset === 'largest' ? 'latest' : undefined;
    if (resetTo === undefined) throw new RestError('INVALID_CONSUMER_CONFIG', `Invalid consumer configuration: auto.offset.reset must be earliest or latest.`);
    // Kafka's boolean config parser: "true"/"false" in any case (a JSON boolean is coerced to that text).
    const autoCommitRaw = body['auto.commit.enable'] ?? 'true';
    const autoCommitText = typeof autoCommitRaw === 'boolean' ? String(autoCommitRaw) : typeof autoCommitRaw === 'string' ? autoCommitRaw.trim().toLowerCase() : undefined;
    if (autoCommitText !== 'true' && autoCommitText !== 'false') {
      throw new RestError('INVALID_CONSUMER_CONFIG', 'Invalid consumer configuration: auto.commit.enable must be true or false.');
    }
    // `requestWaitMs` is kafka-rest's alias of the field.
    const timeoutRaw = body['consumer.request.timeout.ms'] ?? body.requestWaitMs;
    let requestTimeoutMs = deps.config.consumerRequestTimeoutMs;
    if (timeoutRaw !== undefined && timeoutRaw !== null) {
      const t = Number(timeoutRaw);
      if (!Number.isInteger(t) || t < 0) throw new RestError('INVALID_CONSUMER_CONFIG', 'Invalid consumer configuration: consumer.request.timeout.ms must be a non-negative integer.');
      requestTimeoutMs = Math.min(t, deps.config.maxPollWaitMs);
    }
    const group = r.params[0]!;
    // An instance name is group state: nobody may squat names in a group they may not use.
    g.authorizeGroup(r.ctx, group);
    const created = await deps.consumers.create(group, typeof name === 'string' ? name : undefined, r.ctx.principal.id, {
      format,
      resetTo,
      autoCommit: autoCommitText === 'true',
      requestTimeoutMs,
    });
    return v2(200, { instance_id: created.id, base_uri: `${deps.advertisedBase(r.req)}/consumers/${encodeURIComponent(group)}/instances/${encodeURIComponent(created.id)}` });
  });
  routes.add('DELETE', I, async (r) => {
    await deps.consumers.delete(r.params[0]!, r.params[1]!, r.ctx);
    return noContent;
  });

  routes.add('POST', `${I}/subscription`, async (r) => {
    const c = await instance(r);
    const body = await jsonBody(r);
    if (body === undefined || body === null) throw new RestError('UNPROCESSABLE', 'The body must be {"topics":[…]} or {"topic_pattern":"…"}.');
    if (!isObject(body)) throw mappingError('the body must be a JSON object');
    // As KafkaConsumerState.subscribe: `topics` wins over `topic_pattern`, an empty list is
    // Kafka's subscribe([]) (= unsubscribe), and a body with neither changes nothing.
    if (body.topics !== undefined && body.topics !== null) {
      const topics = body.topics;
      if (!Array.isArray(topics) || !topics.every((t) => typeof t === 'string')) throw mappingError('topics must be an array of topic names');
      if (topics.length === 0) await c.run(() => c.unsubscribe());
      else await c.run(() => c.subscribe(r.ctx, { topics: [...new Set(topics as string[])] }));
    } else if (body.topic_pattern !== undefined && body.topic_pattern !== null) {
      if (typeof body.topic_pattern !== 'string') throw mappingError('topic_pattern must be a string');
      const pattern = body.topic_pattern;
      await c.run(() => c.subscribe(r.ctx, { pattern }));
    }
    return noContent;
  });
  routes.add('GET', `${I}/subscription`, async (r) => v2(200, { topics: (await instance(r)).subscription() }));
  routes.add('DELETE', `${I}/subscription`, async (r) => {
    const c = await instance(r);
    await c.run(() => c.unsubscribe());
    return noContent;
  });

  routes.add('POST', `${I}/assignments`, async (r) => {
    const c = await instance(r);
    const partitions = topicPartitions(await jsonBody(r));
    await c.run(() => c.assign(r.ctx, partitions));
    return noContent;
  });
  routes.add('GET', `${I}/assignments`, async (r) => v2(200, { partitions: (await instance(r)).assignment() }));

  routes.add('POST', `${I}/positions`, async (r) => {
    const c = await instance(r);
    const offsets = topicPartitionOffsets(await jsonBody(r));
    await c.run(() => c.seek(r.ctx, offsets.map((o) => ({ topic: o.topic, partition: o.partition, to: o.offset }))));
    return noContent;
  });
  for (const [suffix, to] of [
    ['beginning', 'earliest'],
    ['end', 'latest'],
  ] as const) {
    routes.add('POST', `${I}/positions/${suffix}`, async (r) => {
      const c = await instance(r);
      const partitions = topicPartitions(await jsonBody(r));
      await c.run(() => c.seek(r.ctx, partitions.map((p) => ({ ...p, to }))));
      return noContent;
    });
  }

  routes.add('GET', `${I}/records`, async (r) => {
    const c = await instance(r);
    const asked = acceptedFormat(headerValue(r.req, 'accept'));
    if (asked === 'unacceptable' || (asked !== undefined && asked !== c.options.format)) {
      throw new RestError('FORMAT_MISMATCH', 'The requested embedded data format does not match the deserializer for this consumer instance');
    }
    // kafka-rest (KafkaConsumerReadTask): timeout ≤ 0 (or absent) is the instance's
    // consumer.request.timeout.ms, and no request waits longer than that; max_bytes ≤ 0 is no
    // limit but the configured maximum.
    const timeout = queryLong(r.query, 'timeout');
    const waitMs = timeout === undefined || timeout <= 0 ? c.options.requestTimeoutMs : Math.min(timeout, c.options.requestTimeoutMs);
    const askedBytes = queryLong(r.query, 'max_bytes');
    const maxBytes = askedBytes === undefined || askedBytes <= 0 ? deps.config.consumerRequestMaxBytes : Math.min(askedBytes, deps.config.consumerRequestMaxBytes);
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

  routes.add('POST', `${I}/offsets`, async (r) => {
    const c = await instance(r);
    const body = await jsonBody(r);
    const offsets = body === undefined || (isObject(body) && body.offsets === undefined) ? undefined : topicPartitionOffsets(body);
    await c.run(() => c.commit(offsets));
    // kafka-rest answers 200 with a CommitOffsetsResponse: a JSON array, which its commit path leaves empty.
    return v2(200, []);
  });
  routes.add('GET', `${I}/offsets`, async (r) => {
    const c = await instance(r);
    const body = await jsonBody(r);
    // kafka-rest: a request without a body is "Partition not found." (40402).
    if (body === undefined || body === null) throw new GatewayError('PARTITION_NOT_FOUND', 'Partition not found.');
    const partitions = topicPartitions(body);
    const committed = await c.run(() => c.committed(partitions));
    return v2(200, { offsets: committed.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset, metadata: '' })) });
  });
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

/**
 * A partition in a v2 path, as JAX-RS converts an `int` path parameter: not an int32 is no
 * resource (404/404); a negative one names no partition (40402).
 */
function pathPartition(raw: string): number {
  const p = /^[+-]?\d{1,10}$/.test(raw) ? Number(raw) : NaN;
  if (!(p >= -(2 ** 31) && p <= 2 ** 31 - 1)) throw new RestError('NOT_FOUND', 'HTTP 404 Not Found');
  if (p < 0) throw new GatewayError('PARTITION_NOT_FOUND', 'Partition not found.');
  return p;
}

/** A `long` query parameter as JAX-RS converts it: absent or empty is the default; not a long is 404 (no resource matches). */
function queryLong(query: URLSearchParams, name: string): number | undefined {
  const v = query.get(name);
  if (v === null || v === '') return undefined;
  if (!/^[+-]?\d{1,18}$/.test(v)) throw new RestError('NOT_FOUND', 'HTTP 404 Not Found');
  return Number(v);
}

/** A JSON body whose types do not fit the entity: Jackson's mapping error, 400/400 (rest-utils JsonMappingExceptionMapper). */
function mappingError(what: string): RestError {
  return new RestError('BAD_REQUEST', `Cannot deserialize the request body: ${what}.`);
}

/**
 * The `format` of a v2 consumer: case-insensitive, binary by default (CreateConsumerInstanceRequest).
 * Schema formats exist in kafka-rest but need a schema registry (42204 here); anything else is
 * kafka-rest's "Invalid format type." (422/422).
 */
function consumerFormat(raw: unknown): EmbeddedFormat {
  if (raw === undefined || raw === null) return 'binary';
  const f = typeof raw === 'string' ? raw.toLowerCase() : undefined;
  if (f === 'json' || f === 'binary') return f;
  if (f === 'avro' || f === 'jsonschema' || f === 'protobuf') {
    throw new RestError('INVALID_CONSUMER_CONFIG', `Invalid consumer configuration: format "${f}" needs a schema registry, which streamgate does not have (use json or binary).`);
  }
  throw new RestError('UNPROCESSABLE', 'Invalid format type.');
}

async function existingPartition(g: Gateway, ctx: Context, topic: string, raw: string): Promise<number> {
  const p = pathPartition(raw);
  const info = await g.describeTopic(ctx, topic);
  if (p >= info.partitions) throw new GatewayError('PARTITION_NOT_FOUND', 'Partition not found.');
  return p;
}

function topicPartitions(body: unknown): TopicPartition[] {
  const list = entityList(body, 'partitions', '{"partitions":[{"topic":…,"partition":…}]}');
  return list.map((p: unknown, i: number) => {
    if (!isObject(p)) throw mappingError(`partitions[${i}] must be an object`);
    if (typeof p.topic !== 'string') throw new RestError('UNPROCESSABLE', `partitions[${i}] must be {"topic":…,"partition":…}.`);
    return { topic: p.topic, partition: parsePartition(p.partition, `partitions[${i}].partition`) };
  });
}

function topicPartitionOffsets(body: unknown): { topic: string; partition: number; offset: bigint }[] {
  const list = entityList(body, 'offsets', '{"offsets":[{"topic":…,"partition":…,"offset":…}]}');
  return list.map((o: unknown, i: number) => {
    if (!isObject(o)) throw mappingError(`offsets[${i}] must be an object`);
    if (typeof o.topic !== 'string') throw new RestError('UNPROCESSABLE', `offsets[${i}] must be {"topic":…,"partition":…,"offset":…}.`);
    return { topic: o.topic, partition: parsePartition(o.partition, `offsets[${i}].partition`), offset: parseOffset(o.offset, `offsets[${i}].offset`) };
  });
}

/** The list field of a v2 request entity: a missing one is a constraint violation (422), JSON of the wrong type a mapping error (400). */
function entityList(body: unknown, field: string, shape: string): unknown[] {
  if (body === undefined || body === null) throw new RestError('UNPROCESSABLE', `The body must be ${shape}.`);
  if (!isObject(body)) throw mappingError('the body must be a JSON object');
  const list = body[field];
  if (list === undefined || list === null) throw new RestError('UNPROCESSABLE', `The body must be ${shape}.`);
  if (!Array.isArray(list)) throw mappingError(`${field} must be an array`);
  return list;
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
