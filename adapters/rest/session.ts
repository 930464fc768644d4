/**
 * Confluent v2 consumer instances: one instance's life (create → subscribe/assign → records /
 * commit / seek → delete or idle expiry) and the registry that holds them. A subscribed instance
 * is a core `GroupMember` (load-balanced, offsets committed to the group); the adapter only keeps
 * what the v2 API needs on top (format, the last batch returned, the idle clock).
 */
import { randomUUID } from 'node:crypto';
import type { Context, Gateway, GroupMember } from '../../gateway/api.js';
import { GatewayError } from '../../gateway/errors.js';
import type { StreamRecord, TopicPartition } from '../../gateway/record.js';
import type { Logger } from 'pino';
import type { EmbeddedFormat } from './codec.js';
import { RestError } from './errors.js';

export interface InstanceOptions {
  readonly format: EmbeddedFormat;
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
    readonly options: InstanceOptions,
    private readonly gateway: Gateway,
    private readonly log: Logger,
  ) {}

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
      let re: RegExp;
      try {
        // Java's Pattern.matcher(topic).matches(): the whole name must match.
        re = new RegExp(`^(?:${request.pattern})$`);
      } catch (err) {
        throw new RestError('UNPROCESSABLE', `topic_pattern is not a valid regular expression: ${(err as Error).message}`);
      }
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
   * processed; Kafka stores the next to read). Without: everything returned so far.
   */
  async commit(offsets: { topic: string; partition: number; offset: bigint }[] | undefined): Promise<void> {
    const member = this.requireMember('commit offsets');
    await member.commit(offsets?.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset + 1n })));
  }

  /** `GET offsets`: committed (next-to-read) offsets of the asked partitions that have one. */
  async committed(partitions: TopicPartition[]): Promise<{ topic: string; partition: number; offset: bigint }[]> {
    const member = this.requireMember('read committed offsets');
    const all = await member.committed();
    return partitions.flatMap((tp) => all.filter((c) => c.topic === tp.topic && c.partition === tp.partition));
  }

  async seek(ctx: Context, targets: { topic: string; partition: number; to: bigint | 'earliest' | 'latest' }[]): Promise<void> {
    const mode = this.mode;
    if (mode.kind === 'subscribed') {
      for (const t of targets) await mode.member.seek(t.topic, t.partition, t.to);
        return;
    }
    if (mode.kind === 'assigned') {
      for (const t of targets) {
        if (!mode.partitions.some((p) => p.topic === t.topic && p.partition === t.partition)) {
          throw new RestError('ILLEGAL_STATE', `Illegal state: No current assignment for partition ${t.topic}-${t.partition}`);
        }
        let to: bigint;
        if (typeof t.to === 'bigint') to = t.to;
        else {
          const o = (await this.gateway.offsets(ctx, t.topic)).find((x) => x.partition === t.partition);
          if (o === undefined) throw new GatewayError('PARTITION_NOT_FOUND', `Partition ${t.partition} of topic ${t.topic} not found.`);
          to = t.to === 'earliest' ? o.earliest : o.latest;
        }
        mode.positions.set(tpKey(t.topic, t.partition), to);
      }
      return;
    }
    throw new RestError('ILLEGAL_STATE', 'Illegal state: No current assignment for the given partitions (subscribe or assign first).');
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

/** All live instances of this gateway process, keyed by (group, instance). */
export class ConsumerRegistry {
  private readonly instances = new Map<string, ConsumerInstance>();
  private readonly timer: NodeJS.Timeout;

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

  create(group: string, name: string | undefined, owner: string, options: InstanceOptions): ConsumerInstance {
    const id = name ?? `rest-consumer-${randomUUID()}`;
    const key = ConsumerRegistry.key(group, id);
    if (this.instances.has(key)) {
      throw new RestError('CONSUMER_ALREADY_EXISTS', 'Consumer with specified consumer ID already exists in the specified consumer group.');
    }
    if (this.instances.size >= this.limits.maxInstances) {
      throw new GatewayError('RESOURCE_EXHAUSTED', `Too many consumer instances (rest.maxConsumerInstances = ${this.limits.maxInstances}); delete unused ones.`);
    }
    const instance = new ConsumerInstance(group, id, owner, options, this.gateway, this.log.child({ group, instance: id }));
    this.instances.set(key, instance);
    return instance;
  }

  /** The live instance, or 40403. */
  get(group: string, id: string, principal: string): ConsumerInstance {
    const instance = this.instances.get(ConsumerRegistry.key(group, id));
    if (instance === undefined || instance.closed || instance.owner !== principal) throw new GatewayError('CONSUMER_NOT_FOUND', 'Consumer instance not found.');
    instance.lastUsed = Date.now();
    return instance;
  }

  async delete(group: string, id: string, principal: string): Promise<void> {
    const instance = this.get(group, id, principal);
    this.instances.delete(ConsumerRegistry.key(group, id));
    await instance.run(() => instance.close(true));
  }

  get size(): number {
    return this.instances.size;
  }

  private sweep(): void {
    const now = Date.now();
    for (const [key, instance] of this.instances) {
      if (instance.idleSince(now) < this.limits.timeoutMs) continue;
      this.instances.delete(key);
      this.log.info({ group: instance.group, instance: instance.id }, 'consumer instance expired');
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
