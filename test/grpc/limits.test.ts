/**
 * gRPC connections count against `limits.maxConnectionsPerAddress` / `limits.maxConnections` as
 * protocol `grpc`, one count per TCP connection from accept to close (whatever its calls), and a
 * socket that has not sent the HTTP/2 client preface within `grpc.handshakeTimeoutMs` is closed.
 * Raw sockets (node:net) and real grpc-js clients against an in-process gateway; the open
 * connections gauge is read in-process and from /metrics.
 */
import { get } from 'node:http';
import { connect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createStub, type StreamGatewayClient } from '../../clients/ts/node/index.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueTopic } from '../support/names.js';
import { makeTestTls, type TestTls } from '../support/tls.js';
import { eventually } from '../support/wait.js';
import { call, rejection, SessionRecorder, SubscribeRecorder } from './helpers.js';

const LIMIT = 3;
const HANDSHAKE_MS = 400;
/** The HTTP/2 client preface: magic plus an empty SETTINGS frame (RFC 9113 §3.4). */
const PREFACE = Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'), Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0])]);
const ENHANCE_YOUR_CALM = 0xb;
const NO_ERROR = 0x0;

/** A raw TCP socket with everything it received; `closed` resolves on the server's FIN or a close. */
class Raw {
  received = Buffer.alloc(0);
  isClosed = false;
  readonly closed: Promise<void>;
  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => (this.received = Buffer.concat([this.received, chunk])));
    socket.on('error', () => socket.destroy());
    this.closed = new Promise((resolve) => {
      const done = () => {
        this.isClosed = true;
        resolve();
      };
      socket.once('end', done);
      socket.once('close', done);
    });
  }

  static open(port: number, options: { send?: Buffer; localAddress?: string } = {}): Promise<Raw> {
    return new Promise((resolve, reject) => {
      const socket = connect({ port, host: '127.0.0.1', ...(options.localAddress ? { localAddress: options.localAddress } : {}) });
      socket.once('error', reject);
      socket.once('connect', () => {
        socket.off('error', reject);
        const raw = new Raw(socket);
        if (options.send) socket.write(options.send);
        resolve(raw);
      });
    });
  }

  /** HTTP/2 frames received so far: type, flags and payload. */
  frames(): { type: number; payload: Buffer }[] {
    const out: { type: number; payload: Buffer }[] = [];
    let at = 0;
    while (at + 9 <= this.received.length) {
      const length = this.received.readUIntBE(at, 3);
      if (at + 9 + length > this.received.length) break;
      out.push({ type: this.received[at + 3]!, payload: this.received.subarray(at + 9, at + 9 + length) });
      at += 9 + length;
    }
    return out;
  }

  /** The GOAWAY the server sent: error code and debug text. */
  goaway(): { code: number; debug: string } | undefined {
    const f = this.frames().find((x) => x.type === 0x7);
    return f && { code: f.payload.readUInt32BE(4), debug: f.payload.subarray(8).toString('utf8') };
  }

  close(): Promise<void> {
    this.socket.destroy();
    return this.closed;
  }
}

/** A grpc-js client with its own connection (no subchannel shared with other stubs in this process). */
function client(port: number): StreamGatewayClient {
  return createStub(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
}

function gauge(gw: TestGateway) {
  return async (protocol = 'grpc'): Promise<number> => {
    const metric = await gw.core.metrics.connections.get();
    return metric.values.find((v) => v.labels.protocol === protocol)?.value ?? 0;
  };
}

/** The grpc line of `/metrics`, over a `Connection: close` socket (limits are per address across protocols: no kept-alive socket may linger). */
async function scrapeGrpc(gw: TestGateway): Promise<number> {
  const text = await new Promise<string>((resolve, reject) => {
    get(`${gw.httpUrl}/metrics`, { agent: false, headers: { connection: 'close' } }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(body));
    }).on('error', reject);
  });
  return Number(/^streamgate_connections\{protocol="grpc"\} (\S+)$/m.exec(text)?.[1] ?? 0);
}

describe('gRPC connection limits (per address)', () => {
  let gw: TestGateway;
  let open: (protocol?: string) => Promise<number>;
  const cleanup: (() => unknown)[] = [];

  beforeAll(async () => {
    gw = await startTestGateway({ backend: 'embedded', config: { limits: { maxConnectionsPerAddress: LIMIT }, grpc: { handshakeTimeoutMs: HANDSHAKE_MS } } });
    open = gauge(gw);
  });
  afterEach(async () => {
    for (const c of cleanup.splice(0)) await c();
    await eventually(async () => (await open()) === 0 && (await open('http')) === 0, { what: 'no connection left' });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('counts one connection per TCP connection, however many unary calls, Subscribes and Sessions it carries', async () => {
    const stub = client(gw.ports.grpc);
    cleanup.push(() => stub.close());
    const topic = uniqueTopic('grpc-limits-count');
    await call(stub, 'Produce', { topic, records: [{ value: Buffer.from('x') }] });
    const subs = [new SubscribeRecorder(stub, { topic, position: { earliest: {} } }), new SubscribeRecorder(stub, { topic, position: { earliest: {} } })];
    const session = new SessionRecorder(stub);
    cleanup.push(() => {
      for (const s of subs) s.call.cancel();
      session.close();
    });
    for (const s of subs) await s.subscribed();
    session.send({ ping: { nonce: '1' } });
    await session.waitFor('pong');
    expect(await open()).toBe(1);
    expect(await scrapeGrpc(gw)).toBe(1);
  });

  it('refuses the connection over the limit before reading it (SETTINGS + GOAWAY ENHANCE_YOUR_CALM → RESOURCE_EXHAUSTED); a freed slot admits the next', async () => {
    const held: Raw[] = [];
    for (let i = 0; i < LIMIT; i++) held.push(await Raw.open(gw.ports.grpc, { send: PREFACE }));
    cleanup.push(() => Promise.all(held.map((r) => r.close())));
    await eventually(async () => (await open()) === LIMIT, { what: `${LIMIT} open` });

    // A raw socket over the limit: answered with the server preface and a GOAWAY, then closed.
    const refused = await Raw.open(gw.ports.grpc, { send: PREFACE });
    await refused.closed;
    expect(refused.frames()[0]).toMatchObject({ type: 0x4 }); // the server preface: SETTINGS
    expect(refused.goaway()).toEqual({ code: ENHANCE_YOUR_CALM, debug: 'RESOURCE_EXHAUSTED: Too many connections from this address; try again later.' });
    expect(await open()).toBe(LIMIT);

    // A real grpc-js client over the limit: its call fails with RESOURCE_EXHAUSTED.
    const over = client(gw.ports.grpc);
    const err = await rejection(call(over, 'ListTopics', {}));
    over.close();
    expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(await open()).toBe(LIMIT);

    // One slot frees: the next client is admitted and served.
    await held.pop()!.close();
    await eventually(async () => (await open()) === LIMIT - 1, { what: 'a slot freed' });
    const next = client(gw.ports.grpc);
    cleanup.push(() => next.close());
    await call(next, 'ListTopics', {});
    expect(await open()).toBe(LIMIT);
    await held.pop()!.close();
    await eventually(async () => (await open()) === LIMIT - 1, { what: 'another slot freed' });
    expect(await scrapeGrpc(gw)).toBe(LIMIT - 1);
  });

  it('closes a socket that sends nothing within grpc.handshakeTimeoutMs, and one that does not speak HTTP/2 at once', async () => {
    const silent = await Raw.open(gw.ports.grpc);
    await eventually(async () => (await open()) === 1, { what: 'silent socket counted' });
    await eventually(() => silent.isClosed, { timeoutMs: HANDSHAKE_MS + 5_000, what: 'silent socket closed' });
    expect(silent.received.length).toBe(0);
    await eventually(async () => (await open()) === 0, { what: 'its slot freed' });

    // Half a preface is not a preface: the bound applies until the SETTINGS frame is complete.
    const partial = await Raw.open(gw.ports.grpc, { send: PREFACE.subarray(0, 30) });
    await eventually(() => partial.isClosed, { timeoutMs: HANDSHAKE_MS + 5_000, what: 'partial-preface socket closed' });

    const http1 = await Raw.open(gw.ports.grpc, { send: Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n') });
    await http1.closed;
    expect(http1.received.length).toBe(0);

    // A socket that did send the preface in time stays open (it is an idle HTTP/2 connection).
    const ok = await Raw.open(gw.ports.grpc, { send: PREFACE });
    cleanup.push(() => ok.close());
    await eventually(() => ok.frames().some((f) => f.type === 0x4), { what: 'server SETTINGS' });
    const openedAt = Date.now();
    await eventually(() => Date.now() - openedAt > HANDSHAKE_MS * 3, { timeoutMs: HANDSHAKE_MS * 6 });
    expect(ok.isClosed).toBe(false);
    expect(await open()).toBe(1);
  });
});

describe('gRPC connection limits (instance full)', () => {
  let gw: TestGateway;
  let open: (protocol?: string) => Promise<number>;

  beforeAll(async () => {
    gw = await startTestGateway({ backend: 'embedded', config: { limits: { maxConnections: 2, maxConnectionsPerAddress: 100 } } });
    open = gauge(gw);
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('answers SERVER_BUSY with GOAWAY NO_ERROR (grpc-js: UNAVAILABLE, retriable elsewhere), whatever the address', async () => {
    const held = [await Raw.open(gw.ports.grpc, { send: PREFACE }), await Raw.open(gw.ports.grpc, { send: PREFACE, localAddress: '127.0.0.2' })];
    await eventually(async () => (await open()) === 2, { what: '2 open' });
    const refused = await Raw.open(gw.ports.grpc, { send: PREFACE, localAddress: '127.0.0.3' });
    await refused.closed;
    expect(refused.goaway()).toMatchObject({ code: NO_ERROR, debug: expect.stringMatching(/^SERVER_BUSY: /) });
    const busy = client(gw.ports.grpc);
    expect((await rejection(call(busy, 'ListTopics', {}))).code).toBe(grpc.status.UNAVAILABLE);
    busy.close();
    expect(await open()).toBe(2);
    await Promise.all(held.map((r) => r.close()));
    await eventually(async () => (await open()) === 0, { what: 'all closed' });
  });
});

describe('gRPC over TLS: limits and the handshake bound', () => {
  let gw: TestGateway;
  let pki: TestTls;
  let open: (protocol?: string) => Promise<number>;

  beforeAll(async () => {
    pki = makeTestTls();
    gw = await startTestGateway({
      backend: 'embedded',
      config: { tls: { certFile: pki.server.certFile, keyFile: pki.server.keyFile }, limits: { maxConnectionsPerAddress: 2 }, grpc: { handshakeTimeoutMs: HANDSHAKE_MS } },
    });
    open = gauge(gw);
  });
  afterAll(async () => {
    await gw?.close();
    pki?.remove();
  });

  it('closes a TLS client that completes the handshake but sends no HTTP/2 preface, and refuses one over the limit before its handshake', async () => {
    const secure = tlsConnect({ port: gw.ports.grpc, host: '127.0.0.1', servername: 'localhost', ca: pki.ca, ALPNProtocols: ['h2'] });
    secure.on('error', () => secure.destroy());
    await new Promise<void>((resolve) => secure.once('secureConnect', () => resolve()));
    expect(secure.alpnProtocol).toBe('h2');
    const closed = new Promise<void>((resolve) => secure.once('close', () => resolve()));
    const silent = await Raw.open(gw.ports.grpc); // TCP only: not even a ClientHello
    await eventually(async () => (await open()) === 2, { what: 'both counted' });

    // Over the limit: closed at once, without a TLS handshake (no ServerHello, nothing at all).
    const refused = await Raw.open(gw.ports.grpc, { send: Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00]) });
    await refused.closed;
    expect(refused.received.length).toBe(0);

    await closed;
    await eventually(() => silent.isClosed, { timeoutMs: HANDSHAKE_MS + 5_000, what: 'TCP-only socket closed' });
    await eventually(async () => (await open()) === 0, { what: 'slots freed' });

    // A TLS client that resets the connection before its preface: the gateway shrugs it off.
    const tcp = connect(gw.ports.grpc, '127.0.0.1');
    tcp.on('error', () => undefined);
    const reset = tlsConnect({ socket: tcp, servername: 'localhost', ca: pki.ca, ALPNProtocols: ['h2'] });
    reset.on('error', () => undefined);
    await new Promise<void>((resolve) => reset.once('secureConnect', () => resolve()));
    await eventually(async () => (await open()) === 1, { what: 'the resetting client counted' });
    tcp.resetAndDestroy();
    await eventually(async () => (await open()) === 0, { what: 'its slot freed' });

    // A real TLS client still gets through.
    const stub = createStub(`127.0.0.1:${gw.ports.grpc}`, grpc.credentials.createSsl(pki.ca), { 'grpc.use_local_subchannel_pool': 1 });
    await call(stub, 'ListTopics', {});
    expect(await open()).toBe(1);
    stub.close();
  });
});

describe('gRPC subscriptions per connection (limits.maxSubscriptionsPerConnection)', () => {
  let gw: TestGateway;

  beforeAll(async () => {
    gw = await startTestGateway({ backend: 'embedded', config: { limits: { maxSubscriptionsPerConnection: 3 } } });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('counts Subscribe calls and Session subscriptions of one connection together; another connection has its own; a closed one frees its slot', async () => {
    const topic = uniqueTopic('grpc-subs-per-conn');
    const stub = client(gw.ports.grpc);
    await call(stub, 'Produce', { topic, records: [{ value: Buffer.from('x') }] });
    const subs = [new SubscribeRecorder(stub, { topic }), new SubscribeRecorder(stub, { topic })];
    for (const s of subs) await s.subscribed();
    const session = new SessionRecorder(stub);
    session.send({ subscribe: { id: 's1', topic, credit: 10 } });
    await session.waitFor('subscribed', (f) => f.id === 's1');

    // The fourth subscription on this connection, whichever stream asks.
    session.send({ subscribe: { id: 's2', topic, credit: 10 } });
    expect(await session.waitFor('error', (f) => f.id === 's2')).toMatchObject({ code: 'RESOURCE_EXHAUSTED' });
    const third = new SubscribeRecorder(stub, { topic });
    const err = await eventually(() => third.error, { what: 'the refused Subscribe' });
    expect(err.code).toBe(grpc.status.RESOURCE_EXHAUSTED);

    // Another connection is not affected.
    const other = client(gw.ports.grpc);
    const elsewhere = new SubscribeRecorder(other, { topic });
    await elsewhere.subscribed();

    // A Subscribe ends: its slot is free again for the Session.
    const before = gw.core.hub.stats().subscriptions;
    subs[0]!.call.cancel();
    await eventually(() => gw.core.hub.stats().subscriptions === before - 1, { what: 'the cancelled Subscribe released' });
    session.send({ subscribe: { id: 's3', topic, credit: 10 } });
    await session.waitFor('subscribed', (f) => f.id === 's3');

    subs[1]!.call.cancel();
    elsewhere.call.cancel();
    session.close();
    stub.close();
    other.close();
  });
});
