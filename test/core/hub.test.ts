/**
 * The fan-out hub and groups, against both real backends: one shared reader per partition,
 * gap-free catch-up, bounded memory with slow subscribers, continuity notices, groups with
 * commit-after-ack and redelivery, idempotent produce.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ContinuityLost, SubscriberSink } from '../../gateway/api.js';
import { GatewayError } from '../../gateway/errors.js';
import { EARLIEST, LATEST, offsetsPosition, type StreamRecord } from '../../gateway/record.js';
import { BACKENDS, createTestCore, type TestCore } from '../support/core.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';

const seqOf = (r: StreamRecord): number => Number(r.value!.toString('utf8'));

/** A sink that collects records (and notices) and never pushes back. */
function collector(): SubscriberSink & { got: StreamRecord[]; notices: ContinuityLost[]; ended: GatewayError[] } {
  const got: StreamRecord[] = [];
  const notices: ContinuityLost[] = [];
  const ended: GatewayError[] = [];
  return {
    got,
    notices,
    ended,
    records: (batch) => {
      got.push(...batch);
    },
    continuityLost: (n) => notices.push(n),
    end: (err) => {
      if (err) ended.push(err);
    },
  };
}

/** Asserts per-partition offsets strictly increase (no duplicate, in order). */
function expectOrderedPerPartition(records: readonly StreamRecord[]): void {
  const last = new Map<number, bigint>();
  for (const r of records) {
    const prev = last.get(r.partition);
    if (prev !== undefined) expect(r.offset > prev, `partition ${r.partition}: ${r.offset} after ${prev}`).toBe(true);
    last.set(r.partition, r.offset);
  }
}

async function produceSeq(t: TestCore, topic: string, from: number, count: number, keys = 1): Promise<void> {
  const records = Array.from({ length: count }, (_, i) => ({ key: Buffer.from(`k${(from + i) % keys}`), value: Buffer.from(String(from + i)) }));
  const results = await t.core.produce(t.ctx, topic, records);
  expect(results.every((r) => r.ok)).toBe(true);
}

describe.each(BACKENDS)('hub and groups on the %s backend', (kind) => {
  let t: TestCore;
  beforeAll(async () => {
    t = await createTestCore(kind, { embedded: { defaultPartitions: 1 }, groups: { autoCommitIntervalMs: 50 } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('hands unfiltered tail subscribers the shared read itself, and filtered ones only their keys', async () => {
    const topic = uniqueTopic('shared-batch');
    await t.backend.createTopic(topic, { partitions: 1 });
    const batches: (readonly StreamRecord[])[][] = [[], [], []];
    const sink = (i: number): SubscriberSink => ({ records: (batch) => void batches[i]!.push(batch), end: () => undefined });
    await t.core.subscribe(t.ctx, { topic, from: LATEST }, sink(0));
    await t.core.subscribe(t.ctx, { topic, from: LATEST }, sink(1));
    await t.core.subscribe(t.ctx, { topic, from: LATEST, filters: [{ kind: 'exact', key: 'k1' }] }, sink(2));
    await produceSeq(t, topic, 0, 10, 3);
    const count = (i: number) => batches[i]!.reduce((n, b) => n + b.length, 0);
    await eventually(() => count(0) === 10 && count(1) === 10 && count(2) === 3, { what: 'all records delivered' });
    // The same array object, batch by batch: what lets an adapter encode a batch once for all of them.
    expect(batches[0]!.length).toBe(batches[1]!.length);
    batches[0]!.forEach((b, i) => expect(b).toBe(batches[1]![i]));
    expect(batches[2]!.flat().map((r) => r.key!.toString())).toEqual(['k1', 'k1', 'k1']);
  });

  it('feeds 1,000 subscribers of one topic from one reader per partition', async () => {
    const topic = uniqueTopic('fanout');
    await t.backend.createTopic(topic, { partitions: 2 });
    const sinks = Array.from({ length: 1000 }, () => collector());
    const subs = await Promise.all(sinks.map((sink) => t.core.subscribe(t.ctx, { topic, from: LATEST }, sink)));
    expect(t.core.hub.readersOf(topic)).toBe(2);

    await produceSeq(t, topic, 0, 60, 7);
    await eventually(() => sinks.every((s) => s.got.length === 60), { what: 'every subscriber got all 60 records', timeoutMs: 20_000 });
    for (const s of sinks) {
      expectOrderedPerPartition(s.got);
      expect(s.got.map(seqOf).sort((a, b) => a - b)).toEqual(Array.from({ length: 60 }, (_, i) => i));
    }
    expect(t.core.hub.readersOf(topic)).toBe(2);

    for (const sub of subs) sub.close();
    await eventually(() => t.core.hub.readersOf(topic) === 0, { what: 'readers stop without subscribers' });
  });

  it('catches a subscriber up from earliest while records keep arriving: each record exactly once, in order', async () => {
    const topic = uniqueTopic('catchup');
    await t.backend.createTopic(topic, { partitions: 1 });
    await produceSeq(t, topic, 0, 300);
    const sink = collector();
    const producing = (async () => {
      for (let i = 300; i < 600; i += 20) await produceSeq(t, topic, i, 20);
    })();
    const sub = await t.core.subscribe(t.ctx, { topic, from: EARLIEST }, sink);
    expect(sub.start.get(0)).toBe(0n);
    await producing;
    await eventually(() => sink.got.length >= 600, { what: '600 records', timeoutMs: 20_000 });
    expect(sink.got.map(seqOf)).toEqual(Array.from({ length: 600 }, (_, i) => i));
    expect(sink.got.map((r) => r.offset)).toEqual(Array.from({ length: 600 }, (_, i) => BigInt(i)));
    expect(sub.positions().get(0)).toBe(600n);
    sub.close();
  });

  it('resuming from (partition, offset+1) gives no gap and no duplicate', async () => {
    const topic = uniqueTopic('resume');
    await t.backend.createTopic(topic, { partitions: 2 });
    await produceSeq(t, topic, 0, 40, 5);
    const first = collector();
    const sub1 = await t.core.subscribe(t.ctx, { topic, from: EARLIEST }, first);
    await eventually(() => first.got.length === 40);
    sub1.close();
    // Resume from the last seen offset + 1 per partition, after more records were written.
    const resumeAt: Record<string, string> = {};
    for (const r of first.got.slice(0, 25)) resumeAt[String(r.partition)] = String(r.offset + 1n);
    const seen = new Set(first.got.slice(0, 25).map(seqOf));
    await produceSeq(t, topic, 40, 20, 5);
    const second = collector();
    const sub2 = await t.core.subscribe(t.ctx, { topic, from: offsetsPosition(resumeAt, 'earliest') }, second);
    await eventually(() => seen.size + second.got.length === 60, { what: 'resumed subscriber reaches 60 records' });
    for (const r of second.got) {
      expect(seen.has(seqOf(r)), `duplicate ${seqOf(r)}`).toBe(false);
      seen.add(seqOf(r));
    }
    expect(seen.size).toBe(60);
    sub2.close();
  });

  it('applies key filters in the hub (exact, prefix, MQTT-style)', async () => {
    const topic = uniqueTopic('filters');
    await t.backend.createTopic(topic, { partitions: 1 });
    const exact = collector();
    const prefix = collector();
    const mqtt = collector();
    const subs = [
      await t.core.subscribe(t.ctx, { topic, from: LATEST, filters: [{ kind: 'exact', key: 'home/kitchen/temp' }] }, exact),
      await t.core.subscribe(t.ctx, { topic, from: LATEST, filters: [{ kind: 'prefix', prefix: 'home/' }] }, prefix),
      await t.core.subscribe(t.ctx, { topic, from: LATEST, filters: [{ kind: 'mqtt', filter: '+/kitchen/#' }] }, mqtt),
    ];
    const keys = ['home/kitchen/temp', 'home/hall/temp', 'office/kitchen', 'office/kitchen/door/open', '$SYS/kitchen/x', 'garage'];
    await t.core.produce(t.ctx, topic, keys.map((k) => ({ key: Buffer.from(k), value: Buffer.from(k) })));
    await t.core.produce(t.ctx, topic, [{ key: null, value: Buffer.from('end') }]);
    await eventually(() => exact.got.length === 1 && prefix.got.length === 2 && mqtt.got.length === 3);
    expect(exact.got.map((r) => r.key!.toString())).toEqual(['home/kitchen/temp']);
    expect(prefix.got.map((r) => r.key!.toString())).toEqual(['home/kitchen/temp', 'home/hall/temp']);
    expect(mqtt.got.map((r) => r.key!.toString())).toEqual(['home/kitchen/temp', 'office/kitchen', 'office/kitchen/door/open']);
    // Filtered-out records still advance the resume position.
    await eventually(() => subs[0]!.positions().get(0) === 7n);
    for (const s of subs) s.close();
  });

  it('tells a subscriber whose position is below the log start, and OUT_OF_RANGE when strict', async () => {
    const topic = uniqueTopic('continuity');
    await t.backend.createTopic(topic, { partitions: 1 });
    await produceSeq(t, topic, 0, 10);
    await truncate(t, kind, topic, 4n);
    const sink = collector();
    const sub = await t.core.subscribe(t.ctx, { topic, from: offsetsPosition({ 0: '1' }) }, sink);
    expect(sink.notices).toEqual([{ partition: 0, requested: 1n, actual: 4n, reason: 'below_log_start' }]);
    await eventually(() => sink.got.length === 6);
    expect(sink.got.map(seqOf)).toEqual([4, 5, 6, 7, 8, 9]);
    sub.close();

    const err = await t.core.subscribe(t.ctx, { topic, from: offsetsPosition({ 0: '1' }), strict: true }, collector()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).code).toBe('OUT_OF_RANGE');
  });

  it('rejects subscriptions to missing topics and partitions with catalogued errors', async () => {
    const missing = await t.core.subscribe(t.ctx, { topic: uniqueTopic('missing'), from: LATEST }, collector()).catch((e: unknown) => e);
    expect((missing as GatewayError).code).toBe('TOPIC_NOT_FOUND');
    const topic = uniqueTopic('parts');
    await t.backend.createTopic(topic, { partitions: 1 });
    const badPartition = await t.core.subscribe(t.ctx, { topic, from: LATEST, partitions: [3] }, collector()).catch((e: unknown) => e);
    expect((badPartition as GatewayError).code).toBe('PARTITION_NOT_FOUND');
    const badName = await t.core.subscribe(t.ctx, { topic: '../etc', from: LATEST }, collector()).catch((e: unknown) => e);
    expect((badName as GatewayError).code).toBe('INVALID_TOPIC');
  });

  it('splits partitions between group members and resumes a restarted group from its committed offsets', async () => {
    const topic = uniqueTopic('group');
    const group = uniqueId('g');
    await t.backend.createTopic(topic, { partitions: 4 });
    await produceSeq(t, topic, 0, 40, 11);
    const m1 = await t.core.joinGroup(t.ctx, { group, topics: [topic], memberId: 'a', resetTo: 'earliest', autoCommit: false });
    const m2 = await t.core.joinGroup(t.ctx, { group, topics: [topic], memberId: 'b', resetTo: 'earliest', autoCommit: false });
    const a1 = m1.assignment().map((tp) => tp.partition);
    const a2 = m2.assignment().map((tp) => tp.partition);
    expect(a1.length).toBe(2);
    expect(a2.length).toBe(2);
    expect([...a1, ...a2].sort()).toEqual([0, 1, 2, 3]);

    const got: StreamRecord[] = [];
    await eventually(async () => {
      got.push(...(await m1.poll({ maxRecords: 100 })), ...(await m2.poll({ maxRecords: 100 })));
      return got.length >= 40;
    });
    expect(got.map(seqOf).sort((x, y) => x - y)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    await m1.commit();
    await m2.commit();
    await m1.leave();
    await m2.leave();

    await produceSeq(t, topic, 40, 20, 11);
    const m3 = await t.core.joinGroup(t.ctx, { group, topics: [topic], resetTo: 'earliest', autoCommit: false });
    expect(m3.assignment().length).toBe(4);
    const again: StreamRecord[] = [];
    await eventually(async () => {
      again.push(...(await m3.poll({ maxRecords: 100 })));
      return again.length >= 20;
    });
    expect(again.map(seqOf).sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => 40 + i));
    await m3.leave();
  });

  it('commits only the contiguous acknowledged prefix and redelivers records not acknowledged in time', async () => {
    const topic = uniqueTopic('acks');
    const group = uniqueId('g');
    await t.backend.createTopic(topic, { partitions: 1 });
    await produceSeq(t, topic, 0, 5);
    const member = await t.core.joinGroup(t.ctx, { group, topics: [topic], resetTo: 'earliest', ackTimeoutMs: 400 });
    const deliveries: bigint[] = [];
    const stream = member.stream({ records: (batch) => void deliveries.push(...batch.map((r) => r.offset)), end: () => undefined });
    await eventually(() => deliveries.length >= 5);
    expect(deliveries.slice(0, 5)).toEqual([0n, 1n, 2n, 3n, 4n]);
    for (const offset of [4n, 0n, 3n, 1n]) expect(member.ack(topic, 0, offset)).toBe(true);
    expect(member.ack(topic, 0, 99n)).toBe(false);
    const committed = async () => (await t.backend.committedOffsets(group, [topic]))[0]?.offset;
    await eventually(async () => (await committed()) === 2n, { what: 'commit of the contiguous prefix (offset 2)' });
    await eventually(() => deliveries.filter((o) => o === 2n).length >= 2, { what: 'redelivery of offset 2' });
    expect(deliveries.filter((o) => o !== 2n).length).toBe(4);
    expect(await committed()).toBe(2n);
    expect(member.ack(topic, 0, 2n)).toBe(true);
    await eventually(async () => (await committed()) === 5n, { what: 'commit after the gap is acknowledged' });
    stream.stop();
    await member.leave();
  });

  it('writes a retried produce with the same idempotency key once', async () => {
    const topic = uniqueTopic('idem');
    const record = () => [{ key: Buffer.from('k'), value: Buffer.from('once') }];
    const [a, b] = await Promise.all([
      t.core.produce(t.ctx, topic, record(), { idempotencyKey: 'req-1' }),
      t.core.produce(t.ctx, topic, record(), { idempotencyKey: 'req-1' }),
    ]);
    const c = await t.core.produce(t.ctx, topic, record(), { idempotencyKey: 'req-1' });
    expect(b).toEqual(a);
    expect(c).toEqual(a);
    const d = await t.core.produce(t.ctx, topic, record(), { idempotencyKey: 'req-2' });
    expect(d[0]!.ok && a[0]!.ok && d[0].offset === a[0].offset + 1n).toBe(true);
    const [bounds] = await t.core.offsets(t.ctx, topic);
    expect(bounds!.latest - bounds!.earliest).toBe(2n);
  });
});

describe.each(BACKENDS)('slow subscribers on the %s backend', (kind) => {
  let t: TestCore;
  const maxQueueBytes = 32 * 1024;
  const fetchMaxBytes = 16 * 1024;
  beforeAll(async () => {
    t = await createTestCore(kind, { hub: { maxQueueBytes, fetchMaxBytes, fetchMaxRecords: 50, slowConsumerMs: 1500 } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('does not let a stalled subscriber slow the others, bounds its memory, and ends it as SLOW_CONSUMER', async () => {
    const topic = uniqueTopic('stall');
    await t.backend.createTopic(topic, { partitions: 1 });
    const fast = collector();
    const stalledEnded: GatewayError[] = [];
    let stalledCalls = 0;
    const stalled: SubscriberSink = {
      records: () => {
        stalledCalls++;
        return new Promise<void>(() => undefined); // a transport that never takes the bytes
      },
      end: (err) => {
        if (err) stalledEnded.push(err);
      },
    };
    await t.core.subscribe(t.ctx, { topic, from: LATEST }, stalled);
    const fastSub = await t.core.subscribe(t.ctx, { topic, from: LATEST }, fast);
    let maxQueued = 0;
    const padding = 'x'.repeat(400);
    for (let i = 0; i < 1000; i += 50) {
      await t.core.produce(t.ctx, topic, Array.from({ length: 50 }, (_, j) => ({ key: null, value: Buffer.from(`${i + j}:${padding}`) })));
      maxQueued = Math.max(maxQueued, t.core.stats().queuedBytes);
    }
    await eventually(() => fast.got.length === 1000, { what: 'fast subscriber got all 1000' });
    expect(fast.got.map((r) => Number(r.value!.toString().split(':')[0]))).toEqual(Array.from({ length: 1000 }, (_, i) => i));
    expect(stalledCalls).toBe(1);
    // ~450 KiB were written; the stalled subscriber holds at most its bound plus one fetch.
    expect(maxQueued).toBeLessThanOrEqual(maxQueueBytes + fetchMaxBytes + 2 * 64 * 1024);
    expect(t.core.stats().detachments).toBeGreaterThan(0);
    await eventually(() => stalledEnded.length === 1, { what: 'stalled subscriber ended', timeoutMs: 8000 });
    expect(stalledEnded[0]!.code).toBe('SLOW_CONSUMER');
    fastSub.close();
  });

  it('ends a subscriber that stops reading during its first catch-up as SLOW_CONSUMER', async () => {
    const topic = uniqueTopic('stall-catchup');
    await t.backend.createTopic(topic, { partitions: 1 });
    const padding = 'z'.repeat(400);
    for (let i = 0; i < 400; i += 50) {
      await t.core.produce(t.ctx, topic, Array.from({ length: 50 }, (_, j) => ({ key: null, value: Buffer.from(`${i + j}:${padding}`) })));
    }
    const ended: GatewayError[] = [];
    await t.core.subscribe(t.ctx, { topic, from: EARLIEST }, { records: () => new Promise<void>(() => undefined), end: (err) => err && ended.push(err) });
    await eventually(() => ended.length === 1, { what: 'stalled catch-up ended', timeoutMs: 8000 });
    expect(ended[0]!.code).toBe('SLOW_CONSUMER');
  });

  it('catches up a subscriber that fell behind its bound from the log, losing nothing', async () => {
    const topic = uniqueTopic('lagging');
    await t.backend.createTopic(topic, { partitions: 1 });
    const got: number[] = [];
    const sub = await t.core.subscribe(
      t.ctx,
      { topic, from: LATEST },
      {
        records: async (batch) => {
          got.push(...batch.map((r) => Number(r.value!.toString().split(':')[0])));
          await new Promise((resolve) => setTimeout(resolve, 5)); // a client slower than the log
        },
        end: () => undefined,
      },
    );
    const before = t.core.stats().detachments;
    const padding = 'y'.repeat(1000);
    await Promise.all(
      Array.from({ length: 10 }, (_, b) =>
        t.core.produce(t.ctx, topic, Array.from({ length: 100 }, (_, j) => ({ key: null, value: Buffer.from(`${b * 100 + j}:${padding}`), partition: 0 }))),
      ),
    );
    await eventually(() => got.length >= 1000, { what: 'all 1000 records delivered', timeoutMs: 20_000 });
    expect(got.length).toBe(1000);
    expect(new Set(got).size).toBe(1000);
    await eventually(() => sub.positions().get(0) === 1000n, { what: 'position after the last delivered batch' });
    expect(t.core.stats().detachments).toBeGreaterThan(before);
    sub.close();
  });
});

/** Moves the log start of partition 0 to `before` (Kafka DeleteRecords / the embedded equivalent). */
async function truncate(t: TestCore, _kind: string, topic: string, before: bigint): Promise<void> {
  await t.backend.deleteRecords(topic, 0, before);
  await eventually(async () => (await t.backend.offsets(topic))[0]!.earliest === before, { what: `log start at ${before}` });
}
