/**
 * The one place kafkajs errors become catalogued GatewayErrors. Every call into kafkajs in this
 * backend funnels its failures through `classify`, so the rest of the gateway never sees a
 * kafkajs error type.
 */
import { GatewayError, type Code } from '../../errors.js';

/** Kafka protocol error types (kafkajs `error.type`) with a catalogue code of their own. */
const PROTOCOL_CODES: Readonly<Record<string, Code>> = {
  UNKNOWN_TOPIC_OR_PARTITION: 'TOPIC_NOT_FOUND',
  UNKNOWN_TOPIC_ID: 'TOPIC_NOT_FOUND',
  MESSAGE_TOO_LARGE: 'MESSAGE_TOO_LARGE',
  RECORD_LIST_TOO_LARGE: 'MESSAGE_TOO_LARGE',
  INVALID_FETCH_SIZE: 'INVALID_ARGUMENT',
  OFFSET_OUT_OF_RANGE: 'OUT_OF_RANGE',
  TOPIC_ALREADY_EXISTS: 'ALREADY_EXISTS',
  INVALID_TOPIC_EXCEPTION: 'INVALID_TOPIC',
  INVALID_PARTITIONS: 'INVALID_ARGUMENT',
  INVALID_REPLICATION_FACTOR: 'INVALID_ARGUMENT',
  INVALID_CONFIG: 'INVALID_ARGUMENT',
  INVALID_REQUEST: 'INVALID_ARGUMENT',
  INVALID_RECORD: 'INVALID_ARGUMENT',
  INVALID_TIMESTAMP: 'INVALID_ARGUMENT',
  CORRUPT_MESSAGE: 'INVALID_ARGUMENT',
  INVALID_COMMIT_OFFSET_SIZE: 'INVALID_ARGUMENT',
  OFFSET_METADATA_TOO_LARGE: 'INVALID_ARGUMENT',
  INVALID_GROUP_ID: 'INVALID_ARGUMENT',
  // A standalone commit into a group that has live members of a real Kafka consumer group.
  UNKNOWN_MEMBER_ID: 'FAILED_PRECONDITION',
  ILLEGAL_GENERATION: 'FAILED_PRECONDITION',
  REBALANCE_IN_PROGRESS: 'FAILED_PRECONDITION',
  FENCED_INSTANCE_ID: 'FAILED_PRECONDITION',
  STALE_MEMBER_EPOCH: 'FAILED_PRECONDITION',
  TOPIC_DELETION_DISABLED: 'FAILED_PRECONDITION',
  // Group membership (group-member.ts): the group's members share no assignor, or the group is full.
  INCONSISTENT_GROUP_PROTOCOL: 'FAILED_PRECONDITION',
  MEMBER_ID_REQUIRED: 'FAILED_PRECONDITION',
  GROUP_MAX_SIZE_REACHED: 'RESOURCE_EXHAUSTED',
  INVALID_SESSION_TIMEOUT: 'INVALID_ARGUMENT',
  POLICY_VIOLATION: 'PERMISSION_DENIED',
  TOPIC_AUTHORIZATION_FAILED: 'PERMISSION_DENIED',
  GROUP_AUTHORIZATION_FAILED: 'PERMISSION_DENIED',
  CLUSTER_AUTHORIZATION_FAILED: 'PERMISSION_DENIED',
  SASL_AUTHENTICATION_FAILED: 'UNAVAILABLE',
  THROTTLING_QUOTA_EXCEEDED: 'RESOURCE_EXHAUSTED',
  POLICY_VIOLATION_QUOTA: 'RESOURCE_EXHAUSTED',
  REQUEST_TIMED_OUT: 'TIMEOUT',
  // The cluster is there but cannot serve this right now: the caller may retry.
  LEADER_NOT_AVAILABLE: 'UNAVAILABLE',
  NOT_LEADER_FOR_PARTITION: 'UNAVAILABLE',
  NOT_LEADER_OR_FOLLOWER: 'UNAVAILABLE',
  BROKER_NOT_AVAILABLE: 'UNAVAILABLE',
  REPLICA_NOT_AVAILABLE: 'UNAVAILABLE',
  NOT_ENOUGH_REPLICAS: 'UNAVAILABLE',
  NOT_ENOUGH_REPLICAS_AFTER_APPEND: 'UNAVAILABLE',
  NETWORK_EXCEPTION: 'UNAVAILABLE',
  COORDINATOR_NOT_AVAILABLE: 'UNAVAILABLE',
  GROUP_COORDINATOR_NOT_AVAILABLE: 'UNAVAILABLE',
  COORDINATOR_LOAD_IN_PROGRESS: 'UNAVAILABLE',
  GROUP_LOAD_IN_PROGRESS: 'UNAVAILABLE',
  NOT_COORDINATOR: 'UNAVAILABLE',
  NOT_COORDINATOR_FOR_GROUP: 'UNAVAILABLE',
  NOT_CONTROLLER: 'UNAVAILABLE',
  KAFKA_STORAGE_ERROR: 'UNAVAILABLE',
  FENCED_LEADER_EPOCH: 'UNAVAILABLE',
  UNKNOWN_LEADER_EPOCH: 'UNAVAILABLE',
  OFFSET_NOT_AVAILABLE: 'UNAVAILABLE',
};

/** kafkajs error class names that mean "the cluster could not be reached or did not answer". */
const TRANSPORT_CODES: Readonly<Record<string, Code>> = {
  KafkaJSConnectionError: 'UNAVAILABLE',
  KafkaJSConnectionClosedError: 'UNAVAILABLE',
  KafkaJSBrokerNotFound: 'UNAVAILABLE',
  KafkaJSNoBrokerAvailableError: 'UNAVAILABLE',
  KafkaJSMetadataNotLoaded: 'UNAVAILABLE',
  KafkaJSTopicMetadataNotLoaded: 'UNAVAILABLE',
  KafkaJSGroupCoordinatorNotFound: 'UNAVAILABLE',
  KafkaJSSASLAuthenticationError: 'UNAVAILABLE',
  KafkaJSRequestTimeoutError: 'TIMEOUT',
  KafkaJSLockTimeout: 'TIMEOUT',
  KafkaJSTimeout: 'TIMEOUT',
};

const MESSAGES: Partial<Record<Code, string>> = {
  TOPIC_NOT_FOUND: 'The topic does not exist.',
  MESSAGE_TOO_LARGE: 'The record or batch is larger than Kafka accepts.',
  OUT_OF_RANGE: 'The offset is outside the range the partition holds.',
  ALREADY_EXISTS: 'The topic already exists.',
  INVALID_TOPIC: 'The topic name is not legal for Kafka.',
  FAILED_PRECONDITION: 'Kafka refused the operation in the current state.',
  PERMISSION_DENIED: 'Kafka refused the operation.',
  RESOURCE_EXHAUSTED: 'Kafka throttled the request.',
  UNAVAILABLE: 'Kafka is unreachable or not ready.',
  TIMEOUT: 'Kafka did not answer in time.',
};

interface KafkaJsErrorShape {
  name?: unknown;
  type?: unknown;
  message?: unknown;
  cause?: unknown;
  originalError?: unknown;
  errors?: unknown;
  partitions?: unknown;
}

/**
 * The innermost meaningful error: kafkajs wraps the real failure in retry and aggregate errors
 * (`KafkaJSNumberOfRetriesExceeded.cause`, `KafkaJSNonRetriableError.cause`,
 * `KafkaJSAggregateError.errors`, `KafkaJSDeleteTopicRecordsError.partitions[].error`).
 */
function unwrap(err: unknown): KafkaJsErrorShape | undefined {
  let current: unknown = err;
  for (let depth = 0; depth < 8; depth++) {
    if (typeof current !== 'object' || current === null) return undefined;
    const e = current as KafkaJsErrorShape;
    if (typeof e.type === 'string' || (typeof e.name === 'string' && e.name in TRANSPORT_CODES)) return e;
    if (Array.isArray(e.errors) && e.errors.length > 0) {
      current = e.errors[0];
      continue;
    }
    if (Array.isArray(e.partitions) && e.partitions.length > 0 && typeof e.partitions[0] === 'object' && e.partitions[0] !== null && 'error' in e.partitions[0]) {
      current = (e.partitions[0] as { error: unknown }).error;
      continue;
    }
    const next = e.cause ?? e.originalError;
    if (next === undefined || next === current) return e;
    current = next;
  }
  return undefined;
}

/** The catalogue code for a kafkajs error, or INTERNAL. */
export function codeOf(err: unknown): Code {
  const e = unwrap(err);
  if (e === undefined) return 'INTERNAL';
  if (typeof e.type === 'string' && e.type in PROTOCOL_CODES) return PROTOCOL_CODES[e.type];
  if (typeof e.name === 'string' && e.name in TRANSPORT_CODES) return TRANSPORT_CODES[e.name];
  return 'INTERNAL';
}

/** The Kafka protocol error type (e.g. `UNKNOWN_TOPIC_OR_PARTITION`) inside `err`, if any. */
export function kafkaType(err: unknown): string | undefined {
  const type = unwrap(err)?.type;
  return typeof type === 'string' ? type : undefined;
}

/**
 * Turns anything thrown by kafkajs (or by this backend) into a GatewayError, keeping the original
 * as `cause` for the log. `details` are added to the catalogued error (e.g. the topic).
 */
export function classify(err: unknown, details?: Record<string, unknown>): GatewayError {
  if (err instanceof GatewayError) return err;
  const code = codeOf(err);
  if (code === 'INTERNAL') return GatewayError.from(err);
  return new GatewayError(code, MESSAGES[code] ?? 'Kafka reported an error.', {
    cause: err,
    ...(details === undefined ? {} : { details }),
  });
}
