/**
 * Plain HTTP sockets on the shared listener count against `limits.maxConnectionsPerAddress` as
 * protocol `http` from accept to close; a socket over the limit is answered 429 (Retry-After,
 * Connection: close) without its request being read, then closed. An SSE stream or a WebSocket
 * on a socket moves that socket's count to `rest-sse` / `websocket` (one socket, one count), and
 * /metrics shows each gauge moving by exactly that. Real sockets against an in-process gateway.
 */
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueTopic } from '../support/names.js';
import { makeTestTls } from '../support/tls.js';
import { eventually } from '../support/wait.js';

const LIMIT = 3;
let gw: TestGateway;
const topic = uniqueTopic('http-limits');

beforeAll(async () => {
  gw = await startTestGateway({ backend: 'embedded', config: { limits: { maxConnectionsPerAddress: LIMIT } } });
  const produced = await request(`POST /v1/topics/${topic}/records`, JSON.stringify({ records: [{ value: 1 }] }));
  expect(produced.status).toBe(200);
});
afterAll(async () => {
  await gw?.close();
});

/** A raw TCP socket to the HTTP port with everything it received; `ended` resolves on the server's FIN or a close. */
class Raw {
  received = '';
  readonly ended: Promise<void>;
  private constructor(readonly socket: Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (this.received += chunk));
    this.ended = new Promise((resolve) => {
      socket.once('end', resolve);
      socket.once('close', resolve);
    });
  }

  static open(): Promise<Raw> {
    return new Promise((resolve, reject) => {
      const socket = connect(gw.ports.http, '127.0.0.1');
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        // A server reset after our test ended with the socket is not this file's failure.
        socket.on('error', () => socket.destroy());
        resolve(new Raw(socket));
      });
    });
  }

  /** Waits until `text` has arrived. */
  waitFor(text: string): Promise<string> {
    return eventually(() => this.received.includes(text) && this.received, { what: `"${text}" on the socket` });
  }

  async close(): Promise<void> {
    this.socket.destroy();
    await new Promise<void>((resolve) => (this.socket.destroyed && this.socket.closed ? resolve() : this.socket.once('close', () => resolve())));
  }
}

/** One request on its own `Connection: close` socket; the whole answer once the server closed it. */
async function request(line: string, body?: string): Promise<{ status: number; text: string }> {
  const raw = await Raw.open();
  const headers = body === undefined ? '' : `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n`;
  raw.socket.write(`${line} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n${headers}\r\n${body ?? ''}`);
  await raw.ended;
  raw.socket.destroy();
  return { status: Number(/^HTTP\/1\.1 (\d{3})/.exec(raw.received)?.[1] ?? 0), text: raw.received };
}

/** The open-connections gauge by protocol, read in-process (no socket of its own). */
async function open(protocol: string): Promise<number> {
  const metric = await gw.core.metrics.connections.get();
  return metric.values.find((v) => v.labels.protocol === protocol)?.value ?? 0;
}

/** Waits until the in-process gauges read exactly `expected` (protocols not named must be 0). */
function openAre(expected: Partial<Record<'http' | 'rest-sse' | 'websocket' | 'mqtt', number>>): Promise<unknown> {
  const all = { http: 0, 'rest-sse': 0, websocket: 0, mqtt: 0, ...expected };
  return eventually(
    async () => {
      for (const [protocol, n] of Object.entries(all)) if ((await open(protocol)) !== n) return false;
      return true;
    },
    { what: `open connections ${JSON.stringify(all)}` },
  );
}

/** `/metrics` over its own socket: the scrape socket itself counts one `http` while it is answered. */
async function scrape(): Promise<Record<string, number>> {
  const res = await request('GET /metrics');
  expect(res.status).toBe(200);
  const out: Record<string, number> = {};
  for (const m of res.text.matchAll(/^(streamgate_connections(?:_total)?)\{protocol="([^"]+)"\} (\S+)$/gm)) out[`${m[1]}{${m[2]}}`] = Number(m[3]);
  return out;
}

function expectRefused(raw: Raw): void {
  const [head, body] = raw.received.split('\r\n\r\n');
  expect(head).toMatch(/^HTTP\/1\.1 429 Too Many Requests\r\n/);
  expect(head).toMatch(/\r\nRetry-After: 1\r\n/);
  expect(head).toMatch(/\r\nConnection: close\r\n/);
  // The same status and error_code REST gives RESOURCE_EXHAUSTED (codecs/http-status.ts).
  expect(JSON.parse(body!)).toEqual({ error_code: 42901, message: 'Too many connections from this address; try again later.' });
  // Exactly one answer: nothing the client sent was parsed into a request.
  expect(raw.received.match(/HTTP\/1\.1 /g)).toHaveLength(1);
}

describe('plain HTTP sockets and limits.maxConnectionsPerAddress', () => {
  it('keeps three idle sockets open, answers the fourth 429 without reading its request and closes it; a closed one frees a slot', async () => {
    await openAre({});
    const idle: Raw[] = [];
    for (let i = 1; i <= LIMIT; i++) {
      idle.push(await Raw.open());
      await openAre({ http: i });
    }

    // The fourth sends a produce at once; it must be answered 429 and never reach the REST routes.
    const refusedTopic = uniqueTopic('http-limits-refused');
    const fourth = await Raw.open();
    const body = JSON.stringify({ records: [{ value: 1 }] });
    fourth.socket.write(`POST /v1/topics/${refusedTopic}/records HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
    await fourth.ended;
    expectRefused(fourth);
    await fourth.close();

    // The three idle ones were neither answered nor closed.
    for (const raw of idle) {
      expect(raw.socket.destroyed).toBe(false);
      expect(raw.received).toBe('');
    }
    await openAre({ http: LIMIT });

    // Closing one admits a new socket, which is served.
    await idle.shift()!.close();
    await openAre({ http: LIMIT - 1 });
    const offsets = await request(`GET /v1/topics/${refusedTopic}/offsets`);
    expect(offsets.status).toBe(404);
    const fresh = await Raw.open();
    fresh.socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await fresh.waitFor('\r\n\r\n');
    expect(fresh.received).toMatch(/^HTTP\/1\.1 200 /);
    expect(fresh.socket.destroyed).toBe(false);
    await openAre({ http: LIMIT });

    await Promise.all([...idle, fresh].map((r) => r.close()));
    await openAre({});
  });

  it('counts an SSE stream, a WebSocket and a plain socket as three (not five); /metrics moves by exactly those', async () => {
    await openAre({});
    const base = await scrape();
    const delta = (now: Record<string, number>, key: string) => (now[key] ?? 0) - (base[key] ?? 0);

    // SSE: its socket's count moves from http to rest-sse.
    const sse = await Raw.open();
    sse.socket.write(`GET /v1/topics/${topic}/events?from=earliest HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n`);
    // A record event's data (the subscribed event carries no offset).
    await sse.waitFor('"offset":"');
    expect(sse.received).toMatch(/^HTTP\/1\.1 200 /);
    await openAre({ 'rest-sse': 1 });
    let now = await scrape();
    // The scrape's own socket is the one http in both scrapes.
    expect(delta(now, 'streamgate_connections{http}')).toBe(0);
    expect(delta(now, 'streamgate_connections{rest-sse}')).toBe(1);
    expect(delta(now, 'streamgate_connections_total{rest-sse}')).toBe(1);

    // WebSocket on the shared HTTP port (not the uWS one): its socket's count moves from http to websocket.
    const ws = new WebSocket(`ws://127.0.0.1:${gw.ports.http}/v1/ws`, ['streamgate.v1.json']);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    await openAre({ 'rest-sse': 1, websocket: 1 });
    now = await scrape();
    expect(delta(now, 'streamgate_connections{http}')).toBe(0);
    expect(delta(now, 'streamgate_connections{rest-sse}')).toBe(1);
    expect(delta(now, 'streamgate_connections{websocket}')).toBe(1);
    expect(delta(now, 'streamgate_connections_total{websocket}')).toBe(1);

    // A kept-alive plain socket: the third connection from this address.
    const plain = await Raw.open();
    plain.socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await plain.waitFor('\r\n\r\n');
    expect(plain.received).toMatch(/^HTTP\/1\.1 200 /);
    await openAre({ http: 1, 'rest-sse': 1, websocket: 1 });

    // Three in all: a fourth socket (here, a scrape) is refused.
    const fourth = await Raw.open();
    fourth.socket.write('GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await fourth.ended;
    expectRefused(fourth);
    await fourth.close();

    // The SSE stream ends with its socket: rest-sse back to 0, nothing left over as http.
    await sse.close();
    await openAre({ http: 1, websocket: 1 });
    now = await scrape();
    expect(delta(now, 'streamgate_connections{http}')).toBe(1);
    expect(delta(now, 'streamgate_connections{rest-sse}')).toBe(0);
    expect(delta(now, 'streamgate_connections{websocket}')).toBe(1);

    ws.close();
    await plain.close();
    await openAre({});
    now = await scrape();
    expect(delta(now, 'streamgate_connections{websocket}')).toBe(0);
    expect(delta(now, 'streamgate_connections{http}')).toBe(0);
  });

  it('gives a kept-alive socket its http count back when the SSE request on it ends (a 404 for a missing topic)', async () => {
    await openAre({});
    const raw = await Raw.open();
    raw.socket.write(`GET /v1/topics/${uniqueTopic('http-limits-missing')}/events HTTP/1.1\r\nHost: localhost\r\nAccept: text/event-stream\r\n\r\n`);
    await raw.waitFor('}');
    expect(raw.received).toMatch(/^HTTP\/1\.1 404 /);
    await openAre({ http: 1 });
    // Still one connection, and still serving requests.
    raw.received = '';
    raw.socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
    await raw.waitFor('\r\n\r\n');
    expect(raw.received).toMatch(/^HTTP\/1\.1 200 /);
    await openAre({ http: 1 });
    await raw.close();
    await openAre({});
  });

  it('releases the http count of an MQTT-over-WebSocket socket at the upgrade; MQTT counts it at CONNECT', async () => {
    await openAre({});
    const client = await mqtt.connectAsync(`ws://127.0.0.1:${gw.ports.http}/mqtt`, { reconnectPeriod: 0 });
    await openAre({ mqtt: 1 });
    await client.endAsync();
    await openAre({});
  });

  it('answers a refused WebSocket upgrade 429 at accept and admits it once a slot is free', async () => {
    const idle = [await Raw.open(), await Raw.open(), await Raw.open()];
    await openAre({ http: LIMIT });
    const status = (): Promise<number> =>
      new Promise((resolve, reject) => {
        const ws = new WebSocket(`ws://127.0.0.1:${gw.ports.http}/v1/ws`, ['streamgate.v1.json']);
        ws.once('unexpected-response', (_req, res) => {
          resolve(res.statusCode ?? 0);
          ws.terminate();
        });
        ws.once('open', () => {
          ws.close();
          resolve(101);
        });
        ws.once('error', reject);
      });
    expect(await status()).toBe(429);
    await idle.pop()!.close();
    await openAre({ http: LIMIT - 1 });
    expect(await status()).toBe(101);
    await Promise.all(idle.map((r) => r.close()));
    await openAre({});
  });
});

describe('an HTTPS listener', () => {
  it('counts sockets once their TLS handshake is done and answers one over the limit 429 over TLS, then closes it', async () => {
    const pki = makeTestTls();
    const tlsGw = await startTestGateway({ backend: 'embedded', config: { tls: { certFile: pki.server.certFile, keyFile: pki.server.keyFile }, limits: { maxConnectionsPerAddress: 1 } } });
    const httpOpen = async () => (await tlsGw.core.metrics.connections.get()).values.find((v) => v.labels.protocol === 'http')?.value ?? 0;
    const open = (): Promise<{ socket: TLSSocket; received: () => string; ended: Promise<void> }> =>
      new Promise((resolve, reject) => {
        const socket = tlsConnect({ port: tlsGw.ports.http, host: '127.0.0.1', ca: pki.ca, servername: 'localhost' });
        let received = '';
        socket.setEncoding('utf8');
        socket.on('data', (chunk: string) => (received += chunk));
        const ended = new Promise<void>((done) => socket.once('close', () => done()));
        socket.once('error', reject);
        socket.once('secureConnect', () => resolve({ socket, received: () => received, ended }));
      });
    try {
      const first = await open();
      await eventually(async () => (await httpOpen()) === 1, { what: 'the first TLS socket counted' });
      const second = await open();
      second.socket.end('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
      await second.ended;
      expect(second.received()).toMatch(/^HTTP\/1\.1 429 Too Many Requests\r\n/);
      expect(second.received()).toMatch(/\r\nRetry-After: 1\r\n/);
      expect(second.received().match(/HTTP\/1\.1 /g)).toHaveLength(1);
      // The admitted one is served.
      first.socket.write('GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n');
      await eventually(() => first.received().includes('\r\n\r\n'), { what: 'the first socket answered' });
      expect(first.received()).toMatch(/^HTTP\/1\.1 200 /);
      first.socket.destroy();
      await first.ended;
      await eventually(async () => (await httpOpen()) === 0, { what: 'the TLS socket released' });
    } finally {
      await tlsGw.close();
      pki.remove();
    }
  });
});

describe('a full instance (limits.maxConnections) is busy, not a client over its quota', () => {
  let full: TestGateway;
  beforeAll(async () => {
    full = await startTestGateway({ backend: 'embedded', config: { limits: { maxConnections: 2 } } });
  });
  afterAll(async () => {
    await full?.close();
  });

  it('answers a socket over the total 503 with Retry-After and an MQTT 5 CONNECT with 0x89 Server busy', async () => {
    const held = await Promise.all([0, 1].map(() => rawTo(full.ports.http)));
    const over = await rawTo(full.ports.http);
    await over.ended;
    const [head, body] = over.received.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.1 503 Service Unavailable\r\n/);
    expect(head).toMatch(/\r\nRetry-After: 1\r\n/);
    expect(JSON.parse(body!)).toMatchObject({ error_code: 50303, message: expect.stringContaining('another instance') });
    const client = mqtt.connect(`mqtt://127.0.0.1:${full.ports.mqtt}`, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5000 });
    const refusal = await new Promise<number | undefined>((resolve) => {
      client.once('error', (err: Error & { code?: number }) => resolve(err.code));
      client.once('connect', () => resolve(0));
    });
    client.end(true);
    expect(refusal).toBe(0x89);
    for (const raw of held) raw.socket.destroy();
  });
});

/** A raw socket to another gateway's HTTP port, recording what it receives. */
function rawTo(port: number): Promise<{ socket: Socket; received: string; ended: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const raw = { socket, received: '', ended: new Promise<void>((done) => socket.once('close', () => done())) };
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (raw.received += chunk));
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      socket.on('error', () => socket.destroy());
      resolve(raw);
    });
  });
}
