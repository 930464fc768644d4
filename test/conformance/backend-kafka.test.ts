/** The backend conformance suite against the Kafka backend on the harness broker. */
import { pino } from 'pino';
import { KafkaBackend } from '../../gateway/backends/kafka/index.js';
import { kafkaBrokers } from '../support/kafka.js';
import { describeBackendConformance } from './backend-suite.js';

describeBackendConformance('kafka', async () => {
  const backend = new KafkaBackend({
    brokers: [kafkaBrokers()],
    clientId: 'conformance',
    // Warnings and errors still reach the test output; kafkajs chatter does not.
    logger: pino({ level: 'warn' }),
  });
  await backend.start();
  return backend;
});
