/**
 * PUBLISH from the client and its QoS 1/2 pipeline: topic aliases, the Receive Maximum, the
 * bounded queue of messages waiting for the backend, batched produce calls, PUBACK / PUBREC only
 * after the backend acknowledged (in arrival order), and PUBREL → PUBCOMP.
 */
import type { IPublishPacket } from 'mqtt-packet';
import { GatewayError } from '../../../gateway/errors.js';
import type { Client } from '../client.js';
import { messageToRecord, topicNameProblem, type Message } from '../codec.js';
import { INBOUND_RESUME_FRACTION, MAX_PRODUCE_BATCH } from '../config.js';
import { mqttError, RC, reasonString } from '../errors.js';

/** A received PUBLISH waiting for (or being) written to the backend. */
interface Inbound {
  readonly msg: Message;
  readonly kafkaTopic: string;
  readonly pid: number | undefined;
  readonly idempotencyKey: string | undefined;
  /** Inside the write scope: only such messages share a produce call (the core refuses a batch whole). */
  readonly permitted: boolean;
}

type Outcome = { ok: true } | { ok: false; error: GatewayError };

/** Why the connection's reading is paused while the queue is over `maxInboundQueueBytes`. */
const PAUSE_REASON = 'inbound queue';

export class PublishIn {
  /** v5 topic aliases the client defined on this connection (they do not outlive it, MQTT-5 §3.3.2.3.4). */
  private readonly aliases = new Map<number, string>();
  /** QoS 1/2 PUBLISHes received and not yet completed (Receive Maximum accounting). */
  private inflight = 0;
  private readonly queue: Inbound[] = [];
  private queuedBytes = 0;
  private pumping: Promise<void> | undefined;
  private paused = false;
  /** PUBLISHes queued so far, and how many of them are written (or failed): for `written`. */
  private queuedCount = 0;
  private writtenCount = 0;
  private readonly writtenWaiters: { readonly at: number; readonly resolve: () => void }[] = [];

  constructor(private readonly client: Client) {}

  /** Resolves when what was received so far is written and acknowledged (or failed). */
  async settled(): Promise<void> {
    await this.pumping;
  }

  /**
   * Resolves once every PUBLISH received before this call is written and its retained change
   * applied (or it failed), or the connection closed. A SUBSCRIBE waits for it, so it sees the
   * retained state this client itself set before it [MQTT-5:3.3.1-5] [MQTT-5:3.3.1-7]
   * [MQTT-3.1.1:3.3.1-5] — later PUBLISHes do not hold it up.
   */
  written(): Promise<void> {
    if (this.writtenCount >= this.queuedCount || this.client.isClosed()) return Promise.resolve();
    return new Promise((resolve) => this.writtenWaiters.push({ at: this.queuedCount, resolve }));
  }

  private wakeWritten(all: boolean): void {
    for (let i = this.writtenWaiters.length - 1; i >= 0; i--) {
      const w = this.writtenWaiters[i]!;
      if (all || w.at <= this.writtenCount) {
        this.writtenWaiters.splice(i, 1);
        w.resolve();
      }
    }
  }

  publish(p: IPublishPacket): void {
    const { client } = this;
    const { registry, protocol } = client;
    const cfg = registry.config;
    const s = client.session!;
    const props = p.properties;
    let topic = p.topic;
    if (protocol.topicAliases && props?.topicAlias !== undefined) {
      const alias = props.topicAlias;
      // [MQTT-5:3.3.2-8] [MQTT-5:3.3.2-9] alias 0 or above our Topic Alias Maximum.
      if (alias === 0 || alias > cfg.topicAliasMaximum) return void client.fail(RC.TOPIC_ALIAS_INVALID, 'topic alias out of range');
      if (topic === '') {
        const known = this.aliases.get(alias);
        // MQTT-5 §3.3.4: an empty topic name with an alias that has no mapping is a Protocol Error.
        if (known === undefined) return void client.fail(RC.PROTOCOL_ERROR, 'unknown topic alias');
        topic = known;
      } else {
        this.aliases.set(alias, topic);
      }
    }
    const problem = topicNameProblem(topic, cfg.maxTopicLevels);
    if (problem !== undefined) return void client.fail(RC.TOPIC_NAME_INVALID, problem); // [MQTT-5:3.3.2-2] [MQTT-5:4.7.3-1]
    const qos = p.qos;
    const pid = qos > 0 ? p.messageId : undefined;
    // [MQTT-5:2.2.1-3] [MQTT-3.1.1:2.3.1-1] a QoS>0 PUBLISH carries a non-zero packet identifier.
    if (qos > 0 && (pid === undefined || pid === 0)) return void client.fail(RC.PROTOCOL_ERROR, 'missing packet identifier');

    if (qos === 2) {
      const known = s.qos2in.get(pid!);
      if (known !== undefined) {
        // [MQTT-5:4.3.3-10] [MQTT-3.1.1:4.3.3-2] a resent PUBLISH before PUBREL is not delivered again: re-acknowledge only.
        if (known.done) client.send(protocol.ack('pubrec', pid!));
        return;
      }
    }
    if (qos > 0) {
      this.inflight++;
      // [MQTT-5:3.3.4-7] more unacknowledged QoS>0 PUBLISHes than our Receive Maximum: DISCONNECT 0x93.
      if (protocol.receiveMaximum && this.inflight > cfg.receiveMaximum) return void client.fail(RC.RECEIVE_MAXIMUM_EXCEEDED, 'receive maximum exceeded');
    }
    let idempotencyKey: string | undefined;
    if (qos === 2) {
      idempotencyKey = `mqtt:${client.clientId}:${s.epoch}:${pid}:${s.qos2seq++}`;
      s.qos2in.set(pid!, { key: idempotencyKey, done: false });
      s.dirty = true;
    }
    const { topicAlias: _alias, subscriptionIdentifier: _subId, ...kept } = props ?? {};
    const msg: Message = { topic, payload: Buffer.isBuffer(p.payload) ? p.payload : Buffer.from(p.payload), qos, retain: p.retain, properties: kept };
    const kafkaTopic = registry.routes.topicFor(topic);
    this.queue.push({ msg, kafkaTopic, pid, idempotencyKey, permitted: registry.gateway.permits(client.ctx, 'write', kafkaTopic, topic) });
    this.queuedBytes += msg.payload.length + topic.length;
    this.queuedCount++;
    if (this.queuedBytes > cfg.maxInboundQueueBytes && !this.paused) {
      this.paused = true;
      client.conn.pause(PAUSE_REASON);
    }
    this.pumping ??= this.pump().finally(() => {
      this.pumping = undefined;
      // Ended with the queue empty, or because the connection closed: nobody waits for more.
      this.wakeWritten(true);
    });
  }

  /**
   * Writes received messages in arrival order: consecutive messages for the same Kafka topic go in
   * one produce call; QoS 2 messages alone (each has its idempotency key). Acknowledgements follow
   * the backend's, in order [MQTT-5:4.6.0-2] [MQTT-5:4.6.0-3] [MQTT-3.1.1:4.6.0-2] [MQTT-3.1.1:4.6.0-3].
   */
  private async pump(): Promise<void> {
    const { client } = this;
    const { registry } = client;
    while (this.queue.length > 0 && !client.isClosed()) {
      const first = this.queue[0]!;
      let n = 1;
      // A message outside the write scope goes alone: the core refuses it (PERMISSION_DENIED,
      // audited) and it must not take the messages around it down with it.
      if (first.idempotencyKey === undefined && first.permitted) {
        while (n < this.queue.length && n < MAX_PRODUCE_BATCH && this.queue[n]!.kafkaTopic === first.kafkaTopic && this.queue[n]!.idempotencyKey === undefined && this.queue[n]!.permitted) n++;
      }
      const group = this.queue.slice(0, n);
      const results = await this.produceGroup(group);
      for (let i = 0; i < group.length; i++) {
        const item = group[i]!;
        let result: Outcome = results[i] ?? { ok: false, error: new GatewayError('INTERNAL', 'missing produce result') };
        if (result.ok && item.msg.retain) {
          try {
            await registry.storeRetained(item.msg, item.kafkaTopic, client.ctx);
          } catch (err) {
            result = { ok: false, error: GatewayError.from(err) };
          }
        }
        if (client.isClosed()) return;
        this.acknowledge(item, result);
      }
      this.queue.splice(0, n);
      this.writtenCount += n;
      this.wakeWritten(false);
      for (const g of group) this.queuedBytes -= g.msg.payload.length + g.msg.topic.length;
      if (this.paused && this.queuedBytes <= registry.config.maxInboundQueueBytes * INBOUND_RESUME_FRACTION) {
        this.paused = false;
        client.conn.resume(PAUSE_REASON);
      }
    }
  }

  /**
   * One produce call for a group of messages to the same Kafka topic. The messages are independent
   * PUBLISHes batched by this adapter, not one request: when the core refuses the batch because one
   * message breaks the topic's schema (SCHEMA_VALIDATION names its index; schemaRegistry.bindings),
   * that message alone is refused (PUBACK/PUBREC 0x99) and the others are written — those before
   * it first, then the rest, so the order holds. At most one extra call per refused message.
   */
  private async produceGroup(group: readonly Inbound[]): Promise<Outcome[]> {
    const { client } = this;
    const first = group[0]!;
    try {
      const produced = await client.registry.gateway.produce(
        client.ctx,
        first.kafkaTopic,
        group.map((g) => messageToRecord(g.msg, client.clientId)),
        first.idempotencyKey === undefined ? {} : { idempotencyKey: first.idempotencyKey },
      );
      return produced.map((r) => (r.ok ? { ok: true as const } : { ok: false as const, error: r.error }));
    } catch (err) {
      const error = GatewayError.from(err);
      const index = error.details?.index;
      if (group.length > 1 && error.code === 'SCHEMA_VALIDATION' && typeof index === 'number' && Number.isInteger(index) && index >= 0 && index < group.length) {
        const before = index === 0 ? [] : await this.produceGroup(group.slice(0, index));
        const after = index === group.length - 1 ? [] : await this.produceGroup(group.slice(index + 1));
        return [...before, { ok: false as const, error }, ...after];
      }
      return group.map(() => ({ ok: false as const, error }));
    }
  }

  private acknowledge(item: Inbound, result: Outcome): void {
    const { client } = this;
    const qos = item.msg.qos;
    if (!result.ok) {
      const m = mqttError(result.error);
      client.log[m.error.code === 'INTERNAL' ? 'error' : 'warn']({ err: m.error, topic: item.msg.topic }, 'MQTT publish not written');
      if (qos === 0) return; // QoS 0 has no acknowledgement to carry the failure
      const nack = client.protocol.nack(qos === 1 ? 'puback' : 'pubrec', item.pid!, m.ack, reasonString(m.error));
      if (nack === undefined) {
        // 3.1.1 has no negative PUBACK: closing makes the client resend after reconnecting.
        void client.close('publish failed (3.1.1 cannot report it)');
        return;
      }
      if (qos === 2) client.session?.qos2in.delete(item.pid!); // [MQTT-5:4.3.3-9] a failed PUBREC ends the flow
      this.inflight--;
      client.send(nack);
      return;
    }
    if (qos === 1) {
      this.inflight--;
      client.send(client.protocol.ack('puback', item.pid!));
    } else if (qos === 2) {
      const q = client.session?.qos2in.get(item.pid!);
      if (q !== undefined) q.done = true;
      client.send(client.protocol.ack('pubrec', item.pid!));
    }
  }

  pubrel(pid: number): void {
    const { client } = this;
    const s = client.session!;
    const q = s.qos2in.get(pid);
    if (q !== undefined && q.done) {
      s.qos2in.delete(pid);
      s.dirty = true;
      this.inflight--;
      client.send(client.protocol.ack('pubcomp', pid)); // [MQTT-5:4.3.3-11] [MQTT-3.1.1:4.3.3-2]
    } else if (q === undefined) {
      // A PUBREL resent after a completed flow: still answered with PUBCOMP.
      client.send(client.protocol.pubcompUnknown(pid));
    }
    // A PUBREL for a write still in progress is answered when the write completes and the client re-sends it.
  }
}
