/**
 * Hostile MQTT input (issue 8, beside the random fuzz in test/mqtt/fuzz.test.ts): ill-formed
 * UTF-8 in topic names and filters, a Remaining Length announcing a 256 MB packet, a malformed
 * Remaining Length, and slowloris clients that never finish CONNECT (closed after
 * `mqtt.connectTimeoutMs`). Each gets its answer, and a well-formed client is served meanwhile.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { connectClient, RawClient } from '../mqtt/helpers.js';
import { eventually } from '../support/wait.js';
import { MAX_EVENT_LOOP_DELAY_MS, watchEventLoop } from './event-loop.js';

const CONNECT_TIMEOUT_MS = 400;
let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({ backend: 'embedded', config: { mqtt: { defaultTopic: uniqueTopic('mqtt-hostile'), connectTimeoutMs: CONNECT_TIMEOUT_MS } } });
});
afterAll(async () => {
  await gw?.close();
});

/**
 * Issue 16: no hostile input may block the event loop longer than MAX_EVENT_LOOP_DELAY_MS. The
 * hostile tests run watched; the keepalive test is not (it starts a second gateway, which is not client input).
 */
const hostile = (name: string, fn: () => Promise<void>, weakness?: string) => {
  const watched = async () => {
    const loop = watchEventLoop();
    await fn();
    const report = await loop.stop();
    expect(report.blockedMs, `main thread ran ${report.blockedMs.toFixed(0)} ms without yielding (longest wall-clock delay ${report.maxDelayMs.toFixed(0)} ms, process CPU ${report.cpuMs.toFixed(0)} ms) during this test`).toBeLessThan(MAX_EVENT_LOOP_DELAY_MS);
  };
  return weakness === undefined ? it(name, watched) : it.fails(`KNOWN WEAKNESS — ${name}`, watched);
};

/** A raw v5 connection past CONNACK. */
async function connectedV5(): Promise<RawClient> {
  const c = await RawClient.open(gw.ports.mqtt, 5);
  c.send({ cmd: 'connect', clientId: uniqueId('h'), protocolVersion: 5, clean: true, keepalive: 30 });
  await c.next('connack');
  return c;
}

/** Length-prefixed MQTT string from raw bytes (not necessarily UTF-8). */
const str = (bytes: number[]): number[] => [bytes.length >> 8, bytes.length & 0xff, ...bytes];

/** A packet with a one-byte Remaining Length (bodies here are < 128 bytes). */
const packet = (first: number, body: number[]): Buffer => Buffer.from([first, body.length, ...body]);

hostile('ill-formed UTF-8: PUBLISH topic → DISCONNECT 0x90; SUBSCRIBE filter → DISCONNECT 0x81 (a malformed packet closes the connection); nothing written', async () => {
  const a = await connectedV5();
  // PUBLISH QoS 1, topic "a\xFF" (0xFF never occurs in UTF-8), packet id 1, no properties, payload "x".
  a.write(packet(0x32, [...str([0x61, 0xff]), 0x00, 0x01, 0x00, 0x78]));
  const d = await a.next('disconnect');
  expect(d.reasonCode).toBe(0x90);
  expect(String(d.properties?.reasonString)).toMatch(/UTF-8/);
  expect(a.packets.some((p) => p.cmd === 'puback')).toBe(false);
  await a.waitClosed();

  const b = await connectedV5();
  // SUBSCRIBE id 7, no properties, filter "a/\xC3" (a truncated 2-byte sequence) QoS 1, then a valid one:
  // [MQTT-5:1.5.4-1] a malformed packet, so the connection closes and neither filter is subscribed.
  b.write(packet(0x82, [0x00, 0x07, 0x00, ...str([0x61, 0x2f, 0xc3]), 0x01, ...str([0x6f, 0x6b]), 0x01]));
  expect((await b.next('disconnect')).reasonCode).toBe(0x81);
  await b.waitClosed();
  expect(b.packets.some((p) => p.cmd === 'suback')).toBe(false);

  const c = await RawClient.open(gw.ports.mqtt, 4);
  c.send({ cmd: 'connect', clientId: uniqueId('h4'), protocolVersion: 4, clean: true, keepalive: 30 }, 4);
  await c.next('connack');
  // 3.1.1 has no DISCONNECT from the server: the connection is closed. [MQTT-3.1.1:4.8.0-1]
  c.write(packet(0x30, [...str([0xc0, 0x80]), 0x78])); // overlong encoding of "/"
  await c.waitClosed();
  expect(c.packets.map((p) => p.cmd)).toEqual(['connack']);
});

hostile('a Remaining Length announcing 256 MB is refused from the fixed header (0x95), before any body arrives', async () => {
  const a = await connectedV5();
  a.write(Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f])); // 268,435,455 bytes announced, none sent
  expect((await a.next('disconnect')).reasonCode).toBe(0x95);
  await a.waitClosed();

  // Same as the first packet of a connection: closed without a CONNACK.
  const b = await RawClient.open(gw.ports.mqtt, 5);
  b.write(Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f]));
  await b.waitClosed();
  expect(b.packets).toHaveLength(0);

  // A fifth continuation byte is a malformed Remaining Length (at most 4 bytes, §1.5.5).
  const c = await connectedV5();
  c.write(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]));
  await c.waitClosed();
  expect(c.packets.filter((p) => p.cmd === 'puback')).toHaveLength(0);
});

hostile('slowloris: half a CONNECT, or a CONNECT trickled byte by byte, is closed after connectTimeoutMs while others are served', async () => {
  const full = Buffer.from([0x10, 0x11, ...str([0x4d, 0x51, 0x54, 0x54]), 0x05, 0x02, 0x00, 0x1e, 0x00, ...str([0x73, 0x6c, 0x6f, 0x77])]);
  // The CONNECT is well-formed: sent at once it is accepted.
  const control = await RawClient.open(gw.ports.mqtt, 5);
  control.write(full);
  expect((await control.next('connack')).reasonCode).toBe(0);
  control.destroy();
  const started = Date.now();
  const stalled = await Promise.all(
    Array.from({ length: 20 }, async () => {
      const s = await RawClient.open(gw.ports.mqtt, 5);
      s.write(full.subarray(0, 9)); // fixed header + part of the protocol name, then silence
      return s;
    }),
  );
  const trickler = await RawClient.open(gw.ports.mqtt, 5);
  let i = 0;
  // Bytes keep coming (a complete CONNECT after ~950 ms), but not within the timeout.
  const drip = setInterval(() => {
    if (i < full.length && !trickler.closed) trickler.write(full.subarray(i, ++i));
  }, 50);
  try {
    // A well-formed client is served while they hang.
    const good = await connectClient(`mqtt://127.0.0.1:${gw.ports.mqtt}`, { protocolVersion: 5, clientId: uniqueId('good') });
    const topic = `ok/${uniqueId('t')}`;
    await good.client.subscribeAsync(topic, { qos: 1 });
    await good.client.publishAsync(topic, 'fine', { qos: 1 });
    expect((await good.waitFor(1))[0]!.payload).toBe('fine');
    await good.end();

    await Promise.all([...stalled, trickler].map((s) => s.waitClosed(CONNECT_TIMEOUT_MS + 3000)));
    expect(Date.now() - started).toBeGreaterThanOrEqual(CONNECT_TIMEOUT_MS - 50);
    expect([...stalled, trickler].every((s) => s.packets.length === 0)).toBe(true);
    expect(i).toBeLessThan(full.length);
  } finally {
    clearInterval(drip);
  }
});

// keepaliveMaxSeconds (a 3.1.1 client asking for no keepalive is held to 1.5 × the maximum, v5 is
// told Server Keep Alive) is driven with fake timers in adapters/mqtt/client.test.ts.

// mqtt.maxTopicLevels (128): one SUBSCRIBE of 30 filters of 16,000 levels (960 KB, under
// mqtt.maxPacketBytes) held the event loop 180–460 ms before the bound; now such filters and names
// are refused before anything splits them, and topics at the bound are served within it.
hostile('topic levels are bounded: 16,000-level filters get SUBACK 0x8F and a 16,000-level PUBLISH is refused with DISCONNECT 0x90, never acknowledged', async () => {
  const sub = await connectClient(`mqtt://127.0.0.1:${gw.ports.mqtt}`, { protocolVersion: 5, clientId: uniqueId('huge-sub') });
  const pub = await RawClient.open(gw.ports.mqtt, 5);
  try {
    const root = uniqueId('huge');
    const filters = Array.from({ length: 30 }, (_, i) => `${root}/${'+/'.repeat(16_000)}${i % 2 === 0 ? '#' : '+'}`);
    // MQTT.js rejects a SUBACK with failure codes; the packet is on the error.
    const suback = await sub.client.subscribeAsync(filters, { qos: 1 }).then(
      () => undefined,
      (err: { packet?: { granted?: number[] } }) => err.packet,
    );
    expect(suback?.granted).toEqual(Array(30).fill(0x8f));
    pub.send({ cmd: 'connect', clientId: uniqueId('huge-pub'), protocolVersion: 5, clean: true, keepalive: 30 });
    await pub.next('connack');
    pub.send({ cmd: 'publish', topic: `${root}/${'a/'.repeat(16_000)}x`, payload: Buffer.from('deep'), qos: 1, messageId: 1, retain: true, dup: false });
    const d = await pub.next('disconnect');
    expect(d.reasonCode).toBe(0x90);
    expect(pub.packets.some((p) => p.cmd === 'puback')).toBe(false);
  } finally {
    await sub.end();
    pub.destroy();
  }
});

hostile('wildcard-heavy filters against deep topics at the level bound: one SUBSCRIBE of 20 filters of 127 levels, 20 publishes and retained messages of 127 levels, all answered', async () => {
  const sub = await connectClient(`mqtt://127.0.0.1:${gw.ports.mqtt}`, { protocolVersion: 5, clientId: uniqueId('deep-sub') });
  const pub = await connectClient(`mqtt://127.0.0.1:${gw.ports.mqtt}`, { protocolVersion: 5, clientId: uniqueId('deep-pub') });
  try {
    const root = uniqueId('deep');
    const deep = (i: number) => `${root}/${'a/'.repeat(125)}${i}`;
    for (let i = 0; i < 5; i++) await pub.client.publishAsync(deep(i), `retained-${i}`, { qos: 1, retain: true });
    // Filters that match every level one by one: the costliest shape for a level-by-level matcher.
    const filters = Array.from({ length: 20 }, (_, i) => `${root}/${'+/'.repeat(125)}${i % 2 === 0 ? '#' : '+'}`);
    const granted = await sub.client.subscribeAsync(filters, { qos: 1 });
    expect(granted.map((g) => g.qos)).toEqual(Array(20).fill(1));
    for (let i = 5; i < 25; i++) await pub.client.publishAsync(deep(i), `live-${i}`, { qos: 1 });
    // Each message matches every filter (one copy per matching subscription or folded): every payload arrives.
    const expected = [...Array.from({ length: 5 }, (_, i) => `retained-${i}`), ...Array.from({ length: 20 }, (_, i) => `live-${i + 5}`)];
    await eventually(() => expected.every((p) => sub.received.some((m) => m.payload === p)), { what: 'every retained and live message', timeoutMs: 20_000 });
  } finally {
    await sub.end();
    await pub.end();
  }
});
