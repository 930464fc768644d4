/**
 * vitest global setup: ONE real Kafka broker for the whole test run, handed to tests through
 * `provide('kafkaBrokers')` (read it with `kafkaBrokers()` from test/support/kafka.ts).
 *
 * The broker is stopped in teardown whatever the outcome; on SIGINT/SIGTERM it is stopped before
 * the process exits, and if this process dies abruptly the broker's watchdog kills it.
 */
import type { TestProject } from 'vitest/node';
import { startBroker, type KafkaBroker } from './broker.js';

let broker: KafkaBroker | undefined;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  broker = await startBroker();
  process.stderr.write(`[kafka] broker ${broker.brokers} ready in ${Date.now() - started} ms (${broker.dir})\n`);
  project.provide('kafkaBrokers', broker.brokers);

  const onSignal = (signal: NodeJS.Signals): void => {
    const b = broker;
    broker = undefined;
    const exit = (): never => process.exit(signal === 'SIGINT' ? 130 : 143);
    if (b) b.stop().then(exit, exit);
    else exit();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);

  return async () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    const b = broker;
    broker = undefined;
    await b?.stop();
  };
}
