/**
 * Child process of stalled-readers.test.ts: opens N stalled readers of each kind against a
 * gateway in another process, so their own buffers never count in the gateway's memory. Each
 * subscribes, then stops reading its socket / call. Protocol on stdio, one JSON line each way:
 *   → {"ready": true}            all subscribed and stalled
 *   ← resume                     the parent saw the gateway end them
 *   → {"outcomes": {...}}        what each reader got once it read again
 * Usage: node --import tsx stalled-clients.ts '{"http":…,"mqtt":…,"grpc":…,"topic":"…","mqttFilter":"…","n":20,"credit":4}'
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { connect as netConnect, type Socket } from 'node:net';
import { createInterface } from 'node:readline';
import * as grpc from '@grpc/grpc-js';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { createStub, type SessionResponse } from '../../clients/ts/node/index.js';
import type { SubscribeResponse__Output } from '../../proto/gen/ts/streamgate/v1/SubscribeResponse.js';
import { eventually } from '../support/wait.js';
import { RawClient } from '../websocket/raw-client.js';

interface Args {
  http: number;
  mqtt: number;
  grpc: number;
  topic: string;
  mqttFilter: string;
  n: number;
  credit: number;
}
const args = JSON.parse(process.argv[2]!) as Args;
const send = (line: unknown) => process.stdout.write(`${JSON.stringify(line)}\n`);

interface Stalled {
  resume(): void;
  /** What the reader got once it read again (waits for its end where one is expected). */
  outcome(): Promise<unknown>;
}

async function websocket(): Promise<Stalled> {
  const c = await RawClient.open(`ws://127.0.0.1:${args.http}`);
  c.send({ op: 'subscribe', id: 's', topic: args.topic, from: 'latest' });
  await c.waitFor((f) => f.op === 'subscribed');
  const socket = (c.ws as unknown as { _socket: Socket })._socket;
  socket.pause();
  return {
    resume: () => socket.resume(),
    outcome: async () => {
      const end = await c.waitFor((f) => f.op === 'end', 'end frame');
      c.close();
      return { code: end.code, retriable: end.retriable, records: c.records('s').length };
    },
  };
}

function sse(): Promise<Stalled> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`http://127.0.0.1:${args.http}/v1/topics/${args.topic}/events?from=latest`, { headers: { accept: 'text/event-stream' }, agent: false }, (res: IncomingMessage) => {
      if (res.statusCode !== 200) return reject(new Error(`SSE status ${res.statusCode}`));
      let text = '';
      let subscribed = false;
      const ended = new Promise<void>((done) => res.once('end', done));
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
        if (!subscribed && text.includes('event: subscribed')) {
          subscribed = true;
          res.pause();
          res.socket.pause();
          resolve({
            resume: () => {
              res.socket.resume();
              res.resume();
            },
            outcome: async () => {
              await ended;
              const last = /event: error\ndata: (.*)\n\n$/.exec(text);
              return { error: last ? JSON.parse(last[1]!) : text.slice(-200), records: (text.match(/^id: [^\n]*\ndata: /gm) ?? []).length };
            },
          });
        }
      });
    });
    req.once('error', reject);
    req.end();
  });
}

function mqtt(id: string, qos: 0 | 1): Promise<Stalled> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(args.mqtt, '127.0.0.1');
    const packets: Packet[] = [];
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    const parser = mqttPacket.parser({ protocolVersion: 5 });
    parser.on('packet', (p) => {
      packets.push(p);
      if (p.cmd === 'connack') socket.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: args.mqttFilter, qos }] }, { protocolVersion: 5 }));
      else if (p.cmd === 'suback') {
        socket.pause();
        resolve({
          resume: () => socket.resume(),
          outcome: async () => {
            await closed;
            const last = packets[packets.length - 1]!;
            return { closed: true, last: last.cmd, reasonCode: (last as { reasonCode?: number }).reasonCode, records: packets.filter((x) => x.cmd === 'publish').length };
          },
        });
      }
    });
    parser.on('error', reject);
    socket.on('data', (d) => parser.parse(d));
    socket.once('error', reject);
    socket.on('connect', () =>
      socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, clientId: id, keepalive: 0 }, { protocolVersion: 5 })),
    );
  });
}

/** All Subscribe streams share one connection (the finding: 50 streams on one connection). */
const subscribeStub = createStub(`127.0.0.1:${args.grpc}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
const sessionStub = createStub(`127.0.0.1:${args.grpc}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });

async function grpcSubscribe(): Promise<Stalled> {
  const call = subscribeStub.Subscribe({ topic: args.topic, position: { latest: {} } });
  const frames: SubscribeResponse__Output[] = [];
  let error: grpc.ServiceError | undefined;
  call.on('data', (f: SubscribeResponse__Output) => {
    frames.push(f);
    if (f.frame === 'subscribed') call.pause();
  });
  call.on('error', (err: grpc.ServiceError) => (error = err));
  await eventually(() => frames.some((f) => f.frame === 'subscribed'), { what: 'subscribed', timeoutMs: 15_000 });
  return {
    resume: () => call.resume(),
    outcome: async () => {
      const err = await eventually(() => error, { what: 'Subscribe status', timeoutMs: 30_000 });
      return { code: err.code, details: err.details, streamgateCode: err.metadata.get('streamgate-code')[0], records: frames.filter((f) => f.frame === 'records').flatMap((f) => f.records!.records).length };
    },
  };
}

async function grpcSession(): Promise<Stalled> {
  const call = sessionStub.Session();
  const frames: SessionResponse[] = [];
  let error: grpc.ServiceError | undefined;
  call.on('data', (f: SessionResponse) => {
    frames.push(f);
    if (f.frame === 'subscribed') call.pause();
  });
  call.on('error', (err: grpc.ServiceError) => (error = err));
  call.write({ subscribe: { id: 's', topic: args.topic, position: { latest: {} }, credit: args.credit } });
  await eventually(() => frames.some((f) => f.frame === 'subscribed'), { what: 'session subscribed', timeoutMs: 15_000 });
  const records = () => frames.filter((f) => f.frame === 'records').flatMap((f) => f.records!.records).length;
  return {
    resume: () => call.resume(),
    outcome: async () => {
      // It granted `credit` records: it gets those, and the stream is still open (nothing more is owed).
      await eventually(() => records() >= args.credit, { what: 'credited records', timeoutMs: 15_000 });
      call.write({ ping: { nonce: 'alive' } });
      await eventually(() => frames.some((f) => f.frame === 'pong'), { what: 'pong', timeoutMs: 15_000 });
      const result = { records: records(), ended: frames.some((f) => f.frame === 'end'), error: error?.code };
      call.end();
      call.cancel();
      return result;
    },
  };
}

async function main(): Promise<void> {
  const kinds: Record<string, Stalled[]> = { websocket: [], sse: [], mqttQos0: [], mqttQos1: [], grpcSubscribe: [], grpcSession: [] };
  for (let i = 0; i < args.n; i++) {
    kinds.websocket!.push(await websocket());
    kinds.sse!.push(await sse());
    kinds.mqttQos0!.push(await mqtt(`stalled-q0-${process.pid}-${i}`, 0));
    kinds.mqttQos1!.push(await mqtt(`stalled-q1-${process.pid}-${i}`, 1));
    kinds.grpcSubscribe!.push(await grpcSubscribe());
    kinds.grpcSession!.push(await grpcSession());
  }
  send({ ready: true });
  const lines = createInterface({ input: process.stdin });
  for await (const line of lines) if (line.trim() === 'resume') break;
  for (const list of Object.values(kinds)) for (const s of list) s.resume();
  const outcomes: Record<string, unknown[]> = {};
  for (const [kind, list] of Object.entries(kinds)) outcomes[kind] = await Promise.all(list.map((s) => s.outcome()));
  send({ outcomes });
  subscribeStub.close();
  sessionStub.close();
  process.exit(0);
}

main().catch((err: unknown) => {
  send({ error: err instanceof Error ? err.stack : String(err) });
  process.exit(1);
});
