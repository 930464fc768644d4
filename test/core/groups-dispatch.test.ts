/**
 * Dispatch-mode groups (the core of MQTT `$share/`): records of the partitions an instance owns
 * go per record to its members — least loaded, then round robin, each within its window — with
 * the acknowledged prefix committed and a leaving member's unacknowledged records handed to the
 * others at once. On both backends; across two instances on Kafka.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { GroupMember, JoinGroupRequest } from '../../gateway/api.js';
import type { StreamRecord } from '../../gateway/record.js';
import { BACKENDS, createTestCore, type TestCore } from '../support/core.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';

const FAST = { groups: { heartbeatMs: 200, sessionTimeoutMs: 1500, autoCommitIntervalMs: 100 } };

interface Taker {
  readonly got: StreamRecord[];
  stop(): void;
}

/** Streams a member; acknowledges every record unless `ack` is false. */
function take(member: GroupMember, options: { ack?: boolean; credit?: number } = {}): Taker {
  const got: StreamRecord[] = [];
  const handle = member.stream(
    {
      records: (batch) => {
        for (const r of batch) {
          got.push(r);
          if (options.ack !== false) member.ack(r.topic, r.partition, r.offset);
        }
      },
      end: () => undefined,
    },
    options.credit === undefined ? {} : { credit: options.credit },
  );
  return { got, stop: () => handle.stop() };
}

const values = (rs: readonly StreamRecord[]) => rs.map((r) => r.value!.toString());
const range = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `m${from + i}`);
const oneKey = (n: number, from = 0) => Array.from({ length: n }, (_, i) => ({ key: Buffer.from('one/topic'), value: Buffer.from(`m${from + i}`) }));

describe.each(BACKENDS)('dispatch-mode groups (%s)', (backend) => {
  const cores: TestCore[] = [];
  afterEach(async () => {
    await Promise.allSettled(cores.splice(0).map((c) => c.close()));
  });

  async function setup(partitions = 1) {
    const t = await createTestCore(backend, FAST);
    cores.push(t);
    const topic = uniqueTopic('dispatch');
    await t.backend.createTopic(topic, { partitions });
    const request: JoinGroupRequest = { group: uniqueId('g'), topics: [topic], resetTo: 'earliest', mode: 'dispatch', ackTimeoutMs: 0 };
    return { t, topic, request };
  }

  it('spreads the records of one key over two members, each record once, and commits the acknowledged prefix', async () => {
    const { t, topic, request } = await setup();
    const a = await t.core.joinGroup(t.ctx, request);
    const b = await t.core.joinGroup(t.ctx, request);
    const ta = take(a);
    const tb = take(b);
    await t.core.produce(t.ctx, topic, oneKey(10));
    await eventually(() => ta.got.length + tb.got.length >= 10, { what: '10 records' });
    expect(ta.got.length).toBeGreaterThan(0);
    expect(tb.got.length).toBeGreaterThan(0);
    const all = [...values(ta.got), ...values(tb.got)].sort();
    expect(all).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`).sort());
    // Everything was acknowledged: the committed offset reaches the log end.
    await eventually(async () => (await a.committed()).find((c) => c.partition === 0)?.offset === 10n, { what: 'commit at 10' });
    ta.stop();
    tb.stop();
  });

  it('gives a leaving member’s unacknowledged records to the other member at once, and commits nothing past them until then', async () => {
    const { t, topic, request } = await setup();
    // No ack timeout: only the leave can move them.
    const a = await t.core.joinGroup(t.ctx, request);
    const b = await t.core.joinGroup(t.ctx, request);
    const ta = take(a, { ack: false });
    const tb = take(b);
    await t.core.produce(t.ctx, topic, oneKey(10));
    await eventually(() => ta.got.length + tb.got.length >= 10, { what: '10 records' });
    expect(ta.got.length).toBeGreaterThan(0);
    const first = ta.got.reduce((m, r) => (r.offset < m ? r.offset : m), ta.got[0]!.offset);
    await b.commit();
    // The commit stops at a's first unacknowledged record.
    expect((await b.committed())[0]?.offset).toBe(first);
    const held = values(ta.got);
    const before = tb.got.length;
    await a.leave();
    await eventually(() => tb.got.length >= before + held.length, { what: 'a’s records reach b' });
    expect(values(tb.got.slice(before)).sort()).toEqual([...held].sort());
    expect(values(tb.got).sort()).toEqual(Array.from({ length: 10 }, (_, i) => `m${i}`).sort());
    await eventually(async () => (await b.committed())[0]?.offset === 10n, { what: 'commit at 10 after b acknowledged them' });
    tb.stop();
  });

  it('the last member leaving commits only what was acknowledged: the next member gets the rest', async () => {
    const { t, topic, request } = await setup();
    const a = await t.core.joinGroup(t.ctx, request);
    const ta = take(a, { ack: false });
    await t.core.produce(t.ctx, topic, oneKey(5));
    await eventually(() => ta.got.length === 5, { what: '5 records at a' });
    for (const r of ta.got.slice(0, 2)) a.ack(r.topic, r.partition, r.offset);
    // More records reach the group's reader while a leaves: nobody may take them, nothing is skipped.
    const more = t.core.produce(t.ctx, topic, oneKey(5, 5));
    await a.leave();
    await more;
    const b = await t.core.joinGroup(t.ctx, request);
    const tb = take(b);
    await eventually(() => tb.got.length >= 8, { what: '8 records at b' });
    expect(values(tb.got)).toEqual(range(8, 2));
    tb.stop();
  });

  it('bounds a member that never acknowledges by its window: the others get the rest', async () => {
    const { t, topic, request } = await setup();
    const a = await t.core.joinGroup(t.ctx, request);
    const b = await t.core.joinGroup(t.ctx, request);
    const ta = take(a, { ack: false, credit: 3 });
    const tb = take(b, { credit: 3 });
    await t.core.produce(t.ctx, topic, oneKey(50));
    await eventually(() => ta.got.length + tb.got.length >= 50, { what: '50 records' });
    expect(ta.got).toHaveLength(3);
    expect(tb.got).toHaveLength(47);
    expect(t.core.groups.dispatchLoads(request.group).get(a.memberId)).toBe(3);
    ta.stop();
    tb.stop();
  });

  it('with an ack timeout, records a member holds too long move to another member with room', async () => {
    const { t, topic, request } = await setup();
    const slow = { ...request, ackTimeoutMs: 300 };
    const a = await t.core.joinGroup(t.ctx, slow);
    const b = await t.core.joinGroup(t.ctx, slow);
    const ta = take(a, { ack: false });
    const tb = take(b);
    await t.core.produce(t.ctx, topic, oneKey(10));
    await eventually(() => ta.got.length + tb.got.length >= 10, { what: '10 records' });
    expect(ta.got.length).toBeGreaterThan(0);
    // a never acknowledges and stays connected: after the timeout b gets a's records too.
    await eventually(() => new Set(values(tb.got)).size === 10, { what: 'all 10 at b', timeoutMs: 5000 });
    await eventually(async () => (await b.committed())[0]?.offset === 10n, { what: 'commit at 10' });
    // a's late acknowledgement of a record b already acknowledged changes nothing.
    expect(a.ack(topic, 0, ta.got[0]!.offset)).toBe(false);
    ta.stop();
    tb.stop();
  });

  it('records of other keys (filtered out by the reader) do not hold the commit back', async () => {
    const { t, topic, request } = await setup();
    const mine = { ...request, filters: [{ kind: 'exact' as const, key: 'one/topic' }] };
    const a = await t.core.joinGroup(t.ctx, mine);
    const ta = take(a);
    await t.core.produce(t.ctx, topic, [...oneKey(3), ...Array.from({ length: 5 }, () => ({ key: Buffer.from('other'), value: Buffer.from('x') }))]);
    await eventually(() => ta.got.length === 3, { what: '3 records' });
    await eventually(async () => (await a.committed())[0]?.offset === 8n, { what: 'commit at the log end (8)' });
    ta.stop();
  });

  it('many members: every record once, spread over the members', async () => {
    const { t, topic, request } = await setup(2);
    const members = await Promise.all(Array.from({ length: 20 }, () => t.core.joinGroup(t.ctx, request)));
    const takers = members.map((m) => take(m));
    await t.core.produce(t.ctx, topic, oneKey(200));
    await eventually(() => takers.reduce((n, x) => n + x.got.length, 0) >= 200, { what: '200 records' });
    const all = takers.flatMap((x) => values(x.got)).sort();
    expect(all).toEqual(Array.from({ length: 200 }, (_, i) => `m${i}`).sort());
    // Round robin among equally loaded members: each one gets its share.
    for (const x of takers) expect(x.got.length).toBeGreaterThan(0);
    for (const x of takers) x.stop();
  });

  it('refuses what a dispatch member cannot do, and a join in the other mode', async () => {
    const { t, topic, request } = await setup();
    const a = await t.core.joinGroup(t.ctx, request);
    await expect(a.poll({})).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
    await expect(a.seek(topic, 0, 0n)).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
    await expect(a.commit([{ topic, partition: 0, offset: 0n }])).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
    await expect(t.core.joinGroup(t.ctx, { ...request, mode: 'partition' })).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
    await expect(t.core.joinGroup(t.ctx, { ...request, filters: [{ kind: 'prefix', prefix: 'x' }] })).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
    await a.leave();
  });
});

describe('dispatch-mode groups across two gateway instances on one Kafka', () => {
  const cores: TestCore[] = [];
  afterEach(async () => {
    await Promise.allSettled(cores.splice(0).map((c) => c.close()));
  });

  it('splits partitions between the instances (one share each), every record delivered once while members are stable', async () => {
    const a = await createTestCore('kafka', FAST);
    const b = await createTestCore('kafka', FAST);
    cores.push(a, b);
    const topic = uniqueTopic('dispatch-multi');
    await a.backend.createTopic(topic, { partitions: 4 });
    const request: JoinGroupRequest = { group: uniqueId('g'), topics: [topic], resetTo: 'earliest', mode: 'dispatch', ackTimeoutMs: 0 };
    // Two members on a, one on b: the plan is over instances, so each instance owns 2 partitions.
    const a1 = await a.core.joinGroup(a.ctx, request);
    const a2 = await a.core.joinGroup(a.ctx, request);
    const b1 = await b.core.joinGroup(b.ctx, request);
    const parts = (m: GroupMember) => m.assignment().map((tp) => tp.partition).sort().join();
    // Instance ids are random, so which instance gets 0,1 is too.
    await eventually(() => parts(a1) === parts(a2) && [parts(a1), parts(b1)].sort().join(' | ') === '0,1 | 2,3', { what: 'two partitions per instance' });
    const takers = [take(a1), take(a2), take(b1)];
    const records = Array.from({ length: 40 }, (_, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(`m${i}`) }));
    await a.core.produce(a.ctx, topic, records);
    await eventually(() => takers.reduce((n, x) => n + x.got.length, 0) >= 40, { what: '40 records' });
    const all = takers.flatMap((x) => values(x.got)).sort();
    expect(all).toEqual(records.map((r) => r.value.toString()).sort());
    // Both members of a get some of a's partitions' records; b gets exactly b's partitions'.
    expect(takers[0]!.got.length).toBeGreaterThan(0);
    expect(takers[1]!.got.length).toBeGreaterThan(0);
    const ofB = new Set(b1.assignment().map((tp) => tp.partition));
    expect(takers[2]!.got.every((r) => ofB.has(r.partition))).toBe(true);
    expect(takers.slice(0, 2).every((x) => x.got.every((r) => !ofB.has(r.partition)))).toBe(true);
    for (const x of takers) x.stop();
  });
});
