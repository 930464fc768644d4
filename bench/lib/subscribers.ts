/**
 * Load-generator child process: opens `count` subscribers of one kind, then counts delivered
 * records and records end-to-end latency (send time in the payload → arrival here). Run several
 * of these so the client side is not the bottleneck; the parent watches their CPU.
 *
 *   node --import tsx bench/lib/subscribers.ts '<json options>'   (IPC: reset / report / close)
 *
 * Clients are deliberately thin (raw `ws`, raw HTTP for SSE, mqtt-packet over TCP, one grpc-js
 * stream per subscriber) so a generator process holds thousands of them.
 */
import { request } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import mqttPacket from 'mqtt-packet';
import { SignJWT } from 'jose';
import { WebSocket } from 'ws';
import { createStub } from '../../clients/ts/node/index.js';
import { Histogram, eachSendTime, nowMs } from './common.js';

export type SubscriberKind = 'ws' | 'sse' | 'mqtt' | 'grpc' | 'centrifugo';

export interface SubscriberOptions {
  kind: SubscriberKind;
  count: number;
  /** ws: `ws://host:port/v1/ws`; sse: `http://host:port`; mqtt: `host:port`; grpc: `host:port`; centrifugo: `ws://…/connection/websocket`. */
  url: string;
  /** Kafka topic (ws, sse, grpc), MQTT topic filter (mqtt) or Centrifugo channel. */
  topic: string;
  /** Centrifugo: HMAC secret to sign each subscriber's connection token (HS256 JWT with `sub`). */
  centrifugoSecret?: string;
  /** Only connect and stay idle (idle-connection benchmark). */
  idle?: boolean;
  /** gRPC: subscribers share this many channels (HTTP/2 connections). */
  grpcChannels?: number;
}

const opts = JSON.parse(process.argv[2]!) as SubscriberOptions;
let hist = new Histogram();
let delivered = 0;
let errors = 0;
let lastError = '';
const closers: (() => void)[] = [];

function onText(text: string): void {
  const now = nowMs();
  eachSendTime(text, (t) => {
    delivered++;
    hist.record(now - t);
  });
}

function fail(err: unknown): void {
  errors++;
  lastError = err instanceof Error ? err.message : String(err);
}

/** Resolves once the subscription is live (the server confirmed it). */
function openOne(i: number): Promise<void> {
  switch (opts.kind) {
    case 'ws':
      return new Promise((resolve, reject) => {
        const ws = new WebSocket(opts.url, ['streamgate.v1.json'], { perMessageDeflate: false });
        closers.push(() => ws.terminate());
        ws.once('error', reject);
        ws.on('open', () => {
          if (opts.idle) return resolve();
          ws.send(JSON.stringify({ op: 'subscribe', id: 's', topic: opts.topic, from: 'latest' }));
        });
        let subscribed = false;
        ws.on('message', (data: Buffer) => {
          const text = data.toString('utf8');
          if (!subscribed) {
            if (text.includes('"op":"subscribed"')) {
              subscribed = true;
              ws.off('error', reject);
              ws.on('error', fail);
              resolve();
            } else if (text.includes('"op":"error"')) reject(new Error(text));
            return;
          }
          onText(text);
        });
      });
    case 'centrifugo':
      return new SignJWT({ sub: `u${process.pid}-${i}` })
        .setProtectedHeader({ alg: 'HS256' })
        .setExpirationTime('1h')
        .sign(new TextEncoder().encode(opts.centrifugoSecret))
        .then((token) => openCentrifugo(token));
    case 'sse':
      return new Promise((resolve, reject) => {
        const url = new URL(`/v1/topics/${encodeURIComponent(opts.topic)}/events?from=latest`, opts.url);
        const req = request(url, { headers: { accept: 'text/event-stream' }, agent: false }, (res) => {
          if (res.statusCode !== 200) return reject(new Error(`SSE status ${res.statusCode}`));
          res.setEncoding('utf8');
          let opened = false;
          let carry = '';
          res.on('data', (chunk: string) => {
            if (!opened) {
              opened = true;
              resolve();
            }
            // Events may split across chunks; a payload's "t" field is whole once its line is.
            const text = carry + chunk;
            const cut = text.lastIndexOf('\n');
            carry = text.slice(cut + 1);
            onText(text.slice(0, cut + 1));
          });
          res.on('error', fail);
          // The stream starts with a comment/retry line, so the first chunk means "subscribed".
        });
        closers.push(() => req.destroy());
        req.once('error', reject);
        req.end();
      });
    case 'mqtt':
      return new Promise((resolve, reject) => {
        const [host, port] = opts.url.split(':') as [string, string];
        const socket: Socket = netConnect(Number(port), host);
        socket.setNoDelay(true);
        closers.push(() => socket.destroy());
        const parser = mqttPacket.parser({ protocolVersion: 4 });
        parser.on('packet', (p) => {
          if (p.cmd === 'connack') {
            if ((p as mqttPacket.IConnackPacket).returnCode !== 0) return reject(new Error(`CONNACK ${(p as mqttPacket.IConnackPacket).returnCode}`));
            if (opts.idle) return resolve();
            socket.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: opts.topic, qos: 0 }] } as mqttPacket.ISubscribePacket));
          } else if (p.cmd === 'suback') resolve();
          else if (p.cmd === 'publish') onText((p as mqttPacket.IPublishPacket).payload.toString());
        });
        parser.on('error', fail);
        socket.on('data', (d) => parser.parse(d));
        socket.once('error', reject);
        socket.on('connect', () =>
          socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: `b${process.pid}-${i}`, keepalive: 0 } as mqttPacket.IConnectPacket)),
        );
      });
    case 'grpc':
      return new Promise((resolve, reject) => {
        const channelOpts = { 'grpc.use_local_subchannel_pool': 1, 'grpc.max_receive_message_length': 16 << 20 };
        const stub = stubFor(i % (opts.grpcChannels ?? 100), channelOpts);
        const call = stub.Subscribe({ topic: opts.topic, position: { latest: {} } });
        closers.push(() => call.cancel());
        let subscribed = false;
        call.on('data', (frame: { subscribed?: unknown; records?: { records: { value: Buffer }[] } }) => {
          if (frame.subscribed !== undefined && frame.subscribed !== null && !subscribed) {
            subscribed = true;
            resolve();
          }
          if (frame.records) {
            const now = nowMs();
            for (const r of frame.records.records) {
              eachSendTime(r.value.toString('utf8'), (t) => {
                delivered++;
                hist.record(now - t);
              });
            }
          }
        });
        call.on('error', (err: grpc.ServiceError) => {
          if (err.code === grpc.status.CANCELLED) return;
          if (!subscribed) reject(err);
          else fail(err);
        });
      });
  }
}

/** A Centrifugo client on the JSON protocol: connect with the token, then subscribe to the channel. */
function openCentrifugo(token: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(opts.url, { perMessageDeflate: false });
    closers.push(() => ws.terminate());
    ws.once('error', reject);
    ws.on('open', () => {
      // Centrifugo JSON protocol: commands separated by newlines in one frame.
      const cmds = [{ id: 1, connect: { token } }];
      if (!opts.idle) cmds.push({ id: 2, subscribe: { channel: opts.topic } } as never);
      ws.send(cmds.map((c) => JSON.stringify(c)).join('\n'));
    });
    let ready = false;
    ws.on('message', (data: Buffer) => {
      const text = data.toString('utf8');
      if (!ready) {
        if (text.includes('"error"')) return reject(new Error(text));
        if ((opts.idle && text.includes('"connect"')) || text.includes('"id":2')) {
          ready = true;
          ws.off('error', reject);
          ws.on('error', fail);
          resolve();
        }
        if (!text.includes('"push"')) return;
      }
      // Server pings are empty JSON objects `{}`; answer with `{}` (protocol v2 ping/pong).
      if (text === '{}') return void ws.send('{}');
      onText(text);
    });
  });
}

const stubs = new Map<number, ReturnType<typeof createStub>>();
function stubFor(n: number, channelOpts: grpc.ClientOptions): ReturnType<typeof createStub> {
  let s = stubs.get(n);
  if (s === undefined) {
    s = createStub(opts.url, grpc.credentials.createInsecure(), channelOpts);
    stubs.set(n, s);
  }
  return s;
}

async function openAll(): Promise<void> {
  // Bounded concurrency: thousands of simultaneous handshakes only measure the accept queue.
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < opts.count) {
      const i = next++;
      await openOne(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(100, opts.count) }, worker));
}

process.on('message', (m: { cmd: string }) => {
  if (m.cmd === 'reset') {
    hist = new Histogram();
    delivered = 0;
    errors = 0;
  } else if (m.cmd === 'report') {
    process.send!({ report: { delivered, errors, lastError, hist: hist.toJSON() } });
  } else if (m.cmd === 'close') {
    for (const c of closers) c();
    for (const s of stubs.values()) s.close();
    setTimeout(() => process.exit(0), 200).unref();
  }
});
process.on('disconnect', () => process.exit(0));

openAll().then(
  () => process.send!({ ready: opts.count }),
  (err: unknown) => {
    process.send!({ failed: err instanceof Error ? err.message : String(err) });
    setTimeout(() => process.exit(1), 100);
  },
);
