/**
 * The Confluent v3 API's bodies (kafka-rest `api/v3/openapi.yaml` and its entities under
 * `io.confluent.kafkarest.entities.v3`), as zod schemas: the routes validate requests with them
 * (routes-v3.ts) and the OpenAPI document renders them (openapi.ts), so the two cannot disagree.
 * Registered in the same registry as schemas.ts, under kafka-rest's own names where it has them.
 */
import { z } from 'zod';
import { MAX_CREATE_PARTITIONS, TOPIC_CONFIGS } from '../../gateway/core.js';
import { BASE64, ErrorBody, TOPIC_NAME, registry } from './schemas.js';

const named = <T extends z.ZodType>(id: string, schema: T): T => {
  registry.add(schema, { id });
  return schema;
};

const INT32_MAX = 2 ** 31 - 1;
/** A JSON number the gateway renders exactly (offsets and lags: int64 in Kafka, at most 2^53 − 1 in practice). */
const long = z.int().min(0);

/** kafka-rest `Resource.Metadata`: where the resource is, and its CRN-like name. */
const resourceMetadata = z.object({ self: z.string(), resource_name: z.string().nullable() });
/** kafka-rest `ResourceCollection.Metadata`: lists are never paged here (`next` is always null, as kafka-rest's). */
const collectionMetadata = z.object({ self: z.string(), next: z.string().nullable() });
/** kafka-rest `Relationship`: a link to a related resource or collection. */
const related = z.object({ related: z.string() });

const list = <T extends z.ZodType>(kind: string, item: T) => z.object({ kind: z.literal(kind), metadata: collectionMetadata, data: z.array(item) });

// ---------------------------------------------------------------------------------------------
// Path parameters

/** Path parameters of the v3 routes. */
export const v3Params = {
  clusterId: z.string().min(1).describe('The cluster id (GET /v3/clusters lists it).'),
  /** A path partition as JAX-RS converts an `int`: not an int32 is no resource (404). */
  partitionId: z.int().min(0).max(INT32_MAX),
  configName: z.string().min(1),
  group: z.string().min(1).describe('A consumer group id (percent-encode it in the path).'),
  consumer: z.string().min(1),
} as const;

// ---------------------------------------------------------------------------------------------
// Requests

const topicName = z.string().regex(TOPIC_NAME);

/** One accepted topic config: its name and the values the core accepts (gateway/core.ts TOPIC_CONFIGS). */
const topicConfig = z.union(
  Object.entries(TOPIC_CONFIGS).map(([name, rule]) => z.object({ name: z.literal(name), value: z.string().regex(rule) })) as unknown as [z.ZodObject, z.ZodObject, ...z.ZodObject[]],
);

/** `POST /v3/clusters/{cluster_id}/topics` (kafka-rest CreateTopicRequest). */
export const CreateTopicRequest = named(
  'CreateTopicRequest',
  z.object({
    topic_name: topicName,
    partitions_count: z.int().min(1).max(MAX_CREATE_PARTITIONS).nullable().optional(),
    replication_factor: z.int().min(1).max(32_767).nullable().optional(),
    configs: z.array(topicConfig).max(64).nullable().optional(),
    validate_only: z.literal(false).optional().describe('Only false: streamgate has no validate-only create'),
  }),
);

/** Record key or value data in a v3 produce (kafka-rest ProduceRequestData): no schema registry, so BINARY, JSON or STRING. */
const produceData = z
  .union([
    z.object({ type: z.literal('BINARY'), data: z.string().regex(BASE64).nullable().optional() }).describe('data: base64 bytes'),
    z.object({ type: z.literal('JSON'), data: z.unknown().optional() }).describe('data: any JSON, stored as the exact text sent'),
    z.object({ type: z.literal('STRING'), data: z.string().nullable().optional() }).describe('data: text, stored as UTF-8'),
  ])
  .nullable()
  .optional();

/** An RFC 3339 date-time from 1970 on (kafka-rest's `Instant`; Kafka timestamps are not negative), e.g. 2026-12-02T05:00:00.123Z. */
export const DATE_TIME = /^(?:19[7-9][0-9]|[2-9][0-9]{3})-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,9})?(?:Z|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$/;

/**
 * One record of `POST /v3/clusters/{cluster_id}/topics/{topic_name}/records` (kafka-rest
 * ProduceRequest). A streaming produce sends several, concatenated, in one chunked body.
 */
export const ProduceRecordRequest = named(
  'ProduceRequest',
  z.object({
    partition_id: z.int().min(0).max(INT32_MAX).nullable().optional(),
    headers: z
      .array(z.object({ name: z.string(), value: z.string().regex(BASE64).nullable().optional() }))
      .max(1_000)
      .optional()
      .describe('Ordered; names may repeat. Values are base64.'),
    key: produceData,
    value: produceData,
    timestamp: z.string().regex(DATE_TIME).nullable().optional(),
  }),
);

// ---------------------------------------------------------------------------------------------
// Responses

export const ClusterData = named(
  'ClusterData',
  z.object({
    kind: z.literal('KafkaCluster'),
    metadata: resourceMetadata,
    cluster_id: z.string(),
    controller: related.nullable(),
    acls: related,
    brokers: related,
    broker_configs: related,
    consumer_groups: related,
    topics: related,
    partition_reassignments: related,
  }),
);
export const ClusterDataList = named('ClusterDataList', list('KafkaClusterList', ClusterData));

export const TopicData = named(
  'TopicData',
  z.object({
    kind: z.literal('KafkaTopic'),
    metadata: resourceMetadata,
    cluster_id: z.string(),
    topic_name: z.string(),
    is_internal: z.boolean(),
    replication_factor: z.int(),
    partitions_count: z.int(),
    partitions: related,
    configs: related,
    partition_reassignments: related,
  }),
);
export const TopicDataList = named('TopicDataList', list('KafkaTopicList', TopicData));

export const PartitionData = named(
  'PartitionData',
  z.object({
    kind: z.literal('KafkaPartition'),
    metadata: resourceMetadata,
    cluster_id: z.string(),
    topic_name: z.string(),
    partition_id: z.int(),
    leader: related.nullable().describe('The leader replica (Kafka); null on the embedded log, which has no brokers'),
    replicas: related,
    reassignment: related,
  }),
);
export const PartitionDataList = named('PartitionDataList', list('KafkaPartitionList', PartitionData));

export const TopicConfigData = named(
  'TopicConfigData',
  z.object({
    kind: z.literal('KafkaTopicConfig'),
    metadata: resourceMetadata,
    cluster_id: z.string(),
    topic_name: z.string(),
    name: z.string(),
    value: z.string().nullable(),
    is_default: z.boolean(),
    is_read_only: z.boolean(),
    is_sensitive: z.boolean(),
    source: z.string(),
    synonyms: z.array(z.object({ name: z.string(), value: z.string().nullable(), source: z.string() })),
  }),
);
export const TopicConfigDataList = named('TopicConfigDataList', list('KafkaTopicConfigList', TopicConfigData));

export const ConsumerGroupData = named(
  'ConsumerGroupData',
  z.object({
    kind: z.literal('KafkaConsumerGroup'),
    metadata: resourceMetadata,
    cluster_id: z.string(),
    consumer_group_id: z.string(),
    is_simple: z.boolean(),
    partition_assignor: z.string(),
    state: z.string(),
    coordinator: related.nullable(),
    consumers: related,
    lag_summary: related,
  }),
);
export const ConsumerGroupDataList = named('ConsumerGroupDataList', list('KafkaConsumerGroupList', ConsumerGroupData));

export const ConsumerData = named(
  'ConsumerData',
  z.object({
    kind: z.literal('KafkaConsumer'),
    metadata: resourceMetadata,
    cluster_id: z.string(),
    consumer_group_id: z.string(),
    consumer_id: z.string(),
    instance_id: z.string().nullable(),
    client_id: z.string(),
    assignments: related,
  }),
);
export const ConsumerDataList = named('ConsumerDataList', list('KafkaConsumerList', ConsumerData));

export const ConsumerLagData = named(
  'ConsumerLagData',
  z.object({
    kind: z.literal('KafkaConsumerLag'),
    metadata: resourceMetadata,
    cluster_id: z.string(),
    consumer_group_id: z.string(),
    topic_name: z.string(),
    partition_id: z.int(),
    current_offset: long,
    log_end_offset: long,
    lag: long,
    consumer_id: z.string(),
    instance_id: z.string().nullable(),
    client_id: z.string(),
  }),
);
export const ConsumerLagDataList = named('ConsumerLagDataList', list('KafkaConsumerLagList', ConsumerLagData));

export const ConsumerGroupLagSummaryData = named(
  'ConsumerGroupLagSummaryData',
  z.object({
    kind: z.literal('KafkaConsumerGroupLagSummary'),
    metadata: resourceMetadata,
    cluster_id: z.string(),
    consumer_group_id: z.string(),
    max_lag_consumer_id: z.string(),
    max_lag_instance_id: z.string().nullable(),
    max_lag_client_id: z.string(),
    max_lag_topic_name: z.string(),
    max_lag_partition_id: z.int(),
    max_lag: long,
    total_lag: long,
    max_lag_consumer: related.nullable(),
    max_lag_partition: related.nullable(),
  }),
);

const sizedData = z.object({ type: z.enum(['BINARY', 'JSON', 'STRING']), size: z.int() }).nullable();

/** One delivery report of a v3 produce (kafka-rest ProduceResponse): error_code 200 when written. */
export const ProduceResponseV3 = named(
  'DeliveryReport',
  z.object({
    error_code: z.literal(200),
    cluster_id: z.string(),
    topic_name: z.string(),
    partition_id: z.int(),
    offset: long,
    timestamp: z.string().nullable(),
    key: sizedData,
    value: sizedData,
  }),
);

/** One line of a v3 produce's answer: a delivery report, or that record's error. */
export const ProduceReport = named(
  'ProduceReport',
  z.union([ProduceResponseV3, ErrorBody]).describe('One per record, in order, each followed by CR LF; a streaming produce gets them as its records complete'),
);
