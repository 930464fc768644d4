/** The core's connection and subscription limits as the WebSocket client sees them. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';
import { RawClient } from './raw-client.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({ backend: 'embedded', config: { limits: { maxConnectionsPerAddress: 2, maxSubscriptionsPerConnection: 1 } } });
});
afterAll(async () => {
  await gw?.close();
});

function handshakeStatus(): Promise<number> {
  const ws = new WebSocket(`${gw.wsUrl}/v1/ws`, ['streamgate.v1.json']);
  return new Promise((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('open', () => {
      ws.close();
      resolve(101);
    });
    ws.once('error', reject);
  });
}

describe('limits', () => {
  it('refuses a connection over the per-address limit with 429 and admits again once one closes', async () => {
    const a = await RawClient.open(gw.wsUrl);
    const b = await RawClient.open(gw.wsUrl);
    expect(await handshakeStatus()).toBe(429);
    a.close();
    await a.closed;
    await eventually(async () => (await handshakeStatus()) === 101, { what: 'a free connection slot' });
    b.close();
    await b.closed;
  });

  it('answers a subscription over the per-connection limit with RESOURCE_EXHAUSTED', async () => {
    const topic = uniqueTopic('wsl');
    const c = await RawClient.open(gw.wsUrl);
    c.send({ op: 'publish', id: 'p', topic, records: [{ value: 1 }] });
    await c.waitFor((f) => f.id === 'p');
    c.send({ op: 'subscribe', id: 's1', topic });
    await c.waitFor((f) => f.op === 'subscribed');
    c.send({ op: 'subscribe', id: 's2', topic });
    expect(await c.waitFor((f) => f.id === 's2')).toMatchObject({ op: 'error', code: 'RESOURCE_EXHAUSTED', retriable: true });
    c.close();
  });
});
