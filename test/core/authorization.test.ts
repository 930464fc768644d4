/**
 * The core's authorization decisions (issue 16), once for every protocol: internal state is sealed
 * whatever the grants, key-level grants refuse writes whole and filter every read path (hub
 * subscription, stateless fetch, group poll and stream), group grants gate joins, and a partition
 * named in a start position must exist. Protocol-level checks live in test/security.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Context, Principal, SubscriberSink } from '../../gateway/api.js';
import { createContext } from '../../gateway/context.js';
import { GatewayError } from '../../gateway/errors.js';
import { grantsSchema, Scope } from '../../gateway/grants.js';
import type { StreamRecord } from '../../gateway/record.js';
import { tableTopic } from '../../gateway/table.js';
import { createTestCore, type TestCore } from '../support/core.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';
import { pino } from 'pino';

const log = pino({ level: 'silent' });
const b = (s: string) => Buffer.from(s);

function as(id: string, grants: Record<string, unknown> | undefined): Context {
  const principal: Principal = { id, subject: id, anonymous: false, ...(grants === undefined ? {} : { scope: Scope.compile(grantsSchema.parse(grants), { id, subject: id }) }) };
  return createContext({ protocol: 'test', log, principal });
}

async function refused(p: Promise<unknown> | (() => unknown), code = 'PERMISSION_DENIED'): Promise<GatewayError> {
  let err: unknown;
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(GatewayError);
  expect((err as GatewayError).code).toBe(code);
  return err as GatewayError;
}

function collector(): SubscriberSink & { got: StreamRecord[] } {
  const got: StreamRecord[] = [];
  return { got, records: (batch) => void got.push(...batch), end: () => undefined };
}

describe.each(['embedded', 'kafka'] as const)('core authorization (%s)', (kind) => {
  let t: TestCore;
  const topic = uniqueTopic('authz');
  const keys = ['devices/d1/temp', 'devices/d2/temp', 'devices/d1/hum', 'other'];
  beforeAll(async () => {
    t = await createTestCore(kind);
    // An unrestricted writer (no authentication configured) fills the topic.
    await t.core.produce(t.ctx, topic, keys.map((k) => ({ key: b(k), value: b(`v-${k}`) })));
    await t.core.produce(t.ctx, topic, [{ key: null, value: b('keyless') }]);
  });
  afterAll(async () => {
    await t?.close();
  });

  const d1 = () => as('d1', { read: [{ topic, key: 'devices/{sub}/#' }], write: [{ topic, key: 'devices/{sub}/#' }], groups: ['g-{sub}-*'] });

  it('refuses every client operation on internal topics, whatever the grants', async () => {
    const root = as('root', { admin: ['*'], read: ['*'], write: ['*'], groups: ['*'] });
    await t.core.table('authz-probe');
    const internal = tableTopic('authz-probe');
    await refused(t.core.produce(root, internal, [{ key: b('k'), value: b('forged') }]));
    await refused(t.core.produce(t.ctx, internal, [{ key: b('k'), value: b('forged') }]));
    await refused(t.core.fetch(root, internal, 0, 0n));
    await refused(t.core.subscribe(root, { topic: internal, from: { kind: 'earliest' } }, collector()));
    await refused(t.core.joinGroup(root, { group: uniqueId('g'), topics: [internal] }));
    await refused(t.core.describeTopic(t.ctx, internal));
    await refused(t.core.offsets(t.ctx, internal));
    await refused(t.core.produce(root, '__consumer_offsets', [{ value: b('x') }]));
    expect(t.core.permits(root, 'write', internal, 'k')).toBe(false);
    expect((await t.core.listTopics(root)).map((x) => x.name).filter((n) => n.startsWith('__'))).toEqual([]);
  });

  it('refuses a batch with one key outside the write scope whole, naming the record', async () => {
    const before = (await t.core.offsets(t.ctx, topic))[0]!.latest;
    const err = await refused(
      t.core.produce(d1(), topic, [
        { key: b('devices/d1/a'), value: b('ok') },
        { key: b('devices/d2/a'), value: b('forged') },
      ]),
    );
    expect(err.details).toMatchObject({ index: 1 });
    await refused(t.core.produce(d1(), topic, [{ key: null, value: b('keyless') }]));
    expect((await t.core.offsets(t.ctx, topic))[0]!.latest).toBe(before);
    const [ok] = await t.core.produce(d1(), topic, [{ key: b('devices/d1/a'), value: b('ok') }]);
    expect(ok).toMatchObject({ ok: true });
  });

  it('delivers only keys inside the read scope on fetch and subscribe, even to a subscription for everything', async () => {
    const fetched = await t.core.fetch(d1(), topic, 0, 0n, { maxRecords: 100 });
    expect(new Set(fetched.records.map((r) => r.key?.toString()))).toEqual(new Set(['devices/d1/temp', 'devices/d1/hum', 'devices/d1/a']));
    expect(fetched.nextOffset).toBeGreaterThanOrEqual(5n);

    const sink = collector();
    const sub = await t.core.subscribe(d1(), { topic, from: { kind: 'earliest' } }, sink);
    await t.core.produce(t.ctx, topic, [
      { key: b('devices/d2/live'), value: b('x') },
      { key: b('devices/d1/live'), value: b('y') },
    ]);
    await eventually(() => expect(sink.got.map((r) => r.key?.toString())).toContain('devices/d1/live'));
    sub.close();
    expect(sink.got.every((r) => r.key?.toString().startsWith('devices/d1/'))).toBe(true);
  });

  it('refuses a subscription that can never match the read scope', async () => {
    await refused(t.core.subscribe(d1(), { topic, from: { kind: 'earliest' }, filters: [{ kind: 'mqtt', filter: 'devices/d2/#' }] }, collector()));
    await refused(t.core.subscribe(as('nobody', {}), { topic, from: { kind: 'earliest' } }, collector()));
    const sub = await t.core.subscribe(d1(), { topic, from: { kind: 'earliest' }, filters: [{ kind: 'mqtt', filter: 'devices/+/temp' }] }, collector());
    sub.close();
  });

  it('needs a group grant to join, and a member only receives keys inside its scope', async () => {
    await refused(t.core.joinGroup(d1(), { group: uniqueId('g-d2'), topics: [topic] }));
    await refused(t.core.joinGroup(as('reader', { read: [topic] }), { group: uniqueId('g'), topics: [topic] }));
    const member = await t.core.joinGroup(d1(), { group: uniqueId('g-d1'), topics: [topic], resetTo: 'earliest' });
    try {
      const got: StreamRecord[] = [];
      await eventually(async () => {
        got.push(...(await member.poll({ maxRecords: 100, waitMs: 100 })));
        return got.some((r) => r.key?.toString() === 'devices/d1/temp');
      });
      expect(got.every((r) => r.key?.toString().startsWith('devices/d1/'))).toBe(true);
    } finally {
      await member.leave();
    }
  });

  it('answers PARTITION_NOT_FOUND for a start position naming a partition the topic lacks', async () => {
    await refused(t.core.subscribe(t.ctx, { topic, from: { kind: 'offsets', offsets: new Map([[7, 0n]]) } }, collector()), 'PARTITION_NOT_FOUND');
  });
});
