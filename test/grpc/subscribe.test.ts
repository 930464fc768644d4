/** Server-streaming Subscribe from each kind of position, continuity notices, cancellation. */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';
import { call, stubFor, SubscribeRecorder } from './helpers.js';

for (const backend of ['kafka', 'embedded'] as const) {
  describe(`gRPC Subscribe (${backend})`, () => {
    let gw: TestGateway;
    let stub: ReturnType<typeof stubFor>;
    const open: SubscribeRecorder[] = [];

    beforeAll(async () => {
      gw = await startTestGateway({ backend });
      stub = stubFor(gw.ports.grpc);
    });
    afterAll(async () => {
      for (const s of open) s.call.cancel();
      stub?.close();
      await gw?.close();
    });

    function subscribe(request: Parameters<typeof stub.Subscribe>[0]): SubscribeRecorder {
      const s = new SubscribeRecorder(stub, request);
      open.push(s);
      return s;
    }

    async function produce(topic: string, values: string[], timestamps?: number[]) {
      const res = await call(stub, 'Produce', {
        topic,
        records: values.map((v, i) => ({ key: Buffer.from(`k${i}`), value: Buffer.from(v), ...(timestamps ? { timestamp: String(timestamps[i]) } : {}) })),
      });
      return res.offsets as { partition: number; offset: string }[];
    }

    const values = (s: SubscribeRecorder) => s.records().map((r) => r.value!.toString());

    it('earliest: every record from the log start, then live ones; subscribed comes first', async () => {
      const topic = uniqueTopic('grpc-sub-earliest');
      await produce(topic, ['a', 'b']);
      const s = subscribe({ topic, position: { earliest: {} } });
      const subscribed = await s.subscribed();
      expect(subscribed.positions).toEqual({ '0': '0' });
      expect(s.frames[0]!.frame).toBe('subscribed');
      await eventually(() => s.records().length === 2);
      await produce(topic, ['c']);
      await eventually(() => s.records().length === 3);
      expect(values(s)).toEqual(['a', 'b', 'c']);
      expect(s.records().map((r) => r.offset)).toEqual(['0', '1', '2']);
    });

    it('latest: only records written after subscribing', async () => {
      const topic = uniqueTopic('grpc-sub-latest');
      await produce(topic, ['old']);
      const s = subscribe({ topic, position: { latest: {} } });
      expect((await s.subscribed()).positions).toEqual({ '0': '1' });
      await produce(topic, ['new']);
      await eventually(() => s.records().length === 1);
      expect(values(s)).toEqual(['new']);
    });

    it('absent position means latest', async () => {
      const topic = uniqueTopic('grpc-sub-default');
      await produce(topic, ['old']);
      const s = subscribe({ topic });
      expect((await s.subscribed()).positions).toEqual({ '0': '1' });
    });

    it('offsets: resumes exactly after the last offset seen (no gap, no duplicate)', async () => {
      const topic = uniqueTopic('grpc-sub-offsets');
      await produce(topic, ['r0', 'r1', 'r2', 'r3']);
      const s = subscribe({ topic, position: { offsets: { offsets: { '0': '2' } } } });
      expect((await s.subscribed()).positions).toEqual({ '0': '2' });
      await eventually(() => s.records().length === 2);
      expect(values(s)).toEqual(['r2', 'r3']);
    });

    it('timestamp: from the first record at or after the time', async () => {
      const topic = uniqueTopic('grpc-sub-ts');
      const base = Date.now() - 60_000;
      await produce(topic, ['t0', 't1', 't2'], [base, base + 1000, base + 2000]);
      const s = subscribe({ topic, position: { timestamp: String(base + 1000) } });
      expect((await s.subscribed()).positions).toEqual({ '0': '1' });
      await eventually(() => s.records().length === 2);
      expect(values(s)).toEqual(['t1', 't2']);
    });

    it('an offset beyond the log end starts at the end with a continuity_lost notice', async () => {
      const topic = uniqueTopic('grpc-sub-gap');
      await produce(topic, ['x']);
      const s = subscribe({ topic, position: { offsets: { offsets: { '0': '50' } } } });
      await s.subscribed();
      const notice = await eventually(() => s.frames.find((f) => f.frame === 'continuity_lost')?.continuity_lost ?? undefined);
      expect([notice.partition, notice.requested, notice.actual, notice.reason]).toEqual([0, '50', '1', 'beyond_log_end']);
      const strict = subscribe({ topic, position: { offsets: { offsets: { '0': '50' } } }, strict: true });
      await eventually(() => strict.error);
      expect(strict.error!.code).toBe(grpc.status.OUT_OF_RANGE);
    });

    it('key filters: only matching keys are delivered', async () => {
      const topic = uniqueTopic('grpc-sub-filter');
      const s = subscribe({ topic: (await produce(topic, ['seed']), topic), position: { latest: {} }, filters: [{ prefix: 'sensors/' }, { exact: 'k9' }] });
      await s.subscribed();
      await call(stub, 'Produce', {
        topic,
        records: [
          { key: Buffer.from('sensors/a'), value: Buffer.from('1') },
          { key: Buffer.from('other'), value: Buffer.from('2') },
          { key: Buffer.from('k9'), value: Buffer.from('3') },
          { value: Buffer.from('nokey') },
        ],
      });
      await eventually(() => s.records().length === 2);
      expect(values(s)).toEqual(['1', '3']);
    });

    it('unknown topic ends the stream with NOT_FOUND', async () => {
      const s = subscribe({ topic: uniqueTopic('grpc-sub-missing'), position: { earliest: {} } });
      await eventually(() => s.error);
      expect(s.error!.code).toBe(grpc.status.NOT_FOUND);
      expect(s.error!.metadata.get('streamgate-code')).toEqual(['TOPIC_NOT_FOUND']);
      expect(s.frames).toEqual([]);
    });

    it('a client cancel mid-stream frees the hub subscription; others keep receiving', async () => {
      const topic = uniqueTopic('grpc-sub-cancel');
      await produce(topic, ['a']);
      const before = gw.core.stats().subscriptions;
      const leaving = subscribe({ topic, position: { earliest: {} } });
      const staying = subscribe({ topic, position: { earliest: {} } });
      await leaving.subscribed();
      await staying.subscribed();
      await eventually(() => leaving.records().length === 1 && staying.records().length === 1);
      expect(gw.core.stats().subscriptions).toBe(before + 2);
      leaving.call.cancel();
      await eventually(() => gw.core.stats().subscriptions === before + 1, { what: 'hub subscription released' });
      await produce(topic, ['b']);
      await eventually(() => staying.records().length === 2);
      expect(values(staying)).toEqual(['a', 'b']);
    });
  });
}
