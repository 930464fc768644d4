/**
 * The OpenAPI 3.1 description of every route this adapter serves (`GET /openapi.json`), rendered
 * from the zod schemas the routes validate with (schemas.ts): parameters, bodies, responses and
 * the SSE events, in JSON Schema 2020-12 (OpenAPI 3.1 §4.8.24). Every status a route can answer
 * is listed with its body and Content-Type; scripts/schemathesis.sh fuzzes the server against it.
 */
import { z } from 'zod';
import { MEDIA } from './codec.js';
import * as S from './schemas.js';
import * as V3 from './schemas-v3.js';

type Json = Record<string, unknown>;

/** A zod schema as an inline JSON Schema (no `$schema`; registered components by `$ref`). */
function jsonSchema(schema: z.ZodType): Json {
  const out = z.toJSONSchema(schema, { target: 'draft-2020-12', io: 'input' }) as Json;
  delete out.$schema;
  return out;
}
function ref(id: string): string {
  return `#/components/schemas/${id}`;
}
const $ref = (schema: z.ZodType): Json => ({ $ref: ref(S.registry.get(schema)!.id) });

function components(): Record<string, Json> {
  const { schemas } = z.toJSONSchema(S.registry, { target: 'draft-2020-12', io: 'input', uri: ref }) as { schemas: Record<string, Json> };
  for (const s of Object.values(schemas)) {
    delete s.$schema;
    delete s.$id;
  }
  return schemas;
}

// ---------------------------------------------------------------------------------------------
// Errors: which statuses carry which Content-Type

/**
 * v2 error Content-Types by status (errors.ts v2ErrorMediaType): rest-utils answers 422s and
 * Kafka-level failures (40002, 40101, 40301, 42901, 50002, 50003, 50302) as application/json,
 * every other refusal as application/vnd.kafka.v2+json. 400 is both (40002 vs a JSON mapping
 * error), 429 both (42901 vs 42902), 503 both (50302 vs 50301/50303).
 */
const V2_ERROR_MEDIA: Record<number, readonly string[]> = {
  400: [MEDIA.v2, MEDIA.native],
  401: [MEDIA.native],
  403: [MEDIA.native],
  422: [MEDIA.native],
  429: [MEDIA.native, MEDIA.v2],
  500: [MEDIA.native],
  503: [MEDIA.native, MEDIA.v2],
};

const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Malformed JSON or JSON of the wrong type (400), an illegal topic name (40002), a path that is not valid percent-encoding (400)',
  401: 'Authentication required or failed (40101)',
  403: 'Not permitted by the grants (40301)',
  404: 'Topic (40401), partition (40402) or consumer instance (40403) not found; a path or number JAX-RS would not convert (404)',
  406: 'Records requested in another format than the consumer instance has (40601)',
  409: 'The consumer instance exists (40902), or its state forbids the request (40903)',
  413: 'Body over rest.maxBodyBytes (413), or a record / batch over the limits (41301)',
  415: 'Unsupported Content-Type (415)',
  416: 'An offset outside the log (41601; details: earliest, latest)',
  422: 'A value the request may not carry (422, 42201 key, 42202 value, 42204 consumer configuration)',
  429: 'A limit or quota (42901; the SSE stream: 42902 slow consumer)',
  500: 'Internal error or timeout (50002, 50003)',
  501: 'Not implemented for manually assigned partitions (501)',
  503: 'Backend unavailable (50302), shutting down (50301), instance at its connection limit (50303)',
};

function errorResponses(statuses: readonly number[], native: boolean, overrides: Record<number, string>): Record<string, Json> {
  return Object.fromEntries(
    statuses.map((status) => {
      const types = native ? [MEDIA.native] : (V2_ERROR_MEDIA[status] ?? [MEDIA.v2]);
      return [String(status), { description: overrides[status] ?? ERROR_DESCRIPTIONS[status] ?? 'Error', content: Object.fromEntries(types.map((t) => [t, { schema: $ref(S.ErrorBody) }])) }];
    }),
  );
}

// ---------------------------------------------------------------------------------------------
// Operations

interface Param {
  readonly name: string;
  readonly in: 'path' | 'query' | 'header';
  readonly schema: z.ZodType;
  readonly required?: boolean;
  readonly description?: string;
}

interface Op {
  readonly operationId: string;
  readonly summary: string;
  readonly params?: readonly Param[];
  readonly body?: { readonly content: Record<string, z.ZodType>; readonly required: boolean };
  readonly ok: { readonly status: number; readonly description?: string; readonly content?: Record<string, Json>; readonly links?: Json };
  readonly errors: readonly number[];
  readonly errorDescriptions?: Record<number, string>;
  /** Native v1 errors: application/json with `code` and `details`. */
  readonly native?: boolean;
  readonly public?: boolean;
}

const path = (name: string, schema: z.ZodType, description?: string): Param => ({ name, in: 'path', schema, required: true, ...(description === undefined ? {} : { description }) });
const query = (name: string, schema: z.ZodType, description?: string, required = false): Param => ({ name, in: 'query', schema, required, ...(description === undefined ? {} : { description }) });
const topic = path('topic', S.params.topic);
const partition = path('partition', S.params.partition);
const instance = [path('group', S.params.group), path('instance', S.params.instance)];
const idempotency: Param = {
  name: 'Idempotency-Key',
  in: 'header',
  schema: S.params.text,
  description: 'A retried produce with the same key (per principal, within the configured window) returns the original offsets instead of writing again.',
};

const json = (schema: z.ZodType, type: string = MEDIA.v2): Record<string, Json> => ({ [type]: { schema: $ref(schema) } });
const v2Produce = { content: { [MEDIA.json]: S.ProduceJsonRequest, [MEDIA.binary]: S.ProduceBinaryRequest, [MEDIA.v2]: S.ProduceBinaryRequest, [MEDIA.native]: S.ProduceBinaryRequest }, required: true };
const v2Json = (schema: z.ZodType, required: boolean) => ({ content: { [MEDIA.v2]: schema, [MEDIA.native]: schema }, required });

/** Who may follow a created consumer instance: every instance operation, by its instance_id. */
const INSTANCE_OPERATIONS = [
  'deleteConsumer',
  'subscribe',
  'getSubscription',
  'unsubscribe',
  'assign',
  'getAssignments',
  'seek',
  'seekToBeginning',
  'seekToEnd',
  'getRecords',
  'commitOffsets',
  'getCommittedOffsets',
];
const instanceLinks = Object.fromEntries(
  INSTANCE_OPERATIONS.map((operationId) => [operationId, { operationId, parameters: { group: '$request.path.group', instance: '$response.body#/instance_id' } }]),
);

/** Links within an instance's life: the same instance (and for a seek, the partitions just assigned). */
const sameInstance = (targets: readonly string[], extra: Record<string, Json> = {}): Json =>
  Object.fromEntries(targets.map((operationId) => [operationId, { operationId, parameters: { group: '$request.path.group', instance: '$request.path.instance' }, ...(extra[operationId] ?? {}) }]));
const subscribedLinks = sameInstance(['getSubscription', 'getRecords', 'commitOffsets', 'unsubscribe', 'deleteConsumer']);
const assignedLinks = sameInstance(['getAssignments', 'getRecords', 'seekToBeginning', 'seekToEnd', 'deleteConsumer'], {
  seekToBeginning: { requestBody: '$request.body' },
  seekToEnd: { requestBody: '$request.body' },
});

const TOPIC_READ = [400, 401, 403, 404, 429, 500, 503];
const INSTANCE_READ = [400, 401, 404, 429, 500, 503];
const INSTANCE_WRITE = [400, 401, 403, 404, 409, 413, 415, 422, 429, 500, 503];

const OPERATIONS: Record<string, Partial<Record<'get' | 'post' | 'delete', Op>>> = {
  '/healthz': { get: { operationId: 'healthz', summary: 'Liveness: 200 while the process runs', public: true, ok: { status: 200, content: json(S.Status, MEDIA.native) }, errors: [] } },
  '/readyz': {
    get: {
      operationId: 'readyz',
      summary: 'Readiness: 200 while the backend answers, else 503',
      public: true,
      ok: { status: 200, content: json(S.Status, MEDIA.native) },
      errors: [],
    },
  },
  '/openapi.json': { get: { operationId: 'openapi', summary: 'This document', public: true, ok: { status: 200, content: { [MEDIA.native]: { schema: { type: 'object' } } } }, errors: [] } },
  '/topics': { get: { operationId: 'listTopics', summary: 'List topic names', ok: { status: 200, content: json(S.TopicNames) }, errors: [401, 429, 500, 503] } },
  '/brokers': { get: { operationId: 'listBrokers', summary: 'Broker ids: the gateway is the one broker, 0', ok: { status: 200, content: json(S.Brokers) }, errors: [401, 429] } },
  '/topics/{topic}': {
    get: { operationId: 'getTopic', summary: 'Topic metadata', params: [topic], ok: { status: 200, content: json(S.TopicMetadata) }, errors: TOPIC_READ },
    post: {
      operationId: 'produce',
      summary: 'Produce records (keys and partitions per record); answered after the backend acknowledged',
      params: [topic, idempotency],
      body: v2Produce,
      ok: { status: 200, content: json(S.ProduceResponse) },
      errors: [400, 401, 403, 404, 413, 415, 422, 429, 500, 503],
      errorDescriptions: { 404: 'Topic not found with auto-creation off (40401), or a record names a partition the topic does not have (40402)' },
    },
  },
  '/topics/{topic}/partitions': {
    get: { operationId: 'listPartitions', summary: 'Partitions of a topic', params: [topic], ok: { status: 200, content: { [MEDIA.v2]: { schema: { type: 'array', items: $ref(S.PartitionMetadata) } } } }, errors: TOPIC_READ },
  },
  '/topics/{topic}/partitions/{partition}': {
    get: { operationId: 'getPartition', summary: 'One partition', params: [topic, partition], ok: { status: 200, content: json(S.PartitionMetadata) }, errors: TOPIC_READ },
    post: {
      operationId: 'produceToPartition',
      summary: 'Produce records to one partition (a record naming another partition is refused, 422)',
      params: [topic, partition, idempotency],
      body: v2Produce,
      ok: { status: 200, content: json(S.ProduceResponse) },
      errors: [400, 401, 403, 404, 413, 415, 422, 429, 500, 503],
    },
  },
  '/topics/{topic}/partitions/{partition}/offsets': {
    get: { operationId: 'getPartitionOffsets', summary: 'First and next offset of a partition', params: [topic, partition], ok: { status: 200, content: json(S.PartitionOffsets) }, errors: TOPIC_READ },
  },
  '/consumers/{group}': {
    post: {
      operationId: 'createConsumer',
      summary: 'Create a consumer instance in the group',
      params: [path('group', S.params.group)],
      body: v2Json(S.CreateConsumerBody, false),
      ok: { status: 200, content: json(S.CreateConsumerResponse), links: instanceLinks },
      errors: [400, 401, 403, 409, 413, 415, 422, 429, 500, 503],
    },
  },
  '/consumers/{group}/instances/{instance}': {
    delete: { operationId: 'deleteConsumer', summary: 'Delete the instance (commits returned records when auto-commit is on) and leave the group', params: instance, ok: { status: 204 }, errors: INSTANCE_READ },
  },
  '/consumers/{group}/instances/{instance}/subscription': {
    post: {
      operationId: 'subscribe',
      summary: 'Subscribe to topics or a topic pattern (replaces a prior subscription)',
      params: instance,
      body: v2Json(S.SubscriptionRequest, true),
      ok: { status: 204, links: subscribedLinks },
      errors: INSTANCE_WRITE,
      errorDescriptions: { 422: 'No body (422), or a topic_pattern that is not a valid RE2 expression or too complex (422)' },
    },
    get: { operationId: 'getSubscription', summary: 'Subscribed topics', params: instance, ok: { status: 200, content: json(S.SubscribedTopics) }, errors: INSTANCE_READ },
    delete: { operationId: 'unsubscribe', summary: 'Unsubscribe', params: instance, ok: { status: 204 }, errors: INSTANCE_READ },
  },
  '/consumers/{group}/instances/{instance}/assignments': {
    post: { operationId: 'assign', summary: 'Assign partitions manually', params: instance, body: v2Json(S.PartitionsRequest, true), ok: { status: 204, links: assignedLinks }, errors: INSTANCE_WRITE },
    get: { operationId: 'getAssignments', summary: 'Current assignment', params: instance, ok: { status: 200, content: json(S.Partitions) }, errors: INSTANCE_READ },
  },
  '/consumers/{group}/instances/{instance}/positions': {
    post: { operationId: 'seek', summary: 'Seek to offsets', params: instance, body: v2Json(S.OffsetsRequest, true), ok: { status: 204 }, errors: [...INSTANCE_WRITE, 416].sort() },
  },
  '/consumers/{group}/instances/{instance}/positions/beginning': {
    post: { operationId: 'seekToBeginning', summary: 'Seek to the first offset', params: instance, body: v2Json(S.PartitionsRequest, true), ok: { status: 204 }, errors: INSTANCE_WRITE },
  },
  '/consumers/{group}/instances/{instance}/positions/end': {
    post: { operationId: 'seekToEnd', summary: 'Seek to the log end', params: instance, body: v2Json(S.PartitionsRequest, true), ok: { status: 204 }, errors: INSTANCE_WRITE },
  },
  '/consumers/{group}/instances/{instance}/records': {
    get: {
      operationId: 'getRecords',
      summary: 'Next records; an Accept of a specific embedded format must match the instance format',
      params: [
        ...instance,
        query('timeout', S.params.v2Long, "Long-poll wait in ms, at most the instance's consumer.request.timeout.ms (rest.consumerRequestTimeoutMs by default), which is also the wait when ≤ 0 or absent"),
        query('max_bytes', S.params.v2Long, '≤ 0 or absent: rest.consumerRequestMaxBytes'),
      ],
      ok: { status: 200, content: Object.fromEntries([MEDIA.json, MEDIA.binary, MEDIA.avro, MEDIA.jsonschema, MEDIA.protobuf].map((m) => [m, { schema: $ref(S.ConsumerRecords) }])) },
      errors: [400, 401, 403, 404, 406, 409, 422, 429, 500, 503],
      errorDescriptions: {
        422: 'A stored key or value the json format cannot render (42201 / 42202); the instance is rewound to it',
        500: 'avro / jsonschema / protobuf: a record not in the Confluent wire format of a registered schema of that type, or that does not decode (50002); the instance is rewound to it: seek past it to go on',
      },
    },
  },
  '/consumers/{group}/instances/{instance}/offsets': {
    post: {
      operationId: 'commitOffsets',
      summary: 'Commit offsets (body offset = last record processed; the group stores offset + 1). No body: everything returned so far.',
      params: instance,
      body: v2Json(S.CommitRequest, false),
      ok: { status: 200, content: { [MEDIA.v2]: { schema: { type: 'array', maxItems: 0, description: "kafka-rest's CommitOffsetsResponse: always empty" } } } },
      errors: [...INSTANCE_WRITE, 416, 501].sort(),
    },
    get: {
      operationId: 'getCommittedOffsets',
      summary: 'Committed offsets of the given partitions (the body names them; none: 40402)',
      params: instance,
      body: v2Json(S.PartitionsRequest, false),
      ok: { status: 200, content: json(S.CommittedOffsets) },
      errors: [400, 401, 404, 409, 413, 415, 422, 429, 500, 501, 503],
    },
  },
  '/v1/topics': { get: { operationId: 'nativeListTopics', summary: 'Topics with partition counts', native: true, ok: { status: 200, content: json(S.NativeTopics, MEDIA.native) }, errors: [401, 429, 500, 503] } },
  '/v1/topics/{topic}/records': {
    post: {
      operationId: 'nativeProduce',
      summary: 'Produce (native): JSON values, or base64 with "encoding":"base64"; offsets as decimal strings',
      native: true,
      params: [topic, query('partition', S.params.partition, 'Write every record to this partition'), idempotency],
      body: { content: { [MEDIA.native]: S.NativeProduceRequest }, required: true },
      ok: { status: 200, content: json(S.NativeProduceResponse, MEDIA.native) },
      errors: [400, 401, 403, 404, 413, 415, 422, 429, 500, 503],
    },
  },
  '/v1/topics/{topic}/partitions/{partition}/records': {
    get: {
      operationId: 'nativeFetch',
      summary: 'Fetch from an offset (stateless)',
      native: true,
      params: [
        topic,
        partition,
        query('offset', S.params.v1Offset, undefined, true),
        query('max', S.params.v1Count, 'At most this many records (capped by rest.v1MaxRecords)'),
        query('timeout_ms', S.params.v1Count, 'Long-poll until a record arrives or this passes (capped by rest.maxPollWaitMs)'),
        query('max_bytes', S.params.v1Count),
      ],
      ok: { status: 200, content: json(S.NativeFetchResponse, MEDIA.native) },
      errors: [400, 401, 403, 404, 416, 422, 429, 500, 503],
    },
  },
  '/v1/topics/{topic}/offsets': {
    get: { operationId: 'nativeOffsets', summary: 'Earliest and latest offset per partition', native: true, params: [topic], ok: { status: 200, content: json(S.NativeOffsets, MEDIA.native) }, errors: TOPIC_READ },
  },
  '/v1/whoami': {
    get: { operationId: 'whoami', summary: 'The caller and what the operator console offers it (operator views, produce form)', native: true, ok: { status: 200, content: json(S.WhoAmI, MEDIA.native) }, errors: [401, 429, 500] },
  },
  '/v1/admin/connections': {
    get: {
      operationId: 'adminConnections',
      summary: 'Open connections by protocol and the top principals by traffic (needs admin: ["*"])',
      native: true,
      ok: { status: 200, content: json(S.Connections, MEDIA.native) },
      errors: [401, 403, 429, 500],
    },
  },
  '/v1/admin/mqtt': {
    get: {
      operationId: 'adminMqtt',
      summary: 'MQTT sessions with their subscriptions, and retained messages (needs admin: ["*"])',
      native: true,
      ok: { status: 200, content: json(S.MqttView, MEDIA.native) },
      errors: [401, 403, 404, 429, 500],
      errorDescriptions: { 404: 'The MQTT adapter does not run (40401)' },
    },
  },
  '/v1/topics/{topic}/events': {
    get: {
      operationId: 'events',
      summary: 'Server-Sent Events: records as default `message` events (no `event:` field), named control events `subscribed`, `continuity-lost`, `error`; id = next offset per partition',
      native: true,
      params: [
        topic,
        query('from', S.params.sseFrom),
        query('lastEventId', S.params.eventId, 'Same as the Last-Event-ID header (the header wins; either wins over from)'),
        { name: 'Last-Event-ID', in: 'header', schema: S.params.eventId },
        query('key', S.params.text, 'Exact key (repeatable)'),
        query('key_prefix', S.params.text),
        query('filter', S.params.mqttFilter),
        query('partitions', S.params.partitionList),
        query('access_token', S.params.text, 'For EventSource, which cannot set headers'),
      ],
      ok: { status: 200, description: 'An event stream, one event per record', content: { [MEDIA.sse]: { schema: $ref(S.SseEvent) } } },
      errors: [400, 401, 403, 404, 416, 422, 429, 500, 503],
    },
  },
};

// ---------------------------------------------------------------------------------------------
// Confluent v3 (routes-v3.ts, records-v3.ts): JSON bodies, errors application/json

const cluster = path('cluster_id', V3.v3Params.clusterId);
const v3Topic = path('topic_name', S.params.topic);
const v3Partition = path('partition_id', V3.v3Params.partitionId);
const v3Group = path('consumer_group_id', V3.v3Params.group);
const V3_READ = [400, 401, 404, 429, 500, 503];
const V3_TOPIC = [400, 401, 403, 404, 429, 500, 503];
const v3 = (schema: z.ZodType) => json(schema, MEDIA.native);
const v3Op = (op: Omit<Op, 'native'>): Op => ({ ...op, native: true });

/** Links from the cluster list to the cluster's operations, and from a created topic to its own. */
const clusterLinks = Object.fromEntries(
  ['getKafkaCluster', 'listKafkaTopics', 'createKafkaTopic', 'listKafkaConsumerGroups'].map((operationId) => [operationId, { operationId, parameters: { cluster_id: '$response.body#/data/0/cluster_id' } }]),
);
const topicLinks = Object.fromEntries(
  ['getKafkaTopic', 'listKafkaPartitions', 'listKafkaTopicConfigs', 'produceRecords', 'deleteKafkaTopic'].map((operationId) => [
    operationId,
    { operationId, parameters: { cluster_id: '$request.path.cluster_id', topic_name: '$response.body#/topic_name' } },
  ]),
);

const V3_OPERATIONS: Record<string, Partial<Record<'get' | 'post' | 'delete', Op>>> = {
  '/v3/clusters': { get: v3Op({ operationId: 'listKafkaClusters', summary: 'The one cluster the gateway stores in (KafkaClusterList)', ok: { status: 200, content: v3(V3.ClusterDataList), links: clusterLinks }, errors: [401, 429, 500, 503] }) },
  '/v3/clusters/{cluster_id}': { get: v3Op({ operationId: 'getKafkaCluster', summary: 'The cluster: Kafka\'s cluster id, or the embedded log\'s (stable per data dir)', params: [cluster], ok: { status: 200, content: v3(V3.ClusterData) }, errors: V3_READ }) },
  '/v3/clusters/{cluster_id}/topics': {
    get: v3Op({ operationId: 'listKafkaTopics', summary: 'Topics the principal may read (internal topics never)', params: [cluster], ok: { status: 200, content: v3(V3.TopicDataList) }, errors: V3_READ }),
    post: v3Op({
      operationId: 'createKafkaTopic',
      summary: 'Create a topic (admin grant): partitions_count, replication_factor, configs',
      params: [cluster],
      body: { content: { [MEDIA.native]: V3.CreateTopicRequest }, required: true },
      ok: { status: 201, content: v3(V3.TopicData), links: topicLinks },
      errors: [400, 401, 403, 404, 413, 415, 429, 500, 503],
      errorDescriptions: { 400: 'The topic exists, a replication factor the cluster cannot have, a topic name that is not legal, or a body the schema refuses (40002); malformed JSON (400)' },
    }),
  },
  '/v3/clusters/{cluster_id}/topics/{topic_name}': {
    get: v3Op({ operationId: 'getKafkaTopic', summary: 'One topic', params: [cluster, v3Topic], ok: { status: 200, content: v3(V3.TopicData) }, errors: V3_TOPIC }),
    delete: v3Op({ operationId: 'deleteKafkaTopic', summary: 'Delete a topic and its records (admin grant; never an internal topic)', params: [cluster, v3Topic], ok: { status: 204 }, errors: V3_TOPIC }),
  },
  '/v3/clusters/{cluster_id}/topics/{topic_name}/partitions': {
    get: v3Op({ operationId: 'listKafkaPartitions', summary: 'Partitions of a topic (leader links on Kafka)', params: [cluster, v3Topic], ok: { status: 200, content: v3(V3.PartitionDataList) }, errors: V3_TOPIC }),
  },
  '/v3/clusters/{cluster_id}/topics/{topic_name}/partitions/{partition_id}': {
    get: v3Op({ operationId: 'getKafkaPartition', summary: 'One partition', params: [cluster, v3Topic, v3Partition], ok: { status: 200, content: v3(V3.PartitionData) }, errors: V3_TOPIC }),
  },
  '/v3/clusters/{cluster_id}/topics/{topic_name}/configs': {
    get: v3Op({ operationId: 'listKafkaTopicConfigs', summary: 'Configs of a topic (Kafka: all; embedded: the ones it acts on)', params: [cluster, v3Topic], ok: { status: 200, content: v3(V3.TopicConfigDataList) }, errors: V3_TOPIC }),
  },
  '/v3/clusters/{cluster_id}/topics/{topic_name}/configs/{name}': {
    get: v3Op({ operationId: 'getKafkaTopicConfig', summary: 'One config of a topic', params: [cluster, v3Topic, path('name', V3.v3Params.configName)], ok: { status: 200, content: v3(V3.TopicConfigData) }, errors: V3_TOPIC }),
  },
  '/v3/clusters/{cluster_id}/topics/{topic_name}/records': {
    post: v3Op({
      operationId: 'produceRecords',
      summary: 'Produce one record, or stream several (concatenated JSON objects in a chunked body): one delivery report per record, in order, each with its own error_code',
      params: [cluster, v3Topic],
      body: { content: { [MEDIA.native]: V3.ProduceRecordRequest }, required: true },
      ok: { status: 200, content: v3(V3.ProduceReport) },
      errors: [400, 401, 404, 415, 429, 500, 503],
      errorDescriptions: { 400: 'An empty body (400), a topic name that is not legal (40002), or a path that is not valid percent-encoding (400); a record\'s own errors are in its report', 415: 'A Content-Type other than application/json (415)' },
    }),
  },
  '/v3/clusters/{cluster_id}/consumer-groups': {
    get: v3Op({ operationId: 'listKafkaConsumerGroups', summary: "Kafka's groups and the gateway's own (REST v2, gRPC, MQTT $share) the principal may use", params: [cluster], ok: { status: 200, content: v3(V3.ConsumerGroupDataList) }, errors: V3_READ }),
  },
  '/v3/clusters/{cluster_id}/consumer-groups/{consumer_group_id}': {
    get: v3Op({ operationId: 'getKafkaConsumerGroup', summary: 'One consumer group', params: [cluster, v3Group], ok: { status: 200, content: v3(V3.ConsumerGroupData) }, errors: [...V3_READ, 403].sort() }),
  },
  '/v3/clusters/{cluster_id}/consumer-groups/{consumer_group_id}/consumers': {
    get: v3Op({ operationId: 'listKafkaConsumers', summary: 'Members of a group', params: [cluster, v3Group], ok: { status: 200, content: v3(V3.ConsumerDataList) }, errors: [...V3_READ, 403].sort() }),
  },
  '/v3/clusters/{cluster_id}/consumer-groups/{consumer_group_id}/consumers/{consumer_id}': {
    get: v3Op({ operationId: 'getKafkaConsumer', summary: 'One member of a group', params: [cluster, v3Group, path('consumer_id', V3.v3Params.consumer)], ok: { status: 200, content: v3(V3.ConsumerData) }, errors: [...V3_READ, 403].sort() }),
  },
  '/v3/clusters/{cluster_id}/consumer-groups/{consumer_group_id}/lags': {
    get: v3Op({ operationId: 'listKafkaConsumerLags', summary: 'Lag (log end − committed) per committed partition of topics the principal may read', params: [cluster, v3Group], ok: { status: 200, content: v3(V3.ConsumerLagDataList) }, errors: [...V3_READ, 403].sort() }),
  },
  '/v3/clusters/{cluster_id}/consumer-groups/{consumer_group_id}/lags/{topic_name}/partitions/{partition_id}': {
    get: v3Op({ operationId: 'getKafkaConsumerLag', summary: 'Lag of one partition', params: [cluster, v3Group, v3Topic, v3Partition], ok: { status: 200, content: v3(V3.ConsumerLagData) }, errors: [...V3_READ, 403].sort() }),
  },
  '/v3/clusters/{cluster_id}/consumer-groups/{consumer_group_id}/lag-summary': {
    get: v3Op({ operationId: 'getKafkaConsumerGroupLagSummary', summary: 'Total and largest lag of a group', params: [cluster, v3Group], ok: { status: 200, content: v3(V3.ConsumerGroupLagSummaryData) }, errors: [...V3_READ, 403].sort() }),
  },
};

function renderOperation(op: Op): Json {
  const out: Json = { operationId: op.operationId, summary: op.summary };
  if (op.public === true) out.security = [];
  if (op.params !== undefined && op.params.length > 0) {
    out.parameters = op.params.map((p) => ({
      name: p.name,
      in: p.in,
      ...(p.required === true ? { required: true } : {}),
      ...(p.description === undefined ? {} : { description: p.description }),
      schema: jsonSchema(p.schema),
    }));
  }
  if (op.body !== undefined) {
    out.requestBody = { required: op.body.required, content: Object.fromEntries(Object.entries(op.body.content).map(([type, schema]) => [type, { schema: $ref(schema) }])) };
  }
  const ok: Json = { description: op.ok.description ?? (op.ok.status === 204 ? 'No Content' : 'OK') };
  if (op.ok.content !== undefined) ok.content = op.ok.content;
  if (op.ok.links !== undefined) ok.links = op.ok.links;
  const responses: Json = { [String(op.ok.status)]: ok, ...errorResponses(op.errors, op.native === true, op.errorDescriptions ?? {}) };
  if (op.operationId === 'readyz') responses['503'] = { description: 'Backend unreachable', content: json(S.Status, MEDIA.native) };
  out.responses = responses;
  return out;
}

/** Builds the document (once, at startup: the schemas are static). */
function buildDocument(): Json {
  return {
    openapi: '3.1.0',
    info: {
      title: 'streamgate REST API',
      version: '1.0.0',
      description:
        'Confluent REST Proxy v2 compatible API (/topics, /consumers), a Confluent v3 subset (/v3/clusters: topics, partitions, configs, consumer groups and lags, records with streaming produce), the native offset-based v1 API (/v1/topics) with Server-Sent Events, and health. Errors are {"error_code": N, "message": "…"} (plus "code" and "details" on /v1). A path exists with other methods than documented: 405 with Allow.',
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A JWT or an API key (also accepted as ?access_token= for EventSource).' } },
      schemas: components(),
    },
    security: [{}, { bearer: [] }],
    paths: Object.fromEntries(Object.entries({ ...OPERATIONS, ...V3_OPERATIONS }).map(([p, methods]) => [p, Object.fromEntries(Object.entries(methods).map(([m, op]) => [m, renderOperation(op)]))])),
  };
}

/** The document served at `/openapi.json`. */
export const openApiDocument: Readonly<Json> = buildDocument();
