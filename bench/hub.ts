/**
 * Micro-benchmark of the fan-out hub: records/s delivered to N in-process subscribers of one
 * topic (N = 1, 100, 10,000), over the embedded backend. A benchmark, not a test: it prints a
 * table and writes bench/results/hub.json.
 *
 *   npx tsx bench/hub.ts
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { EmbeddedBackend } from '../gateway/backends/embedded/index.js';
import { coreConfigSchema, loadConfig } from '../gateway/config.js';
import { createContext } from '../gateway/context.js';
import { Core } from '../gateway/core.js';
import { LATEST } from '../gateway/record.js';

const log = pino({ level: 'silent' });
const VALUE = Buffer.alloc(256, 'v');

async function run(subscribers: number, records: number): Promise<{ subscribers: number; records: number; seconds: number; deliveredPerSec: number; rssMiB: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'sg-bench-hub-'));
  const config = loadConfig(coreConfigSchema, { argv: [], env: {}, file: { dataDir: dir } });
  const backend = new EmbeddedBackend({ dataDir: dir, logger: log });
  await backend.start();
  const core = new Core({ backend, config, log });
  const ctx = createContext({ protocol: 'bench', log });
  const topic = 'bench';
  await backend.createTopic(topic, { partitions: 1 });
  let delivered = 0;
  const target = subscribers * records;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  for (let i = 0; i < subscribers; i++) {
    await core.subscribe(ctx, { topic, from: LATEST }, {
      records: (batch) => {
        delivered += batch.length;
        if (delivered === target) done();
      },
      end: () => undefined,
    });
  }
  const started = process.hrtime.bigint();
  for (let i = 0; i < records; i += 500) {
    await core.produce(ctx, topic, Array.from({ length: Math.min(500, records - i) }, () => ({ key: null, value: VALUE })));
  }
  await finished;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const rssMiB = process.memoryUsage().rss / 2 ** 20;
  await core.close();
  await backend.close();
  rmSync(dir, { recursive: true, force: true });
  return { subscribers, records, seconds, deliveredPerSec: Math.round(target / seconds), rssMiB: Math.round(rssMiB) };
}

const results = [];
for (const [n, r] of [
  [1, 200_000],
  [100, 20_000],
  [10_000, 500],
] as const) {
  results.push(await run(n, r));
}
console.table(results);
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/hub.json', JSON.stringify({ date: new Date().toISOString(), node: process.version, results }, null, 2));
