/**
 * Per-message dispatch within one gateway instance: the `dispatch` mode of a group (MQTT `$share/`).
 *
 * In partition mode each partition has one member, so every record of one key (one MQTT topic)
 * goes to the same member. In dispatch mode the range plan assigns partitions to gateway
 * INSTANCES (each instance with at least one member of the group counts once); within an
 * instance one `Dispatcher` reads the partitions the instance owns, and hands each record to one
 * of the instance's members that are streaming: the least loaded (fewest unacknowledged records),
 * ties broken round robin, never beyond a member's window (its `credit`). So a member that never
 * acknowledges holds at most its window and the others carry on.
 *
 * The committed offset of a partition stays the contiguous acknowledged prefix, over all local
 * members together. A member that stops streaming or leaves gives back what it did not
 * acknowledge: those records go to the other members at once (not after an ack timeout). A
 * record not acknowledged within the ack timeout (when one is set) moves to another member with
 * room; with no other member it stays where it is. The hub subscriptions are credit-limited to
 * the sum of the members' windows, so records received and not yet acknowledged are bounded.
 */
import type { Logger } from 'pino';
import type { GroupMember, JoinGroupRequest, KeyFilter, SubscriberSink } from './api.js';
import type { Backend } from './backends/port.js';
import { partitionStarts } from './group-start.js';
import { GatewayError } from './errors.js';
import { compileFilters, type KeyPredicate } from './hub/filters.js';
import type { Hub, HubSubscription } from './hub/hub.js';
import type { StreamRecord, TopicPartition } from './record.js';

/** What a dispatcher needs from its group (LocalGroup in groups.ts). */
export interface DispatchHost {
  readonly name: string;
  readonly backend: Backend;
  readonly hub: Hub;
  readonly log: Logger;
  /** `groups.maxInflight`: a member's window when it names none. */
  readonly maxInflight: number;
  readonly autoCommitIntervalMs: number;
  readonly ackTimeoutMs: number;
  readonly maxQueueBytes: number;
  /** Removes a leaving member from the group (membership entry, rebalance). */
  remove(member: DispatchMember): Promise<void>;
}

/** One received record of an owned partition, until it is acknowledged. */
interface Delivery {
  readonly record: StreamRecord;
  /** The member it was handed to; undefined while it waits for a member with room. */
  holder: DispatchMember | undefined;
  deliveredAt: number;
  /** Members it was handed to before (ack timeout): their acknowledgement counts too. */
  earlier?: DispatchMember[];
}

class DispatchPartition {
  /** Received, not yet acknowledged, in offset order (Map insertion order; entries are never re-inserted). */
  readonly pending = new Map<bigint, Delivery>();

  constructor(
    readonly topic: string,
    readonly partition: number,
    /** Next offset to receive from the hub. */
    public next: bigint,
    public lastCommitted: bigint,
  ) {}

  /** The first unacknowledged offset, or everything received. */
  commitPoint(): bigint {
    const first = this.pending.keys().next();
    return first.done === true ? this.next : first.value;
  }
}

interface TopicReader {
  sub: HubSubscription | undefined;
  /** Credit granted to `sub` and not used yet. */
  credit: number;
  /** Records of this topic received and not yet acknowledged (waiting or held). */
  outstanding: number;
}

const key = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

/** Whether two joins ask for the same records (a dispatch group has one reader for all its members). */
export function sameReads(a: JoinGroupRequest, b: JoinGroupRequest): boolean {
  const norm = (r: JoinGroupRequest) => JSON.stringify([[...r.topics].sort(), (r.filters ?? []).map((f: KeyFilter) => JSON.stringify(f)).sort()]);
  return norm(a) === norm(b);
}

/** The reader and dispatcher of one dispatch-mode group on this instance. */
export class Dispatcher {
  private readonly parts = new Map<string, DispatchPartition>();
  private readonly readers = new Map<string, TopicReader>();
  /** Every local member (streaming or not): who may read what. */
  readonly members = new Set<DispatchMember>();
  /** Members streaming, in the order they started (the round-robin order). */
  private readonly streaming: DispatchMember[] = [];
  /** Records no member has room for yet, oldest given-back first. */
  private waiting: Delivery[] = [];
  private rotation = 0;
  private draining = false;
  private drainAgain = false;
  private closed = false;
  private commits: Promise<void> = Promise.resolve();
  private readonly timer: NodeJS.Timeout;
  private readonly predicate: KeyPredicate;

  constructor(
    private readonly host: DispatchHost,
    private readonly request: JoinGroupRequest,
  ) {
    this.predicate = compileFilters(request.filters);
    const ackTimeout = host.ackTimeoutMs;
    this.timer = setInterval(
      () => {
        this.commitAcknowledged().catch((err: unknown) => host.log.warn({ err, group: host.name }, 'auto-commit failed'));
        this.moveExpired();
      },
      Math.max(50, Math.min(host.autoCommitIntervalMs, ackTimeout > 0 ? ackTimeout / 2 : Infinity)),
    );
    this.timer.unref();
  }

  /** Partitions this instance owns for the group. */
  assignment(): TopicPartition[] {
    return [...this.parts.values()].map((p) => ({ topic: p.topic, partition: p.partition }));
  }

  /** Next offset to receive per owned partition. */
  positions(): { topic: string; partition: number; offset: bigint }[] {
    return [...this.parts.values()].map((p) => ({ topic: p.topic, partition: p.partition, offset: p.next }));
  }

  /** Committed offsets of the owned partitions. */
  async committed(topics: readonly string[]): Promise<{ topic: string; partition: number; offset: bigint }[]> {
    const owned = new Set(this.parts.keys());
    const all = await this.host.backend.committedOffsets(this.host.name, [...topics]);
    return all.filter((c) => owned.has(key(c.topic, c.partition))).map((c) => ({ topic: c.topic, partition: c.partition, offset: c.offset }));
  }

  /** Unacknowledged records each streaming member holds (observability, tests). */
  loads(): Map<string, number> {
    return new Map(this.streaming.map((m) => [m.memberId, m.load]));
  }

  // ---- partitions (the range plan over instances) ---------------------------------------------

  /** Gives up partitions not in `keep`, committing their acknowledged prefix first. */
  async revokeExcept(keep: readonly TopicPartition[]): Promise<void> {
    const keepKeys = new Set(keep.map((tp) => key(tp.topic, tp.partition)));
    const revoked = [...this.parts.entries()].filter(([k]) => !keepKeys.has(k));
    if (revoked.length === 0) return;
    await this.commitParts(revoked.map(([, p]) => p)).catch((err: unknown) => this.host.log.warn({ err, group: this.host.name }, 'commit on revoke failed'));
    for (const [k, part] of revoked) {
      this.parts.delete(k);
      // Records in flight there belong to the partition's next owner now (from the committed offset).
      for (const d of part.pending.values()) {
        if (d.holder !== undefined) d.holder.load--;
        this.readerOf(part.topic).outstanding--;
      }
      part.pending.clear();
    }
    this.waiting = this.waiting.filter((d) => this.parts.get(key(d.record.topic, d.record.partition))?.pending.get(d.record.offset) === d);
    this.restart();
  }

  /** Takes partitions, starting each at its committed offset (or `resetTo`). */
  async assign(partitions: readonly TopicPartition[]): Promise<void> {
    if (this.closed) return;
    const added = partitions.filter((tp) => !this.parts.has(key(tp.topic, tp.partition)));
    if (added.length === 0) return;
    for (const p of await partitionStarts(this.host.backend, this.host.name, added, this.request.resetTo ?? 'latest', this.host.log)) {
      this.parts.set(key(p.topic, p.partition), new DispatchPartition(p.topic, p.partition, p.start, p.committed));
    }
    this.restart();
  }

  private readerOf(topic: string): TopicReader {
    let r = this.readers.get(topic);
    if (r === undefined) this.readers.set(topic, (r = { sub: undefined, credit: 0, outstanding: 0 }));
    return r;
  }

  /** One credit-limited hub subscription per topic over the owned partitions, from their next offsets. */
  private restart(): void {
    const byTopic = new Map<string, Map<number, bigint>>();
    for (const r of this.readers.values()) {
      const sub = r.sub;
      if (sub === undefined) continue;
      sub.close();
      r.sub = undefined;
      r.credit = 0;
      // Records the hub passed over (filtered out) count as received, so commits move past them.
      for (const [partition, offset] of sub.positions()) {
        const part = this.parts.get(key(sub.topic, partition));
        if (part !== undefined && offset > part.next) part.next = offset;
      }
    }
    if (this.closed) return;
    for (const p of this.parts.values()) {
      const m = byTopic.get(p.topic) ?? new Map<number, bigint>();
      m.set(p.partition, p.next);
      byTopic.set(p.topic, m);
    }
    for (const [topic, start] of byTopic) {
      const reader = this.readerOf(topic);
      const credit = Math.max(0, this.window() - reader.outstanding);
      reader.credit = credit;
      reader.sub = this.host.hub.subscribe({
        topic,
        start,
        predicate: this.predicate,
        sink: this.sinkFor(topic),
        maxQueueBytes: this.host.maxQueueBytes,
        credit,
      });
    }
  }

  private sinkFor(topic: string): SubscriberSink {
    return {
      records: (batch) => this.received(topic, batch),
      continuityLost: (n) => {
        for (const m of this.streaming) m.sink?.continuityLost?.(n);
      },
      end: (err) => {
        if (this.closed) return;
        for (const m of [...this.streaming]) m.end(err);
      },
    };
  }

  /** The records the members may hold unacknowledged together. */
  private window(): number {
    let n = 0;
    for (const m of this.streaming) n += m.window;
    return n;
  }

  /** Grants each topic's subscription credit up to the members' window. */
  private topUp(): void {
    const w = this.window();
    for (const r of this.readers.values()) {
      const need = w - r.outstanding - r.credit;
      if (need > 0 && r.sub !== undefined) {
        r.credit += need;
        r.sub.addCredit(need);
      }
    }
  }

  private received(topic: string, batch: readonly StreamRecord[]): void {
    const reader = this.readerOf(topic);
    reader.credit = Math.max(0, reader.credit - batch.length);
    for (const r of batch) {
      const part = this.parts.get(key(r.topic, r.partition));
      if (part === undefined || r.offset < part.next) continue;
      part.next = r.offset + 1n;
      const d: Delivery = { record: r, holder: undefined, deliveredAt: 0 };
      part.pending.set(r.offset, d);
      reader.outstanding++;
      this.waiting.push(d);
    }
    this.drain();
  }

  // ---- dispatch -------------------------------------------------------------------------------

  /**
   * The member a record goes to: among streaming members with room whose read scope covers it,
   * the one with the fewest unacknowledged records, ties broken by round robin. `skip` when no
   * local member may read it at all (it counts as consumed, as outside a member's scope does).
   */
  private pick(d: Delivery, except?: DispatchMember): DispatchMember | 'skip' | undefined {
    const { topic, key: k } = d.record;
    const n = this.streaming.length;
    let best: DispatchMember | undefined;
    let bestAt = 0;
    for (let i = 0; i < n; i++) {
      const at = (this.rotation + i) % n;
      const m = this.streaming[at]!;
      if (m === except || m.load >= m.window || !m.permits(topic, k)) continue;
      if (best === undefined || m.load < best.load) {
        best = m;
        bestAt = at;
      }
    }
    if (best !== undefined) {
      this.rotation = (bestAt + 1) % n;
      return best;
    }
    // With no member at all (the last one just left) a record waits: only a member's scope may skip it.
    if (this.members.size === 0) return undefined;
    for (const m of this.members) if (m.permits(topic, k)) return undefined;
    return 'skip';
  }

  /** Hands waiting records to members with room, one batch per member. */
  private drain(): void {
    if (this.draining) {
      this.drainAgain = true; // an acknowledgement arrived while sending (QoS 0 acks on write)
      return;
    }
    this.draining = true;
    try {
      do {
        this.drainAgain = false;
        const batches = new Map<DispatchMember, StreamRecord[]>();
        const still: Delivery[] = [];
        const now = Date.now();
        let room = this.streaming.some((m) => m.load < m.window);
        for (const d of this.waiting) {
          if (!room) {
            still.push(d);
            continue;
          }
          const m = this.pick(d);
          if (m === 'skip') {
            this.settle(d);
            continue;
          }
          if (m === undefined) {
            still.push(d);
            room = this.streaming.some((x) => x.load < x.window);
            continue;
          }
          d.holder = m;
          d.deliveredAt = now;
          m.load++;
          const b = batches.get(m);
          if (b === undefined) batches.set(m, [d.record]);
          else b.push(d.record);
        }
        this.waiting = still;
        for (const [m, records] of batches) m.send(records);
      } while (this.drainAgain);
    } finally {
      this.draining = false;
    }
    this.topUp();
  }

  /** Removes an acknowledged (or skipped) record; the commit point may move. */
  private settle(d: Delivery): void {
    const part = this.parts.get(key(d.record.topic, d.record.partition));
    if (part === undefined || part.pending.get(d.record.offset) !== d) return;
    part.pending.delete(d.record.offset);
    this.readerOf(d.record.topic).outstanding--;
  }

  /** A member acknowledged a record it was handed; false when it holds no such record. */
  ack(member: DispatchMember, topic: string, partition: number, offset: bigint): boolean {
    const d = this.parts.get(key(topic, partition))?.pending.get(offset);
    if (d === undefined || (d.holder !== member && d.earlier?.includes(member) !== true)) return false;
    if (d.holder !== undefined) d.holder.load--;
    else this.waiting = this.waiting.filter((w) => w !== d);
    this.settle(d);
    this.drain();
    return true;
  }

  /** A member's window widened: waiting records may go to it now. */
  roomChanged(): void {
    this.drain();
  }

  /** A member began streaming: it takes records from now on. */
  started(member: DispatchMember): void {
    this.streaming.push(member);
    this.drain();
  }

  /** A member stopped streaming (or left): what it did not acknowledge goes to the others at once. */
  stopped(member: DispatchMember): void {
    const at = this.streaming.indexOf(member);
    if (at < 0) return;
    this.streaming.splice(at, 1);
    if (this.rotation > at) this.rotation--;
    if (this.streaming.length > 0) this.rotation %= this.streaming.length;
    else this.rotation = 0;
    const given: Delivery[] = [];
    for (const part of this.parts.values()) {
      for (const d of part.pending.values()) {
        if (d.holder !== member) continue;
        d.holder = undefined;
        given.push(d);
      }
    }
    member.load = 0;
    // Given back first: they hold the commit point of their partitions.
    this.waiting = [...given, ...this.waiting];
    this.drain();
  }

  /** Records held past the ack timeout move to another member with room (none: they stay). */
  private moveExpired(): void {
    const timeout = this.host.ackTimeoutMs;
    if (timeout <= 0 || this.streaming.length < 2) return;
    const cutoff = Date.now() - timeout;
    const batches = new Map<DispatchMember, StreamRecord[]>();
    for (const part of this.parts.values()) {
      for (const d of part.pending.values()) {
        const holder = d.holder;
        if (holder === undefined || d.deliveredAt > cutoff) continue;
        const m = this.pick(d, holder);
        if (m === undefined || m === 'skip') continue;
        holder.load--;
        (d.earlier ??= []).push(holder);
        d.holder = m;
        d.deliveredAt = Date.now();
        m.load++;
        const b = batches.get(m);
        if (b === undefined) batches.set(m, [d.record]);
        else b.push(d.record);
      }
    }
    for (const [m, records] of batches) m.send(records);
  }

  // ---- commits --------------------------------------------------------------------------------

  /** Commits the contiguous acknowledged prefix of every owned partition that moved. */
  commitAcknowledged(): Promise<void> {
    // Records the hub passed over (other keys of a shared Kafka topic) count as consumed.
    for (const r of this.readers.values()) {
      if (r.sub === undefined) continue;
      for (const [partition, offset] of r.sub.positions()) {
        const part = this.parts.get(key(r.sub.topic, partition));
        if (part !== undefined && offset > part.next) part.next = offset;
      }
    }
    return this.commitParts([...this.parts.values()]);
  }

  private commitParts(parts: readonly DispatchPartition[]): Promise<void> {
    const next = this.commits.then(async () => {
      const moved = parts.map((p) => ({ p, offset: p.commitPoint() })).filter(({ p, offset }) => offset > p.lastCommitted && offset >= 0n);
      if (moved.length === 0) return;
      await this.host.backend.commitOffsets(this.host.name, moved.map(({ p, offset }) => ({ topic: p.topic, partition: p.partition, offset })));
      for (const { p, offset } of moved) p.lastCommitted = offset;
    });
    this.commits = next.catch(() => undefined);
    return next;
  }

  /** The group is gone from this instance (its last member left and the partitions were revoked). */
  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    for (const r of this.readers.values()) r.sub?.close();
    this.readers.clear();
  }
}

/** A member of a dispatch-mode group: push only; its records come from the instance's dispatcher. */
export class DispatchMember implements GroupMember {
  readonly group: string;
  readonly topics: readonly string[];
  /** Records handed to it and not acknowledged. */
  load = 0;
  /** How many unacknowledged records it may hold (its `credit`, else `groups.maxInflight`). */
  window = 0;
  sink: SubscriberSink | undefined;
  private chain: Promise<void> = Promise.resolve();
  private left = false;
  private readonly predicate: (topic: string, key: Buffer | null) => boolean;

  constructor(
    private readonly host: DispatchHost,
    private readonly dispatcher: Dispatcher,
    readonly memberId: string,
    readonly request: JoinGroupRequest,
    readonly partitionCounts: ReadonlyMap<string, number>,
    /** The principal this member belongs to. */
    readonly principal: string | undefined,
    readScope?: (topic: string, key: Buffer | null) => boolean,
  ) {
    this.group = host.name;
    this.topics = [...request.topics];
    this.predicate = readScope ?? (() => true);
    dispatcher.members.add(this);
  }

  /** Whether its read scope covers a record (the request's filters are the dispatcher's). */
  permits(topic: string, key: Buffer | null): boolean {
    return this.predicate(topic, key);
  }

  assignment(): TopicPartition[] {
    return this.dispatcher.assignment();
  }

  poll(): Promise<StreamRecord[]> {
    return Promise.reject(new GatewayError('FAILED_PRECONDITION', `Group ${this.group} dispatches records per message; its members receive them by streaming, not by polling.`));
  }

  stream(sink: SubscriberSink, options: { credit?: number } = {}): { addCredit(n: number): void; stop(): void } {
    this.checkLive();
    if (this.sink !== undefined) throw new GatewayError('FAILED_PRECONDITION', 'This group member is already streaming.');
    this.sink = sink;
    this.window = options.credit !== undefined && options.credit > 0 ? options.credit : this.host.maxInflight;
    this.dispatcher.started(this);
    return {
      addCredit: (n) => {
        if (n <= 0 || this.sink !== sink) return;
        this.window += n;
        this.dispatcher.roomChanged();
      },
      stop: () => {
        if (this.sink !== sink) return;
        this.sink = undefined;
        this.dispatcher.stopped(this);
      },
    };
  }

  /** Delivers records to the sink after those handed to it before. */
  send(records: StreamRecord[]): void {
    const sink = this.sink;
    if (sink === undefined) return;
    const next = this.chain.then(() => (this.sink === sink ? sink.records(records) : undefined));
    this.chain = next.catch((err: unknown) => {
      // The transport failed: this member is done; what it held goes to the others.
      if (this.sink === sink) this.end(GatewayError.from(err));
    });
  }

  /** The gateway ends this member's stream (the dispatcher's reader ended, or its transport failed). */
  end(error?: GatewayError): void {
    const sink = this.sink;
    if (sink === undefined) return;
    this.sink = undefined;
    this.dispatcher.stopped(this);
    sink.end(error);
  }

  ack(topic: string, partition: number, offset: bigint): boolean {
    if (this.left) return false;
    return this.dispatcher.ack(this, topic, partition, offset);
  }

  async commit(offsets?: readonly { topic: string; partition: number; offset: bigint }[]): Promise<void> {
    this.checkLive();
    if (offsets !== undefined && offsets.length > 0) {
      throw new GatewayError('FAILED_PRECONDITION', `Group ${this.group} dispatches records per message: it commits the acknowledged prefix itself; explicit offsets cannot be committed.`);
    }
    await this.dispatcher.commitAcknowledged();
  }

  committed(): Promise<{ topic: string; partition: number; offset: bigint }[]> {
    return this.dispatcher.committed(this.topics);
  }

  positions(): { topic: string; partition: number; offset: bigint }[] {
    return this.dispatcher.positions();
  }

  seek(): Promise<void> {
    return Promise.reject(new GatewayError('FAILED_PRECONDITION', `Group ${this.group} dispatches records per message; its position is the group's and cannot be moved by one member.`));
  }

  /** This member's entry in the membership table (the plan counts its instance once). */
  entry(instance: string): Buffer {
    return Buffer.from(JSON.stringify({ instance, topics: this.topics, seen: Date.now(), mode: 'dispatch', ...(this.principal === undefined ? {} : { owner: this.principal }) }), 'utf8');
  }

  async leave(): Promise<void> {
    if (this.left) return;
    this.left = true;
    const sink = this.sink;
    this.sink = undefined;
    if (sink !== undefined) this.dispatcher.stopped(this);
    this.dispatcher.members.delete(this);
    await this.host.remove(this);
  }

  private checkLive(): void {
    if (this.left) throw new GatewayError('CONSUMER_NOT_FOUND', `Group member ${this.memberId} has left group ${this.group}.`);
  }
}
