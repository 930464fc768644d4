/** Helpers for MQTT integration tests: MQTT.js clients that record what they receive, raw sockets. */
import { connect as netConnect, type Socket } from 'node:net';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { eventually } from '../support/wait.js';

export interface Received {
  topic: string;
  payload: string;
  packet: mqtt.IPublishPacket;
}

/** An MQTT.js client plus the messages it received, in order. */
export interface TestClient {
  client: MqttClient;
  received: Received[];
  /** Waits until at least n messages arrived; returns them. */
  waitFor(n: number, timeoutMs?: number): Promise<Received[]>;
  end(force?: boolean): Promise<void>;
}

export async function connectClient(url: string, options: IClientOptions = {}): Promise<TestClient> {
  const received: Received[] = [];
  // The listeners go on before CONNECT is sent: a resumed session's PUBLISHes may arrive in the same
  // TCP read as the CONNACK, and MQTT.js emits them before `connectAsync` resolves — a listener
  // attached afterwards misses them.
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
  client.on('message', (topic, payload, packet) => received.push({ topic, payload: payload.toString(), packet }));
  await new Promise<void>((resolve, reject) => {
    const done = (): void => {
      client.off('connect', onConnect);
      client.off('error', onError);
      client.off('close', onClose);
    };
    const onConnect = (): void => {
      done();
      resolve();
    };
    const onError = (err: Error): void => {
      done();
      client.end(true);
      reject(err);
    };
    const onClose = (): void => onError(new Error('connection closed before CONNACK'));
    client.on('connect', onConnect);
    client.on('error', onError);
    client.on('close', onClose);
  });
  // Errors are asserted by the tests that expect them; keep them off the default handler.
  client.on('error', () => undefined);
  return {
    client,
    received,
    waitFor: (n, timeoutMs = 10_000) => eventually(() => received.length >= n && received, { timeoutMs, what: `${n} MQTT messages` }),
    end: async (force = false) => {
      await client.endAsync(force);
    },
  };
}

/** A raw TCP connection speaking MQTT packets, for bad-input and protocol-detail tests. */
export class RawClient {
  readonly packets: Packet[] = [];
  closed = false;
  private readonly parser;

  private constructor(
    readonly socket: Socket,
    version: 4 | 5,
  ) {
    this.parser = mqttPacket.parser({ protocolVersion: version });
    this.parser.on('packet', (p: Packet) => this.packets.push(p));
    this.parser.on('error', () => undefined);
    socket.on('data', (d: Buffer) => this.parser.parse(d));
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => undefined);
  }

  static open(port: number, version: 4 | 5 = 5): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = netConnect(port, '127.0.0.1', () => resolve(new RawClient(socket, version)));
      socket.once('error', reject);
    });
  }

  send(packet: Packet, version: 4 | 5 = 5): void {
    this.socket.write(mqttPacket.generate(packet, { protocolVersion: version }));
  }

  write(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  next<C extends Packet['cmd']>(cmd: C, timeoutMs = 5000): Promise<Extract<Packet, { cmd: C }>> {
    return eventually(() => this.packets.find((p) => p.cmd === cmd) as Extract<Packet, { cmd: C }> | undefined, { timeoutMs, what: `a ${cmd} packet` });
  }

  waitClosed(timeoutMs = 5000): Promise<true> {
    return eventually(() => this.closed, { timeoutMs, what: 'connection closed' });
  }

  destroy(): void {
    this.socket.destroy();
  }
}
