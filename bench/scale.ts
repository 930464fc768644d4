/**
 * The scale benchmarks of one run (issue #20), on one Kafka broker:
 *   1. 250,000 deliveries/s offered at N = 1,000 and 10,000 — streamgate (ws, uWS, SSE, gRPC,
 *      MQTT), Mosquitto, Centrifugo → results/fanout-250k.json
 *   2. an offered-rate sweep at N = 10,000 (100k → 1M deliveries/s, stopping at the first step
 *      that misses p99 ≤ 100 ms or 99 % delivered) → results/fanout-sweep.json
 *   3. the same sweep for streamgate with 2 workers (ws and uWS) → results/fanout-workers.json
 *   4. the latency floor: 10,000 deliveries/s at N = 10,000 (one record a second), every target
 *      → results/fanout-floor.json
 * `npx tsx bench/run.ts --report-only` puts them into results/README.md.
 *
 *   npx tsx bench/scale.ts [--skip=250k,sweep,workers,floor] [--only=ws,uws,…]
 */
import { startKafkaHarness } from '../test/kafka/harness.js';
import { runFanout } from './fanout.js';
import { benchFlags } from './lib/common.js';

const flags = benchFlags();
const skip = (process.argv.find((a) => a.startsWith('--skip='))?.slice(7) ?? '').split(',');
const pick = (targets: string[]) => (flags.only === undefined ? targets : targets.filter((t) => flags.only!.includes(t)));
const broker = await startKafkaHarness();
try {
  if (!skip.includes('250k')) {
    await runFanout({ quick: false, broker, ns: [1000, 10_000], rates: [250_000], only: pick(['ws', 'uws', 'sse', 'grpc', 'mqtt', 'mosquitto', 'centrifugo']), name: 'fanout-250k' });
  }
  if (!skip.includes('sweep')) {
    await runFanout({ quick: false, broker, ns: [10_000], sweep: true, only: pick(['ws', 'uws', 'sse', 'grpc', 'mqtt', 'mosquitto', 'centrifugo']), name: 'fanout-sweep' });
  }
  if (!skip.includes('floor')) {
    await runFanout({ quick: false, broker, ns: [10_000], rates: [10_000], only: pick(['ws', 'uws', 'sse', 'grpc', 'mqtt', 'mosquitto', 'centrifugo']), name: 'fanout-floor' });
  }
  if (!skip.includes('workers')) {
    await runFanout({ quick: false, broker, ns: [10_000], sweep: true, workers: 2, only: pick(['ws', 'uws']), name: 'fanout-workers' });
  }
} finally {
  await broker.stop();
}
