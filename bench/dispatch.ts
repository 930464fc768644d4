/**
 * Micro-benchmark of group consumption in the core, over the embedded backend: records/s through
 * one group on a 1-partition topic, each record acknowledged on receipt — partition mode with one
 * member (the whole partition to it) against dispatch mode (MQTT `$share/`) with 1, 2, 10 and 100
 * members (each record to the least-loaded member). Also how evenly dispatch spread the records.
 * A benchmark, not a test: it prints a table and writes bench/results/dispatch.json.
 *
 *   npx tsx bench/dispatch.ts
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { EmbeddedBackend } from '../gateway/backends/embedded/index.js';
import { coreConfigSchema, loadConfig } from '../gateway/config.js';
import { createContext } from '../gateway/context.js';
import { Core } from '../gateway/core.js';

const log = pino({ level: 'silent' });
const VALUE = Buffer.alloc(256, 'v');

async function run(mode: 'partition' | 'dispatch', members: number, records: number) {
  const dir = mkdtempSync(join(tmpdir(), 'sg-bench-dispatch-'));
  const config = loadConfig(coreConfigSchema, { argv: [], env: {}, file: { dataDir: dir } });
  const backend = new EmbeddedBackend({ dataDir: dir, logger: log });
  await backend.start();
  const core = new Core({ backend, config, log });
  await core.start();
  const ctx = createContext({ protocol: 'bench', log });
  const topic = 'bench';
  await backend.createTopic(topic, { partitions: 1 });
  const got = new Array<number>(members).fill(0);
  let delivered = 0;
  let done!: () => void;
  const finished = new Promise<void>((resolve) => (done = resolve));
  for (let i = 0; i < members; i++) {
    const member = await core.joinGroup(ctx, { group: 'g', topics: [topic], resetTo: 'latest', mode, ackTimeoutMs: 0 });
    member.stream({
      records: (batch) => {
        got[i]! += batch.length;
        for (const r of batch) member.ack(r.topic, r.partition, r.offset);
        delivered += batch.length;
        if (delivered === records) done();
      },
      end: () => undefined,
    });
  }
  const started = process.hrtime.bigint();
  for (let i = 0; i < records; i += 500) {
    await core.produce(ctx, topic, Array.from({ length: Math.min(500, records - i) }, () => ({ key: Buffer.from('one/topic'), value: VALUE })));
  }
  await finished;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await core.close();
  await backend.close();
  rmSync(dir, { recursive: true, force: true });
  return { mode, members, records, seconds: Number(seconds.toFixed(2)), recordsPerSec: Math.round(records / seconds), minPerMember: Math.min(...got), maxPerMember: Math.max(...got) };
}

const results = [];
for (const [mode, members] of [
  ['partition', 1],
  ['dispatch', 1],
  ['dispatch', 2],
  ['dispatch', 10],
  ['dispatch', 100],
] as const) {
  results.push(await run(mode, members, 100_000));
}
console.table(results);
mkdirSync('bench/results', { recursive: true });
writeFileSync('bench/results/dispatch.json', JSON.stringify({ date: new Date().toISOString(), node: process.version, results }, null, 2));
