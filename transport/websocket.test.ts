import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { Duplex } from 'node:stream';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { ConfigError } from '../gateway/config.js';
import { loadServerConfig } from '../app/compose.js';
import {
  WebSocketDuplex,
  WebSocketTransport,
  type ConnectionEvents,
  type EngineConnection,
  type WebSocketEndpoint,
} from './websocket.js';
import { selectSubprotocol } from './websocket-shared.js';
import { loadUws } from './websocket-uws.js';
import { FakeConnection } from '../test/support/fake-connection.js';

const log = pino({ level: 'silent' });

/** The MQTT-over-WebSocket view of a connection: sends add to the buffered amount. */
const fakeConnection = (canPause = true): FakeConnection => new FakeConnection('mqtt', { canPause, countsSent: true });

describe('selectSubprotocol', () => {
  const endpoint = { subprotocols: ['a.json', 'a.proto'], defaultSubprotocol: 'a.json' };
  it("takes the client's first supported offer, the default without an offer, none for unknown offers", () => {
    expect(selectSubprotocol('x, a.proto, a.json', endpoint)).toBe('a.proto');
    expect(selectSubprotocol(['x', 'a.json'], endpoint)).toBe('a.json');
    expect(selectSubprotocol(undefined, endpoint)).toBe('a.json');
    expect(selectSubprotocol(' , ', endpoint)).toBe('a.json');
    expect(selectSubprotocol('mqtt', endpoint)).toBeUndefined();
    expect(selectSubprotocol(undefined, { subprotocols: ['mqtt'] })).toBeUndefined();
  });
});

describe('WebSocketDuplex', () => {
  it('reads binary frames as bytes, closes 1003 on a text frame [MQTT-5:6.0.0-1]', async () => {
    const conn = fakeConnection();
    const duplex = new WebSocketDuplex(conn, { maxUnreadBytes: 1024 });
    const chunks: Buffer[] = [];
    duplex.on('data', (c: Buffer) => chunks.push(c));
    duplex.events.message(Buffer.from([1, 2]), true);
    duplex.events.message(Buffer.from([3]), true);
    await new Promise((r) => setImmediate(r));
    expect(Buffer.concat(chunks)).toEqual(Buffer.from([1, 2, 3]));
    duplex.events.message(Buffer.from('hello'), false);
    expect(conn.closedWith).toEqual([1003, 'binary frames only']);
    expect(Buffer.concat(chunks)).toEqual(Buffer.from([1, 2, 3]));
  });

  it('pauses the engine when the reader stops; an engine that cannot pause is closed 1008 past maxUnreadBytes', () => {
    const pausable = fakeConnection(true);
    const a = new WebSocketDuplex(pausable, { highWaterMark: 4, maxUnreadBytes: 8 });
    a.events.message(Buffer.alloc(5), true); // nobody reads: over the high-water mark
    expect(pausable.paused).toBe(true);
    a.read();
    expect(pausable.paused).toBe(false);

    const stuck = fakeConnection(false);
    const b = new WebSocketDuplex(stuck, { highWaterMark: 4, maxUnreadBytes: 8 });
    b.events.message(Buffer.alloc(5), true);
    expect(stuck.closedWith).toBeUndefined();
    b.events.message(Buffer.alloc(5), true);
    expect(stuck.closedWith?.[0]).toBe(1008);
  });

  it("completes writes once the socket drains, so write() and 'drain' mean what they mean on TCP", async () => {
    const conn = fakeConnection();
    const duplex = new WebSocketDuplex(conn, { highWaterMark: 10, maxUnreadBytes: 1024 });
    expect(duplex.write(Buffer.alloc(20))).toBe(false);
    expect(conn.sent).toHaveLength(1);
    let drained = false;
    duplex.once('drain', () => (drained = true));
    await new Promise((r) => setImmediate(r));
    expect(drained).toBe(false);
    conn.setBuffered(0);
    await new Promise((r) => setImmediate(r));
    expect(drained).toBe(true);
  });

  it('sends packets written in one corked batch as one binary frame [MQTT-5:6.0.0-2]', async () => {
    const conn = fakeConnection();
    const duplex = new WebSocketDuplex(conn, { maxUnreadBytes: 1024 });
    duplex.cork();
    duplex.write(Buffer.from([1]));
    duplex.write(Buffer.from([2, 3]));
    process.nextTick(() => duplex.uncork());
    await new Promise((r) => setImmediate(r));
    expect(conn.sent).toEqual([Buffer.from([1, 2, 3])]);
  });

  it('end() is a 1000 close, destroy() cuts the socket, a peer close ends the stream, 1006 errors it', async () => {
    const a = fakeConnection();
    const ending = new WebSocketDuplex(a, { maxUnreadBytes: 1024 });
    ending.resume();
    ending.end();
    await new Promise((r) => ending.once('finish', r));
    expect(a.closedWith).toEqual([1000, '']);

    const b = fakeConnection();
    new WebSocketDuplex(b, { maxUnreadBytes: 1024 }).destroy();
    expect(b.terminated).toBe(true);

    const c = fakeConnection();
    const peerClosed = new WebSocketDuplex(c, { maxUnreadBytes: 1024 });
    const ended = new Promise((r) => peerClosed.once('end', r));
    peerClosed.resume();
    peerClosed.events.close(1000, '', undefined);
    await ended;
    expect(c.terminated).toBe(false);

    const d = fakeConnection();
    const died = new WebSocketDuplex(d, { maxUnreadBytes: 1024 });
    const error = new Promise<Error>((r) => died.once('error', r));
    died.events.close(1006, '', new Error('ECONNRESET'));
    expect((await error).message).toBe('ECONNRESET');
  });
});

describe('loadServerConfig', () => {
  it('refuses websocket.engine uws with TLS, naming the key; auto with TLS is valid (falls back to ws)', () => {
    const file = (engine: string) => ({ websocket: { engine }, tls: { certFile: '/x/cert.pem', keyFile: '/x/key.pem' } });
    expect(() => loadServerConfig({ argv: [], env: {}, file: file('uws') })).toThrow(ConfigError);
    expect(() => loadServerConfig({ argv: [], env: {}, file: file('uws') })).toThrow(/"websocket\.engine".*TLS/);
    expect(loadServerConfig({ argv: [], env: {}, file: file('auto') }).websocket.engine).toBe('auto');
  });
});

/** A bare HTTP server that hands upgrades to the transport, like app/http-host.ts does. */
async function serve(engine: 'ws' | 'uws', endpoints: Record<string, WebSocketEndpoint>) {
  const upgrades = new Map<string, (req: IncomingMessage, socket: Duplex, head: Buffer) => void>();
  const server: Server = createServer((_req, res) => res.writeHead(404).end());
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const handler = upgrades.get((req.url ?? '').split('?')[0]!);
    if (handler === undefined) socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    else handler(req, socket, head);
  });
  const transport = new WebSocketTransport({ engine, uwsPort: 0, host: '127.0.0.1', tls: false, log, onUpgrade: (p, h) => upgrades.set(p, h) });
  for (const [path, endpoint] of Object.entries(endpoints)) transport.add(path, endpoint);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const uwsPort = await transport.start();
  const httpPort = (server.address() as { port: number }).port;
  return {
    port: uwsPort ?? httpPort,
    uwsPort,
    async close() {
      transport.stopAccepting();
      await transport.close();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}

/** An endpoint that echoes frames back prefixed with its subprotocol; `?deny` is refused 401. */
function echo(subprotocols: string[], defaultSubprotocol?: string): WebSocketEndpoint {
  return {
    subprotocols,
    ...(defaultSubprotocol === undefined ? {} : { defaultSubprotocol }),
    maxPayloadBytes: 1024,
    perMessageDeflate: false,
    handshake(req, respond) {
      if (req.url.includes('deny')) return respond.refuse(401, { error_code: 40101, message: 'no' });
      respond.accept(
        (connection): ConnectionEvents => ({
          message: (data, binary) => connection.send(binary ? data : `${connection.subprotocol}:${data.toString()}`),
          pong: () => undefined,
          close: () => undefined,
        }),
        () => undefined,
      );
    },
  };
}

function open(url: string, protocols: string[]): Promise<{ status: number; body: string; ws?: WebSocket }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, protocols);
    ws.once('open', () => resolve({ status: 101, body: '', ws }));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      ws.once('error', () => undefined);
    });
    ws.once('error', reject);
  });
}

const hasUws = loadUws() !== undefined;
const engines = [
  { engine: 'ws' as const, skip: false },
  // Skipped with a reason, never silently: the engine is an optional dependency.
  { engine: 'uws' as const, skip: !hasUws },
];

describe.each(engines)('WebSocketTransport on the $engine engine', ({ engine, skip }) => {
  let running: Awaited<ReturnType<typeof serve>> | undefined;
  afterEach(async () => {
    await running?.close();
    running = undefined;
  });

  it.skipIf(skip)('serves several endpoints on one port, each with its own subprotocols, refusals as HTTP statuses', async () => {
    running = await serve(engine, { '/app': echo(['a.json', 'a.proto'], 'a.json'), '/mqtt': echo(['mqtt']) });
    if (engine === 'uws') expect(running.uwsPort).toBeGreaterThan(0);
    const base = `ws://127.0.0.1:${running.port}`;

    const app = await open(`${base}/app`, ['x', 'a.proto']);
    expect(app.ws!.protocol).toBe('a.proto');
    const mqtt = await open(`${base}/mqtt`, ['mqtt']);
    expect(mqtt.ws!.protocol).toBe('mqtt');
    const noOffer = await open(`${base}/app`, []);
    // No offer: the default applies and no subprotocol is echoed (RFC 6455 §4.2.2).
    expect(noOffer.ws!.protocol).toBe('');
    const replies = await Promise.all(
      [app.ws!, mqtt.ws!, noOffer.ws!].map(
        (ws) =>
          new Promise<string>((resolve) => {
            ws.once('message', (d: Buffer) => resolve(d.toString()));
            ws.send('hi');
          }),
      ),
    );
    expect(replies).toEqual(['a.proto:hi', 'mqtt:hi', 'a.json:hi']);
    for (const c of [app, mqtt, noOffer]) c.ws!.terminate();

    // Refusals carry the JSON error body REST uses (codecs/http-status.ts), on both engines.
    expect(await open(`${base}/mqtt`, ['a.json'])).toEqual({ status: 400, body: JSON.stringify({ error_code: 400, message: 'Unsupported subprotocol: use mqtt.' }) });
    expect(await open(`${base}/mqtt`, [])).toMatchObject({ status: 400 });
    expect(await open(`${base}/app?deny`, ['a.json'])).toEqual({ status: 401, body: JSON.stringify({ error_code: 40101, message: 'no' }) });
    expect((await open(`${base}/nowhere`, ['mqtt'])).status).toBe(404);
  });

  it.skipIf(skip)('close() cuts connections the protocols left open', async () => {
    running = await serve(engine, { '/app': echo(['a.json'], 'a.json') });
    const { ws } = await open(`ws://127.0.0.1:${running.port}/app`, ['a.json']);
    const closed = new Promise<number>((r) => ws!.once('close', (code) => r(code)));
    await running.close();
    running = undefined;
    expect(await closed).toBe(1006);
  });
});
