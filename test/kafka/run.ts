/**
 * `npm run kafka`: starts a throwaway single-node Kafka broker for manual runs of the gateway and
 * keeps it up until Ctrl-C / SIGTERM, then stops it and removes its data.
 */
import { startKafkaHarness } from './harness.js';

const broker = await startKafkaHarness();
process.stdout.write(
  `STREAMGATE_KAFKA_BROKERS=${broker.brokers}\n` +
    `# Kafka is up (data in ${broker.dir}). In another shell:\n` +
    `#   STREAMGATE_KAFKA_BROKERS=${broker.brokers} npm start\n` +
    `# Ctrl-C stops the broker and deletes its data.\n`,
);

// The broker's process handles are unref'd; this timer keeps us alive until a signal arrives.
const keepAlive = setInterval(() => undefined, 1 << 30);
let stopping = false;
const shutdown = (signal: NodeJS.Signals): void => {
  if (stopping) return;
  stopping = true;
  process.stdout.write(`\n${signal}: stopping Kafka…\n`);
  broker.stop().then(
    () => {
      clearInterval(keepAlive);
      process.exit(0);
    },
    (err: unknown) => {
      process.stderr.write(`failed to stop Kafka cleanly: ${String(err)}\n`);
      process.exit(1);
    },
  );
};
process.on('SIGINT', shutdown);
process.on('SIGTERM', shutdown);
