#!/usr/bin/env node
/**
 * `streamgate` / `npm start`: load config (file, STREAMGATE_* environment, flags), start the
 * gateway — in this process, or as `workers` processes behind the same ports (app/workers.ts) —
 * log one `ready` line with the actual ports, and shut down in order on SIGTERM/SIGINT within the
 * configured deadline.
 */
import { ConfigError } from '../gateway/config.js';
import { createLogger, type Logger } from '../gateway/log.js';
import { loadServerConfig, startServer, type Config, type RunningServer } from './compose.js';
import { clusterMetrics, isWorker, runPrimary, runWorker, workerCount, workerId } from './workers.js';

async function main(): Promise<void> {
  let config: Config;
  let workers: number;
  try {
    config = loadServerConfig();
    workers = workerCount(config);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`streamgate: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const root = createLogger(config.log.level);
  const log = isWorker() ? root.child({ worker: workerId(), pid: process.pid }) : root;
  if (isWorker()) {
    const server = await startServer(config, { log, readyMessage: 'worker ready', renderMetrics: clusterMetrics });
    stopOnSignals(server, config, log);
    runWorker(server);
  } else if (workers > 1) {
    process.exit(await runPrimary(config, log, workers));
  } else {
    stopOnSignals(await startServer(config, { log }), config, log);
  }
}

function stopOnSignals(server: RunningServer, config: Config, log: Logger): void {
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
