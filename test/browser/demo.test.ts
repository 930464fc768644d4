/**
 * The demo page in a real headless Chromium (Debian's `chromium`, driven by playwright-core):
 * records produced over REST appear in the page live, and a record published from the page's
 * form is readable over REST at the offset the page shows.
 */
import { readFileSync } from 'node:fs';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUNDLE_PATH } from '../../clients/ts/browser/build.js';
import { launchChromium } from '../support/chromium.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueTopic } from '../support/names.js';

let gw: TestGateway;
let browser: Browser;

beforeAll(async () => {
  [gw, browser] = await Promise.all([
    startTestGateway(),
    launchChromium(),
  ]);
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await gw?.close();
});

async function restProduce(topic: string, records: unknown[]): Promise<any> {
  const res = await fetch(`${gw.httpUrl}/v1/topics/${topic}/records`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ records }),
  });
  expect(res.status).toBe(200);
  return res.json();
}

async function restRead(topic: string, partition: number, offset: string): Promise<any[]> {
  const res = await fetch(`${gw.httpUrl}/v1/topics/${topic}/partitions/${partition}/records?offset=${offset}&max=10`);
  expect(res.status).toBe(200);
  return ((await res.json()) as { records: any[] }).records;
}

describe('demo routes', () => {
  it('serves the page at / and /demo and the committed client bundle at /assets/streamgate.js', async () => {
    for (const path of ['/', '/demo']) {
      const res = await fetch(`${gw.httpUrl}${path}`);
      expect([res.status, res.headers.get('content-type')]).toEqual([200, 'text/html; charset=utf-8']);
      expect(await res.text()).toContain("import { connect } from '/assets/streamgate.js'");
    }
    const js = await fetch(`${gw.httpUrl}/assets/streamgate.js`);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(await js.text()).toBe(readFileSync(BUNDLE_PATH, 'utf8'));
  });
});

describe('demo page in headless Chromium', () => {
  it('shows records produced over REST live, and publishes a record readable over REST', async () => {
    const topic = uniqueTopic('demo');
    await restProduce(topic, [{ key: 'k0', value: { msg: 'before the page opened' } }]);

    const page = await browser.newPage();
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') problems.push(`console: ${m.text()}`);
    });
    await page.goto(`${gw.httpUrl}/demo?topic=${topic}&from=earliest`);
    await page.waitForSelector('#status[data-state="open"]');
    const rows = page.locator('#records tr.record');
    await rows.filter({ hasText: 'before the page opened' }).waitFor();

    // Live: produced over REST after the page subscribed.
    const produced = await restProduce(topic, [{ key: 'k1', value: { msg: 'live from REST' } }]);
    await rows.filter({ hasText: 'live from REST' }).waitFor();
    const liveRow = rows.filter({ hasText: 'live from REST' });
    expect(await liveRow.locator('td').nth(1).textContent()).toBe(String(produced.offsets[0].offset));
    expect(await liveRow.locator('td').nth(3).textContent()).toBe('k1');

    // Publish from the page's form.
    await page.fill('#pub-key', 'from-browser');
    await page.fill('#pub-value', '{"clicked":true,"n":42}');
    await page.click('#pub-send');
    await page.locator('#pub-status', { hasText: 'acked' }).waitFor();
    const status = (await page.textContent('#pub-status'))!;
    const [, partition, offset] = /partition (\d+), offset (\d+)/.exec(status)!;
    const [record] = await restRead(topic, Number(partition), offset!);
    expect(record).toMatchObject({ offset: offset, key: 'from-browser', value: { clicked: true, n: 42 } });
    // The page tails its own publish too.
    await rows.filter({ hasText: '"clicked":true' }).waitFor();
    expect(await rows.count()).toBe(3);

    await page.screenshot({ path: '/tmp/streamgate-demo.png', fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });
});
