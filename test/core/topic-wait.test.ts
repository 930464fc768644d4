/**
 * `waitForTopic` on subscribe and joinGroup, against both real backends: a subscription or group
 * member to a topic that does not exist yet starts once it exists and reads it from its beginning;
 * one poll per missing topic whatever the number of waiters; a produce through the core wakes the
 * waiters at once; a topic created elsewhere (the backend directly, another gateway instance on
 * the same Kafka) is found by the poll; close/leave while waiting stops the wait and its timer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SubscriberSink } from '../../gateway/api.js';
import type { GatewayError } from '../../gateway/errors.js';
import { LATEST, type StreamRecord } from '../../gateway/record.js';
import { BACKENDS, createTestCore, type TestCore } from '../support/core.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';

function collector(): SubscriberSink & { got: StreamRecord[]; ended: (GatewayError | undefined)[] } {
  const got: StreamRecord[] = [];
  const ended: (GatewayError | undefined)[] = [];
  return {
    got,
    ended,
    records: (batch) => {
      got.push(...batch);
    },
    end: (err) => ended.push(err),
  };
}

/** "partition:offset=value" of records, sorted: what was delivered, independent of interleaving. */
const delivered = (records: readonly StreamRecord[]): string[] => records.map((r) => `${r.partition}:${r.offset}=${r.value!.toString()}`).sort();

/** Two records on each of partitions 0..2 (values p0a, p0b, p1a, …). */
const sixRecords = () => [0, 1, 2].flatMap((p) => ['a', 'b'].map((s) => ({ partition: p, key: Buffer.from(`k${p}`), value: Buffer.from(`p${p}${s}`) })));
const SIX_DELIVERED = ['0:0=p0a', '0:1=p0b', '1:0=p1a', '1:1=p1b', '2:0=p2a', '2:1=p2b'];

/** Three partitions for auto-created topics on either backend. */
const THREE = { topics: { defaultPartitions: 3 }, embedded: { defaultPartitions: 3 } };

describe.each(BACKENDS)('waiting for a topic on the %s backend', (kind) => {
  // The poll interval is far beyond the test deadlines: deliveries here prove the produce's wake-up.
  let t: TestCore;
  beforeAll(async () => {
    t = await createTestCore(kind, { ...THREE, topics: { ...THREE.topics, waitPollMs: 600_000 }, groups: { autoCommitIntervalMs: 50 } });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('subscribe with waitForTopic resolves at once; a produce through the core starts it at offset 0 of every partition', async () => {
    const topic = uniqueTopic('wait-sub');
    await expect(t.core.subscribe(t.ctx, { topic, from: LATEST }, collector())).rejects.toMatchObject({ code: 'TOPIC_NOT_FOUND' });
    const sink = collector();
    const sub = await t.core.subscribe(t.ctx, { topic, from: LATEST, waitForTopic: true }, sink);
    expect(sub.topic).toBe(topic);
    expect(sub.start.size).toBe(0);
    expect(sub.positions().size).toBe(0);
    expect(t.core.stats()).toMatchObject({ waitingTopics: 1, topicWaiters: 1 });

    // `from: LATEST` does not apply to a topic that did not exist: the records that created it are delivered.
    const results = await t.core.produce(t.ctx, topic, sixRecords());
    expect(results.every((r) => r.ok)).toBe(true);
    await eventually(() => sink.got.length === 6, { what: '6 records delivered' });
    expect(delivered(sink.got)).toEqual(SIX_DELIVERED);
    expect([...sub.start]).toEqual([
      [0, 0n],
      [1, 0n],
      [2, 0n],
    ]);
    await eventually(() => [...sub.positions()].map(([p, o]) => `${p}:${o}`).join() === '0:2,1:2,2:2', { what: 'positions 2 on every partition' });
    expect(t.core.stats()).toMatchObject({ waitingTopics: 0, topicWaiters: 0 });
    expect(sink.ended).toEqual([]);
    sub.close();
  });

  it('all waiters of one topic share one poll; closing them while waiting removes it and they get nothing', async () => {
    const topic = uniqueTopic('wait-close');
    const sinks = [collector(), collector(), collector()];
    const subs = await Promise.all(sinks.map((sink) => t.core.subscribe(t.ctx, { topic, from: LATEST, waitForTopic: true }, sink)));
    expect(t.core.stats()).toMatchObject({ waitingTopics: 1, topicWaiters: 3 });
    subs[0]!.close();
    subs[1]!.close();
    subs[1]!.close(); // idempotent
    expect(t.core.stats()).toMatchObject({ waitingTopics: 1, topicWaiters: 1 });
    const hubBefore = t.core.stats().subscriptions;

    await t.core.produce(t.ctx, topic, sixRecords());
    await eventually(() => sinks[2]!.got.length === 6, { what: 'the open subscriber got 6 records' });
    expect(sinks[0]!.got).toEqual([]);
    expect(sinks[1]!.got).toEqual([]);
    expect(sinks[0]!.ended).toEqual([]); // close() is the caller's: its sink is not ended
    expect(t.core.stats().subscriptions).toBe(hubBefore + 1); // only the open one reached the hub
    subs[2]!.close();

    // The last waiter closing stops the topic's poll timer.
    const lonely = await t.core.subscribe(t.ctx, { topic: uniqueTopic('wait-lonely'), from: LATEST, waitForTopic: true }, collector());
    expect(t.core.stats()).toMatchObject({ waitingTopics: 1, topicWaiters: 1 });
    lonely.close();
    expect(t.core.stats()).toMatchObject({ waitingTopics: 0, topicWaiters: 0 });
  });

  it('credit granted while waiting is kept for the start', async () => {
    const topic = uniqueTopic('wait-credit');
    const sink = collector();
    const sub = await t.core.subscribe(t.ctx, { topic, from: LATEST, partitions: [0], credit: 0, waitForTopic: true }, sink);
    sub.addCredit(1);
    sub.addCredit(2);
    await t.core.produce(t.ctx, topic, Array.from({ length: 5 }, (_, i) => ({ partition: 0, key: null, value: Buffer.from(`v${i}`) })));
    await eventually(() => sink.got.length === 3, { what: '3 credited records' });
    sub.addCredit(2);
    await eventually(() => sink.got.length === 5, { what: '2 more after more credit' });
    expect(sink.got.map((r) => r.value!.toString())).toEqual(['v0', 'v1', 'v2', 'v3', 'v4']);
    sub.close();
  });

  it('joinGroup with waitForTopic: no assignment and empty polls until the topic exists, then every partition from offset 0', async () => {
    const topic = uniqueTopic('wait-group');
    const groupPush = uniqueId('g-push');
    const groupPull = uniqueId('g-pull');
    await expect(t.core.joinGroup(t.ctx, { group: groupPush, topics: [topic] })).rejects.toMatchObject({ code: 'TOPIC_NOT_FOUND' });
    // resetTo 'latest' does not apply: the member had to wait, so it reads the new topic whole.
    const pusher = await t.core.joinGroup(t.ctx, { group: groupPush, topics: [topic], memberId: 'm1', resetTo: 'latest', waitForTopic: true });
    const puller = await t.core.joinGroup(t.ctx, { group: groupPull, topics: [topic], waitForTopic: true });
    expect(pusher.memberId).toBe('m1');
    expect(puller.memberId).toEqual(expect.any(String));
    expect(pusher.assignment()).toEqual([]);
    expect(pusher.positions()).toEqual([]);
    expect(await pusher.committed()).toEqual([]);
    expect(await puller.poll({ maxRecords: 10 })).toEqual([]);
    expect(pusher.ack(topic, 0, 0n)).toBe(false);
    await pusher.commit(); // nothing delivered: nothing to commit
    await expect(pusher.commit([{ topic, partition: 0, offset: 1n }])).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
    await expect(pusher.seek(topic, 0, 0n)).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
    expect(t.core.stats()).toMatchObject({ waitingTopics: 1, topicWaiters: 2 });
    expect(t.core.groups.localAssignment(groupPush)).toEqual([]); // not a member of the group yet

    const sink = collector();
    const stream = pusher.stream({ ...sink, records: (batch) => {
      sink.got.push(...batch);
      for (const r of batch) pusher.ack(r.topic, r.partition, r.offset);
    } });
    await t.core.produce(t.ctx, topic, sixRecords());
    await eventually(() => sink.got.length === 6, { what: 'pushed 6 records' });
    expect(delivered(sink.got)).toEqual(SIX_DELIVERED);
    expect(pusher.assignment().map((tp) => tp.partition).sort()).toEqual([0, 1, 2]);
    const pulled: StreamRecord[] = [];
    await eventually(async () => {
      pulled.push(...(await puller.poll({ maxRecords: 100 })));
      return pulled.length === 6;
    }, { what: 'polled 6 records' });
    expect(delivered(pulled)).toEqual(SIX_DELIVERED);
    expect(t.core.stats()).toMatchObject({ waitingTopics: 0, topicWaiters: 0 });

    // Acknowledged deliveries are committed as usual once the member runs.
    await eventually(async () => (await pusher.committed()).every((c) => c.offset === 2n) && (await pusher.committed()).length === 3, { what: 'committed 2 on every partition' });
    stream.stop();
    await pusher.leave();
    await puller.leave();
  });

  it('leave() while waiting stops the wait: the member never joins', async () => {
    const topic = uniqueTopic('wait-leave');
    const group = uniqueId('g-leave');
    const member = await t.core.joinGroup(t.ctx, { group, topics: [topic], waitForTopic: true });
    const sink = collector();
    member.stream(sink);
    // A long poll in progress returns [] when the member leaves.
    const polling = member.poll({ waitMs: 60_000 });
    expect(t.core.stats()).toMatchObject({ waitingTopics: 1, topicWaiters: 1 });
    await member.leave();
    await expect(polling).resolves.toEqual([]);
    expect(t.core.stats()).toMatchObject({ waitingTopics: 0, topicWaiters: 0 });
    await t.core.produce(t.ctx, topic, sixRecords());
    expect(t.core.groups.localAssignment(group)).toEqual([]);
    await expect(member.poll({})).rejects.toMatchObject({ code: 'CONSUMER_NOT_FOUND' });
    expect(sink.got).toEqual([]);
  });

  it('a topic created outside this core is found by the poll; a core closing ends its waiters with SHUTTING_DOWN', async () => {
    const p = await createTestCore(kind, { topics: { waitPollMs: 100 } });
    try {
      const topic = uniqueTopic('wait-poll');
      const sink = collector();
      const sub = await p.core.subscribe(p.ctx, { topic, from: LATEST, waitForTopic: true }, sink);
      const member = await p.core.joinGroup(p.ctx, { group: uniqueId('g-poll'), topics: [topic], waitForTopic: true });
      const pulled: StreamRecord[] = [];
      // Written through the backend directly: the core is not told, only its poll can notice.
      await p.backend.createTopic(topic, { partitions: 2 });
      await p.backend.produce(topic, [
        { partition: 0, key: null, value: Buffer.from('x0') },
        { partition: 1, key: null, value: Buffer.from('x1') },
      ]);
      await eventually(() => sink.got.length === 2, { what: 'subscriber found the topic by polling' });
      expect(delivered(sink.got)).toEqual(['0:0=x0', '1:0=x1']);
      await eventually(async () => {
        pulled.push(...(await member.poll({ maxRecords: 10 })));
        return pulled.length === 2;
      }, { what: 'group member found the topic by polling' });
      expect(delivered(pulled)).toEqual(['0:0=x0', '1:0=x1']);
      sub.close();
      await member.leave();

      const stranded = collector();
      await p.core.subscribe(p.ctx, { topic: uniqueTopic('wait-never'), from: LATEST, waitForTopic: true }, stranded);
      await p.core.close();
      expect(stranded.ended.map((e) => e?.code)).toEqual(['SHUTTING_DOWN']);
      expect(p.core.stats()).toMatchObject({ waitingTopics: 0, topicWaiters: 0 });
    } finally {
      await p.close();
    }
  });
});

describe('waiting for a topic another gateway instance creates (two cores on one Kafka)', () => {
  let a: TestCore;
  let b: TestCore;
  beforeAll(async () => {
    [a, b] = await Promise.all([createTestCore('kafka', { ...THREE, topics: { ...THREE.topics, waitPollMs: 100 } }), createTestCore('kafka', THREE)]);
  });
  afterAll(async () => {
    await Promise.allSettled([a?.close(), b?.close()]);
  });

  it('a subscription and a group member on one instance start when the other instance creates the topic by producing', async () => {
    const topic = uniqueTopic('wait-remote');
    const sink = collector();
    const sub = await a.core.subscribe(a.ctx, { topic, from: LATEST, waitForTopic: true }, sink);
    const member = await a.core.joinGroup(a.ctx, { group: uniqueId('g-remote'), topics: [topic], resetTo: 'latest', waitForTopic: true });
    const pushed = collector();
    const stream = member.stream(pushed);
    expect(a.core.stats()).toMatchObject({ waitingTopics: 1, topicWaiters: 2 });

    const results = await b.core.produce(b.ctx, topic, sixRecords());
    expect(results.every((r) => r.ok)).toBe(true);
    await eventually(() => sink.got.length === 6 && pushed.got.length === 6, { what: 'instance a delivers what instance b wrote' });
    expect(delivered(sink.got)).toEqual(SIX_DELIVERED);
    expect(delivered(pushed.got)).toEqual(SIX_DELIVERED);
    expect(a.core.stats()).toMatchObject({ waitingTopics: 0, topicWaiters: 0 });
    stream.stop();
    sub.close();
    await member.leave();
  });
});
