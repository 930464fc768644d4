/**
 * Test fixture (run as a child process by embedded.test.ts, never imported by the gateway):
 * produces to the embedded log in a loop and prints `acked <offset> <value>` after each produce
 * resolved, so the parent can SIGKILL it right after an acknowledgement and check that every
 * acknowledged record survived.
 *
 *   node --import tsx gateway/backends/embedded/crash-writer.fixture.ts <dataDir> <topic>
 */
import { silentLogger } from '../../log.js';
import { EmbeddedBackend } from './index.js';

const [dataDir, topic] = process.argv.slice(2);
if (dataDir === undefined || topic === undefined) throw new Error('usage: crash-writer.fixture.ts <dataDir> <topic>');

const backend = new EmbeddedBackend({ dataDir, logger: silentLogger() });
await backend.start();
await backend.createTopic(topic, { partitions: 1 });
process.stdout.write('ready\n');
for (let i = 0; ; i++) {
  const value = `value-${i}`;
  const [result] = await backend.produce(topic, [{ key: Buffer.from(`k${i}`), value: Buffer.from(value), partition: 0 }]);
  if (!result.ok) throw result.error;
  process.stdout.write(`acked ${result.offset} ${value}\n`);
}
