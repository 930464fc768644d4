/**
 * Memory stays bounded under stalled readers on every protocol, with the same outcome: N readers
 * of each kind — WebSocket, SSE, MQTT 5 at QoS 0 and QoS 1, gRPC Subscribe (all N streams on one
 * connection) and gRPC Session — subscribe to one topic and stop reading (a child process,
 * stalled-clients.ts, so their own buffers are not the gateway's). Several MiB are produced. Then:
 *  (a) each stalled reader is ended with SLOW_CONSUMER in its protocol's terms — WebSocket `end`
 *      frame, SSE `error` event (42902), MQTT v5 DISCONNECT 0x97, gRPC status RESOURCE_EXHAUSTED
 *      naming SLOW_CONSUMER — except the credit-based gRPC Session, which holds exactly its credit
 *      and stays open;
 *  (b) the gateway's heap + external memory (process.memoryUsage() after a full GC, in-process)
 *      grows by at most readers × (hub.maxQueueBytes + 2 × transport bound + one record) + slack;
 *  (c) a healthy gRPC subscriber on the same topic receives every record, in order.
 * No timing assertions: the deadline polls wait for conditions; the memory bound is a property.
 * Measured: ~57 MiB growth for 120 readers (bound 109 MiB); with the gRPC stream buffer unbounded
 * as before (grpc.maxBufferedBytes 64 MiB) 232 MiB, and the stalled Subscribes were never ended.
 * Embedded backend: on Kafka a detached subscriber's catch-up reads are far slower (see the
 * report), so the healthy subscriber would itself be ended as slow under this 10 MiB burst.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStub } from '../../clients/ts/node/index.js';
import { createContext } from '../../gateway/context.js';
import { uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';
import { SubscribeRecorder } from '../grpc/helpers.js';
import { startCapturedGateway, type CapturedGateway } from './helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const KiB = 1024;
const MiB = 1024 * KiB;
const N = 20;
const CREDIT = 4;
const RECORD_BYTES = 64 * KiB;
/**
 * 20 batches of 8 × 64 KiB = 10 MiB: more than a loopback socket's kernel buffers (tcp_wmem up to
 * 4 MiB) plus every bound, so each raw-socket reader really stalls. A 512 KiB batch stays under
 * Kafka's default message.max.bytes (1 MiB).
 */
const BATCHES = 20;
const BATCH = 8;
const RECORDS = BATCHES * BATCH;
const MAX_QUEUE_BYTES = 64 * KiB;
/** The transports' own bounds (websocket/grpc.maxBufferedBytes), set to the same value. */
const TRANSPORT_BYTES = 128 * KiB;
/** Kinds the hub ends as slow (the Session is credit-limited: it waits by design). */
const ENDED_KINDS = 5;
const READERS = N * 6;
/** GC and allocator noise, the backend's fetch buffers (4 MiB shared tail reads), the healthy subscriber. */
const SLACK = 64 * MiB;

const ctx = createContext({ protocol: 'test', log: pino({ level: 'silent' }) });
const topic = uniqueTopic('stalled');
let gw: CapturedGateway;
let child: ChildProcessWithoutNullStreams | undefined;

beforeAll(async () => {
  gw = await startCapturedGateway({
    config: {
      // 10 s: the healthy subscriber is detached by every 512 KiB burst (64 KiB queue) and must
      // catch up from the log within it while the process serves 120 stalled readers.
      hub: { maxQueueBytes: MAX_QUEUE_BYTES, slowConsumerMs: 10_000 },
      websocket: { maxBufferedBytes: TRANSPORT_BYTES },
      grpc: { maxBufferedBytes: TRANSPORT_BYTES },
      mqtt: { routes: [{ filter: 'stall/#', topic }] },
      limits: { maxConnectionsPerAddress: 1_000 },
    },
  });
});
afterAll(async () => {
  child?.kill();
  await gw?.close();
});

/** heapUsed + external (Buffers) after a full collection. */
function retained(): number {
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.external;
}

function startChild(): { lines: AsyncIterator<string>; send(line: string): void } {
  const script = fileURLToPath(new URL('./stalled-clients.ts', import.meta.url));
  const args = { http: gw.ports.http, mqtt: gw.ports.mqtt, grpc: gw.ports.grpc, topic, mqttFilter: 'stall/#', n: N, credit: CREDIT };
  child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(args)], { stdio: ['pipe', 'pipe', 'pipe'] });
  child.stderr.on('data', (d: Buffer) => process.stderr.write(d));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  return { lines, send: (line) => child!.stdin.write(`${line}\n`) };
}

async function nextMessage(lines: AsyncIterator<string>): Promise<any> {
  const { value, done } = await lines.next();
  if (done) throw new Error('the stalled clients process exited');
  const message = JSON.parse(value) as { error?: string };
  if (message.error !== undefined) throw new Error(`stalled clients failed: ${message.error}`);
  return message;
}

const slowEnded = async () => (await gw.core.metrics.slowConsumers.get()).values[0]?.value ?? 0;

describe('stalled readers on every protocol', () => {
  it('ends each with SLOW_CONSUMER in its own terms (a Session holds only its credit), keeps memory bounded and a healthy subscriber complete', async () => {
    // The topic exists first, so every reader starts at its tail and shares the one reader.
    await gw.core.produce(ctx, topic, [{ key: Buffer.from('stall/a'), value: Buffer.from('{"i":-1}') }]);
    const healthyStub = createStub(`127.0.0.1:${gw.ports.grpc}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
    const healthy = new SubscribeRecorder(healthyStub, { topic, position: { latest: {} } });
    await healthy.subscribed();

    // The gateway's own tables (MQTT sessions, instances…) subscribe through the hub too.
    const others = gw.core.hub.stats().subscriptions;
    const { lines, send } = startChild();
    expect(await nextMessage(lines)).toEqual({ ready: true });
    expect(gw.core.hub.stats().subscriptions).toBe(others + READERS);
    const before = retained();

    const pad = 'x'.repeat(RECORD_BYTES - 32);
    // In batches, as producers write: a tail read hands each subscriber 512 KiB at once.
    for (let b = 0; b < BATCHES; b++) {
      const batch = Array.from({ length: BATCH }, (_, j) => ({ key: Buffer.from('stall/a'), value: Buffer.from(JSON.stringify({ i: b * BATCH + j, pad })) }));
      const results = await gw.core.produce(ctx, topic, batch);
      expect(results.every((r) => r.ok)).toBe(true);
    }
    // (c) the healthy subscriber gets every record, in order, while the others stall.
    await eventually(() => healthy.records().length >= RECORDS, { what: 'every record on the healthy subscriber', timeoutMs: 60_000 });
    expect(healthy.records().map((r) => JSON.parse(r.value!.toString()).i)).toEqual(Array.from({ length: RECORDS }, (_, i) => i));

    // (b) with every stalled reader holding what it holds (the ended ones keep what the transport
    // had taken until their client reads again).
    const bound = READERS * (MAX_QUEUE_BYTES + 2 * TRANSPORT_BYTES + RECORD_BYTES) + SLACK;
    const mib = (n: number) => `${(n / MiB).toFixed(1)} MiB`;
    const whileStalled = retained() - before;
    console.log(`${READERS} stalled readers: growth ${mib(whileStalled)} while stalled (bound ${mib(bound)}), rss ${mib(process.memoryUsage().rss)}`);
    expect(whileStalled).toBeLessThan(bound);
    await eventually(async () => (await slowEnded()) === ENDED_KINDS * N, { what: `${ENDED_KINDS * N} slow consumers ended`, timeoutMs: 60_000 });
    const afterEnds = retained() - before;
    console.log(`growth ${mib(afterEnds)} once the hub ended them`);
    expect(afterEnds).toBeLessThan(bound);
    // Only the credit-limited Sessions (and the healthy subscriber) are still subscribed.
    expect(gw.core.hub.stats().subscriptions).toBe(others + N);

    // (a) each reader, reading again, sees how it was ended.
    send('resume');
    const { outcomes } = await nextMessage(lines);
    for (const o of outcomes.websocket) expect(o).toMatchObject({ code: 'SLOW_CONSUMER', retriable: true });
    for (const o of outcomes.sse) expect(o.error).toMatchObject({ error_code: 42902, code: 'SLOW_CONSUMER' });
    // MQTT: the gateway sends DISCONNECT 0x97 (Quota exceeded = SLOW_CONSUMER) and cuts a peer
    // that does not read it within a second, so a reader resumed later may find only the close.
    const disconnects = gw.logs().filter((l) => l.msg === 'closing MQTT connection' && l.reasonCode === 0x97);
    expect(disconnects).toHaveLength(2 * N);
    for (const o of [...outcomes.mqttQos0, ...outcomes.mqttQos1]) {
      expect(o.closed).toBe(true);
      if (o.last === 'disconnect') expect(o.reasonCode).toBe(0x97);
      else expect(o.last).toBe('publish');
    }
    for (const o of outcomes.grpcSubscribe) {
      expect(o).toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED, streamgateCode: 'SLOW_CONSUMER' });
      expect(o.details).toMatch(/^SLOW_CONSUMER: /);
    }
    for (const o of outcomes.grpcSession) expect(o).toEqual({ records: CREDIT, ended: false });
    // Each ended reader got only part of the stream (a prefix it can resume after).
    for (const kind of ['websocket', 'sse', 'mqttQos0', 'mqttQos1', 'grpcSubscribe']) {
      for (const o of outcomes[kind]) expect(o.records).toBeLessThan(RECORDS);
    }
    healthy.call.cancel();
    healthyStub.close();
  }, 240_000);
});
