/**
 * Fuzz: thousands of random and mutated MQTT packets on raw TCP connections. The server must stay
 * up, never crash, and answer a well-formed client afterwards.
 */
import { connect as netConnect } from 'node:net';
import fc from 'fast-check';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { connectClient } from './helpers.js';

let gw: TestGateway;

beforeAll(async () => {
  gw = await startTestGateway({ config: { mqtt: { defaultTopic: uniqueTopic('mqtt-fuzz'), connectTimeoutMs: 2000, maxPacketBytes: 64 * 1024 } } });
});
afterAll(async () => {
  await gw?.close();
});

const valid: Packet[] = [
  { cmd: 'connect', clientId: 'fz', protocolVersion: 5, clean: true, keepalive: 10, properties: { sessionExpiryInterval: 0, receiveMaximum: 5 } },
  { cmd: 'connect', clientId: 'fz4', protocolVersion: 4, clean: false, keepalive: 10, will: { topic: 'w', payload: Buffer.from('x'), qos: 1, retain: true } },
  { cmd: 'publish', topic: 'a/b', payload: Buffer.from('hello'), qos: 1, messageId: 1, retain: false, dup: false },
  { cmd: 'publish', topic: 'a/c', payload: Buffer.from('x'), qos: 2, messageId: 2, retain: true, dup: false, properties: { topicAlias: 1 } },
  { cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'a/#', qos: 2 }, { topic: '$share/g/x/+', qos: 1 }] },
  { cmd: 'unsubscribe', messageId: 4, unsubscriptions: ['a/#'] },
  { cmd: 'pubrel', messageId: 2 },
  { cmd: 'puback', messageId: 9 },
  { cmd: 'pingreq' },
  { cmd: 'disconnect', reasonCode: 4 },
];
const encoded = valid.map((p) => mqttPacket.generate(p, { protocolVersion: (p.cmd === 'connect' && p.protocolVersion === 4) || p.cmd === 'unsubscribe' ? 4 : 5 }));

/** A byte stream: random bytes, or valid packets with random byte flips, truncations and junk. */
const streamArb = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 300 }).map((a) => Buffer.from(a)),
  fc
    .array(
      fc.record({
        i: fc.nat({ max: encoded.length - 1 }),
        flips: fc.array(fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), { maxLength: 4 }),
        cut: fc.option(fc.nat()),
      }),
      { minLength: 1, maxLength: 8 },
    )
    .map((parts) =>
      Buffer.concat(
        parts.map(({ i, flips, cut }) => {
          const b = Buffer.from(encoded[i]!);
          for (const f of flips) b[f.at % b.length] = f.value;
          return cut === null ? b : b.subarray(0, 1 + (cut % b.length));
        }),
      ),
    ),
);

/** Sends bytes on a fresh connection, waits briefly for the server to react, then drops it. */
function blast(port: number, bytes: Buffer): Promise<void> {
  return new Promise((resolve) => {
    const s = netConnect(port, '127.0.0.1', () => {
      s.write(bytes);
      // Half of the connections end politely, half vanish: both paths must be safe.
      setTimeout(() => (bytes[0]! % 2 === 0 ? s.end() : s.destroy()), 5);
    });
    s.on('error', () => resolve());
    s.on('close', () => resolve());
    s.on('data', () => undefined);
  });
}

it('survives thousands of random and mutated packets and still serves a well-formed client', async () => {
  const port = gw.ports.mqtt;
  const samples = fc.sample(streamArb, { numRuns: 2000, seed: 42 });
  // 20 connections at a time keeps the run short without exhausting the 2-core machine.
  for (let i = 0; i < samples.length; i += 20) await Promise.all(samples.slice(i, i + 20).map((b) => blast(port, b)));

  const c = await connectClient(`mqtt://127.0.0.1:${port}`, { protocolVersion: 5, clientId: uniqueId('after-fuzz') });
  const topic = `after/${uniqueId('t')}`;
  await c.client.subscribeAsync(topic, { qos: 1 });
  await c.client.publishAsync(topic, 'still alive', { qos: 1 });
  const [m] = await c.waitFor(1);
  expect(m!.payload).toBe('still alive');
  await c.end();
}, 60_000);
