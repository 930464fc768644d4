/**
 * The ONE backend conformance suite: the same behaviour asserted against every Backend
 * (embedded log, Kafka). Each test creates its own topics with unique names — topic
 * auto-creation is the core's decision, never the backend's.
 *
 * Only what both backends guarantee is asserted here; for example Kafka compacts in the
 * background, so for compacted topics the suite checks that a full read folded "last value
 * wins" per key gives the latest values, not that older records are physically gone.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Backend, FetchResult } from '../../gateway/backends/port.js';
import { murmur2, partitionForKey } from '../../gateway/backends/partitioner.js';
import { GatewayError, type Code } from '../../gateway/errors.js';
import type { ProduceRecord, ProduceResult, StreamRecord } from '../../gateway/record.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';

export interface BackendConformanceOptions {
  /** Run the retention test (records older than `retention.ms` go; `earliest` advances). */
  supportsRetentionTest?: boolean;
}

const b = (s: string): Buffer => Buffer.from(s, 'utf8');
const h = (name: string, value: Buffer): { name: string; value: Buffer } => ({ name, value });

/** Awaits a promise that must fail with a GatewayError of `code`; returns the error. */
async function expectCode(promise: Promise<unknown>, code: Code): Promise<GatewayError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  expect(caught, `expected a GatewayError ${code}`).toBeInstanceOf(GatewayError);
  expect((caught as GatewayError).code).toBe(code);
  return caught as GatewayError;
}

/**
 * A produce that must not write: either the whole call rejects with `code`, or (the port
 * allows per-record outcomes) every record reports `ok: false` with `code`.
 */
async function expectProduceRejected(promise: Promise<ProduceResult[]>, code: Code): Promise<void> {
  let results: ProduceResult[] | undefined;
  let caught: unknown;
  try {
    results = await promise;
  } catch (err) {
    caught = err;
  }
  if (results !== undefined) {
    for (const r of results) {
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.error.code).toBe(code);
    }
    return;
  }
  expect(caught).toBeInstanceOf(GatewayError);
  expect((caught as GatewayError).code).toBe(code);
}

function okResults(results: ProduceResult[]): { partition: number; offset: bigint; timestamp: number }[] {
  return results.map((r, i) => {
    if (!r.ok) throw new Error(`record ${i} was not written: ${r.error.code} ${r.error.message}`);
    return { partition: r.partition, offset: r.offset, timestamp: r.timestamp };
  });
}

/** Reads a whole partition from `from` to its current end, chaining `nextOffset`. */
async function readAll(backend: Backend, topic: string, partition: number, from = 0n, maxRecords = 500): Promise<StreamRecord[]> {
  const out: StreamRecord[] = [];
  let offset = from;
  for (let guard = 0; guard < 10_000; guard++) {
    const res = await backend.fetch(topic, partition, offset, { maxRecords });
    out.push(...res.records);
    if (res.records.length === 0 && res.nextOffset >= res.latest) return out;
    expect(res.nextOffset).toBeGreaterThan(offset);
    offset = res.nextOffset;
    if (offset >= res.latest) return out;
  }
  throw new Error('readAll did not reach the end of the partition');
}

/**
 * Defines the conformance tests for one backend. `create` returns a started backend; the
 * suite closes every backend it created.
 */
export function describeBackendConformance(
  name: string,
  create: () => Promise<Backend>,
  options: BackendConformanceOptions = {},
): void {
  describe(`backend conformance: ${name}`, () => {
    let backend: Backend;

    beforeAll(async () => {
      backend = await create();
    });

    afterAll(async () => {
      await backend?.close();
    });

    describe('topics', () => {
      it('creates, describes and lists a multi-partition topic', async () => {
        const topic = uniqueTopic('conf-create');
        await backend.createTopic(topic, { partitions: 3 });
        const info = await backend.describeTopic(topic);
        expect(info.name).toBe(topic);
        expect(info.partitions).toBe(3);
        const listed = (await backend.listTopics()).find((t) => t.name === topic);
        expect(listed?.partitions).toBe(3);
        const offsets = await backend.offsets(topic);
        expect(offsets.map((o) => o.partition).sort()).toEqual([0, 1, 2]);
        for (const o of offsets) {
          expect(o.earliest).toBe(0n);
          expect(o.latest).toBe(0n);
        }
      });

      it('rejects creating an existing topic with ALREADY_EXISTS and keeps it intact', async () => {
        const topic = uniqueTopic('conf-exists');
        await backend.createTopic(topic, { partitions: 2 });
        await backend.produce(topic, [{ value: b('kept'), partition: 1 }]);
        await expectCode(backend.createTopic(topic, { partitions: 5 }), 'ALREADY_EXISTS');
        expect((await backend.describeTopic(topic)).partitions).toBe(2);
        const records = await readAll(backend, topic, 1);
        expect(records.map((r) => r.value?.toString())).toEqual(['kept']);
      });

      it('reports TOPIC_NOT_FOUND for a missing topic on describe, produce, fetch and offsets', async () => {
        const topic = uniqueTopic('conf-missing');
        await expectCode(backend.describeTopic(topic), 'TOPIC_NOT_FOUND');
        await expectProduceRejected(backend.produce(topic, [{ value: b('x') }]), 'TOPIC_NOT_FOUND');
        await expectCode(backend.fetch(topic, 0, 0n), 'TOPIC_NOT_FOUND');
        await expectCode(backend.offsets(topic), 'TOPIC_NOT_FOUND');
        // The failed produce must not have created the topic behind the core's back.
        expect((await backend.listTopics()).some((t) => t.name === topic)).toBe(false);
      });

      it('deletes a topic', async () => {
        const topic = uniqueTopic('conf-delete');
        await backend.createTopic(topic, { partitions: 1 });
        await backend.produce(topic, [{ value: b('x') }]);
        await backend.deleteTopic(topic);
        await eventually(async () => !(await backend.listTopics()).some((t) => t.name === topic), { what: 'topic gone from listTopics' });
        await eventually(async () => {
          await expectCode(backend.describeTopic(topic), 'TOPIC_NOT_FOUND');
          return true;
        }, { what: 'describeTopic TOPIC_NOT_FOUND after delete' });
      });
    });

    describe('produce', () => {
      it('assigns dense consecutive offsets per partition, in input order', async () => {
        const topic = uniqueTopic('conf-dense');
        await backend.createTopic(topic, { partitions: 2 });
        const first = okResults(
          await backend.produce(topic, [
            { value: b('a0'), partition: 0 },
            { value: b('b0'), partition: 1 },
            { value: b('a1'), partition: 0 },
            { value: b('a2'), partition: 0 },
            { value: b('b1'), partition: 1 },
          ]),
        );
        expect(first.map((r) => [r.partition, r.offset])).toEqual([
          [0, 0n],
          [1, 0n],
          [0, 1n],
          [0, 2n],
          [1, 1n],
        ]);
        const second = okResults(await backend.produce(topic, [{ value: b('a3'), partition: 0 }, { value: b('a4'), partition: 0 }]));
        expect(second.map((r) => r.offset)).toEqual([3n, 4n]);
        const p0 = await readAll(backend, topic, 0);
        expect(p0.map((r) => [r.offset, r.value?.toString()])).toEqual([
          [0n, 'a0'],
          [1n, 'a1'],
          [2n, 'a2'],
          [3n, 'a3'],
          [4n, 'a4'],
        ]);
        const offsets = await backend.offsets(topic);
        expect(offsets.find((o) => o.partition === 0)?.latest).toBe(5n);
        expect(offsets.find((o) => o.partition === 1)?.latest).toBe(2n);
      });

      it('keeps order and density under concurrent produce calls to one partition', async () => {
        const topic = uniqueTopic('conf-concurrent');
        await backend.createTopic(topic, { partitions: 1 });
        const calls = Array.from({ length: 10 }, (_, i) =>
          backend.produce(topic, [0, 1, 2].map((j) => ({ value: b(`${i}-${j}`), partition: 0 }))),
        );
        const results = (await Promise.all(calls)).map(okResults);
        const all = results.flat().map((r) => r.offset).sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
        expect(all).toEqual(Array.from({ length: 30 }, (_, i) => BigInt(i)));
        // Within one call the offsets are consecutive in input order.
        for (const r of results) expect([r[1].offset - r[0].offset, r[2].offset - r[1].offset]).toEqual([1n, 1n]);
        const records = await readAll(backend, topic, 0);
        for (const r of results.flat()) {
          expect(records[Number(r.offset)].offset).toBe(r.offset);
        }
      });

      it('rejects a missing explicit partition with PARTITION_NOT_FOUND and writes nothing', async () => {
        const topic = uniqueTopic('conf-nopart');
        await backend.createTopic(topic, { partitions: 2 });
        await expectProduceRejected(backend.produce(topic, [{ value: b('x'), partition: 2 }]), 'PARTITION_NOT_FOUND');
        await expectCode(backend.fetch(topic, 2, 0n), 'PARTITION_NOT_FOUND');
        for (const o of await backend.offsets(topic)) expect(o.latest).toBe(0n);
      });

      it('uses Kafka murmur2 (Java-compatible) for keyed records: same key, same partition', async () => {
        // Reference hashes from Kafka's own UtilsTest#testMurmur2: the partitioner the suite
        // uses to predict partitions is checked against Java before trusting it.
        const javaReference: [string, number][] = [
          ['21', -973932308],
          ['foobar', -790332482],
          ['a-little-bit-long-string', -985981536],
          ['a-little-bit-longer-string', -1486304829],
          ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
          ['abc', 479470107],
        ];
        for (const [key, hash] of javaReference) expect(murmur2(b(key))).toBe(hash);

        const topic = uniqueTopic('conf-keys');
        await backend.createTopic(topic, { partitions: 6 });
        const keys = ['alpha', 'beta', 'user-42', 'sensors/kitchen/temp', 'x', '21', 'foobar', 'abc'];
        const first = okResults(await backend.produce(topic, keys.map((k) => ({ key: b(k), value: b(`1-${k}`) }))));
        const second = okResults(await backend.produce(topic, keys.map((k) => ({ key: b(k), value: b(`2-${k}`) }))));
        keys.forEach((k, i) => {
          expect(first[i].partition, `partition of key ${k}`).toBe(partitionForKey(b(k), 6));
          expect(second[i].partition).toBe(first[i].partition);
        });
        // Spot values independent of the implementation under test (computed with Java's formula).
        expect(partitionForKey(b('alpha'), 6)).toBe(4);
        expect(partitionForKey(b('beta'), 6)).toBe(2);
        expect(partitionForKey(b('sensors/kitchen/temp'), 6)).toBe(0);
      });

      it('puts keyless records into valid partitions', async () => {
        const topic = uniqueTopic('conf-nokey');
        await backend.createTopic(topic, { partitions: 3 });
        const results = okResults(await backend.produce(topic, Array.from({ length: 9 }, (_, i) => ({ value: b(`v${i}`) }))));
        for (const r of results) expect([0, 1, 2]).toContain(r.partition);
        const total = (await backend.offsets(topic)).reduce((n, o) => n + o.latest, 0n);
        expect(total).toBe(9n);
      });
    });

    describe('fetch', () => {
      it('round-trips key, value, headers and timestamp, keeping null and empty distinct', async () => {
        const topic = uniqueTopic('conf-roundtrip');
        await backend.createTopic(topic, { partitions: 1 });
        const binary = Buffer.from([0, 1, 2, 0xff, 0xfe, 0x80, 0x7f, 0]);
        const ts = 1_700_000_000_123;
        const input: ProduceRecord[] = [
          // Repeated, interleaved and integer-like names: the order is part of the record (as in Kafka).
          { key: b('k1'), value: b('v1'), headers: [h('h1', b('x')), h('bin', binary), h('7', b('i')), h('h1', b('y')), h('bin', b('')), h('h1', b('z'))], timestamp: ts },
          { key: null, value: b('no key'), timestamp: ts + 1 },
          { key: b('tomb'), value: null, timestamp: ts + 2 },
          { key: Buffer.alloc(0), value: Buffer.alloc(0), timestamp: ts + 3 },
          { key: binary, value: binary, headers: [h('empty', Buffer.alloc(0))], timestamp: ts + 4 },
        ];
        const results = okResults(await backend.produce(topic, input.map((r) => ({ ...r, partition: 0 }))));
        expect(results.map((r) => r.timestamp)).toEqual([ts, ts + 1, ts + 2, ts + 3, ts + 4]);
        const res = await backend.fetch(topic, 0, 0n);
        expect(res.records).toHaveLength(5);
        res.records.forEach((r, i) => {
          expect(r.topic).toBe(topic);
          expect(r.partition).toBe(0);
          expect(r.offset).toBe(BigInt(i));
          expect(r.timestamp).toBe(input[i].timestamp);
        });
        const [r0, r1, r2, r3, r4] = res.records;
        expect(r0.key).toEqual(b('k1'));
        expect(r0.value).toEqual(b('v1'));
        expect(r0.headers.map((x) => [x.name, x.value.toString('hex')])).toEqual(input[0]!.headers!.map((x) => [x.name, x.value.toString('hex')]));
        expect(r1.key).toBeNull();
        expect(r1.value).toEqual(b('no key'));
        expect(r1.headers).toEqual([]);
        expect(r2.key).toEqual(b('tomb'));
        expect(r2.value).toBeNull();
        expect(r3.key).not.toBeNull();
        expect(r3.key?.length).toBe(0);
        expect(r3.value).not.toBeNull();
        expect(r3.value?.length).toBe(0);
        expect(Buffer.compare(r4.key!, binary)).toBe(0);
        expect(Buffer.compare(r4.value!, binary)).toBe(0);
        expect(r4.headers).toHaveLength(1);
        expect(r4.headers[0]!.name).toBe('empty');
        expect(r4.headers[0]!.value.length).toBe(0);
        for (const r of res.records) {
          expect(r.key === null || Buffer.isBuffer(r.key)).toBe(true);
          expect(r.value === null || Buffer.isBuffer(r.value)).toBe(true);
        }
        expect(res.nextOffset).toBe(5n);
        expect(res.latest).toBe(5n);
        expect(res.earliest).toBe(0n);
      });

      it('stamps records without a timestamp with the current time', async () => {
        const topic = uniqueTopic('conf-now');
        await backend.createTopic(topic, { partitions: 1 });
        const before = Date.now();
        const [r] = okResults(await backend.produce(topic, [{ value: b('x') }]));
        const after = Date.now();
        const [rec] = (await backend.fetch(topic, 0, 0n)).records;
        expect(rec.timestamp).toBeGreaterThanOrEqual(before - 1000);
        expect(rec.timestamp).toBeLessThanOrEqual(after + 1000);
        expect(r.timestamp).toBe(rec.timestamp);
      });

      it('honours maxRecords and maxBytes (always at least one record)', async () => {
        const topic = uniqueTopic('conf-limits');
        await backend.createTopic(topic, { partitions: 1 });
        const value = Buffer.alloc(1000, 0x61);
        await backend.produce(topic, Array.from({ length: 10 }, () => ({ value, partition: 0 })));
        const three = await backend.fetch(topic, 0, 2n, { maxRecords: 3 });
        expect(three.records.map((r) => r.offset)).toEqual([2n, 3n, 4n]);
        expect(three.nextOffset).toBe(5n);

        const one = await backend.fetch(topic, 0, 0n, { maxBytes: 1 });
        expect(one.records.map((r) => r.offset)).toEqual([0n]);
        expect(one.nextOffset).toBe(1n);

        const some = await backend.fetch(topic, 0, 0n, { maxBytes: 2500 });
        expect(some.records.length).toBeGreaterThanOrEqual(1);
        expect(some.records.length).toBeLessThanOrEqual(3);
        expect(some.records.map((r) => r.offset)).toEqual(some.records.map((_, i) => BigInt(i)));
        expect(some.nextOffset).toBe(BigInt(some.records.length));
      });

      it('reads everything exactly once by chaining nextOffset', async () => {
        const topic = uniqueTopic('conf-chain');
        await backend.createTopic(topic, { partitions: 1 });
        for (let batch = 0; batch < 5; batch++) {
          await backend.produce(topic, Array.from({ length: 10 }, (_, i) => ({ value: b(`${batch * 10 + i}`), partition: 0 })));
        }
        const seen: string[] = [];
        let offset = 0n;
        let fetches = 0;
        while (offset < 50n) {
          const res: FetchResult = await backend.fetch(topic, 0, offset, { maxRecords: 7 });
          expect(res.records.length).toBeGreaterThan(0);
          expect(res.records.length).toBeLessThanOrEqual(7);
          expect(res.records[0].offset).toBe(offset);
          seen.push(...res.records.map((r) => r.value!.toString()));
          offset = res.nextOffset;
          fetches++;
        }
        expect(fetches).toBeGreaterThanOrEqual(8);
        expect(seen).toEqual(Array.from({ length: 50 }, (_, i) => `${i}`));
        const end = await backend.fetch(topic, 0, 50n);
        expect(end.records).toEqual([]);
        expect(end.nextOffset).toBe(50n);
        expect(end.latest).toBe(50n);
      });

      it('rejects offsets beyond the log end with OUT_OF_RANGE and {earliest, latest}', async () => {
        const topic = uniqueTopic('conf-oor');
        await backend.createTopic(topic, { partitions: 1 });
        await backend.produce(topic, [{ value: b('a'), partition: 0 }, { value: b('b'), partition: 0 }]);
        const err = await expectCode(backend.fetch(topic, 0, 3n), 'OUT_OF_RANGE');
        expect(err.details).toEqual({ earliest: '0', latest: '2' });
        // offset === latest is not out of range: it is where the next record goes.
        const atEnd = await backend.fetch(topic, 0, 2n);
        expect(atEnd.records).toEqual([]);
      });

      it('long-poll waits for a record and wakes on produce, before the timeout', async () => {
        const topic = uniqueTopic('conf-longpoll');
        await backend.createTopic(topic, { partitions: 1 });
        await backend.produce(topic, [{ value: b('old'), partition: 0 }]);
        const waitMs = 10_000;
        const started = Date.now();
        let resolvedAt = 0;
        const pending = backend.fetch(topic, 0, 1n, { waitMs }).then((res) => {
          resolvedAt = Date.now();
          return res;
        });
        // The fetch must still be waiting: nothing was produced at offset 1 yet.
        await new Promise((resolve) => setImmediate(resolve));
        expect(resolvedAt).toBe(0);
        const [produced] = okResults(await backend.produce(topic, [{ value: b('new'), partition: 0 }]));
        const producedAt = Date.now();
        const res = await pending;
        expect(produced.offset).toBe(1n);
        expect(res.records.map((r) => [r.offset, r.value?.toString()])).toEqual([[1n, 'new']]);
        expect(res.nextOffset).toBe(2n);
        expect(resolvedAt - started).toBeLessThan(waitMs - 2000);
        // It woke because of the produce, not by chance before it.
        expect(resolvedAt).toBeGreaterThanOrEqual(producedAt - 1000);
      });

      it('long-poll returns empty at the timeout when nothing arrives', async () => {
        const topic = uniqueTopic('conf-timeout');
        await backend.createTopic(topic, { partitions: 1 });
        const started = Date.now();
        const res = await backend.fetch(topic, 0, 0n, { waitMs: 300 });
        const elapsed = Date.now() - started;
        expect(res.records).toEqual([]);
        expect(res.nextOffset).toBe(0n);
        expect(elapsed).toBeGreaterThanOrEqual(250);
        expect(elapsed).toBeLessThan(5000);
      });

      it('long-poll is cancelled by its abort signal with CANCELLED', async () => {
        const topic = uniqueTopic('conf-abort');
        await backend.createTopic(topic, { partitions: 1 });
        const started = Date.now();
        const controller = new AbortController();
        const pending = backend.fetch(topic, 0, 0n, { waitMs: 10_000, signal: controller.signal });
        controller.abort();
        await expectCode(pending, 'CANCELLED');
        expect(Date.now() - started).toBeLessThan(5000);
        // An already-aborted signal fails at once.
        await expectCode(backend.fetch(topic, 0, 0n, { waitMs: 10_000, signal: AbortSignal.abort() }), 'CANCELLED');
      });
    });

    describe('offsets', () => {
      it('reports earliest and latest per partition', async () => {
        const topic = uniqueTopic('conf-offsets');
        await backend.createTopic(topic, { partitions: 2 });
        await backend.produce(topic, [
          { value: b('a'), partition: 1 },
          { value: b('b'), partition: 1 },
          { value: b('c'), partition: 1 },
        ]);
        const offsets = [...(await backend.offsets(topic))].sort((x, y) => x.partition - y.partition);
        expect(offsets).toEqual([
          { partition: 0, earliest: 0n, latest: 0n },
          { partition: 1, earliest: 0n, latest: 3n },
        ]);
      });

      it('deleteRecords moves the log start; below it is OUT_OF_RANGE; offsets are never reused', async () => {
        const topic = uniqueTopic('conf-delrec');
        await backend.createTopic(topic, { partitions: 1 });
        await backend.produce(topic, Array.from({ length: 5 }, (_, i) => ({ value: b(`v${i}`), partition: 0 })));
        await backend.deleteRecords(topic, 0, 3n);
        expect(await backend.offsets(topic)).toEqual([{ partition: 0, earliest: 3n, latest: 5n }]);
        const err = await expectCode(backend.fetch(topic, 0, 2n), 'OUT_OF_RANGE');
        expect(err.details).toEqual({ earliest: '3', latest: '5' });
        const rest = await backend.fetch(topic, 0, 3n);
        expect(rest.records.map((r) => [r.offset, r.value?.toString()])).toEqual([
          [3n, 'v3'],
          [4n, 'v4'],
        ]);
        expect(rest.earliest).toBe(3n);
        // Deleting everything leaves the log end where it was: the next record is offset 5.
        await backend.deleteRecords(topic, 0, 5n);
        expect(await backend.offsets(topic)).toEqual([{ partition: 0, earliest: 5n, latest: 5n }]);
        const [next] = okResults(await backend.produce(topic, [{ value: b('v5'), partition: 0 }]));
        expect(next.offset).toBe(5n);
        await expectCode(backend.deleteRecords(topic, 0, 7n), 'OUT_OF_RANGE');
      });

      it('finds the first offset with timestamp >= t per partition (latest if none)', async () => {
        const topic = uniqueTopic('conf-times');
        await backend.createTopic(topic, { partitions: 2 });
        const t0 = Date.now() - 60_000;
        await backend.produce(topic, [
          { value: b('a'), partition: 0, timestamp: t0 },
          { value: b('b'), partition: 0, timestamp: t0 + 1000 },
          { value: b('c'), partition: 0, timestamp: t0 + 2000 },
          { value: b('d'), partition: 1, timestamp: t0 + 1500 },
        ]);
        const at = async (t: number): Promise<[number, bigint][]> =>
          [...(await backend.offsetsForTimestamp(topic, t)).entries()].sort((x, y) => x[0] - y[0]);
        expect(await at(t0 - 5000)).toEqual([
          [0, 0n],
          [1, 0n],
        ]);
        expect(await at(t0 + 1000)).toEqual([
          [0, 1n],
          [1, 0n],
        ]);
        expect(await at(t0 + 1500)).toEqual([
          [0, 2n],
          [1, 0n],
        ]);
        expect(await at(t0 + 1600)).toEqual([
          [0, 2n],
          [1, 1n],
        ]);
        expect(await at(t0 + 10_000)).toEqual([
          [0, 3n],
          [1, 1n],
        ]);
        await expectCode(backend.offsetsForTimestamp(uniqueTopic('conf-times-missing'), t0), 'TOPIC_NOT_FOUND');
      });
    });

    describe('group offsets', () => {
      it('stores committed offsets per group; groups are independent; uncommitted partitions omitted', async () => {
        const topic = uniqueTopic('conf-commit');
        const other = uniqueTopic('conf-commit-other');
        await backend.createTopic(topic, { partitions: 3 });
        await backend.createTopic(other, { partitions: 1 });
        await backend.produce(topic, Array.from({ length: 10 }, (_, i) => ({ value: b(`${i}`), partition: i % 3 })));
        await backend.produce(other, [{ value: b('x'), partition: 0 }]);
        const g1 = uniqueId('conf-g1');
        const g2 = uniqueId('conf-g2');
        const sorted = (list: { topic: string; partition: number; offset: bigint }[]) =>
          list.map((c) => [c.topic, c.partition, c.offset]).sort((x, y) => `${x[0]}/${x[1]}`.localeCompare(`${y[0]}/${y[1]}`));

        expect(await backend.committedOffsets(g1, [topic])).toEqual([]);
        await backend.commitOffsets(g1, [
          { topic, partition: 0, offset: 3n },
          { topic, partition: 2, offset: 1n },
        ]);
        await backend.commitOffsets(g2, [{ topic, partition: 0, offset: 1n }]);
        expect(sorted(await backend.committedOffsets(g1, [topic]))).toEqual([
          [topic, 0, 3n],
          [topic, 2, 1n],
        ]);
        expect(sorted(await backend.committedOffsets(g2, [topic]))).toEqual([[topic, 0, 1n]]);

        // A later commit replaces the earlier one; other topics are only reported when asked for.
        await backend.commitOffsets(g1, [
          { topic, partition: 0, offset: 4n },
          { topic: other, partition: 0, offset: 1n },
        ]);
        expect(sorted(await backend.committedOffsets(g1, [topic]))).toEqual([
          [topic, 0, 4n],
          [topic, 2, 1n],
        ]);
        expect(sorted(await backend.committedOffsets(g1, [topic, other]))).toEqual(
          sorted([
            { topic, partition: 0, offset: 4n },
            { topic, partition: 2, offset: 1n },
            { topic: other, partition: 0, offset: 1n },
          ]),
        );
        expect(sorted(await backend.committedOffsets(g2, [topic]))).toEqual([[topic, 0, 1n]]);
      });
    });

    describe('cluster, partitions, configs and groups (REST v3)', () => {
      it('a cluster id that stays; one entry per partition; the configs the topic was created with; a group by its commits', async () => {
        const first = await backend.describeCluster();
        expect(first.clusterId).toMatch(/^[A-Za-z0-9_-]+$/);
        expect((await backend.describeCluster()).clusterId).toBe(first.clusterId);

        const topic = uniqueTopic('conf-v3');
        await backend.createTopic(topic, { partitions: 2, config: { 'cleanup.policy': 'compact', 'retention.ms': '60000' } });
        const partitions = await backend.describePartitions(topic);
        expect(partitions.map((p) => p.partition)).toEqual([0, 1]);
        for (const p of partitions) {
          if (backend.kind === 'kafka') expect(p.replicas).toContain(p.leader);
          else expect(p).toEqual({ partition: p.partition, leader: null, replicas: [], isr: [] });
        }
        const configs = new Map((await backend.topicConfigs(topic)).map((c) => [c.name, c]));
        expect(configs.get('cleanup.policy')).toMatchObject({ value: 'compact', isDefault: false, source: 'DYNAMIC_TOPIC_CONFIG' });
        expect(configs.get('retention.ms')).toMatchObject({ value: '60000', isDefault: false });
        expect(configs.get('retention.bytes')).toMatchObject({ isDefault: true });
        await expectCode(backend.topicConfigs(uniqueTopic('conf-missing')), 'TOPIC_NOT_FOUND');
        await expectCode(backend.describePartitions(uniqueTopic('conf-missing')), 'TOPIC_NOT_FOUND');

        const group = uniqueId('conf-v3g');
        expect(await backend.describeGroup(group)).toBeUndefined();
        await backend.commitOffsets(group, [{ topic, partition: 1, offset: 0n }]);
        expect((await backend.groupOffsets(group)).map(({ topic: t, partition, offset }) => ({ topic: t, partition, offset }))).toEqual([{ topic, partition: 1, offset: 0n }]);
        expect(await backend.describeGroup(group)).toMatchObject({ group, state: 'EMPTY', members: [] });
        expect((await backend.listGroups()).map((g) => g.group)).toContain(group);
      });
    });

    describe('compaction', () => {
      it('a compacted topic yields the latest value per key; a null value deletes the key', async () => {
        const topic = uniqueTopic('conf-compact');
        await backend.createTopic(topic, { partitions: 1, compacted: true });
        expect((await backend.describeTopic(topic)).config['cleanup.policy']).toBe('compact');
        await backend.produce(topic, [
          { key: b('k1'), value: b('a'), partition: 0 },
          { key: b('k2'), value: b('b'), partition: 0 },
          { key: b('k1'), value: b('c'), partition: 0 },
        ]);
        await backend.produce(topic, [
          { key: b('k3'), value: b('d'), partition: 0 },
          { key: b('k2'), value: null, partition: 0 },
          { key: b('k3'), value: b('e'), partition: 0 },
        ]);
        const records = await readAll(backend, topic, 0);
        // Offsets stay as written (compaction leaves gaps; it never renumbers).
        for (let i = 1; i < records.length; i++) expect(records[i].offset).toBeGreaterThan(records[i - 1].offset);
        const state = new Map<string, string | null>();
        for (const r of records) state.set(r.key!.toString(), r.value === null ? null : r.value.toString());
        const live = [...state].filter(([, v]) => v !== null).sort();
        expect(live).toEqual([
          ['k1', 'c'],
          ['k3', 'e'],
        ]);
        expect(records.at(-1)?.offset).toBe(5n);
        expect((await backend.offsets(topic))[0].latest).toBe(6n);
      });
    });

    if (options.supportsRetentionTest) {
      describe('retention', () => {
        it('drops records older than retention.ms; earliest advances; fetch below it is OUT_OF_RANGE', async () => {
          const topic = uniqueTopic('conf-retention');
          await backend.createTopic(topic, { partitions: 1, config: { 'retention.ms': '60000' } });
          const old = Date.now() - 3_600_000;
          await backend.produce(topic, [
            { value: b('old0'), partition: 0, timestamp: old },
            { value: b('old1'), partition: 0, timestamp: old + 1 },
          ]);
          await backend.produce(topic, [{ value: b('fresh'), partition: 0 }]);
          const earliest = await eventually(async () => {
            const [o] = await backend.offsets(topic);
            return o.earliest === 2n ? o : undefined;
          }, { what: 'earliest advanced past expired records' });
          expect(earliest.latest).toBe(3n);
          const err = await expectCode(backend.fetch(topic, 0, 0n), 'OUT_OF_RANGE');
          expect(err.details).toEqual({ earliest: '2', latest: '3' });
          const rest = await backend.fetch(topic, 0, 2n);
          expect(rest.records.map((r) => r.value?.toString())).toEqual(['fresh']);
        });
      });
    }

    describe('lifecycle', () => {
      it('close() resolves pending long-polls empty, is idempotent, and later calls are UNAVAILABLE', async () => {
        const own = await create();
        const topic = uniqueTopic('conf-close');
        await own.createTopic(topic, { partitions: 1 });
        expect(await own.healthy()).toBe(true);
        const started = Date.now();
        const pending = own.fetch(topic, 0, 0n, { waitMs: 20_000 });
        await own.close();
        const res = await pending;
        expect(res.records).toEqual([]);
        expect(Date.now() - started).toBeLessThan(10_000);
        await own.close();
        expect(await own.healthy()).toBe(false);
        await expectProduceRejected(own.produce(topic, [{ value: b('late') }]), 'UNAVAILABLE');
        await expectCode(own.fetch(topic, 0, 0n), 'UNAVAILABLE');
      });
    });
  });
}
