/** Authentication at the WebSocket handshake and per-topic grants as error frames. */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { connect, type WebSocketConstructor } from '../../clients/ts/browser/index.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueTopic } from '../support/names.js';
import { RawClient } from './raw-client.js';

const KEY = 'ws-test-api-key-0123456789';
let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway({
    config: {
      auth: {
        anonymous: false,
        apiKeys: [{ id: 'writer', sha256: createHash('sha256').update(KEY).digest('hex'), grants: { read: ['*'], write: ['allowed-*'] } }],
      },
    },
  });
});
afterAll(async () => {
  await gw?.close();
});

function handshakeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  const ws = new WebSocket(url, ['streamgate.v1.json'], { headers });
  return new Promise((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('open', () => {
      ws.close();
      resolve(101);
    });
    ws.once('error', reject);
  });
}

describe('WebSocket authentication', () => {
  it('refuses the handshake with 401 without valid credentials, accepts a Bearer header or access_token', async () => {
    expect(await handshakeStatus(`${gw.wsUrl}/v1/ws`)).toBe(401);
    expect(await handshakeStatus(`${gw.wsUrl}/v1/ws?access_token=wrong`)).toBe(401);
    expect(await handshakeStatus(`${gw.wsUrl}/v1/ws?access_token=${KEY}`)).toBe(101);
    expect(await handshakeStatus(`${gw.wsUrl}/v1/ws`, { authorization: `Bearer ${KEY}` })).toBe(101);
  });

  it('reports a publish outside the grants as PERMISSION_DENIED and keeps the connection', async () => {
    const c = await RawClient.open(gw.wsUrl, 'streamgate.v1.json', `access_token=${KEY}`);
    c.send({ op: 'publish', id: 'p1', topic: uniqueTopic('denied'), records: [{ value: 1 }] });
    expect(await c.waitFor((f) => f.id === 'p1')).toMatchObject({ op: 'error', code: 'PERMISSION_DENIED' });
    c.send({ op: 'publish', id: 'p2', topic: uniqueTopic('allowed'), records: [{ value: 1 }] });
    expect(await c.waitFor((f) => f.id === 'p2')).toMatchObject({ op: 'ack', offsets: [{ partition: 0, offset: '0' }] });
    c.close();
  });

  it('the browser client sends its token as access_token', async () => {
    const client = connect(`${gw.wsUrl}/v1/ws`, { token: KEY, WebSocketImpl: WebSocket as unknown as WebSocketConstructor });
    const [pos] = await client.publish(uniqueTopic('allowed'), [{ value: { ok: true } }]);
    expect(pos).toMatchObject({ partition: 0, offset: '0' });
    client.close();
  });
});
