/**
 * `--workers N` (app/workers.ts): N gateway processes behind the same ports on one Kafka, each an
 * instance of the multi-instance coordination — one ready line, connections on every worker,
 * MQTT session takeover and REST v2 consumer instances across workers, `/metrics` summed over
 * them, a killed worker replaced, SIGTERM stopping all, and no workers on the embedded log.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient } from '../mqtt/helpers.js';
import { REPO_ROOT } from '../kafka/harness.js';
import { kafkaBrokers } from '../support/kafka.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { killAllGateways, spawnGateway, type GatewayProcess } from '../support/process.js';
import { eventually } from '../support/wait.js';

let gw: GatewayProcess;

beforeAll(async () => {
  gw = await spawnGateway({ brokers: kafkaBrokers(), workers: 2, logLevel: 'info', name: 'workers', readyTimeoutMs: 60_000 });
}, 90_000);

afterAll(async () => {
  await killAllGateways();
});

/** The `worker` of every log line with this message. */
function workersLogging(msg: string): number[] {
  return gw.output.flatMap((line) => {
    if (!line.startsWith('{') || !line.endsWith('}')) return []; // not a log line
    const parsed = JSON.parse(line) as { msg?: string; worker?: number };
    return parsed.msg === msg && parsed.worker !== undefined ? [parsed.worker] : [];
  });
}

/** A request on a connection of its own, so the primary hands each to the next worker. */
async function request(method: string, path: string, body?: unknown, contentType = 'application/vnd.kafka.v2+json'): Promise<{ status: number; body: any }> {
  const res = await fetch(`${gw.httpUrl}${path}`, {
    method,
    headers: { connection: 'close', ...(body === undefined ? {} : { 'content-type': contentType }), accept: 'application/vnd.kafka.json.v2+json, application/vnd.kafka.v2+json, application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : JSON.parse(text) };
}

describe('--workers 2 on Kafka', () => {
  it('logs one ready line after two workers, each its own process', () => {
    const ready = gw.output.filter((l) => l.includes('"msg":"ready"'));
    expect(ready).toHaveLength(1);
    expect(JSON.parse(ready[0]!).workers).toBe(2);
    expect(new Set(gw.workerPids).size).toBe(2);
    expect(gw.workerPids).not.toContain(gw.pid);
  });

  it('hands MQTT connections to both workers, and a client id taken over across them keeps its session', async () => {
    const prefix = uniqueId('wk');
    const ids = [uniqueId('c'), uniqueId('c'), uniqueId('c'), uniqueId('c')];
    const clients = [];
    for (const clientId of ids) clients.push(await connectClient(gw.mqttUrl, { protocolVersion: 5, clientId }));
    await eventually(() => new Set(workersLogging('MQTT client connected')).size === 2, { timeoutMs: 10_000, what: 'MQTT connections on both workers' });
    await Promise.all(clients.map((c) => c.end()));

    const clientId = uniqueId('dev');
    const opts = { protocolVersion: 5 as const, clientId, clean: false, properties: { sessionExpiryInterval: 300 } };
    const first = await connectClient(gw.mqttUrl, opts);
    await first.client.subscribeAsync(`${prefix}/cmd`, { qos: 1 });
    const closed = new Promise<void>((resolve) => first.client.once('close', () => resolve()));
    const handovers = workersLogging('session handed over by another gateway instance').length;
    // The next connection goes to the other worker: the session lives on there.
    const second = await connectClient(gw.mqttUrl, opts);
    await closed;
    expect(second.client.connected).toBe(true);
    await eventually(() => workersLogging('session handed over by another gateway instance').length > handovers, { timeoutMs: 10_000, what: 'a handover between workers' });
    const sender = await connectClient(gw.mqttUrl, { protocolVersion: 5, clientId: uniqueId('snd') });
    await sender.client.publishAsync(`${prefix}/cmd`, 'after-takeover', { qos: 1 });
    const got = await second.waitFor(1);
    expect(got.map((m) => m.payload)).toEqual(['after-takeover']);
    await Promise.all([second.end(), sender.end()]);
  }, 60_000);

  it('serves one REST v2 consumer instance whichever worker each request lands on', async () => {
    const topic = uniqueTopic('wk-v2');
    const group = uniqueId('g');
    const produced = await request('POST', `/topics/${topic}`, { records: [{ value: { n: 1 } }, { value: { n: 2 } }, { value: { n: 3 } }] }, 'application/vnd.kafka.json.v2+json');
    expect(produced.status).toBe(200);
    const created = await request('POST', `/consumers/${group}`, { name: 'c1', format: 'json', 'auto.offset.reset': 'earliest' });
    expect(created.status).toBe(200);
    const base = `/consumers/${group}/instances/c1`;
    expect((await request('POST', `${base}/subscription`, { topics: [topic] })).status).toBe(204);
    const seen: number[] = [];
    const values = await eventually(
      async () => {
        const r = await request('GET', `${base}/records?timeout=500`);
        expect(r, JSON.stringify(r.body)).toMatchObject({ status: 200 });
        const batch = (r.body as { value: { n: number } }[]).map((x) => x.value.n);
        // Each answer is in offset order; a request on the other worker may start again from the
        // group's committed offset (at-least-once: moving an instance between gateways redelivers).
        expect(batch).toEqual([...batch].sort());
        seen.push(...batch);
        return new Set(seen).size >= 3 && seen;
      },
      { timeoutMs: 30_000, what: 'the three records through the consumer instance' },
    );
    expect([...new Set(values)].sort()).toEqual([1, 2, 3]);
    expect((await request('DELETE', base)).status).toBe(204);
  }, 60_000);

  it('sums /metrics over the workers', async () => {
    const topic = uniqueTopic('wk-metrics');
    for (let i = 0; i < 6; i++) {
      const r = await request('POST', `/v1/topics/${topic}/records`, { records: [{ value: { i } }] }, 'application/json');
      expect(r.status).toBe(200);
    }
    const metrics = await gw.metrics();
    expect(metrics.get(`streamgate_records_in_total{protocol="rest",topic="${topic}"}`)).toBe(6);
  });

  it('replaces a worker killed with -9 and keeps serving', async () => {
    const victim = gw.workerPids[0]!;
    process.kill(victim, 'SIGKILL');
    await eventually(() => gw.workerPids.length >= 3, { timeoutMs: 30_000, what: 'a replacement worker' });
    expect(gw.workerPids[2]).not.toBe(victim);
    for (let i = 0; i < 4; i++) expect((await fetch(`${gw.httpUrl}/readyz`, { headers: { connection: 'close' } })).status).toBe(200);
  }, 60_000);

  it('stops every worker on SIGTERM and exits 0', async () => {
    const pids = gw.workerPids.slice(1);
    gw.kill('SIGTERM');
    const exit = await gw.exited;
    expect(exit.code).toBe(0);
    for (const pid of pids) expect(alive(pid)).toBe(false);
  }, 60_000);
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('workers on the embedded log', () => {
  it('refuses more than one, naming the key, exit code 2', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-workers-'));
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', 'app/main.ts', '--workers', '2'], {
        cwd: REPO_ROOT,
        env: { PATH: process.env.PATH ?? '', STREAMGATE_DATA_DIR: dir, STREAMGATE_HTTP_PORT: '0', STREAMGATE_MQTT_PORT: '0', STREAMGATE_GRPC_PORT: '0' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
      expect(code).toBe(2);
      expect(out).toMatch(/"workers".*Kafka backend/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
