/** gRPC unary calls against a real gateway (Kafka broker; key cases also on the embedded log). */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStub } from '../../clients/ts/node/index.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueTopic } from '../support/names.js';
import { call, rejection, stubFor } from './helpers.js';

for (const backend of ['kafka', 'embedded'] as const) {
  describe(`gRPC unary calls (${backend})`, () => {
    let gw: TestGateway;
    let stub: ReturnType<typeof stubFor>;

    beforeAll(async () => {
      gw = await startTestGateway({ backend, config: { grpc: { maxMessageBytes: 64 * 1024 } } });
      stub = stubFor(gw.ports.grpc);
    });
    afterAll(async () => {
      stub?.close();
      await gw?.close();
    });

    it('produces then fetches the same records at the acknowledged offsets', async () => {
      const topic = uniqueTopic('grpc-unary');
      const produced = await call(stub, 'Produce', {
        topic,
        records: [
          { key: Buffer.from('k1'), value: Buffer.from('v1'), headers: [{ key: 'h', value: Buffer.from('x') }] },
          { value: Buffer.from('v2') },
          { key: Buffer.from('k3') },
        ],
      });
      expect(produced.offsets.map((o: any) => [o.partition, o.offset])).toEqual([
        [0, '0'],
        [0, '1'],
        [0, '2'],
      ]);

      const fetched = await call(stub, 'Fetch', { topic, partition: 0, offset: '0', max_records: 10 });
      expect(fetched.records).toHaveLength(3);
      const [a, b, c] = fetched.records;
      expect([a.offset, a.key.toString(), a.value.toString(), a.headers.map((h: { key: string; value: Buffer }) => `${h.key}=${h.value.toString()}`).join(), a.topic]).toEqual(['0', 'k1', 'v1', 'h=x', topic]);
      // Null key / null value stay absent (not empty bytes).
      expect([b._key, b.value.toString()]).toEqual([undefined, 'v2']);
      expect([c.key.toString(), c._value]).toEqual(['k3', undefined]);
      expect(Number(a.timestamp)).toBeGreaterThan(Date.now() - 60_000);
      expect(fetched.next_offset).toBe('3');
      expect(fetched.latest).toBe('3');

      const fromMiddle = await call(stub, 'Fetch', { topic, partition: 0, offset: '2', max_records: 10 });
      expect(fromMiddle.records.map((r: any) => r.offset)).toEqual(['2']);

      const offsets = await call(stub, 'GetOffsets', { topic });
      expect(offsets.partitions).toEqual([{ partition: 0, earliest: '0', latest: '3' }]);
      const topics = await call(stub, 'ListTopics', {});
      expect(topics.topics.find((t: any) => t.name === topic)?.partitions).toBe(1);
    });

    it('answers NOT_FOUND for a topic that does not exist', async () => {
      const topic = uniqueTopic('grpc-missing');
      // One call at a time: a second pending call would reject unobserved while the first is awaited.
      for (const start of [() => call(stub, 'Fetch', { topic, partition: 0, offset: '0' }), () => call(stub, 'GetOffsets', { topic })]) {
        const err = await rejection(start());
        expect(err.code).toBe(grpc.status.NOT_FOUND);
        expect(err.metadata.get('streamgate-code')).toEqual(['TOPIC_NOT_FOUND']);
        expect(err.details).toMatch(/^TOPIC_NOT_FOUND: /);
      }
    });

    it('answers INVALID_ARGUMENT for an illegal topic name and writes nothing', async () => {
      const err = await rejection(call(stub, 'Produce', { topic: 'bad topic!', records: [{ value: Buffer.from('x') }] }));
      expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(err.metadata.get('streamgate-code')).toEqual(['INVALID_TOPIC']);
    });

    it('answers INVALID_ARGUMENT for a malformed protobuf message, and keeps serving', async () => {
      // A generic client whose serializer sends bytes that are not a FetchRequest: field 3
      // (offset, varint) starts a varint that never ends.
      const raw = new grpc.Client(`127.0.0.1:${gw.ports.grpc}`, grpc.credentials.createInsecure());
      const err = await new Promise<grpc.ServiceError>((resolve) => {
        raw.makeUnaryRequest(
          '/streamgate.v1.StreamGateway/Fetch',
          (b: Buffer) => b,
          (b: Buffer) => b,
          Buffer.from([0x18, 0xff, 0xff]),
          (e) => resolve(e as grpc.ServiceError),
        );
      });
      raw.close();
      expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
      expect(err.details).toMatch(/not a valid protobuf message/);
      // The process stays up and other calls are unaffected.
      const topics = await call(stub, 'ListTopics', {});
      expect(Array.isArray(topics.topics)).toBe(true);
    });

    it('refuses a message over grpc.maxMessageBytes with RESOURCE_EXHAUSTED', async () => {
      const topic = uniqueTopic('grpc-big');
      const err = await rejection(call(stub, 'Produce', { topic, records: [{ value: Buffer.alloc(70 * 1024, 1) }] }));
      expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
      // Nothing was written: the topic was never even created.
      expect((await rejection(call(stub, 'GetOffsets', { topic }))).code).toBe(grpc.status.NOT_FOUND);
    });

    it('deduplicates a retried produce by the idempotency-key metadata', async () => {
      const topic = uniqueTopic('grpc-idem');
      const md = new grpc.Metadata();
      md.set('idempotency-key', 'retry-1');
      const first = await call(stub, 'Produce', { topic, records: [{ value: Buffer.from('once') }] }, md);
      const again = await call(stub, 'Produce', { topic, records: [{ value: Buffer.from('once') }] }, md);
      expect(again.offsets).toEqual(first.offsets);
      const byField = await call(stub, 'Produce', { topic, records: [{ value: Buffer.from('field') }], idempotency_key: 'retry-2' });
      const byFieldAgain = await call(stub, 'Produce', { topic, records: [{ value: Buffer.from('field') }], idempotency_key: 'retry-2' });
      expect(byFieldAgain.offsets).toEqual(byField.offsets);
      const offsets = await call(stub, 'GetOffsets', { topic });
      expect(offsets.partitions[0].latest).toBe('2');
    });

    it('honours the client deadline of a long-poll fetch (DEADLINE_EXCEEDED, server keeps serving)', async () => {
      const topic = uniqueTopic('grpc-deadline');
      await call(stub, 'Produce', { topic, records: [{ value: Buffer.from('x') }] });
      const started = Date.now();
      const err = await new Promise<grpc.ServiceError>((resolve) => {
        stub.Fetch({ topic, partition: 0, offset: '1', wait_ms: 10_000 }, new grpc.Metadata(), { deadline: Date.now() + 300 }, (e) => resolve(e!));
      });
      expect(err.code).toBe(grpc.status.DEADLINE_EXCEEDED);
      expect(Date.now() - started).toBeLessThan(5_000);
      const fetched = await call(stub, 'Fetch', { topic, partition: 0, offset: '0' });
      expect(fetched.records).toHaveLength(1);
    });
  });
}

describe('gRPC produce to an explicit partition', () => {
  it('writes the batch to the requested partition (embedded, 3 partitions)', async () => {
    const gw = await startTestGateway({ backend: 'embedded', config: { embedded: { defaultPartitions: 3 } } });
    const stub = createStub(`127.0.0.1:${gw.ports.grpc}`);
    try {
      const topic = uniqueTopic('grpc-part');
      const res = await call(stub, 'Produce', { topic, partition: 2, records: [{ value: Buffer.from('a') }, { value: Buffer.from('b') }] });
      expect(res.offsets.map((o: any) => [o.partition, o.offset])).toEqual([
        [2, '0'],
        [2, '1'],
      ]);
      const err = await rejection(call(stub, 'Produce', { topic, partition: 7, records: [{ value: Buffer.from('a') }] }));
      expect(err.code).toBe(grpc.status.NOT_FOUND);
      expect(err.metadata.get('streamgate-code')).toEqual(['PARTITION_NOT_FOUND']);
    } finally {
      stub.close();
      await gw.close();
    }
  });
});
