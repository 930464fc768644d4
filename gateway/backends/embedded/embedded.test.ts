/**
 * Embedded-log behaviour beyond the shared conformance suite: durability across restarts and a
 * SIGKILL, retention by size and by age, immediate compaction, batch atomicity, keyless spread.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { open as openLmdb } from 'lmdb';
import { afterAll, describe, expect, it } from 'vitest';
import { uniqueId, uniqueTopic } from '../../../test/support/names.js';
import { eventually } from '../../../test/support/wait.js';
import { GatewayError } from '../../errors.js';
import { silentLogger } from '../../log.js';
import type { ProduceResult } from '../../record.js';
import { EmbeddedBackend, type EmbeddedBackendOptions } from './index.js';

const b = (s: string): Buffer => Buffer.from(s, 'utf8');
const dirs: string[] = [];
const open: EmbeddedBackend[] = [];

afterAll(async () => {
  for (const backend of open) await backend.close();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sg-embedded-'));
  dirs.push(dir);
  return dir;
}

async function startBackend(options: Partial<EmbeddedBackendOptions> & { dataDir: string }): Promise<EmbeddedBackend> {
  const backend = new EmbeddedBackend({ logger: silentLogger(), ...options });
  open.push(backend);
  await backend.start();
  return backend;
}

function offsetsOf(results: ProduceResult[]): bigint[] {
  return results.map((r) => {
    if (!r.ok) throw r.error;
    return r.offset;
  });
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(GatewayError);
    return (err as GatewayError).code;
  }
  throw new Error('expected a GatewayError');
}

describe('embedded log: durability', () => {
  it('reads records a data dir from before ordered headers holds ({name: bytes} objects), with their size accounted', async () => {
    const dataDir = tempDir();
    const topic = uniqueTopic('old-headers');
    const first = await startBackend({ dataDir });
    await first.createTopic(topic, { partitions: 1 });
    await first.produce(topic, [{ key: b('k'), value: b('v'), partition: 0, headers: [{ name: 'a', value: b('1') }] }]);
    await first.close();
    // Rewrite the stored record the way the previous version stored headers.
    const root = openLmdb({ path: join(dataDir, 'streamgate.lmdb'), maxDbs: 8 });
    const records = root.openDB<{ t: number; k: Buffer | null; v: Buffer | null; h: unknown }, [string, number, number]>({ name: 'records' });
    const stored = records.get([topic, 0, 0])!;
    expect(stored.h).toEqual([['a', b('1')]]);
    await records.put([topic, 0, 0], { ...stored, h: { a: b('1'), b: b('22') } });
    await root.close();

    const second = await startBackend({ dataDir });
    const res = await second.fetch(topic, 0, 0n);
    expect(res.records[0]!.headers).toEqual([{ name: 'a', value: b('1') }, { name: 'b', value: b('22') }]);
    // Deleting it subtracts its size as the old form gives it.
    await second.deleteRecords(topic, 0, 1n);
    expect(await second.offsets(topic)).toEqual([{ partition: 0, earliest: 1n, latest: 1n }]);
    await second.close();
  });


  it('keeps records, offsets, topics and group offsets across close and reopen; offsets continue', async () => {
    const dataDir = tempDir();
    const topic = uniqueTopic('dur');
    const compacted = uniqueTopic('dur-compact');
    const group = uniqueId('g');
    const ts = Date.now() - 1000;
    const first = await startBackend({ dataDir });
    await first.createTopic(topic, { partitions: 2, config: { 'retention.ms': '86400000' } });
    await first.createTopic(compacted, { partitions: 1, compacted: true });
    await first.produce(topic, [
      { key: b('a'), value: b('0'), partition: 0, headers: [{ name: 'h', value: b('x') }, { name: 'g', value: b('y') }, { name: 'h', value: b('z') }], timestamp: ts },
      { key: null, value: null, partition: 0 },
      { value: b('p1'), partition: 1 },
    ]);
    await first.produce(compacted, [
      { key: b('k'), value: b('old'), partition: 0 },
      { key: b('k'), value: b('new'), partition: 0 },
    ]);
    await first.commitOffsets(group, [{ topic, partition: 0, offset: 2n, metadata: 'm' }]);
    await first.close();

    const second = await startBackend({ dataDir });
    expect(await second.describeTopic(topic)).toEqual({
      name: topic,
      partitions: 2,
      config: { 'cleanup.policy': 'delete', 'retention.ms': '86400000' },
      replicationFactor: 1,
    });
    expect(await second.offsets(topic)).toEqual([
      { partition: 0, earliest: 0n, latest: 2n },
      { partition: 1, earliest: 0n, latest: 1n },
    ]);
    const p0 = await second.fetch(topic, 0, 0n);
    expect(p0.records.map((r) => [r.offset, r.key?.toString() ?? null, r.value?.toString() ?? null])).toEqual([
      [0n, 'a', '0'],
      [1n, null, null],
    ]);
    expect(p0.records[0].headers).toEqual([{ name: 'h', value: b('x') }, { name: 'g', value: b('y') }, { name: 'h', value: b('z') }]);
    expect(p0.records[0].timestamp).toBe(ts);
    expect(await second.committedOffsets(group, [topic])).toEqual([{ topic, partition: 0, offset: 2n, metadata: 'm' }]);
    // Offsets continue after the restart; the compaction index survived too.
    expect(offsetsOf(await second.produce(topic, [{ value: b('2'), partition: 0 }]))).toEqual([2n]);
    expect(offsetsOf(await second.produce(compacted, [{ key: b('k'), value: b('newer'), partition: 0 }]))).toEqual([2n]);
    const live = await second.fetch(compacted, 0, 0n);
    expect(live.records.map((r) => [r.offset, r.value?.toString()])).toEqual([[2n, 'newer']]);
  });

  it('never reuses offsets after the whole log was deleted, even across a restart', async () => {
    const dataDir = tempDir();
    const topic = uniqueTopic('dur-reuse');
    const first = await startBackend({ dataDir });
    await first.createTopic(topic, { partitions: 1 });
    await first.produce(topic, [{ value: b('a') }, { value: b('b') }, { value: b('c') }]);
    await first.deleteRecords(topic, 0, 3n);
    await first.close();
    const second = await startBackend({ dataDir });
    expect(await second.offsets(topic)).toEqual([{ partition: 0, earliest: 3n, latest: 3n }]);
    expect(offsetsOf(await second.produce(topic, [{ value: b('d') }]))).toEqual([3n]);
  });

  it('keeps every acknowledged record when the writer is killed with SIGKILL right after an ack', async () => {
    const dataDir = tempDir();
    const topic = uniqueTopic('crash');
    const fixture = fileURLToPath(new URL('./crash-writer.fixture.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', fixture, dataDir, topic], {
      cwd: fileURLToPath(new URL('../../..', import.meta.url)),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
    const acked = new Map<bigint, string>();
    const lines = createInterface({ input: child.stdout });
    for await (const line of lines) {
      const m = /^acked (\d+) (.+)$/.exec(line);
      if (m === null) continue;
      acked.set(BigInt(m[1]), m[2]);
      // Kill in the same turn the acknowledgement arrived: nothing gets a chance to "finish up".
      if (acked.size === 50) {
        child.kill('SIGKILL');
        break;
      }
    }
    expect(await exited, stderr).toBe('SIGKILL');
    expect(acked.size).toBe(50);

    const reopened = await startBackend({ dataDir });
    const [{ earliest, latest }] = await reopened.offsets(topic);
    expect(earliest).toBe(0n);
    // Records written but not yet acknowledged may be there too; acknowledged ones must be.
    expect(latest).toBeGreaterThanOrEqual(50n);
    const records = (await reopened.fetch(topic, 0, 0n, { maxRecords: 10_000 })).records;
    expect(records.map((r) => r.offset)).toEqual(Array.from({ length: Number(latest) }, (_, i) => BigInt(i)));
    for (const [offset, value] of acked) expect(records[Number(offset)].value?.toString()).toBe(value);
    expect(offsetsOf(await reopened.produce(topic, [{ value: b('after'), partition: 0 }]))).toEqual([latest]);
  });
});

describe('embedded log: retention', () => {
  it('by size: deletes the oldest records beyond maxBytesPerPartition; earliest advances', async () => {
    const backend = await startBackend({ dataDir: tempDir(), retention: { maxBytesPerPartition: 5000 } });
    const topic = uniqueTopic('ret-size');
    await backend.createTopic(topic, { partitions: 1 });
    const value = Buffer.alloc(1000, 0x62);
    for (let i = 0; i < 10; i++) await backend.produce(topic, [{ value, partition: 0 }]);
    // 1000 payload bytes per record: five fit in 5000.
    expect(await backend.offsets(topic)).toEqual([{ partition: 0, earliest: 5n, latest: 10n }]);
    expect(await codeOf(backend.fetch(topic, 0, 4n))).toBe('OUT_OF_RANGE');
    const rest = await backend.fetch(topic, 0, 5n);
    expect(rest.records.map((r) => r.offset)).toEqual([5n, 6n, 7n, 8n, 9n]);
  });

  it('by size: the newest record stays even when it alone exceeds the limit', async () => {
    const backend = await startBackend({ dataDir: tempDir(), retention: { maxBytesPerPartition: 100 } });
    const topic = uniqueTopic('ret-one');
    await backend.createTopic(topic, { partitions: 1 });
    await backend.produce(topic, [{ value: Buffer.alloc(500), partition: 0 }]);
    await backend.produce(topic, [{ value: Buffer.alloc(500), partition: 0 }]);
    expect(await backend.offsets(topic)).toEqual([{ partition: 0, earliest: 1n, latest: 2n }]);
    expect((await backend.fetch(topic, 0, 1n)).records).toHaveLength(1);
  });

  it('by age: the periodic check deletes records older than maxAgeMs (newest kept)', async () => {
    const backend = await startBackend({ dataDir: tempDir(), retention: { maxAgeMs: 200 }, retentionCheckIntervalMs: 50 });
    const topic = uniqueTopic('ret-age');
    await backend.createTopic(topic, { partitions: 1 });
    const now = Date.now();
    await backend.produce(topic, [
      { value: b('a'), partition: 0, timestamp: now },
      { value: b('b'), partition: 0, timestamp: now },
      { value: b('c'), partition: 0, timestamp: now },
    ]);
    // No produce after this: only the timer can advance the log start.
    const offsets = await eventually(async () => {
      const [o] = await backend.offsets(topic);
      return o.earliest === 2n ? o : undefined;
    }, { timeoutMs: 5000, what: 'age retention by the timer' });
    expect(offsets.latest).toBe(3n);
    expect(Date.now() - now).toBeGreaterThanOrEqual(200);
    const err = await backend.fetch(topic, 0, 0n).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).details).toEqual({ earliest: '2', latest: '3' });
  });

  it('compacted topics are not subject to time retention', async () => {
    const backend = await startBackend({ dataDir: tempDir(), retention: { maxAgeMs: 1000 } });
    const topic = uniqueTopic('ret-compact');
    await backend.createTopic(topic, { partitions: 1, compacted: true });
    const old = Date.now() - 3_600_000;
    await backend.produce(topic, [{ key: b('a'), value: b('1'), partition: 0, timestamp: old }]);
    await backend.produce(topic, [{ key: b('b'), value: b('2'), partition: 0, timestamp: old }]);
    expect(await backend.offsets(topic)).toEqual([{ partition: 0, earliest: 0n, latest: 2n }]);
  });
});

describe('embedded log: writes', () => {
  it('compaction deletes the older record of a key at once; tombstones stay; offsets keep gaps', async () => {
    const backend = await startBackend({ dataDir: tempDir() });
    const topic = uniqueTopic('compact');
    await backend.createTopic(topic, { partitions: 1, compacted: true });
    const longKey = Buffer.alloc(5000, 0x6b);
    await backend.produce(topic, [
      { key: b('k1'), value: b('a'), partition: 0 },
      { key: b('k2'), value: b('b'), partition: 0 },
      { key: longKey, value: b('long1'), partition: 0 },
      { key: b('k1'), value: b('c'), partition: 0 },
      { key: b('k2'), value: null, partition: 0 },
      { key: longKey, value: b('long2'), partition: 0 },
    ]);
    const res = await backend.fetch(topic, 0, 0n);
    expect(res.records.map((r) => [r.offset, r.value?.toString() ?? null])).toEqual([
      [3n, 'c'],
      [4n, null],
      [5n, 'long2'],
    ]);
    expect(res.nextOffset).toBe(6n);
    // A fetch that starts inside a gap skips it.
    expect((await backend.fetch(topic, 0, 1n, { maxRecords: 1 })).records[0].offset).toBe(3n);
  });

  it('rejects a batch with one record over maxRecordBytes as a whole (MESSAGE_TOO_LARGE)', async () => {
    const backend = await startBackend({ dataDir: tempDir(), maxRecordBytes: 100 });
    const topic = uniqueTopic('too-large');
    await backend.createTopic(topic, { partitions: 1 });
    const err = await backend.produce(topic, [{ value: b('small') }, { value: Buffer.alloc(101) }]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).code).toBe('MESSAGE_TOO_LARGE');
    expect(await backend.offsets(topic)).toEqual([{ partition: 0, earliest: 0n, latest: 0n }]);
    // Key and headers count too.
    expect(await codeOf(backend.produce(topic, [{ key: Buffer.alloc(60), value: Buffer.alloc(30), headers: [{ name: 'h', value: Buffer.alloc(20) }] }]))).toBe(
      'MESSAGE_TOO_LARGE',
    );
    expect(offsetsOf(await backend.produce(topic, [{ value: Buffer.alloc(100) }]))).toEqual([0n]);
  });

  it('spreads keyless records round-robin', async () => {
    const backend = await startBackend({ dataDir: tempDir() });
    const topic = uniqueTopic('rr');
    await backend.createTopic(topic, { partitions: 3 });
    const results = await backend.produce(topic, Array.from({ length: 6 }, () => ({ value: b('x') })));
    expect(results.map((r) => r.partition)).toEqual([0, 1, 2, 0, 1, 2]);
  });

  it('a re-created topic starts empty, without the old group offsets', async () => {
    const backend = await startBackend({ dataDir: tempDir() });
    const topic = uniqueTopic('recreate');
    const group = uniqueId('g');
    await backend.createTopic(topic, { partitions: 1 });
    await backend.produce(topic, [{ value: b('old') }]);
    await backend.commitOffsets(group, [{ topic, partition: 0, offset: 1n }]);
    await backend.deleteTopic(topic);
    await backend.createTopic(topic, { partitions: 1 });
    expect(await backend.offsets(topic)).toEqual([{ partition: 0, earliest: 0n, latest: 0n }]);
    expect(await backend.committedOffsets(group, [topic])).toEqual([]);
    expect(offsetsOf(await backend.produce(topic, [{ value: b('new') }]))).toEqual([0n]);
  });

  it('concurrent creates of one topic: exactly one wins, the other is ALREADY_EXISTS', async () => {
    const backend = await startBackend({ dataDir: tempDir() });
    const topic = uniqueTopic('race');
    const outcomes = await Promise.allSettled([backend.createTopic(topic, { partitions: 1 }), backend.createTopic(topic, { partitions: 2 })]);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(1);
    const rejected = outcomes.find((o) => o.status === 'rejected') as PromiseRejectedResult;
    expect((rejected.reason as GatewayError).code).toBe('ALREADY_EXISTS');
  });

  it('hides internal "__" topics from listTopics but describes them', async () => {
    const backend = await startBackend({ dataDir: tempDir() });
    const internal = `__${uniqueTopic('internal')}`;
    await backend.createTopic(internal, { partitions: 1 });
    expect((await backend.listTopics()).some((t) => t.name === internal)).toBe(false);
    expect((await backend.describeTopic(internal)).partitions).toBe(1);
  });
});
