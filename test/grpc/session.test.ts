/**
 * The bidirectional Session: publish/ack, credit-based flow control (never more records than
 * granted; zero credit → nothing), group sessions splitting partitions and resuming from
 * committed offsets, and bad input.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';
import { call, SessionRecorder, stubFor } from './helpers.js';

for (const backend of ['kafka', 'embedded'] as const) {
  describe(`gRPC Session (${backend})`, () => {
    let gw: TestGateway;
    let stub: ReturnType<typeof stubFor>;
    const sessions: SessionRecorder[] = [];

    beforeAll(async () => {
      gw = await startTestGateway({ backend, config: { topics: { defaultPartitions: 2 }, embedded: { defaultPartitions: 2 } } });
      stub = stubFor(gw.ports.grpc);
    });
    afterAll(async () => {
      for (const s of sessions) s.close();
      stub?.close();
      await gw?.close();
    });

    function session(): SessionRecorder {
      const s = new SessionRecorder(stub);
      sessions.push(s);
      return s;
    }

    async function fill(topic: string, n: number, partition = 0): Promise<void> {
      await call(stub, 'Produce', { topic, partition, records: Array.from({ length: n }, (_, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(`v${i}`) })) });
    }

    it('publishes and is acknowledged with offsets after the backend stored them', async () => {
      const topic = uniqueTopic('grpc-sess-pub');
      const s = session();
      s.send({ publish: { id: 'p1', topic, partition: 1, records: [{ key: Buffer.from('a'), value: Buffer.from('1') }, { value: Buffer.from('2') }] } });
      const ack = await s.waitFor('published', (f) => f.id === 'p1');
      expect(ack.offsets.map((o) => [o.partition, o.offset])).toEqual([
        [1, '0'],
        [1, '1'],
      ]);
      const fetched = await call(stub, 'Fetch', { topic, partition: 1, offset: '0' });
      expect(fetched.records.map((r: any) => r.value.toString())).toEqual(['1', '2']);
      s.send({ ping: { nonce: '42' } });
      expect((await s.waitFor('pong')).nonce).toBe('42');
    });

    it('never sends more records than the credit granted', async () => {
      const topic = uniqueTopic('grpc-sess-credit');
      await fill(topic, 20);
      const s = session();
      s.send({ subscribe: { id: 's1', topic, position: { earliest: {} }, partitions: [0], credit: 3 } });
      expect((await s.waitFor('subscribed')).positions).toEqual({ '0': '0' });
      await eventually(() => s.records('s1').length === 3);
      // Give the server every chance to overshoot: a round trip after the records arrived.
      s.send({ ping: { nonce: '1' } });
      await s.waitFor('pong', (p) => p.nonce === '1');
      expect(s.records('s1')).toHaveLength(3);

      s.send({ credit: { subscription_id: 's1', records: 5 } });
      await eventually(() => s.records('s1').length === 8);
      s.send({ ping: { nonce: '2' } });
      await s.waitFor('pong', (p) => p.nonce === '2');
      expect(s.records('s1')).toHaveLength(8);

      // Session-wide pool credit.
      s.send({ credit: { subscription_id: '', records: 4 } });
      await eventually(() => s.records('s1').length === 12);
      s.send({ ping: { nonce: '3' } });
      await s.waitFor('pong', (p) => p.nonce === '3');
      expect(s.records('s1')).toHaveLength(12);
      expect(s.records('s1').map((r) => r.offset)).toEqual(Array.from({ length: 12 }, (_, i) => String(i)));
      // Every records frame stayed within what was granted at that moment.
      const frames = s.of('records').map((f) => f.records.length);
      expect(frames.reduce((a, b) => a + b, 0)).toBe(12);
    });

    it('a credit of zero forever sends nothing (and the subscriber is not cut off)', async () => {
      const topic = uniqueTopic('grpc-sess-zero');
      await fill(topic, 50);
      const s = session();
      s.send({ subscribe: { id: 'z', topic, position: { earliest: {} }, credit: 0 } });
      await s.waitFor('subscribed');
      await fill(topic, 50);
      for (let i = 0; i < 5; i++) {
        s.send({ ping: { nonce: String(i) } });
        await s.waitFor('pong', (p) => p.nonce === String(i));
      }
      expect(s.records('z')).toHaveLength(0);
      expect(s.of('end')).toHaveLength(0);
      // Memory stays bounded: the hub holds the subscriber within its queue bound.
      expect(gw.core.stats().queuedBytes).toBeLessThan(gw.config.hub.maxQueueBytes * (gw.core.stats().subscriptions + 1));
      // Granting credit later delivers from where it stood, in order.
      s.send({ credit: { subscription_id: 'z', records: 2 } });
      await eventually(() => s.records('z').length === 2);
      expect(s.records('z').map((r) => [r.partition, r.offset])).toEqual(
        s.records('z').map((r) => [r.partition, r.offset]).sort((a, b) => Number(a[0]) - Number(b[0]) || Number(a[1]) - Number(b[1])),
      );
    });

    it('unsubscribe ends the subscription with an empty code; acks for undelivered offsets are INVALID_ARGUMENT', async () => {
      const topic = uniqueTopic('grpc-sess-ack');
      await fill(topic, 3);
      const s = session();
      s.send({ subscribe: { id: 'a', topic, position: { earliest: {} }, partitions: [0], credit: 2 } });
      await eventually(() => s.records('a').length === 2);
      s.send({ ack: { subscription_id: 'a', partition: 0, offset: '1' } });
      s.send({ ack: { subscription_id: 'a', partition: 0, offset: '2' } });
      s.send({ ack: { subscription_id: 'a', partition: 1, offset: '0' } });
      s.send({ ack: { subscription_id: 'nope', partition: 0, offset: '0' } });
      await eventually(() => s.of('error').length === 3);
      expect(s.of('error').map((e) => [e.id, e.code])).toEqual([
        ['a', 'INVALID_ARGUMENT'],
        ['a', 'INVALID_ARGUMENT'],
        ['nope', 'NOT_FOUND'],
      ]);
      s.send({ unsubscribe: { id: 'a' } });
      const end = await s.waitFor('end');
      expect([end.subscription_id, end.code]).toEqual(['a', '']);
      // Duplicate ids, missing topics and commits on broadcast subscriptions are request errors;
      // the session stays usable.
      s.send({ subscribe: { id: 'b', topic: uniqueTopic('grpc-none'), position: { earliest: {} } } });
      s.send({ commit: { id: 'c1', subscription_id: 'nope' } });
      await eventually(() => s.of('error').length === 5);
      expect(s.of('error').slice(3).map((e) => [e.id, e.code])).toEqual(
        expect.arrayContaining([
          ['b', 'TOPIC_NOT_FOUND'],
          ['c1', 'NOT_FOUND'],
        ]),
      );
      s.send({ publish: { id: 'p', topic, records: [{ value: Buffer.from('still') }] } });
      await s.waitFor('published', (p) => p.id === 'p');
      expect(s.error).toBeUndefined();
    });

    it('a client cancel mid-stream closes its subscriptions and leaves its groups', async () => {
      const topic = uniqueTopic('grpc-sess-cancel');
      await fill(topic, 5);
      const before = gw.core.stats().subscriptions;
      const s = session();
      s.send({ subscribe: { id: 'b', topic, position: { earliest: {} }, credit: 2 } });
      s.send({ subscribe: { id: 'g', topic, group: uniqueId('grpc-cancel'), member_id: 'only', position: { earliest: {} }, credit: 2 } });
      await s.waitFor('subscribed', (f) => f.id === 'b');
      await s.waitFor('subscribed', (f) => f.id === 'g');
      await eventually(() => s.records('b').length === 2 && s.records('g').length === 2);
      expect(gw.core.stats().subscriptions).toBeGreaterThan(before);
      s.call.cancel();
      await eventually(() => gw.core.stats().subscriptions === before, { what: 'subscriptions released' });
      // Another session still works.
      const other = session();
      other.send({ ping: { nonce: '9' } });
      expect((await other.waitFor('pong')).nonce).toBe('9');
    });

    it('a malformed frame ends the session with INVALID_ARGUMENT; other sessions are unaffected', async () => {
      const other = session();
      const raw = new grpc.Client(`127.0.0.1:${gw.ports.grpc}`, grpc.credentials.createInsecure());
      const stream = raw.makeBidiStreamRequest('/streamgate.v1.StreamGateway/Session', (b: Buffer) => b, (b: Buffer) => b);
      const status = new Promise<grpc.ServiceError>((resolve) => stream.on('error', resolve));
      stream.on('data', () => undefined);
      stream.write(Buffer.from([0x0a, 0xff, 0xff]));
      const err = await status;
      raw.close();
      expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
      other.send({ ping: { nonce: '7' } });
      expect((await other.waitFor('pong')).nonce).toBe('7');
    });

    it('a group of two sessions splits the partitions and resumes from committed offsets after both reconnect', async () => {
      const topic = uniqueTopic('grpc-sess-group');
      const group = uniqueId('grpc-group');
      await fill(topic, 4, 0);
      await fill(topic, 4, 1);

      // Join with zero credit so nothing flows before both members are in (the rebalance is
      // over when the second join answers), then grant.
      const join = async (s: SessionRecorder, id: string, memberId: string) => {
        s.send({ subscribe: { id, topic, group, member_id: memberId, position: { earliest: {} }, credit: 0 } });
        const subscribed = await s.waitFor('subscribed', (f) => f.id === id);
        expect(subscribed.member_id).toBe(memberId);
      };
      const a = session();
      const b = session();
      await join(a, 'g', 'member-a');
      await join(b, 'g', 'member-b');
      a.send({ credit: { subscription_id: 'g', records: 100 } });
      b.send({ credit: { subscription_id: 'g', records: 100 } });
      await eventually(() => a.records('g').length === 4 && b.records('g').length === 4, { timeoutMs: 20_000, what: 'group delivery' });
      const partitionsOf = (s: SessionRecorder, id: string) => [...new Set(s.records(id).map((r) => r.partition))];
      // One partition each, every record exactly once.
      expect(partitionsOf(a, 'g')).toHaveLength(1);
      expect(partitionsOf(b, 'g')).toHaveLength(1);
      expect(partitionsOf(a, 'g')[0]).not.toBe(partitionsOf(b, 'g')[0]);

      // Each member processes (acks) the first two records of its partition and commits them.
      for (const s of [a, b]) {
        const processed = s.records('g').filter((r) => Number(r.offset) < 2);
        for (const r of processed) s.send({ ack: { subscription_id: 'g', partition: r.partition, offset: r.offset } });
        s.send({ commit: { id: 'c', subscription_id: 'g', offsets: [{ partition: processed[0]!.partition, offset: '2' }] } });
      }
      await a.waitFor('committed', (c) => c.id === 'c');
      await b.waitFor('committed', (c) => c.id === 'c');

      // Both reconnect (new streams, same member ids).
      a.close();
      b.close();
      await eventually(() => a.error !== undefined && b.error !== undefined);
      const a2 = session();
      const b2 = session();
      await join(a2, 'g2', 'member-a');
      await join(b2, 'g2', 'member-b');
      a2.send({ credit: { subscription_id: 'g2', records: 100 } });
      b2.send({ credit: { subscription_id: 'g2', records: 100 } });
      await eventually(() => a2.records('g2').length === 2 && b2.records('g2').length === 2, { timeoutMs: 20_000, what: 'resumed delivery' });
      const resumed = [...a2.records('g2'), ...b2.records('g2')].map((r) => `${r.partition}/${r.offset}`).sort();
      // Exactly the uncommitted records come again: offsets 2 and 3 of both partitions.
      expect(resumed).toEqual(['0/2', '0/3', '1/2', '1/3']);
    });
  });
}
