#!/usr/bin/env node
/**
 * `streamgate` / `npm start`: load config (file, STREAMGATE_* environment, flags), start the
 * gateway, log one `ready` line with the actual ports, and shut down in order on SIGTERM/SIGINT
 * within the configured deadline.
 */
import { ConfigError } from '../gateway/config.js';
import { createLogger } from '../gateway/log.js';
import { loadServerConfig, startServer } from './compose.js';

async function main(): Promise<void> {
  let config;
  try {
    config = loadServerConfig();
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`streamgate: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.log.level);
  const server = await startServer(config, { log });

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'signal received');
    const deadline = setTimeout(() => {
      log.error({ deadlineMs: config.shutdown.deadlineMs }, 'shutdown deadline passed; exiting');
      process.exit(1);
    }, config.shutdown.deadlineMs);
    deadline.unref();
    server.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  const log = createLogger('info');
  log.fatal({ err }, 'failed to start');
  process.exit(1);
});
