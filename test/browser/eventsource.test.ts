/**
 * The EventSource idiom every tutorial uses — `new EventSource(url).onmessage = …` — in a real
 * headless Chromium (Debian's `chromium`, driven by playwright-core) against the gateway's SSE
 * stream: records arrive as default `message` events, the control events do not reach
 * `onmessage`, and when the connection drops the browser reconnects on its own with
 * `Last-Event-ID` and the page gets every record exactly once.
 *
 * The page is served through a small pass-through proxy in the test (same origin, so no CORS):
 * it lets the test cut the live stream the way a network drop does, and records the
 * `Last-Event-ID` header the browser sends on the reconnect.
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../support/chromium.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';

/** Forwards every request to the gateway; `cut()` drops the open event streams like a network failure. */
class CuttingProxy {
  readonly eventRequests: { lastEventId: string | undefined }[] = [];
  private readonly open = new Set<ServerResponse>();
  private server!: Server;
  url = '';

  constructor(private readonly upstream: string) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => this.forward(req, res));
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  private forward(req: IncomingMessage, res: ServerResponse): void {
    const stream = (req.url ?? '').includes('/events');
    if (stream) {
      const h = req.headers['last-event-id'];
      this.eventRequests.push({ lastEventId: Array.isArray(h) ? h[0] : h });
    }
    const up = request(`${this.upstream}${req.url}`, { method: req.method, headers: req.headers }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      upRes.pipe(res);
      if (stream) {
        this.open.add(res);
        res.on('close', () => {
          this.open.delete(res);
          upRes.destroy();
        });
      }
    });
    up.on('error', () => res.destroy());
    req.pipe(up);
  }

  /** Drops every open stream mid-body (the socket dies without a clean end of the chunked body). */
  cut(): void {
    for (const res of this.open) res.socket?.destroy();
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

let gw: TestGateway;
let browser: Browser;
let proxy: CuttingProxy;

beforeAll(async () => {
  [gw, browser] = await Promise.all([
    // A short `retry:` so the browser's automatic reconnect comes quickly.
    startTestGateway({ config: { rest: { sseRetryMs: 200 } } }),
    launchChromium(),
  ]);
  proxy = new CuttingProxy(gw.httpUrl);
  await proxy.start();
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await proxy?.close();
  await gw?.close();
});

async function produce(topic: string, seqs: number[]): Promise<{ offset: string }[]> {
  const res = await fetch(`${gw.httpUrl}/v1/topics/${topic}/records`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ records: seqs.map((seq) => ({ key: `k${seq}`, value: { seq } })) }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { offsets: { offset: string }[] }).offsets;
}

interface Seen {
  type: string;
  lastEventId: string;
  seq: number;
  offset: string;
}

describe('EventSource in headless Chromium', () => {
  it('receives records with onmessage, and resumes with Last-Event-ID after a drop, with no gap and no duplicate', async () => {
    const topic = uniqueTopic('eventsource');
    const first = await produce(topic, [0, 1, 2]);
    const page = await browser.newPage();
    try {
      // Any page of the gateway's origin (through the proxy): EventSource then needs no CORS.
      await page.goto(`${proxy.url}/healthz`);
      await page.evaluate((path) => {
        const w = globalThis as unknown as { seen: Seen[]; subscribed: number; opens: number };
        w.seen = [];
        w.subscribed = 0;
        w.opens = 0;
        const es = new EventSource(path);
        // The idiom under test: only onmessage for records.
        es.onmessage = (e) => {
          const r = JSON.parse(e.data) as { value: { seq: number }; offset: string };
          w.seen.push({ type: e.type, lastEventId: e.lastEventId, seq: r.value.seq, offset: r.offset });
        };
        es.addEventListener('subscribed', () => w.subscribed++);
        es.onopen = () => w.opens++;
      }, `/v1/topics/${topic}/events?from=earliest`);

      const seen = () => page.evaluate(() => (globalThis as unknown as { seen: Seen[] }).seen);
      await eventually(async () => (await seen()).length >= 3, { what: 'three records through onmessage', timeoutMs: 15_000 });
      const before = await seen();
      expect(before.map((s) => [s.type, s.seq, s.offset])).toEqual(first.map((o, i) => ['message', i, o.offset]));
      // The event id is the resume position: the next offset to read of the partition.
      expect(before[2]!.lastEventId).toBe(`0:${BigInt(first[2]!.offset) + 1n}`);
      expect(await page.evaluate(() => (globalThis as unknown as { subscribed: number }).subscribed)).toBe(1);

      // The connection drops; two more records are written while the browser is away.
      proxy.cut();
      const later = await produce(topic, [3, 4]);
      await eventually(async () => (await seen()).length >= 5, { what: 'the two later records after the automatic reconnect', timeoutMs: 15_000 });

      // The browser reconnected by itself, sending the id of the last event it saw (a record).
      expect(proxy.eventRequests.map((r) => r.lastEventId)).toEqual([undefined, before[2]!.lastEventId]);
      expect(await page.evaluate(() => (globalThis as unknown as { opens: number }).opens)).toBe(2);
      const all = await seen();
      expect(all.map((s) => s.seq)).toEqual([0, 1, 2, 3, 4]);
      expect(all.slice(3).map((s) => s.offset)).toEqual(later.map((o) => o.offset));
      expect(all.every((s) => s.type === 'message')).toBe(true);
    } finally {
      await page.close();
    }
  });
});
