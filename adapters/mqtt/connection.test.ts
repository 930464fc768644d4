/**
 * Unit tier: connection.ts over an in-process duplex pair with fake timers — keepalive, the CONNECT
 * deadline, the packet-size bound, pause reasons and the close's drain timeout. No broker, no core.
 */
import { Duplex, PassThrough, Writable } from 'node:stream';
import mqtt from 'mqtt-packet';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { messageToRecord } from './codec.js';
import { Connection, type ConnectionEvents } from './connection.js';

const OPTIONS = { maxPacketBytes: 1024, connectTimeoutMs: 10_000, closeDrainMs: 1_000 };

/** What the connection reported, in order. */
function recorder(): { events: ConnectionEvents; seen: string[] } {
  const seen: string[] = [];
  return {
    seen,
    events: {
      packet: (p) => seen.push(`packet:${p.cmd}`),
      malformed: () => seen.push('malformed'),
      tooLarge: () => seen.push('tooLarge'),
      connectTimeout: () => seen.push('connectTimeout'),
      keepaliveExpired: () => seen.push('keepaliveExpired'),
      ended: (why) => seen.push(`ended:${why}`),
    },
  };
}

/** A connection whose client side is `toServer` (what the client sends) and `fromServer` (what it receives). */
function open(options = OPTIONS): { conn: Connection; server: Duplex; toServer: PassThrough; fromServer: PassThrough; seen: string[] } {
  const toServer = new PassThrough();
  const fromServer = new PassThrough();
  const server = Duplex.from({ readable: toServer, writable: fromServer });
  const { events, seen } = recorder();
  return { conn: new Connection(server, options, events), server, toServer, fromServer, seen };
}

/** Lets stream events (process.nextTick, not faked) and promise callbacks run. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const pingreq = mqtt.generate({ cmd: 'pingreq' });

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
});
afterEach(() => {
  vi.useRealTimers();
});

describe('keepalive', () => {
  it('expires after 1.5 × the keepalive of silence, not before [MQTT-5:3.1.2-22]', async () => {
    const { conn, seen } = open();
    conn.connected(5);
    conn.keepalive(10);
    await vi.advanceTimersByTimeAsync(14_999);
    expect(seen).not.toContain('keepaliveExpired');
    await vi.advanceTimersByTimeAsync(1);
    expect(seen).toContain('keepaliveExpired');
  });

  it('every packet received restarts the keepalive', async () => {
    const { conn, toServer, seen } = open();
    conn.connected(4);
    conn.keepalive(10);
    await vi.advanceTimersByTimeAsync(10_000);
    toServer.write(pingreq);
    await settle();
    expect(seen).toEqual(['packet:pingreq']);
    // 1.5 × 10 s after the PINGREQ, not after the keepalive was armed.
    await vi.advanceTimersByTimeAsync(14_999);
    expect(seen).not.toContain('keepaliveExpired');
    await vi.advanceTimersByTimeAsync(1);
    expect(seen).toContain('keepaliveExpired');
  });

  it('keepalive 0 means no limit', async () => {
    const { conn, seen } = open();
    conn.connected(5);
    conn.keepalive(0);
    await vi.advanceTimersByTimeAsync(24 * 3600 * 1000);
    expect(seen).toEqual([]);
  });
});

describe('CONNECT deadline', () => {
  it('reports a connection that sends no CONNECT within connectTimeoutMs, however slowly it trickles bytes', async () => {
    const { toServer, seen } = open();
    const connect = mqtt.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'slow', clean: true, keepalive: 30 });
    for (let i = 0; i < connect.length - 1; i++) {
      toServer.write(connect.subarray(i, i + 1));
      await vi.advanceTimersByTimeAsync(1000);
    }
    expect(seen).toContain('connectTimeout');
    expect(seen.filter((e) => e.startsWith('packet'))).toEqual([]);
  });

  it('is cancelled once CONNECT arrived', async () => {
    const { conn, seen } = open();
    conn.connected(5);
    await vi.advanceTimersByTimeAsync(OPTIONS.connectTimeoutMs * 2);
    expect(seen).toEqual([]);
  });
});

describe('packet size', () => {
  it('refuses a packet announced over maxPacketBytes from its fixed header, before the body arrives', async () => {
    const { toServer, seen } = open();
    // PUBLISH, Remaining Length 4096 (0x80 0x20): over the 1024-byte bound; no body follows.
    toServer.write(Buffer.from([0x30, 0x80, 0x20]));
    await settle();
    expect(seen).toEqual(['tooLarge']);
  });

  it('passes a packet at the bound', async () => {
    const { toServer, seen } = open();
    const publish = mqtt.generate({ cmd: 'publish', topic: 't', payload: Buffer.alloc(1024 - 2 - 3 - 1), qos: 0, retain: false, dup: false });
    expect(publish.length).toBe(1024);
    toServer.write(publish);
    await settle();
    expect(seen).toEqual(['packet:publish']);
  });
});

describe('backpressure', () => {
  it('reading resumes only when every pause reason is lifted', async () => {
    const { conn, server } = open();
    server.on('data', () => undefined);
    conn.pause('inbound queue');
    conn.pause('control packets');
    expect(server.isPaused()).toBe(true);
    conn.resume('control packets');
    expect(server.isPaused()).toBe(true);
    conn.resume('inbound queue');
    expect(server.isPaused()).toBe(false);
  });

  it('write reports a full transport buffer and drained() resolves when it empties', async () => {
    const { conn, fromServer } = open();
    const big = Buffer.alloc(64 * 1024);
    while (conn.write(big));
    let drained = false;
    void conn.drained().then(() => (drained = true));
    await settle();
    expect(drained).toBe(false);
    fromServer.resume();
    for (let i = 0; i < 10 && !drained; i++) await settle();
    expect(drained).toBe(true);
  });
});

describe('close', () => {
  it('destroys a transport that does not drain within closeDrainMs (the drain timeout)', async () => {
    const toServer = new PassThrough();
    // A peer that never reads: the writes never complete.
    const stuck = new Writable({ highWaterMark: 1, write: () => undefined });
    const server = Duplex.from({ readable: toServer, writable: stuck });
    const { events } = recorder();
    const conn = new Connection(server, OPTIONS, events);
    conn.write(Buffer.from('queued delivery'));
    conn.close();
    expect(conn.isClosing).toBe(true);
    expect(conn.write(Buffer.from('after close'))).toBe(false);
    await vi.advanceTimersByTimeAsync(OPTIONS.closeDrainMs - 1);
    expect(server.destroyed).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(server.destroyed).toBe(true);
  });

  it('flushes what is queued to a reading peer and ends the stream', async () => {
    const { conn, fromServer } = open();
    const received: Buffer[] = [];
    let ended = false;
    fromServer.on('data', (d: Buffer) => received.push(d));
    fromServer.on('end', () => (ended = true));
    conn.write(Buffer.from('final DISCONNECT'));
    conn.close();
    for (let i = 0; i < 10 && !ended; i++) await settle();
    expect(Buffer.concat(received).toString()).toBe('final DISCONNECT');
    expect(ended).toBe(true);
  });
});

describe('user property order of a received PUBLISH [MQTT-5:3.3.2-18]', () => {
  const str = (s: string): Buffer => Buffer.concat([Buffer.from([0, Buffer.byteLength(s)]), Buffer.from(s)]);
  const pair = (n: string, v: string): Buffer => Buffer.concat([Buffer.from([0x26]), str(n), str(v)]);
  /** A v5 PUBLISH built byte by byte: mqtt-packet's generator cannot interleave user properties. */
  function publish(qos: 0 | 1, props: Buffer[]): Buffer {
    const properties = Buffer.concat(props);
    const body = Buffer.concat([str('a/b'), qos > 0 ? Buffer.from([0, 1]) : Buffer.alloc(0), Buffer.from([properties.length]), properties, Buffer.from('payload')]);
    return Buffer.concat([Buffer.from([0x30 | (qos << 1), body.length]), body]);
  }

  it('reaches the record in wire order, interleaved with other properties and split across reads', async () => {
    for (const qos of [0, 1] as const) {
      const packets: mqtt.Packet[] = [];
      const { events } = recorder();
      const toServer = new PassThrough();
      const conn = new Connection(Duplex.from({ readable: toServer, writable: new PassThrough() }), OPTIONS, { ...events, packet: (p) => packets.push(p) });
      toServer.write(mqtt.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'c1', clean: true, keepalive: 0 }, { protocolVersion: 5 }));
      await settle();
      conn.connected(5);
      const bytes = publish(qos, [Buffer.concat([Buffer.from([0x03]), str('text/plain')]), pair('x', '1'), pair('t', 'a'), Buffer.concat([Buffer.from([0x09]), str('cd')]), pair('x', '2'), pair('7', 'i'), pair('t', 'b')]);
      toServer.write(bytes.subarray(0, 9));
      await settle();
      toServer.write(bytes.subarray(9));
      await settle();
      expect(packets.map((x) => x.cmd)).toEqual(['connect', 'publish']);
      const p = packets[1] as mqtt.IPublishPacket;
      // mqtt-packet folds them: names grouped, "7" first.
      expect(Object.keys(p.properties!.userProperties!)).toEqual(['7', 'x', 't']);
      const rec = messageToRecord({ topic: p.topic, payload: p.payload as Buffer, qos: p.qos, retain: p.retain, properties: p.properties }, 'c1');
      expect(rec.headers!.filter((h) => h.name.startsWith('mqtt.up.')).map((h) => `${h.name.slice(8)}=${h.value.toString()}`)).toEqual(['x=1', 't=a', 'x=2', '7=i', 't=b']);
      conn.close();
    }
  });
});
