/**
 * vitest global setup of the integration tier: ONE real Kafka broker for the whole test run,
 * handed to tests through `provide('kafkaBrokers')` (read it with `kafkaBrokers()` from
 * test/support/kafka.ts). The unit tier has no global setup, so it needs neither Java nor a broker.
 *
 * Every integration project (`integration`, `uws`) lists this file. vitest runs a project's
 * global setup only when that project has test files queued, once per project, each through
 * that project's own module runner — so module state is not shared, and the harness is kept on
 * `globalThis` (the one main process) with a count of the projects using it: the first setup
 * starts it, the others reuse it, the last teardown stops it.
 *
 * The broker is stopped in teardown whatever the outcome; on SIGINT/SIGTERM it is stopped before
 * the process exits, and if this process dies abruptly the harness's watchdog kills it.
 */
import type { TestProject } from 'vitest/node';
import { startKafkaHarness, type KafkaHarness } from './harness.js';

interface Shared {
  /** The harness being started or running; rejected if it failed to start. */
  readonly harness: Promise<KafkaHarness>;
  /** Projects whose setup ran and whose teardown has not run yet. */
  users: number;
  readonly onSignal: (signal: NodeJS.Signals) => void;
}

const KEY = Symbol.for('streamgate.test.kafkaHarness');
const slot = globalThis as unknown as { [KEY]?: Shared | undefined };

function acquire(): Shared {
  const existing = slot[KEY];
  if (existing) {
    existing.users++;
    return existing;
  }
  const started = Date.now();
  const harness = startKafkaHarness().then((h) => {
    process.stderr.write(`[kafka] broker ${h.brokers} ready in ${Date.now() - started} ms (${h.dir})\n`);
    return h;
  });
  const onSignal = (signal: NodeJS.Signals): void => {
    const exit = (): never => process.exit(signal === 'SIGINT' ? 130 : 143);
    slot[KEY] = undefined;
    harness.then((h) => h.stop()).then(exit, exit);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const shared: Shared = { harness, users: 1, onSignal };
  slot[KEY] = shared;
  return shared;
}

async function release(shared: Shared): Promise<void> {
  shared.users--;
  if (shared.users > 0 || slot[KEY] !== shared) return;
  slot[KEY] = undefined;
  process.off('SIGINT', shared.onSignal);
  process.off('SIGTERM', shared.onSignal);
  await (await shared.harness.catch(() => undefined))?.stop();
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const shared = acquire();
  let harness: KafkaHarness;
  try {
    harness = await shared.harness;
  } catch (err) {
    await release(shared);
    throw err;
  }
  project.provide('kafkaBrokers', harness.brokers);
  return () => release(shared);
}
