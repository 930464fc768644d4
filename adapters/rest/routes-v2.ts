/**
 * The Confluent REST Proxy v2 routes: topics and partitions (metadata, produce) and consumer
 * instances (subscription, assignment, positions, records, offsets), with Confluent's shapes
 * and error codes. Each handler decodes, calls the core, encodes.
 */
import type { Context, Gateway } from '../../gateway/api.js';
import type { z } from 'zod';
import { GatewayError } from '../../gateway/errors.js';
import type { StreamRecord, TopicPartition } from '../../gateway/record.js';
import {
  MEDIA,
  acceptedFormat,
  decodeV2Produce,
  encodeV2Record,
  isObject,
  parseJsonBody,
  parseRecordsBody,
  type ConsumerFormat,
  encodeV2SchemaRecord,
  isSchemaFormat,
  SCHEMA_TYPE_OF,
  produceFormat,
  requireJsonBody,
} from './codec.js';
import { RestError, produceRecordErrorCode } from './errors.js';
import { encodeSchemaProduce, schemaProduceFormat } from './schema-produce.js';
import { NO_CONTENT, SEG, headerValue, traceOf, v2Reply, type Reply, type Request, type RouteDeps, type RouteTable } from './http.js';
import type { ConsumerInstance } from './consumer-instance.js';
import * as S from './schemas.js';
import { MAX_TOPIC_PATTERN_LENGTH } from './topic-pattern.js';

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
    const schemaType = schemaProduceFormat(headerValue(r.req, 'content-type'));
    const format = schemaType === undefined ? produceFormat(headerValue(r.req, 'content-type')) : undefined; // 415 before the body is read
    const raw = await r.body();
    let records;
    let schemaIds: { key_schema_id: number | null; value_schema_id: number | null } = { key_schema_id: null, value_schema_id: null };
    if (schemaType !== undefined) {
      const encoded = await encodeSchemaProduce(g, r.ctx, r.params[0]!, raw, schemaType, partition);
      records = encoded.records;
      schemaIds = { key_schema_id: encoded.keySchemaId, value_schema_id: encoded.valueSchemaId };
    } else {
      records = decodeV2Produce(raw, parseRecordsBody(raw), format!, partition);
    }
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
    return v2(200, { ...schemaIds, offsets });
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
    const raw = (await jsonBody(r)) ?? {};
    if (!isObject(raw)) throw mappingError('the body must be a JSON object');
    const parsed = S.CreateConsumerRequest.safeParse(raw);
    if (!parsed.success) throw consumerConfigRefusal(parsed.error.issues[0]!, raw);
    const body = parsed.data;
    // kafka-rest (KafkaConsumerManager.createConsumer): the legacy `id` overrides `name`.
    const name = body.id ?? body.name ?? undefined;
    const format: ConsumerFormat = body.format === undefined || body.format === null ? 'binary' : (body.format.toLowerCase() as ConsumerFormat);
    // The schema formats decode through the registry: without it they cannot be read at all.
    if (isSchemaFormat(format) && g.schemas === undefined) throw new RestError('INVALID_CONSUMER_CONFIG', `Invalid consumer configuration: format "${format}" needs the schema registry (schemaRegistry.enabled).`);
    const reset = body['auto.offset.reset'] ?? 'latest';
    const resetTo = reset === 'earliest' || reset === 'smallest' ? 'earliest' : 'latest';
    // Kafka's boolean config parser: "true"/"false" in any case (a JSON boolean is coerced to that text).
    const autoCommitRaw = body['auto.commit.enable'] ?? true;
    const autoCommit = typeof autoCommitRaw === 'boolean' ? autoCommitRaw : S.KAFKA_BOOLEAN.exec(autoCommitRaw)![1]!.toLowerCase() === 'true';
    // `requestWaitMs` is kafka-rest's alias of the field.
    const timeoutRaw = body['consumer.request.timeout.ms'] ?? body.requestWaitMs;
    const requestTimeoutMs = timeoutRaw === undefined || timeoutRaw === null ? deps.config.consumerRequestTimeoutMs : Math.min(Number(timeoutRaw), deps.config.maxPollWaitMs);
    const group = r.params[0]!;
    // An instance name is group state: nobody may squat names in a group they may not use.
    g.authorizeGroup(r.ctx, group);
    const created = await deps.consumers.create(group, name, r.ctx.principal.id, { format, resetTo, autoCommit, requestTimeoutMs });
    return v2(200, { instance_id: created.id, base_uri: `${deps.advertisedBase(r.req)}/consumers/${encodeURIComponent(group)}/instances/${encodeURIComponent(created.id)}` });
  });
  routes.add('DELETE', I, async (r) => {
    await deps.consumers.delete(r.params[0]!, r.params[1]!, r.ctx);
    return noContent;
  });

  routes.add('POST', `${I}/subscription`, async (r) => {
    const c = await instance(r);
    const raw = await jsonBody(r);
    const parsed = S.SubscriptionRequest.safeParse(raw);
    if (!parsed.success) throw subscriptionRefusal(parsed.error.issues[0]!, raw);
    const body = parsed.data;
    // As KafkaConsumerState.subscribe: `topics` wins over `topic_pattern`, an empty list is
    // Kafka's subscribe([]) (= unsubscribe), and a body with neither changes nothing.
    if (body.topics !== undefined && body.topics !== null) {
      const topics = body.topics;
      if (topics.length === 0) await c.run(() => c.unsubscribe());
      else await c.run(() => c.subscribe(r.ctx, { topics: [...new Set(topics)] }));
    } else if (body.topic_pattern !== undefined && body.topic_pattern !== null) {
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
      const format = c.options.format;
      for (let i = 0; i < records.length; i++) {
        try {
          // Schema formats: the core decodes the wire format (RECORD_NOT_DECODABLE, 500/50002, for a record it cannot).
          out.push(isSchemaFormat(format) ? encodeV2SchemaRecord(records[i]!, await g.decodeRecord(r.ctx, records[i]!, SCHEMA_TYPE_OF[format])) : encodeV2Record(records[i]!, format));
        } catch (err) {
          await rewind(r.ctx, c, records.slice(i));
          if (out.length === 0) throw err;
          break;
        }
      }
      return out;
    });
    // Each record is JSON text already (stored JSON values spliced verbatim): join, never re-serialize.
    return { status: 200, body: `[${body.join(',')}]`, contentType: MEDIA[c.options.format] };
  });

  routes.add('POST', `${I}/offsets`, async (r) => {
    const c = await instance(r);
    const body = await jsonBody(r);
    const offsets = body === undefined || (isObject(body) && body.offsets === undefined) ? undefined : topicPartitionOffsets(body, S.CommitRequest);
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

/**
 * A `long` query parameter as JAX-RS converts it: absent or empty is the default; not an integer
 * (within ±(2^53 − 1), the range the document gives) is 404 (no resource matches).
 */
function queryLong(query: URLSearchParams, name: string): number | undefined {
  return S.queryInteger(query.get(name), S.params.v2Long, () => new RestError('NOT_FOUND', 'HTTP 404 Not Found'));
}

/** A JSON body whose types do not fit the entity: Jackson's mapping error, 400/400 (rest-utils JsonMappingExceptionMapper). */
function mappingError(what: string): RestError {
  return new RestError('BAD_REQUEST', `Cannot deserialize the request body: ${what}.`);
}

/**
 * Why a v2 consumer configuration is refused (the first zod issue of CreateConsumerRequest), in
 * kafka-rest's terms: a format other than json, binary, avro, jsonschema, protobuf is "Invalid
 * format type." (422/422); every other field 42204.
 */
function consumerConfigRefusal(issue: z.core.$ZodIssue, body: Record<string, unknown>): RestError {
  const field = String(issue.path[0]);
  if (field === 'format') {
    return new RestError('UNPROCESSABLE', 'Invalid format type.');
  }
  const why: Record<string, string> = {
    name: 'name must be 1–249 characters of A-Z a-z 0-9 . _ -',
    id: 'id must be 1–249 characters of A-Z a-z 0-9 . _ -',
    'auto.offset.reset': 'auto.offset.reset must be earliest or latest',
    'auto.commit.enable': 'auto.commit.enable must be true or false',
  };
  return new RestError('INVALID_CONSUMER_CONFIG', `Invalid consumer configuration: ${why[field] ?? `${field} must be a non-negative integer`}.`);
}

async function existingPartition(g: Gateway, ctx: Context, topic: string, raw: string): Promise<number> {
  const p = pathPartition(raw);
  const info = await g.describeTopic(ctx, topic);
  if (p >= info.partitions) throw new GatewayError('PARTITION_NOT_FOUND', 'Partition not found.');
  return p;
}

function topicPartitions(body: unknown): TopicPartition[] {
  const parsed = S.PartitionsRequest.safeParse(body);
  if (!parsed.success) throw entityRefusal(parsed.error.issues[0]!, body, '{"partitions":[{"topic":…,"partition":…}]}');
  return parsed.data.partitions.map((p) => ({ topic: p.topic, partition: Number(p.partition) }));
}

function topicPartitionOffsets(body: unknown, schema: typeof S.OffsetsRequest | typeof S.CommitRequest = S.OffsetsRequest): { topic: string; partition: number; offset: bigint }[] {
  const parsed = schema.safeParse(body);
  if (!parsed.success) throw entityRefusal(parsed.error.issues[0]!, body, '{"offsets":[{"topic":…,"partition":…,"offset":…}]}');
  return (parsed.data.offsets ?? []).map((o) => ({ topic: o.topic, partition: Number(o.partition), offset: BigInt(o.offset) }));
}

/**
 * Why a v2 partitions / offsets entity is refused, from its first zod issue, as kafka-rest
 * answers: a missing body or list is a constraint violation (422), JSON of the wrong type a
 * mapping error (400), an illegal topic name 40002 (as every other route), a topic that is not a
 * string or a partition / offset out of range 422.
 */
function entityRefusal(issue: z.core.$ZodIssue, body: unknown, shape: string): Error {
  const path = issue.path.map(String);
  const at = valueAt(body, path);
  if (path.length <= 1) return at === undefined || at === null ? new RestError('UNPROCESSABLE', `The body must be ${shape}.`) : mappingError(path.length === 0 ? 'the body must be a JSON object' : `${path[0]} must be an array`);
  const item = `${path[0]}[${path[1]}]`;
  if (path.length === 2) return mappingError(`${item} must be an object`);
  const field = path[2];
  if (field === 'topic') {
    if (typeof at === 'string') return new GatewayError('INVALID_TOPIC', `"${at.slice(0, 64)}" is not a legal topic name (1–249 characters of a-z A-Z 0-9 . _ -).`);
    return new RestError('UNPROCESSABLE', `${item} must be ${shape.slice(shape.indexOf('[') + 1, -2)}.`);
  }
  return new GatewayError('INVALID_ARGUMENT', field === 'offset' ? `The ${item}.offset must be a non-negative integer (up to 2^63 − 1).` : `The ${item}.${field} must be a non-negative integer.`);
}

/** The value at a zod issue's path in the parsed JSON. */
function valueAt(body: unknown, path: readonly string[]): unknown {
  let v = body;
  for (const k of path) v = typeof v === 'object' && v !== null ? (v as Record<string, unknown>)[k] : undefined;
  return v;
}

/**
 * Why a subscription body is refused: no body 422; `topics` not a list of names 400 (an illegal
 * name 40002); `topic_pattern` not a string 400, too long 422.
 */
function subscriptionRefusal(issue: z.core.$ZodIssue, body: unknown): Error {
  const path = issue.path.map(String);
  const at = valueAt(body, path);
  if (path.length === 0) return body === undefined || body === null ? new RestError('UNPROCESSABLE', 'The body must be {"topics":[…]} or {"topic_pattern":"…"}.') : mappingError('the body must be a JSON object');
  if (path[0] === 'topics') {
    if (path.length === 2 && typeof at === 'string') return new GatewayError('INVALID_TOPIC', `"${at.slice(0, 64)}" is not a legal topic name (1–249 characters of a-z A-Z 0-9 . _ -).`);
    return mappingError('topics must be an array of topic names');
  }
  if (typeof at === 'string') return new RestError('UNPROCESSABLE', `topic_pattern is longer than ${MAX_TOPIC_PATTERN_LENGTH} characters.`);
  return mappingError('topic_pattern must be a string');
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
