/**
 * Graceful shutdown of a gateway process: SIGTERM with connected MQTT v5, WebSocket and gRPC stream
 * clients and REST produces in flight. Clients are told to reconnect in their protocol's terms
 * (MQTT DISCONNECT 0x8B Server shutting down, WebSocket close 1001, gRPC UNAVAILABLE), every REST
 * produce either completes (and is then in Kafka where its answer said) or fails clearly, and the
 * process exits 0 within `shutdown.deadlineMs`.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import { StreamgateClient as GrpcClient, errorCode, positionMessage } from '../../clients/ts/node/index.js';
import { connectClient } from '../mqtt/helpers.js';
import { kafkaBrokers } from '../support/kafka.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { killAllGateways, spawnGateway, type GatewayProcess } from '../support/process.js';
import { eventually } from '../support/wait.js';
import { checkAcks, newLog, readTopicFromKafka, recordAck } from './helpers.js';

const DEADLINE_MS = 5_000;
const topic = uniqueTopic('faults-shutdown');
let g: GatewayProcess;

beforeAll(async () => {
  g = await spawnGateway({ brokers: kafkaBrokers(), env: { STREAMGATE_SHUTDOWN_DEADLINE_MS: String(DEADLINE_MS) }, name: 'gateway' });
});

afterAll(async () => {
  await killAllGateways();
});

describe('SIGTERM with connected clients', () => {
  it('tells every client to reconnect, never acks falsely, exits 0 within the deadline', async () => {
    const seed = await fetch(`${g.httpUrl}/v1/topics/${topic}/records`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ records: [{ value: { src: 'seed', seq: 0 } }] }),
    });
    expect(seed.status).toBe(200);

    // MQTT v5: expect a server DISCONNECT with reason 0x8B.
    const device = await connectClient(g.mqttUrl, { protocolVersion: 5, clientId: uniqueId('sd') });
    await device.client.subscribeAsync('shutdown/#', { qos: 1 });
    let mqttReason: number | undefined;
    device.client.on('disconnect', (packet) => (mqttReason = packet.reasonCode));
    const mqttClosed = new Promise<void>((resolve) => device.client.once('close', () => resolve()));

    // WebSocket JSON with a live subscription: expect close 1001.
    const ws = new WebSocket(`${g.wsUrl}/v1/ws`, 'streamgate.v1.json');
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const subscribed = new Promise((resolve) => ws.once('message', resolve));
    ws.send(JSON.stringify({ op: 'subscribe', id: 's1', topic, from: 'earliest' }));
    await subscribed;
    const wsClose = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: String(reason) })));

    // gRPC server stream: expect UNAVAILABLE (SHUTTING_DOWN), a status clients retry elsewhere.
    const grpcClient = new GrpcClient({ address: g.grpcAddress });
    const call = grpcClient.stub.Subscribe({ topic, position: positionMessage('earliest'), partitions: [], filters: [] });
    const grpcEnd = new Promise<grpc.ServiceError>((resolve) => call.on('error', (err: grpc.ServiceError) => resolve(err)));
    call.on('data', () => undefined);
    await new Promise((resolve) => call.once('data', resolve));

    // REST producers streaming sequence-numbered batches when the signal comes.
    const log = newLog('rest');
    const outcomes: string[] = [];
    const unanswered: number[][] = [];
    let stop = false;
    let seq = 1;
    const producers = [0, 1, 2].map(async () => {
      while (!stop) {
        const batch = Array.from({ length: 50 }, () => seq++);
        let res: Response;
        try {
          res = await fetch(`${g.httpUrl}/v1/topics/${topic}/records`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ records: batch.map((s) => ({ value: { src: 'rest', seq: s } })) }),
          });
        } catch (err) {
          // The listener is closed: refused, or the connection ended without an answer.
          outcomes.push(`no answer: ${String((err as { cause?: unknown }).cause ?? err)}`);
          unanswered.push(batch);
          return;
        }
        const body = (await res.json()) as { offsets?: { partition: number; offset: string | null }[]; error_code?: number; message?: string };
        if (res.status !== 200) {
          // A clear failure: an error status with the catalogue's body.
          expect(body.error_code).toBeTypeOf('number');
          expect(body.message).toBeTypeOf('string');
          outcomes.push(`HTTP ${res.status} ${body.error_code}`);
          continue;
        }
        batch.forEach((s, i) => {
          const o = body.offsets![i]!;
          if (o.offset !== null) recordAck(log, s, { partition: o.partition, offset: BigInt(o.offset) });
        });
        outcomes.push('200');
      }
    });
    await eventually(() => log.acks.size >= 500, { timeoutMs: 15_000, what: 'REST produces flowing' });

    const t0 = Date.now();
    g.kill('SIGTERM');
    const exit = await g.exited;
    const tookMs = Date.now() - t0;
    stop = true;
    await Promise.all(producers);

    const [closed] = await Promise.all([wsClose, mqttClosed]);
    const grpcErr = await grpcEnd;
    console.info(
      `[faults] shutdown: exit ${exit.code} after ${tookMs} ms; MQTT DISCONNECT 0x${mqttReason?.toString(16)}, WebSocket close ${closed.code} "${closed.reason}", ` +
        `gRPC ${grpcErr.code} ${errorCode(grpcErr)}; REST outcomes after SIGTERM: ${JSON.stringify(outcomes.filter((o) => o !== '200'))}, acked ${log.acks.size}`,
    );
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(tookMs).toBeLessThan(DEADLINE_MS);
    expect(mqttReason).toBe(0x8b);
    expect(closed.code).toBe(1001);
    expect(grpcErr.code).toBe(grpc.status.UNAVAILABLE);
    expect(errorCode(grpcErr)).toBe('SHUTTING_DOWN');
    grpcClient.close();

    // No false ack: every acknowledged record is in Kafka where the answer said.
    const records = await readTopicFromKafka(kafkaBrokers(), topic);
    const check = checkAcks(log, records, 0);
    expect(check.misplaced).toEqual([]);
    expect(check.acked).toBeGreaterThanOrEqual(500);
    // A request that got no answer was either not taken at all or written whole (never half).
    const inKafka = new Set(records.map((r) => JSON.parse(r.value!) as { seq: number }).map((v) => v.seq));
    const written = unanswered.map((batch) => batch.filter((s) => inKafka.has(s)).length);
    console.info(`[faults] shutdown: unanswered batches, records of each found in Kafka: ${JSON.stringify(written)} (of 50)`);
    for (const n of written) expect([0, 50]).toContain(n);
    // In-flight produces are answered before the process exits: none is written yet unanswered.
    expect(written.filter((n) => n > 0)).toEqual([]);
  }, 60_000);
});
