/**
 * `/metrics` after real traffic: REST, WebSocket and MQTT produce and subscribe against a gateway
 * on the test Kafka broker, then the Prometheus text is scraped and the counters must have moved
 * by exactly the traffic sent (names from gateway/metrics.ts).
 */
import { createHash } from 'node:crypto';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './support/gateway.js';
import { uniqueTopic } from './support/names.js';
import { eventually } from './support/wait.js';
import { RawClient } from './websocket/raw-client.js';

/** One sample of the exposition: `name{a="b",…} value`. */
interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

function parse(text: string): Sample[] {
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (m === null) throw new Error(`unparseable exposition line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

/** Value of the sample with this name whose labels include `labels`; 0 when absent (a counter not yet touched). */
function value(samples: Sample[], name: string, labels: Record<string, string> = {}): number {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${name} ${JSON.stringify(labels)} matches ${found.length} samples`);
  return found[0]?.value ?? 0;
}

let gw: TestGateway;
const topic = uniqueTopic('metrics');
const mqttTopic = uniqueTopic('metrics-mqtt');

async function scrape(): Promise<Sample[]> {
  const res = await fetch(`${gw.httpUrl}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  return parse(await res.text());
}

beforeAll(async () => {
  gw = await startTestGateway({ config: { mqtt: { routes: [{ filter: 'bench-metrics/#', topic: mqttTopic }] } } });
});
afterAll(async () => {
  await gw?.close();
});

describe('/metrics after REST, WebSocket and MQTT traffic', () => {
  it('counts connections, records in/out by protocol and topic, and produce latency observations', async () => {
    const before = await scrape();
    const mqttUrl = `mqtt://127.0.0.1:${gw.ports.mqtt}`;

    // REST: one request carrying 3 records (creates the topic).
    const res = await fetch(`${gw.httpUrl}/v1/topics/${topic}/records`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ records: [{ value: 1 }, { value: 2 }, { value: 3 }] }),
    });
    expect(res.status).toBe(200);

    // WebSocket: a subscriber from earliest, and a publish of 2 records in one frame.
    const ws = await RawClient.open(gw.wsUrl);
    ws.send({ op: 'subscribe', id: 's1', topic, from: 'earliest' });
    await ws.waitFor((f) => f.op === 'subscribed' && f.id === 's1');
    ws.send({ op: 'publish', id: 'p1', topic, records: [{ value: 4 }, { value: 5 }] });
    await ws.waitFor((f) => f.op === 'ack' && f.id === 'p1');
    await ws.waitForRecords('s1', 5);

    // MQTT: a subscriber and 4 QoS 1 publishes (each acknowledged after the backend acked).
    const sub = await mqtt.connectAsync(mqttUrl, { reconnectPeriod: 0, clientId: 'metrics-sub' });
    const got: string[] = [];
    sub.on('message', (_t, payload) => got.push(payload.toString()));
    await sub.subscribeAsync('bench-metrics/#', { qos: 1 });
    const pub = await mqtt.connectAsync(mqttUrl, { reconnectPeriod: 0, clientId: 'metrics-pub' });
    for (let i = 0; i < 4; i++) await pub.publishAsync(`bench-metrics/${i}`, `m${i}`, { qos: 1 });
    await eventually(() => got.length >= 4, { what: '4 MQTT messages' });

    const during = await scrape();
    const delta = (name: string, labels: Record<string, string> = {}) => value(during, name, labels) - value(before, name, labels);
    expect(delta('streamgate_records_in_total', { protocol: 'rest', topic })).toBe(3);
    expect(delta('streamgate_records_in_total', { protocol: 'websocket', topic })).toBe(2);
    expect(delta('streamgate_records_in_total', { protocol: 'mqtt', topic: mqttTopic })).toBe(4);
    expect(delta('streamgate_records_out_total', { protocol: 'websocket', topic })).toBe(5);
    expect(delta('streamgate_records_out_total', { protocol: 'mqtt', topic: mqttTopic })).toBe(4);
    // One latency observation per produce call: 1 REST request, 1 WebSocket frame, 4 MQTT publishes.
    expect(delta('streamgate_produce_latency_seconds_count', { protocol: 'rest' })).toBe(1);
    expect(delta('streamgate_produce_latency_seconds_count', { protocol: 'websocket' })).toBe(1);
    expect(delta('streamgate_produce_latency_seconds_count', { protocol: 'mqtt' })).toBe(4);
    expect(delta('streamgate_produce_latency_seconds_bucket', { protocol: 'rest', le: '+Inf' })).toBe(1);
    expect(value(during, 'streamgate_produce_latency_seconds_sum', { protocol: 'rest' })).toBeGreaterThan(0);
    expect(delta('streamgate_connections_total', { protocol: 'websocket' })).toBe(1);
    expect(delta('streamgate_connections_total', { protocol: 'mqtt' })).toBe(2);
    expect(value(during, 'streamgate_connections', { protocol: 'websocket' })).toBe(1);
    expect(value(during, 'streamgate_connections', { protocol: 'mqtt' })).toBe(2);
    expect(value(during, 'streamgate_subscriptions')).toBeGreaterThanOrEqual(2);
    expect(delta('streamgate_slow_consumer_disconnects_total')).toBe(0);
    // prom-client prepends the prefix to its own `process_…` names, hence the doubled word.
    expect(value(during, 'streamgate_process_resident_memory_bytes')).toBeGreaterThan(0);

    // Closing the connections brings the gauges back down.
    ws.close();
    await sub.endAsync();
    await pub.endAsync();
    const after = await eventually(async () => {
      const s = await scrape();
      return value(s, 'streamgate_connections', { protocol: 'websocket' }) === 0 && value(s, 'streamgate_connections', { protocol: 'mqtt' }) === 0 && s;
    }, { what: 'connection gauges back to 0' });
    expect(value(after, 'streamgate_connections_total', { protocol: 'mqtt' }) - value(before, 'streamgate_connections_total', { protocol: 'mqtt' })).toBe(2);
  });

  it('counts authentication failures', async () => {
    const key = 'metrics-test-key-0123456789abcdef';
    // With authentication configured the scrape needs the metrics grant (issue 16).
    const secured = await startTestGateway({ backend: 'embedded', config: { auth: { apiKeys: [{ id: 'svc', sha256: createHash('sha256').update(key).digest('hex'), grants: { metrics: true } }] } } });
    try {
      const scrapeSecured = async () => (await fetch(`${secured.httpUrl}/metrics`, { headers: { authorization: `Bearer ${key}` } })).text();
      const read = async () => value(parse(await scrapeSecured()), 'streamgate_auth_failures_total', { kind: 'authentication' });
      const before = await read();
      const mqttUrl = `mqtt://127.0.0.1:${secured.ports.mqtt}`;
      await expect(mqtt.connectAsync(mqttUrl, { reconnectPeriod: 0, username: 'x', password: 'wrong-key' })).rejects.toThrow();
      await expect(mqtt.connectAsync(mqttUrl, { reconnectPeriod: 0, username: 'x', password: 'also-wrong' })).rejects.toThrow();
      expect((await read()) - before).toBe(2);
    } finally {
      await secured.close();
    }
  });
});
