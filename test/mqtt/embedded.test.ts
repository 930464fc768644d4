/**
 * The key MQTT behaviours on the embedded backend: publish → record, retained, and a persistent
 * session across a gateway restart on the same data directory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { createContext } from '../../gateway/context.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueId } from '../support/names.js';
import { eventually } from '../support/wait.js';
import { connectClient, RawClient } from './helpers.js';

const dataDir = mkdtempSync(join(tmpdir(), 'streamgate-mqtt-embedded-'));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

const start = (): Promise<TestGateway> => startTestGateway({ backend: 'embedded', dataDir, config: { mqtt: { sessionFlushMs: 100 }, topics: { waitPollMs: 200 } } });

it('embedded: QoS 1 → record, retained on subscribe, persistent session across restart, DISCONNECT 0x8B at shutdown', async () => {
  let g = await start();
  try {
    const u = (): string => `mqtt://127.0.0.1:${g.ports.mqtt}`;
    const topic = `emb/${uniqueId('t')}`;
    const clientId = uniqueId('emb');
    const opts = { protocolVersion: 5 as const, clientId, clean: false, properties: { sessionExpiryInterval: 600 } };
    const sub = await connectClient(u(), opts);
    await sub.client.subscribeAsync(`emb/#`, { qos: 1 });
    const pub = await connectClient(u(), { protocolVersion: 4, clientId: uniqueId('pub') });
    await pub.client.publishAsync(topic, 'kept', { qos: 1, retain: true });
    const ctx = createContext({ protocol: 'test', log: g.core.log });
    const recs = (await g.core.fetch(ctx, 'mqtt-messages', 0, 0n, { maxRecords: 100 })).records;
    expect(recs.find((r) => r.key?.toString() === topic)?.value?.toString()).toBe('kept');
    await sub.waitFor(1);
    await sub.end();
    await pub.client.publishAsync(topic, 'missed', { qos: 1 });
    await pub.end();

    const watcher = await RawClient.open(g.ports.mqtt, 5);
    watcher.send({ cmd: 'connect', clientId: uniqueId('w'), protocolVersion: 5, clean: true, keepalive: 30 });
    await watcher.next('connack');
    await g.close();
    expect((await watcher.next('disconnect')).reasonCode).toBe(0x8b);

    g = await start();
    const again = await connectClient(u(), opts);
    const [m] = await again.waitFor(1);
    expect(m!.payload).toBe('missed');
    const fresh = await connectClient(u(), { protocolVersion: 5, clientId: uniqueId('fresh') });
    await fresh.client.subscribeAsync(topic, { qos: 1 });
    const retained = await eventually(() => fresh.received.find((r) => r.packet.retain));
    expect(retained.payload).toBe('kept');
    await Promise.all([again.end(), fresh.end()]);
  } finally {
    await g.close();
  }
});
