/**
 * Interoperability with Debian's mosquitto_pub / mosquitto_sub (package mosquitto-clients),
 * MQTT 3.1.1 and 5, against the gateway on the real Kafka broker.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { headerValue } from '../../gateway/record.js';
import { createContext } from '../../gateway/context.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';

let gw: TestGateway;
let defaultTopic: string;

function run(cmd: string, args: string[]): { done: Promise<{ code: number | null; stdout: string; stderr: string }>; stdout: () => string; kill: () => void } {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
  return { done, stdout: () => stdout, kill: () => child.kill() };
}

beforeAll(async () => {
  defaultTopic = uniqueTopic('mqtt-mosq');
  gw = await startTestGateway({ config: { mqtt: { defaultTopic }, topics: { waitPollMs: 200 } } });
});
afterAll(async () => {
  await gw?.close();
});

describe.each(['mqttv311', 'mqttv5'])('mosquitto clients (%s)', (version) => {
  it('mosquitto_sub receives what mosquitto_pub sends at QoS 1 and 2; the record is in Kafka keyed by topic', async () => {
    const port = String(gw.ports.mqtt);
    const topic = `mosq/${uniqueId(version)}`;
    const sub = run('mosquitto_sub', ['-h', '127.0.0.1', '-p', port, '-V', version, '-t', `${topic}/#`, '-q', '2', '-v', '-W', '20', '-i', uniqueId('msub')]);
    // mosquitto_sub has no "subscribed" signal: publish probes until one arrives.
    await eventually(
      async () => {
        const pub = run('mosquitto_pub', ['-h', '127.0.0.1', '-p', port, '-V', version, '-t', `${topic}/probe`, '-m', 'probe', '-q', '1']);
        const r = await pub.done;
        expect(r.code).toBe(0);
        return sub.stdout().includes('probe');
      },
      { timeoutMs: 15_000, intervalMs: 100 },
    );
    const pub = run('mosquitto_pub', ['-h', '127.0.0.1', '-p', port, '-V', version, '-t', `${topic}/q2`, '-m', 'hello-q2', '-q', '2']);
    expect((await pub.done).code).toBe(0);
    await eventually(() => sub.stdout().includes(`${topic}/q2 hello-q2`), { timeoutMs: 10_000 });
    sub.kill();
    await sub.done;
    const ctx = createContext({ protocol: 'test', log: gw.core.log });
    const recs = (await gw.core.fetch(ctx, defaultTopic, 0, 0n, { maxRecords: 1000 })).records;
    const rec = recs.find((r) => r.key?.toString() === `${topic}/q2`);
    expect(rec?.value?.toString()).toBe('hello-q2');
    expect(headerValue(rec?.headers ?? [], 'mqtt.qos')?.toString()).toBe('2');
  });

  it('mosquitto_sub gets a retained message', async () => {
    const port = String(gw.ports.mqtt);
    const topic = `mosq-ret/${uniqueId(version)}`;
    const pub = run('mosquitto_pub', ['-h', '127.0.0.1', '-p', port, '-V', version, '-t', topic, '-m', 'kept', '-q', '1', '-r']);
    expect((await pub.done).code).toBe(0);
    const sub = run('mosquitto_sub', ['-h', '127.0.0.1', '-p', port, '-V', version, '-t', topic, '-C', '1', '-W', '10', '--retained-only']);
    const r = await sub.done;
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe('kept');
  });
});
