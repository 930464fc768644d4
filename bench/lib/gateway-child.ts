/**
 * The gateway under test, in its own process so its CPU and RSS are measured apart from the load
 * generators: startServer with the given config (YAML-shaped JSON in argv[2]) and a silent
 * logger, from the compiled build in dist/. IPC: sends `{ready, ports, pids}`; answers `mem` (after GC, needs --expose-gc) and `stop`.
 *
 * With `workers: N > 1` in the config it runs the way `streamgate --workers N` does
 * (app/workers.ts): this process is the primary, N forked workers re-run this file and serve the
 * same ports; `pids` lists the primary and the workers so the bench measures all of them.
 */
import cluster from 'node:cluster';
import { pino } from 'pino';

// The compiled build (`tsc -p tsconfig.build.json`, what `npm start` runs; procs.ts builds it
// first), not the sources through tsx: tsx compiles with esbuild's keepNames, which wraps every
// named closure in `__name()` — a defineProperty per closure created, ~1.8 KiB more heap per idle
// WebSocket and extra CPU per call that production never pays.
const compose = (await import('../../dist/app/compose.js' as string)) as typeof import('../../app/compose.js');
const workersModule = (await import('../../dist/app/workers.js' as string)) as typeof import('../../app/workers.js');
const { loadServerConfig, startServer } = compose;
const { isWorker, runPrimary, runWorker, workerCount } = workersModule;

const file = JSON.parse(process.argv[2]!) as Record<string, unknown>;
const config = loadServerConfig({ argv: [], env: {}, file });
const log = pino({ level: 'silent' });
const workers = isWorker() ? 1 : workerCount(config);

if (workers > 1) {
  const ready = new Map<number, { ports: unknown; pid: number }>();
  cluster.on('message', (worker, message: { type?: string; ports?: unknown }) => {
    if (message?.type !== 'streamgate:ready') return;
    ready.set(worker.id, { ports: message.ports, pid: worker.process.pid! });
    if (ready.size === workers) {
      const all = [...ready.values()];
      process.send!({ ready: true, ports: all[0]!.ports, pids: [process.pid, ...all.map((w) => w.pid)] });
    }
  });
  process.on('message', (m: string) => {
    if (m === 'stop') process.kill(process.pid, 'SIGTERM');
    else if (m === 'mem') process.send!({ mem: process.memoryUsage() });
  });
  process.on('disconnect', () => process.kill(process.pid, 'SIGTERM'));
  process.exit(await runPrimary(config, log, workers));
} else {
  const server = await startServer(config, { log });
  if (isWorker()) runWorker(server);
  else process.send!({ ready: true, ports: server.ports, pids: [process.pid] });

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
  if (!isWorker()) process.on('disconnect', () => void server.close().finally(() => process.exit(0)));
  else process.on('SIGTERM', () => void server.close().finally(() => process.exit(0)));
}
