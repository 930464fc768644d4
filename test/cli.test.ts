/**
 * The process as a person runs it: `streamgate` logs one ready line with the real ports (embedded
 * log by default, Kafka when brokers are set), refuses a bad config naming the key, and exits 0
 * on SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { kafkaBrokers } from './support/kafka.js';
import { eventually } from './support/wait.js';

const dirs: string[] = [];
const children: ChildProcess[] = [];
afterAll(() => {
  for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function run(env: Record<string, string>, args: string[] = []): { child: ChildProcess; out: () => string; exit: Promise<number | null> } {
  const dir = mkdtempSync(join(tmpdir(), 'sg-cli-'));
  dirs.push(dir);
  let out = '';
  const child = spawn(process.execPath, ['--import', 'tsx', 'app/main.ts', ...args], {
    env: { PATH: process.env.PATH ?? '', STREAMGATE_DATA_DIR: dir, STREAMGATE_HTTP_PORT: '0', STREAMGATE_MQTT_PORT: '0', STREAMGATE_GRPC_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, out: () => out, exit };
}

function readyLine(text: string): { ports: { http: number; mqtt: number; grpc: number }; backend: string } | undefined {
  const line = text.split('\n').find((l) => l.includes('"msg":"ready"'));
  return line === undefined ? undefined : JSON.parse(line);
}

describe('the streamgate process', () => {
  it.each([
    ['embedded', {}],
    ['kafka', { STREAMGATE_KAFKA_BROKERS: 'KAFKA' }],
  ] as const)('starts on the %s backend, answers, and exits 0 on SIGTERM', async (backend, extra) => {
    const env = Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, v === 'KAFKA' ? kafkaBrokers() : v]));
    const p = run(env);
    const ready = await eventually(() => readyLine(p.out()), { timeoutMs: 30_000, what: 'ready line' });
    expect(ready.backend).toBe(backend);
    for (const port of [ready.ports.http, ready.ports.mqtt, ready.ports.grpc]) expect(port).toBeGreaterThan(0);
    const health = await fetch(`http://127.0.0.1:${ready.ports.http}/readyz`);
    expect(health.status).toBe(200);
    p.child.kill('SIGTERM');
    expect(await p.exit).toBe(0);
  }, 60_000);

  it('refuses an invalid config with a message naming the key, exit code 2', async () => {
    const p = run({ STREAMGATE_HTTP_PORT: 'eighty' });
    expect(await p.exit).toBe(2);
    expect(p.out()).toMatch(/http\.port/);
    const q = run({}, ['--no-such-flag=1']);
    expect(await q.exit).toBe(2);
    expect(q.out()).toMatch(/--no-such-flag/);
  }, 30_000);
});
