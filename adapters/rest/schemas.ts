/**
 * The REST API's request and response shapes as zod schemas: the one source of both the request
 * checks (the route handlers validate path parameters, query parameters and bodies with these)
 * and of `/openapi.json` (openapi.ts renders them with `z.toJSONSchema`), so the document says
 * exactly what the server accepts. A fuzzer (schemathesis, scripts/schemathesis.sh) holds the two
 * together in CI.
 *
 * Every pattern spells digits `[0-9]`, never `\d`: the document's regexes are also read by other
 * regex engines (Python's `\d` matches any Unicode digit), and the server must accept exactly what
 * they generate.
 */
import { z } from 'zod';

/**
 * Longest `topic_pattern` accepted (characters; a list of a few dozen topic names fits). Here, not
 * in topic-pattern.ts, because this module must import nothing of the adapter's: topic-pattern.ts
 * → errors.ts → codec.ts → schemas.ts would otherwise close a cycle, and whichever module a cycle
 * is entered from sees the other's constants still unset (a `.max(undefined)` refused every pattern).
 */
export const MAX_TOPIC_PATTERN_LENGTH = 1_024;

// ---------------------------------------------------------------------------------------------
// Building blocks

/**
 * A regex source matching the decimal strings (leading zeros allowed) of at most `digits` digits
 * whose value is at most `max` — e.g. int32 or int64 offsets sent as JSON strings. Built from
 * `max`'s digits, so it is exact and linear (no lookaround, no backtracking between branches).
 */
export function decimalAtMost(max: bigint, digits = max.toString().length): string {
  const m = max.toString().padStart(digits, '0');
  const branches: string[] = [];
  if (digits > 1) branches.push(`[0-9]{1,${digits - 1}}`);
  for (let i = 0; i < digits; i++) {
    const d = Number(m[i]);
    if (d === 0) continue;
    const rest = digits - i - 1;
    branches.push(`${m.slice(0, i)}${d === 1 ? '0' : `[0-${d - 1}]`}${rest > 0 ? `[0-9]{${rest}}` : ''}`);
  }
  branches.push(m);
  return `(?:${branches.join('|')})`;
}

const INT32_MAX = 2 ** 31 - 1;
const INT64_MAX = 2n ** 63n - 1n;
/** The largest integer a JSON number carries exactly (and parseOffset accepts as a number). */
const SAFE_MAX = Number.MAX_SAFE_INTEGER;

/** `^…$` as a RegExp. */
const exactly = (source: string): RegExp => new RegExp(`^(?:${source})$`);

/**
 * Kafka's legal topic names (gateway/record.ts validateTopicName): 1–249 of `[a-zA-Z0-9._-]`,
 * not `.` or `..` — spelled without lookahead, which not every regex engine has.
 */
export const TOPIC_NAME = exactly('[a-zA-Z0-9_-][a-zA-Z0-9._-]{0,248}|\\.[a-zA-Z0-9_-][a-zA-Z0-9._-]{0,247}|\\.\\.[a-zA-Z0-9._-]{1,247}');
/** A non-negative int32 as decimal text (partition in a path, a query or a JSON string). */
export const PARTITION_TEXT = exactly(decimalAtMost(BigInt(INT32_MAX), 10));
/** A non-negative int64 as decimal text of at most 19 digits (gateway/record.ts parseOffset). */
export const OFFSET_TEXT = exactly(decimalAtMost(INT64_MAX, 19));
/** A v2 consumer instance name (kafka-rest: the name becomes a URL segment and a Kafka client id). */
export const INSTANCE_NAME = /^[A-Za-z0-9._-]{1,249}$/;
/** Kafka's boolean config text: `true`/`false` in any case, surrounded by what Java's `String.trim` strips (U+0000–U+0020). */
export const KAFKA_BOOLEAN = /^[\u0000-\u0020]*([tT][rR][uU][eE]|[fF][aA][lL][sS][eE])[\u0000-\u0020]*$/;
/** A v2 consumer `format`: json, binary, avro, jsonschema or protobuf, any case (CreateConsumerInstanceRequest upper-cases it). */
export const CONSUMER_FORMAT = /^(json|binary|avro|jsonschema|protobuf)$/i;
/** Padded standard base64 (codecs/json-record.ts isBase64 accepts exactly this). */
export const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
/** Positions in an SSE event id: `partition:offset` pairs joined by commas (`0:43,1:7`); empty is none. */
const POSITION = `${decimalAtMost(BigInt(INT32_MAX), 10)}:${decimalAtMost(INT64_MAX, 19)}`;
export const EVENT_ID = exactly(`(?:${POSITION}(?:,${POSITION})*)?`);
/** SSE `from`: earliest | latest | ts:<ms> | positions (an event id). */
export const SSE_FROM = exactly(`earliest|latest|ts:[0-9]{1,15}|(?:${POSITION}(?:,${POSITION})*)?`);
/** SSE `partitions`: comma-separated int32s. */
export const PARTITION_LIST = exactly(`(?:${decimalAtMost(BigInt(INT32_MAX), 10)}(?:,${decimalAtMost(BigInt(INT32_MAX), 10)})*)?`);
/**
 * An MQTT topic filter over record keys: levels split by `/`, `+` a whole level, `#` only as the
 * whole last level [MQTT-5:4.7.1-1/-2]. Each level is `+` or has neither wildcard, so the
 * alternatives never overlap: linear matching. No NUL [MQTT-5:4.7.3-1]; non-empty (minLength 1
 * beside it). The core's validateMqttFilter (gateway/hub/filters.ts) decides; this says the same.
 */
export const MQTT_FILTER = /^(?:#|(?:\+|[^/+#\u0000]*)(?:\/(?:\+|[^/+#\u0000]*))*(?:\/#)?)$/;

/** A non-negative int32 given as a JSON number or its decimal string (codecs/json-record.ts partitionOf). */
const partitionJson = z.union([z.int().min(0).max(INT32_MAX), z.string().regex(PARTITION_TEXT)]).describe('A partition: a non-negative int32, or its decimal string.');
/** An offset given as a JSON number (exact: at most 2^53 − 1) or a decimal string up to int64 (gateway/record.ts parseOffset). */
const offsetJson = z.union([z.int().min(0).max(SAFE_MAX), z.string().regex(OFFSET_TEXT)]).describe('An offset: a non-negative integer, or its decimal string (up to 2^63 − 1).');
const topicName = z.string().regex(TOPIC_NAME).describe("A Kafka topic name: 1–249 characters of a-z A-Z 0-9 . _ -, not '.' or '..'.");

// ---------------------------------------------------------------------------------------------
// Parameters (path and query values are text on the wire; these are their documented types)

/** Path and query parameters. */
export const params = {
  topic: topicName,
  /** v2: a path partition JAX-RS converts as an int (not one: 404); v1 the same range (not one: 422). */
  partition: z.int().min(0).max(INT32_MAX),
  group: z.string().min(1).describe('A consumer group name (any text; percent-encode it in the path).'),
  instance: z.string().min(1).describe('A consumer instance name (the instance_id of its creation).'),
  /** v2 `timeout` and `max_bytes`: a Java long as JAX-RS converts it (not one: 404), within ±(2^53 − 1); ≤ 0 means the default. */
  v2Long: z.int().min(-SAFE_MAX).max(SAFE_MAX),
  /** v1 `max`, `timeout_ms`, `max_bytes`: non-negative integers of at most 15 digits. */
  v1Count: z.int().min(0).max(999_999_999_999_999),
  v1Offset: z.string().regex(exactly(`${decimalAtMost(INT64_MAX, 19)}|earliest|latest`)).describe('The first offset to read (decimal, up to 2^63 − 1), or earliest / latest.'),
  sseFrom: z.string().regex(SSE_FROM).describe('earliest | latest (default) | ts:<ms> | positions "0:43,1:7" (an event id)'),
  eventId: z.string().regex(EVENT_ID).describe('An event id this stream sent: the positions to resume from ("0:43,1:7"); empty is ignored.'),
  mqttFilter: z.string().min(1).regex(MQTT_FILTER).describe('An MQTT-style filter over the key (+ one level, # the rest)'),
  partitionList: z.string().regex(PARTITION_LIST).describe('Comma-separated partitions (empty: all)'),
  text: z.string(),
} as const;

/**
 * A query value of an integer parameter, strictly: decimal digits (a leading `-` where the schema
 * allows negatives) whose value the schema accepts; `undefined` when absent or empty.
 */
export function queryInteger(raw: string | null, schema: z.ZodNumber, onInvalid: () => Error): number | undefined {
  if (raw === null || raw === '') return undefined;
  if (!/^-?[0-9]{1,16}$/.test(raw)) throw onInvalid();
  const parsed = schema.safeParse(Number(raw));
  if (!parsed.success) throw onInvalid();
  return parsed.data;
}

// ---------------------------------------------------------------------------------------------
// Request bodies

const nullable = <T extends z.ZodType>(schema: T) => schema.nullable().optional();

/** Components of the document, by name (rendered under #/components/schemas). */
export const registry = z.registry<{ id: string }>();
const named = <T extends z.ZodType>(id: string, schema: T): T => {
  registry.add(schema, { id });
  return schema;
};

/** kafka-rest's schema fields: streamgate has no schema registry, so any value is ignored. */
const IGNORED_SCHEMA_FIELDS = Object.fromEntries(
  ['key_schema', 'key_schema_id', 'value_schema', 'value_schema_id'].map((f) => [f, z.unknown().optional().describe('Ignored (no schema registry)')]),
);

/** A v2 produce body in the json embedded format: keys and values are any JSON. */
export const ProduceJsonRequest = named(
  'ProduceJsonRequest',
  z
    .object({
      records: z
        .array(
          z.object({
            key: z.unknown().optional().describe('Any JSON; a string key is stored as its UTF-8 text. null or absent: no key.'),
            value: z.unknown().optional().describe('Any JSON, stored as the exact text sent (at most 256 levels deep).'),
            partition: nullable(partitionJson),
          }),
        )
        .min(1),
      ...IGNORED_SCHEMA_FIELDS,
    })
    .describe('Confluent ProduceRequest, json embedded format (Content-Type application/vnd.kafka.json.v2+json). Schema fields are ignored (no schema registry).'),
);

/** A v2 produce body in the binary embedded format: keys and values are base64. */
export const ProduceBinaryRequest = named(
  'ProduceBinaryRequest',
  z
    .object({
      records: z
        .array(
          z.object({
            key: nullable(z.string().regex(BASE64)).describe('base64; null or absent: no key'),
            value: nullable(z.string().regex(BASE64)).describe('base64; null or absent: a null value'),
            partition: nullable(partitionJson),
          }),
        )
        .min(1),
      ...IGNORED_SCHEMA_FIELDS,
    })
    .describe('Confluent ProduceRequest, binary embedded format (application/vnd.kafka.binary.v2+json; also application/vnd.kafka.v2+json, application/vnd.kafka+json and application/json).'),
);

/** `POST /consumers/{group}` (kafka-rest CreateConsumerInstanceRequest). */
export const CreateConsumerRequest = named(
  'CreateConsumerRequest',
  z
    .object({
      name: nullable(z.string().regex(INSTANCE_NAME)),
      id: nullable(z.string().regex(INSTANCE_NAME)).describe('Legacy name; overrides name (kafka-rest)'),
      format: nullable(z.string().regex(CONSUMER_FORMAT)).describe('json, binary, avro, jsonschema or protobuf, any case (default binary); the schema formats decode records in the Confluent wire format to JSON'),
      'auto.offset.reset': nullable(z.enum(['earliest', 'latest', 'smallest', 'largest'])),
      'auto.commit.enable': nullable(z.union([z.boolean(), z.string().regex(KAFKA_BOOLEAN)])),
      'consumer.request.timeout.ms': nullable(z.union([z.int().min(0).max(SAFE_MAX), z.string().regex(/^[0-9]{1,15}$/)])),
      requestWaitMs: nullable(z.union([z.int().min(0).max(SAFE_MAX), z.string().regex(/^[0-9]{1,15}$/)])).describe('Alias of consumer.request.timeout.ms (kafka-rest); the first wins'),
    })
    .describe('No body at all is every field at its default.'),
);

const topicPartition = z.object({ topic: topicName, partition: partitionJson });
/** The create body as sent: JSON `null` is no body (JAX-RS hands the resource a null entity). */
export const CreateConsumerBody = named('CreateConsumerBody', CreateConsumerRequest.nullable());

/** `{"partitions":[{topic, partition}]}` (assignments, seek to beginning/end, committed offsets). */
export const PartitionsRequest = named('PartitionsRequest', z.object({ partitions: z.array(topicPartition) }));
/** `{"offsets":[{topic, partition, offset}]}` (seek, commit). */
export const OffsetsRequest = named('OffsetsRequest', z.object({ offsets: z.array(z.object({ topic: topicName, partition: partitionJson, offset: offsetJson })) }));
/** A commit: no body, or no `offsets`, commits everything returned so far. */
export const CommitRequest = named('CommitRequest', z.object({ offsets: z.array(z.object({ topic: topicName, partition: partitionJson, offset: offsetJson })).optional() }));
/** `POST …/subscription`: `topics` (wins when both are given) or `topic_pattern` (a regular expression, RE2 syntax). */
export const SubscriptionRequest = named(
  'SubscriptionRequest',
  z.object({
    topics: nullable(z.array(topicName)).describe('An empty list unsubscribes'),
    topic_pattern: nullable(z.string().max(MAX_TOPIC_PATTERN_LENGTH)).describe(`A regular expression every topic name must match whole (RE2 syntax, at most ${MAX_TOPIC_PATTERN_LENGTH} characters)`),
  }),
);

function base64When(field: string, properties: Record<string, object>): object {
  return { if: { properties: { [field]: { const: 'base64' } }, required: [field] }, then: { properties } };
}

/**
 * Record headers as written: an ordered array in which names may repeat (the shape Confluent REST
 * v3 and the Strimzi bridge use), or an object for unique names (codecs/json-record.ts).
 */
const headersIn = z.union([
  z.array(z.strictObject({ name: z.string(), value: z.string().nullable().describe('null is stored as empty bytes') })).describe('In order; a name may repeat'),
  z.record(z.string(), z.string()).describe('name → value, one value per name (a repeated member is refused)'),
]);

/** One record of a native v1 produce. */
const nativeRecord = z
  .object({
    key: nullable(z.string()).describe('UTF-8 text, or base64 with "keyEncoding":"base64"'),
    keyEncoding: nullable(z.literal('base64')),
    value: z.unknown().optional().describe('Any JSON, stored as the exact text sent; or base64 text with "encoding":"base64".'),
    encoding: nullable(z.enum(['json', 'base64'])),
    headers: nullable(headersIn).describe('Values are UTF-8 text, or base64 with "headersEncoding":"base64"'),
    headersEncoding: nullable(z.literal('base64')),
    partition: nullable(partitionJson),
    timestamp: nullable(z.int().min(0).max(SAFE_MAX)),
  })
  .describe('With keyEncoding / encoding / headersEncoding "base64" the key / value / header values must be base64 text.')
  // The encodings change what the other fields may hold: JSON Schema's if/then, which zod does not generate.
  .meta({
    allOf: [
      base64When('keyEncoding', { key: { anyOf: [{ type: 'string', pattern: BASE64.source }, { type: 'null' }] } }),
      base64When('encoding', { value: { anyOf: [{ type: 'string', pattern: BASE64.source }, { type: 'null' }] } }),
      base64When('headersEncoding', {
        headers: {
          anyOf: [
            { type: 'array', items: { type: 'object', properties: { value: { anyOf: [{ type: 'string', pattern: BASE64.source }, { type: 'null' }] } } } },
            { type: 'object', additionalProperties: { type: 'string', pattern: BASE64.source } },
            { type: 'null' },
          ],
        },
      }),
    ],
  });
export const NativeProduceRequest = named('NativeProduceRequest', z.object({ records: z.array(nativeRecord).min(1) }));

// ---------------------------------------------------------------------------------------------
// Responses

const decimal = z.string().regex(/^[0-9]+$/);
export const ErrorBody = named(
  'Error',
  z.object({
    error_code: z.int(),
    message: z.string(),
    code: z.string().optional().describe('/v1 only: the catalogue name (gateway/errors.ts)'),
    details: z.record(z.string(), z.unknown()).optional().describe('/v1 only'),
  }),
);
const replica = z.object({ broker: z.int(), leader: z.boolean(), in_sync: z.boolean() });
export const PartitionMetadata = named('PartitionMetadata', z.object({ partition: z.int(), leader: z.int(), replicas: z.array(replica) }));
export const TopicMetadata = named('TopicMetadata', z.object({ name: z.string(), configs: z.record(z.string(), z.string()), partitions: z.array(PartitionMetadata) }));
export const PartitionOffsets = named('PartitionOffsets', z.object({ beginning_offset: z.int(), end_offset: z.int() }));
export const ProduceResponse = named(
  'ProduceResponse',
  z.object({
    key_schema_id: z.int().nullable(),
    value_schema_id: z.int().nullable(),
    offsets: z.array(
      z.object({
        partition: z.int().nullable(),
        offset: z.int().nullable(),
        error_code: z.int().nullable().describe('40101 authentication, 40301 authorization, 50003 retriable, 50002 other (partition and offset are null then)'),
        error: z.string().nullable(),
      }),
    ),
  }),
);
export const CreateConsumerResponse = named('CreateConsumerResponse', z.object({ instance_id: z.string(), base_uri: z.string() }));
export const Partitions = named('Partitions', z.object({ partitions: z.array(z.object({ topic: z.string(), partition: z.int() })) }));
export const CommittedOffsets = named('CommittedOffsets', z.object({ offsets: z.array(z.object({ topic: z.string(), partition: z.int(), offset: z.int(), metadata: z.string() })) }));
export const SubscribedTopics = named('SubscribedTopics', z.object({ topics: z.array(z.string()) }));
export const ConsumerRecords = named(
  'ConsumerRecords',
  z.array(z.object({ topic: z.string(), key: z.unknown().describe('json: JSON; binary: base64 or null; avro / jsonschema / protobuf: the decoded JSON or null'), value: z.unknown(), partition: z.int(), offset: z.int() })),
);
/** The native JSON record (codecs/json-record.ts), as v1 fetch and SSE serve it. */
export const NativeRecord = named(
  'NativeRecord',
  z.object({
    topic: z.string().optional(),
    partition: z.int(),
    offset: decimal,
    timestamp: z.int(),
    key: z.string().nullable(),
    keyEncoding: z.literal('base64').optional(),
    value: z.unknown().describe('The stored JSON text verbatim, or base64 text with "encoding":"base64" when the bytes are not JSON (or nest deeper than 256 levels).'),
    encoding: z.literal('base64').optional(),
    headers: z
      .array(named('RecordHeader', z.object({ name: z.string(), value: z.string() })))
      .describe('In the record\'s order; a name may repeat (as in Kafka). Values are UTF-8 text, or all base64 with "headersEncoding":"base64".'),
    headersEncoding: z.literal('base64').optional(),
  }),
);
export const NativeProduceResponse = named(
  'NativeProduceResponse',
  z.object({
    topic: z.string(),
    offsets: z.array(
      z.object({
        partition: z.int().nullable(),
        offset: decimal.nullable(),
        timestamp: z.int().optional(),
        error_code: z.int().optional(),
        code: z.string().optional(),
        error: z.string().optional(),
      }),
    ),
  }),
);
export const NativeFetchResponse = named(
  'NativeFetchResponse',
  z.object({ topic: z.string(), partition: z.int(), records: z.array(NativeRecord), next_offset: decimal, earliest: decimal, latest: decimal }),
);
export const NativeOffsets = named('NativeOffsets', z.object({ topic: z.string(), partitions: z.array(z.object({ partition: z.int(), earliest: decimal, latest: decimal })) }));
export const NativeTopics = named('NativeTopics', z.object({ topics: z.array(z.object({ name: z.string(), partitions: z.int() })) }));
export const Status = named('Status', z.object({ status: z.string() }));

// Operator endpoints (the console's data; gateway/connections.ts, codecs/operator.ts)
export const WhoAmI = named(
  'WhoAmI',
  z
    .object({
      principal: z.string(),
      anonymous: z.boolean(),
      operator: z.boolean().describe('Holds admin: ["*"] (or no authentication is configured): may read /v1/admin/* and the live metrics'),
      writes: z.boolean().describe('Holds some write or admin grant'),
    })
    .describe('The caller, as the gateway authenticated it, and what the operator console offers it'),
);
export const Connections = named(
  'Connections',
  z.object({
    at: z.int().describe('Unix ms of the snapshot'),
    protocols: z.array(z.object({ protocol: z.string(), open: z.int(), openedTotal: z.int().describe('Accepted since start: a rate is the difference of two snapshots') })),
    principals: z
      .array(
        z.object({
          principal: z.string(),
          connections: z.record(z.string(), z.int()).describe('Open identified connections (WebSocket, MQTT) by protocol'),
          recordsIn: z.int().describe('Records produced, every protocol, since start'),
          recordsOut: z.int().describe('Records delivered to its subscriptions, every protocol, since start'),
          lastSeen: z.int(),
        }),
      )
      .describe('Top principals by traffic (records in + out), then open connections; at most 100'),
    principalsTracked: z.int(),
  }),
);
const viewList = <T extends z.ZodType>(item: T) => z.object({ total: z.int(), truncated: z.boolean(), items: z.array(item).describe('At most 500') });
export const MqttView = named(
  'MqttView',
  z.object({
    sessions: viewList(
      z.object({
        clientId: z.string(),
        connected: z.boolean(),
        principal: z.string().nullable(),
        expiry: z.int().describe('Session Expiry Interval (s)'),
        expiresAt: z.int().nullable(),
        subscriptions: z.array(z.object({ filter: z.string(), qos: z.int(), share: z.string().nullable() })),
        pending: z.int().describe('QoS 1/2 deliveries the client has not completed'),
      }),
    ),
    retained: viewList(z.object({ topic: z.string(), qos: z.int(), bytes: z.int(), storedAt: z.int(), payload: z.string().describe('Base64 of the first 1024 bytes') })),
  }),
);
export const Brokers = named('Brokers', z.object({ brokers: z.array(z.int()) }));
export const TopicNames = named('TopicNames', z.array(z.string()));

/**
 * One event of the SSE stream as an SSE parser yields it (WHATWG HTML §9.2.6: `event` is
 * `message` when the block has no `event:` field; `data` is the text): records are `message`
 * events whose data is a NativeRecord with `topic`; the control events are named.
 */
export const SseEvent = named(
  'SseEvent',
  z.discriminatedUnion('event', [
    z.object({ event: z.literal('message'), id: z.string().regex(EVENT_ID), data: z.string().meta({ contentMediaType: 'application/json', contentSchema: { $ref: '#/components/schemas/NativeRecord' } }), retry: z.int().optional() }),
    z.object({ event: z.literal('subscribed'), id: z.string().regex(EVENT_ID), data: z.string().meta({ contentMediaType: 'application/json', description: '{"topic": name, "positions": {partition: next offset as a decimal string}}' }), retry: z.int().optional() }),
    z.object({ event: z.literal('continuity-lost'), id: z.string().regex(EVENT_ID), data: z.string().meta({ contentMediaType: 'application/json', description: '{"partition", "requested", "actual", "reason"}: the requested position no longer exists' }), retry: z.int().optional() }),
    z.object({ event: z.literal('error'), id: z.string().regex(EVENT_ID).optional(), data: z.string().meta({ contentMediaType: 'application/json', contentSchema: { $ref: '#/components/schemas/Error' } }), retry: z.int().optional() }),
  ]),
);
