/**
 * Throughput of the embedded log (not a test): produce of 1 KiB values in batches of 100, one
 * call at a time and with several calls in flight, then sequential fetch of everything.
 *
 *   npx tsx bench/embedded-backend.ts [records=100000] [inFlight=8]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EmbeddedBackend } from '../gateway/backends/embedded/index.js';
import { silentLogger } from '../gateway/log.js';
import type { ProduceRecord } from '../gateway/record.js';

const total = Number(process.argv[2] ?? 100_000);
const inFlight = Number(process.argv[3] ?? 8);
const BATCH = 100;
const value = Buffer.alloc(1024, 0x61);

async function produceAll(backend: EmbeddedBackend, topic: string, concurrency: number): Promise<number> {
  const batches = Math.ceil(total / BATCH);
  let next = 0;
  const started = process.hrtime.bigint();
  const worker = async (): Promise<void> => {
    while (next < batches) {
      const b = next++;
      const records: ProduceRecord[] = Array.from({ length: BATCH }, (_, i) => ({ key: Buffer.from(`k${b}-${i}`), value, partition: 0 }));
      await backend.produce(topic, records);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return Number(process.hrtime.bigint() - started) / 1e9;
}

async function fetchAll(backend: EmbeddedBackend, topic: string): Promise<{ seconds: number; records: number }> {
  const started = process.hrtime.bigint();
  let offset = 0n;
  let records = 0;
  for (;;) {
    const res = await backend.fetch(topic, 0, offset, { maxRecords: 500 });
    if (res.records.length === 0) break;
    records += res.records.length;
    offset = res.nextOffset;
  }
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, records };
}

const dir = mkdtempSync(join(tmpdir(), 'sg-bench-embedded-'));
const backend = new EmbeddedBackend({ dataDir: dir, logger: silentLogger() });
try {
  await backend.start();
  for (const [label, concurrency] of [['1 call in flight', 1], [`${inFlight} calls in flight`, inFlight]] as const) {
    const topic = `bench-${concurrency}`;
    await backend.createTopic(topic, { partitions: 1 });
    const seconds = await produceAll(backend, topic, concurrency);
    console.log(`produce (${label}): ${total} × 1 KiB in batches of ${BATCH}: ${(total / seconds).toFixed(0)} records/s, ${((total * 1024) / seconds / 2 ** 20).toFixed(1)} MiB/s`);
    const fetched = await fetchAll(backend, topic);
    console.log(`fetch: ${fetched.records} records, maxRecords 500: ${(fetched.records / fetched.seconds).toFixed(0)} records/s`);
  }
} finally {
  await backend.close();
  rmSync(dir, { recursive: true, force: true });
}
