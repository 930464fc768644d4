/**
 * Confluent v2 consumer instances: one instance's life (create → subscribe/assign → records /
 * commit / seek → delete or idle expiry) and the registry that holds them. A subscribed instance
 * is a core `GroupMember` (load-balanced, offsets committed to the group); the adapter only keeps
 * what the v2 API needs on top (format, the last batch returned, the idle clock).
 */
import type { Context, Gateway, GroupMember, Table } from '../../gateway/api.js';
import { GatewayError } from '../../gateway/errors.js';
import type { StreamRecord, TopicPartition } from '../../gateway/record.js';
import type { Logger } from 'pino';
import type { ConsumerFormat } from './codec.js';
import { RestError } from './errors.js';
import { compileTopicPattern } from './topic-pattern.js';
import { newId } from '../../gateway/ids.js';

/** How a v2 consumer instance reads, fixed at its creation (the v2 create body). */
export interface ConsumerInstanceOptions {
  readonly format: ConsumerFormat;
  readonly resetTo: 'earliest' | 'latest';
  readonly autoCommit: boolean;
  /** Default `timeout` of `GET records` for this instance (`consumer.request.timeout.ms`). */
  readonly requestTimeoutMs: number;
}

type Mode =
  | { readonly kind: 'none' }
  | { readonly kind: 'subscribed'; readonly topics: readonly string[]; readonly pattern?: string; readonly member: GroupMember }
  | { readonly kind: 'assigned'; readonly partitions: readonly TopicPartition[]; readonly positions: Map<string, bigint> };

const tpKey = (topic: string, partition: number): string => `${partition}\u0000${topic}`;

/** One v2 consumer instance. Calls are serialized (a Kafka consumer is single-threaded, and so is the v2 contract). */
export class ConsumerInstance {
  private mode: Mode = { kind: 'none' };
  private chain: Promise<unknown> = Promise.resolve();
  private busy = 0;
  lastUsed = Date.now();
  closed = false;

  constructor(
    readonly group: string,
    readonly id: string,
    /** The principal that created it; only it may use the instance (others get 40403). */
    readonly owner: string,
    readonly options: ConsumerInstanceOptions,
    private readonly gateway: Gateway,
    private readonly log: Logger,
    /**
     * Told when the subscription changes, so the shared record of the instance follows; the change
     * is answered only once that record is written, so the client's next request finds it on any gateway.
     */
    private readonly changed: (instance: ConsumerInstance) => Promise<void> = async () => undefined,
  ) {}

  /** The pattern of a pattern subscription, if any. */
  pattern(): string | undefined {
    return this.mode.kind === 'subscribed' ? this.mode.pattern : this.pendingPattern;
  }

  /** Runs `fn` after the instance's previous calls; the idle clock does not run while busy. */
  run<T>(fn: () => Promise<T>): Promise<T> {
    this.busy++;
    const next = this.chain.then(async () => {
      if (this.closed) throw new GatewayError('CONSUMER_NOT_FOUND', 'Consumer instance not found.');
      return fn();
    });
    this.chain = next.then(
      () => undefined,
      () => undefined,
    );
    return next.finally(() => {
      this.busy--;
      this.lastUsed = Date.now();
    });
  }

  idleSince(now: number): number {
    return this.busy > 0 ? 0 : now - this.lastUsed;
  }

  async subscribe(ctx: Context, request: { topics?: string[]; pattern?: string }): Promise<void> {
    if (this.mode.kind === 'assigned') {
      throw new RestError('ILLEGAL_STATE', 'Illegal state: Subscription to topics, partitions and pattern are mutually exclusive.');
    }
    let topics = request.topics ?? [];
    if (request.pattern !== undefined) {
      // The client's regex: RE2, bounded before compiling (topic-pattern.ts), never a backtracking RegExp.
      const re = compileTopicPattern(request.pattern);
      topics = (await this.gateway.listTopics(ctx)).map((t) => t.name).filter((n) => re.test(n));
    }
    await this.dropMember();
    if (topics.length === 0) {
      // A pattern matching nothing yet: subscribed to nothing (records return []).
      this.mode = { kind: 'none' };
      this.pendingPattern = request.pattern;
      return;
    }
    const member = await this.gateway.joinGroup(ctx, {
      group: this.group,
      topics,
      memberId: this.id,
      resetTo: this.options.resetTo,
      autoCommit: this.options.autoCommit,
      // Pull mode: what GET records returned is the client's; no redelivery timer.
      ackTimeoutMs: 0,
    });
    this.pendingPattern = undefined;
    this.mode = request.pattern === undefined ? { kind: 'subscribed', topics, member } : { kind: 'subscribed', topics, pattern: request.pattern, member };
    await this.changed(this);
  }

  /** A pattern subscription that matched no topic yet (GET subscription shows nothing, records are empty). */
  private pendingPattern: string | undefined;

  subscription(): string[] {
    return this.mode.kind === 'subscribed' ? [...this.mode.topics] : [];
  }

  async unsubscribe(): Promise<void> {
    await this.dropMember();
    this.pendingPattern = undefined;
    if (this.mode.kind === 'assigned') this.mode = { kind: 'none' };
    await this.changed(this);
  }

  async assign(ctx: Context, partitions: TopicPartition[]): Promise<void> {
    if (this.mode.kind === 'subscribed' || this.pendingPattern !== undefined) {
      throw new RestError('ILLEGAL_STATE', 'Illegal state: Subscription to topics, partitions and pattern are mutually exclusive.');
    }
    for (const tp of partitions) {
      const info = await this.gateway.describeTopic(ctx, tp.topic);
      if (tp.partition >= info.partitions) throw new GatewayError('PARTITION_NOT_FOUND', `Partition ${tp.partition} of topic ${tp.topic} not found.`);
    }
    this.mode = partitions.length === 0 ? { kind: 'none' } : { kind: 'assigned', partitions, positions: new Map() };
  }

  assignment(): TopicPartition[] {
    if (this.mode.kind === 'subscribed') return this.mode.member.assignment();
    if (this.mode.kind === 'assigned') return [...this.mode.partitions];
    return [];
  }

  /** `GET records`: the next records of the subscription or assignment. */
  async records(ctx: Context, options: { maxBytes: number; waitMs: number }): Promise<StreamRecord[]> {
    const mode = this.mode;
    if (mode.kind === 'none') {
      if (this.pendingPattern !== undefined) return [];
      // What KafkaConsumer.poll throws, surfaced by Confluent as 40903.
      throw new RestError('ILLEGAL_STATE', 'Illegal state: Consumer is not subscribed to any topics or assigned any partitions');
    }
    if (mode.kind === 'subscribed') {
      // Auto-commit (core, pull mode): each poll counts what the previous one returned as
      // processed and commits it — Kafka's auto-commit semantics, never "commit on fetch".
      const batch = await mode.member.poll({ maxBytes: options.maxBytes, waitMs: options.waitMs, ...(ctx.signal === undefined ? {} : { signal: ctx.signal }) });
      return batch;
    }
    return this.fetchAssigned(ctx, mode, options);
  }

  /**
   * Manual assignment reads partitions statelessly (no group membership, as Kafka's `assign`).
   * Each call starts at the next partition after the one served last, so none starves.
   */
  private rr = 0;
  private async fetchAssigned(
    ctx: Context,
    mode: Extract<Mode, { kind: 'assigned' }>,
    options: { maxBytes: number; waitMs: number },
  ): Promise<StreamRecord[]> {
    const n = mode.partitions.length;
    for (let pass = 0; pass < 2; pass++) {
      for (let i = 0; i < n; i++) {
        const tp = mode.partitions[(this.rr + i) % n]!;
        const offset = await this.positionOf(ctx, mode, tp);
        // Second pass long-polls the first partition only: one waiting fetch per request.
        const waitMs = pass === 1 && i === 0 ? options.waitMs : 0;
        if (pass === 1 && i > 0) break;
        const result = await this.gateway.fetch(ctx, tp.topic, tp.partition, offset, { maxBytes: options.maxBytes, waitMs });
        mode.positions.set(tpKey(tp.topic, tp.partition), result.nextOffset);
        if (result.records.length > 0) {
          this.rr = (this.rr + i + 1) % n;
          return result.records;
        }
      }
      if (options.waitMs === 0) break;
    }
    return [];
  }

  private async positionOf(ctx: Context, mode: Extract<Mode, { kind: 'assigned' }>, tp: TopicPartition): Promise<bigint> {
    const known = mode.positions.get(tpKey(tp.topic, tp.partition));
    if (known !== undefined) return known;
    const offsets = await this.gateway.offsets(ctx, tp.topic);
    const p = offsets.find((o) => o.partition === tp.partition);
    if (p === undefined) throw new GatewayError('PARTITION_NOT_FOUND', `Partition ${tp.partition} of topic ${tp.topic} not found.`);
    const start = this.options.resetTo === 'earliest' ? p.earliest : p.latest;
    mode.positions.set(tpKey(tp.topic, tp.partition), start);
    return start;
  }

  /**
   * `POST offsets`. With offsets: Confluent commits `offset + 1` (the body names the last record
   * processed; Kafka stores the next to read). Without: everything returned so far. The core
   * refuses the whole request unless every partition is assigned to this instance (40903) and
   * every offset + 1 is inside the log (OUT_OF_RANGE).
   */
  async commit(offsets: { topic: string; partition: number; offset: bigint }[] | undefined): Promise<void> {
    const member = this.requireMember('commit offsets');
    try {
      await member.commit(offsets?.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset + 1n })));
    } catch (err) {
      throw inBodyTerms(err);
    }
  }

  /** `GET offsets`: committed (next-to-read) offsets of the asked partitions that have one. */
  async committed(partitions: TopicPartition[]): Promise<{ topic: string; partition: number; offset: bigint }[]> {
    const member = this.requireMember('read committed offsets');
    const all = await member.committed();
    return partitions.flatMap((tp) => all.filter((c) => c.topic === tp.topic && c.partition === tp.partition));
  }

  /**
   * `POST positions` (and `/beginning`, `/end`): every target is checked — assigned to this
   * instance, an offset inside the log — before any position moves, so a refused request moves none.
   */
  async seek(ctx: Context, targets: { topic: string; partition: number; to: bigint | 'earliest' | 'latest' }[]): Promise<void> {
    const mode = this.mode;
    if (mode.kind === 'none') throw new RestError('ILLEGAL_STATE', 'Illegal state: No current assignment for the given partitions (subscribe or assign first).');
    const assigned = new Set((mode.kind === 'subscribed' ? mode.member.assignment() : mode.partitions).map((p) => tpKey(p.topic, p.partition)));
    const bounds = new Map<string, { earliest: bigint; latest: bigint }>();
    for (const topic of new Set(targets.map((t) => t.topic))) {
      for (const o of await this.gateway.offsets(ctx, topic)) bounds.set(tpKey(topic, o.partition), o);
    }
    const resolved = targets.map((t) => {
      // Kafka's KafkaConsumer.seek on a partition it does not hold: IllegalStateException, 40903.
      if (!assigned.has(tpKey(t.topic, t.partition))) throw new RestError('ILLEGAL_STATE', `Illegal state: No current assignment for partition ${t.topic}-${t.partition}`);
      const b = bounds.get(tpKey(t.topic, t.partition));
      if (b === undefined) throw new GatewayError('PARTITION_NOT_FOUND', `Partition ${t.partition} of topic ${t.topic} not found.`);
      const to = t.to === 'earliest' ? b.earliest : t.to === 'latest' ? b.latest : t.to;
      if (to < b.earliest || to > b.latest) {
        throw new GatewayError('OUT_OF_RANGE', `Cannot seek to offset ${to} of ${t.topic}/${t.partition}: the log holds offsets ${b.earliest} to ${b.latest}.`, {
          details: { topic: t.topic, partition: t.partition, offset: String(to), earliest: String(b.earliest), latest: String(b.latest) },
        });
      }
      return { topic: t.topic, partition: t.partition, to };
    });
    if (mode.kind === 'subscribed') {
      // The core checks each again (a rebalance may have moved a partition meanwhile).
      for (const t of resolved) await mode.member.seek(t.topic, t.partition, t.to);
      return;
    }
    for (const t of resolved) mode.positions.set(tpKey(t.topic, t.partition), t.to);
  }

  /** Deletes the instance. `commitReturned`: an explicit DELETE with auto-commit commits what was returned (as KafkaConsumer.close does). */
  async close(commitReturned: boolean): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const mode = this.mode;
    if (mode.kind === 'subscribed' && commitReturned && this.options.autoCommit) {
      try {
        await mode.member.commit();
      } catch (err) {
        this.log.warn({ err, group: this.group, instance: this.id }, 'commit on consumer close failed');
      }
    }
    await this.dropMember();
  }

  private requireMember(what: string): GroupMember {
    if (this.mode.kind === 'subscribed') return this.mode.member;
    if (this.mode.kind === 'assigned') {
      throw new GatewayError('UNIMPLEMENTED', `Cannot ${what} for manually assigned partitions: streamgate commits group offsets only through a subscription.`);
    }
    throw new RestError('ILLEGAL_STATE', `Illegal state: cannot ${what} without a subscription.`);
  }

  private async dropMember(): Promise<void> {
    const mode = this.mode;
    if (mode.kind !== 'subscribed') return;
    this.mode = { kind: 'none' };
    await mode.member.leave();
  }
}

/** The core names the stored (next-to-read) offset; the client named the last record processed, one less. */
function inBodyTerms(err: unknown): unknown {
  if (!(err instanceof GatewayError) || err.code !== 'OUT_OF_RANGE' || err.details === undefined) return err;
  const { topic, partition, offset, earliest, latest } = err.details as Record<string, string>;
  if (offset === undefined || earliest === undefined || latest === undefined) return err;
  return new GatewayError(
    'OUT_OF_RANGE',
    `Cannot commit offset ${BigInt(offset) - 1n} of ${topic}/${partition}: the log holds offsets ${earliest} to ${BigInt(latest) - 1n} (a commit names the last record processed).`,
    { cause: err, details: { topic, partition, offset: String(BigInt(offset) - 1n), earliest, latest } },
  );
}

function notFound(): GatewayError {
  return new GatewayError('CONSUMER_NOT_FOUND', 'Consumer instance not found.');
}

/**
 * What every gateway instance knows of a consumer instance, in the compacted `rest-consumers`
 * table: any gateway can serve any instance (no sticky load balancer); the gateway that last
 * served it is its `holder`, and the others drop their copy when the holder changes.
 */
interface SharedInstance {
  readonly owner: string;
  readonly options: ConsumerInstanceOptions;
  readonly topics: readonly string[];
  readonly pattern?: string;
  readonly holder: string;
  /** Last time the holder saw it used; past the idle timeout it is gone everywhere. */
  readonly touched: number;
}

/** Consumer instances: the ones this gateway holds, and the shared record of all of them. */
export class ConsumerRegistry {
  private readonly instances = new Map<string, ConsumerInstance>();
  private readonly published = new Map<string, number>();
  private readonly timer: NodeJS.Timeout;
  private readonly holderId = newId();
  private shared: Promise<Table> | undefined;

  constructor(
    private readonly gateway: Gateway,
    private readonly log: Logger,
    private readonly limits: { timeoutMs: number; maxInstances: number },
  ) {
    // Sweep often enough that expiry is within ~25% of the timeout, at most every 5 s.
    const period = Math.max(50, Math.min(5_000, Math.floor(limits.timeoutMs / 4)));
    this.timer = setInterval(() => this.sweep(), period);
    this.timer.unref();
  }

  private static key(group: string, id: string): string {
    return `${group}\u0000${id}`;
  }

  private table(): Promise<Table> {
    if (this.shared === undefined) {
      this.shared = this.gateway.table('rest-consumers').then((table) => {
        table.onChange((key) => this.sharedChanged(key));
        return table;
      });
      this.shared.catch(() => (this.shared = undefined));
    }
    return this.shared;
  }

  private static read(table: Table, key: string): SharedInstance | undefined {
    const raw = table.get(key);
    if (raw === undefined) return undefined;
    try {
      return JSON.parse(raw.toString('utf8')) as SharedInstance;
    } catch {
      return undefined; // a record this version cannot read is treated as absent
    }
  }

  private live(entry: SharedInstance | undefined): entry is SharedInstance {
    return entry !== undefined && Date.now() - entry.touched < this.limits.timeoutMs;
  }

  async create(group: string, name: string | undefined, owner: string, options: ConsumerInstanceOptions): Promise<ConsumerInstance> {
    const id = name ?? `rest-consumer-${newId()}`;
    const key = ConsumerRegistry.key(group, id);
    const table = await this.table();
    if (this.instances.has(key) || this.live(ConsumerRegistry.read(table, key))) {
      throw new RestError('CONSUMER_ALREADY_EXISTS', 'Consumer with specified consumer ID already exists in the specified consumer group.');
    }
    if (this.instances.size >= this.limits.maxInstances) {
      throw new GatewayError('RESOURCE_EXHAUSTED', `Too many consumer instances (rest.maxConsumerInstances = ${this.limits.maxInstances}); delete unused ones.`);
    }
    const instance = this.instantiate(group, id, owner, options);
    await this.publish(instance);
    return instance;
  }

  private instantiate(group: string, id: string, owner: string, options: ConsumerInstanceOptions): ConsumerInstance {
    const instance = new ConsumerInstance(group, id, owner, options, this.gateway, this.log.child({ group, instance: id }), (i) =>
      this.publish(i),
    );
    this.instances.set(ConsumerRegistry.key(group, id), instance);
    return instance;
  }

  private async publish(instance: ConsumerInstance): Promise<void> {
    const table = await this.table();
    const key = ConsumerRegistry.key(instance.group, instance.id);
    const pattern = instance.pattern();
    const entry: SharedInstance = {
      owner: instance.owner,
      options: instance.options,
      topics: instance.subscription(),
      ...(pattern === undefined ? {} : { pattern }),
      holder: this.holderId,
      touched: Date.now(),
    };
    this.published.set(key, entry.touched);
    await table.set(key, Buffer.from(JSON.stringify(entry), 'utf8'));
  }

  /**
   * The live instance, adopted from the shared record when another gateway created it (its
   * subscription is re-joined under the same member id; reading continues from the group's
   * committed offsets), or 40403.
   */
  async get(group: string, id: string, ctx: Context): Promise<ConsumerInstance> {
    const key = ConsumerRegistry.key(group, id);
    let instance = this.instances.get(key);
    if (instance === undefined) {
      const table = await this.table();
      // The request may come right behind one another gateway answered (no sticky load balancer,
      // or workers behind one port): read what every gateway wrote before it, not a lagging copy.
      await table.sync();
      const entry = ConsumerRegistry.read(table, key);
      if (!this.live(entry)) throw notFound();
      if (entry.owner !== ctx.principal.id) throw this.foreign(ctx, group, id, entry.owner);
      instance = this.instances.get(key) ?? this.instantiate(group, id, entry.owner, entry.options);
      const adopted = instance;
      if (entry.topics.length > 0 || entry.pattern !== undefined) {
        await adopted.run(() => adopted.subscribe(ctx, entry.pattern === undefined ? { topics: [...entry.topics] } : { pattern: entry.pattern }));
      } else await this.publish(adopted);
      this.log.info({ group, instance: id }, 'consumer instance adopted from another gateway');
    }
    if (instance.closed) throw notFound();
    if (instance.owner !== ctx.principal.id) throw this.foreign(ctx, group, id, instance.owner);
    instance.lastUsed = Date.now();
    return instance;
  }

  /**
   * Another principal's instance answers exactly as one that does not exist (40403: its existence
   * is not revealed), and the attempt is audited.
   */
  private foreign(ctx: Context, group: string, id: string, owner: string): GatewayError {
    ctx.log.warn({ audit: 'denied', action: 'consumer_instance', group, instance: id, owner, protocol: ctx.protocol }, "request on another principal's consumer instance refused");
    return notFound();
  }

  async delete(group: string, id: string, ctx: Context): Promise<void> {
    const instance = await this.get(group, id, ctx);
    const key = ConsumerRegistry.key(group, id);
    this.instances.delete(key);
    this.published.delete(key);
    await (await this.table()).delete(key);
    await instance.run(() => instance.close(true));
  }

  get size(): number {
    return this.instances.size;
  }

  /** Another gateway took the instance over, or deleted it: drop this copy (its group member leaves). */
  private sharedChanged(key: string): void {
    const instance = this.instances.get(key);
    if (instance === undefined || this.shared === undefined) return;
    void this.shared.then((table) => {
      const entry = ConsumerRegistry.read(table, key);
      if (entry !== undefined && entry.holder === this.holderId) return;
      if (this.instances.get(key) !== instance) return;
      this.instances.delete(key);
      this.published.delete(key);
      this.log.info({ group: instance.group, instance: instance.id }, entry === undefined ? 'consumer instance deleted through another gateway' : 'consumer instance moved to another gateway');
      instance.run(() => instance.close(false)).catch((err: unknown) => this.log.warn({ err }, 'dropping a moved consumer instance failed'));
    });
  }

  private sweep(): void {
    const now = Date.now();
    for (const [key, instance] of this.instances) {
      if (instance.idleSince(now) < this.limits.timeoutMs) {
        // Keep the shared record fresh while in use, so other gateways may take it over.
        if (now - (this.published.get(key) ?? 0) > this.limits.timeoutMs / 4) {
          this.publish(instance).catch((err: unknown) => this.log.warn({ err }, 'refreshing the shared consumer instance failed'));
        }
        continue;
      }
      this.instances.delete(key);
      this.published.delete(key);
      this.log.info({ group: instance.group, instance: instance.id }, 'consumer instance expired');
      void this.table()
        .then((table) => table.delete(key))
        .catch((err: unknown) => this.log.warn({ err }, 'removing the expired instance record failed'));
      instance.close(false).catch((err: unknown) => this.log.warn({ err, group: instance.group, instance: instance.id }, 'leaving group on expiry failed'));
    }
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    const all = [...this.instances.values()];
    this.instances.clear();
    const results = await Promise.allSettled(all.map((i) => i.close(false)));
    for (const r of results) if (r.status === 'rejected') this.log.warn({ err: r.reason }, 'closing consumer instance failed');
  }
}
