/**
 * Issue 16, finding 11: `/metrics` answered anyone while authentication was configured, and its
 * labels named every topic, the gateway's internal state included. Now, with authentication
 * configured, it needs credentials (401) whose principal has the `metrics` grant or `admin: ["*"]`
 * (403 otherwise); internal topics are never label values (`_internal`). Without any
 * authentication it stays open. Before the fix the unauthenticated scrape got 200.
 */
import { createHash } from 'node:crypto';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Metrics } from '../../gateway/metrics.js';
import { startTestGateway } from '../support/gateway.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { http, SECRET, signToken, startCapturedGateway, type CapturedGateway } from './helpers.js';

const SCRAPER_KEY = 'metrics-scraper-key-7d1e0c9b4a2f';
const READER_KEY = 'metrics-reader-key-3b8a6f5e1c0d';
const sha = (k: string): string => createHash('sha256').update(k).digest('hex');

describe('/metrics with authentication configured', () => {
  let gw: CapturedGateway;
  beforeAll(async () => {
    gw = await startCapturedGateway({
      config: {
        auth: {
          jwt: { hs256Secret: SECRET },
          apiKeys: [
            { id: 'scraper', sha256: sha(SCRAPER_KEY), grants: { metrics: true } },
            { id: 'reader', sha256: sha(READER_KEY), grants: { read: ['*'], write: ['*'], groups: ['*'] } },
          ],
        },
      },
    });
  });
  afterAll(async () => {
    await gw?.close();
  });

  const scrape = (headers: Record<string, string> = {}) => http(`${gw.httpUrl}/metrics`, { headers });

  it('401 without credentials or with bad ones, 403 without the metrics grant, 200 with it (API key, JWT claim, admin *)', async () => {
    const none = await scrape();
    expect(none.status).toBe(401);
    expect(none.json()).toMatchObject({ error_code: 40101 });
    expect(none.body).not.toMatch(/streamgate_/);
    expect((await scrape({ authorization: 'Bearer not-a-key-00000000000' })).status).toBe(401);
    expect((await scrape({ authorization: `Bearer ${await signToken({ sub: 'x', topics: { metrics: true } }, 'some-other-secret-0123456789abcdef')}` })).status).toBe(401);

    const reader = await scrape({ authorization: `Bearer ${READER_KEY}` });
    expect(reader.status).toBe(403);
    expect(reader.json()).toMatchObject({ error_code: 40301 });
    expect(reader.body).not.toMatch(/streamgate_/);
    expect((await scrape({ authorization: `Bearer ${await signToken({ sub: 'user', topics: { read: ['*'], write: ['*'] } })}` })).status).toBe(403);
    expect(gw.logs().some((l) => l.audit === 'denied' && l.action === 'metrics' && l.principal === 'apikey:reader')).toBe(true);

    for (const credential of [SCRAPER_KEY, await signToken({ sub: 'prometheus', topics: { metrics: true } }), await signToken({ sub: 'ops', topics: { admin: ['*'] } })]) {
      const ok = await scrape({ authorization: `Bearer ${credential}` });
      expect(ok.status).toBe(200);
      expect(ok.headers['content-type']).toMatch(/^text\/plain/);
      expect(ok.body).toMatch(/^streamgate_connections/m);
    }
  });

  it('internal topics never appear as label values, after REST consumers, MQTT sessions and retained messages wrote internal state', async () => {
    const auth = { authorization: `Bearer ${READER_KEY}` };
    const topic = uniqueTopic('metrics-user');
    expect((await http(`${gw.httpUrl}/v1/topics/${topic}/records`, { method: 'POST', headers: auth, body: '{"records":[{"value":1}]}' })).status).toBe(200);
    // REST v2 consumer instance (the rest-consumers table) subscribed to the user topic.
    const group = uniqueId('metrics-g');
    const v2 = { ...auth, 'content-type': 'application/vnd.kafka.v2+json' };
    const created = await http(`${gw.httpUrl}/consumers/${group}`, { method: 'POST', headers: v2, body: '{"format":"binary","auto.offset.reset":"earliest"}' });
    expect(created.status).toBe(200);
    const instance = `${gw.httpUrl}/consumers/${group}/instances/${created.json().instance_id}`;
    expect((await http(`${instance}/subscription`, { method: 'POST', headers: v2, body: JSON.stringify({ topics: [topic] }) })).status).toBe(204);
    expect((await http(`${instance}/records?timeout=500`, { headers: { ...auth, accept: 'application/vnd.kafka.binary.v2+json' } })).status).toBe(200);
    // A persistent MQTT session with a retained message (sessions, connections, retained tables).
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.ports.mqtt}`, { protocolVersion: 5, clientId: uniqueId('metrics'), clean: false, username: 'x', password: READER_KEY, reconnectPeriod: 0 });
    await client.publishAsync(`metrics/${uniqueId('r')}`, 'v', { qos: 1, retain: true });
    await client.subscribeAsync('metrics/#', { qos: 1 });
    await client.endAsync();

    const text = (await scrape({ authorization: `Bearer ${SCRAPER_KEY}` })).body;
    expect(text).toContain(`topic="${topic}"`);
    expect(text).not.toMatch(/__streamgate-/);
    expect(text).not.toMatch(/topic="__/);
  });

  it('the label function: internal prefixes become _internal, whatever was configured', () => {
    const m = new Metrics();
    expect(m.topic('__consumer_offsets')).toBe('_internal');
    m.hideTopics(['sg-internal.', '__']);
    expect(m.topic('sg-internal.mqtt-sessions')).toBe('_internal');
    expect(m.topic('__streamgate-instances')).toBe('_internal');
    expect(m.topic('orders')).toBe('orders');
  });
});

describe('/metrics without authentication', () => {
  it('stays open (no credentials exist to ask for)', async () => {
    const gw = await startTestGateway({ backend: 'embedded' });
    try {
      const res = await http(`${gw.httpUrl}/metrics`);
      expect(res.status).toBe(200);
      expect(res.body).toMatch(/^streamgate_connections/m);
    } finally {
      await gw.close();
    }
  });
});
