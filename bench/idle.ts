/**
 * Memory per idle connection at 10,000 connections: WebSocket and MQTT on streamgate (both
 * engines for WebSocket), Mosquitto (MQTT) and Centrifugo (WebSocket, connected with a token, no
 * subscription). Connections come from load-generator children; the server's RSS (and for
 * streamgate the JS heap, after GC) is compared before and after.
 *
 *   npx tsx bench/idle.ts [--quick] [--n=10000] [--only=ws,uws,mqtt,mosquitto,centrifugo]
 */
import { startKafkaHarness, type KafkaHarness } from '../test/kafka/harness.js';
import { benchFlags, fmt, printTable, procStat, sleep, writeResult } from './lib/common.js';
import { CENTRIFUGO_SECRET, startCentrifugo, startGateway, startGenerators, startMosquitto } from './lib/procs.js';
import type { SubscriberOptions } from './lib/subscribers.js';

export interface IdleResult {
  server: string;
  protocol: string;
  connections: number;
  rssBytesPerConnection: number;
  heapBytesPerConnection: number | null;
  rssBeforeMiB: number;
  rssAfterMiB: number;
}

async function settleRss(pid: number): Promise<number> {
  // RSS moves for a moment after a burst of connections (allocator, lazy pages): take the minimum of a few samples.
  let min = Infinity;
  for (let i = 0; i < 5; i++) {
    await sleep(200);
    min = Math.min(min, procStat(pid).rss);
  }
  return min;
}

export async function runIdle(options: { quick: boolean; only?: string[] | undefined; n?: number; broker?: KafkaHarness }): Promise<IdleResult[]> {
  const n = options.n ?? (options.quick ? 2000 : 10_000);
  const broker = options.broker ?? (await startKafkaHarness());
  const results: IdleResult[] = [];
  const targets = ['ws', 'uws', 'mqtt', 'mosquitto', 'centrifugo'].filter((t) => options.only === undefined || options.only.includes(t));
  try {
    for (const target of targets) {
      process.stdout.write(`idle ${target} × ${n} … `);
      const stops: (() => Promise<void>)[] = [];
      try {
        let pid: number;
        let sub: SubscriberOptions;
        let mem: (() => Promise<NodeJS.MemoryUsage>) | undefined;
        let server = 'streamgate';
        if (target === 'mosquitto') {
          const m = await startMosquitto();
          stops.push(() => m.stop());
          pid = m.pid;
          server = 'mosquitto';
          sub = { kind: 'mqtt', count: n, url: `127.0.0.1:${m.port}`, topic: '', idle: true };
        } else if (target === 'centrifugo') {
          const c = await startCentrifugo(broker.brokers, `idle-centrifugo-${Date.now()}`);
          stops.push(() => c.stop());
          pid = c.pid;
          server = 'centrifugo';
          sub = { kind: 'centrifugo', count: n, url: `ws://127.0.0.1:${c.port}/connection/websocket`, topic: '', idle: true, centrifugoSecret: CENTRIFUGO_SECRET };
        } else {
          const gw = await startGateway(broker.brokers, target === 'uws' ? { websocket: { engine: 'uws' } } : {});
          stops.push(() => gw.stop());
          pid = gw.pid;
          mem = () => gw.mem();
          if (target === 'uws') server = 'streamgate (uWS)';
          sub =
            target === 'mqtt'
              ? { kind: 'mqtt', count: n, url: `127.0.0.1:${gw.ports.mqtt}`, topic: '', idle: true }
              : { kind: 'ws', count: n, url: `ws://127.0.0.1:${target === 'uws' ? gw.uwsPort : gw.ports.http}/v1/ws`, topic: '', idle: true };
          // Warm up code paths with a handful of connections so JIT and lazy module state are not counted.
          const warm = await startGenerators({ ...sub, count: 10 }, 1);
          await warm.close();
        }
        const heapBefore = mem === undefined ? undefined : (await mem()).heapUsed;
        const before = await settleRss(pid);
        const gens = await startGenerators(sub, Math.ceil(n / 2500));
        stops.unshift(() => gens.close());
        const heapAfter = mem === undefined ? undefined : (await mem()).heapUsed;
        const after = await settleRss(pid);
        const r: IdleResult = {
          server,
          protocol: target === 'mqtt' || target === 'mosquitto' ? 'MQTT' : 'WebSocket',
          connections: n,
          rssBytesPerConnection: Math.round((after - before) / n),
          heapBytesPerConnection: heapBefore === undefined ? null : Math.round((heapAfter! - heapBefore) / n),
          rssBeforeMiB: Math.round(before / 2 ** 20),
          rssAfterMiB: Math.round(after / 2 ** 20),
        };
        results.push(r);
        process.stdout.write(`${fmt(r.rssBytesPerConnection / 1024, 1)} KiB RSS per connection\n`);
      } catch (err) {
        process.stdout.write(`SKIPPED: ${err instanceof Error ? err.message : String(err)}\n`);
      } finally {
        for (const stop of stops) await stop();
      }
    }
  } finally {
    if (options.broker === undefined) await broker.stop();
  }
  printTable(`Idle connections (${fmt(n)} per server)`, idleRows(results));
  writeResult('idle', { results });
  return results;
}

export function idleRows(results: IdleResult[]): Record<string, string | number>[] {
  return results.map((r) => ({
    server: r.server,
    protocol: r.protocol,
    connections: fmt(r.connections),
    'RSS KiB/conn': fmt(r.rssBytesPerConnection / 1024, 1),
    'JS heap KiB/conn': r.heapBytesPerConnection === null ? '–' : fmt(r.heapBytesPerConnection / 1024, 1),
    'RSS before → after MiB': `${r.rssBeforeMiB} → ${r.rssAfterMiB}`,
  }));
}

if (process.argv[1]?.endsWith('idle.ts')) {
  const n = process.argv.find((a) => a.startsWith('--n='))?.slice(4);
  await runIdle({ ...benchFlags(), ...(n === undefined ? {} : { n: Number(n) }) });
}
