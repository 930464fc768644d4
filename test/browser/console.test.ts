/**
 * The operator console (`/console`) in a real headless Chromium, against a gateway with
 * authentication on and the test run's Kafka broker: login by token, topics listed, a record
 * produced from the form shows in the live tail and in the message browser, a hostile key is shown
 * as text (no markup runs), a connection appears when an MQTT client connects, the MQTT view lists
 * its session and retained message, the live charts get samples over the WebSocket API, and a
 * principal with read grants only gets a read-only console. The bundle is built fresh first.
 * Screenshots land in test-artifacts/console/ (gitignored).
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConsole } from '../../console/build.js';
import { launchChromium } from '../support/chromium.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';

const ADMIN_KEY = 'console-admin-key-0123456789';
const READER_KEY = 'console-reader-key-0123456789';
const DEVICE_KEY = 'console-device-key-0123456789';
const sha = (k: string) => createHash('sha256').update(k).digest('hex');
export const ARTIFACTS = join(import.meta.dirname, '..', '..', 'test-artifacts', 'console');

let gw: TestGateway;
let browser: Browser;

beforeAll(async () => {
  mkdirSync(ARTIFACTS, { recursive: true });
  // The gateway reads the bundle at startup: build it from the current sources first.
  await buildConsole();
  [gw, browser] = await Promise.all([
    startTestGateway({
      config: {
        auth: {
          apiKeys: [
            { id: 'ops', sha256: sha(ADMIN_KEY), grants: { admin: ['*'] } },
            { id: 'reader', sha256: sha(READER_KEY), grants: { read: ['*'] } },
            { id: 'device', sha256: sha(DEVICE_KEY), grants: { read: [{ mqtt: 'console/#' }], write: [{ mqtt: 'console/#' }] } },
          ],
        },
      },
    }),
    launchChromium(),
  ]);
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await gw?.close();
});

async function rest(path: string, init: RequestInit & { key?: string } = {}): Promise<Response> {
  return fetch(`${gw.httpUrl}${path}`, { ...init, headers: { authorization: `Bearer ${init.key ?? ADMIN_KEY}`, 'content-type': 'application/json', ...(init.headers as Record<string, string>) } });
}

async function produce(topic: string, records: unknown[]): Promise<{ offsets: { partition: number; offset: string }[] }> {
  const res = await rest(`/v1/topics/${topic}/records`, { method: 'POST', body: JSON.stringify({ records }) });
  expect(res.status).toBe(200);
  return (await res.json()) as { offsets: { partition: number; offset: string }[] };
}

/** The group's committed offset of partition 0, from the v3 lags. */
async function committedOf(group: string, topic: string): Promise<number | undefined> {
  const cluster = ((await (await rest('/v3/clusters')).json()) as { data: { cluster_id: string }[] }).data[0]!.cluster_id;
  const lags = (await (await rest(`/v3/clusters/${cluster}/consumer-groups/${group}/lags`)).json()) as { data: { topic_name: string; partition_id: number; current_offset: number }[] };
  return lags.data.find((l) => l.topic_name === topic && l.partition_id === 0)?.current_offset;
}

/** A console page logged in with `key`, failing the test on any page error. */
async function openConsole(key: string, hash = ''): Promise<{ page: Page; problems: string[] }> {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
  page.on('console', (m) => {
    // The login step's 401 (before the token is entered) is expected; anything else is not.
    if (m.type() === 'error' && !m.text().includes('401')) problems.push(`console: ${m.text()}`);
  });
  await page.goto(`${gw.httpUrl}/console${hash}`);
  await page.locator('#login:not([hidden])').waitFor();
  await page.fill('#login-token', key);
  await page.click('#login-submit');
  await page.locator('#whoami', { hasText: /apikey:/ }).waitFor();
  return { page, problems };
}

describe('/console routes', () => {
  it('serves the freshly built page, script and stylesheet with a strict CSP, no auth needed for the files', async () => {
    const page = await fetch(`${gw.httpUrl}/console`);
    expect([page.status, page.headers.get('content-type')]).toEqual([200, 'text/html; charset=utf-8']);
    expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    expect(await page.text()).toContain('/console/console.js');
    const js = await fetch(`${gw.httpUrl}/console/console.js`);
    expect([js.status, js.headers.get('content-type')]).toEqual([200, 'text/javascript; charset=utf-8']);
    // uPlot is bundled: nothing is loaded from elsewhere.
    const text = await js.text();
    expect(text).toContain('uplot');
    expect(text).not.toMatch(/https?:\/\/(cdn|unpkg|jsdelivr)/);
    const css = await fetch(`${gw.httpUrl}/console/console.css`);
    expect([css.status, css.headers.get('content-type')]).toEqual([200, 'text/css; charset=utf-8']);
    expect(await css.text()).toContain('.uplot');
  });

  it('keeps the data behind the grants: 401 without a token, 403 for the operator views without admin', async () => {
    expect((await fetch(`${gw.httpUrl}/v1/whoami`)).status).toBe(401);
    const reader = await rest('/v1/whoami', { key: READER_KEY });
    expect(await reader.json()).toEqual({ principal: 'apikey:reader', anonymous: false, operator: false, writes: false });
    for (const path of ['/v1/admin/connections', '/v1/admin/mqtt']) {
      const res = await rest(path, { key: READER_KEY });
      expect([res.status, ((await res.json()) as { error_code: number }).error_code]).toEqual([403, 40301]);
    }
    const admin = await rest('/v1/whoami');
    expect(await admin.json()).toEqual({ principal: 'apikey:ops', anonymous: false, operator: true, writes: true });
  });
});

describe('the console in headless Chromium', () => {
  it('lists topics with their offsets', async () => {
    const topic = uniqueTopic('console-topics');
    await produce(topic, [{ key: 'a', value: 1 }, { key: 'b', value: 2 }]);
    const { page, problems } = await openConsole(ADMIN_KEY);
    const row = page.locator(`#topics-body tr[data-topic="${topic}"]`);
    await row.waitFor();
    await row.locator('td.ranges', { hasText: 'p0: 0 → 2' }).waitFor();
    expect(await row.locator('td.records').textContent()).toBe('2');
    await page.screenshot({ path: join(ARTIFACTS, 'topics.png'), fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });

  it('shows a record produced from the form in the live tail and in the message browser', async () => {
    const topic = uniqueTopic('console-produce');
    await produce(topic, [{ key: 'first', value: { n: 0 } }]);
    const { page, problems } = await openConsole(ADMIN_KEY, `#tail?topic=${topic}`);
    await page.locator('#view-tail:not([hidden])').waitFor();
    await page.selectOption('#tail-from', 'earliest');
    await page.click('#tail-start');
    await page.locator('#tail-status[data-state="open"]').waitFor();
    const tailRows = page.locator('#tail-body tr.record');
    await tailRows.filter({ hasText: 'first' }).waitFor();

    await page.fill('#produce-topic', topic);
    await page.fill('#produce-key', 'from-console');
    await page.fill('#produce-value', '{"clicked":true,"n":42}');
    await page.fill('#produce-headers', '{"source":"console"}');
    await page.click('#produce-send');
    await page.locator('#produce-status', { hasText: 'acked' }).waitFor();
    const [, partition, offset] = /partition (\d+), offset (\d+)/.exec((await page.textContent('#produce-status'))!)!;

    // Live: the tail shows it, with its header.
    const live = tailRows.filter({ hasText: 'from-console' });
    await live.waitFor();
    expect(await live.getAttribute('data-offset')).toBe(offset);
    expect(await live.locator('td.value .text').textContent()).toBe('{"clicked":true,"n":42}');
    expect(await live.locator('td.headers').textContent()).toBe('source=console');

    // The browser reads it back over v1 at the offset the form reported.
    await page.click('a[data-view="browse"]');
    await page.fill('#browse-topic', topic);
    await page.fill('#browse-partition', partition!);
    await page.selectOption('#browse-mode', 'offset');
    await page.fill('#browse-offset', offset!);
    await page.click('#browse-fetch');
    const browsed = page.locator(`#browse-body tr.record[data-offset="${offset}"]`);
    await browsed.waitFor();
    expect(await browsed.locator('td.key').textContent()).toBe('from-console');
    expect(await browsed.locator('td.headers').textContent()).toBe('source=console');
    await page.screenshot({ path: join(ARTIFACTS, 'browse.png'), fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });

  it('browses from a time (resolved by a WebSocket subscribe from that timestamp) and filters by key, binary values shown as base64', async () => {
    const topic = uniqueTopic('console-time');
    await produce(topic, [{ key: 'old', value: 'before' }]);
    // The page's time field has whole seconds: start the second records at the next one.
    const cut = Math.ceil((Date.now() + 1) / 1000) * 1000;
    await eventually(() => Date.now() > cut, { timeoutMs: 2_000 });
    await produce(topic, [
      { key: 'sensor-1', value: '/w==', encoding: 'base64', headers: { h: 'v1' } },
      { key: 'other', value: 3 },
      { key: 'sensor-2', value: { ok: true } },
    ]);
    const { page, problems } = await openConsole(ADMIN_KEY, `#browse?topic=${topic}`);
    await page.selectOption('#browse-mode', 'time');
    // datetime-local is local time without a zone; the page's clock is this process's.
    const local = new Date(cut - new Date(cut).getTimezoneOffset() * 60_000).toISOString().slice(0, 19);
    await page.fill('#browse-time', local);
    await page.fill('#browse-key', 'sensor');
    await page.click('#browse-fetch');
    await page.locator('#browse-status', { hasText: '2 of 3 records from offset 1' }).waitFor();
    const rows = page.locator('#browse-body tr.record');
    expect(await rows.locator('td.key').allTextContents()).toEqual(['sensor-1', 'sensor-2']);
    expect(await rows.first().locator('td.value').textContent()).toBe('/w==base64');
    expect(await rows.first().locator('td.headers').textContent()).toBe('h=v1');
    expect(problems).toEqual([]);
    await page.close();
  });

  it('shows a hostile key, value and header as text: the <img onerror> never becomes markup', async () => {
    const topic = uniqueTopic('console-xss');
    const hostile = '<img src=x onerror="window.__pwned=1">';
    await produce(topic, [{ key: hostile, value: `</td><script>window.__pwned=2</script>`, headers: { [`<b onclick=x>`]: hostile } }]);
    const { page, problems } = await openConsole(ADMIN_KEY, `#browse?topic=${topic}`);
    await page.selectOption('#browse-mode', 'earliest');
    await page.click('#browse-fetch');
    const row = page.locator('#browse-body tr.record');
    await row.waitFor();
    expect(await row.locator('td.key').textContent()).toBe(hostile);
    expect(await row.locator('td.value .text').textContent()).toBe('"</td><script>window.__pwned=2</script>"');
    expect(await row.locator('td.headers').textContent()).toBe(`<b onclick=x>=${hostile}`);
    expect(await page.locator('#browse-body img, #browse-body script, #browse-body b[onclick]').count()).toBe(0);
    // Also live, through the WebSocket client.
    await page.click('a[data-view="tail"]');
    await page.fill('#tail-topic', topic);
    await page.selectOption('#tail-from', 'earliest');
    await page.click('#tail-start');
    await page.locator('#tail-body tr.record').waitFor();
    expect(await page.locator('#tail-body td.key').textContent()).toBe(hostile);
    expect(await page.locator('#tail-body img, #tail-body script').count()).toBe(0);
    expect(await page.evaluate('window.__pwned')).toBeUndefined();
    expect(problems).toEqual([]);
    await page.close();
  });

  it("shows a consumer group's members, assignment, committed offset and lag, and the lag dropping after its consumer reads", async () => {
    const topic = uniqueTopic('console-group');
    const group = uniqueId('console-group');
    await produce(topic, [1, 2, 3, 4, 5].map((n) => ({ key: `k${n}`, value: n })));
    const V2 = 'application/vnd.kafka.v2+json';
    const created = await rest(`/consumers/${group}`, { method: 'POST', headers: { 'content-type': V2 }, body: JSON.stringify({ name: 'reader-1', format: 'json', 'auto.offset.reset': 'earliest', 'auto.commit.enable': 'false' }) });
    expect(created.status).toBe(200);
    const inst = `/consumers/${group}/instances/reader-1`;
    expect((await rest(`${inst}/subscription`, { method: 'POST', headers: { 'content-type': V2 }, body: JSON.stringify({ topics: [topic] }) })).status).toBe(204);
    const poll = async () => (await (await rest(`${inst}/records?timeout=200`, { headers: { accept: 'application/vnd.kafka.json.v2+json' } })).json()) as unknown[];
    // The consumer has read the first record only: committed 1 of 5.
    await eventually(async () => (await poll()).length > 0);
    expect((await rest(`${inst}/offsets`, { method: 'POST', headers: { 'content-type': V2 }, body: JSON.stringify({ offsets: [{ topic, partition: 0, offset: 0 }] }) })).status).toBe(200);

    const { page, problems } = await openConsole(ADMIN_KEY, '#groups');
    const card = page.locator(`.group[data-group="${group}"]`);
    const row = card.locator(`tr[data-topic="${topic}"][data-partition="0"]`);
    await row.locator('td.lag', { hasText: /^4$/ }).waitFor();
    expect(await row.locator('td.committed').textContent()).toBe('1');
    expect(await row.locator('td').nth(2).textContent()).toBe('reader-1');
    expect(await card.locator('.member').allTextContents()).toEqual(['reader-1 (streamgate)']);
    await page.screenshot({ path: join(ARTIFACTS, 'groups.png'), fullPage: true });

    // The consumer reads the rest and commits everything it fetched: the console shows lag 0.
    let fetched = 0;
    await eventually(async () => (fetched += (await poll()).length) >= 0 && (await rest(`${inst}/offsets`, { method: 'POST', headers: { 'content-type': V2 } })).status === 200 && (await committedOf(group, topic)) === 5, { timeoutMs: 15_000, what: 'all five read and committed' });
    await row.locator('td.lag', { hasText: /^0$/ }).waitFor();
    expect(await row.locator('td.committed').textContent()).toBe('5');
    expect(await card.locator('.total-lag').textContent()).toBe('total lag 0');
    expect(problems).toEqual([]);
    await page.close();
    await rest(inst, { method: 'DELETE', headers: { 'content-type': V2 } });
  });

  it('shows a connection by protocol and principal when an MQTT client connects, and its session and retained message', async () => {
    const { page, problems } = await openConsole(ADMIN_KEY, '#connections');
    await page.locator('#protocols-body tr').first().waitFor();
    const device = page.locator('#principals-body tr[data-principal="apikey:device"]');
    expect(await device.count()).toBe(0);

    const clientId = uniqueId('console-mqtt');
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.ports.mqtt}`, { clientId, username: 'device', password: DEVICE_KEY, protocolVersion: 5, clean: false, properties: { sessionExpiryInterval: 300 }, reconnectPeriod: 0 });
    try {
      await client.subscribeAsync('console/+/temp', { qos: 1 });
      await client.publishAsync(`console/${clientId}/temp`, '21.5', { qos: 1, retain: true });
      await device.locator('td.connections', { hasText: 'mqtt: 1' }).waitFor();
      await page.locator('#protocols-body tr[data-protocol="mqtt"] td.open', { hasText: /^[1-9]/ }).waitFor();
      await page.screenshot({ path: join(ARTIFACTS, 'connections.png'), fullPage: true });

      await page.click('a[data-view="mqtt"]');
      const session = page.locator(`#mqtt-sessions tr[data-client-id="${clientId}"]`);
      await session.waitFor();
      expect(await session.locator('td.state').textContent()).toBe('connected');
      expect(await session.locator('td.subscriptions').textContent()).toBe('console/+/temp (QoS 1)');
      const retained = page.locator(`#mqtt-retained tr[data-topic="console/${clientId}/temp"]`);
      await retained.waitFor();
      expect(await retained.locator('td.value').textContent()).toBe('21.5');
      await page.screenshot({ path: join(ARTIFACTS, 'mqtt.png'), fullPage: true });
    } finally {
      await client.endAsync();
    }
    // Gone from the connections once it disconnects; its persistent session stays, offline.
    await page.click('a[data-view="connections"]');
    await device.locator('td.connections', { hasText: '—' }).waitFor();
    await page.click('a[data-view="mqtt"]');
    await page.locator(`#mqtt-sessions tr[data-client-id="${clientId}"] td.state`, { hasText: 'offline' }).waitFor();
    expect(problems).toEqual([]);
    await page.close();
  });

  it('charts produce/s and deliveries/s live from the WebSocket metrics op', async () => {
    const topic = uniqueTopic('console-metrics');
    const { page, problems } = await openConsole(ADMIN_KEY, `#tail?topic=${topic}`);
    await produce(topic, [{ key: 'k', value: 0 }]);
    await page.click('#tail-start');
    await page.locator('#tail-status[data-state="open"]').waitFor();
    await page.click('a[data-view="metrics"]');
    await page.locator('#metrics-status', { hasText: 'live' }).waitFor();
    // Keep producing until a sample shows deliveries (the tail subscription receives them).
    await eventually(
      async () => {
        await produce(topic, [{ key: 'k', value: 1 }]);
        const delivered = await page.locator('[data-chart="deliveries/s"] .chart-value').textContent();
        const p99 = await page.locator('[data-chart="p99 delivery latency"] .chart-value').textContent();
        // A few seconds of samples, so the screenshot (the README's docs/console.png) shows lines.
        const points = Number(await page.locator('[data-chart="deliveries/s"]').getAttribute('data-points'));
        return Number(delivered) > 0 && / ms$/.test(p99 ?? '') && points >= 6;
      },
      { timeoutMs: 30_000, intervalMs: 150, what: 'six metrics samples, with deliveries' },
    );
    expect(await page.locator('#charts canvas').count()).toBeGreaterThanOrEqual(4);
    await page.setViewportSize({ width: 1040, height: 620 });
    await page.screenshot({ path: join(ARTIFACTS, 'metrics.png') });
    expect(problems).toEqual([]);
    await page.close();
  });

  it('gives a principal with read grants only a read-only console: no produce form, no operator views', async () => {
    const topic = uniqueTopic('console-readonly');
    await produce(topic, [{ key: 'r', value: 'visible' }]);
    const { page, problems } = await openConsole(READER_KEY, `#tail?topic=${topic}`);
    await page.locator('#view-tail:not([hidden])').waitFor();
    expect(await page.locator('#produce-form').isHidden()).toBe(true);
    for (const view of ['connections', 'mqtt', 'metrics']) expect(await page.locator(`a[data-view="${view}"]`).isHidden()).toBe(true);
    // Reading still works.
    await page.selectOption('#tail-from', 'earliest');
    await page.click('#tail-start');
    await page.locator('#tail-body tr.record', { hasText: 'visible' }).waitFor();
    // An operator view asked for by URL falls back to topics.
    await page.evaluate("location.hash = '#connections'");
    await page.locator('#view-topics:not([hidden])').waitFor();
    expect(await page.locator('#view-connections').isHidden()).toBe(true);
    expect(problems).toEqual([]);
    await page.close();
  });
});
