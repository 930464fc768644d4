/**
 * The gateway under test, in its own process so its CPU and RSS are measured apart from the load
 * generators: startServer with the given config (YAML-shaped JSON in argv[2]) and a silent
 * logger. IPC: sends `{ready, ports}`; answers `mem` (after GC, needs --expose-gc) and `stop`.
 */
import { pino } from 'pino';
import { loadServerConfig, startServer } from '../../app/compose.js';

const file = JSON.parse(process.argv[2]!) as Record<string, unknown>;
const config = loadServerConfig({ argv: [], env: {}, file });
const server = await startServer(config, { log: pino({ level: 'silent' }) });
process.send!({ ready: true, ports: server.ports });

const gc = (globalThis as { gc?: () => void }).gc;
process.on('message', (m: string) => {
  if (m === 'mem') {
    // Several passes: weak refs and finalizers free more on the second one.
    for (let i = 0; i < 3; i++) gc?.();
    process.send!({ mem: process.memoryUsage() });
  } else if (m === 'stop') {
    server.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  }
});
process.on('disconnect', () => void server.close().finally(() => process.exit(0)));
