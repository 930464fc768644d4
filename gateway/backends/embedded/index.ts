/**
 * The embedded backend: a durable single-node log on local disk with Kafka's semantics, so the
 * gateway runs on a bare machine. Storage is LMDB (the `lmdb` package, prebuilt binaries in the
 * npm package): one write transaction per produce call, and the produce resolves only after that
 * transaction is committed AND flushed to disk (lmdb's `overlappingSync` commits first and
 * flushes after; we await `flushed`), so an acknowledged record survives a process crash and a
 * power loss. lmdb runs the transaction callbacks in call order and may group the callbacks of
 * concurrent calls into one commit; each callback is still atomic, so a produce batch is never
 * half-written.
 *
 * Layout (ordered keys):
 *   topics    name                          → {partitions, config}
 *   parts     [topic, partition]            → {start, next, bytes, ix}  (log start, log end, size,
 *             offset the time index covers from)
 *   records   [topic, partition, offset]    → {t, k, v, h}
 *   tsegs, tindex                            → the time index (time-index.ts), written in the same
 *             transactions as the records, dropped with them
 *   latest    [topic, partition, sha256(key)] → offset of the newest record per key (compacted
 *             topics; hashed because LMDB keys are limited to ~2 KB and record keys are not)
 *   groups    [group, topic, partition]     → [committed offset, metadata]
 *
 * Offsets are dense per partition, start at 0 and never repeat: retention, compaction and
 * deleteRecords only delete records; `next` only grows. Compacted topics keep the newest record
 * per key (older ones are deleted when a newer one is written); a null value is a tombstone that
 * is kept as a record, like Kafka until its delete.retention.ms (we never drop tombstones yet).
 *
 * Retention (cleanup.policy containing `delete`): on every produce and every
 * `retentionCheckIntervalMs`, the oldest records are deleted while the partition is larger than
 * retention.bytes or the record is older than retention.ms (by record timestamp, from the log
 * start up to the first younger record). The newest record of a partition is never deleted by
 * retention (like Kafka's active segment), so an acknowledged record stays readable at least
 * until the next one arrives.
 *
 * offsetsForTimestamp uses a sparse time index like Kafka's (time-index.ts): per partition it reads
 * O(index segments) small summaries and at most `timeIndex.intervalRecords - 1` records, instead
 * of scanning from the log start. Partitions written before the index existed are scanned below
 * the offset the index starts at until the backfill started by `start()` has indexed them
 * (`timeIndexBackfill` resolves then).
 */
import { createHash } from 'node:crypto';
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import type { Logger } from 'pino';
import { GatewayError } from '../../errors.js';
import { NO_HEADERS, recordSize, type Headers, type PartitionOffsets, type ProduceRecord, type ProduceResult, type StreamRecord, type TopicInfo } from '../../record.js';
import { partitionForKey, RoundRobin } from '../partitioner.js';
import type { Backend, BackendGroup, ClusterInfo, CommittedOffset, PartitionReplicas, TopicConfigEntry, CreateTopicOptions, FetchOptions, FetchResult, ProduceOptions } from '../port.js';
import { TimeIndex, type SegmentSummary, type TimeIndexOptions } from './time-index.js';

/** Options of the embedded backend (from the `dataDir` and `embedded` config); absent bounds take the defaults named here. */
export interface EmbeddedBackendOptions {
  dataDir: string;
  /** Partitions of topics created without a count. */
  defaultPartitions?: number;
  /** Defaults for topics without retention.bytes / retention.ms config. */
  retention?: { maxBytesPerPartition?: number; maxAgeMs?: number };
  /** Largest record accepted (key + value + headers). */
  maxRecordBytes?: number;
  /** How often age retention runs besides on produce (default 60 s; 0 turns the timer off). */
  retentionCheckIntervalMs?: number;
  /** Shape of the time index behind offsetsForTimestamp (defaults: 32 records between entries, 16384 per segment). */
  timeIndex?: TimeIndexOptions;
  logger: Logger;
}

interface TopicMeta {
  partitions: number;
  config: Record<string, string>;
}

interface PartMeta {
  start: number;
  next: number;
  bytes: number;
  /**
   * The time index covers offsets from here on. 0 for partitions created with the index; absent
   * only in data dirs written before it (start() sets it to the log end, the backfill lowers it).
   */
  ix?: number;
}

interface StoredRecord {
  t: number;
  k: Buffer | null;
  v: Buffer | null;
  /**
   * Headers in order, as [name, bytes] pairs. Data dirs written before headers were an ordered
   * list hold a `{name: bytes}` object here; both read (see storedHeaders).
   */
  h: StoredHeaders;
}

type StoredHeaders = readonly (readonly [string, Uint8Array])[] | Readonly<Record<string, Uint8Array>> | undefined;

const MAX_OFFSET = Number.MAX_SAFE_INTEGER;

/** Above every topic name in LMDB's key order (topic names are ASCII). */
const MAX_TOPIC_KEY = '\u00ff';

/**
 * The data dir's cluster id: read, or generated once (a random UUID, base64url like Kafka's) and
 * written through a temp file and a rename, so a crash never leaves a half-written id.
 */
function loadClusterId(dataDir: string): string {
  const file = join(dataDir, 'cluster-id');
  try {
    const id = readFileSync(file, 'utf8').trim();
    if (/^[A-Za-z0-9_-]{1,64}$/.test(id)) return id;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const id = Buffer.from(randomUUID().replace(/-/g, ''), 'hex').toString('base64url');
  writeFileSync(`${file}.tmp`, `${id}\n`);
  renameSync(`${file}.tmp`, file);
  return id;
}

/** [offset, metadata] of a group commit. */
type StoredCommit = [number, string | null];

/** The durable local log. */
export class EmbeddedBackend implements Backend {
  readonly kind = 'embedded' as const;
  private root: RootDatabase | undefined;
  private topics!: Database<TopicMeta, string>;
  private parts!: Database<PartMeta, [string, number]>;
  private records!: Database<StoredRecord, [string, number, number]>;
  private latestByKey!: Database<number, [string, number, string]>;
  private groups!: Database<StoredCommit, [string, string, number]>;
  private timeIndex!: TimeIndex;
  private backfill: Promise<void> = Promise.resolve();
  /** Log end per partition as committed to disk: what readers may see. */
  private readonly committedNext = new Map<string, number>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly roundRobin = new RoundRobin();
  /** Write transactions not yet settled, so close() lets them finish before closing lmdb. */
  private readonly pendingWrites = new Set<Promise<unknown>>();
  private retentionTimer: NodeJS.Timeout | undefined;
  private closed = false;
  private started = false;
  private clusterId = '';

  constructor(private readonly options: EmbeddedBackendOptions) {}

  async start(): Promise<void> {
    if (this.started) return;
    try {
      mkdirSync(this.options.dataDir, { recursive: true });
      this.root = open({ path: join(this.options.dataDir, 'streamgate.lmdb'), maxDbs: 8 });
    } catch (err) {
      throw new GatewayError('UNAVAILABLE', `Cannot open the embedded log in ${this.options.dataDir}.`, { cause: err });
    }
    try {
      this.clusterId = loadClusterId(this.options.dataDir);
    } catch (err) {
      throw new GatewayError('UNAVAILABLE', `Cannot read or write the cluster id in ${this.options.dataDir}.`, { cause: err });
    }
    this.topics = this.root.openDB({ name: 'topics' });
    this.parts = this.root.openDB({ name: 'parts' });
    this.records = this.root.openDB({ name: 'records' });
    this.latestByKey = this.root.openDB({ name: 'latest' });
    this.groups = this.root.openDB({ name: 'groups' });
    this.timeIndex = new TimeIndex(
      this.root.openDB<SegmentSummary, [string, number, number]>({ name: 'tsegs' }),
      this.root.openDB<number, [string, number, number, number]>({ name: 'tindex' }),
      (topic, partition, from, to) => this.timestamps(topic, partition, from, to),
      this.options.timeIndex,
    );
    for (const { key, value } of this.parts.getRange()) this.committedNext.set(partKey(key[0], key[1]), value.next);
    this.started = true;
    // Data from before the time index: fix where the index starts (new records get indexed from the
    // log end on), then index the older records in the background; lookups scan them meanwhile.
    if ([...this.parts.getRange()].some(({ value }) => value.ix === undefined)) {
      await this.write(() => {
        for (const { key, value } of this.parts.getRange()) if (value.ix === undefined) this.parts.putSync(key, { ...value, ix: value.next });
      });
    }
    // Also partitions whose backfill a close() interrupted.
    const unindexed = [...this.parts.getRange()].filter(({ value }) => (value.ix ?? 0) > value.start).map(({ key }) => key);
    if (unindexed.length > 0) this.backfill = this.runBackfill(unindexed);
    const interval = this.options.retentionCheckIntervalMs ?? 60_000;
    if (interval > 0) {
      this.retentionTimer = setInterval(() => void this.runRetention(), interval);
      this.retentionTimer.unref();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.retentionTimer !== undefined) clearInterval(this.retentionTimer);
    for (const set of this.waiters.values()) for (const wake of set) wake();
    this.waiters.clear();
    // Their outcome (success or error) already went to their callers; only wait for them to end.
    await Promise.allSettled([...this.pendingWrites]);
    await this.root?.close();
  }

  /**
   * Resolves when the records of a data dir written before the time index existed are indexed
   * (at once for a data dir created with it). Lookups are correct before that, only slower.
   */
  timeIndexBackfill(): Promise<void> {
    return this.backfill;
  }

  async healthy(): Promise<boolean> {
    return this.started && !this.closed;
  }

  async listTopics(): Promise<TopicInfo[]> {
    this.checkOpen();
    const out: TopicInfo[] = [];
    for (const { key, value } of this.topics.getRange()) {
      if (!key.startsWith('__')) out.push({ name: key, partitions: value.partitions, config: { ...value.config }, replicationFactor: 1 });
    }
    return out;
  }

  async describeTopic(topic: string): Promise<TopicInfo> {
    const meta = this.topicMeta(topic);
    return { name: topic, partitions: meta.partitions, config: { ...meta.config }, replicationFactor: 1 };
  }

  async createTopic(topic: string, options: CreateTopicOptions = {}): Promise<void> {
    this.checkOpen();
    const partitions = options.partitions ?? this.options.defaultPartitions ?? 1;
    if (!Number.isInteger(partitions) || partitions < 1) throw new GatewayError('INVALID_ARGUMENT', 'A topic needs at least one partition.');
    if (options.replicationFactor !== undefined && options.replicationFactor !== 1) {
      throw new GatewayError('INVALID_ARGUMENT', `The embedded log keeps one copy of every partition: replication factor ${options.replicationFactor} is not possible.`);
    }
    const config: Record<string, string> = { 'cleanup.policy': options.compacted === true ? 'compact' : 'delete', ...options.config };
    await this.write(() => {
      if (this.topics.get(topic) !== undefined) throw new GatewayError('ALREADY_EXISTS', `Topic ${topic} already exists.`);
      this.topics.putSync(topic, { partitions, config });
      for (let p = 0; p < partitions; p++) this.parts.putSync([topic, p], { start: 0, next: 0, bytes: 0, ix: 0 });
    });
    for (let p = 0; p < partitions; p++) this.committedNext.set(partKey(topic, p), 0);
  }

  async deleteTopic(topic: string): Promise<void> {
    const meta = this.topicMeta(topic);
    await this.write(() => {
      this.topics.removeSync(topic);
      for (let p = 0; p < meta.partitions; p++) {
        this.parts.removeSync([topic, p]);
        for (const key of this.records.getKeys({ start: [topic, p, 0], end: [topic, p, MAX_OFFSET] })) this.records.removeSync(key);
        for (const key of this.latestByKey.getKeys({ start: [topic, p, ''], end: [topic, p + 1, ''] })) this.latestByKey.removeSync(key);
        this.timeIndex.dropPartition(topic, p);
      }
      // Kafka's group coordinator drops a deleted topic's committed offsets too; a re-created
      // topic must not inherit positions from its predecessor.
      for (const { key } of this.groups.getRange()) if (key[1] === topic) this.groups.removeSync(key);
    });
    for (let p = 0; p < meta.partitions; p++) {
      this.committedNext.delete(partKey(topic, p));
      this.wake(topic, p);
    }
  }

  async produce(topic: string, records: ProduceRecord[], options: ProduceOptions = {}): Promise<ProduceResult[]> {
    if (this.closed) {
      const error = new GatewayError('UNAVAILABLE', 'The embedded log is closed.');
      return records.map((r) => ({ ok: false, partition: r.partition ?? null, error }));
    }
    const meta = this.topicMeta(topic);
    const limit = this.options.maxRecordBytes ?? Number.MAX_SAFE_INTEGER;
    const now = Date.now();
    // Validate the whole batch before writing anything: nothing is half-written.
    const placed = records.map((record, index) => {
      const size = recordSize({ key: record.key ?? null, value: record.value, headers: record.headers ?? NO_HEADERS }) - 64;
      if (size > limit) throw new GatewayError('MESSAGE_TOO_LARGE', `Record ${index} is ${size} bytes; the limit is ${limit}.`, { details: { index, size, limit } });
      let partition = record.partition;
      if (partition !== undefined) {
        if (!Number.isInteger(partition) || partition < 0 || partition >= meta.partitions) {
          throw new GatewayError('PARTITION_NOT_FOUND', `Topic ${topic} has no partition ${partition} (it has ${meta.partitions}).`);
        }
      } else if (record.key !== undefined && record.key !== null) partition = partitionForKey(record.key, meta.partitions);
      else partition = this.roundRobin.pick(topic, meta.partitions);
      return { record, partition, size, timestamp: record.timestamp ?? now };
    });
    const compacted = meta.config['cleanup.policy']?.includes('compact') === true;
    const touched = new Map<number, number>();
    const offsets = await this.write(() => {
      const state = new Map<number, PartMeta>();
      const index = this.timeIndex.writer(topic);
      const result = placed.map(({ record, partition, size, timestamp }) => {
        let part = state.get(partition);
        if (part === undefined) {
          part = this.parts.get([topic, partition]);
          if (part === undefined) throw new GatewayError('TOPIC_NOT_FOUND', `Topic ${topic} does not exist.`);
          part = { ...part };
          state.set(partition, part);
        }
        const offset = part.next++;
        part.bytes += size;
        this.records.putSync([topic, partition, offset], { t: timestamp, k: record.key ?? null, v: record.value, h: (record.headers ?? NO_HEADERS).map((x) => [x.name, x.value] as const) });
        index.append(partition, offset, timestamp);
        if (compacted && record.key !== undefined && record.key !== null) {
          const keyString = keyHash(record.key);
          const previous = this.latestByKey.get([topic, partition, keyString]);
          if (previous !== undefined) this.removeRecord(topic, partition, previous, part);
          this.latestByKey.putSync([topic, partition, keyString], offset);
        }
        return offset;
      });
      // Before retention: it may drop the segments just appended to.
      index.finish();
      for (const [partition, part] of state) {
        this.applyRetention(topic, partition, part, meta, now);
        this.parts.putSync([topic, partition], part);
        touched.set(partition, part.next);
      }
      return result;
    }, options.signal);
    for (const [partition, next] of touched) {
      // Commits of concurrent calls can resolve in the same turn; the log end only grows.
      const k = partKey(topic, partition);
      this.committedNext.set(k, Math.max(next, this.committedNext.get(k) ?? 0));
      this.wake(topic, partition);
    }
    return placed.map(({ partition, timestamp }, i) => ({ ok: true, partition, offset: BigInt(offsets[i]!), timestamp }));
  }

  async fetch(topic: string, partition: number, offset: bigint, options: FetchOptions = {}): Promise<FetchResult> {
    this.checkOpen();
    const meta = this.topicMeta(topic);
    if (!Number.isInteger(partition) || partition < 0 || partition >= meta.partitions) {
      throw new GatewayError('PARTITION_NOT_FOUND', `Topic ${topic} has no partition ${partition} (it has ${meta.partitions}).`);
    }
    const from = Number(offset);
    let bounds = this.bounds(topic, partition);
    if (from < bounds.start || from > bounds.next) {
      throw new GatewayError('OUT_OF_RANGE', `Offset ${offset} of ${topic}/${partition} is outside the log [${bounds.start}, ${bounds.next}].`, {
        details: { earliest: String(bounds.start), latest: String(bounds.next) },
      });
    }
    if (from === bounds.next && (options.waitMs ?? 0) > 0) {
      await this.waitForData(topic, partition, options.waitMs!, options.signal);
      if (this.closed) return { records: [], nextOffset: offset, earliest: offset, latest: offset };
      if (this.topics.get(topic) === undefined) throw new GatewayError('TOPIC_NOT_FOUND', `Topic ${topic} does not exist.`);
      bounds = this.bounds(topic, partition);
    }
    const maxRecords = options.maxRecords ?? 500;
    const maxBytes = options.maxBytes ?? Number.MAX_SAFE_INTEGER;
    const records: StreamRecord[] = [];
    let bytes = 0;
    let nextOffset = from;
    for (const { key, value } of this.records.getRange({ start: [topic, partition, from], end: [topic, partition, bounds.next] })) {
      const record: StreamRecord = { topic, partition, offset: BigInt(key[2]), timestamp: value.t, key: toBuffer(value.k), value: toBuffer(value.v), headers: storedHeaders(value.h) };
      const size = recordSize(record);
      if (records.length > 0 && (records.length >= maxRecords || bytes + size > maxBytes)) break;
      records.push(record);
      bytes += size;
      nextOffset = key[2] + 1;
    }
    // Compacted partitions have gaps: an empty read below the end skips over them.
    if (records.length === 0 && from < bounds.next) nextOffset = bounds.next;
    return { records, nextOffset: BigInt(nextOffset), earliest: BigInt(bounds.start), latest: BigInt(bounds.next) };
  }

  async offsets(topic: string): Promise<PartitionOffsets[]> {
    const meta = this.topicMeta(topic);
    return Array.from({ length: meta.partitions }, (_, partition) => {
      const b = this.bounds(topic, partition);
      return { partition, earliest: BigInt(b.start), latest: BigInt(b.next) };
    });
  }

  async offsetsForTimestamp(topic: string, timestamp: number): Promise<Map<number, bigint>> {
    const meta = this.topicMeta(topic);
    const out = new Map<number, bigint>();
    for (let partition = 0; partition < meta.partitions; partition++) {
      const b = this.bounds(topic, partition);
      const indexedFrom = this.parts.get([topic, partition])?.ix ?? b.next;
      out.set(partition, BigInt(this.timeIndex.lookup(topic, partition, timestamp, b.start, b.next, indexedFrom)));
    }
    return out;
  }

  async deleteRecords(topic: string, partition: number, before: bigint): Promise<void> {
    const meta = this.topicMeta(topic);
    if (partition < 0 || partition >= meta.partitions) throw new GatewayError('PARTITION_NOT_FOUND', `Topic ${topic} has no partition ${partition}.`);
    await this.write(() => {
      const part = { ...this.parts.get([topic, partition])! };
      if (Number(before) > part.next) {
        throw new GatewayError('OUT_OF_RANGE', `Offset ${before} is beyond the log end ${part.next}.`, { details: { earliest: String(part.start), latest: String(part.next) } });
      }
      this.truncateBelow(topic, partition, part, Number(before));
      this.parts.putSync([topic, partition], part);
    });
  }

  async commitOffsets(group: string, offsets: CommittedOffset[]): Promise<void> {
    this.checkOpen();
    for (const o of offsets) this.topicMeta(o.topic);
    await this.write(() => {
      for (const o of offsets) this.groups.putSync([group, o.topic, o.partition], [Number(o.offset), o.metadata ?? null]);
    });
  }

  async committedOffsets(group: string, topics: string[]): Promise<CommittedOffset[]> {
    this.checkOpen();
    const out: CommittedOffset[] = [];
    for (const topic of topics) {
      for (const { key, value } of this.groups.getRange({ start: [group, topic, 0], end: [group, topic, MAX_OFFSET] })) {
        // Ranges of array keys compare element-wise; the check guards against neighbours.
        if (key[0] !== group || key[1] !== topic) continue;
        out.push({ topic, partition: key[2], offset: BigInt(value[0]), metadata: value[1] });
      }
    }
    return out;
  }

  async groupOffsets(group: string): Promise<CommittedOffset[]> {
    this.checkOpen();
    const out: CommittedOffset[] = [];
    for (const { key, value } of this.groups.getRange({ start: [group], end: [group, MAX_TOPIC_KEY] })) {
      if (key[0] !== group) continue;
      out.push({ topic: key[1], partition: key[2], offset: BigInt(value[0]), metadata: value[1] });
    }
    return out;
  }

  /** One node, no brokers: the id is generated at the first start and kept in `<dataDir>/cluster-id`. */
  async describeCluster(): Promise<ClusterInfo> {
    this.checkOpen();
    return { clusterId: this.clusterId, controller: null, brokers: [] };
  }

  async describePartitions(topic: string): Promise<PartitionReplicas[]> {
    const meta = this.topicMeta(topic);
    return Array.from({ length: meta.partitions }, (_, partition) => ({ partition, leader: null, replicas: [], isr: [] }));
  }

  /** The configs the embedded log acts on: the topic's own values, else the log's defaults. */
  async topicConfigs(topic: string): Promise<TopicConfigEntry[]> {
    const meta = this.topicMeta(topic);
    const defaults: Record<string, string> = {
      'cleanup.policy': 'delete',
      'max.message.bytes': String(this.options.maxRecordBytes ?? Number.MAX_SAFE_INTEGER),
      'retention.bytes': String(this.options.retention?.maxBytesPerPartition ?? -1),
      'retention.ms': String(this.options.retention?.maxAgeMs ?? -1),
    };
    return Object.keys(defaults)
      .sort()
      .map((name) => {
        const own = meta.config[name];
        return { name, value: own ?? defaults[name]!, isDefault: own === undefined, isReadOnly: false, isSensitive: false, source: own === undefined ? 'DEFAULT_CONFIG' : 'DYNAMIC_TOPIC_CONFIG' };
      });
  }

  /** Groups with committed offsets (the embedded log has no group protocol: no members, state EMPTY). */
  async listGroups(): Promise<BackendGroup[]> {
    this.checkOpen();
    const names: string[] = [];
    for (const key of this.groups.getKeys()) if (names[names.length - 1] !== key[0]) names.push(key[0]);
    return names.map((group) => ({ group, protocolType: '', state: 'EMPTY', protocol: '', members: [] }));
  }

  async describeGroup(group: string): Promise<BackendGroup | undefined> {
    this.checkOpen();
    for (const { key } of this.groups.getRange({ start: [group], end: [group, MAX_TOPIC_KEY] })) {
      if (key[0] === group) return { group, protocolType: '', state: 'EMPTY', protocol: '', members: [] };
    }
    return undefined;
  }

  /**
   * Runs `body` in one write transaction (lmdb runs queued transaction callbacks in call order)
   * and resolves once the transaction is committed and flushed to disk.
   */
  private write<T>(body: () => T, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted === true) return Promise.reject(new GatewayError('CANCELLED', 'The produce was cancelled before it was written.'));
    this.checkOpen();
    const root = this.root!;
    const run = (async (): Promise<T> => {
      const result = (await root.transaction(body)) as T;
      await root.flushed;
      return result;
    })();
    this.pendingWrites.add(run);
    const forget = (): void => void this.pendingWrites.delete(run);
    run.then(forget, forget);
    return run;
  }

  /** Age retention for every partition, run by the timer (size only grows on produce). */
  private async runRetention(): Promise<void> {
    if (this.closed || !this.started) return;
    const now = Date.now();
    try {
      await this.write(() => {
        for (const { key: topic, value: meta } of this.topics.getRange()) {
          for (let partition = 0; partition < meta.partitions; partition++) {
            const stored = this.parts.get([topic, partition]);
            if (stored === undefined) continue;
            const part = { ...stored };
            const start = part.start;
            this.applyRetention(topic, partition, part, meta, now);
            if (part.start !== start) this.parts.putSync([topic, partition], part);
          }
        }
      });
    } catch (err) {
      this.options.logger.error({ err }, 'embedded log: periodic retention failed');
    }
  }

  private applyRetention(topic: string, partition: number, part: PartMeta, meta: TopicMeta, now: number): void {
    if (meta.config['cleanup.policy'] === 'compact') return;
    const maxBytes = Number(meta.config['retention.bytes'] ?? this.options.retention?.maxBytesPerPartition ?? -1);
    const maxAge = Number(meta.config['retention.ms'] ?? this.options.retention?.maxAgeMs ?? -1);
    let cut = part.start;
    let bytes = part.bytes;
    for (const { key, value } of this.records.getRange({ start: [topic, partition, part.start], end: [topic, partition, part.next - 1] })) {
      const tooBig = maxBytes > 0 && bytes > maxBytes;
      const tooOld = maxAge > 0 && value.t < now - maxAge;
      if (!tooBig && !tooOld) break;
      bytes -= storedSize(value);
      cut = key[2] + 1;
    }
    if (cut > part.start) this.truncateBelow(topic, partition, part, cut);
  }

  private truncateBelow(topic: string, partition: number, part: PartMeta, before: number): void {
    for (const { key, value } of this.records.getRange({ start: [topic, partition, part.start], end: [topic, partition, before] })) {
      part.bytes -= storedSize(value);
      this.records.removeSync(key);
    }
    part.bytes = Math.max(0, part.bytes);
    if (before > part.start) {
      part.start = before;
      this.timeIndex.dropBelow(topic, partition, before);
    }
  }

  /** Timestamps of the stored records in [from, to), in offset order (gaps skipped). */
  private *timestamps(topic: string, partition: number, from: number, to: number): Generator<{ offset: number; timestamp: number }> {
    for (const { key, value } of this.records.getRange({ start: [topic, partition, from], end: [topic, partition, to] })) yield { offset: key[2], timestamp: value.t };
  }

  /** Indexes records written before the time index, one segment-sized write transaction at a time. */
  private async runBackfill(partitions: [string, number][]): Promise<void> {
    try {
      for (const [topic, partition] of partitions) {
        let more = true;
        while (more && !this.closed) {
          more = await this.write(() => {
            const part = this.parts.get([topic, partition]);
            // Deleted (and maybe re-created with an index) since start(): nothing left to do.
            if (part === undefined || part.ix === undefined || part.ix <= part.start) return false;
            const ix = this.timeIndex.backfillChunk(topic, partition, part.start, part.ix);
            this.parts.putSync([topic, partition], { ...part, ix });
            return ix > part.start;
          });
        }
      }
      if (!this.closed) this.options.logger.info({ partitions: partitions.length }, 'embedded log: time index backfilled for data written before it');
    } catch (err) {
      // close() during a chunk: the rest is indexed after the next start.
      if (this.closed && err instanceof GatewayError && err.code === 'UNAVAILABLE') return;
      // Lookups stay correct (they scan below the partition's ix); the log says why they are slower.
      this.options.logger.error({ err }, 'embedded log: time index backfill failed');
    }
  }

  private removeRecord(topic: string, partition: number, offset: number, part: PartMeta): void {
    const old = this.records.get([topic, partition, offset]);
    if (old === undefined) return;
    part.bytes -= storedSize(old);
    this.records.removeSync([topic, partition, offset]);
  }

  private bounds(topic: string, partition: number): { start: number; next: number } {
    const part = this.parts.get([topic, partition]);
    const next = this.committedNext.get(partKey(topic, partition)) ?? part?.next ?? 0;
    return { start: Math.min(part?.start ?? 0, next), next };
  }

  private waitForData(topic: string, partition: number, waitMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const key = partKey(topic, partition);
      const set = this.waiters.get(key) ?? new Set<() => void>();
      this.waiters.set(key, set);
      const done = () => {
        clearTimeout(timer);
        set.delete(done);
        if (set.size === 0 && this.waiters.get(key) === set) this.waiters.delete(key);
        signal?.removeEventListener('abort', onAbort);
      };
      const wake = () => {
        done();
        resolve();
      };
      const onAbort = () => {
        done();
        reject(new GatewayError('CANCELLED', 'The fetch was cancelled.'));
      };
      const timer = setTimeout(wake, waitMs);
      set.add(wake);
      if (signal?.aborted === true) onAbort();
      else signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  private wake(topic: string, partition: number): void {
    const set = this.waiters.get(partKey(topic, partition));
    if (set === undefined) return;
    for (const wake of [...set]) wake();
  }

  private topicMeta(topic: string): TopicMeta {
    this.checkOpen();
    const meta = this.topics.get(topic);
    if (meta === undefined) throw new GatewayError('TOPIC_NOT_FOUND', `Topic ${topic} does not exist.`);
    return meta;
  }

  private checkOpen(): void {
    if (this.closed || !this.started) throw new GatewayError('UNAVAILABLE', 'The embedded log is not open.');
  }
}

/** The compaction index key of a record key: fixed-size, so any record key fits an LMDB key. */
function keyHash(key: Buffer): string {
  return createHash('sha256').update(key).digest('base64');
}

function partKey(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

function storedSize(r: StoredRecord): number {
  return recordSize({ key: r.k, value: r.v, headers: storedHeaders(r.h) }) - 64;
}

function toBuffer(v: Uint8Array | null | undefined): Buffer | null {
  if (v === null || v === undefined) return null;
  return Buffer.isBuffer(v) ? v : Buffer.from(v.buffer, v.byteOffset, v.byteLength);
}

/** Headers as stored: [name, bytes] pairs in order, or the `{name: bytes}` object of older data dirs. */
function storedHeaders(h: StoredHeaders): Headers {
  if (h === undefined || h === null) return NO_HEADERS;
  const pairs = Array.isArray(h) ? (h as readonly (readonly [string, Uint8Array])[]) : Object.entries(h);
  return pairs.map(([name, value]) => ({ name, value: toBuffer(value) ?? Buffer.alloc(0) }));
}
