/**
 * The core data model shared by every protocol: records, where they live, and positions a
 * reader starts from. Offsets are int64 in Kafka, so they are `bigint` here; adapters render
 * them as decimal strings (JSON) or int64 (protobuf).
 */
import { GatewayError } from './errors.js';

/** One record header: a name and its bytes (an empty buffer where Kafka has a null value). */
export interface Header {
  readonly name: string;
  readonly value: Buffer;
}

/**
 * Record headers: an ordered list in which a name may repeat, as in Kafka (and as MQTT 5 user
 * properties [MQTT-3.3.2-17/18]). Order and repeats are part of the record: every backend and
 * protocol carries them as they came.
 */
export type Headers = readonly Header[];

/** No headers (shared, frozen). */
export const NO_HEADERS: Headers = Object.freeze([]);

/** The value of the first header named `name`, or undefined. */
export function headerValue(headers: Headers, name: string): Buffer | undefined {
  for (const h of headers) if (h.name === name) return h.value;
  return undefined;
}

/** Bytes the headers occupy in record accounting: each header's UTF-8 name, value and a fixed overhead. */
export function headersSize(headers: Headers): number {
  let size = 0;
  for (const h of headers) size += Buffer.byteLength(h.name, 'utf8') + h.value.length + 16;
  return size;
}

/** A record as stored in the log and delivered to readers. */
export interface StreamRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  /** Milliseconds since the epoch (create time set by the producer, or log append time). */
  readonly timestamp: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  readonly headers: Headers;
}

/** A record a client asks to write. */
export interface ProduceRecord {
  key?: Buffer | null;
  value: Buffer | null;
  headers?: Headers;
  /** Explicit partition; when absent the key decides (Kafka's murmur2 partitioner), or round-robin. */
  partition?: number;
  /** Create time in ms; defaults to now. */
  timestamp?: number;
}

/** Where a produced record landed. */
export interface RecordPosition {
  readonly partition: number;
  readonly offset: bigint;
}

/** Outcome of one record of a produce batch: its position, or why it was not written. */
export type ProduceResult =
  | { readonly ok: true; readonly partition: number; readonly offset: bigint; readonly timestamp: number }
  | { readonly ok: false; readonly partition: number | null; readonly error: GatewayError };

/** A topic-partition. */
export interface TopicPartition {
  readonly topic: string;
  readonly partition: number;
}

/** The offsets bounding one partition's log: [earliest, latest). `latest` is the next offset to be written. */
export interface PartitionOffsets {
  readonly partition: number;
  readonly earliest: bigint;
  readonly latest: bigint;
}

/** Metadata of one topic. */
export interface TopicInfo {
  readonly name: string;
  readonly partitions: number;
  /** Per-topic configuration as reported by the backend (e.g. cleanup.policy). */
  readonly config: Readonly<Record<string, string>>;
  /** Replicas per partition where the backend reports them (Kafka: partition 0's; embedded: 1). */
  readonly replicationFactor?: number;
}

/**
 * Where a reader starts.
 * - `earliest` / `latest`: the log start / the next record written.
 * - `offsets`: the next offset to read per partition (a client that saw offset N resumes with N+1);
 *   partitions not listed start at `otherwise` (default `latest`).
 * - `timestamp`: the first record with a timestamp ≥ the given ms, per partition.
 */
export type Position =
  | { readonly kind: 'earliest' }
  | { readonly kind: 'latest' }
  | { readonly kind: 'offsets'; readonly offsets: ReadonlyMap<number, bigint>; readonly otherwise?: 'earliest' | 'latest' }
  | { readonly kind: 'timestamp'; readonly timestamp: number };

/** The log start of every partition (shared, frozen). */
export const EARLIEST: Position = Object.freeze({ kind: 'earliest' });
/** The next record written to every partition, i.e. only new records (shared, frozen). */
export const LATEST: Position = Object.freeze({ kind: 'latest' });

/** Builds an `offsets` position from a plain object such as `{"0": "42"}`. */
export function offsetsPosition(offsets: Readonly<Record<string, string | number | bigint>>, otherwise?: 'earliest' | 'latest'): Position {
  const map = new Map<number, bigint>();
  for (const [p, o] of Object.entries(offsets)) {
    const partition = Number(p);
    if (!Number.isInteger(partition) || partition < 0) {
      throw new GatewayError('INVALID_ARGUMENT', `Partition "${p}" is not a non-negative integer.`);
    }
    map.set(partition, parseOffset(o, `offset of partition ${p}`));
  }
  return otherwise === undefined ? { kind: 'offsets', offsets: map } : { kind: 'offsets', offsets: map, otherwise };
}

const INT64_MAX = (1n << 63n) - 1n;

/** Parses a client-supplied offset (decimal string, number or bigint) into a non-negative int64. */
export function parseOffset(value: unknown, what = 'offset'): bigint {
  let result: bigint;
  if (typeof value === 'bigint') result = value;
  else if (typeof value === 'number' && Number.isSafeInteger(value)) result = BigInt(value);
  else if (typeof value === 'string' && /^\d{1,19}$/.test(value)) result = BigInt(value);
  else throw new GatewayError('INVALID_ARGUMENT', `The ${what} must be a non-negative integer (a decimal string in JSON).`);
  if (result < 0n || result > INT64_MAX) throw new GatewayError('INVALID_ARGUMENT', `The ${what} is outside int64.`);
  return result;
}

/** Kafka's legal topic names: 1–249 of [a-zA-Z0-9._-], not "." or "..". */
export function validateTopicName(name: string): void {
  if (name.length === 0 || name.length > 249 || !/^[a-zA-Z0-9._-]+$/.test(name) || name === '.' || name === '..') {
    throw new GatewayError('INVALID_TOPIC', `"${truncate(name, 64)}" is not a legal topic name (1–249 characters of a-z A-Z 0-9 . _ -).`);
  }
}

function truncate(s: string, n: number): string {
  return s.length > n ? `${s.slice(0, n)}…` : s;
}

/** Approximate bytes a record occupies in memory and on the wire, for byte-bounded queues. */
export function recordSize(r: { key: Buffer | null; value: Buffer | null; headers: Headers }): number {
  return 64 + (r.key?.length ?? 0) + (r.value?.length ?? 0) + headersSize(r.headers);
}
