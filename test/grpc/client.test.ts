/**
 * The Node client (clients/ts/node): typed calls with bigint offsets, and reconnect +
 * resume-from-last-position across a gateway restart, for Subscribe and for a Session.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { errorCode, StreamgateClient, type ReadRecord } from '../../clients/ts/node/index.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';

describe('Node gRPC client', () => {
  it('produces, fetches and reports catalogue codes', async () => {
    const gw = await startTestGateway({ backend: 'embedded' });
    const client = new StreamgateClient({ address: `127.0.0.1:${gw.ports.grpc}`, timeoutMs: 10_000 });
    try {
      const topic = uniqueTopic('grpc-client');
      const positions = await client.produce(topic, [{ key: 'k', value: 'v', headers: [{ name: 'h', value: 'x' }, { name: 'g', value: Buffer.from('y') }, { name: 'h', value: 'z' }] }, { value: null }]);
      expect(positions).toEqual([
        { partition: 0, offset: 0n },
        { partition: 0, offset: 1n },
      ]);
      const { records, nextOffset } = await client.fetch(topic, 0, 0n);
      expect(records.map((r) => [r.offset, r.key?.toString() ?? null, r.value?.toString() ?? null, r.headers.map((h) => `${h.name}=${h.value.toString()}`).join()])).toEqual([
        [0n, 'k', 'v', 'h=x,g=y,h=z'],
        [1n, null, null, ''],
      ]);
      expect(nextOffset).toBe(2n);
      expect(await client.offsets(topic)).toEqual([{ partition: 0, earliest: 0n, latest: 2n }]);
      const err = await client.fetch(uniqueTopic('none'), 0, 0n).catch((e: grpc.ServiceError) => e);
      expect((err as grpc.ServiceError).code).toBe(grpc.status.NOT_FOUND);
      expect(errorCode(err)).toBe('TOPIC_NOT_FOUND');
    } finally {
      client.close();
      await gw.close();
    }
  });

  it('Subscribe and Session reconnect after a gateway restart and resume without gap or duplicate', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'streamgate-grpc-client-'));
    let gw: TestGateway = await startTestGateway({ backend: 'embedded', dataDir });
    const port = gw.ports.grpc;
    const client = new StreamgateClient({ address: `127.0.0.1:${port}`, reconnect: { initialDelayMs: 50, maxDelayMs: 200 } });
    const topic = uniqueTopic('grpc-resume');
    try {
      await client.produce(topic, [{ value: 'a' }, { value: 'b' }]);

      // Broadcast Subscribe through the async iterator.
      const sub = client.subscribe(topic, { from: 'earliest' });
      const viaSubscribe: ReadRecord[] = [];
      const loop = (async () => {
        for await (const r of sub) viaSubscribe.push(r);
      })();

      // Session subscription with credit.
      const session = client.session();
      const viaSession: ReadRecord[] = [];
      await session.subscribe('s', topic, { from: 'earliest', credit: 1_000 }, (records) => viaSession.push(...records));
      await eventually(() => viaSubscribe.length === 2 && viaSession.length === 2);

      await gw.close();
      gw = await startTestGateway({ backend: 'embedded', dataDir, config: { grpc: { port } } });

      // Published through the reconnected session (retried until the stream is back).
      await eventually(() => session.publish(topic, [{ value: 'c' }], { idempotencyKey: 'publish-c' }).then(() => true), { timeoutMs: 10_000, what: 'publish after reconnect' });
      await client.produce(topic, [{ value: 'd' }]);
      await eventually(() => viaSubscribe.length === 4 && viaSession.length === 4, { timeoutMs: 10_000, what: 'resumed delivery' });
      for (const got of [viaSubscribe, viaSession]) {
        expect(got.map((r) => [r.offset, r.value!.toString()])).toEqual([
          [0n, 'a'],
          [1n, 'b'],
          [2n, 'c'],
          [3n, 'd'],
        ]);
      }
      expect(sub.reconnects).toBeGreaterThanOrEqual(1);
      expect(session.reconnects).toBeGreaterThanOrEqual(1);
      sub.close();
      await loop;
      session.close();
    } finally {
      client.close();
      await gw.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
