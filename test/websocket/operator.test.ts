/**
 * The operator's live data over the public APIs: the WebSocket `metrics` op (periodic samples of
 * produce/s, deliveries/s, p99 delivery latency and slow-consumer cuts) and GET /v1/admin/connections
 * (connections by protocol and principal, records in/out per principal), with authentication on:
 * operators (admin: ["*"]) and the `metrics` grant get samples, a read-only principal is refused,
 * hostile frames get catalogued errors and the connection stays up.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';
import { RawClient } from './raw-client.js';

const OPS = 'operator-ops-key-0123456789';
const READER = 'operator-reader-key-0123456789';
const SCRAPER = 'operator-scraper-key-0123456789';
const sha = (k: string) => createHash('sha256').update(k).digest('hex');
let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway({
    config: {
      // Small, so the test can reach it.
      limits: { maxSubscriptionsPerConnection: 8 },
      auth: {
        apiKeys: [
          { id: 'ops', sha256: sha(OPS), grants: { admin: ['*'] } },
          { id: 'reader', sha256: sha(READER), grants: { read: ['*'] } },
          { id: 'scraper', sha256: sha(SCRAPER), grants: { metrics: true } },
        ],
      },
    },
  });
});
afterAll(async () => {
  await gw?.close();
});

async function produce(topic: string, n: number): Promise<void> {
  const res = await fetch(`${gw.httpUrl}/v1/topics/${topic}/records`, {
    method: 'POST',
    headers: { authorization: `Bearer ${OPS}`, 'content-type': 'application/json' },
    body: JSON.stringify({ records: Array.from({ length: n }, (_, i) => ({ key: `k${i}`, value: i })) }),
  });
  expect(res.status).toBe(200);
}

describe('the WebSocket metrics op', () => {
  it('sends periodic samples whose rates and p99 follow the traffic, until unsubscribed', async () => {
    const topic = uniqueTopic('metrics-op');
    await produce(topic, 1);
    const c = await RawClient.open(gw.wsUrl, 'streamgate.v1.json', `access_token=${OPS}`);
    c.send({ op: 'subscribe', id: 's1', topic, from: 'earliest' });
    await c.waitForRecords('s1', 1);
    c.send({ op: 'metrics', id: 'm1', intervalMs: 250 });
    const first = await c.waitFor((f) => f.op === 'metrics' && f.id === 'm1');
    expect(first.sample).toMatchObject({ intervalMs: expect.any(Number), producedPerSec: expect.any(Number), deliveredPerSec: expect.any(Number), slowConsumerCuts: 0 });
    expect(first.sample.connections.websocket).toBeGreaterThanOrEqual(1);
    expect(first.sample.subscriptions).toBeGreaterThanOrEqual(1);
    // Traffic after the first sample shows in a later one: produced and delivered, with a latency.
    const seen = first.sample.totals;
    await produce(topic, 20);
    await c.waitForRecords('s1', 21);
    const busy = await c.waitFor((f) => f.op === 'metrics' && f.sample.totals.delivered >= seen.delivered + 20 && f.sample.totals.produced >= seen.produced + 20);
    const samples = c.frames.filter((f) => f.op === 'metrics' && f.sample.at > first.sample.at && f.sample.at <= busy.sample.at);
    const produced = samples.reduce((n, f) => n + (f.sample.producedPerSec * f.sample.intervalMs) / 1000, 0);
    expect(Math.round(produced)).toBe(busy.sample.totals.produced - seen.produced);
    expect(samples.some((f) => f.sample.deliveredPerSec > 0 && typeof f.sample.deliveryP99Ms === 'number')).toBe(true);
    c.send({ op: 'unsubscribe', sub: 'm1' });
    await c.waitFor((f) => f.op === 'end' && f.sub === 'm1');
    const ended = c.frames.findIndex((f) => f.op === 'end' && f.sub === 'm1');
    // A second watch is the clock: two of its samples after the end, and none of m1's among them.
    c.send({ op: 'metrics', id: 'm2', intervalMs: 250 });
    await eventually(() => c.frames.slice(ended).filter((f) => f.op === 'metrics' && f.id === 'm2').length >= 2);
    expect(c.frames.slice(ended).filter((f) => f.op === 'metrics' && f.id === 'm1')).toEqual([]);
    c.close();
  });

  it('is for operators and the metrics grant: a read-only principal gets PERMISSION_DENIED and keeps its connection', async () => {
    const scraper = await RawClient.open(gw.wsUrl, 'streamgate.v1.json', `access_token=${SCRAPER}`);
    scraper.send({ op: 'metrics', id: 'm', intervalMs: 250 });
    await scraper.waitFor((f) => f.op === 'metrics' && f.id === 'm');
    scraper.close();

    const reader = await RawClient.open(gw.wsUrl, 'streamgate.v1.json', `access_token=${READER}`);
    reader.send({ op: 'metrics', id: 'm', intervalMs: 250 });
    expect(await reader.waitFor((f) => f.id === 'm')).toMatchObject({ op: 'error', code: 'PERMISSION_DENIED' });
    reader.send({ op: 'ping', id: 'p' });
    await reader.waitFor((f) => f.op === 'pong');
    expect(reader.frames.filter((f) => f.op === 'metrics')).toEqual([]);
    reader.close();
  });

  it('refuses bad frames with INVALID_ARGUMENT or ALREADY_EXISTS, holds at most four watches, and counts them against the subscription limit', async () => {
    const c = await RawClient.open(gw.wsUrl, 'streamgate.v1.json', `access_token=${OPS}`);
    for (const [i, bad] of [{ intervalMs: 1 }, { intervalMs: 1e9 }, { intervalMs: 1.5 }, { intervalMs: '1000' }].entries()) {
      c.send({ op: 'metrics', id: `bad${i}`, ...bad });
      expect(await c.waitFor((f) => f.id === `bad${i}`)).toMatchObject({ op: 'error', code: 'INVALID_ARGUMENT' });
    }
    c.send({ op: 'metrics', intervalMs: 1000 });
    expect(await c.waitFor((f) => f.op === 'error' && f.id === undefined)).toMatchObject({ code: 'INVALID_ARGUMENT' });
    c.send({ op: 'metrics', id: 'twice', intervalMs: 60_000 });
    c.send({ op: 'metrics', id: 'twice', intervalMs: 60_000 });
    expect(await c.waitFor((f) => f.id === 'twice' && f.op === 'error')).toMatchObject({ code: 'ALREADY_EXISTS' });
    // At most four watches per connection (each sample walks the metric registry).
    for (let i = 1; i < 4; i++) c.send({ op: 'metrics', id: `w${i}`, intervalMs: 60_000 });
    c.send({ op: 'metrics', id: 'over', intervalMs: 60_000 });
    expect(await c.waitFor((f) => f.id === 'over')).toMatchObject({ op: 'error', code: 'RESOURCE_EXHAUSTED', message: expect.stringContaining('metrics watches') });
    // And they count against limits.maxSubscriptionsPerConnection with the subscriptions.
    const limited = await RawClient.open(gw.wsUrl, 'streamgate.v1.json', `access_token=${OPS}`);
    const topic = uniqueTopic('watch-limit');
    await produce(topic, 1);
    const limit = gw.config.limits.maxSubscriptionsPerConnection;
    for (let i = 0; i < limit; i++) limited.send({ op: 'subscribe', id: `s${i}`, topic, from: 'latest' });
    await limited.waitFor((f) => f.op === 'subscribed' && f.id === `s${limit - 1}`);
    limited.send({ op: 'metrics', id: 'one-more', intervalMs: 60_000 });
    expect(await limited.waitFor((f) => f.id === 'one-more')).toMatchObject({ op: 'error', code: 'RESOURCE_EXHAUSTED' });
    limited.close();
    c.close();
  });
});

describe('GET /v1/admin/connections', () => {
  it('counts connections by protocol and principal, and each principal\'s records in and out', async () => {
    const topic = uniqueTopic('admin-conns');
    await produce(topic, 3);
    const snapshot = async () => {
      const res = await fetch(`${gw.httpUrl}/v1/admin/connections`, { headers: { authorization: `Bearer ${OPS}` } });
      expect(res.status).toBe(200);
      return (await res.json()) as { protocols: { protocol: string; open: number; openedTotal: number }[]; principals: { principal: string; connections: Record<string, number>; recordsIn: number; recordsOut: number }[] };
    };
    const before = await snapshot();
    const reader = before.principals.find((p) => p.principal === 'apikey:reader');
    const ws = await RawClient.open(gw.wsUrl, 'streamgate.v1.json', `access_token=${READER}`);
    ws.send({ op: 'subscribe', id: 's', topic, from: 'earliest' });
    await ws.waitForRecords('s', 3);
    const during = await eventually(async () => {
      const s = await snapshot();
      const p = s.principals.find((x) => x.principal === 'apikey:reader');
      return p !== undefined && p.connections.websocket === 1 && p.recordsOut - (reader?.recordsOut ?? 0) === 3 ? s : undefined;
    });
    const wsBefore = before.protocols.find((p) => p.protocol === 'websocket');
    expect(during.protocols.find((p) => p.protocol === 'websocket')!.openedTotal).toBe((wsBefore?.openedTotal ?? 0) + 1);
    expect(during.principals.find((p) => p.principal === 'apikey:ops')!.recordsIn).toBeGreaterThanOrEqual(3);
    ws.close();
    await eventually(async () => (await snapshot()).principals.find((x) => x.principal === 'apikey:reader')?.connections.websocket === undefined);
  });
});
