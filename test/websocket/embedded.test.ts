/**
 * The key WebSocket scenarios on the embedded backend: publish/subscribe with positions, and the
 * browser client resuming gap-free across a gateway restart on the same data directory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { connect, type WebSocketConstructor } from '../../clients/ts/browser/index.js';
import { startTestGateway } from '../support/gateway.js';
import { uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';
import { RawClient } from './raw-client.js';

const dataDir = mkdtempSync(join(tmpdir(), 'streamgate-ws-embedded-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe('WebSocket on the embedded backend', () => {
  it('publishes, then subscribes from earliest, latest and an offset', async () => {
    const gw = await startTestGateway({ backend: 'embedded' });
    try {
      const topic = uniqueTopic('wse');
      const c = await RawClient.open(gw.wsUrl);
      c.send({ op: 'publish', id: 'p1', topic, records: [0, 1, 2].map((seq) => ({ key: `k${seq}`, value: { seq } })) });
      expect(await c.waitFor((f) => f.id === 'p1')).toMatchObject({ op: 'ack', offsets: [{ offset: '0' }, { offset: '1' }, { offset: '2' }] });
      c.send({ op: 'subscribe', id: 'e', topic, from: 'earliest' });
      c.send({ op: 'subscribe', id: 'o', topic, from: { offsets: { '0': '2' } } });
      c.send({ op: 'subscribe', id: 'l', topic, from: 'latest', key: 'k3' });
      expect((await c.waitFor((f) => f.op === 'subscribed' && f.id === 'l')).positions).toEqual({ '0': '3' });
      c.send({ op: 'publish', id: 'p2', topic, records: [{ key: 'k3', value: { seq: 3 } }] });
      expect((await c.waitForRecords('e', 4)).map((r) => r.value.seq)).toEqual([0, 1, 2, 3]);
      expect((await c.waitForRecords('o', 2)).map((r) => r.value.seq)).toEqual([2, 3]);
      expect((await c.waitForRecords('l', 1)).map((r) => [r.offset, r.key])).toEqual([['3', 'k3']]);
      c.close();
    } finally {
      await gw.close();
    }
  });

  it('the browser client resumes gap-free across a restart on the same data directory', async () => {
    const topic = uniqueTopic('wse-restart');
    let gw = await startTestGateway({ backend: 'embedded', dataDir });
    const port = gw.ports.http;
    const client = connect(`${gw.wsUrl}/v1/ws`, { WebSocketImpl: WebSocket as unknown as WebSocketConstructor, initialBackoffMs: 50, maxBackoffMs: 300 });
    try {
      const seen: number[] = [];
      await client.publish(topic, Array.from({ length: 50 }, (_, seq) => ({ value: { seq } })));
      const sub = client.subscribe<{ seq: number }>(topic, { from: 'earliest' }, (records) => {
        for (const r of records) seen.push((r.value as { seq: number }).seq);
      });
      await eventually(() => seen.length === 50, { what: '50 records' });
      const raw = await RawClient.open(gw.wsUrl);
      await gw.close();
      expect((await raw.closed).code).toBe(1001);
      // Published while the gateway is down: sent after the reconnect, written once.
      const later = client.publish(topic, Array.from({ length: 50 }, (_, i) => ({ value: { seq: 50 + i } })));
      gw = await startTestGateway({ backend: 'embedded', dataDir, config: { http: { port } } });
      const offsets = await later;
      expect(offsets.map((o) => o.offset)).toEqual(Array.from({ length: 50 }, (_, i) => String(50 + i)));
      await eventually(() => seen.length >= 100, { what: '100 records' });
      expect(seen).toEqual(Array.from({ length: 100 }, (_, i) => i));
      await sub.close();
    } finally {
      client.close();
      await gw.close();
    }
  });
});
