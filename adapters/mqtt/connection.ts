/**
 * One MQTT network connection's bytes: framing (mqtt-packet parser and generator), the packet-size
 * bound, the CONNECT deadline, keepalive, writes with backpressure, and the close with a bounded
 * drain. Transport-agnostic, as aedes' `handle(duplex)`: any Duplex (a TCP or TLS socket, a
 * WebSocket stream). It knows nothing of sessions or the core; what happens is reported to the
 * `ConnectionEvents` of the client above it.
 */
import type { Duplex } from 'node:stream';
import mqtt, { type Packet } from 'mqtt-packet';
import { publishHeaderLength, rememberReceivedOrder, wireOrderUserProperties } from './codec.js';
import { KEEPALIVE_GRACE } from './config.js';

/** What the connection reports to the protocol layer above it. */
export interface ConnectionEvents {
  /** One complete packet within the size bound. */
  packet(packet: Packet): void;
  /** Bytes mqtt-packet cannot parse (an unsupported protocol level among them). */
  malformed(err: Error): void;
  /** A packet over `maxPacketBytes`, refused from its fixed header before the body is buffered. */
  tooLarge(): void;
  /** No CONNECT within `connectTimeoutMs`. */
  connectTimeout(): void;
  /** Nothing received for KEEPALIVE_GRACE × the keepalive. */
  keepaliveExpired(): void;
  /** The transport ended, failed or closed (`why` for the log). */
  ended(why: string, err?: Error): void;
}

export interface ConnectionOptions {
  /** `mqtt.maxPacketBytes`: the largest packet accepted, counted whole (fixed header included). */
  readonly maxPacketBytes: number;
  /** `mqtt.connectTimeoutMs`: the time a new connection has to send CONNECT. */
  readonly connectTimeoutMs: number;
  /**
   * `mqtt.closeDrainMs`, the drain timeout: how long a closing connection may flush what is queued
   * (a final CONNACK or DISCONNECT behind deliveries) before the transport is destroyed.
   */
  readonly closeDrainMs: number;
}

export class Connection {
  private readonly parser = mqtt.parser({ protocolVersion: 4 });
  private level: 4 | 5 = 4;
  private lastPacketAt = Date.now();
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  private closing = false;
  /** Why reading is paused (several independent bounds); reading resumes when none is left. */
  private readonly pausedFor = new Set<string>();
  /** The variable header of the PUBLISH being parsed (see capturePublishHeader). */
  private publishHeader: Buffer | undefined;

  constructor(
    private readonly stream: Duplex,
    private readonly options: ConnectionOptions,
    private readonly events: ConnectionEvents,
  ) {
    this.capturePublishHeader();
    this.parser.on('packet', (p: Packet) => this.onPacket(p));
    this.parser.on('error', (err: Error) => {
      if (!this.closing) events.malformed(err);
    });
    stream.on('data', (chunk: Buffer) => this.onData(chunk));
    stream.on('error', (err) => events.ended('transport error', err));
    stream.on('close', () => events.ended('transport closed'));
    stream.on('end', () => events.ended('transport ended'));
    // [MQTT-5:3.1.0-1] the first packet must be CONNECT; one that does not come within a reasonable
    // time closes the connection (MQTT-5 §3.1.4), however slowly its bytes trickle in.
    this.connectTimer = setTimeout(() => events.connectTimeout(), options.connectTimeoutMs);
  }

  /** True once `close` ran: nothing more is read, parsed or written. */
  get isClosing(): boolean {
    return this.closing;
  }

  /** CONNECT arrived: its deadline no longer applies, and packets are encoded for its protocol level. */
  connected(level: 4 | 5): void {
    clearTimeout(this.connectTimer);
    this.level = level;
  }

  /**
   * Watches the keepalive: after KEEPALIVE_GRACE × `seconds` without a packet from the client,
   * `keepaliveExpired` [MQTT-5:3.1.2-22] [MQTT-3.1.1:3.1.2-24]. 0 = no limit.
   */
  keepalive(seconds: number): void {
    clearTimeout(this.keepaliveTimer);
    if (seconds === 0) return;
    const limit = seconds * 1000 * KEEPALIVE_GRACE;
    // One timer, re-armed for the remaining time, instead of one reset per packet.
    const check = (): void => {
      if (this.closing) return;
      const idle = Date.now() - this.lastPacketAt;
      if (idle >= limit) return this.events.keepaliveExpired();
      this.keepaliveTimer = setTimeout(check, limit - idle);
    };
    this.keepaliveTimer = setTimeout(check, limit);
  }

  // ---- input --------------------------------------------------------------------------------

  private onData(chunk: Buffer): void {
    if (this.closing) return;
    this.lastPacketAt = Date.now();
    this.parser.parse(chunk);
    // The parser buffers a packet until it is complete: one announced over the limit is refused
    // right away [MQTT-5:3.2.2-15] (0x95, MQTT-5 §4.13).
    const pending = (this.parser as unknown as { packet: { length: number } }).packet.length;
    if (!this.closing && pending > 0 && totalSize(pending) > this.options.maxPacketBytes) this.events.tooLarge();
  }

  /**
   * Keeps the variable header (topic, packet id, properties) of each v5 PUBLISH as received:
   * mqtt-packet's parser folds user properties into an object by name, and their order is part
   * of the message [MQTT-5:3.3.2-18]. Its `_parsePayload` step runs once the whole packet is
   * buffered, before the bytes are consumed; only the header is copied, never the payload.
   */
  private capturePublishHeader(): void {
    const parser = this.parser as unknown as { _parsePayload: () => boolean; _list: { length: number; get(i: number): number; slice(a: number, b: number): Buffer }; packet: { cmd?: string; length: number; qos?: number } };
    const parsePayload = parser._parsePayload;
    parser._parsePayload = () => {
      const list = parser._list;
      const length = parser.packet.length;
      this.publishHeader = undefined;
      if (this.level === 5 && parser.packet.cmd === 'publish' && length > 2 && list.length >= length) {
        // topic length (2) + topic + packet id (≤ 2) + property length (≤ 4) + properties.
        const upToProps = Math.min(length, 2 + ((list.get(0) << 8) | list.get(1)) + 2 + 4);
        const headerLength = publishHeaderLength(list.slice(0, upToProps), parser.packet.qos ?? 0);
        if (headerLength !== undefined && headerLength <= length) this.publishHeader = list.slice(0, headerLength);
      }
      return parsePayload.call(parser);
    };
  }

  private onPacket(packet: Packet): void {
    if (this.closing) return;
    if (packet.cmd === 'publish' && this.publishHeader !== undefined) rememberReceivedOrder(packet.properties?.userProperties, this.publishHeader, packet.qos);
    this.publishHeader = undefined;
    if (packet.length !== undefined && totalSize(packet.length) > this.options.maxPacketBytes) return this.events.tooLarge();
    this.events.packet(packet);
  }

  /** Stops reading for `reason` (TCP flow control then slows the client). */
  pause(reason: string): void {
    if (this.pausedFor.size === 0) this.stream.pause();
    this.pausedFor.add(reason);
  }

  /** Lifts the pause for `reason`; reading resumes when no other reason holds it. */
  resume(reason: string): void {
    if (!this.pausedFor.delete(reason)) return;
    if (this.pausedFor.size === 0 && !this.closing) this.stream.resume();
  }

  // ---- output -------------------------------------------------------------------------------

  /** The packet's bytes for this connection's protocol level. */
  encode(packet: Packet): Buffer {
    const bytes = mqtt.generate(packet, { protocolVersion: this.level });
    // mqtt-packet writes repeated user properties grouped by name; put them in the record's order.
    return packet.cmd === 'publish' && this.level === 5 ? wireOrderUserProperties(bytes, packet.qos, packet.properties?.userProperties) : bytes;
  }

  /**
   * Writes bytes. False when the transport is gone or its buffer is above the high-water mark:
   * then `drained()` says when more may be written.
   */
  write(bytes: Buffer): boolean {
    if (this.stream.destroyed || this.stream.writableEnded) return false;
    return this.stream.write(bytes);
  }

  /** Resolves when the transport drained its buffer (at once when it need not), or closed. */
  drained(): Promise<void> {
    if (this.stream.destroyed || !this.stream.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.stream.off('drain', done);
        this.stream.off('close', done);
        resolve();
      };
      this.stream.on('drain', done);
      this.stream.on('close', done);
    });
  }

  /**
   * Ends the transport: what is queued (a final CONNACK or DISCONNECT) is flushed; a peer that does
   * not read is cut off after `closeDrainMs`, so a dead one never holds its buffers.
   */
  close(): void {
    if (this.closing) return;
    this.closing = true;
    clearTimeout(this.connectTimer);
    clearTimeout(this.keepaliveTimer);
    this.stream.end();
    setTimeout(() => this.stream.destroy(), this.options.closeDrainMs).unref();
  }
}

/** Total packet size from the Remaining Length: the fixed header's byte, the length's bytes, the rest (MQTT-5 §2.1.4). */
function totalSize(remaining: number): number {
  const lengthBytes = remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4;
  return 1 + lengthBytes + remaining;
}
