/**
 * The backend port: everything the core needs from a log store. Two implementations sit behind
 * it — Kafka (kafkajs) and the embedded durable log — and one conformance suite
 * (test/conformance/backend.ts) runs against both. Adapters never see a backend; they use the core.
 *
 * Contract shared by every method:
 * - Errors are GatewayErrors from the catalogue (TOPIC_NOT_FOUND, PARTITION_NOT_FOUND,
 *   OUT_OF_RANGE, MESSAGE_TOO_LARGE, UNAVAILABLE, TIMEOUT, …). Backend-specific errors are
 *   classified once, inside the backend.
 * - Offsets are bigint; `latest` is the next offset to be written (Kafka's high watermark).
 */
import type { PartitionOffsets, ProduceRecord, ProduceResult, StreamRecord, TopicInfo, TopicPartition } from '../record.js';

/** How `Backend.createTopic` creates a topic; absent fields take the store's defaults. */
export interface CreateTopicOptions {
  partitions?: number;
  /** `cleanup.policy=compact`: the log keeps the last record per key; a null value deletes the key. */
  compacted?: boolean;
  /** Extra topic config (Kafka names, e.g. `retention.ms`). */
  config?: Record<string, string>;
  /** Replicas per partition (Kafka; absent: the broker's default). The embedded log keeps one copy. */
  replicationFactor?: number;
}

/** Durability and cancellation of one `Backend.produce`. */
export interface ProduceOptions {
  /** Kafka acks: -1 (all in-sync replicas, default), 1 (leader) or 0 (none; offsets unknown). */
  acks?: -1 | 0 | 1;
  /** Abort waiting (the write may still happen; the caller reports CANCELLED). */
  signal?: AbortSignal;
}

/** Bounds of one `Backend.fetch`: how much to return and how long to wait for a first record. */
export interface FetchOptions {
  /** Stop after this many records (default 500). */
  maxRecords?: number;
  /** Stop after about this many bytes (at least one record is always returned if available). */
  maxBytes?: number;
  /** Long-poll: if no record at `offset` is available yet, wait up to this long for one (default 0). */
  waitMs?: number;
  signal?: AbortSignal;
}

/** What one fetch of one partition returned, with the partition's bounds at that moment. */
export interface FetchResult {
  /** Records with offset ≥ the requested offset, in offset order (gaps possible in compacted topics). */
  readonly records: StreamRecord[];
  /** Next offset to request to continue reading after these records. */
  readonly nextOffset: bigint;
  /** The partition's log end (next offset to be written) when the fetch was answered. */
  readonly latest: bigint;
  /** The partition's log start when the fetch was answered. */
  readonly earliest: bigint;
}

/** A consumer group's committed position in one partition. */
export interface CommittedOffset extends TopicPartition {
  /** The next offset the group will read (Kafka convention: last processed + 1). */
  readonly offset: bigint;
  readonly metadata?: string | null;
}

/** The cluster a backend stores in: Kafka's cluster id and brokers, or the embedded log as one node. */
export interface ClusterInfo {
  /** Kafka's cluster id; the embedded log's id, generated once and kept in its data dir. */
  readonly clusterId: string;
  /** Node id of the active controller, null when the store has none. */
  readonly controller: number | null;
  /** Node ids of the brokers (the embedded log: none). */
  readonly brokers: readonly number[];
}

/** Where one partition's replicas live (Kafka); the embedded log has none (leader null, no replicas). */
export interface PartitionReplicas {
  readonly partition: number;
  readonly leader: number | null;
  readonly replicas: readonly number[];
  readonly isr: readonly number[];
}

/** One topic config as the store reports it (Kafka DescribeConfigs; the embedded log: its own set). */
export interface TopicConfigEntry {
  readonly name: string;
  readonly value: string | null;
  readonly isDefault: boolean;
  readonly isReadOnly: boolean;
  readonly isSensitive: boolean;
  /** Kafka's config source in kafka-rest's spelling, e.g. DYNAMIC_TOPIC_CONFIG, DEFAULT_CONFIG. */
  readonly source: string;
}

/** A consumer group the store knows: one with members (Kafka's group protocol) or only committed offsets. */
export interface BackendGroup {
  readonly group: string;
  /** Kafka's protocol type (`consumer`, or empty for a group that only commits), '' for the embedded log. */
  readonly protocolType: string;
  /** STABLE, EMPTY, PREPARING_REBALANCE, COMPLETING_REBALANCE, DEAD or UNKNOWN. */
  readonly state: string;
  /** The assignor of the current generation ('' without one). */
  readonly protocol: string;
  /** Members in the store's own group protocol (never streamgate's members, which the core keeps). */
  readonly members: readonly BackendGroupMember[];
}

/** A member of a Kafka-native group. */
export interface BackendGroupMember {
  readonly memberId: string;
  readonly clientId: string;
  readonly host: string;
  /** group.instance.id of a static member, else null. */
  readonly instanceId: string | null;
  readonly assignment: readonly TopicPartition[];
}

/** A log store: Kafka or the embedded log. */
export interface Backend {
  /** Which store this is: named in logs, and picks which config section's topic defaults apply. */
  readonly kind: 'kafka' | 'embedded';

  /** Connects / opens storage. Throws UNAVAILABLE if the store cannot be reached. */
  start(): Promise<void>;
  /** Releases every resource; pending long-polls resolve empty. Idempotent. */
  close(): Promise<void>;
  /** True when the store answers right now (used by /readyz). Never throws. */
  healthy(): Promise<boolean>;

  /** Every topic of the store, internal ones included (filtering is the core's). */
  listTopics(): Promise<TopicInfo[]>;
  /** TOPIC_NOT_FOUND if it does not exist. */
  describeTopic(topic: string): Promise<TopicInfo>;
  /** ALREADY_EXISTS if it exists. */
  createTopic(topic: string, options?: CreateTopicOptions): Promise<void>;
  /** Deletes the topic and its records. No client protocol reaches it (tests and tooling use it). */
  deleteTopic(topic: string): Promise<void>;
  /**
   * Deletes the records of one partition below `before` (Kafka DeleteRecords): the log start
   * moves to `before`; offsets are never reused. `before` above the log end is OUT_OF_RANGE.
   */
  deleteRecords(topic: string, partition: number, before: bigint): Promise<void>;

  /**
   * Appends records; resolves only after the store acknowledged them (acks=all by default),
   * one result per input record, in input order. Records of one partition keep their order.
   * TOPIC_NOT_FOUND if the topic is missing (auto-creation is the core's decision, not the
   * backend's); PARTITION_NOT_FOUND for an explicit partition that does not exist.
   */
  produce(topic: string, records: ProduceRecord[], options?: ProduceOptions): Promise<ProduceResult[]>;

  /**
   * Reads one partition from `offset`. An offset below the log start or above the log end is
   * OUT_OF_RANGE (details: {earliest, latest} as decimal strings). `offset === latest` with
   * `waitMs > 0` waits for the next record or the timeout.
   */
  fetch(topic: string, partition: number, offset: bigint, options?: FetchOptions): Promise<FetchResult>;

  /** Earliest and latest offsets of every partition of the topic. */
  offsets(topic: string): Promise<PartitionOffsets[]>;
  /** Per partition, the offset of the first record with timestamp ≥ `timestamp` (or latest if none). */
  offsetsForTimestamp(topic: string, timestamp: number): Promise<Map<number, bigint>>;

  /** Stores a group's committed offsets (in Kafka: the group coordinator, as a simple/standalone commit). */
  commitOffsets(group: string, offsets: CommittedOffset[]): Promise<void>;
  /** Reads a group's committed offsets for the topics; partitions without a commit are omitted. */
  committedOffsets(group: string, topics: string[]): Promise<CommittedOffset[]>;
  /** Every committed offset of the group, whatever the topic (a group without commits: none). */
  groupOffsets(group: string): Promise<CommittedOffset[]>;

  /** The cluster's id and nodes. */
  describeCluster(): Promise<ClusterInfo>;
  /** Leader and replicas per partition, in partition order; TOPIC_NOT_FOUND if missing. */
  describePartitions(topic: string): Promise<PartitionReplicas[]>;
  /** Every config of the topic, sorted by name; TOPIC_NOT_FOUND if missing. */
  topicConfigs(topic: string): Promise<TopicConfigEntry[]>;
  /** Every group the store knows (members or commits), sorted by name; internal ones included. */
  listGroups(): Promise<BackendGroup[]>;
  /** One group; undefined when the store knows nothing of it (no members, no commits). */
  describeGroup(group: string): Promise<BackendGroup | undefined>;
}
