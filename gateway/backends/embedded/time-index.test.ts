/**
 * The embedded log's time index (time-index.ts) against Kafka's answer for offsetsForTimestamp:
 * the earliest surviving offset whose timestamp is >= T, or the log end when none is. Every
 * answer is compared with that definition computed from the records a fetch returns, over
 * non-monotonic timestamps, tiny index segments (so segment and entry boundaries are crossed
 * often), retention, deleteRecords, compaction, reopening, and a data dir written before the index.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { open as openLmdb } from 'lmdb';
import { afterAll, describe, expect, it } from 'vitest';
import { uniqueTopic } from '../../../test/support/names.js';
import { silentLogger } from '../../log.js';
import { EmbeddedBackend, type EmbeddedBackendOptions } from './index.js';

const dirs: string[] = [];
const backends: EmbeddedBackend[] = [];

afterAll(async () => {
  for (const backend of backends) await backend.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sg-time-index-'));
  dirs.push(dir);
  return dir;
}

async function startBackend(options: Partial<EmbeddedBackendOptions> & { dataDir: string }): Promise<EmbeddedBackend> {
  const backend = new EmbeddedBackend({ logger: silentLogger(), retentionCheckIntervalMs: 0, ...options });
  backends.push(backend);
  await backend.start();
  return backend;
}

/** Kafka's answer, from the surviving records as a fetch returns them. */
async function expectedAnswers(backend: EmbeddedBackend, topic: string, partition: number, times: number[]): Promise<Map<number, bigint>> {
  const [bounds] = (await backend.offsets(topic)).filter((o) => o.partition === partition);
  const records = (await backend.fetch(topic, partition, bounds!.earliest, { maxRecords: 100_000 })).records;
  return new Map(times.map((t) => [t, records.find((r) => r.timestamp >= t)?.offset ?? bounds!.latest]));
}

async function actualAnswers(backend: EmbeddedBackend, topic: string, partition: number, times: number[]): Promise<Map<number, bigint>> {
  const out = new Map<number, bigint>();
  for (const t of times) out.set(t, (await backend.offsetsForTimestamp(topic, t)).get(partition)!);
  return out;
}

/** Asks every timestamp from below the smallest to above the largest. */
async function expectKafkaAnswers(backend: EmbeddedBackend, topic: string, partition = 0, low = -2, high = 60): Promise<void> {
  const times = Array.from({ length: high - low + 1 }, (_, i) => low + i);
  expect(await actualAnswers(backend, topic, partition, times)).toEqual(await expectedAnswers(backend, topic, partition, times));
}

async function produceTimes(backend: EmbeddedBackend, topic: string, times: number[], partition = 0): Promise<void> {
  const results = await backend.produce(
    topic,
    times.map((timestamp, i) => ({ value: Buffer.from(`v${i}`), partition, timestamp })),
  );
  for (const r of results) if (!r.ok) throw r.error;
}

describe('embedded time index: answers', () => {
  it('non-monotonic timestamps 100, 50, 200, 150: the earliest offset at or above T', async () => {
    const backend = await startBackend({ dataDir: tempDir() });
    const topic = uniqueTopic('ti-nonmono');
    await backend.createTopic(topic, { partitions: 1 });
    await produceTimes(backend, topic, [100, 50, 200, 150]);
    const at = async (t: number): Promise<bigint> => (await backend.offsetsForTimestamp(topic, t)).get(0)!;
    expect(await at(40)).toBe(0n);
    expect(await at(50)).toBe(0n); // offset 0 (100) comes before offset 1 (50)
    expect(await at(60)).toBe(0n);
    expect(await at(100)).toBe(0n);
    expect(await at(101)).toBe(2n);
    expect(await at(120)).toBe(2n);
    expect(await at(150)).toBe(2n); // 200 at offset 2 precedes 150 at offset 3
    expect(await at(200)).toBe(2n);
    expect(await at(201)).toBe(4n); // none: the log end
  });

  it('matches the definition for random timestamps, batch splits and index shapes', async () => {
    const shapes = [
      { intervalRecords: 1, segmentRecords: 1 },
      { intervalRecords: 2, segmentRecords: 3 },
      { intervalRecords: 3, segmentRecords: 8 },
      {},
    ];
    const byShape = await Promise.all(shapes.map((timeIndex) => startBackend({ dataDir: tempDir(), timeIndex })));
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: shapes.length - 1 }),
        fc.array(fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 12 }), { minLength: 1, maxLength: 5 }),
        async (shape, batches) => {
          const backend = byShape[shape]!;
          const topic = uniqueTopic('ti-prop');
          await backend.createTopic(topic, { partitions: 1 });
          for (const batch of batches) await produceTimes(backend, topic, batch);
          await expectKafkaAnswers(backend, topic);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('answers per partition independently', async () => {
    const backend = await startBackend({ dataDir: tempDir(), timeIndex: { intervalRecords: 2, segmentRecords: 4 } });
    const topic = uniqueTopic('ti-parts');
    await backend.createTopic(topic, { partitions: 2 });
    await produceTimes(backend, topic, [5, 1, 9, 3, 12, 2, 20, 7, 8], 0);
    await produceTimes(backend, topic, [30, 1, 2, 3], 1);
    await expectKafkaAnswers(backend, topic, 0, 0, 35);
    await expectKafkaAnswers(backend, topic, 1, 0, 35);
    expect([...(await backend.offsetsForTimestamp(topic, 10)).entries()].sort()).toEqual([
      [0, 4n],
      [1, 0n],
    ]);
  });
});

describe('embedded time index: deleted records', () => {
  it('after deleteRecords at random points (head segment partly gone, segments dropped)', async () => {
    const shapes = [
      { intervalRecords: 2, segmentRecords: 5 },
      { intervalRecords: 3, segmentRecords: 8 },
      { intervalRecords: 5, segmentRecords: 16 },
    ];
    const byShape = await Promise.all(shapes.map((timeIndex) => startBackend({ dataDir: tempDir(), timeIndex })));
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: shapes.length - 1 }),
        fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 60 }),
        fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 4 }),
        fc.array(fc.integer({ min: 0, max: 50 }), { maxLength: 10 }),
        async (shape, times, cuts, later) => {
          const backend = byShape[shape]!;
          const topic = uniqueTopic('ti-delete');
          await backend.createTopic(topic, { partitions: 1 });
          await produceTimes(backend, topic, times);
          let start = 0;
          for (const cut of cuts) {
            // Cuts only move forward, up to the log end (everything deleted).
            start = Math.max(start, Math.round(cut * times.length));
            await backend.deleteRecords(topic, 0, BigInt(start));
            await expectKafkaAnswers(backend, topic);
          }
          if (later.length > 0) await produceTimes(backend, topic, later);
          await expectKafkaAnswers(backend, topic);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('the answer deleted by deleteRecords: the next record at or above T after the new start', async () => {
    const backend = await startBackend({ dataDir: tempDir(), timeIndex: { intervalRecords: 2, segmentRecords: 100 } });
    const topic = uniqueTopic('ti-delete-head');
    await backend.createTopic(topic, { partitions: 1 });
    // Offset 0 holds the maximum of the whole segment: no later record is a growth point.
    await produceTimes(backend, topic, [1000, 10, 20, 30, 40, 50]);
    expect((await backend.offsetsForTimestamp(topic, 25)).get(0)).toBe(0n);
    await backend.deleteRecords(topic, 0, 1n);
    expect((await backend.offsetsForTimestamp(topic, 25)).get(0)).toBe(3n);
    expect((await backend.offsetsForTimestamp(topic, 51)).get(0)).toBe(6n);
    await backend.deleteRecords(topic, 0, 4n);
    expect((await backend.offsetsForTimestamp(topic, 25)).get(0)).toBe(4n);
  });

  it('the answer deleted from the window after an entry: later non-growth records count', async () => {
    const backend = await startBackend({ dataDir: tempDir(), timeIndex: { intervalRecords: 3, segmentRecords: 100 } });
    const topic = uniqueTopic('ti-delete-window');
    await backend.createTopic(topic, { partitions: 1 });
    // Entries (0 → 0) and (9 → 4); 5 at offset 1 is a growth point without an entry (within 3 of 0).
    await produceTimes(backend, topic, [0, 5, 1, 1, 9]);
    expect((await backend.offsetsForTimestamp(topic, 1)).get(0)).toBe(1n);
    await backend.deleteRecords(topic, 0, 3n);
    // Offset 1 is gone; offset 3 (timestamp 1) is not a growth point but is the answer now.
    expect((await backend.offsetsForTimestamp(topic, 1)).get(0)).toBe(3n);
    expect((await backend.offsetsForTimestamp(topic, 2)).get(0)).toBe(4n);
  });

  it('after retention by size deleted the head on produce', async () => {
    const backend = await startBackend({ dataDir: tempDir(), timeIndex: { intervalRecords: 2, segmentRecords: 4 } });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 6 }), { minLength: 1, maxLength: 8 }), async (batches) => {
        const topic = uniqueTopic('ti-retention');
        // Values are 2-3 bytes ("v0".."v11"): about five records fit.
        await backend.createTopic(topic, { partitions: 1, config: { 'retention.bytes': '12' } });
        for (const batch of batches) await produceTimes(backend, topic, batch);
        const [{ earliest }] = await backend.offsets(topic);
        if (batches.flat().length > 6) expect(earliest).toBeGreaterThan(0n);
        await expectKafkaAnswers(backend, topic);
      }),
      { numRuns: 40 },
    );
  });

  it('compaction removed the indexed answer: the next surviving record at or above T', async () => {
    const backend = await startBackend({ dataDir: tempDir(), timeIndex: { intervalRecords: 2, segmentRecords: 6 } });
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 50 })), { minLength: 1, maxLength: 30 }), async (writes) => {
        const topic = uniqueTopic('ti-compact');
        await backend.createTopic(topic, { partitions: 1, compacted: true });
        for (const [key, timestamp] of writes) {
          const [r] = await backend.produce(topic, [{ key: Buffer.from(`k${key}`), value: Buffer.from('v'), partition: 0, timestamp }]);
          if (!r!.ok) throw r!.error;
        }
        await expectKafkaAnswers(backend, topic);
      }),
      { numRuns: 40 },
    );
  });

  it('a deleted and re-created topic answers from its new records only', async () => {
    const dataDir = tempDir();
    const backend = await startBackend({ dataDir, timeIndex: { intervalRecords: 1, segmentRecords: 2 } });
    const topic = uniqueTopic('ti-recreate');
    await backend.createTopic(topic, { partitions: 1 });
    await produceTimes(backend, topic, [10, 20, 30, 40, 50]);
    await backend.deleteTopic(topic);
    await backend.createTopic(topic, { partitions: 1 });
    await produceTimes(backend, topic, [45]);
    expect((await backend.offsetsForTimestamp(topic, 15)).get(0)).toBe(0n);
    expect((await backend.offsetsForTimestamp(topic, 46)).get(0)).toBe(1n);
    await backend.deleteTopic(topic);
    await backend.close();
    // Nothing of the topic is left in the index databases.
    const root = openLmdb({ path: join(dataDir, 'streamgate.lmdb'), maxDbs: 8 });
    try {
      const left = ['tsegs', 'tindex'].flatMap((name) => [...root.openDB({ name }).getKeys()].filter((key) => (key as unknown[])[0] === topic));
      expect(left).toEqual([]);
    } finally {
      await root.close();
    }
  });
});

describe('embedded time index: data dirs', () => {
  it('survives close and reopen, also with a different index shape; appends continue the open segment', async () => {
    const dataDir = tempDir();
    const topic = uniqueTopic('ti-reopen');
    const times = [7, 3, 15, 15, 2, 30, 1, 31, 40, 39, 5, 41];
    const first = await startBackend({ dataDir, timeIndex: { intervalRecords: 3, segmentRecords: 5 } });
    await first.createTopic(topic, { partitions: 1 });
    await produceTimes(first, topic, times);
    const before = await actualAnswers(first, topic, 0, Array.from({ length: 50 }, (_, i) => i));
    await first.close();

    // Stored segments keep the interval they were written with; new ones use the new shape.
    const second = await startBackend({ dataDir, timeIndex: { intervalRecords: 1, segmentRecords: 3 } });
    expect(await actualAnswers(second, topic, 0, Array.from({ length: 50 }, (_, i) => i))).toEqual(before);
    await expectKafkaAnswers(second, topic);
    await produceTimes(second, topic, [45, 44, 50, 2]);
    await expectKafkaAnswers(second, topic);
  });

  it('a data dir written before the index: correct at once, backfilled in the background, then indexed', async () => {
    const dataDir = tempDir();
    const topic = uniqueTopic('ti-legacy');
    const times = Array.from({ length: 70 }, (_, i) => (i * 37) % 61); // non-monotonic, 0..60
    // The layout the embedded log wrote before the time index: no ix, no tsegs / tindex.
    const legacy = openLmdb({ path: join(dataDir, 'streamgate.lmdb'), maxDbs: 8 });
    await legacy.transaction(() => {
      legacy.openDB({ name: 'topics' }).putSync(topic, { partitions: 2, config: { 'cleanup.policy': 'delete' } });
      const parts = legacy.openDB({ name: 'parts' });
      const records = legacy.openDB({ name: 'records' });
      // Partition 0: 70 records of which the first 5 were deleted; partition 1: empty.
      parts.putSync([topic, 0], { start: 5, next: 70, bytes: 0 });
      parts.putSync([topic, 1], { start: 0, next: 0, bytes: 0 });
      for (let offset = 5; offset < 70; offset++) records.putSync([topic, 0, offset], { t: times[offset], k: null, v: Buffer.from(`v${offset}`), h: {} });
    });
    await legacy.close();

    const backend = await startBackend({ dataDir, timeIndex: { intervalRecords: 2, segmentRecords: 16 } });
    // Whether or not the backfill got there yet, the answers are Kafka's.
    await expectKafkaAnswers(backend, topic, 0, -1, 62);
    await backend.timeIndexBackfill();
    await expectKafkaAnswers(backend, topic, 0, -1, 62);
    expect((await backend.offsetsForTimestamp(topic, 0)).get(1)).toBe(0n);
    // New records after the old ones, then a cut through the backfilled segments.
    await produceTimes(backend, topic, [61, 3, 62]);
    await expectKafkaAnswers(backend, topic, 0, -1, 64);
    await backend.deleteRecords(topic, 0, 40n);
    await expectKafkaAnswers(backend, topic, 0, -1, 64);
    await backend.close();

    // On disk: the index starts at the log start and covers the old records in segments of 16.
    const root = openLmdb({ path: join(dataDir, 'streamgate.lmdb'), maxDbs: 8 });
    try {
      expect(root.openDB<{ start: number; ix?: number }>({ name: 'parts' }).get([topic, 0])).toMatchObject({ start: 40, ix: 5 });
      const bases = [...root.openDB({ name: 'tsegs' }).getKeys({ start: [topic, 0], end: [topic, 1] })].map((key) => (key as [string, number, number])[2]);
      // 5..69 backfilled newest first as [54,70) [38,54) [22,38) [6,22) [5,6); 70 opened a new
      // segment (70 - 54 = 16 records); the cut at 40 dropped the segments below [38,54).
      expect(bases).toEqual([38, 54, 70]);
    } finally {
      await root.close();
    }
  });
});
