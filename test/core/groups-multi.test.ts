/**
 * Groups across gateway instances: two cores on one Kafka split a group's partitions through the
 * shared membership table, and take over each other's partitions on a leave or a crash.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { GroupMember } from '../../gateway/api.js';
import type { StreamRecord } from '../../gateway/record.js';
import { createTestCore, type TestCore } from '../support/core.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';

const FAST = { groups: { heartbeatMs: 200, sessionTimeoutMs: 1500, autoCommitIntervalMs: 100 } };
const parts = (m: GroupMember) => m.assignment().map((tp) => tp.partition).sort();

describe('groups across two gateway instances on one Kafka', () => {
  const cores: TestCore[] = [];
  afterEach(async () => {
    await Promise.allSettled(cores.splice(0).map((c) => c.close()));
  });

  it('splits partitions between instances and moves them when one instance leaves', async () => {
    const a = await createTestCore('kafka', FAST);
    const b = await createTestCore('kafka', FAST);
    cores.push(a, b);
    const topic = uniqueTopic('multi');
    const group = uniqueId('g');
    await a.backend.createTopic(topic, { partitions: 4 });
    const ma = await a.core.joinGroup(a.ctx, { group, topics: [topic], memberId: 'a', resetTo: 'earliest' });
    expect(parts(ma)).toEqual([0, 1, 2, 3]);
    const mb = await b.core.joinGroup(b.ctx, { group, topics: [topic], memberId: 'b', resetTo: 'earliest' });
    // Both instances compute the same range plan over {a, b}.
    await eventually(() => parts(ma).join() === '0,1' && parts(mb).join() === '2,3', { what: 'a: 0,1 and b: 2,3' });

    // Records of all partitions are read once across the two instances.
    await a.core.produce(a.ctx, topic, Array.from({ length: 40 }, (_, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(String(i)) })));
    const got: StreamRecord[] = [];
    await eventually(async () => {
      got.push(...(await ma.poll({ maxRecords: 100 })), ...(await mb.poll({ maxRecords: 100 })));
      return got.length >= 40;
    });
    expect(got.map((r) => Number(r.value!.toString())).sort((x, y) => x - y)).toEqual(Array.from({ length: 40 }, (_, i) => i));
    await ma.commit();
    await mb.commit();

    await mb.leave();
    await eventually(() => parts(ma).join() === '0,1,2,3', { what: 'a takes over b’s partitions after b left' });
    await a.core.produce(a.ctx, topic, Array.from({ length: 8 }, (_, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(String(40 + i)) })));
    const after: StreamRecord[] = [];
    await eventually(async () => {
      after.push(...(await ma.poll({ maxRecords: 100 })));
      return after.length >= 8;
    });
    // b committed before leaving: a continues from there, with no record read twice.
    expect(after.map((r) => Number(r.value!.toString())).sort((x, y) => x - y)).toEqual([40, 41, 42, 43, 44, 45, 46, 47]);
  });

  it('takes over the partitions of an instance that stopped heartbeating (a crash) after the session timeout', async () => {
    const a = await createTestCore('kafka', FAST);
    const b = await createTestCore('kafka', FAST);
    cores.push(a);
    const topic = uniqueTopic('crash');
    const group = uniqueId('g');
    await a.backend.createTopic(topic, { partitions: 2 });
    const ma = await a.core.joinGroup(a.ctx, { group, topics: [topic], memberId: 'a' });
    await b.core.joinGroup(b.ctx, { group, topics: [topic], memberId: 'b' });
    await eventually(() => parts(ma).join() === '0', { what: 'a owns partition 0 only' });
    // "Crash" b: its backend goes away without leaving the group, so its entry just stops being refreshed.
    await b.backend.close();
    const started = Date.now();
    await eventually(() => parts(ma).join() === '0,1', { what: 'a owns both partitions after b’s session timeout', timeoutMs: 10_000 });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    await b.core.close().catch(() => undefined);
  });

  it('keeps a push-mode member streaming through rebalances caused by another instance', async () => {
    const a = await createTestCore('kafka', FAST);
    const b = await createTestCore('kafka', FAST);
    cores.push(a, b);
    const topic = uniqueTopic('push');
    const group = uniqueId('g');
    await a.backend.createTopic(topic, { partitions: 2 });
    const ma = await a.core.joinGroup(a.ctx, { group, topics: [topic], memberId: 'a', resetTo: 'earliest' });
    const got: string[] = [];
    const stream = ma.stream(
      {
        records: (batch) => {
          for (const r of batch) {
            got.push(`${r.partition}/${r.offset}`);
            ma.ack(r.topic, r.partition, r.offset);
          }
        },
        end: () => undefined,
      },
      { credit: 0 },
    );
    stream.addCredit(100);
    const write = (n: number) => a.core.produce(a.ctx, topic, [0, 1].flatMap((partition) => Array.from({ length: n }, () => ({ value: Buffer.from('v'), partition }))));
    await write(2);
    await eventually(() => got.length === 4, { what: 'first 4 records' });
    const mb = await b.core.joinGroup(b.ctx, { group, topics: [topic], memberId: 'b', resetTo: 'earliest' });
    await eventually(() => parts(ma).join() === '0', { what: 'a keeps partition 0 only' });
    await mb.leave();
    await eventually(() => parts(ma).join() === '0,1', { what: 'a owns both partitions again' });
    await write(2);
    await eventually(() => got.filter((x) => x.endsWith('/2') || x.endsWith('/3')).length === 4, { what: 'new records of both partitions reach a' });
    stream.stop();
  });
});
