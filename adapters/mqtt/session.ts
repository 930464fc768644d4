/**
 * The MQTT session (MQTT-5 §4.1, MQTT-3.1.1 §4.1): what outlives one network connection — subscriptions, per
 * topic-partition positions, unacknowledged QoS 1/2 deliveries and the QoS 2 receive state.
 * Persistent sessions are serialized (JSON) into the `mqtt-sessions` table keyed by client id.
 */
import type { IPublishPacket } from 'mqtt-packet';
import type { QoS } from './codec.js';
import type { ClientIdOwner } from './ownership.js';
import { newId } from '../../gateway/ids.js';

/** One subscription as the client asked for it (MQTT-5 §3.8.3.1 options). */
export interface SubSpec {
  /** The filter as sent, including `$share/<group>/` (the session's key for it). */
  readonly raw: string;
  readonly filter: string;
  readonly share: string | undefined;
  qos: QoS;
  noLocal: boolean;
  retainAsPublished: boolean;
  retainHandling: number;
  subscriptionId: number | undefined;
}

/** Next offset to deliver per partition of one Kafka topic, or `earliest` (topic did not exist yet). */
export type TopicPositions = Map<number, bigint> | 'earliest';

/** An outbound QoS 1/2 PUBLISH the client has not completed yet. */
export interface PendingOut {
  readonly pid: number;
  readonly qos: 1 | 2;
  /** `publish`: waiting for PUBACK/PUBREC; `pubrel`: PUBREL sent, waiting for PUBCOMP. */
  state: 'publish' | 'pubrel';
  /** Where the record came from, to re-read it after a restart; undefined for retained deliveries. */
  readonly source: { readonly raw: string; readonly topic: string; readonly partition: number; readonly offset: bigint; readonly keyless?: boolean } | undefined;
  /** The packet while in memory (resent with DUP on reconnect [MQTT-5:4.4.0-1] [MQTT-3.1.1:4.4.0-1]). */
  packet: IPublishPacket | undefined;
  /** Called once when the client completed the flow (shared subscriptions ack the group here). */
  readonly onAcked: (() => void) | undefined;
  /** Shared-subscription deliveries are the group's to redeliver; they are dropped at disconnect. */
  readonly shared: boolean;
}

/** Receive side of one QoS 2 flow: the idempotency key used for the write, and whether it completed. */
export interface Qos2In {
  readonly key: string;
  done: boolean;
}

export class Session {
  /** Distinguishes incarnations of a client id, so QoS 2 idempotency keys never collide across sessions. */
  epoch: string = newId();
  /** Session expiry in seconds (0 = ends with the connection; 0xFFFFFFFF = never). */
  expiry = 0;
  /** Unix ms when an offline session expires (persisted so a restarted gateway honours it). */
  expiresAt: number | undefined;
  readonly subs = new Map<string, SubSpec>();
  /** raw filter → Kafka topic → positions. */
  readonly positions = new Map<string, Map<string, TopicPositions>>();
  readonly pending = new Map<number, PendingOut>();
  readonly qos2in = new Map<number, Qos2In>();
  qos2seq = 0;
  /** Changed since last written to the table. */
  dirty = false;
  /** Serializes table writes of this session. */
  saving: Promise<void> = Promise.resolve();
  /**
   * Set by the instance giving the session up to a connection on another instance: the nonce of
   * that connection's claim (ownership.ts). The successor reads the session only once it sees its
   * own nonce here, i.e. after every write of the previous owner.
   */
  handover: string | undefined;
  /** Handed over to another instance: this copy is stale and is never written again. */
  released = false;
  /**
   * Claim nonce of the last connection that held the session; stored too, so an instance can tell
   * whether its in-memory copy is still the latest incarnation (SessionRegistry.loadSession).
   */
  heldBy: string | undefined;
  /**
   * The principal that created the session; only it may resume, take over or end it. Undefined only
   * for sessions stored before sessions were bound to principals (the next connection claims them).
   */
  owner: ClientIdOwner | undefined;

  constructor(readonly clientId: string) {}

  get persistent(): boolean {
    return this.expiry > 0;
  }

  encode(): Buffer {
    const positions: Record<string, Record<string, Record<string, string> | 'earliest'>> = {};
    for (const [raw, byTopic] of this.positions) {
      const t: Record<string, Record<string, string> | 'earliest'> = {};
      for (const [topic, pos] of byTopic) t[topic] = pos === 'earliest' ? 'earliest' : Object.fromEntries([...pos].map(([p, o]) => [String(p), o.toString()]));
      positions[raw] = t;
    }
    return Buffer.from(
      JSON.stringify({
        v: 1,
        epoch: this.epoch,
        expiry: this.expiry,
        expiresAt: this.expiresAt ?? null,
        subs: [...this.subs.values()],
        positions,
        pending: [...this.pending.values()]
          .filter((p) => !p.shared && p.source !== undefined)
          .map((p) => ({ pid: p.pid, qos: p.qos, state: p.state, raw: p.source!.raw, topic: p.source!.topic, partition: p.source!.partition, offset: p.source!.offset.toString() })),
        qos2in: [...this.qos2in].map(([pid, q]) => ({ pid, key: q.key, done: q.done })),
        qos2seq: this.qos2seq,
        ...(this.handover === undefined ? {} : { handover: this.handover }),
        ...(this.heldBy === undefined ? {} : { holder: this.heldBy }),
        ...(this.owner === undefined ? {} : { owner: { id: this.owner.id, anonymous: this.owner.anonymous } }),
      }),
    );
  }

  /** Restores a stored session; throws on a value that is not one (the caller logs and starts fresh). */
  static decode(clientId: string, buf: Buffer): Session {
    const raw = JSON.parse(buf.toString('utf8')) as {
      v: number;
      epoch: string;
      expiry: number;
      expiresAt: number | null;
      subs: SubSpec[];
      positions: Record<string, Record<string, Record<string, string> | 'earliest'>>;
      pending: { pid: number; qos: 1 | 2; state: 'publish' | 'pubrel'; raw: string; topic: string; partition: number; offset: string }[];
      qos2in: { pid: number; key: string; done: boolean }[];
      qos2seq: number;
      handover?: string;
      holder?: string;
      owner?: { id?: unknown; anonymous?: unknown };
    };
    if (raw.v !== 1 || typeof raw.epoch !== 'string' || !Array.isArray(raw.subs)) throw new Error('not a session record');
    const s = new Session(clientId);
    s.epoch = raw.epoch;
    s.expiry = raw.expiry;
    s.expiresAt = raw.expiresAt ?? undefined;
    for (const sub of raw.subs) s.subs.set(sub.raw, { ...sub, share: sub.share ?? undefined, subscriptionId: sub.subscriptionId ?? undefined });
    for (const [f, byTopic] of Object.entries(raw.positions)) {
      const m = new Map<string, TopicPositions>();
      for (const [topic, pos] of Object.entries(byTopic)) {
        m.set(topic, pos === 'earliest' ? 'earliest' : new Map(Object.entries(pos).map(([p, o]) => [Number(p), BigInt(o)])));
      }
      s.positions.set(f, m);
    }
    for (const p of raw.pending) {
      s.pending.set(p.pid, {
        pid: p.pid,
        qos: p.qos,
        state: p.state,
        source: { raw: p.raw, topic: p.topic, partition: p.partition, offset: BigInt(p.offset) },
        packet: undefined,
        onAcked: undefined,
        shared: false,
      });
    }
    for (const q of raw.qos2in) s.qos2in.set(q.pid, { key: q.key, done: q.done });
    s.qos2seq = raw.qos2seq;
    s.handover = typeof raw.handover === 'string' ? raw.handover : undefined;
    s.heldBy = typeof raw.holder === 'string' ? raw.holder : undefined;
    s.owner = typeof raw.owner?.id === 'string' ? { id: raw.owner.id, anonymous: raw.owner.anonymous === true } : undefined;
    return s;
  }
}
