/**
 * W3C trace context across protocols: a traceparent given with a produce (HTTP header, gRPC
 * metadata, MQTT 5 user property, WebSocket publish field) is stored in the record's headers and
 * handed out with the record on every protocol.
 */
import * as grpc from '@grpc/grpc-js';
import mqtt from 'mqtt';
import { WebSocket } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from './support/gateway.js';
import { uniqueTopic } from './support/names.js';
import { eventually } from './support/wait.js';
import { call, stubFor } from './grpc/helpers.js';

const tp = (n: number) => `00-${String(n).padStart(32, 'a')}-${String(n).padStart(16, 'b')}-01`;

describe('traceparent follows a record through every protocol', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ config: { mqtt: { routes: [{ filter: 'traced/#', topic: 'traced-mqtt' }] } } });
  });
  afterAll(async () => {
    await gw?.close();
  });

  /** The JSON record's headers (an ordered array) by name; these cases have one value per name. */
  const byName = (headers: { name: string; value: string }[]): Record<string, string> => Object.fromEntries(headers.map((h) => [h.name, h.value]));

  const fetchHeaders = async (topic: string) => {
    const res = await fetch(`${gw.httpUrl}/v1/topics/${topic}/partitions/0/records?offset=0&max=10`);
    return ((await res.json()) as { records: { headers: { name: string; value: string }[] }[] }).records.map((r) => byName(r.headers));
  };

  it('REST header → record header → WebSocket subscriber', async () => {
    const topic = uniqueTopic('trace-rest');
    const res = await fetch(`${gw.httpUrl}/v1/topics/${topic}/records`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', traceparent: tp(1) },
      body: JSON.stringify({ records: [{ value: 1 }, { value: 2, headers: { traceparent: tp(2) } }] }),
    });
    expect(res.status).toBe(200);
    const ws = new WebSocket(`${gw.wsUrl}/v1/ws`, 'streamgate.v1.json');
    const frames: any[] = [];
    ws.on('message', (m) => frames.push(JSON.parse(m.toString())));
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(JSON.stringify({ op: 'subscribe', id: 's', topic, from: 'earliest' }));
    const records = await eventually(() => frames.filter((f) => f.op === 'records').flatMap((f) => f.records).filter(Boolean).length === 2 && frames.filter((f) => f.op === 'records').flatMap((f) => f.records));
    // A record's own traceparent wins over the request's.
    expect(records.map((r: any) => byName(r.headers).traceparent)).toEqual([tp(1), tp(2)]);
    ws.close();
  });

  it('MQTT 5 user property → record header → REST', async () => {
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.ports.mqtt}`, { protocolVersion: 5, reconnectPeriod: 0 });
    await client.publishAsync('traced/a', 'x', { qos: 1, properties: { userProperties: { traceparent: tp(3) } } });
    await client.publishAsync('traced/b', 'y', { qos: 1, properties: { userProperties: { traceparent: 'garbage' } } });
    await client.endAsync();
    const headers = await fetchHeaders('traced-mqtt');
    expect(headers[0]!.traceparent).toBe(tp(3));
    expect(headers[0]!['mqtt.up.traceparent']).toBeUndefined();
    // The MQTT user property is the client's own: carried as sent, valid or not.
    expect(headers[1]!.traceparent).toBe('garbage');
  });

  it('gRPC metadata → record header → MQTT subscriber user property', async () => {
    const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.ports.mqtt}`, { protocolVersion: 5, reconnectPeriod: 0 });
    const props: any[] = [];
    sub.on('message', (_t, _p, packet) => props.push(packet.properties?.userProperties));
    await sub.subscribeAsync('traced/#', { qos: 1 });
    const stub = stubFor(gw.ports.grpc);
    const md = new grpc.Metadata();
    md.set('traceparent', tp(4));
    await call(stub, 'Produce', { topic: 'traced-mqtt', records: [{ key: Buffer.from('traced/from-grpc'), value: Buffer.from('z') }] }, md);
    const got = await eventually(() => props.find((p) => p?.traceparent === tp(4)));
    expect(got.traceparent).toBe(tp(4));
    stub.close();
    await sub.endAsync();
  });

  it('WebSocket publish field → record header → REST', async () => {
    const topic = uniqueTopic('trace-ws');
    const ws = new WebSocket(`${gw.wsUrl}/v1/ws`, 'streamgate.v1.json');
    const frames: any[] = [];
    ws.on('message', (m) => frames.push(JSON.parse(m.toString())));
    await new Promise((resolve) => ws.once('open', resolve));
    ws.send(JSON.stringify({ op: 'publish', id: 'p1', topic, traceparent: tp(5), records: [{ value: { n: 1 } }] }));
    await eventually(() => frames.find((f) => f.op === 'ack'));
    expect((await fetchHeaders(topic))[0]!.traceparent).toBe(tp(5));
    ws.close();
  });
});
