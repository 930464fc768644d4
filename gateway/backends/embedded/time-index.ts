/**
 * The embedded log's time index: answers "the earliest offset whose timestamp is >= T" (Kafka's
 * ListOffsets by timestamp) without scanning a partition from its start.
 *
 * The idea is Kafka's per-segment time index (a sparse list of (max timestamp so far, offset),
 * appended only when the maximum grows), kept in two LMDB databases written in the same write
 * transaction as the records they describe, so the index is exactly as durable as the log:
 *
 *   tsegs    [topic, partition, base]     → {max, at, last, n}   one per index segment
 *   tindex   [topic, partition, base, M]  → offset               the sparse entries
 *
 * A segment is a run of at most `segmentRecords` consecutive offsets starting at `base` (the
 * offset of its first record). Inside a segment, the maximum timestamp "so far" restarts at its
 * first record; a record whose timestamp exceeds it is a growth point. `max`/`at` are the
 * segment's largest timestamp and the offset of the record that has it (the last growth point).
 * An entry (M → o) is written for the segment's first record and for every growth point at least
 * `n` offsets after the previous entry (`last`), so every growth point without an entry lies
 * within n offsets after an entry. Entries of one segment therefore grow strictly in both M and
 * offset, and:
 *
 *   within a segment, the first record with timestamp >= T is the first growth point with M >= T
 *   (every record before it is below T, it is at T or above). Let E be the first entry with
 *   M >= T (or the segment's `at` when no entry reaches T but `max` does) and P the entry before
 *   it: the answer is one of the un-indexed growth points in (P, P + n), else E. A lookup reads
 *   O(segments) small summaries, two index entries and at most n - 1 records.
 *
 * Deleting records keeps that reasoning sound without rewriting the index:
 *   - retention / deleteRecords (truncation below a new log start s) drop whole segments that
 *     lie below s; the segment s falls in keeps its entries. When its answer may lie below s, the
 *     records from s on are scanned to the first one at or above T (at most to the segment's end,
 *     segmentRecords; with rising timestamps the first one scanned is the answer);
 *   - compaction deletes single records: when the window after P has a gap, or E is gone, the
 *     segment's answer may be gone, so the lookup scans on to the next surviving record at or
 *     above T within the segment (again bounded by its size). Truncation is the same case: a
 *     window starting below the new log start has a gap.
 *
 * Data written before this index existed: the partition meta gets `ix` (indexed from) — 0 for
 * partitions created with the index; for older partitions the log end at the first start with
 * this code. Offsets below `ix` are scanned linearly until a background backfill (one write
 * transaction per segment-sized chunk, newest first, so the scanned region shrinks from above)
 * has indexed them and lowered `ix` to the log start.
 */
import type { Database } from 'lmdb';
import { GatewayError } from '../../errors.js';

/** A segment's summary (`tsegs` value). */
export interface SegmentSummary {
  /** Largest timestamp in the segment. */
  max: number;
  /** Offset of the (first) record holding `max`: the segment's last growth point. */
  at: number;
  /** Offset of the segment's last index entry. */
  last: number;
  /** The entry interval the segment was written with (bounds the scan after an entry). */
  n: number;
}

/** Sizes of the index; both only shape new writes, stored segments keep what they were written with. */
export interface TimeIndexOptions {
  /** Minimum distance in offsets between two entries of a segment (the bounded scan of a lookup). */
  intervalRecords?: number;
  /** Offsets per segment (bounds the scan after truncation or compaction removed an answer). */
  segmentRecords?: number;
}

/** The open segment of one partition during one write transaction. */
interface OpenSegment extends SegmentSummary {
  base: number;
  dirty: boolean;
}

/** What the index reads records through: the timestamps of stored records in offset order. */
export type TimestampScan = (topic: string, partition: number, from: number, to: number) => Iterable<{ offset: number; timestamp: number }>;

/** Default distance between entries: a lookup reads at most 31 records. */
export const DEFAULT_INTERVAL_RECORDS = 32;
/** Default segment size: a head scan after truncation reads at most this many records. */
export const DEFAULT_SEGMENT_RECORDS = 16_384;

/** The time index over the `tsegs` and `tindex` databases; writes only inside the caller's write transaction. */
export class TimeIndex {
  private readonly interval: number;
  private readonly segmentSize: number;

  constructor(
    private readonly segments: Database<SegmentSummary, [string, number, number]>,
    private readonly entries: Database<number, [string, number, number, number]>,
    private readonly scanRecords: TimestampScan,
    options: TimeIndexOptions = {},
  ) {
    this.interval = positiveInteger(options.intervalRecords, DEFAULT_INTERVAL_RECORDS, 'intervalRecords');
    this.segmentSize = positiveInteger(options.segmentRecords, DEFAULT_SEGMENT_RECORDS, 'segmentRecords');
  }

  /** A writer for one produce transaction (call `finish` before the transaction callback returns). */
  writer(topic: string): TimeIndexWriter {
    return new TimeIndexWriter(this, topic);
  }

  /** @internal used by TimeIndexWriter: the partition's newest segment (the one appends go to). */
  openSegment(topic: string, partition: number): OpenSegment | undefined {
    for (const { key, value } of this.segments.getRange({ start: [topic, partition + 1], end: [topic, partition], reverse: true, limit: 1 })) {
      return { ...value, base: key[2], dirty: false };
    }
    return undefined;
  }

  /** @internal Adds a record to `segment` (or starts a new one); returns the segment now open. */
  append(topic: string, partition: number, segment: OpenSegment | undefined, offset: number, timestamp: number): OpenSegment {
    if (segment === undefined || offset - segment.base >= this.segmentSize) {
      if (segment?.dirty === true) this.saveSegment(topic, partition, segment);
      const fresh: OpenSegment = { base: offset, max: timestamp, at: offset, last: offset, n: this.interval, dirty: true };
      this.entries.putSync([topic, partition, offset, timestamp], offset);
      return fresh;
    }
    if (timestamp > segment.max) {
      segment.max = timestamp;
      segment.at = offset;
      segment.dirty = true;
      if (offset - segment.last >= segment.n) {
        this.entries.putSync([topic, partition, segment.base, timestamp], offset);
        segment.last = offset;
      }
    }
    return segment;
  }

  /** @internal */
  saveSegment(topic: string, partition: number, segment: OpenSegment): void {
    this.segments.putSync([topic, partition, segment.base], { max: segment.max, at: segment.at, last: segment.last, n: segment.n });
    segment.dirty = false;
  }

  /**
   * The earliest offset in [start, next) whose record has timestamp >= `timestamp`, or `next`.
   * `indexedFrom` is the partition's `ix`: offsets below it are scanned.
   */
  lookup(topic: string, partition: number, timestamp: number, start: number, next: number, indexedFrom: number): number {
    if (start < indexedFrom) {
      const hit = this.firstAtOrAbove(topic, partition, start, Math.min(indexedFrom, next), timestamp);
      if (hit !== undefined) return hit;
    }
    const from = Math.max(start, indexedFrom);
    if (from >= next) return next;
    // The segment `from` falls in (the last one starting at or below it), then every later one.
    let firstBase = from;
    for (const { key } of this.segments.getRange({ start: [topic, partition, from], end: [topic, partition], reverse: true, limit: 1 })) firstBase = key[2];
    let pending: { base: number; summary: SegmentSummary } | undefined;
    for (const { key, value } of this.segments.getRange({ start: [topic, partition, firstBase], end: [topic, partition + 1] })) {
      const base = key[2];
      if (pending !== undefined) {
        const hit = this.inSegment(topic, partition, pending.base, pending.summary, Math.min(base, next), timestamp, from);
        if (hit !== undefined) return hit;
      }
      pending = undefined;
      if (base >= next) break;
      pending = { base, summary: value };
    }
    if (pending !== undefined) {
      const hit = this.inSegment(topic, partition, pending.base, pending.summary, next, timestamp, from);
      if (hit !== undefined) return hit;
    }
    return next;
  }

  /** The first surviving offset in [from, end) of segment `base` with timestamp >= `timestamp`. */
  private inSegment(topic: string, partition: number, base: number, summary: SegmentSummary, end: number, timestamp: number, from: number): number | undefined {
    if (summary.max < timestamp || end <= from) return undefined;
    // E: the first entry reaching the timestamp; when none does, the segment's last growth point.
    let entry = summary.at;
    for (const { value } of this.entries.getRange({ start: [topic, partition, base, timestamp], end: [topic, partition, base + 1], limit: 1 })) entry = value;
    // P: the last entry below the timestamp (a reverse range starts at its inclusive upper key).
    let previous: number | undefined;
    for (const { key, value } of this.entries.getRange({ start: [topic, partition, base, timestamp], end: [topic, partition, base], reverse: true, limit: 2 })) {
      if (key[3] < timestamp) {
        previous = value;
        break;
      }
    }
    if (previous !== undefined) {
      // Growth points between P and E without an entry are less than n offsets after P.
      const windowStart = previous + 1;
      const windowEnd = Math.min(previous + summary.n, entry, end);
      let seen = 0;
      if (windowStart >= from) {
        for (const record of this.scanRecords(topic, partition, windowStart, windowEnd)) {
          if (record.timestamp >= timestamp) return record.offset;
          seen++;
        }
      }
      // A record of the window is gone (truncated below `from`, or compacted): it may have been
      // the segment's answer, and then any later record at or above the timestamp is the answer,
      // growth point or not. Bounded by the segment.
      if (seen < windowEnd - windowStart) return this.firstAtOrAbove(topic, partition, Math.max(windowStart, from), end, timestamp);
    }
    // E itself, unless truncation or compaction removed it: then the next surviving record at or
    // above the timestamp in this segment (records before E in the segment are all below it).
    return this.firstAtOrAbove(topic, partition, Math.max(entry, from), end, timestamp);
  }

  private firstAtOrAbove(topic: string, partition: number, from: number, to: number, timestamp: number): number | undefined {
    if (from >= to) return undefined;
    for (const record of this.scanRecords(topic, partition, from, to)) if (record.timestamp >= timestamp) return record.offset;
    return undefined;
  }

  /**
   * Drops the segments that lie wholly below the new log start `start` (call in the write
   * transaction that deleted the records). The segment `start` falls in stays: lookups scan it
   * from `start`, so its entries below `start` still serve as a bound.
   */
  dropBelow(topic: string, partition: number, start: number): void {
    const bases = [...this.segments.getKeys({ start: [topic, partition], end: [topic, partition, start] })];
    // The last segment starting below `start` may reach past it; everything before it ends at or below.
    for (const key of bases.slice(0, -1)) this.dropSegment(topic, partition, key[2]);
  }

  /** Drops the whole index of a partition (topic deletion). */
  dropPartition(topic: string, partition: number): void {
    for (const key of this.entries.getKeys({ start: [topic, partition], end: [topic, partition + 1] })) this.entries.removeSync(key);
    for (const key of this.segments.getKeys({ start: [topic, partition], end: [topic, partition + 1] })) this.segments.removeSync(key);
  }

  private dropSegment(topic: string, partition: number, base: number): void {
    for (const key of this.entries.getKeys({ start: [topic, partition, base], end: [topic, partition, base + 1] })) this.entries.removeSync(key);
    this.segments.removeSync([topic, partition, base]);
  }

  /**
   * Indexes the un-indexed records in [max(start, indexedFrom - segmentRecords), indexedFrom) as
   * one new segment (call in a write transaction) and returns the new `indexedFrom`.
   */
  backfillChunk(topic: string, partition: number, start: number, indexedFrom: number): number {
    const low = Math.max(start, indexedFrom - this.segmentSize);
    let segment: OpenSegment | undefined;
    for (const record of this.scanRecords(topic, partition, low, indexedFrom)) segment = this.append(topic, partition, segment, record.offset, record.timestamp);
    if (segment !== undefined) this.saveSegment(topic, partition, segment);
    return low;
  }
}

/** Appends one produce transaction's records to the index, keeping each partition's open segment in memory. */
export class TimeIndexWriter {
  private readonly open = new Map<number, OpenSegment | undefined>();

  constructor(
    private readonly index: TimeIndex,
    private readonly topic: string,
  ) {}

  /** Records one appended record (offsets of a partition in increasing order). */
  append(partition: number, offset: number, timestamp: number): void {
    const segment = this.open.has(partition) ? this.open.get(partition) : this.index.openSegment(this.topic, partition);
    this.open.set(partition, this.index.append(this.topic, partition, segment, offset, timestamp));
  }

  /** Writes the changed segment summaries. */
  finish(): void {
    for (const [partition, segment] of this.open) if (segment?.dirty === true) this.index.saveSegment(this.topic, partition, segment);
  }
}

function positiveInteger(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < 1) throw new GatewayError('INVALID_ARGUMENT', `timeIndex.${name} must be a positive integer (got ${value}).`);
  return value;
}
