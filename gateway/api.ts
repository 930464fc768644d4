/**
 * The protocol-free API every adapter programs against. An adapter translates its protocol into
 * these calls and the catalogued GatewayErrors they throw into its protocol's codes; offsets,
 * fan-out, groups, retries, idempotency and auth decisions all live behind this interface.
 */
import type { Logger } from 'pino';
import type {
  PartitionOffsets,
  Position,
  ProduceRecord,
  ProduceResult,
  StreamRecord,
  TopicInfo,
  TopicPartition,
} from './record.js';
import type { ClusterInfo, FetchResult, PartitionReplicas, TopicConfigEntry } from './backends/port.js';
import type { Scope } from './grants.js';

/** Who is calling. `anonymous` when no credentials were given (and anonymous access is on). */
export interface Principal {
  /** Unique among principals (API keys are `apikey:<id>`): MQTT sessions and REST consumer instances belong to it. */
  readonly id: string;
  /** The name `{sub}` stands for in grant and identity patterns (JWT subject, API key id, certificate name); default `id`. */
  readonly subject?: string;
  /** No credentials were presented; such a principal holds `auth.anonymousGrants` only. */
  readonly anonymous: boolean;
  /** The compiled grants; undefined = unrestricted (only while no authentication is configured). */
  readonly scope?: Scope;
  /** String claims of a JWT, for `{claim:NAME}` substitution. */
  readonly claims?: Readonly<Record<string, string>>;
  /** Unix ms after which the credentials are no longer valid (long streams end then). */
  readonly expiresAt?: number;
}

/** Per-call context: cancellation, identity, correlation and a logger with them bound. */
export interface Context {
  /** Aborted when the client went away or the request was cancelled: waits end with CANCELLED. */
  readonly signal?: AbortSignal;
  readonly principal: Principal;
  /** Correlates the log lines of one request (an adapter-chosen id, or one it was sent). */
  readonly requestId?: string;
  /** Protocol name, for metrics and logs only — never for decisions in the core. */
  readonly protocol: string;
  /** A child logger with `principal` and `requestId` bound. */
  readonly log: Logger;
}

/** How one produce call is written: options that apply to the whole batch. */
export interface ProduceRequestOptions {
  /** Write every record of the batch to this partition. */
  partition?: number;
  /**
   * A retried produce with the same key (scoped to the principal) within the configured window
   * returns the original results instead of writing again.
   */
  idempotencyKey?: string;
  /** W3C traceparent of the request: stored as each record's `traceparent` header (unless it has one). */
  traceparent?: string;
}

/**
 * Key filters evaluated in the hub: exact key, key prefix, or an MQTT topic filter over the key
 * (`+` one level, `#` the rest; `$`-keys are not matched by a leading wildcard). A record with a
 * null key matches only `{kind:'all'}`.
 */
export type KeyFilter =
  | { readonly kind: 'all' }
  | { readonly kind: 'exact'; readonly key: string }
  | { readonly kind: 'prefix'; readonly prefix: string }
  | { readonly kind: 'mqtt'; readonly filter: string };

/** What a broadcast subscription reads: one topic, where to start, which keys, and its flow control. */
export interface SubscribeRequest {
  readonly topic: string;
  /** Only these partitions (default: all). */
  readonly partitions?: readonly number[];
  readonly from: Position;
  /** A record is delivered if it matches any filter (default: all records). */
  readonly filters?: readonly KeyFilter[];
  /** With true, a start position that no longer exists is OUT_OF_RANGE instead of a clamp + notice. */
  readonly strict?: boolean;
  /** Overrides the configured per-subscriber queue bound (bytes), within the configured maximum. */
  readonly maxQueueBytes?: number;
  /**
   * Credit-based flow control: hand at most this many records to the sink until
   * `Subscription.addCredit` grants more (0 = wait for the first grant). Absent = no credit limit.
   * A credit-limited subscriber is never ended as slow; its memory stays within the queue bound.
   */
  readonly credit?: number;
  /**
   * With true, a topic that does not exist yet is not TOPIC_NOT_FOUND: subscribe resolves at once
   * with a Subscription that starts delivering once the topic exists (found by a poll every
   * `topics.waitPollMs`, or at once when this gateway produces to it), reading every partition
   * from its beginning — `from` and `strict` do not apply then, and nothing written after this call
   * is missed. `start` and `positions()` are empty until then; `close()` stops the wait.
   * Read permission is checked at call time, as for an existing topic. A requested partition the
   * topic turns out not to have ends the subscription with PARTITION_NOT_FOUND.
   */
  readonly waitForTopic?: boolean;
}

/** Told to a subscriber when the requested position did not exist and it starts elsewhere. */
export interface ContinuityLost {
  readonly partition: number;
  /** The offset the subscriber asked to start at. */
  readonly requested: bigint;
  /** The offset delivery starts at instead (the log start or the log end). */
  readonly actual: bigint;
  readonly reason: 'below_log_start' | 'beyond_log_end';
}

/**
 * Where a subscription delivers. `records` resolves when the transport accepted the bytes (its
 * backpressure signal); the hub never has more than one `records` call outstanding per subscriber.
 */
export interface SubscriberSink {
  records(batch: readonly StreamRecord[]): Promise<void> | void;
  /** Continuity notices, before the records they concern. */
  continuityLost?(notice: ContinuityLost): void;
  /** Called exactly once when the subscription ends on the gateway's side (error = why). */
  end(error?: import('./errors.js').GatewayError): void;
}

/**
 * A live broadcast subscription, as `Gateway.subscribe` returns it: its start, its progress, and
 * the two controls (credit, close) the adapter holds while the sink receives records.
 */
export interface Subscription {
  /** Unique within this gateway process; for logs and metrics, not a client-visible handle. */
  readonly id: string;
  readonly topic: string;
  /**
   * The resolved start: next offset per partition at subscribe time. Empty while a `waitForTopic`
   * subscription waits for its topic; then the start of every partition.
   */
  readonly start: ReadonlyMap<number, bigint>;
  /** Next offset to deliver per partition (advances as records are handed to the sink). */
  positions(): ReadonlyMap<number, bigint>;
  /** Grants more records to a credit-limited subscription (no effect otherwise). */
  addCredit(n: number): void;
  /** Stops delivery; the sink's `end` is not called. Idempotent. */
  close(): void;
}

/** Who joins which consumer group for which topics, and how its deliveries are acknowledged and committed. */
export interface JoinGroupRequest {
  readonly group: string;
  readonly topics: readonly string[];
  /** Stable member id (e.g. a REST consumer instance's name); generated when absent. */
  readonly memberId?: string;
  /** Where to start partitions with no committed offset. */
  readonly resetTo?: 'earliest' | 'latest';
  /** Commit the contiguous acknowledged prefix automatically (default true). */
  readonly autoCommit?: boolean;
  /**
   * Records delivered but not acknowledged within this many ms are delivered again (push mode),
   * default from config. 0 disables redelivery.
   */
  readonly ackTimeoutMs?: number;
  /** Only records matching one of these are delivered; the others still count as consumed (committed past). */
  readonly filters?: readonly KeyFilter[];
  /**
   * With true, topics that do not exist yet are not TOPIC_NOT_FOUND: joinGroup resolves at once with
   * a member that joins the group once all its topics exist (polled every `topics.waitPollMs`, or at
   * once when this gateway produces to them). Until then it is no member of the group as far as the
   * assignment goes: `assignment()`, `positions()` and `committed()` are empty, `poll` waits up to
   * `waitMs` for the topics and returns `[]`, a `stream` waits and starts delivering by itself, `ack`
   * is false, `seek` and an explicit `commit` are FAILED_PRECONDITION, `leave()` stops the wait. When
   * it had to wait, partitions without a committed offset start at their beginning whatever
   * `resetTo` says, so nothing written after this call is missed. Read permission is checked at call time.
   */
  readonly waitForTopic?: boolean;
  /**
   * How records are spread over the members (default `partition`). `partition`: each partition
   * is read by one member (Kafka's model; REST consumer instances, gRPC). `dispatch` (MQTT
   * `$share/`): partitions are assigned to gateway instances, and each record of an instance's
   * partitions goes to one of its streaming members — the one with the fewest unacknowledged
   * records, ties round robin, none beyond its window (`stream`'s `credit`, else
   * `groups.maxInflight`). What a member that stops or leaves did not acknowledge goes to the
   * others at once; after `ackTimeoutMs` (if not 0) to another member with room. The committed
   * offset is the contiguous acknowledged prefix over all members. Dispatch members are push only
   * (`poll`, `seek` and explicit commit offsets are FAILED_PRECONDITION), must all read the same
   * topics with the same filters, and a group has one mode (else FAILED_PRECONDITION).
   */
  readonly mode?: 'partition' | 'dispatch';
}

/** One member of a load-balanced group: each partition of the topics is read by one member. */
export interface GroupMember {
  readonly group: string;
  /** The id the member joined with, or the one generated for it; joining again with it takes over this member. */
  readonly memberId: string;
  readonly topics: readonly string[];
  /** Partitions currently assigned to this member. */
  assignment(): TopicPartition[];
  /**
   * Pull mode (REST): the next records from assigned partitions, waiting up to `waitMs`.
   * Every returned record counts as delivered (and, for `commit()` without args, fetched).
   */
  poll(options: { maxRecords?: number; maxBytes?: number; waitMs?: number; signal?: AbortSignal }): Promise<StreamRecord[]>;
  /**
   * Push mode (gRPC, MQTT shared subscriptions): deliver to the sink until stopped; `credit`
   * limits how many unacknowledged records may be outstanding (0 = unlimited).
   */
  stream(sink: SubscriberSink, options?: { credit?: number }): { addCredit(n: number): void; stop(): void };
  /**
   * Acknowledges one delivered record; acks may arrive in any order. Returns false (and changes
   * nothing) when that record is not outstanding — never delivered, already acknowledged, or its
   * partition moved to another member.
   */
  ack(topic: string, partition: number, offset: bigint): boolean;
  /**
   * Commits explicit offsets (next-to-read), or — without args — everything delivered so far.
   * Explicit offsets must be of partitions assigned to this member (else FAILED_PRECONDITION) and
   * between the log start and end (else OUT_OF_RANGE); the whole request is checked first.
   */
  commit(offsets?: readonly { topic: string; partition: number; offset: bigint }[]): Promise<void>;
  /** Committed offsets (next-to-read) of assigned partitions. */
  committed(): Promise<{ topic: string; partition: number; offset: bigint }[]>;
  /** Next offset this member will deliver per assigned partition. */
  positions(): { topic: string; partition: number; offset: bigint }[];
  /** OUT_OF_RANGE for an offset outside the log; FAILED_PRECONDITION for an unassigned partition. */
  seek(topic: string, partition: number, to: bigint | 'earliest' | 'latest'): Promise<void>;
  /** Leaves the group; its partitions move to the other members. Idempotent. */
  leave(): Promise<void>;
}

/**
 * A key → value table kept in a compacted topic (Kafka) or the embedded log, loaded at open
 * and kept current. Used for state that must survive restarts and be shared by gateway
 * instances (MQTT retained messages and persistent sessions).
 */
export interface Table {
  /** The current value, from this instance's copy (no I/O); may lag another instance's write until `sync`. */
  get(key: string): Buffer | undefined;
  /** Every live key of this instance's copy. */
  entries(): IterableIterator<[string, Buffer]>;
  /** Resolves after the backend acknowledged the write. */
  set(key: string, value: Buffer): Promise<void>;
  /** Writes a tombstone; resolves after the backend acknowledged it. */
  delete(key: string): Promise<void>;
  /** Calls `listener(key)` after every change applied, local or written by another instance. */
  onChange(listener: (key: string) => void): () => void;
  /**
   * Resolves once this copy has applied every write the backend acknowledged before the call,
   * whichever instance made it: read after it when another instance may have just written the
   * state you are about to read (e.g. an MQTT session a client left a moment ago on another gateway instance). Costs one
   * offsets request (concurrent callers share one) and the follower's catch-up; TIMEOUT after
   * `timeoutMs` (default 10 s).
   */
  sync(timeoutMs?: number): Promise<void>;
}

/** How `Gateway.createTopic` creates a topic; absent fields take the backend's defaults. */
export interface CreateTopicRequest {
  readonly partitions?: number;
  readonly replicationFactor?: number;
  /** Topic configs by Kafka name; only the names in TOPIC_CONFIGS (gateway/core.ts) are accepted. */
  readonly configs?: Readonly<Record<string, string>>;
}

/** A member of a consumer group as an operator sees it, whoever runs it (Kafka's group protocol or a gateway). */
export interface GroupMemberView {
  readonly memberId: string;
  readonly clientId: string;
  readonly host: string;
  /** group.instance.id of a static Kafka member, else null. */
  readonly instanceId: string | null;
  /** Assigned partitions (empty where unknown: a member another gateway instance runs). */
  readonly assignment: readonly TopicPartition[];
}

/** A consumer group: Kafka-native (its members in Kafka), or the gateway's own (members in its membership table). */
export interface GroupView {
  readonly group: string;
  readonly origin: 'kafka' | 'streamgate';
  /** STABLE, EMPTY, PREPARING_REBALANCE, COMPLETING_REBALANCE, DEAD or UNKNOWN. */
  readonly state: string;
  /** The partition assignor ('range' for the gateway's groups). */
  readonly assignor: string;
  /** No Kafka group protocol: a gateway's group, or one that only commits offsets. */
  readonly simple: boolean;
  readonly members: readonly GroupMemberView[];
}

/** How far a group is behind in one partition it committed: lag = latest − committed. */
export interface PartitionLag extends TopicPartition {
  /** The committed offset (next to read). */
  readonly committed: bigint;
  /** The log end (next offset written). */
  readonly latest: bigint;
  readonly lag: bigint;
  /** The member the partition is assigned to, if any. */
  readonly member: GroupMemberView | null;
}

/** Where a client connected from: what a failed authentication's audit line names. */
export interface ConnectionOrigin {
  readonly protocol: string;
  readonly remoteAddress?: string | undefined;
}

/**
 * The core, as adapters see it: every read, write, group, table and auth decision an adapter
 * needs, each taking the caller's Context and throwing catalogued GatewayErrors only.
 */
export interface Gateway {
  readonly log: Logger;

  /**
   * Distinguishes this gateway instance (process) from others on the same backend; new at every
   * start. Adapters use it to name this instance in shared tables.
   */
  readonly instanceId: string;

  /**
   * Whether the instance `id` is alive: true for this instance's own id, and for an instance whose
   * heartbeat (written every `groups.heartbeatMs` to the shared `instances` table) is at most
   * `groups.sessionTimeoutMs` old. Answered from this instance's copy of the table, without I/O:
   * a cleanly closed instance is seen gone once its deletion reached this copy (normally ms); a
   * crashed one still counts as alive up to `sessionTimeoutMs` after its last heartbeat (plus
   * clock skew between hosts). True while the table is not loaded yet (before `start`), so a
   * caller never skips a wait for lack of knowledge.
   */
  instanceAlive(id: string): boolean;

  /** The topics the principal may read some key of; internal topics are never listed. */
  listTopics(ctx: Context): Promise<TopicInfo[]>;
  /** PERMISSION_DENIED unless the principal may read some key of it (never for an internal topic); TOPIC_NOT_FOUND if missing. */
  describeTopic(ctx: Context, topic: string): Promise<TopicInfo>;
  /** Log start and end of every partition, with the same checks as `describeTopic`. */
  offsets(ctx: Context, topic: string): Promise<PartitionOffsets[]>;

  /**
   * Writes a batch. The whole batch is validated first (names, sizes, partitions, and every
   * record's key against the write scope — PERMISSION_DENIED with `details.index`):
   * an invalid batch throws and nothing is written. Otherwise resolves after the backend
   * acknowledged, with one result per record (a partial backend failure reports exactly which
   * records were written).
   */
  produce(ctx: Context, topic: string, records: ProduceRecord[], options?: ProduceRequestOptions): Promise<ProduceResult[]>;

  /** Stateless read of one partition from an offset (long-poll with `waitMs`). */
  fetch(ctx: Context, topic: string, partition: number, offset: bigint, options?: { maxRecords?: number; maxBytes?: number; waitMs?: number }): Promise<FetchResult>;

  /**
   * Whether the principal may read / write the record with this key on `topic`: its scope allows
   * it and the topic is not internal. Adapters ask it for state they keep themselves (MQTT retained
   * messages); records produced and delivered through the core are checked by the core.
   */
  permits(ctx: Context, action: 'read' | 'write', topic: string, key: Buffer | string | null): boolean;

  /**
   * PERMISSION_DENIED (counted and audited) unless the principal holds a grant for `group`.
   * `joinGroup` checks it itself; adapters call it for state they keep per group before any member
   * joins (REST v2 consumer instances, so nobody squats instance names in another's group).
   */
  authorizeGroup(ctx: Context, group: string): void;

  /** `permits`, or PERMISSION_DENIED (counted and audited). */
  authorize(ctx: Context, action: 'read' | 'write', topic: string, key: Buffer | string | null): void;

  /**
   * Broadcast subscription through the hub (one shared reader per topic-partition). Only records
   * inside the principal's read scope are delivered; a subscription whose filters can never match
   * that scope is PERMISSION_DENIED.
   */
  subscribe(ctx: Context, request: SubscribeRequest, sink: SubscriberSink): Promise<Subscription>;

  /** Joins (or re-joins with the same memberId) a load-balanced group. */
  joinGroup(ctx: Context, request: JoinGroupRequest): Promise<GroupMember>;

  /**
   * The schema registry (config `schemaRegistry`), undefined when disabled: subjects, versions,
   * ids, compatibility, and the Confluent wire format for encode / decode / validate.
   */
  readonly schemas?: import('./schemas/registry.js').SchemaRegistry | undefined;

  /**
   * For JSON readers (WebSocket JSON, SSE, REST v1 fetch): per record, the key / value to show
   * decoded because its topic side is bound (`schemaRegistry.bindings`) and its bytes are in the
   * Confluent wire format of a schema the registry holds — JSON text plus the schema id; undefined
   * entries are served as their bytes (also a record that does not decode: never an error).
   * Undefined at once when no record's topic is bound. Memoized per batch array and per record, so
   * a shared batch is decoded once for all its subscribers (gateway/schemas/reading.ts).
   */
  decodeForJson(records: readonly StreamRecord[]): Promise<readonly (import('./schemas/reading.js').RecordDecoding | undefined)[]> | undefined;

  /**
   * For REST v2 consumers of a schema format: the record's key and value decoded from the
   * Confluent wire format as JSON text (null stays null). RECORD_NOT_DECODABLE when a side is not
   * framed, names an unknown schema or one of another type, or does not decode.
   */
  decodeRecord(ctx: Context, record: StreamRecord, type: import('./schemas/formats.js').SchemaType): Promise<import('./schemas/reading.js').StrictDecoding>;

  /** Opens (once per name, then shared) a compacted key → value table. */
  table(name: string): Promise<Table>;

  /**
   * Verifies credentials an adapter extracted (bearer token / API key / client-certificate
   * subject) and returns the principal to put in the Context. UNAUTHENTICATED when they are
   * missing (and anonymous access is off) or invalid. Grants are then checked by every call.
   */
  authenticate(credentials: import('./auth.js').Credentials, origin?: ConnectionOrigin): Promise<Principal>;

  /**
   * Admits a client connection (limits `maxConnections` / `maxConnectionsPerAddress`, else
   * RESOURCE_EXHAUSTED) and counts it for metrics; call the returned function when it closes.
   */
  connectionOpened(protocol: string, remoteAddress?: string): () => void;

  /**
   * Names the principal behind a connection admitted by `connectionOpened` (a WebSocket, an MQTT
   * client after CONNECT), for the operator's view of connections by protocol and principal
   * (`connections`); `ctx.protocol` labels it. Call the returned function (idempotent) when the connection closes.
   */
  connectionIdentified(ctx: Context): () => void;

  /**
   * What the principal may do in the operator console: `operator` (holds `admin: ["*"]`, or no
   * authentication is configured) sees connections, MQTT sessions and live metrics; `writes` (some
   * write or admin grant) gets a produce form. Never throws: a read-only principal gets falses.
   */
  capabilities(ctx: Context): { readonly principal: string; readonly anonymous: boolean; readonly operator: boolean; readonly writes: boolean };

  /** Open connections by protocol and the top principals by traffic; PERMISSION_DENIED unless `capabilities(ctx).operator`. */
  connections(ctx: Context): import('./connections.js').ConnectionsSnapshot;

  /**
   * A sampler of the live metrics (produce/s, deliveries/s, p99 delivery latency, slow-consumer
   * cuts): each `sample()` covers the time since the previous one. PERMISSION_DENIED unless the
   * principal is an operator or holds the `metrics` grant.
   */
  metricsSampler(ctx: Context): import('./metrics.js').MetricsSampler;

  /**
   * Lets an adapter publish a read-only view of state it keeps itself (e.g. MQTT sessions and
   * retained messages) under `name`; `inspect` must be bounded in time and size. The returned
   * function withdraws it. Throws if the name is taken.
   */
  registerInspector(name: string, inspect: () => unknown): () => void;

  /** The view registered under `name`: NOT_FOUND if none; PERMISSION_DENIED unless `capabilities(ctx).operator`. */
  inspect(ctx: Context, name: string): unknown;

  /** RESOURCE_EXHAUSTED when a connection already holding `current` subscriptions may not open another. */
  admitSubscription(current: number): void;

  /** True while the backend answers. */
  ready(): Promise<boolean>;

  /** The backend's cluster id and nodes (any authenticated principal may ask). */
  describeCluster(ctx: Context): Promise<ClusterInfo>;
  /** Leader and replicas per partition, with the checks of `describeTopic`. */
  describePartitions(ctx: Context, topic: string): Promise<PartitionReplicas[]>;
  /** The topic's configs, with the checks of `describeTopic`. */
  topicConfigs(ctx: Context, topic: string): Promise<TopicConfigEntry[]>;
  /**
   * Creates a topic: PERMISSION_DENIED without an admin grant for it (always for an internal
   * topic), INVALID_ARGUMENT for a partition count, replication factor or config outside what the
   * gateway accepts (names and values checked before the backend is asked), ALREADY_EXISTS.
   */
  createTopic(ctx: Context, topic: string, request: CreateTopicRequest): Promise<TopicInfo>;
  /** Deletes a topic and its records: the admin grant, never an internal topic; TOPIC_NOT_FOUND if missing. */
  deleteTopic(ctx: Context, topic: string): Promise<void>;
  /**
   * Consumer groups the principal may use (group grants): Kafka's (members, or commits only) and
   * the gateway's own (REST v2 consumer instances, gRPC group sessions, MQTT `$share`), one entry per name.
   */
  listGroups(ctx: Context): Promise<GroupView[]>;
  /** One group; NOT_FOUND when neither the backend nor the gateways know it, PERMISSION_DENIED without a grant. */
  describeGroup(ctx: Context, group: string): Promise<GroupView>;
  /** Lag per committed partition of topics the principal may read, sorted by topic and partition. */
  groupLags(ctx: Context, group: string): Promise<PartitionLag[]>;
}
