/**
 * Unit tier: a whole MQTT client (CONNECT handler, keepalive, DISCONNECT) over an in-process duplex
 * pair with fake timers, against an in-memory stand-in for the core. The same behaviour runs
 * against the real gateway and broker in test/mqtt and test/security; here time is fake, so
 * keepalive limits are checked to the millisecond without waiting for them.
 */
import { Duplex, PassThrough } from 'node:stream';
import mqtt, { type Packet } from 'mqtt-packet';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Gateway, Principal, Table } from '../../gateway/api.js';
import { Client } from './client.js';
import { mqttConfigSchema } from './config.js';
import { RC } from './errors.js';
import { SessionRegistry } from './sessions.js';

/** A compacted table in memory: what `Gateway.table` gives the adapter, without a backend. */
class MemoryTable implements Table {
  private readonly rows = new Map<string, Buffer>();
  private readonly listeners = new Set<(key: string) => void>();
  get(key: string): Buffer | undefined {
    return this.rows.get(key);
  }
  entries(): IterableIterator<[string, Buffer]> {
    return this.rows.entries();
  }
  async set(key: string, value: Buffer): Promise<void> {
    this.rows.set(key, value);
    for (const l of this.listeners) l(key);
  }
  async delete(key: string): Promise<void> {
    this.rows.delete(key);
    for (const l of this.listeners) l(key);
  }
  onChange(listener: (key: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  async sync(): Promise<void> {}
}

const log = pino({ level: 'silent' });

/**
 * The core as far as CONNECT, PINGREQ and DISCONNECT of an unauthenticated client need it (no
 * authentication configured: one unrestricted anonymous principal). Anything else throws, so a
 * test that reaches further fails instead of passing on a fake.
 */
function fakeGateway(): Gateway {
  const tables = new Map<string, MemoryTable>();
  const anonymous: Principal = { id: 'anonymous', anonymous: true };
  const fake: Partial<Gateway> = {
    log,
    instanceId: 'unit-instance',
    instanceAlive: () => true,
    table: async (name) => {
      let t = tables.get(name);
      if (t === undefined) tables.set(name, (t = new MemoryTable()));
      return t;
    },
    connectionOpened: () => () => undefined,
    connectionIdentified: () => () => undefined,
    authenticate: async () => anonymous,
    authorize: () => undefined,
    permits: () => true,
  };
  return new Proxy(fake as Gateway, {
    get: (target, prop) => {
      if (prop in target || prop === 'then') return target[prop as keyof Gateway];
      throw new Error(`the unit fake has no Gateway.${String(prop)}`);
    },
  });
}

/** A client on the other end of an in-process duplex: what it sends, what it received. */
interface Peer {
  readonly packets: Packet[];
  readonly ended: () => boolean;
  send(packet: Packet): void;
}

function connectPeer(registry: SessionRegistry, version: 4 | 5): Peer {
  const toServer = new PassThrough();
  const fromServer = new PassThrough();
  new Client(registry, Duplex.from({ readable: toServer, writable: fromServer }), 'tcp', { address: '127.0.0.1' });
  const packets: Packet[] = [];
  let ended = false;
  const parser = mqtt.parser({ protocolVersion: version });
  parser.on('packet', (p: Packet) => packets.push(p));
  fromServer.on('data', (d: Buffer) => parser.parse(d));
  fromServer.on('end', () => (ended = true));
  return { packets, ended: () => ended, send: (p) => toServer.write(mqtt.generate(p, { protocolVersion: version })) };
}

/** Lets stream events (process.nextTick, not faked) and promise callbacks run, up to a bound. */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (condition()) return;
    await new Promise((resolve) => setImmediate(resolve));
  }
  throw new Error(`not reached: ${what}`);
}

const has = (peer: Peer, cmd: Packet['cmd']): boolean => peer.packets.some((p) => p.cmd === cmd);

let registry: SessionRegistry;

async function start(config: Record<string, unknown> = {}): Promise<void> {
  registry = await SessionRegistry.open(fakeGateway(), mqttConfigSchema.parse(config), log);
}

async function connect(version: 4 | 5, keepalive: number, clientId: string): Promise<Peer> {
  const peer = connectPeer(registry, version);
  peer.send({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clientId, clean: true, keepalive });
  await until(() => has(peer, 'connack'), 'CONNACK');
  return peer;
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
});
afterEach(async () => {
  await registry.close();
  vi.useRealTimers();
});

describe('keepalive', () => {
  it('v5: a client silent for 1.5 × its keepalive gets DISCONNECT 0x8D and is closed, not earlier', async () => {
    await start();
    const peer = await connect(5, 1, 'ka');
    await vi.advanceTimersByTimeAsync(1_499);
    await until(() => true, 'settled');
    expect(has(peer, 'disconnect')).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await until(() => has(peer, 'disconnect') && peer.ended(), 'DISCONNECT and close');
    const d = peer.packets.find((p) => p.cmd === 'disconnect') as mqtt.IDisconnectPacket;
    expect(d.reasonCode).toBe(RC.KEEP_ALIVE_TIMEOUT);
  });

  it('3.1.1: closed without a DISCONNECT (3.1.1 has no server DISCONNECT)', async () => {
    await start();
    const peer = await connect(4, 2, 'ka4');
    await vi.advanceTimersByTimeAsync(3_000);
    await until(() => peer.ended(), 'close');
    expect(peer.packets.map((p) => p.cmd)).toEqual(['connack']);
  });

  it('a PINGREQ is answered with PINGRESP and restarts the keepalive', async () => {
    await start();
    const peer = await connect(5, 10, 'ping');
    await vi.advanceTimersByTimeAsync(10_000);
    peer.send({ cmd: 'pingreq' });
    await until(() => has(peer, 'pingresp'), 'PINGRESP');
    await vi.advanceTimersByTimeAsync(14_999);
    await until(() => true, 'settled');
    expect(has(peer, 'disconnect')).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await until(() => has(peer, 'disconnect'), 'DISCONNECT');
  });

  it('keepaliveMaxSeconds: v5 is told via Server Keep Alive; a 3.1.1 client asking for none is closed after 1.5 × the maximum; a larger 3.1.1 keepalive is honoured', async () => {
    await start({ keepaliveMaxSeconds: 1 });
    const v5 = await connect(5, 0, 'k5');
    expect((v5.packets[0] as mqtt.IConnackPacket).properties?.serverKeepAlive).toBe(1);
    const silent = await connect(4, 0, 'k0');
    const patient = await connect(4, 30, 'k30');
    await vi.advanceTimersByTimeAsync(1_499);
    await until(() => true, 'settled');
    expect(silent.ended()).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await until(() => silent.ended(), '3.1.1 keepalive-0 client closed');
    await vi.advanceTimersByTimeAsync(30_000);
    await until(() => true, 'settled');
    expect(patient.ended()).toBe(false);
  });

  it('keepaliveMaxSeconds holds a v5 client asking for more to the maximum: Server Keep Alive, then DISCONNECT 0x8D at 1.5 × the maximum', async () => {
    await start({ keepaliveMaxSeconds: 2 });
    const peer = await connect(5, 600, 'k600');
    expect((peer.packets[0] as mqtt.IConnackPacket).properties?.serverKeepAlive).toBe(2);
    await vi.advanceTimersByTimeAsync(2_999);
    await until(() => true, 'settled');
    expect(has(peer, 'disconnect')).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    await until(() => has(peer, 'disconnect'), 'DISCONNECT');
    expect((peer.packets.find((p) => p.cmd === 'disconnect') as mqtt.IDisconnectPacket).reasonCode).toBe(RC.KEEP_ALIVE_TIMEOUT);
  });
});

describe('DISCONNECT', () => {
  it('a normal DISCONNECT closes the connection and ends its non-persistent session', async () => {
    await start();
    const peer = await connect(5, 30, 'bye');
    expect(registry.sessions.has('bye')).toBe(true);
    peer.send({ cmd: 'disconnect', reasonCode: 0 });
    await until(() => peer.ended() && !registry.sessions.has('bye'), 'closed and session gone');
  });
});
