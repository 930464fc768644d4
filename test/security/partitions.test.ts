/**
 * A start position naming a partition the topic does not have is PARTITION_NOT_FOUND on every
 * protocol (issue 16, finding 14) — it used to be silently ignored, so a client that mistyped or
 * forged a position waited forever on nothing. The check is the core's, once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';
import { grpcStub, GrpcSubscription, http, openWs } from './helpers.js';
import * as grpc from '@grpc/grpc-js';

describe('a start position naming a missing partition', () => {
  let gw: TestGateway;
  const topic = uniqueTopic('partitions');
  beforeAll(async () => {
    gw = await startTestGateway({ backend: 'embedded' });
    const res = await http(`${gw.httpUrl}/v1/topics/${topic}/records`, { method: 'POST', body: JSON.stringify({ records: [{ value: 1 }] }) });
    expect(res.status).toBe(200);
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('SSE from=999:0 answers 404 PARTITION_NOT_FOUND, and a forged Last-Event-ID too', async () => {
    const res = await http(`${gw.httpUrl}/v1/topics/${topic}/events?from=999:0`, { headers: { accept: 'text/event-stream' } });
    expect(res.status).toBe(404);
    expect(res.body).toContain('PARTITION_NOT_FOUND');
    const resumed = await http(`${gw.httpUrl}/v1/topics/${topic}/events`, { headers: { accept: 'text/event-stream', 'last-event-id': '0:1,7:0' } });
    expect(resumed.status).toBe(404);
  });

  it('WebSocket {"offsets":{"7":"0"}} is an error frame PARTITION_NOT_FOUND, and the connection stays usable', async () => {
    const { client } = await openWs(gw.wsUrl);
    try {
      client!.send({ op: 'subscribe', id: 's1', topic, from: { offsets: { '7': '0' } } });
      const error = await client!.waitFor((f) => f.op === 'error' && f.id === 's1');
      expect(error.code).toBe('PARTITION_NOT_FOUND');
      client!.send({ op: 'subscribe', id: 's2', topic, from: { offsets: { '0': '0' } } });
      await client!.waitFor((f) => f.op === 'records' && f.sub === 's2');
    } finally {
      client!.close();
    }
  });

  it('gRPC Subscribe from offsets {7: 0} ends NOT_FOUND', async () => {
    const stub = grpcStub(gw.ports.grpc);
    try {
      const sub = new GrpcSubscription(stub, { topic, position: { offsets: { offsets: { 7: 0 } } } });
      await eventually(() => sub.error !== undefined);
      expect(sub.error!.code).toBe(grpc.status.NOT_FOUND);
    } finally {
      stub.close();
    }
  });
});
