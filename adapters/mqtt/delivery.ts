/**
 * Outbound delivery to one client: records → PUBLISH packets (encoded once for every subscriber
 * where the bytes are the same), QoS 0 batches in one socket write, the QoS 1/2 in-flight window
 * with its packet ids, and the client's PUBACK / PUBREC / PUBCOMP.
 */
import type { IPublishPacket } from 'mqtt-packet';
import { encodeOnce } from '../../gateway/encoded.js';
import { GatewayError } from '../../gateway/errors.js';
import { mqttMatch } from '../../gateway/hub/filters.js';
import type { StreamRecord } from '../../gateway/record.js';
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

export class Delivery {
  /** QoS>0 deliveries in flight at most: ours, lowered to the client's Receive Maximum [MQTT-5:3.3.4-9]. */
  private sendQuota: number;
  /** The client's Maximum Packet Size (v5). */
  private clientMaxPacket = Infinity;
  /** Per Kafka topic; filled only after CONNECT fixed the protocol version. */
  private readonly formats = new Map<string, RecordFormats>();
  private readonly slotWaiters: (() => void)[] = [];
  private nextPid = 1;

  constructor(private readonly client: Client) {
    this.sendQuota = client.registry.config.maxInflight;
  }

  /** Applies the client's CONNECT limits (v5 Receive Maximum and Maximum Packet Size). */
  limit(receiveMaximum: number | undefined, maximumPacketSize: number | undefined): void {
    if (receiveMaximum !== undefined) this.sendQuota = Math.min(this.client.registry.config.maxInflight, receiveMaximum);
    if (maximumPacketSize !== undefined) this.clientMaxPacket = maximumPacketSize;
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
    const timeless = record.headers[HEADER.messageExpiry] === undefined;
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
    const packet: IPublishPacket = { cmd: 'publish', topic, payload, qos, retain, dup: false };
    const props = this.client.protocol.publishProperties(properties, spec.subscriptionId);
    if (props !== undefined) packet.properties = props;
    return packet;
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
      const built = this.toPacket(spec(), rec, undefined, hubMatched);
      if (built !== undefined && built.qos > 0) {
        flush();
        const shared = built.shared;
        const encoded = shared === undefined ? undefined : () => encodeOnce(rec, shared, () => conn.encode({ ...built.packet, messageId: 1 }));
        if (!(await qosPath(rec, built.packet, encoded))) return false;
        continue;
      }
      if (built !== undefined) {
        const bytes = built.shared === undefined ? conn.encode(built.packet) : encodeOnce(rec, built.shared, () => conn.encode(built.packet));
        // [MQTT-5:3.1.2-24] [MQTT-5:3.1.2-25] a packet over the client's Maximum Packet Size is not sent (as if delivered).
        if (bytes.length <= this.clientMaxPacket) out.push(bytes);
        else client.log.info({ size: bytes.length, max: this.clientMaxPacket }, 'delivery over the client maximum packet size dropped');
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
    const bytes = encoded === undefined ? client.conn.encode(packet) : packet.qos > 0 ? withPacketId(encoded(), packet.messageId!) : encoded();
    // [MQTT-5:3.1.2-24] [MQTT-5:3.1.2-25] a packet over the client's Maximum Packet Size is not sent (as if delivered).
    if (bytes.length > this.clientMaxPacket) {
      client.log.info({ size: bytes.length, max: this.clientMaxPacket }, 'delivery over the client maximum packet size dropped');
      onAcked?.();
      return true;
    }
    if (packet.qos > 0) {
      const pid = packet.messageId!;
      s.pending.set(pid, { pid, qos: packet.qos as 1 | 2, state: 'publish', source, packet, onAcked, shared });
      s.dirty = true;
    }
    const ok = !client.isClosed() && client.conn.write(bytes);
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
