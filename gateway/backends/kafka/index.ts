/**
 * The Kafka backend: the Backend port over a real Kafka cluster, through kafkajs 2.2.4.
 *
 * Topic administration (create, delete, configs) goes through the kafkajs admin client. Produce,
 * fetch, offsets and group commits go through kafkajs's protocol layer (./internals.ts) so that
 * - one fetch is exactly one Fetch request to the partition leader, from any offset, without a
 *   consumer group (kafkajs has no public API for that);
 * - concurrent long-polls do not queue behind each other: Kafka answers the requests of one
 *   connection in order, so each in-flight fetch gets a connection of its own from a bounded pool;
 * - deleting a topic does not break later produces (kafkajs's producer keeps the deleted topic in
 *   its metadata refresh list and fails every later send);
 * - a produce reports, per record, whether it was written: one Produce request per partition.
 */
import type { Logger } from 'pino';
import kafkajs, { type Admin } from 'kafkajs';
import { GatewayError } from '../../errors.js';
import type {
  PartitionOffsets,
  ProduceRecord,
  ProduceResult,
  StreamRecord,
  TopicInfo,
} from '../../record.js';
import { NO_HEADERS, recordSize } from '../../record.js';
import { fromDecodedHeaders, toKafkaJsHeaders } from './headers.js';
import { partitionForKey, RoundRobin } from '../partitioner.js';
import type { BackendGroup, ClusterInfo, PartitionReplicas, TopicConfigEntry, Backend, CommittedOffset, CreateTopicOptions, FetchOptions, FetchResult, ProduceOptions } from '../port.js';
import { classify, codeOf, kafkaType } from './errors.js';
import {
  createBrokerConnection,
  createCluster,
  defaultSocketFactory,
  EARLIEST_TIMESTAMP,
  filterAbortedMessages,
  kafkaJsLogger,
  kafkaJsLogSettings,
  LATEST_TIMESTAMP,
  READ_COMMITTED,
  READ_UNCOMMITTED,
  type BrokerConnection,
  type BrokerAddress,
  type Cluster,
  type DecodedRecord,
  type KafkaJsLogger,
  type KafkaJsMessage,
  type MetadataResponse,
} from './internals.js';

const { Kafka, ConfigResourceTypes, AssignerProtocol } = kafkajs;

/** kafka-rest's names of Kafka's config sources (ConfigSource in the DescribeConfigs response), by number. */
const CONFIG_SOURCES = ['UNKNOWN', 'DYNAMIC_TOPIC_CONFIG', 'DYNAMIC_BROKER_CONFIG', 'DYNAMIC_DEFAULT_BROKER_CONFIG', 'STATIC_BROKER_CONFIG', 'DEFAULT_CONFIG', 'DYNAMIC_BROKER_LOGGER_CONFIG'];

/** Replicas of a topic's partition 0 (Kafka keeps one factor per topic). */
function replicationOf(partitions: readonly { partitionId: number; replicas?: number[] }[]): number | undefined {
  return partitions.find((p) => p.partitionId === 0)?.replicas?.length;
}

/** Kafka's group states (kafkajs spells them `PreparingRebalance`) as kafka-rest spells them. */
function groupState(state: string): string {
  const upper = state.replace(/([a-z])([A-Z])/g, '$1_$2').toUpperCase();
  return ['STABLE', 'EMPTY', 'PREPARING_REBALANCE', 'COMPLETING_REBALANCE', 'DEAD'].includes(upper) ? upper : 'UNKNOWN';
}

/** Options of the Kafka backend (from the `kafka` config section). */
export interface KafkaBackendOptions {
  /** Bootstrap brokers, `host:port`. */
  brokers: string[];
  clientId?: string;
  /** Default produce acks: -1 (all in-sync replicas; nothing acknowledged is lost), 1 or 0. */
  acks?: -1 | 0 | 1;
  /** TCP connect timeout per broker (default 3000 ms). */
  connectionTimeoutMs?: number;
  /** Timeout of one request (default 30000 ms); long-poll fetches add their wait to it. */
  requestTimeoutMs?: number;
  /**
   * Most fetches in flight at once (default 64). Each holds a broker connection of its own while
   * it long-polls, so this bounds the sockets the gateway opens for reading; more fetches wait.
   */
  maxConcurrentFetches?: number;
  logger: Logger;
}

/** Topic configs reported by describeTopic (the ones clients and the core act on). */
const DESCRIBED_CONFIGS = ['cleanup.policy', 'retention.ms', 'retention.bytes', 'max.message.bytes', 'min.insync.replicas'];

/** Metadata of a topic is trusted this long before it is asked for again (partition count, leaders). */
const METADATA_TTL_MS = 10_000;
/** Retries of a produce/fetch refused because metadata moved (leader change, fresh topic). */
const STALE_METADATA_RETRIES = 3;
const STALE_METADATA_TYPES = new Set([
  'NOT_LEADER_FOR_PARTITION',
  'NOT_LEADER_OR_FOLLOWER',
  'LEADER_NOT_AVAILABLE',
  'FENCED_LEADER_EPOCH',
  'UNKNOWN_LEADER_EPOCH',
]);
const COORDINATOR_TYPES = new Set(['NOT_COORDINATOR', 'NOT_COORDINATOR_FOR_GROUP', 'COORDINATOR_NOT_AVAILABLE', 'GROUP_COORDINATOR_NOT_AVAILABLE', 'COORDINATOR_LOAD_IN_PROGRESS', 'GROUP_LOAD_IN_PROGRESS']);
const HEALTH_TIMEOUT_MS = 2000;
const COORDINATOR_WAIT_MS = 20_000;
const TOPIC_READY_WAIT_MS = 15_000;
const DEFAULT_MAX_RECORDS = 500;
const DEFAULT_MAX_BYTES = 1024 * 1024;

interface TopicMeta {
  readonly partitions: ReadonlyMap<number, number>; // partition → leader node id
  readonly at: number;
  readonly replicationFactor: number | undefined;
}

/** The Backend port over Kafka. */
export class KafkaBackend implements Backend {
  readonly kind = 'kafka' as const;

  private readonly options: Required<Omit<KafkaBackendOptions, 'logger'>>;
  private readonly log: Logger;
  private readonly kjsLog: KafkaJsLogger;
  private readonly cluster: Cluster;
  private readonly admin: Admin;
  private readonly fetchers: FetchConnections;
  private readonly roundRobin = new RoundRobin();
  private readonly topics = new Map<string, TopicMeta>();
  private readonly nodes = new Map<number, BrokerAddress>();
  /** Aborted by close(): pending long-polls resolve empty. */
  private readonly closing = new AbortController();
  private state: 'new' | 'started' | 'closed' = 'new';

  constructor(options: KafkaBackendOptions) {
    this.options = {
      brokers: options.brokers,
      clientId: options.clientId ?? 'streamgate',
      acks: options.acks ?? -1,
      connectionTimeoutMs: options.connectionTimeoutMs ?? 3000,
      requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
      maxConcurrentFetches: options.maxConcurrentFetches ?? 64,
    };
    this.log = options.logger;
    const logSettings = kafkaJsLogSettings(this.log);
    this.kjsLog = kafkaJsLogger(logSettings);
    // Few, short retries: an unreachable cluster must surface as UNAVAILABLE within seconds, and
    // the callers (hub readers, protocol clients) retry on their own terms.
    const retry = { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 };
    this.cluster = createCluster({
      logger: this.kjsLog,
      socketFactory: defaultSocketFactory(),
      brokers: this.options.brokers,
      clientId: this.options.clientId,
      connectionTimeout: this.options.connectionTimeoutMs,
      requestTimeout: this.options.requestTimeoutMs,
      enforceRequestTimeout: true,
      metadataMaxAge: 300_000,
      retry,
      allowAutoTopicCreation: false,
      maxInFlightRequests: null,
      isolationLevel: READ_COMMITTED,
    });
    this.admin = new Kafka({
      brokers: this.options.brokers,
      clientId: this.options.clientId,
      connectionTimeout: this.options.connectionTimeoutMs,
      requestTimeout: this.options.requestTimeoutMs,
      retry,
      logLevel: logSettings.logLevel,
      logCreator: logSettings.logCreator,
    }).admin();
    this.fetchers = new FetchConnections(this.options.maxConcurrentFetches, (address) =>
      createBrokerConnection(this.cluster, this.kjsLog, address),
    );
  }

  /** Connects to the cluster. UNAVAILABLE if no bootstrap broker answers. */
  async start(): Promise<void> {
    if (this.state === 'closed') throw new GatewayError('UNAVAILABLE', 'The Kafka backend is closed.');
    if (this.state === 'started') return;
    try {
      await this.cluster.connect();
      await this.cluster.refreshMetadata();
      await this.admin.connect();
      await this.refreshNodes();
    } catch (err) {
      await this.disconnectAll();
      const cause = classify(err);
      throw new GatewayError('UNAVAILABLE', `Kafka at ${this.options.brokers.join(',')} is unreachable.`, { cause });
    }
    this.state = 'started';
    this.log.info({ brokers: this.options.brokers }, 'connected to Kafka');
  }

  /** Disconnects everything; pending long-polls resolve empty. Idempotent. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.closing.abort();
    await this.disconnectAll();
  }

  private async disconnectAll(): Promise<void> {
    const results = await Promise.allSettled([this.fetchers.close(), this.cluster.disconnect(), this.admin.disconnect()]);
    for (const r of results) {
      if (r.status === 'rejected') this.log.warn({ err: r.reason }, 'error while disconnecting from Kafka');
    }
  }

  /** A cheap round trip (ApiVersions) to any broker, bounded by a short timeout. Never throws. */
  async healthy(): Promise<boolean> {
    if (this.state !== 'started') return false;
    const probe = (async () => {
      const connection = await this.cluster.brokerPool.findConnectedBroker();
      await connection.apiVersions();
      return true;
    })();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), HEALTH_TIMEOUT_MS);
    });
    try {
      return await Promise.race([probe, timeout]);
    } catch (err) {
      this.log.debug({ err }, 'Kafka health probe failed');
      return false;
    } finally {
      clearTimeout(timer);
      // A probe still running after the timeout settles later; its failure was already answered.
      probe.catch((err: unknown) => this.log.debug({ err }, 'late Kafka health probe failure'));
    }
  }

  // ---------------------------------------------------------------- topics

  async listTopics(): Promise<TopicInfo[]> {
    this.ensureOpen();
    const metadata = await this.call(() => this.anyBrokerMetadata([]));
    return metadata.topicMetadata
      .filter((t) => !t.topic.startsWith('__') && t.isInternal !== true)
      .map((t) => ({ name: t.topic, partitions: t.partitionMetadata.length, config: {}, replicationFactor: replicationOf(t.partitionMetadata) }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  async describeTopic(topic: string): Promise<TopicInfo> {
    this.ensureOpen();
    const meta = await this.topicMeta(topic, true);
    const config: Record<string, string> = {};
    const described = await this.call(() =>
      this.admin.describeConfigs({
        includeSynonyms: false,
        resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: DESCRIBED_CONFIGS }],
      }),
    );
    for (const resource of described.resources) {
      for (const entry of resource.configEntries) {
        if (entry.configValue !== null && entry.configValue !== undefined) config[entry.configName] = entry.configValue;
      }
    }
    return { name: topic, partitions: meta.partitions.size, config, ...(meta.replicationFactor === undefined ? {} : { replicationFactor: meta.replicationFactor }) };
  }

  async createTopic(topic: string, options: CreateTopicOptions = {}): Promise<void> {
    this.ensureOpen();
    const configEntries = Object.entries({
      ...(options.compacted ? { 'cleanup.policy': 'compact' } : {}),
      ...options.config,
    }).map(([name, value]) => ({ name, value }));
    const partitions = options.partitions ?? 1;
    const created = await this.call(() =>
      this.admin.createTopics({
        waitForLeaders: false,
        timeout: this.options.requestTimeoutMs,
        topics: [{ topic, numPartitions: partitions, configEntries, ...(options.replicationFactor === undefined ? {} : { replicationFactor: options.replicationFactor }) }],
      }),
    );
    if (!created) throw new GatewayError('ALREADY_EXISTS', `Topic "${topic}" already exists.`, { details: { topic } });
    this.topics.delete(topic);
    await this.waitUntilServable(topic, partitions);
  }

  /**
   * A new topic is usable once every partition has a leader that answers ListOffsets. kafkajs's
   * own wait gives up with "This server does not host this topic-partition" on a busy fresh
   * broker, so poll our own way for a bounded time.
   */
  private async waitUntilServable(topic: string, partitions: number): Promise<void> {
    const deadline = Date.now() + TOPIC_READY_WAIT_MS;
    for (;;) {
      try {
        const meta = await this.topicMeta(topic, true);
        const all = Array.from({ length: partitions }, (_, p) => p);
        if (all.every((p) => (meta.partitions.get(p) ?? -1) >= 0)) {
          await this.partitionBounds(topic, all);
          return;
        }
      } catch (err) {
        const error = classify(err);
        if (!error.retriable && error.code !== 'TOPIC_NOT_FOUND' && error.code !== 'PARTITION_NOT_FOUND') throw error;
        if (Date.now() > deadline) throw new GatewayError('UNAVAILABLE', `Topic "${topic}" was created but its partitions did not become available in time.`, { cause: err });
      }
      if (Date.now() > deadline) throw new GatewayError('UNAVAILABLE', `Topic "${topic}" was created but its partitions have no leader yet.`);
      this.topics.delete(topic);
      await delay(100);
    }
  }

  async deleteTopic(topic: string): Promise<void> {
    this.ensureOpen();
    try {
      await this.call(() => this.admin.deleteTopics({ topics: [topic], timeout: this.options.requestTimeoutMs }), { topic });
    } finally {
      this.topics.delete(topic);
    }
  }

  async deleteRecords(topic: string, partition: number, before: bigint): Promise<void> {
    this.ensureOpen();
    await this.ensurePartition(topic, partition);
    try {
      const leader = await this.leaderOf(topic, partition, false);
      await leader.deleteRecords({ topics: [{ topic, partitions: [{ partition, offset: before.toString() }] }] });
    } catch (err) {
      if (kafkaType(err) === 'OFFSET_OUT_OF_RANGE') {
        const bounds = (await this.partitionBounds(topic, [partition])).get(partition)!;
        throw new GatewayError('OUT_OF_RANGE', `Offset ${before} is beyond the end of ${topic}/${partition} (${bounds.latest}).`, {
          cause: err,
          details: { earliest: bounds.earliest.toString(), latest: bounds.latest.toString() },
        });
      }
      if (kafkaType(err) === 'UNKNOWN_TOPIC_OR_PARTITION') this.topics.delete(topic);
      throw classify(err, { topic, partition });
    }
  }

  // ---------------------------------------------------------------- produce

  async produce(topic: string, records: ProduceRecord[], options: ProduceOptions = {}): Promise<ProduceResult[]> {
    this.ensureOpen();
    throwIfAborted(options.signal);
    if (records.length === 0) return [];
    const acks = options.acks ?? this.options.acks;

    // Validate the whole batch before anything is sent: nothing half-written on a bad partition.
    let meta = await this.topicMeta(topic);
    const explicit = records.filter((r) => r.partition !== undefined).map((r) => r.partition as number);
    if (explicit.some((p) => !meta.partitions.has(p))) {
      meta = await this.topicMeta(topic, true);
      const missing = explicit.find((p) => !meta.partitions.has(p));
      if (missing !== undefined) {
        throw new GatewayError('PARTITION_NOT_FOUND', `Topic "${topic}" has no partition ${missing}.`, {
          details: { topic, partition: missing, partitions: meta.partitions.size },
        });
      }
    }

    // Partition choice: explicit, else Java-compatible murmur2 of the key, else round-robin.
    const count = meta.partitions.size;
    const now = Date.now();
    const byPartition = new Map<number, number[]>();
    records.forEach((r, i) => {
      const p = r.partition ?? (r.key != null ? partitionForKey(r.key, count) : this.roundRobin.pick(topic, count));
      const list = byPartition.get(p);
      if (list) list.push(i);
      else byPartition.set(p, [i]);
    });

    const results = new Array<ProduceResult>(records.length);
    const work = Promise.all(
      [...byPartition].map(async ([partition, indexes]) => {
        const messages = indexes.map((i) => toMessage(records[i], now));
        try {
          const { baseOffset, logAppendTime } = await this.producePartition(topic, partition, messages, acks);
          indexes.forEach((recordIndex, j) => {
            results[recordIndex] = {
              ok: true,
              partition,
              // acks=0: the broker does not answer, so the offset is unknown (-1).
              offset: baseOffset < 0n ? -1n : baseOffset + BigInt(j),
              timestamp: logAppendTime >= 0 ? logAppendTime : messages[j].timestamp,
            };
          });
        } catch (err) {
          const error = classify(err, { topic, partition });
          if (error.code === 'TOPIC_NOT_FOUND') this.topics.delete(topic);
          this.logFailure(error, 'produce failed', { topic, partition, records: indexes.length });
          for (const recordIndex of indexes) results[recordIndex] = { ok: false, partition, error };
        }
      }),
    );
    await raceSignal(work, options.signal);
    return results;
  }

  private async producePartition(
    topic: string,
    partition: number,
    messages: KafkaJsMessage[],
    acks: -1 | 0 | 1,
  ): Promise<{ baseOffset: bigint; logAppendTime: number }> {
    for (let attempt = 0; ; attempt++) {
      const leader = await this.leaderOf(topic, partition, attempt > 0);
      try {
        const response = await leader.produce({
          acks,
          timeout: this.options.requestTimeoutMs,
          topicData: [{ topic, partitions: [{ partition, messages }] }],
        });
        if (acks === 0) return { baseOffset: -1n, logAppendTime: -1 };
        const answer = response.topics.find((t) => t.topicName === topic)?.partitions.find((p) => p.partition === partition);
        if (!answer) throw new GatewayError('INTERNAL', `Kafka did not answer for ${topic}/${partition}.`);
        return { baseOffset: BigInt(answer.baseOffset), logAppendTime: Number(answer.logAppendTime) };
      } catch (err) {
        // Refused before anything was appended (stale leader, topic still propagating): safe to
        // send again after a metadata refresh. Transport errors are not retried: the batch may
        // have been written, and a resend would duplicate it.
        const type = kafkaType(err);
        const refusedStale = type !== undefined && (STALE_METADATA_TYPES.has(type) || type === 'UNKNOWN_TOPIC_OR_PARTITION');
        if (!refusedStale || attempt >= STALE_METADATA_RETRIES) throw err;
        await delay(100 * (attempt + 1));
      }
    }
  }

  // ---------------------------------------------------------------- fetch

  async fetch(topic: string, partition: number, offset: bigint, options: FetchOptions = {}): Promise<FetchResult> {
    this.ensureOpen();
    throwIfAborted(options.signal);
    try {
      return await this.fetchPartition(topic, partition, offset, options);
    } catch (err) {
      // close() while this fetch was anywhere on its way (metadata, waiting for a connection,
      // long-polling): it resolves empty, as the port promises.
      if (this.closing.signal.aborted) return { records: [], nextOffset: offset, latest: offset, earliest: offset };
      if (options.signal?.aborted) throw abortError(options.signal);
      throw err;
    }
  }

  private async fetchPartition(topic: string, partition: number, offset: bigint, options: FetchOptions): Promise<FetchResult> {
    const maxRecords = Math.max(1, options.maxRecords ?? DEFAULT_MAX_RECORDS);
    const maxBytes = Math.max(1, options.maxBytes ?? DEFAULT_MAX_BYTES);
    const waitMs = Math.max(0, Math.floor(options.waitMs ?? 0));
    const signal = options.signal ? AbortSignal.any([options.signal, this.closing.signal]) : this.closing.signal;

    for (let attempt = 0; ; attempt++) {
      await this.ensurePartition(topic, partition);
      const address = await this.leaderAddress(topic, partition, attempt > 0);
      let outcome: FetchOutcome;
      try {
        outcome = await this.fetchers.run(address, signal, (connection) =>
          connection.fetch({
            replicaId: -1,
            isolationLevel: READ_COMMITTED,
            maxWaitTime: waitMs,
            minBytes: 1,
            maxBytes: Math.min(maxBytes, 50 * DEFAULT_MAX_BYTES),
            topics: [{ topic, partitions: [{ partition, fetchOffset: offset.toString(), maxBytes }] }],
          }),
        );
      } catch (err) {
        if (signal.aborted) throw err;
        const type = kafkaType(err);
        if (type === 'OFFSET_OUT_OF_RANGE') {
          const [bounds] = (await this.partitionBounds(topic, [partition])).values();
          throw new GatewayError('OUT_OF_RANGE', `Offset ${offset} is outside ${topic}/${partition} [${bounds.earliest}, ${bounds.latest}].`, {
            cause: err,
            details: { earliest: bounds.earliest.toString(), latest: bounds.latest.toString() },
          });
        }
        if (type === 'UNKNOWN_TOPIC_OR_PARTITION') this.topics.delete(topic);
        if (type !== undefined && STALE_METADATA_TYPES.has(type) && attempt < STALE_METADATA_RETRIES) {
          await delay(100 * (attempt + 1));
          continue;
        }
        if (waitMs > 0 && codeOf(err) === 'TIMEOUT') {
          // kafkajs gives a long-poll only 100 ms beyond its wait before timing it out, which a
          // busy event loop can miss although the broker answered "nothing new" in time. A fetch
          // has no side effects, so this is an empty answer if the broker still answers now.
          const bounds = (await this.partitionBounds(topic, [partition])).get(partition)!;
          if (offset >= bounds.earliest && offset <= bounds.latest) {
            return { records: [], nextOffset: offset, latest: bounds.latest, earliest: bounds.earliest };
          }
        }
        throw classify(err, { topic, partition });
      }
      return this.decodeFetch(topic, partition, offset, outcome, maxRecords, maxBytes);
    }
  }

  private async decodeFetch(
    topic: string,
    partition: number,
    offset: bigint,
    response: FetchOutcome,
    maxRecords: number,
    maxBytes: number,
  ): Promise<FetchResult> {
    const answer = response.responses.find((r) => r.topicName === topic)?.partitions.find((p) => p.partition === partition);
    if (!answer) throw new GatewayError('INTERNAL', `Kafka did not answer the fetch for ${topic}/${partition}.`);
    const latest = BigInt(answer.highWatermark);
    const logStart = BigInt(answer.lastStartOffset ?? '-1');
    const earliest = logStart >= 0n ? logStart : (await this.partitionBounds(topic, [partition])).get(partition)!.earliest;

    // A fetch returns whole record batches: drop what lies before the requested offset, then
    // control records and records of aborted transactions.
    const inRange = answer.messages.filter((m) => BigInt(m.offset) >= offset);
    const visible = filterAbortedMessages(inRange, answer.abortedTransactions ?? []).filter((m) => !m.isControlRecord);

    // Without trimming, continue after the last batch returned (it may end in records that
    // compaction removed or that were filtered above).
    let nextOffset = offset;
    for (const m of inRange) {
      const batchEnd = BigInt(m.batchContext.firstOffset) + BigInt(m.batchContext.lastOffsetDelta) + 1n;
      if (batchEnd > nextOffset) nextOffset = batchEnd;
    }
    if (nextOffset > latest) nextOffset = latest > offset ? latest : offset;

    const records: StreamRecord[] = [];
    let bytes = 0;
    for (const m of visible) {
      const record = toStreamRecord(topic, partition, m);
      const size = recordSize(record);
      if (records.length >= maxRecords || (records.length > 0 && bytes + size > maxBytes)) {
        nextOffset = records[records.length - 1].offset + 1n;
        break;
      }
      records.push(record);
      bytes += size;
    }
    return { records, nextOffset, latest, earliest };
  }

  // ---------------------------------------------------------------- offsets

  async offsets(topic: string): Promise<PartitionOffsets[]> {
    this.ensureOpen();
    const meta = await this.topicMeta(topic);
    const bounds = await this.partitionBounds(topic, [...meta.partitions.keys()]);
    return [...bounds.values()].sort((a, b) => a.partition - b.partition);
  }

  async offsetsForTimestamp(topic: string, timestamp: number): Promise<Map<number, bigint>> {
    this.ensureOpen();
    const meta = await this.topicMeta(topic);
    const partitions = [...meta.partitions.keys()];
    const [found, latest] = await Promise.all([
      this.listOffsets(topic, partitions, timestamp, READ_UNCOMMITTED),
      this.listOffsets(topic, partitions, LATEST_TIMESTAMP, READ_UNCOMMITTED),
    ]);
    const result = new Map<number, bigint>();
    for (const p of partitions.sort((a, b) => a - b)) {
      const at = found.get(p) ?? -1n;
      // -1: no record at or after the timestamp; reading starts where the next record goes.
      result.set(p, at >= 0n ? at : latest.get(p)!);
    }
    return result;
  }

  /** Earliest (log start) and latest (high watermark) of partitions. */
  private async partitionBounds(topic: string, partitions: number[]): Promise<Map<number, PartitionOffsets>> {
    const [earliest, latest] = await Promise.all([
      this.listOffsets(topic, partitions, EARLIEST_TIMESTAMP, READ_UNCOMMITTED),
      this.listOffsets(topic, partitions, LATEST_TIMESTAMP, READ_UNCOMMITTED),
    ]);
    const out = new Map<number, PartitionOffsets>();
    for (const p of partitions) out.set(p, { partition: p, earliest: earliest.get(p)!, latest: latest.get(p)! });
    return out;
  }

  /** One ListOffsets request per leader; `timestamp` -2 = earliest, -1 = latest, else a time. */
  private async listOffsets(topic: string, partitions: number[], timestamp: number, isolationLevel: number): Promise<Map<number, bigint>> {
    for (let attempt = 0; ; attempt++) {
      const meta = await this.topicMeta(topic, attempt > 0);
      const byLeader = new Map<number, number[]>();
      for (const p of partitions) {
        const leader = meta.partitions.get(p);
        if (leader === undefined) throw new GatewayError('PARTITION_NOT_FOUND', `Topic "${topic}" has no partition ${p}.`, { details: { topic, partition: p } });
        byLeader.set(leader, [...(byLeader.get(leader) ?? []), p]);
      }
      try {
        const out = new Map<number, bigint>();
        await Promise.all(
          [...byLeader].map(async ([nodeId, ps]) => {
            const connection = await this.nodeConnection(nodeId);
            const response = await connection.listOffsets({
              replicaId: -1,
              isolationLevel,
              topics: [{ topic, partitions: ps.map((partition) => ({ partition, timestamp })) }],
            });
            for (const t of response.responses) {
              for (const p of t.partitions) out.set(p.partition, BigInt(p.offset));
            }
          }),
        );
        return out;
      } catch (err) {
        const type = kafkaType(err);
        if (type !== undefined && STALE_METADATA_TYPES.has(type) && attempt < STALE_METADATA_RETRIES) {
          await delay(100 * (attempt + 1));
          continue;
        }
        if (type === 'UNKNOWN_TOPIC_OR_PARTITION') this.topics.delete(topic);
        throw classify(err, { topic });
      }
    }
  }

  // ---------------------------------------------------------------- group offsets

  async commitOffsets(group: string, offsets: CommittedOffset[]): Promise<void> {
    this.ensureOpen();
    if (offsets.length === 0) return;
    const byTopic = new Map<string, { partition: number; offset: string; metadata: string | null }[]>();
    for (const o of offsets) {
      const list = byTopic.get(o.topic) ?? [];
      list.push({ partition: o.partition, offset: o.offset.toString(), metadata: o.metadata ?? null });
      byTopic.set(o.topic, list);
    }
    const topics = [...byTopic].map(([topic, partitions]) => ({ topic, partitions }));
    // A standalone ("simple") commit: generation -1 and no member id, as Kafka's own tools do
    // for groups that are not actively consuming through the group protocol.
    await this.withCoordinator(group, (coordinator) =>
      coordinator.offsetCommit({ groupId: group, groupGenerationId: -1, memberId: '', retentionTime: -1, topics }),
    );
  }

  async committedOffsets(group: string, topics: string[]): Promise<CommittedOffset[]> {
    this.ensureOpen();
    const request: { topic: string; partitions: { partition: number }[] }[] = [];
    for (const topic of new Set(topics)) {
      let meta: TopicMeta;
      try {
        meta = await this.topicMeta(topic);
      } catch (err) {
        // A topic that no longer exists has no partitions to report.
        if (err instanceof GatewayError && err.code === 'TOPIC_NOT_FOUND') continue;
        throw err;
      }
      request.push({ topic, partitions: [...meta.partitions.keys()].map((partition) => ({ partition })) });
    }
    if (request.length === 0) return [];
    const response = await this.withCoordinator(group, (coordinator) => coordinator.offsetFetch({ groupId: group, topics: request }));
    const out: CommittedOffset[] = [];
    for (const t of response.responses) {
      for (const p of t.partitions) {
        const offset = BigInt(p.offset);
        // -1: the group has no commit for this partition.
        if (offset < 0n) continue;
        out.push({ topic: t.topic, partition: p.partition, offset, metadata: p.metadata ?? null });
      }
    }
    return out;
  }

  async groupOffsets(group: string): Promise<CommittedOffset[]> {
    this.ensureOpen();
    const response = await this.groupAdmin(() => this.admin.fetchOffsets({ groupId: group }), { group });
    const out: CommittedOffset[] = [];
    for (const t of response) {
      for (const p of t.partitions) {
        const offset = BigInt(p.offset);
        if (offset >= 0n) out.push({ topic: t.topic, partition: p.partition, offset, metadata: p.metadata ?? null });
      }
    }
    return out.sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
  }

  // ---------------------------------------------------------------- cluster and group admin

  async describeCluster(): Promise<ClusterInfo> {
    this.ensureOpen();
    const cluster = await this.call(() => this.admin.describeCluster());
    return { clusterId: cluster.clusterId, controller: cluster.controller ?? null, brokers: cluster.brokers.map((b) => b.nodeId).sort((a, b) => a - b) };
  }

  async describePartitions(topic: string): Promise<PartitionReplicas[]> {
    this.ensureOpen();
    await this.topicMeta(topic, true);
    const { topics } = await this.call(() => this.admin.fetchTopicMetadata({ topics: [topic] }), { topic });
    const partitions = topics.find((t) => t.name === topic)?.partitions ?? [];
    return partitions
      .map((p) => ({ partition: p.partitionId, leader: p.leader >= 0 ? p.leader : null, replicas: [...p.replicas], isr: [...p.isr] }))
      .sort((a, b) => a.partition - b.partition);
  }

  async topicConfigs(topic: string): Promise<TopicConfigEntry[]> {
    this.ensureOpen();
    await this.topicMeta(topic, true);
    const described = await this.call(() => this.admin.describeConfigs({ includeSynonyms: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic }] }), { topic });
    const out: TopicConfigEntry[] = [];
    for (const resource of described.resources) {
      for (const e of resource.configEntries) {
        out.push({
          name: e.configName,
          value: e.isSensitive ? null : (e.configValue ?? null),
          isDefault: e.isDefault,
          isReadOnly: e.readOnly,
          isSensitive: e.isSensitive,
          source: CONFIG_SOURCES[e.configSource] ?? 'UNKNOWN',
        });
      }
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async listGroups(): Promise<BackendGroup[]> {
    this.ensureOpen();
    const { groups } = await this.groupAdmin(() => this.admin.listGroups());
    const ids = groups.map((g) => g.groupId).sort();
    const out: BackendGroup[] = [];
    // DescribeGroups per batch: one request per coordinator inside kafkajs.
    for (let i = 0; i < ids.length; i += 100) {
      const described = await this.groupAdmin(() => this.admin.describeGroups(ids.slice(i, i + 100)));
      for (const g of described.groups) out.push(this.backendGroup(g));
    }
    return out.sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : 0));
  }

  async describeGroup(group: string): Promise<BackendGroup | undefined> {
    this.ensureOpen();
    const described = await this.groupAdmin(() => this.admin.describeGroups([group]), { group });
    const g = described.groups.find((x) => x.groupId === group);
    // Kafka answers DEAD for a group it does not know; a group that only committed offsets is EMPTY.
    if (g === undefined || (groupState(g.state) === 'DEAD' && g.members.length === 0)) return undefined;
    return this.backendGroup(g);
  }

  private backendGroup(g: kafkajs.GroupDescription): BackendGroup {
    return {
      group: g.groupId,
      protocolType: g.protocolType,
      state: groupState(g.state),
      protocol: g.protocol,
      members: g.members.map((m) => {
        let assignment: { topic: string; partition: number }[] = [];
        try {
          const decoded = m.memberAssignment.length > 0 ? AssignerProtocol.MemberAssignment.decode(m.memberAssignment) : null;
          if (decoded !== null) assignment = Object.entries(decoded.assignment).flatMap(([topic, ps]) => ps.map((partition) => ({ topic, partition })));
        } catch {
          // Not the consumer protocol's assignment (e.g. a Connect worker's): no partitions to show.
        }
        return { memberId: m.memberId, clientId: m.clientId, host: m.clientHost, instanceId: null, assignment };
      }),
    };
  }

  private async withCoordinator<T>(group: string, action: (coordinator: BrokerConnection) => Promise<T>): Promise<T> {
    // On a fresh cluster the first group request creates __consumer_offsets, whose 50 partitions
    // take seconds to load: keep retrying coordinator errors for a bounded time, not a count.
    const deadline = Date.now() + COORDINATOR_WAIT_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        const coordinator = await this.cluster.findGroupCoordinator({ groupId: group });
        return await action(coordinator);
      } catch (err) {
        const type = kafkaType(err);
        if (type !== undefined && COORDINATOR_TYPES.has(type) && Date.now() < deadline) {
          await delay(Math.min(1000, 100 * (attempt + 1)));
          continue;
        }
        throw classify(err, { group });
      }
    }
  }

  // ---------------------------------------------------------------- metadata

  /** Metadata of one topic, cached for METADATA_TTL_MS; `fresh` asks the cluster again. TOPIC_NOT_FOUND if missing. */
  private async topicMeta(topic: string, fresh = false): Promise<TopicMeta> {
    const cached = this.topics.get(topic);
    if (!fresh && cached && Date.now() - cached.at < METADATA_TTL_MS) return cached;
    for (let attempt = 0; ; attempt++) {
      try {
        const metadata = await this.anyBrokerMetadata([topic]);
        const t = metadata.topicMetadata.find((x) => x.topic === topic);
        if (!t) throw new GatewayError('TOPIC_NOT_FOUND', `Topic "${topic}" does not exist.`, { details: { topic } });
        const meta: TopicMeta = { partitions: new Map(t.partitionMetadata.map((p) => [p.partitionId, p.leader])), at: Date.now(), replicationFactor: replicationOf(t.partitionMetadata) };
        this.topics.set(topic, meta);
        return meta;
      } catch (err) {
        this.topics.delete(topic);
        const type = kafkaType(err);
        // A topic just created may not have its leaders elected yet.
        if (type === 'LEADER_NOT_AVAILABLE' && attempt < STALE_METADATA_RETRIES) {
          await delay(100 * (attempt + 1));
          continue;
        }
        if (type === 'UNKNOWN_TOPIC_OR_PARTITION') {
          throw new GatewayError('TOPIC_NOT_FOUND', `Topic "${topic}" does not exist.`, { cause: err, details: { topic } });
        }
        throw classify(err, { topic });
      }
    }
  }

  /** A Metadata request (for `topics`, or all topics when empty) to any reachable broker; remembers broker addresses. */
  private async anyBrokerMetadata(topics: string[]): Promise<MetadataResponse> {
    const connection = await this.cluster.brokerPool.findConnectedBroker();
    const metadata = await connection.metadata(topics);
    for (const b of metadata.brokers) this.nodes.set(b.nodeId, b);
    return metadata;
  }

  private async refreshNodes(): Promise<void> {
    await this.anyBrokerMetadata([]);
  }

  private async ensurePartition(topic: string, partition: number): Promise<void> {
    let meta = await this.topicMeta(topic);
    if (meta.partitions.has(partition)) return;
    meta = await this.topicMeta(topic, true);
    if (!meta.partitions.has(partition)) {
      throw new GatewayError('PARTITION_NOT_FOUND', `Topic "${topic}" has no partition ${partition}.`, {
        details: { topic, partition, partitions: meta.partitions.size },
      });
    }
  }

  private async leaderOf(topic: string, partition: number, fresh: boolean): Promise<BrokerConnection> {
    const meta = await this.topicMeta(topic, fresh);
    const leader = meta.partitions.get(partition);
    if (leader === undefined || leader < 0) throw new GatewayError('UNAVAILABLE', `No leader for ${topic}/${partition}.`);
    return this.nodeConnection(leader);
  }

  /** The cluster's connection to a node; an unknown node id refreshes the broker list once. */
  private async nodeConnection(nodeId: number): Promise<BrokerConnection> {
    try {
      return await this.cluster.findBroker({ nodeId: String(nodeId) });
    } catch (err) {
      // kafkajs refreshed its broker list before rethrowing; a node that just appeared is there now.
      if ((err as { name?: unknown }).name !== 'KafkaJSBrokerNotFound') throw err;
      return this.cluster.findBroker({ nodeId: String(nodeId) });
    }
  }

  private async leaderAddress(topic: string, partition: number, fresh: boolean): Promise<BrokerAddress> {
    const meta = await this.topicMeta(topic, fresh);
    const leader = meta.partitions.get(partition);
    if (leader === undefined || leader < 0) throw new GatewayError('UNAVAILABLE', `No leader for ${topic}/${partition}.`);
    let address = this.nodes.get(leader);
    if (!address) {
      await this.call(() => this.refreshNodes());
      address = this.nodes.get(leader);
    }
    if (!address) throw new GatewayError('UNAVAILABLE', `Broker ${leader} (leader of ${topic}/${partition}) is unknown.`);
    return address;
  }

  // ---------------------------------------------------------------- helpers

  private ensureOpen(): void {
    if (this.state === 'closed') throw new GatewayError('UNAVAILABLE', 'The Kafka backend is closed.');
    if (this.state === 'new') throw new GatewayError('UNAVAILABLE', 'The Kafka backend is not started.');
  }

  /** Runs a kafkajs call, classifying whatever it throws. */
  /**
   * An admin group request (describeGroups, fetchOffsets, listGroups): like withCoordinator, it
   * keeps retrying coordinator errors for a bounded time — on a fresh cluster the first group
   * request meets a coordinator still loading `__consumer_offsets`, which kafkajs's admin retries
   * give up on after two attempts.
   */
  private async groupAdmin<T>(fn: () => Promise<T>, details?: Record<string, unknown>): Promise<T> {
    const deadline = Date.now() + COORDINATOR_WAIT_MS;
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (err) {
        const type = kafkaType(err);
        if (type !== undefined && COORDINATOR_TYPES.has(type) && Date.now() < deadline) {
          await delay(Math.min(1000, 100 * (attempt + 1)));
          continue;
        }
        throw classify(err, details);
      }
    }
  }

  private async call<T>(fn: () => Promise<T>, details?: Record<string, unknown>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw classify(err, details);
    }
  }

  private logFailure(error: GatewayError, msg: string, fields: Record<string, unknown>): void {
    // Client mistakes and outages at warn; anything unclassified is a gateway fault.
    if (error.code === 'INTERNAL') this.log.error({ ...fields, err: error.cause ?? error }, msg);
    else this.log.warn({ ...fields, code: error.code, err: error.cause ?? error }, msg);
  }
}

type FetchOutcome = Awaited<ReturnType<BrokerConnection['fetch']>>;

/**
 * Broker connections for fetches. Kafka answers the requests of one connection strictly in order,
 * so a long-poll would hold up every other request on its connection: each in-flight fetch gets a
 * connection (a BrokerConnection) of its own, reused afterwards. At most `limit` fetches run at once;
 * more wait in FIFO order (abortably).
 */
class FetchConnections {
  private readonly idle = new Map<number, BrokerConnection[]>();
  private readonly waiters: (() => void)[] = [];
  private running = 0;
  private closed = false;

  constructor(
    private readonly limit: number,
    private readonly create: (address: BrokerAddress) => Promise<BrokerConnection>,
  ) {}

  /**
   * Runs `request` on a connection to `address`. Resolves/rejects as soon as `signal` aborts (the
   * request itself finishes in the background and its connection is reused after).
   */
  async run<T>(address: BrokerAddress, signal: AbortSignal, request: (connection: BrokerConnection) => Promise<T>): Promise<T> {
    await this.acquireSlot(signal);
    let connection: BrokerConnection;
    try {
      connection = await this.take(address);
    } catch (err) {
      this.releaseSlot();
      throw err;
    }
    const pending = request(connection);
    pending.then(
      () => this.give(address.nodeId, connection, true),
      (err: unknown) => this.give(address.nodeId, connection, codeOf(err) !== 'UNAVAILABLE' && codeOf(err) !== 'TIMEOUT'),
    );
    return raceSignal(pending, signal);
  }

  private async acquireSlot(signal: AbortSignal): Promise<void> {
    throwIfAborted(signal);
    if (this.running < this.limit) {
      this.running++;
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const wake = (): void => {
        signal.removeEventListener('abort', onAbort);
        this.running++;
        resolve();
      };
      const onAbort = (): void => {
        const i = this.waiters.indexOf(wake);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(abortError(signal));
      };
      this.waiters.push(wake);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  private releaseSlot(): void {
    this.running--;
    this.waiters.shift()?.();
  }

  private async take(address: BrokerAddress): Promise<BrokerConnection> {
    const reusable = this.idle.get(address.nodeId)?.pop();
    if (reusable) return reusable;
    const connection = await this.create(address);
    try {
      await connection.connect();
    } catch (err) {
      await connection.disconnect().catch(() => undefined);
      throw err;
    }
    return connection;
  }

  private give(nodeId: number, connection: BrokerConnection, reusable: boolean): void {
    this.releaseSlot();
    if (reusable && !this.closed) {
      const list = this.idle.get(nodeId) ?? [];
      list.push(connection);
      this.idle.set(nodeId, list);
      return;
    }
    // A connection that failed (or outlived close()) is dropped; a fresh one is opened next time.
    void connection.disconnect().catch(() => undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.idle.values()].flat();
    this.idle.clear();
    await Promise.allSettled(all.map((b) => b.disconnect()));
  }
}

function toMessage(r: ProduceRecord, now: number): KafkaJsMessage {
  const message: KafkaJsMessage = { key: r.key ?? null, value: r.value, timestamp: r.timestamp ?? now };
  const headers = toKafkaJsHeaders(r.headers ?? NO_HEADERS);
  if (headers !== undefined) message.headers = headers;
  return message;
}

/** Copies out of the fetch response buffer, so a kept record does not pin the whole response. */
function copy(b: Buffer | null): Buffer | null {
  return b === null ? null : Buffer.from(b);
}

function toStreamRecord(topic: string, partition: number, m: DecodedRecord): StreamRecord {
  return {
    topic,
    partition,
    offset: BigInt(m.offset),
    timestamp: Number(m.timestamp),
    key: copy(m.key),
    value: copy(m.value),
    headers: fromDecodedHeaders(m.headers),
  };
}

function abortError(signal: AbortSignal): GatewayError {
  return new GatewayError('CANCELLED', 'The operation was cancelled.', { cause: signal.reason });
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(signal);
}

/** Settles with `promise`, or rejects CANCELLED as soon as `signal` aborts. */
function raceSignal<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    // Once CANCELLED is reported, the late outcome of `promise` settles nothing (reject/resolve
    // of a settled promise are no-ops), but it is still observed, so it is never unhandled.
    const onAbort = (): void => reject(abortError(signal));
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
