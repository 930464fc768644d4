/**
 * Outbound delivery to one client: records → PUBLISH packets (encoded once for every subscriber
 * where the bytes are the same), QoS 0 batches in one socket write, the QoS 1/2 in-flight window
 * with its packet ids, and the client's PUBACK / PUBREC / PUBCOMP.
 */
import type { IPublishPacket, Packet } from 'mqtt-packet';
import { encodeOnce } from '../../gateway/encoded.js';
import { GatewayError } from '../../gateway/errors.js';
import { mqttMatch } from '../../gateway/hub/filters.js';
import { headerValue, type StreamRecord } from '../../gateway/record.js';
import type { Client } from './client.js';
import { HEADER, recordToDelivery, type QoS } from './codec.js';
import { MAX_PACKET_ID } from './config.js';
import type { PendingOut, SubSpec } from './session.js';

/** The names of one Kafka topic's shared encodings (see Delivery.formatsOf). */
interface RecordFormats {
  readonly nullKeyTopic: string;
  readonly delivery: string;
  /** PUBLISH bytes by `qos * 2 + retain` (QoS>0 ones carry a placeholder packet id, see withPacketId). */
  readonly publish: readonly string[];
}

/** A record's PUBLISH for one subscription; `shared` names its encoding when every subscriber gets the same bytes. */
export interface Built {
  readonly packet: IPublishPacket;
  readonly qos: QoS;
  readonly shared?: string;
}

/** Another subscription of this connection that may match a record its own reader has not reached yet. */
export interface Overlap {
  readonly spec: SubSpec;
  /** This record went out for that subscription too: its reader skips it. */
  cover(): void;
}

/** What a subscription's reader asks about the connection's other subscriptions (Subscriptions). */
export interface Coalescing {
  /** Whether another subscription's PUBLISH already carried this record for this one (then it is consumed). */
  covered(record: StreamRecord): boolean;
  /** The other subscriptions that may still want this record. */
  overlapping(record: StreamRecord): Overlap[];
}

export class Delivery {
  /** QoS>0 deliveries in flight at most: ours, lowered to the client's Receive Maximum [MQTT-5:3.3.4-9]. */
  private sendQuota: number;
  /** The client's Maximum Packet Size (v5): nothing larger is sent [MQTT-5:3.1.2-24]. */
  private clientMaxPacket = Infinity;
  /**
   * Topic aliases this server may set toward the client: its Topic Alias Maximum, capped by
   * `mqtt.topicAliasMaximum` (v5; 0 = none, the default when the client names none [MQTT-5:3.1.2-26]).
   */
  private aliasMax = 0;
  /** Topic name → alias the client was told on this connection (aliases do not outlive it, MQTT-5 §3.3.2.3.4). */
  private readonly aliasOut = new Map<string, number>();
  /** Per Kafka topic; filled only after CONNECT fixed the protocol version. */
  private readonly formats = new Map<string, RecordFormats>();
  private readonly slotWaiters: (() => void)[] = [];
  private nextPid = 1;

  constructor(private readonly client: Client) {
    this.sendQuota = client.registry.config.maxInflight;
  }

  /** QoS>0 deliveries this connection may have in flight (a shared subscription's window in its group). */
  get window(): number {
    return this.sendQuota;
  }

  /** Applies the client's CONNECT limits (v5 Receive Maximum, Maximum Packet Size, Topic Alias Maximum). */
  limit(receiveMaximum: number | undefined, maximumPacketSize: number | undefined, topicAliasMaximum: number | undefined): void {
    const cfg = this.client.registry.config;
    if (receiveMaximum !== undefined) this.sendQuota = Math.min(cfg.maxInflight, receiveMaximum);
    if (maximumPacketSize !== undefined) this.clientMaxPacket = maximumPacketSize;
    if (topicAliasMaximum !== undefined) this.aliasMax = Math.min(cfg.topicAliasMaximum, topicAliasMaximum);
  }

  /**
   * A packet's bytes within the client's Maximum Packet Size: an acknowledgement that would exceed
   * it loses its Reason String, then its User Properties [MQTT-5:3.2.2-19] [MQTT-5:3.2.2-20] (the
   * same rule for PUBACK … AUTH, MQTT-5 §3.4.2.2.2 ff.). Undefined for a PUBLISH that does not fit:
   * it is not sent [MQTT-5:3.1.2-25].
   */
  fitted(packet: Packet): Buffer | undefined {
    const conn = this.client.conn;
    let bytes = conn.encode(packet);
    if (bytes.length <= this.clientMaxPacket) return bytes;
    if (packet.cmd === 'publish') return undefined;
    const props = (packet as { properties?: Record<string, unknown> }).properties;
    for (const optional of ['reasonString', 'userProperties']) {
      if (props?.[optional] === undefined) continue;
      const { [optional]: _dropped, ...rest } = (packet as { properties: Record<string, unknown> }).properties;
      packet = { ...packet, properties: rest } as Packet;
      bytes = conn.encode(packet);
      if (bytes.length <= this.clientMaxPacket) return bytes;
    }
    return bytes; // nothing optional left: what the packet must carry is sent as it is
  }

  /**
   * The bytes of an outgoing PUBLISH on this connection, and what to remember once they are
   * written. With topic aliases allowed, a topic sent before goes as an empty name with its alias
   * and a new one gets the next free alias (a fixed set, first come; no replacement) [MQTT-5:3.3.2-12]
   * — such bytes are this connection's own. Otherwise `shared` (one encoding for every subscriber)
   * when given. Undefined when the packet is over the client's Maximum Packet Size [MQTT-5:3.1.2-24].
   */
  private wire(packet: IPublishPacket, shared: (() => Buffer) | undefined): { bytes: Buffer; sent(): void } | undefined {
    const conn = this.client.conn;
    let bytes: Buffer;
    let sent = (): void => undefined;
    if (this.aliasMax > 0) {
      const known = this.aliasOut.get(packet.topic);
      const alias = known ?? (this.aliasOut.size < this.aliasMax ? this.aliasOut.size + 1 : undefined);
      if (alias === undefined) bytes = conn.encode(packet);
      else {
        bytes = conn.encode({ ...packet, topic: known === undefined ? packet.topic : '', properties: { ...packet.properties, topicAlias: alias } });
        // The client learns the alias only from bytes it receives: remembered once they are written.
        if (known === undefined) sent = () => void this.aliasOut.set(packet.topic, alias);
      }
    } else {
      bytes = shared === undefined ? conn.encode(packet) : shared();
    }
    if (bytes.length > this.clientMaxPacket) {
      this.client.log.info({ size: bytes.length, max: this.clientMaxPacket }, 'delivery over the client maximum packet size dropped');
      return undefined;
    }
    return { bytes, sent };
  }

  /** The connection closed: deliveries waiting for a slot give up. */
  release(): void {
    for (const w of this.slotWaiters.splice(0)) w();
  }

  // ---- acknowledgements from the client -------------------------------------------------------

  /** PUBACK (QoS 1) or PUBCOMP (QoS 2): the flow is complete, its slot and packet id free. */
  completed(pid: number | undefined, qos: 1 | 2): void {
    const s = this.client.session!;
    const p = pid === undefined ? undefined : s.pending.get(pid);
    if (p === undefined || p.qos !== qos) return; // late or unknown ack: nothing to release
    s.pending.delete(p.pid);
    s.dirty = true;
    p.onAcked?.();
    this.slotWaiters.shift()?.();
  }

  pubrec(pid: number, reasonCode: number): void {
    const s = this.client.session!;
    const p = s.pending.get(pid);
    if (p === undefined || p.qos !== 2) {
      const answer = this.client.protocol.pubrelUnknown(pid);
      if (answer !== undefined) this.client.send(answer);
      return;
    }
    // A PUBREC of 0x80 or more ends the flow: its packet id is free again (MQTT-5 §4.3.3).
    if (reasonCode >= 0x80) return this.completed(pid, 2);
    p.state = 'pubrel';
    p.packet = undefined;
    s.dirty = true;
    this.client.send({ cmd: 'pubrel', messageId: pid }); // [MQTT-5:4.3.3-4] [MQTT-3.1.1:4.3.3-1]
  }

  // ---- records → PUBLISH ----------------------------------------------------------------------

  /**
   * Builds the outgoing PUBLISH for a record under a subscription, or undefined if it is not for it.
   * `shared` names the encoding when the packet's bytes are the same for every subscriber that
   * gets it but for the packet id of QoS>0 (no MQTT 5 subscription identifier, no time-dependent expiry).
   */
  toPacket(spec: SubSpec, record: StreamRecord, forceQos?: 1 | 2, hubMatched = false): Built | undefined {
    const f = this.formatsOf(record.topic);
    const defaultQos = this.client.registry.config.foreignRecordQos;
    // The delivery form of a record is the same for every session, unless its expiry counts down
    // with time ([MQTT-5:3.3.2-6]): decode it once per record, not once per subscriber.
    const timeless = headerValue(record.headers, HEADER.messageExpiry) === undefined;
    const d = timeless
      ? encodeOnce(record, f.delivery, (r) => recordToDelivery(r, f.nullKeyTopic, defaultQos, Date.now()))
      : recordToDelivery(record, f.nullKeyTopic, defaultQos, Date.now());
    if (d === undefined) return undefined;
    // `hubMatched`: the hub already matched this filter against the key (the topic name); only
    // records without a key, or from a reader that reads everything, are checked here.
    if (!(hubMatched && record.key !== null) && !mqttMatch(spec.filter, d.topic)) return undefined;
    if (spec.noLocal && d.clientId === this.client.clientId) return undefined; // [MQTT-5:3.8.3-3]
    if (d.expiry !== undefined && d.expiry <= 0) return undefined; // [MQTT-5:3.3.2-5] expired
    const qos = forceQos ?? (Math.min(spec.qos, d.qos) as QoS); // [MQTT-5:3.8.4-8] [MQTT-3.1.1:3.8.4-6]
    // [MQTT-5:3.3.1-12] [MQTT-5:3.3.1-13] Retain As Published; 3.1.1 subscriptions have it 0 [MQTT-3.1.1:3.3.1-9].
    const retain = spec.retainAsPublished && d.retain;
    const packet = this.publishPacket(spec, d.topic, d.payload, qos, retain, d.properties);
    const perSubscriber = !timeless || this.client.protocol.perSubscriber(spec.subscriptionId);
    return perSubscriber ? { packet, qos } : { packet, qos, shared: f.publish[qos * 2 + (retain ? 1 : 0)]! };
  }

  /** Names of the shared encodings of one Kafka topic's records (built once, not per record). */
  private formatsOf(kafkaTopic: string): RecordFormats {
    let f = this.formats.get(kafkaTopic);
    if (f === undefined) {
      const { registry, protocol } = this.client;
      const nullKeyTopic = registry.routes.nullKeyTopicFor(kafkaTopic);
      // Everything the encodings depend on besides the record: the route's keyless topic name,
      // the configured default QoS and, for packets, the protocol version and RETAIN flag.
      const delivery = `mqtt.delivery\0${registry.config.foreignRecordQos}\0${nullKeyTopic}`;
      const publish = [0, 1, 2].flatMap((qos) => [0, 1].map((retain) => `mqtt.publish\0v${protocol.level}\0q${qos}\0r${retain}\0${delivery}`));
      f = { nullKeyTopic, delivery, publish };
      this.formats.set(kafkaTopic, f);
    }
    return f;
  }

  publishPacket(spec: SubSpec, topic: string, payload: Buffer, qos: QoS, retain: boolean, properties: NonNullable<IPublishPacket['properties']>): IPublishPacket {
    return this.packetFor([spec], topic, payload, qos, retain, properties);
  }

  private packetFor(specs: readonly SubSpec[], topic: string, payload: Buffer, qos: QoS, retain: boolean, properties: NonNullable<IPublishPacket['properties']>): IPublishPacket {
    const packet: IPublishPacket = { cmd: 'publish', topic, payload, qos, retain, dup: false };
    const ids = specs.map((s) => s.subscriptionId).filter((id): id is number => id !== undefined);
    const props = this.client.protocol.publishProperties(properties, ids);
    if (props !== undefined) packet.properties = props;
    return packet;
  }

  /**
   * One PUBLISH for a record several of this connection's subscriptions match, instead of one per
   * subscription: at the highest of their QoS [MQTT-5:3.3.4-2] [MQTT-3.1.1:3.3.5-1], with every
   * matching Subscription Identifier [MQTT-5:3.3.4-4], RETAIN when any of them keeps it (Retain As
   * Published). `others` are the subscriptions whose own reader has not passed the record yet
   * (Subscriptions.overlapping); those that get this copy are told to skip it (`cover`).
   */
  private merged(first: Built, spec: SubSpec, record: StreamRecord, others: readonly Overlap[]): Built {
    const specs = [spec];
    let { qos } = first;
    let retain = first.packet.retain;
    for (const o of others) {
      const b = this.toPacket(o.spec, record);
      if (b === undefined) continue;
      o.cover();
      specs.push(o.spec);
      if (b.qos > qos) qos = b.qos;
      retain ||= b.packet.retain;
    }
    if (specs.length === 1) return first;
    const p = first.packet;
    return { packet: this.packetFor(specs, p.topic, p.payload as Buffer, qos, retain, p.properties ?? {}), qos };
  }

  // ---- writing --------------------------------------------------------------------------------

  /**
   * Hub batches: consecutive QoS 0 PUBLISH packets go out in ONE socket write (one syscall, not
   * one per packet), their bytes encoded once per record for all subscribers where they are the
   * same; a QoS>0 delivery (packet id, in-flight window) flushes what is collected and takes the
   * per-packet path (`qosPath`, which settles that record itself). Resolves when the socket took
   * the bytes below its high-water mark. `written(rec)` runs in order for every other record once
   * its bytes are written (or it was not for this subscriber). False when the connection or the
   * subscription is no longer open.
   */
  async deliverBatch(
    batch: readonly StreamRecord[],
    spec: () => SubSpec,
    /** The hub filtered the batch by the subscription's MQTT filter (see toPacket). */
    hubMatched: boolean,
    open: () => boolean,
    qosPath: (rec: StreamRecord, packet: IPublishPacket, encoded: (() => Buffer) | undefined) => Promise<boolean>,
    written: (rec: StreamRecord) => void,
    /** The connection's other subscriptions, for one PUBLISH per record (not for shared subscriptions). */
    overlap?: Coalescing,
  ): Promise<boolean> {
    const { client } = this;
    const conn = client.conn;
    let out: Buffer[] = [];
    let done: StreamRecord[] = [];
    // Records count as handled once their bytes are written, not when they are collected.
    const flush = (): boolean => {
      const ok = out.length === 0 || conn.write(out.length === 1 ? out[0]! : Buffer.concat(out));
      out = [];
      for (const rec of done) written(rec);
      done = [];
      return ok;
    };
    for (const rec of batch) {
      // Nothing is written once the subscription or connection closed (as `send` refuses to).
      if (!open() || client.state !== 'open') return false;
      // Already sent, for this subscription too, by another one's reader.
      if (overlap?.covered(rec) === true) {
        done.push(rec);
        continue;
      }
      let built = this.toPacket(spec(), rec, undefined, hubMatched);
      if (built !== undefined && overlap !== undefined) {
        const others = overlap.overlapping(rec);
        if (others.length > 0) built = this.merged(built, spec(), rec, others);
      }
      if (built !== undefined && built.qos > 0) {
        flush();
        const shared = built.shared;
        const encoded = shared === undefined ? undefined : () => encodeOnce(rec, shared, () => conn.encode({ ...built.packet, messageId: 1 }));
        if (!(await qosPath(rec, built.packet, encoded))) return false;
        continue;
      }
      if (built !== undefined) {
        const shared = built.shared;
        // [MQTT-5:3.1.2-24] [MQTT-5:3.1.2-25] a packet over the client's Maximum Packet Size is not sent (as if delivered).
        const w = this.wire(built.packet, shared === undefined ? undefined : () => encodeOnce(rec, shared, () => conn.encode(built.packet)));
        if (w !== undefined) {
          out.push(w.bytes);
          w.sent();
        }
      }
      done.push(rec);
    }
    if (!flush()) await conn.drained();
    return client.state === 'open' && open();
  }

  /**
   * Sends one delivery; QoS>0 waits for a free slot in the client's window first. `encoded`: the
   * packet's bytes shared by every subscriber (with a placeholder packet id for QoS>0, replaced
   * here); without it the packet is encoded for this delivery alone.
   */
  async deliver(packet: IPublishPacket, source: PendingOut['source'], onAcked: (() => void) | undefined, shared: boolean, encoded?: () => Buffer): Promise<boolean> {
    const { client } = this;
    const s = client.session!;
    if (packet.qos > 0) {
      while (s.pending.size >= this.sendQuota && client.state === 'open') await new Promise<void>((r) => this.slotWaiters.push(r));
      if (client.state !== 'open') return false;
      packet.messageId = this.allocPid();
    }
    const w = this.wire(packet, encoded === undefined ? undefined : packet.qos > 0 ? () => withPacketId(encoded(), packet.messageId!) : encoded);
    // [MQTT-5:3.1.2-24] [MQTT-5:3.1.2-25] a packet over the client's Maximum Packet Size is not sent,
    // and counts as delivered (a QoS>0 one takes no slot), so the session does not stall on it.
    if (w === undefined) {
      onAcked?.();
      return true;
    }
    if (packet.qos > 0) {
      const pid = packet.messageId!;
      s.pending.set(pid, { pid, qos: packet.qos as 1 | 2, state: 'publish', source, packet, onAcked, shared });
      s.dirty = true;
    }
    const ok = !client.isClosed() && client.conn.write(w.bytes);
    w.sent();
    if (packet.qos === 0) onAcked?.();
    if (!ok) await client.conn.drained();
    return client.state === 'open';
  }

  private allocPid(): number {
    const s = this.client.session!;
    for (let i = 0; i < MAX_PACKET_ID; i++) {
      const pid = this.nextPid;
      this.nextPid = this.nextPid >= MAX_PACKET_ID ? 1 : this.nextPid + 1;
      if (!s.pending.has(pid)) return pid; // [MQTT-5:2.2.1-4] [MQTT-3.1.1:2.3.1-4] an id is free once its flow completed
    }
    throw new GatewayError('RESOURCE_EXHAUSTED', 'no free packet identifier');
  }
}

/**
 * A copy of an encoded QoS>0 PUBLISH with its Packet Identifier set: the variable header is the
 * Topic Name (2-byte length + UTF-8) followed by the Packet Identifier (MQTT-5 §3.3.2), after the
 * fixed header's byte and Remaining Length (1–4 bytes, high bit = more follow; MQTT-5 §2.1.4).
 */
function withPacketId(template: Buffer, pid: number): Buffer {
  let i = 1;
  while ((template[i]! & 0x80) !== 0) i++;
  const at = i + 1 + 2 + template.readUInt16BE(i + 1);
  const out = Buffer.allocUnsafe(template.length);
  template.copy(out);
  out.writeUInt16BE(pid, at);
  return out;
}
