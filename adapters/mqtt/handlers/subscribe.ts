/**
 * SUBSCRIBE and UNSUBSCRIBE, and the running subscriptions they start: one hub reader per routed
 * Kafka topic (from the latest offset or the session's stored positions), or one group member for
 * `$share/`; retained messages for new subscriptions.
 */
import { createHash } from 'node:crypto';
import type { ISubscribePacket, IUnsubscribePacket } from 'mqtt-packet';
import type { GroupMember, KeyFilter, SubscriberSink, Subscription } from '../../../gateway/api.js';
import { GatewayError } from '../../../gateway/errors.js';
import { mqttMatch } from '../../../gateway/hub/filters.js';
import { EARLIEST, LATEST, type Position, type StreamRecord } from '../../../gateway/record.js';
import type { Client } from '../client.js';
import { decodeRetained, filtersOverlap, parseFilter, type QoS } from '../codec.js';
import { MAX_OVERLAP_COVERED, SHARE_GROUP_HASH_CHARS } from '../config.js';
import type { Overlap } from '../delivery.js';
import { mqttError, RC, reasonString } from '../errors.js';
import type { SubSpec, TopicPositions } from '../session.js';

/** A running (connected) subscription: one hub reader per Kafka topic, or one group member. */
interface Live {
  spec: SubSpec;
  readonly readers: Reader[];
  member?: GroupMember;
  stream?: { stop(): void };
  closed: boolean;
  /**
   * The connection's other non-shared subscriptions some topic name matches together with this
   * one (`filtersOverlap`, found once at start): the only ones a record of this one may be folded
   * with, so connections without overlapping filters pay nothing per record.
   */
  readonly overlaps: Set<Live>;
}

interface Reader {
  readonly topic: string;
  sub?: Subscription;
  closed: boolean;
  /** Next offset to deliver per partition (what the session stores for this subscription and topic). */
  positions: Map<number, bigint>;
  /**
   * Offsets per partition another subscription's PUBLISH already carried for this one (in order:
   * the first reader to reach a record sends it), skipped when this reader reaches them; at most
   * MAX_OVERLAP_COVERED in all — beyond that, this subscription gets its own copy.
   */
  readonly covered: Map<number, bigint[]>;
  coveredCount: number;
}

export class Subscriptions {
  /** By the filter as sent (the session's key for it). */
  private readonly live = new Map<string, Live>();

  constructor(private readonly client: Client) {}

  async subscribe(p: ISubscribePacket): Promise<void> {
    const { client } = this;
    const { protocol, registry } = client;
    const s = client.session!;
    // The client's own PUBLISHes before this SUBSCRIBE are written first: their retained changes
    // are then in the table the retained messages below are read from [MQTT-5:3.3.1-5] [MQTT-5:3.3.1-7].
    await client.inbound.written();
    if (client.isClosed()) return;
    const subId = p.properties?.subscriptionIdentifier;
    // MQTT-5 §3.8.2.1.2: a Subscription Identifier of 0 is a Protocol Error.
    if (subId === 0) return client.fail(RC.PROTOCOL_ERROR, 'subscription identifier 0');
    const granted: number[] = [];
    const retainedFor: SubSpec[] = [];
    for (const sub of p.subscriptions) {
      const parsed = parseFilter(sub.topic, registry.config.maxTopicLevels);
      if (typeof parsed === 'string') {
        client.log.info({ filter: sub.topic, problem: parsed }, 'invalid topic filter');
        granted.push(protocol.invalidFilter);
        continue;
      }
      // [MQTT-5:3.8.3-4] No Local on a shared subscription is a protocol error.
      if (parsed.share !== undefined && sub.nl === true) return client.fail(RC.PROTOCOL_ERROR, 'No Local on a shared subscription');
      const existing = s.subs.get(sub.topic);
      const spec: SubSpec = {
        raw: sub.topic,
        filter: parsed.filter,
        share: parsed.share,
        qos: sub.qos,
        noLocal: sub.nl === true,
        retainAsPublished: sub.rap === true,
        retainHandling: sub.rh ?? 0,
        subscriptionId: subId,
      };
      try {
        if (existing !== undefined) {
          // [MQTT-5:3.8.4-3] [MQTT-3.1.1:3.8.4-3] an identical filter replaces the subscription without losing messages.
          Object.assign(existing, { ...spec });
          const live = this.live.get(sub.topic);
          if (live !== undefined) live.spec = existing;
        } else {
          // The core bounds subscriptions per connection (limits.maxSubscriptionsPerConnection);
          // a persistent session's restored subscriptions count too. RESOURCE_EXHAUSTED → 0x97 / 0x80.
          registry.gateway.admitSubscription(s.subs.size);
          s.subs.set(sub.topic, spec);
          await this.start(spec, false);
        }
        granted.push(sub.qos); // QoS 2 is supported: granted as asked [MQTT-5:3.8.4-7]
        // Retained messages at SUBSCRIBE: Retain Handling 0 always, 1 only for a new subscription, 2
        // never [MQTT-5:3.3.1-9] [MQTT-5:3.3.1-10] [MQTT-5:3.3.1-11]; 3.1.1 always [MQTT-3.1.1:3.3.1-6].
        if (parsed.share === undefined && (spec.retainHandling === 0 || (spec.retainHandling === 1 && existing === undefined))) retainedFor.push(existing ?? spec);
      } catch (err) {
        if (existing === undefined) {
          // A filter reading several Kafka topics may fail on a later one (e.g. PERMISSION_DENIED):
          // readers already opened for it must not keep delivering after the failure SUBACK.
          s.subs.delete(sub.topic);
          s.positions.delete(sub.topic);
          await this.retire(sub.topic);
        }
        const m = mqttError(err);
        client.log.warn({ err: m.error, filter: sub.topic }, 'subscription failed');
        granted.push(protocol.subackCode(m));
      }
    }
    if (s.persistent) {
      try {
        await registry.saveSession(s);
      } catch (err) {
        client.log.warn({ err: GatewayError.from(err) }, 'session not persisted after SUBSCRIBE');
      }
    }
    if (client.state !== 'open') return;
    client.send({ cmd: 'suback', messageId: p.messageId!, granted });
    if (retainedFor.length > 0) {
      void this.sendRetained(retainedFor).catch((err: unknown) => client.log.warn({ err }, 'retained delivery failed'));
    }
  }

  private async sendRetained(specs: SubSpec[]): Promise<void> {
    const { client } = this;
    const { registry } = client;
    const now = Date.now();
    for (const spec of specs) {
      for (const [topic, buf] of registry.retained.entries()) {
        if (!mqttMatch(spec.filter, topic)) continue;
        // Retained messages follow the read scope like live ones (which the hub filters).
        if (!registry.gateway.permits(client.ctx, 'read', registry.routes.topicFor(topic), topic)) continue;
        const m = decodeRetained(buf);
        if (m === undefined) continue;
        const props = { ...m.properties };
        if (props.messageExpiryInterval !== undefined) {
          const left = props.messageExpiryInterval - Math.floor((now - m.storedAt) / 1000);
          if (left <= 0) continue; // [MQTT-5:3.3.2-5]
          props.messageExpiryInterval = left;
        }
        const qos = Math.min(spec.qos, m.qos) as QoS;
        // Retained messages sent because of a new subscription carry RETAIN 1 [MQTT-3.1.1:3.3.1-8] (MQTT-5 §3.8.3.1).
        const packet = client.delivery.publishPacket(spec, topic, m.payload, qos, true, props);
        if (!(await client.delivery.deliver(packet, undefined, undefined, false))) return;
      }
    }
  }

  async unsubscribe(p: IUnsubscribePacket): Promise<void> {
    const { client } = this;
    const s = client.session!;
    const codes: number[] = [];
    for (const raw of p.unsubscriptions) {
      const had = s.subs.delete(raw);
      s.positions.delete(raw);
      await this.retire(raw);
      codes.push(had ? RC.SUCCESS : RC.NO_SUBSCRIPTION_EXISTED);
    }
    if (s.persistent) {
      try {
        await client.registry.saveSession(s);
      } catch (err) {
        client.log.warn({ err: GatewayError.from(err) }, 'session not persisted after UNSUBSCRIBE');
      }
    }
    if (client.state !== 'open') return;
    // UNSUBACK even when nothing matched [MQTT-5:3.10.4-5] [MQTT-3.1.1:3.10.4-5].
    client.send(client.protocol.unsuback(p.messageId!, codes));
  }

  /** Stops a running subscription and forgets it on this connection (the session keeps what it keeps). */
  async retire(raw: string): Promise<void> {
    const live = this.live.get(raw);
    this.live.delete(raw);
    if (live !== undefined) await this.stop(live, true);
  }

  /** The connection closed: every running subscription stops (group members leave). */
  async stopAll(): Promise<void> {
    await Promise.allSettled([...this.live.values()].map((l) => this.stop(l, true)));
    this.live.clear();
  }

  /** Starts delivery for a subscription: hub readers per routed Kafka topic, or a group member. */
  async start(spec: SubSpec, resuming: boolean): Promise<void> {
    const { client } = this;
    const live: Live = { spec, readers: [], closed: false, overlaps: new Set() };
    if (spec.share === undefined) {
      for (const other of this.live.values()) {
        if (other.spec.share !== undefined || other.closed || !filtersOverlap(other.spec.filter, spec.filter)) continue;
        other.overlaps.add(live);
        live.overlaps.add(other);
      }
    }
    this.live.set(spec.raw, live);
    const topics = client.registry.routes.topicsFor(spec.filter);
    if (spec.share !== undefined) return this.startShared(live, topics);
    const s = client.session!;
    let byTopic = s.positions.get(spec.raw);
    if (byTopic === undefined) s.positions.set(spec.raw, (byTopic = new Map()));
    // A filter spanning several Kafka topics reads those the read scope can match in (the core
    // refuses the others with PERMISSION_DENIED); it is refused only when it can match in none.
    let denied: unknown;
    for (const topic of topics) {
      const stored = resuming ? byTopic.get(topic) : undefined;
      const from: Position =
        stored === undefined ? LATEST : stored === 'earliest' ? EARLIEST : { kind: 'offsets', offsets: new Map(stored), otherwise: 'earliest' };
      const reader: Reader = { topic, closed: false, positions: new Map(), covered: new Map(), coveredCount: 0 };
      live.readers.push(reader);
      try {
        await this.openReader(live, reader, from, byTopic);
      } catch (err) {
        if (!(err instanceof GatewayError && err.code === 'PERMISSION_DENIED')) throw err;
        reader.closed = true;
        live.readers.splice(live.readers.indexOf(reader), 1);
        denied = err;
      }
    }
    if (live.readers.length === 0 && denied !== undefined) throw denied;
  }

  private async openReader(live: Live, reader: Reader, from: Position, byTopic: Map<string, TopicPositions>): Promise<void> {
    const { client } = this;
    const { registry } = client;
    const spec = (): SubSpec => live.spec;
    const nullKeyTopic = registry.routes.nullKeyTopicFor(reader.topic);
    // Records without a key match only {kind:'all'}: when the filter matches the route's keyless
    // name, read everything and keep the filter check in Delivery.toPacket.
    const filters: KeyFilter[] = mqttMatch(live.spec.filter, nullKeyTopic) ? [{ kind: 'all' }] : [{ kind: 'mqtt', filter: live.spec.filter }];
    const overlap = { covered: (rec: StreamRecord) => takeCovered(reader, rec), overlapping: (rec: StreamRecord) => this.overlapping(live, rec) };
    const sink: SubscriberSink = {
      records: async (batch) => {
        const open = await client.delivery.deliverBatch(
          batch,
          spec,
          filters[0]!.kind === 'mqtt',
          () => !reader.closed,
          async (rec, packet, encoded) => {
            const source = { raw: live.spec.raw, topic: reader.topic, partition: rec.partition, offset: rec.offset, keyless: rec.key === null };
            const sent = await client.delivery.deliver(packet, source, undefined, false, encoded);
            if (sent) reader.positions.set(rec.partition, rec.offset + 1n);
            return sent;
          },
          (rec) => reader.positions.set(rec.partition, rec.offset + 1n),
          overlap,
        );
        if (!open) return;
        const positions = reader.positions;
        // Everything handed over is processed: skip past records the hub filtered out too.
        if (reader.sub !== undefined) for (const [p, o] of reader.sub.positions()) if (o > (positions.get(p) ?? -1n)) positions.set(p, o);
        byTopic.set(reader.topic, positions);
        client.session!.dirty = true;
      },
      continuityLost: (n) => {
        // MQTT has no way to say it; the log records what the device missed.
        client.log.warn({ topic: reader.topic, partition: n.partition, requested: String(n.requested), actual: String(n.actual), reason: n.reason }, 'subscription continuity lost');
      },
      end: (error) => {
        if (reader.closed) return;
        reader.closed = true;
        const m = mqttError(error ?? new GatewayError('UNAVAILABLE', 'subscription ended'));
        client.log.warn({ err: m.error, topic: reader.topic }, 'subscription ended by the gateway');
        void client.fail(m.disconnect, reasonString(m.error));
      },
    };
    // A Kafka topic nothing was published to yet does not exist: the core waits for it and then
    // reads it from its beginning, so nothing published after this SUBSCRIBE is missed.
    const sub = await registry.gateway.subscribe(client.ctx, { topic: reader.topic, from, filters, waitForTopic: true }, sink);
    if (reader.closed || client.isClosed()) {
      sub.close();
      return;
    }
    reader.sub = sub;
    if (sub.start.size === 0) {
      // Still waiting for the topic: a session resumed before anything arrived reads it whole too.
      if (reader.positions.size === 0) byTopic.set(reader.topic, 'earliest');
      return;
    }
    const merged = new Map(sub.start);
    for (const [p, o] of reader.positions) merged.set(p, o);
    reader.positions = merged;
    byTopic.set(reader.topic, merged);
  }

  /**
   * The connection's other (non-shared) subscriptions whose reader of the record's Kafka topic has
   * not passed it: one PUBLISH can carry the record for them too (Delivery.merged). A reader that
   * has not started on the partition, or is behind by more than MAX_OVERLAP_COVERED records it was
   * spared, is left to send its own copy (the spec allows one copy per subscription, MQTT-5 §3.3.4).
   */
  private overlapping(live: Live, rec: StreamRecord): Overlap[] {
    if (live.overlaps.size === 0) return [];
    const out: Overlap[] = [];
    for (const other of live.overlaps) {
      if (other.closed) continue;
      const r = other.readers.find((x) => x.topic === rec.topic && !x.closed && x.sub !== undefined);
      if (r === undefined || r.coveredCount >= MAX_OVERLAP_COVERED) continue;
      const next = r.positions.get(rec.partition);
      if (next === undefined || next > rec.offset) continue;
      const queue = r.covered.get(rec.partition);
      if (queue !== undefined && queue.length > 0 && queue[queue.length - 1]! >= rec.offset) continue;
      out.push({
        spec: other.spec,
        cover: () => {
          if (queue === undefined) r.covered.set(rec.partition, [rec.offset]);
          else queue.push(rec.offset);
          r.coveredCount++;
        },
      });
    }
    return out;
  }

  /**
   * A `$share/` subscription is a member of a dispatch-mode group: the core hands each message to
   * one member — the one with the fewest unacknowledged messages, ties round robin — so the
   * messages of one topic spread over the members (MQTT-5 §4.8.2 lets the server choose per
   * message). Its window is this connection's send quota (Receive Maximum / `mqtt.maxInflight`).
   */
  private async startShared(live: Live, topics: string[]): Promise<void> {
    const { client } = this;
    const spec = live.spec;
    // One group per (ShareName, filter): the members of a group share one reader of the same
    // topics with the same filter, so what one filter skips is never committed for another.
    const hash = createHash('sha256').update(spec.filter).digest('hex').slice(0, SHARE_GROUP_HASH_CHARS);
    const member = await client.registry.gateway.joinGroup(client.ctx, {
      // `/` cannot occur in a share name [MQTT-5:4.8.2-2], so the grant `mqtt-share/<share>/*` names
      // exactly this share's groups (with `-` a grant for share `a` would also match share `a-b`).
      group: `mqtt-share/${spec.share}/${hash}`,
      topics,
      // A new shared subscription gets what is published from now on; one whose topic does not
      // exist yet waits for it in the core and then reads it whole.
      resetTo: 'latest',
      waitForTopic: true,
      filters: [{ kind: 'mqtt', filter: spec.filter }],
      mode: 'dispatch',
      // No redelivery to a connected member: MQTT resends only on reconnect [MQTT-5:4.4.0-1], and a
      // member that does not acknowledge is bounded by its window; what it holds moves when it goes.
      ackTimeoutMs: 0,
    });
    if (live.closed || client.isClosed()) {
      await member.leave();
      return;
    }
    live.member = member;
    live.stream = member.stream(
      {
        records: async (batch) => {
          // QoS 0 and records not for this subscriber are acknowledged once written (handled);
          // QoS>0 ones when the client acknowledges them (also with a failure code: the message is
          // then discarded, not sent to another member [MQTT-5:4.8.2-6]).
          const ack = (rec: StreamRecord): void => void member.ack(rec.topic, rec.partition, rec.offset);
          await client.delivery.deliverBatch(
            batch,
            () => live.spec,
            true,
            () => !live.closed,
            (rec, packet, encoded) => {
              const source = { raw: live.spec.raw, topic: rec.topic, partition: rec.partition, offset: rec.offset, keyless: rec.key === null };
              return client.delivery.deliver(packet, source, () => ack(rec), true, encoded);
            },
            ack,
          );
        },
        continuityLost: (n) => client.log.warn({ partition: n.partition, reason: n.reason }, 'shared subscription continuity lost'),
        end: (error) => {
          if (live.closed) return;
          const m = mqttError(error ?? new GatewayError('UNAVAILABLE', 'shared subscription ended'));
          void client.fail(m.disconnect, reasonString(m.error));
        },
      },
      { credit: client.delivery.window },
    );
  }

  /**
   * What happens to a shared subscription's unacknowledged deliveries when it stops, before its
   * member leaves the group (leaving gives the member's unacknowledged messages to the others):
   * - UNSUBSCRIBE on an open connection: the client still completes them here; they count as delivered.
   * - the connection closed, QoS 1: left to the group, which sends them to another member at once
   *   (MQTT-5 §4.8.2 allows it as soon as the connection is lost), persistent session or not.
   * - the connection closed, QoS 2: never to another member. A persistent session keeps it and
   *   completes it on reconnect [MQTT-5:4.8.2-4]; a session that ends drops it [MQTT-5:4.8.2-5].
   */
  private settleShared(live: Live): void {
    const { client } = this;
    const s = client.session;
    if (s === undefined) return;
    const open = client.state === 'open';
    for (const p of [...s.pending.values()]) {
      if (!p.shared || p.source?.raw !== live.spec.raw) continue;
      if (!open && p.qos === 1) continue;
      p.onAcked?.();
      if (!open && s.persistent) s.pending.set(p.pid, { ...p, shared: false, onAcked: undefined });
    }
  }

  private async stop(live: Live, leave: boolean): Promise<void> {
    live.closed = true;
    for (const other of live.overlaps) other.overlaps.delete(live);
    live.overlaps.clear();
    for (const r of live.readers) {
      r.closed = true;
      r.sub?.close();
    }
    if (live.member !== undefined && leave) this.settleShared(live);
    live.stream?.stop();
    if (live.member !== undefined && leave) await live.member.leave();
  }
}

/** Whether another subscription's PUBLISH already carried this record for the reader's; consumes it and what lies before it. */
function takeCovered(reader: Reader, rec: StreamRecord): boolean {
  const queue = reader.covered.get(rec.partition);
  if (queue === undefined) return false;
  while (queue.length > 0 && queue[0]! < rec.offset) {
    queue.shift();
    reader.coveredCount--;
  }
  if (queue[0] !== rec.offset) return false;
  queue.shift();
  reader.coveredCount--;
  return true;
}
