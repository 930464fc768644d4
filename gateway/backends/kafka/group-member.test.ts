/** The leader's default plans (Kafka's RangeAssignor / RoundRobinAssignor semantics) and option checks, without a broker. */
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { GatewayError } from '../../errors.js';
import { defaultAssign, KafkaGroupMember, type GroupMemberInfo } from './group-member.js';

const member = (memberId: string, topics: string[]): GroupMemberInfo => ({ memberId, topics, userData: Buffer.alloc(0) });
const flat = (plan: Map<string, { topic: string; partition: number }[]>, id: string): string[] => (plan.get(id) ?? []).map((p) => `${p.topic}/${p.partition}`);

describe('defaultAssign', () => {
  it('range: contiguous ranges per topic over the subscribers sorted by id, the first ones one extra', () => {
    const plan = defaultAssign({
      protocol: 'range',
      members: [member('c', ['t']), member('a', ['t', 'u']), member('b', ['t'])],
      partitions: new Map([
        ['t', 4],
        ['u', 2],
      ]),
    });
    expect(flat(plan, 'a')).toEqual(['t/0', 't/1', 'u/0', 'u/1']);
    expect(flat(plan, 'b')).toEqual(['t/2']);
    expect(flat(plan, 'c')).toEqual(['t/3']);
  });

  it('round robin: partitions sorted by topic then partition, dealt in member order, skipping non-subscribers', () => {
    const plan = defaultAssign({
      protocol: 'RoundRobinAssigner',
      members: [member('b', ['t', 'u']), member('a', ['t'])],
      partitions: new Map([
        ['u', 2],
        ['t', 3],
      ]),
    });
    // t/0 a, t/1 b, t/2 a, then u only b.
    expect(flat(plan, 'a')).toEqual(['t/0', 't/2']);
    expect(flat(plan, 'b')).toEqual(['t/1', 'u/0', 'u/1']);
  });

  it('every partition of a subscribed topic goes to exactly one member, topics nobody knows to none', () => {
    for (const protocol of ['range', 'roundrobin']) {
      const members = [member('m1', ['t']), member('m2', ['t']), member('m3', ['t', 'gone'])];
      const plan = defaultAssign({ protocol, members, partitions: new Map([['t', 7]]) });
      const all = members.flatMap((m) => flat(plan, m.memberId)).sort();
      expect(all).toEqual(['t/0', 't/1', 't/2', 't/3', 't/4', 't/5', 't/6']);
    }
  });
});

describe('KafkaGroupMember options', () => {
  const base = { brokers: ['127.0.0.1:1'], groupId: 'g', topics: ['t'], clientId: 'streamgate-test', logger: pino({ level: 'silent' }) };

  it('refuses a heartbeat interval that is not below the session timeout', () => {
    expect(() => new KafkaGroupMember({ ...base, sessionTimeoutMs: 6000, heartbeatIntervalMs: 6000 })).toThrow(GatewayError);
  });

  it('refuses an empty subscription', () => {
    expect(() => new KafkaGroupMember({ ...base, topics: [] })).toThrow(GatewayError);
  });

  it('commit before start is FAILED_PRECONDITION, nothing sent', async () => {
    const m = new KafkaGroupMember(base);
    await expect(m.commit([{ topic: 't', partition: 0, offset: 1n }])).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
  });
});
