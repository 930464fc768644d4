/**
 * Measures offsetsForTimestamp on one embedded partition holding many small records (not a test,
 * nothing is asserted; numbers are printed for the README / reports):
 *
 *   node --import tsx gateway/backends/embedded/time-index-bench.ts [records=1000000]
 *
 * Timestamps are t0 + i (one record per millisecond, like a steady producer) so that a lookup
 * for t0 + k must answer offset k; each answer is checked so a fast wrong index cannot pass.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { silentLogger } from '../../log.js';
import { EmbeddedBackend } from './index.js';

const total = Number(process.argv[2] ?? 1_000_000);
const batch = 10_000;
const dir = mkdtempSync(join(tmpdir(), 'sg-time-index-bench-'));
const backend = new EmbeddedBackend({ dataDir: dir, logger: silentLogger(), retentionCheckIntervalMs: 0 });
try {
  await backend.start();
  const topic = 'bench-times';
  await backend.createTopic(topic, { partitions: 1 });
  const t0 = 1_700_000_000_000;
  const value = Buffer.from('v'.repeat(16));
  const produceStarted = performance.now();
  for (let from = 0; from < total; from += batch) {
    const records = Array.from({ length: Math.min(batch, total - from) }, (_, i) => ({ value, partition: 0, timestamp: t0 + from + i }));
    const results = await backend.produce(topic, records);
    if (results.some((r) => !r.ok)) throw new Error('produce failed');
  }
  const produceMs = performance.now() - produceStarted;
  console.log(`produced ${total} records of 16 bytes in ${produceMs.toFixed(0)} ms (${((total / produceMs) * 1000).toFixed(0)} records/s)`);

  const probes: [string, number, bigint][] = [
    ['first record', t0, 0n],
    ['middle', t0 + Math.floor(total / 2), BigInt(Math.floor(total / 2))],
    ['last record', t0 + total - 1, BigInt(total - 1)],
    ['after the end (latest)', t0 + total + 1000, BigInt(total)],
  ];
  const measure = async (name: string, t: number, expected: bigint): Promise<void> => {
    const runs = 5;
    const times: number[] = [];
    for (let i = 0; i < runs; i++) {
      const started = performance.now();
      const answer = (await backend.offsetsForTimestamp(topic, t)).get(0);
      times.push(performance.now() - started);
      if (answer !== expected) throw new Error(`${name}: expected ${expected}, got ${answer}`);
    }
    times.sort((a, b) => a - b);
    console.log(`lookup ${name.padEnd(30)} median ${times[2]!.toFixed(3)} ms  min ${times[0]!.toFixed(3)} ms  max ${times[runs - 1]!.toFixed(3)} ms`);
  };
  for (const [name, t, expected] of probes) await measure(name, t, expected);
  // A cut in the middle of an index segment: the lookup below the new start takes the head-segment path.
  const cut = Math.floor(total / 2) + 7;
  await backend.deleteRecords(topic, 0, BigInt(cut));
  await measure('before the start after a cut', t0, BigInt(cut));
  await measure('after the cut', t0 + cut + 1000, BigInt(cut + 1000));
} finally {
  await backend.close();
  rmSync(dir, { recursive: true, force: true });
}
