/**
 * Measures what an idle WebSocket connection costs the gateway: starts a gateway (on a throwaway
 * Kafka broker), opens N idle connections from a child process (so the clients' memory is not
 * counted), and compares the gateway process's memory after GC before and after.
 *
 *   node --expose-gc --import tsx test/websocket/idle-memory.ts [N=2000]
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { loadServerConfig, startServer } from '../../app/compose.js';
import { startKafkaHarness } from '../kafka/harness.js';

const N = Number(process.argv[2] ?? 2000);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');

const CHILD = `
const { WebSocket } = require('ws');
const [url, n] = [process.argv[1], Number(process.argv[2])];
const sockets = []; let open = 0;
function next() {
  if (sockets.length === n) return;
  const ws = new WebSocket(url, ['streamgate.v1.json']);
  sockets.push(ws);
  ws.once('open', () => { open++; if (open === n) console.log('open'); else next(); });
  ws.once('error', (e) => { console.error(e.message); process.exit(1); });
}
for (let i = 0; i < 50; i++) next();
process.stdin.on('end', () => process.exit(0)); process.stdin.resume();
`;

async function settle(): Promise<NodeJS.MemoryUsage> {
  for (let i = 0; i < 5; i++) {
    gc!();
    await new Promise((r) => setTimeout(r, 200));
  }
  return process.memoryUsage();
}

const broker = await startKafkaHarness();
const config = loadServerConfig({
  argv: [],
  env: {},
  file: { http: { port: 0 }, mqtt: { port: 0 }, grpc: { port: 0 }, kafka: { brokers: [broker.brokers] }, dataDir: broker.dir },
});
const server = await startServer(config, { log: pino({ level: 'silent' }) });
try {
  // Warm up the code paths (one connection) so JIT and lazy module state are not counted.
  await runClients(1, async () => undefined);
  const before = await settle();
  let after!: NodeJS.MemoryUsage;
  await runClients(N, async () => {
    after = await settle();
  });
  const per = (k: keyof NodeJS.MemoryUsage) => Math.round((after[k] - before[k]) / N);
  const result = {
    connections: N,
    bytesPerConnection: { rss: per('rss'), heapUsed: per('heapUsed'), external: per('external'), arrayBuffers: per('arrayBuffers') },
    totalMiB: { rss: +((after.rss - before.rss) / 2 ** 20).toFixed(1), heapUsed: +((after.heapUsed - before.heapUsed) / 2 ** 20).toFixed(1) },
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  await server.close();
  await broker.stop();
}

async function runClients(n: number, whileOpen: () => Promise<void>): Promise<void> {
  const child = spawn(process.execPath, ['-e', CHILD, `ws://127.0.0.1:${server.ports.http}/v1/ws`, String(n)], {
    stdio: ['pipe', 'pipe', 'inherit'],
    cwd: process.cwd(),
  });
  const lines = createInterface({ input: child.stdout! });
  const [line] = await once(lines, 'line');
  if (line !== 'open') throw new Error(`client process said ${line}`);
  await whileOpen();
  child.stdin!.end();
  await once(child, 'exit');
}
