/**
 * Backpressure on MQTT delivery: a subscriber that stops reading its socket does not stall a
 * reading subscriber of the same filter (the hub's shared reader is never paused for one
 * subscriber), and the hub's policy ends the stalled one: MQTT 5 DISCONNECT 0x97 Quota exceeded
 * (SLOW_CONSUMER, adapters/mqtt/errors.ts) after a gap-free prefix of its messages.
 */
import { connect as netConnect, type Socket } from 'node:net';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createContext } from '../../gateway/context.js';
import { RC } from '../../adapters/mqtt/errors.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';

const ctx = createContext({ protocol: 'test', log: pino({ level: 'silent' }) });
const KiB = 1024;
const kafkaTopic = uniqueTopic('mqtt-slow');
let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway({
    // closeDrainMs: the resumed reader first drains MiBs the kernel buffered before the DISCONNECT.
    config: { hub: { maxQueueBytes: 64 * KiB, slowConsumerMs: 300 }, mqtt: { routes: [{ filter: 'slow/#', topic: kafkaTopic }], closeDrainMs: 15_000 } },
  });
});
afterAll(async () => {
  await gw?.close();
});

interface RawSubscriber {
  socket: Socket;
  packets: Packet[];
  closed: Promise<void>;
}

/** An MQTT 5 subscriber on a raw socket (so the test can stop reading it), subscribed at QoS 0. */
function subscribe(clientId: string, filter: string): Promise<RawSubscriber> {
  return new Promise((resolve, reject) => {
    const socket = netConnect(gw.ports.mqtt!, '127.0.0.1');
    const packets: Packet[] = [];
    const closed = new Promise<void>((done) => socket.once('close', () => done()));
    const parser = mqttPacket.parser({ protocolVersion: 5 });
    parser.on('packet', (p) => {
      packets.push(p);
      if (p.cmd === 'connack') socket.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: filter, qos: 0 }] }, { protocolVersion: 5 }));
      else if (p.cmd === 'suback') resolve({ socket, packets, closed });
    });
    parser.on('error', reject);
    socket.on('data', (d) => parser.parse(d));
    socket.once('error', reject);
    socket.on('connect', () =>
      socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clean: true, clientId, keepalive: 0 }, { protocolVersion: 5 })),
    );
  });
}

const indexes = (packets: Packet[]): number[] =>
  packets.filter((p): p is mqttPacket.IPublishPacket => p.cmd === 'publish').map((p) => (JSON.parse(p.payload.toString()) as { i: number }).i);

describe('an MQTT subscriber that does not read', () => {
  it('is disconnected with 0x97 (SLOW_CONSUMER) while a reading subscriber of the same filter gets every message', async () => {
    // The Kafka topic exists before the SUBSCRIBEs, so both start at the tail and share its reader.
    await gw.core.produce(ctx, kafkaTopic, [{ key: Buffer.from('slow/a'), value: Buffer.from('{"i":-1}') }]);
    const fast = await subscribe('slow-test-fast', 'slow/#');
    const slow = await subscribe('slow-test-slow', 'slow/#');
    // Stop reading: the kernel's socket buffers fill, then the connection's write buffer, the
    // sink's promise stays pending, the hub queue (64 KiB here) fills and the subscriber is detached.
    slow.socket.pause();

    // 300 × 64 KiB ≈ 19 MiB: more than the loopback socket buffers on both sides can hold.
    const pad = 'x'.repeat(64 * KiB);
    for (let i = 0; i < 75; i++) {
      await gw.core.produce(
        ctx,
        kafkaTopic,
        Array.from({ length: 4 }, (_, j) => ({ key: Buffer.from('slow/a'), value: Buffer.from(JSON.stringify({ i: i * 4 + j, pad })) })),
      );
    }
    const got = await eventually(() => indexes(fast.packets).length >= 300 && indexes(fast.packets), { what: '300 messages on the reading subscriber' });
    expect(got).toEqual(Array.from({ length: 300 }, (_, i) => i));

    await eventually(async () => (await gw.core.metrics.slowConsumers.get()).values[0]?.value === 1, { what: 'slow consumer ended' });
    slow.socket.resume();
    await slow.closed;
    const last = slow.packets[slow.packets.length - 1]!;
    expect(last).toMatchObject({ cmd: 'disconnect', reasonCode: RC.QUOTA_EXCEEDED });
    // What it did get is a gap-free prefix.
    const prefix = indexes(slow.packets);
    expect(prefix.length).toBeLessThan(300);
    expect(prefix).toEqual(Array.from({ length: prefix.length }, (_, i) => i));
    fast.socket.destroy();
  });
});
