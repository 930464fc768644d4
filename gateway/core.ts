/**
 * The core: the one implementation of the protocol-free Gateway API. It validates requests,
 * decides topic auto-creation, resolves positions into offsets (telling subscribers when a
 * requested position no longer exists), and hands subscriptions to the hub and groups to the
 * group coordinator. Every adapter goes through here; nothing here knows a protocol.
 */
import type { Logger } from 'pino';
import type {
  ConnectionOrigin,
  Context,
  CreateTopicRequest,
  GroupMemberView,
  GroupView,
  PartitionLag,
  KeyFilter,
  ContinuityLost,
  Gateway,
  GroupMember,
  JoinGroupRequest,
  ProduceRequestOptions,
  SubscribeRequest,
  SubscriberSink,
  Subscription,
  Table,
} from './api.js';
import { Authenticator, type Credentials } from './auth.js';
import { filtersOverlap, type MqttRouting, type TopicAccess } from './grants.js';
import type { Backend, ClusterInfo, FetchResult, PartitionReplicas, TopicConfigEntry } from './backends/port.js';
import type { CoreConfig } from './config.js';
import { GatewayError } from './errors.js';
import { GroupCoordinator } from './groups.js';
import { MATCH_ALL, compileFilters } from './hub/filters.js';
import { Hub, type HubStats } from './hub/hub.js';
import { IdempotencyWindow } from './idempotency.js';
import { INSTANCES_TABLE, InstanceRegistry } from './instances.js';
import { ConnectionRegistry, type ConnectionsSnapshot } from './connections.js';
import { Metrics, MetricsSampler } from './metrics.js';
import type { KeyPredicate } from './hub/filters.js';
import { TopicWatcher, WaitingMember, WaitingSubscription, type EndableSubscription } from './topic-wait.js';
import {
  EARLIEST,
  NO_HEADERS,
  recordSize,
  validateTopicName,
  type PartitionOffsets,
  type ProduceRecord,
  type ProduceResult,
  type StreamRecord,
  type TopicInfo,
} from './record.js';
import { CompactedTable } from './table.js';
import { TopicBindings } from './schemas/bindings.js';
import { SchemaRegistry } from './schemas/registry.js';
import { SchemaReading, type RecordDecoding, type StrictDecoding } from './schemas/reading.js';
import type { SchemaType } from './schemas/formats.js';
import { TRACEPARENT, validTraceparent } from './trace.js';
import { newId } from './ids.js';

const NO_ACCESS: TopicAccess = Object.freeze({ kind: 'none' });
const ALL_ACCESS: TopicAccess = Object.freeze({ kind: 'all' });

/** Topic metadata is cached this long; partitions rarely change and a miss costs one metadata call. */
const METADATA_TTL_MS = 5_000;

/**
 * Partitions one `createTopic` may ask for: every partition costs the backend a log (and Kafka a
 * leader), so a client's one request must not ask for an unbounded number; Kafka itself advises
 * a few thousand per broker.
 */
export const MAX_CREATE_PARTITIONS = 1_000;

/** A non-negative decimal, or -1 (Kafka's "no limit"). */
const LONG_OR_UNLIMITED = /^(?:-1|0|[1-9][0-9]{0,17})$/;

/**
 * The topic configs `createTopic` accepts, with the values each may take: the ones both backends
 * act on (the embedded log reads cleanup.policy, retention.ms, retention.bytes) plus
 * min.insync.replicas and max.message.bytes, which Kafka enforces. Checked in the core so both
 * backends refuse the same requests.
 */
export const TOPIC_CONFIGS: Readonly<Record<string, RegExp>> = {
  'cleanup.policy': /^(?:delete|compact|compact,delete|delete,compact)$/,
  'retention.ms': LONG_OR_UNLIMITED,
  'retention.bytes': LONG_OR_UNLIMITED,
  'max.message.bytes': /^(?:0|[1-9][0-9]{0,9})$/,
  'min.insync.replicas': /^[1-9][0-9]{0,2}$/,
};

/** Hub counters plus the waits for topics that do not exist yet. */
export interface CoreStats extends HubStats {
  /** Missing topics polled for `waitForTopic` subscribers and group members (one timer each). */
  readonly waitingTopics: number;
  /** Subscriptions and group members waiting for a topic to exist. */
  readonly topicWaiters: number;
}

/** The gateway core over one backend. */
export class Core implements Gateway {
  readonly log: Logger;
  readonly hub: Hub;
  readonly groups: GroupCoordinator;
  readonly auth: Authenticator;
  readonly metrics = new Metrics();
  /** Distinguishes this gateway process from others on the same backend. */
  readonly instanceId = newId();
  /** The schema registry (config `schemaRegistry`); undefined when disabled. */
  readonly schemas: SchemaRegistry | undefined;
  private readonly backend: Backend;
  private readonly bindings: TopicBindings;
  private readonly reading: SchemaReading;
  private readonly config: CoreConfig;
  private readonly idempotency: IdempotencyWindow;
  private readonly instances: InstanceRegistry;
  private readonly topicWatcher: TopicWatcher;
  private readonly metadata = new Map<string, { info: TopicInfo; expires: number }>();
  private cluster: { info: ClusterInfo; expires: number } | undefined;
  private readonly creating = new Map<string, Promise<void>>();
  private readonly tables = new Map<string, Promise<CompactedTable>>();
  private closed = false;
  private openConnections = 0;
  private readonly connectionsByAddress = new Map<string, number>();
  private readonly publishBuckets = new Map<string, { tokens: number; at: number }>();
  private readonly registry = new ConnectionRegistry();
  private readonly inspectors = new Map<string, () => unknown>();

  /**
   * @param options.mqtt the MQTT routing, when an MQTT adapter runs: what `{mqtt: F}` grants
   *   expand to (the composition root hands it over; the core knows no MQTT otherwise).
   */
  constructor(options: { backend: Backend; config: CoreConfig; log: Logger; mqtt?: MqttRouting }) {
    this.backend = options.backend;
    this.config = options.config;
    this.log = options.log;
    this.hub = new Hub(this.backend, this.config.hub, this.log.child({ component: 'hub' }));
    this.groups = new GroupCoordinator(
      this.backend,
      this.hub,
      {
        ackTimeoutMs: this.config.groups.ackTimeoutMs,
        autoCommitIntervalMs: this.config.groups.autoCommitIntervalMs,
        maxInflight: this.config.groups.maxInflight,
        fetchMaxRecords: this.config.hub.fetchMaxRecords,
        fetchMaxBytes: this.config.hub.fetchMaxBytes,
        maxQueueBytes: this.config.hub.maxQueueBytes,
        heartbeatMs: this.config.groups.heartbeatMs,
        sessionTimeoutMs: this.config.groups.sessionTimeoutMs,
      },
      this.log.child({ component: 'groups' }),
      { instanceId: this.instanceId, open: () => this.table('group-members') as Promise<CompactedTable> },
    );
    this.idempotency = new IdempotencyWindow(this.config.idempotency);
    this.instances = new InstanceRegistry(
      this.instanceId,
      () => this.table(INSTANCES_TABLE) as Promise<CompactedTable>,
      { heartbeatMs: this.config.groups.heartbeatMs, sessionTimeoutMs: this.config.groups.sessionTimeoutMs },
      this.log.child({ component: 'instances' }),
    );
    // A found topic's metadata goes into the cache, so the waiters' start costs no second call.
    this.topicWatcher = new TopicWatcher((topic) => this.topicInfo(topic, true), this.config.topics.waitPollMs, this.log.child({ component: 'topic-wait' }));
    this.auth = new Authenticator(this.config.auth, options.mqtt);
    const registry = this.config.schemaRegistry;
    this.schemas = registry.enabled
      ? new SchemaRegistry(
          registry,
          async () => {
            const log = this.log.child({ component: 'schemas' });
            // The registry topic keeps its exact name (no internal prefix): other registries read it too.
            const [store, ids] = await Promise.all([
              CompactedTable.open(this.backend, this.hub, registry.topic, log, this.config.hub.maxQueueBytes, ''),
              this.table('schema-ids') as Promise<CompactedTable>,
            ]);
            return { store, ids };
          },
          this.log.child({ component: 'schemas' }),
        )
      : undefined;
    this.bindings = new TopicBindings(registry.bindings, this.schemas, registry.maxDepth, this.log.child({ component: 'bindings' }));
    this.reading = new SchemaReading(this.bindings, this.schemas);
  }

  decodeForJson(records: readonly StreamRecord[]): Promise<readonly (RecordDecoding | undefined)[]> | undefined {
    return this.reading.forJson(records);
  }

  decodeRecord(ctx: Context, record: StreamRecord, type: SchemaType): Promise<StrictDecoding> {
    return this.reading.strict(ctx, record, type);
  }

  async authenticate(credentials: Credentials, origin?: ConnectionOrigin): Promise<import('./api.js').Principal> {
    try {
      return await this.auth.authenticate(credentials);
    } catch (err) {
      this.metrics.authFailures.inc({ kind: 'authentication' });
      this.log.warn(
        {
          audit: 'authentication_failed',
          reason: err instanceof GatewayError ? err.message : 'error',
          protocol: origin?.protocol,
          remoteAddress: origin?.remoteAddress,
          certificateSubject: credentials.certificateSubject,
        },
        'authentication failed',
      );
      throw err;
    }
  }

  connectionOpened(protocol: string, remoteAddress?: string): () => void {
    const { maxConnections, maxConnectionsPerAddress } = this.config.limits;
    const fromAddress = remoteAddress === undefined ? 0 : (this.connectionsByAddress.get(remoteAddress) ?? 0);
    // The address's own limit first: that client should slow down (429, quota exceeded), whereas a
    // full instance is nobody's fault and another instance may take the client (503, server busy).
    if (fromAddress >= maxConnectionsPerAddress) {
      this.log.warn({ audit: 'connection_refused', limit: 'per_address', protocol, remoteAddress, open: this.openConnections }, 'connection limit reached');
      throw new GatewayError('RESOURCE_EXHAUSTED', 'Too many connections from this address; try again later.');
    }
    if (this.openConnections >= maxConnections) {
      this.log.warn({ audit: 'connection_refused', limit: 'total', protocol, remoteAddress, open: this.openConnections }, 'connection limit reached');
      throw new GatewayError('SERVER_BUSY', 'This gateway instance is at its connection limit; try again later or connect to another instance.');
    }
    this.openConnections++;
    if (remoteAddress !== undefined) this.connectionsByAddress.set(remoteAddress, fromAddress + 1);
    this.metrics.connections.inc({ protocol });
    this.metrics.connectionsTotal.inc({ protocol });
    const counted = this.registry.opened(protocol);
    let open = true;
    return () => {
      if (!open) return;
      open = false;
      counted();
      this.openConnections--;
      if (remoteAddress !== undefined) {
        const left = (this.connectionsByAddress.get(remoteAddress) ?? 1) - 1;
        if (left <= 0) this.connectionsByAddress.delete(remoteAddress);
        else this.connectionsByAddress.set(remoteAddress, left);
      }
      this.metrics.connections.dec({ protocol });
    };
  }

  connectionIdentified(ctx: Context): () => void {
    return this.registry.identified(ctx.principal.id, ctx.protocol);
  }

  capabilities(ctx: Context): { readonly principal: string; readonly anonymous: boolean; readonly operator: boolean; readonly writes: boolean } {
    const scope = ctx.principal.scope;
    return { principal: ctx.principal.id, anonymous: ctx.principal.anonymous, operator: scope === undefined || scope.operator, writes: scope === undefined || scope.writes };
  }

  /** PERMISSION_DENIED (audited) unless the principal may use the operator's views. */
  private requireOperator(ctx: Context, what: string): void {
    this.checkExpiry(ctx);
    if (!this.capabilities(ctx).operator) this.deny(ctx, 'operate', '', `Principal ${ctx.principal.id} may not read ${what} (needs admin: ["*"]).`);
  }

  connections(ctx: Context): ConnectionsSnapshot {
    this.requireOperator(ctx, 'the connections');
    return this.registry.snapshot();
  }

  metricsSampler(ctx: Context): MetricsSampler {
    this.checkExpiry(ctx);
    if (!this.capabilities(ctx).operator && !this.permitsMetrics(ctx.principal)) {
      this.deny(ctx, 'metrics', '', `Principal ${ctx.principal.id} may not read the live metrics (needs the metrics grant or admin: ["*"]).`);
    }
    return new MetricsSampler(this.metrics, () => ({ connections: this.registry.openByProtocol(), subscriptions: this.hub.stats().subscriptions }));
  }

  registerInspector(name: string, inspect: () => unknown): () => void {
    if (this.inspectors.has(name)) throw new Error(`Inspector ${name} is already registered`);
    this.inspectors.set(name, inspect);
    return () => {
      if (this.inspectors.get(name) === inspect) this.inspectors.delete(name);
    };
  }

  inspect(ctx: Context, name: string): unknown {
    this.requireOperator(ctx, `the ${name} view`);
    const inspect = this.inspectors.get(name);
    if (inspect === undefined) throw new GatewayError('NOT_FOUND', `No ${name} view on this gateway.`);
    return inspect();
  }

  admitSubscription(current: number): void {
    if (current >= this.config.limits.maxSubscriptionsPerConnection) {
      throw new GatewayError('RESOURCE_EXHAUSTED', `A connection may hold at most ${this.config.limits.maxSubscriptionsPerConnection} subscriptions.`);
    }
  }

  /** Token bucket per principal: RESOURCE_EXHAUSTED when the principal produces faster than allowed. */
  private takePublishTokens(principalId: string, count: number): void {
    const rate = this.config.limits.publishRatePerPrincipal;
    if (rate <= 0) return;
    const burst = this.config.limits.publishBurstPerPrincipal;
    const now = Date.now();
    const bucket = this.publishBuckets.get(principalId) ?? { tokens: burst, at: now };
    bucket.tokens = Math.min(burst, bucket.tokens + ((now - bucket.at) / 1000) * rate);
    bucket.at = now;
    this.publishBuckets.delete(principalId);
    this.publishBuckets.set(principalId, bucket);
    if (this.publishBuckets.size > 100_000) this.publishBuckets.delete(this.publishBuckets.keys().next().value!);
    if (bucket.tokens < count) {
      throw new GatewayError('RESOURCE_EXHAUSTED', `Publish rate limit of ${rate} records/s exceeded; retry later.`, { details: { retryAfterMs: Math.ceil(((count - bucket.tokens) / rate) * 1000) } });
    }
    bucket.tokens -= count;
  }

  /** Prometheus exposition of the core's metrics (hub gauges sampled now). */
  async renderMetrics(): Promise<string> {
    const stats = this.hub.stats();
    this.metrics.subscriptions.set(stats.subscriptions);
    this.metrics.readers.set(stats.readers);
    this.metrics.queuedBytes.set(stats.queuedBytes);
    this.metrics.subscriberLag.set(stats.detached);
    return this.metrics.render();
  }

  /**
   * Internal state (tables behind `topics.internalPrefix`, the schema registry's topic, and Kafka's own `__` topics) is never
   * reachable from a client operation, whatever the grants: a `*` grant means all user topics.
   */
  private isInternal(topic: string): boolean {
    return topic.startsWith(this.config.topics.internalPrefix) || topic.startsWith('__') || (this.schemas !== undefined && topic === this.config.schemaRegistry.topic);
  }

  /** What the principal may do on `topic` (internal topics: nothing), before any key is looked at. */
  private accessOf(ctx: Context, action: 'read' | 'write', topic: string): TopicAccess {
    if (this.isInternal(topic)) return NO_ACCESS;
    const scope = ctx.principal.scope;
    return scope === undefined ? ALL_ACCESS : scope.access(action, topic);
  }

  /** The topic-level check of every client operation: its access, or PERMISSION_DENIED (counted and audited). */
  private check(ctx: Context, action: 'read' | 'write', topic: string): TopicAccess {
    this.checkExpiry(ctx);
    const access = this.accessOf(ctx, action, topic);
    if (access.kind === 'none') {
      this.deny(ctx, action, topic, this.isInternal(topic) ? `Topic ${topic} is internal to the gateway.` : `Principal ${ctx.principal.id} may not ${action} topic ${topic}.`);
    }
    return access;
  }

  private checkExpiry(ctx: Context): void {
    const { expiresAt } = ctx.principal;
    if (expiresAt !== undefined && expiresAt <= Date.now()) throw new GatewayError('UNAUTHENTICATED', 'The credentials have expired.');
  }

  private deny(ctx: Context, action: string, topic: string, message: string, details?: Record<string, unknown>): never {
    this.metrics.authFailures.inc({ kind: 'denied' });
    ctx.log.warn({ audit: 'denied', action, topic, protocol: ctx.protocol, ...details }, 'request denied');
    throw new GatewayError('PERMISSION_DENIED', message, details === undefined ? {} : { details });
  }

  /**
   * The read scope as a hub predicate (undefined = every key), after refusing a request whose own
   * key filters can never meet it: it would wait forever for records it may not see.
   */
  private readPredicate(ctx: Context, access: TopicAccess, topic: string, filters: readonly KeyFilter[] | undefined): KeyPredicate | undefined {
    if (access.kind !== 'keys') return undefined;
    const wanted = filters === undefined || filters.length === 0 ? [{ kind: 'all' } as const] : filters;
    if (!wanted.some((w) => access.filters.some((s) => filtersOverlap(w, s)))) {
      this.deny(ctx, 'read', topic, `Principal ${ctx.principal.id} may read no key of topic ${topic} that this subscription asks for.`);
    }
    return access.predicate;
  }

  permits(ctx: Context, action: 'read' | 'write', topic: string, key: Buffer | string | null): boolean {
    const access = this.accessOf(ctx, action, topic);
    if (access.kind !== 'keys') return access.kind === 'all';
    return access.predicate(typeof key === 'string' ? Buffer.from(key, 'utf8') : key);
  }

  authorize(ctx: Context, action: 'read' | 'write', topic: string, key: Buffer | string | null): void {
    this.checkExpiry(ctx);
    if (!this.permits(ctx, action, topic, key)) {
      const shown = key === null ? 'null' : JSON.stringify(typeof key === 'string' ? key : key.toString('utf8'));
      this.deny(ctx, action, topic, `Principal ${ctx.principal.id} may not ${action} key ${shown} of topic ${topic}.`);
    }
  }

  authorizeGroup(ctx: Context, group: string): void {
    this.checkExpiry(ctx);
    const scope = ctx.principal.scope;
    if (scope !== undefined && !scope.permitsGroup(group)) {
      this.deny(ctx, 'group', '', `Principal ${ctx.principal.id} may not use group ${group}.`, { group });
    }
  }

  /** Whether the principal may read `/metrics` (always, while no authentication is configured). */
  permitsMetrics(principal: import('./api.js').Principal): boolean {
    return principal.scope === undefined || principal.scope.metrics;
  }

  /**
   * Opens the shared group-membership table, so groups are coordinated from the first join, and
   * (at the same time, so the start takes no longer) writes this instance's first heartbeat.
   */
  async start(): Promise<void> {
    await Promise.all([this.groups.members(), this.instances.start()]);
  }

  /** Liveness from the `instances` table (gateway/instances.ts); see Gateway.instanceAlive. */
  instanceAlive(id: string): boolean {
    return this.instances.alive(id);
  }

  /** Leaves groups (committing acknowledged offsets), ends subscriptions, closes tables. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.topicWatcher.close();
    await this.groups.close();
    await this.schemas?.close();
    await this.instances.close().catch((err: unknown) => this.log.warn({ err }, 'instance entry not deleted; others see this instance gone after groups.sessionTimeoutMs'));
    for (const table of this.tables.values()) {
      await table.then((t) => t.close()).catch(() => undefined);
    }
    this.hub.close();
  }

  /** Hub counters (readers, subscriptions, queued bytes) and topic waits. */
  stats(): CoreStats {
    const waits = this.topicWatcher.stats();
    return { ...this.hub.stats(), waitingTopics: waits.topics, topicWaiters: waits.waiters };
  }

  async ready(): Promise<boolean> {
    return !this.closed && (await this.backend.healthy());
  }

  async describeCluster(ctx: Context): Promise<ClusterInfo> {
    this.checkExpiry(ctx);
    // Every v3 request names its cluster: cached like topic metadata, not one admin call each.
    const cached = this.cluster;
    if (cached !== undefined && cached.expires > Date.now()) return cached.info;
    const info = await this.backend.describeCluster();
    this.cluster = { info, expires: Date.now() + METADATA_TTL_MS };
    return info;
  }

  async describePartitions(ctx: Context, topic: string): Promise<PartitionReplicas[]> {
    validateTopicName(topic);
    this.check(ctx, 'read', topic);
    return this.backend.describePartitions(topic);
  }

  async topicConfigs(ctx: Context, topic: string): Promise<TopicConfigEntry[]> {
    validateTopicName(topic);
    this.check(ctx, 'read', topic);
    return this.backend.topicConfigs(topic);
  }

  /** PERMISSION_DENIED (counted and audited) unless the principal administers `topic`; internal topics never. */
  private checkAdmin(ctx: Context, action: 'create' | 'delete', topic: string): void {
    this.checkExpiry(ctx);
    if (this.isInternal(topic)) this.deny(ctx, action, topic, `Topic ${topic} is internal to the gateway.`);
    const scope = ctx.principal.scope;
    if (scope !== undefined && !scope.permitsAdmin(topic)) this.deny(ctx, action, topic, `Principal ${ctx.principal.id} may not ${action} topic ${topic} (no admin grant).`);
  }

  async createTopic(ctx: Context, topic: string, request: CreateTopicRequest): Promise<TopicInfo> {
    this.checkOpen();
    validateTopicName(topic);
    this.checkAdmin(ctx, 'create', topic);
    const { partitions, replicationFactor, configs = {} } = request;
    if (partitions !== undefined && (!Number.isInteger(partitions) || partitions < 1 || partitions > MAX_CREATE_PARTITIONS)) {
      throw new GatewayError('INVALID_ARGUMENT', `partitions_count must be between 1 and ${MAX_CREATE_PARTITIONS}.`);
    }
    if (replicationFactor !== undefined && (!Number.isInteger(replicationFactor) || replicationFactor < 1 || replicationFactor > 32_767)) {
      throw new GatewayError('INVALID_ARGUMENT', 'replication_factor must be a positive integer.');
    }
    for (const [name, value] of Object.entries(configs)) {
      const rule = Object.hasOwn(TOPIC_CONFIGS, name) ? TOPIC_CONFIGS[name] : undefined;
      if (rule === undefined) throw new GatewayError('INVALID_ARGUMENT', `Topic config ${JSON.stringify(name.slice(0, 100))} is not one the gateway accepts (${Object.keys(TOPIC_CONFIGS).join(', ')}).`);
      if (!rule.test(value)) throw new GatewayError('INVALID_ARGUMENT', `Invalid value ${JSON.stringify(value.slice(0, 100))} for topic config ${name}.`);
    }
    const defaultPartitions = this.backend.kind === 'kafka' ? this.config.topics.defaultPartitions : this.config.embedded.defaultPartitions;
    await this.backend.createTopic(topic, {
      partitions: partitions ?? defaultPartitions,
      ...(replicationFactor === undefined ? {} : { replicationFactor }),
      config: { ...configs },
    });
    ctx.log.info({ audit: 'topic_created', topic, partitions: partitions ?? defaultPartitions }, 'topic created');
    this.topicWatcher.exists(topic);
    return this.topicInfo(topic, true);
  }

  async deleteTopic(ctx: Context, topic: string): Promise<void> {
    this.checkOpen();
    validateTopicName(topic);
    this.checkAdmin(ctx, 'delete', topic);
    await this.topicInfo(topic, true);
    await this.backend.deleteTopic(topic);
    this.metadata.delete(topic);
    ctx.log.info({ audit: 'topic_deleted', topic }, 'topic deleted');
  }

  /** Whether the principal may see `group` (its group grants; everything without auth). */
  private permitsGroup(ctx: Context, group: string): boolean {
    const scope = ctx.principal.scope;
    return scope === undefined || scope.permitsGroup(group);
  }

  /** Every group the backend and the gateways know, merged by name. */
  private async allGroups(only?: string): Promise<GroupView[]> {
    const members = this.groups.memberships().filter((m) => only === undefined || m.group === only);
    const backendGroups = only === undefined ? await this.backend.listGroups() : [await this.backend.describeGroup(only)].filter((g) => g !== undefined);
    const views = new Map<string, GroupView>();
    for (const g of backendGroups) {
      views.set(g.group, {
        group: g.group,
        origin: 'kafka',
        state: g.state,
        assignor: g.protocol,
        simple: g.protocolType === '',
        members: g.members.map((m) => ({ memberId: m.memberId, clientId: m.clientId, host: m.host, instanceId: m.instanceId, assignment: m.assignment })),
      });
    }
    const byGroup = new Map<string, GroupMemberView[]>();
    for (const m of members) {
      const list = byGroup.get(m.group) ?? [];
      list.push({ memberId: m.memberId, clientId: 'streamgate', host: `streamgate/${m.instance}`, instanceId: null, assignment: m.assignment ?? [] });
      byGroup.set(m.group, list);
    }
    for (const [group, list] of byGroup) {
      const kafka = views.get(group);
      list.sort((a, b) => (a.memberId < b.memberId ? -1 : 1));
      views.set(group, { group, origin: 'streamgate', state: 'STABLE', assignor: 'range', simple: true, members: [...(kafka?.members ?? []), ...list] });
    }
    return [...views.values()].sort((a, b) => (a.group < b.group ? -1 : a.group > b.group ? 1 : 0));
  }

  async listGroups(ctx: Context): Promise<GroupView[]> {
    this.checkExpiry(ctx);
    return (await this.allGroups()).filter((g) => !this.isInternal(g.group) && this.permitsGroup(ctx, g.group));
  }

  async describeGroup(ctx: Context, group: string): Promise<GroupView> {
    this.authorizeGroup(ctx, group);
    const found = this.isInternal(group) ? undefined : (await this.allGroups(group))[0];
    if (found === undefined) throw new GatewayError('NOT_FOUND', `Consumer group ${group} does not exist.`, { details: { group } });
    return found;
  }

  async groupLags(ctx: Context, group: string): Promise<PartitionLag[]> {
    const view = await this.describeGroup(ctx, group);
    const committed = (await this.backend.groupOffsets(group)).filter((c) => this.accessOf(ctx, 'read', c.topic).kind !== 'none');
    const owner = new Map<string, GroupMemberView>();
    for (const m of view.members) for (const a of m.assignment) owner.set(`${a.topic}\u0000${a.partition}`, m);
    const ends = new Map<string, bigint>();
    for (const topic of new Set(committed.map((c) => c.topic))) {
      try {
        for (const o of await this.backend.offsets(topic)) ends.set(`${topic}\u0000${o.partition}`, o.latest);
      } catch (err) {
        // A topic deleted since the commit has no lag to show.
        if (!(err instanceof GatewayError && err.code === 'TOPIC_NOT_FOUND')) throw err;
      }
    }
    const out: PartitionLag[] = [];
    for (const c of committed) {
      const k = `${c.topic}\u0000${c.partition}`;
      const latest = ends.get(k);
      if (latest === undefined) continue;
      const lag = latest > c.offset ? latest - c.offset : 0n;
      out.push({ topic: c.topic, partition: c.partition, committed: c.offset, latest, lag, member: owner.get(k) ?? null });
    }
    return out.sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
  }

  /** Topics the caller may read some key of (internal topics are never listed). */
  async listTopics(ctx: Context): Promise<TopicInfo[]> {
    return (await this.backend.listTopics()).filter((t) => this.accessOf(ctx, 'read', t.name).kind !== 'none');
  }

  async describeTopic(ctx: Context, topic: string): Promise<TopicInfo> {
    validateTopicName(topic);
    this.check(ctx, 'read', topic);
    return this.topicInfo(topic, true);
  }

  async offsets(ctx: Context, topic: string): Promise<PartitionOffsets[]> {
    validateTopicName(topic);
    this.check(ctx, 'read', topic);
    return this.backend.offsets(topic);
  }

  async produce(ctx: Context, topic: string, records: ProduceRecord[], options: ProduceRequestOptions = {}): Promise<ProduceResult[]> {
    this.checkOpen();
    validateTopicName(topic);
    const access = this.check(ctx, 'write', topic);
    if (records.length === 0) throw new GatewayError('INVALID_ARGUMENT', 'A produce request needs at least one record.');
    if (access.kind === 'keys') {
      const index = records.findIndex((r) => !access.predicate(r.key ?? null));
      if (index >= 0) {
        const key = records[index]!.key;
        this.deny(ctx, 'write', topic, `Record ${index}: principal ${ctx.principal.id} may not write key ${key == null ? 'null' : JSON.stringify(key.toString('utf8'))} of topic ${topic}; nothing was written.`, { index });
      }
    }
    if (records.length > this.config.limits.maxBatchRecords) {
      throw new GatewayError('MESSAGE_TOO_LARGE', `A produce request may carry at most ${this.config.limits.maxBatchRecords} records.`);
    }
    records.forEach((record, index) => {
      const count = record.headers?.length ?? 0;
      if (count > this.config.limits.maxHeadersPerRecord) {
        throw new GatewayError('MESSAGE_TOO_LARGE', `Record ${index} has ${count} headers; the limit is ${this.config.limits.maxHeadersPerRecord}.`, {
          details: { index, headers: count, limit: this.config.limits.maxHeadersPerRecord },
        });
      }
      const size = recordSize({ key: record.key ?? null, value: record.value, headers: record.headers ?? NO_HEADERS }) - 64;
      if (size > this.config.limits.maxRecordBytes) {
        throw new GatewayError('MESSAGE_TOO_LARGE', `Record ${index} is ${size} bytes; the limit is ${this.config.limits.maxRecordBytes}.`, {
          details: { index, size, limit: this.config.limits.maxRecordBytes },
        });
      }
    });
    this.takePublishTokens(ctx.principal.id, records.length);
    // Bound topics: every record checked against its schema (and encoded) before anything, the topic included, is created or written.
    const checked = this.bindings.empty ? records : await this.bindings.apply(topic, records);
    const info = await this.ensureTopic(topic);
    // The topic exists now: subscribers waiting for it start without waiting for the next poll.
    this.topicWatcher.exists(topic);
    const traceparent = validTraceparent(options.traceparent);
    let batch = options.partition === undefined ? checked : checked.map((r) => ({ ...r, partition: options.partition }));
    if (traceparent !== undefined) {
      const header = Buffer.from(traceparent, 'latin1');
      batch = batch.map((r) => (r.headers?.some((h) => h.name === TRACEPARENT) === true ? r : { ...r, headers: [...(r.headers ?? NO_HEADERS), { name: TRACEPARENT, value: header }] }));
    }
    for (const record of batch) {
      const p = record.partition;
      if (p !== undefined && (!Number.isInteger(p) || p < 0 || p >= info.partitions)) {
        throw new GatewayError('PARTITION_NOT_FOUND', `Topic ${topic} has no partition ${String(p)} (it has ${info.partitions}).`);
      }
    }
    const write = async () => {
      const timer = this.metrics.produceLatency.startTimer({ protocol: ctx.protocol });
      try {
        const results = await this.backend.produce(topic, batch, { acks: this.config.kafka.acks, ...(ctx.signal ? { signal: ctx.signal } : {}) });
        timer();
        const written = results.filter((r) => r.ok).length;
        if (written > 0) {
          this.metrics.recordsIn.inc({ protocol: ctx.protocol, topic: this.metrics.topic(topic) }, written);
          this.registry.traffic(ctx.principal.id, 'in', written);
        }
        for (const r of results) if (!r.ok) this.metrics.backendErrors.inc({ code: r.error.code });
        return results;
      } catch (err) {
        this.metrics.backendErrors.inc({ code: GatewayError.from(err).code });
        throw err;
      }
    };
    if (options.idempotencyKey === undefined) return write();
    return this.idempotency.run(`${ctx.principal.id}\u0000${topic}`, options.idempotencyKey, write);
  }

  async fetch(
    ctx: Context,
    topic: string,
    partition: number,
    offset: bigint,
    options: { maxRecords?: number; maxBytes?: number; waitMs?: number } = {},
  ): Promise<FetchResult> {
    this.checkOpen();
    validateTopicName(topic);
    const predicate = this.readPredicate(ctx, this.check(ctx, 'read', topic), topic, undefined);
    const info = await this.topicInfo(topic, false);
    if (!Number.isInteger(partition) || partition < 0 || partition >= info.partitions) {
      throw new GatewayError('PARTITION_NOT_FOUND', `Topic ${topic} has no partition ${partition} (it has ${info.partitions}).`);
    }
    const result = await this.backend.fetch(topic, partition, offset, {
      maxRecords: Math.min(options.maxRecords ?? this.config.hub.fetchMaxRecords, this.config.hub.fetchMaxRecords * 20),
      maxBytes: Math.min(options.maxBytes ?? this.config.hub.fetchMaxBytes, this.config.hub.fetchMaxBytes),
      waitMs: Math.min(options.waitMs ?? 0, 60_000),
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
    // Records outside a key-scoped reader's scope are dropped; nextOffset still moves past them.
    return predicate === undefined ? result : { ...result, records: result.records.filter((r) => predicate(r.key)) };
  }

  async subscribe(ctx: Context, request: SubscribeRequest, sink: SubscriberSink): Promise<Subscription> {
    this.checkOpen();
    validateTopicName(request.topic);
    const scoped = this.readPredicate(ctx, this.check(ctx, 'read', request.topic), request.topic, request.filters);
    const asked = compileFilters(request.filters);
    const predicate: KeyPredicate = scoped === undefined ? asked : asked === MATCH_ALL ? scoped : (key) => scoped(key) && asked(key);
    let subscription: EndableSubscription;
    try {
      subscription = await this.openSubscription(ctx, request, predicate, sink);
    } catch (err) {
      if (request.waitForTopic !== true || !(err instanceof GatewayError && err.code === 'TOPIC_NOT_FOUND')) throw err;
      // Read from the beginning once it exists: everything written after this call is delivered.
      const { credit } = request;
      const waiting = new WaitingSubscription(
        request.topic,
        this.topicWatcher,
        (gated, extraCredit) =>
          this.openSubscription(ctx, { ...request, from: EARLIEST, strict: false, credit: credit === undefined ? undefined : credit + extraCredit }, predicate, gated),
        sink,
        ctx.log,
      );
      waiting.wait();
      subscription = waiting;
    }
    const expiresAt = ctx.principal.expiresAt;
    if (expiresAt === undefined) return subscription;
    // A long-lived stream ends when its credentials expire; the client re-authenticates and resumes.
    const timer = setTimeout(
      () => subscription.end(new GatewayError('UNAUTHENTICATED', 'The credentials expired; reconnect with fresh ones and resume.')),
      Math.max(0, Math.min(expiresAt - Date.now(), 2 ** 31 - 1)),
    );
    timer.unref();
    const close = subscription.close.bind(subscription);
    subscription.close = () => {
      clearTimeout(timer);
      close();
    };
    return subscription;
  }

  /** Resolves the start positions and starts the hub subscription (TOPIC_NOT_FOUND when the topic is missing). */
  private async openSubscription(ctx: Context, request: SubscribeRequest, predicate: KeyPredicate, sink: SubscriberSink): Promise<EndableSubscription> {
    this.checkOpen();
    const info = await this.topicInfo(request.topic, false);
    const partitions = request.partitions ?? Array.from({ length: info.partitions }, (_, i) => i);
    const named = request.from.kind === 'offsets' ? [...request.from.offsets.keys()] : [];
    for (const p of [...partitions, ...named]) {
      if (!Number.isInteger(p) || p < 0 || p >= info.partitions) {
        throw new GatewayError('PARTITION_NOT_FOUND', `Topic ${request.topic} has no partition ${p} (it has ${info.partitions}).`);
      }
    }
    const bounds = new Map((await this.backend.offsets(request.topic)).map((o) => [o.partition, o]));
    const byTime = request.from.kind === 'timestamp' ? await this.backend.offsetsForTimestamp(request.topic, request.from.timestamp) : undefined;
    const start = new Map<number, bigint>();
    const latest = new Map<number, bigint>();
    const notices: ContinuityLost[] = [];
    for (const p of partitions) {
      const b = bounds.get(p) ?? { partition: p, earliest: 0n, latest: 0n };
      latest.set(p, b.latest);
      let offset: bigint;
      switch (request.from.kind) {
        case 'earliest':
          offset = b.earliest;
          break;
        case 'latest':
          offset = b.latest;
          break;
        case 'timestamp':
          offset = byTime?.get(p) ?? b.latest;
          break;
        case 'offsets': {
          const wanted = request.from.offsets.get(p);
          offset = wanted ?? ((request.from.otherwise ?? 'latest') === 'earliest' ? b.earliest : b.latest);
          break;
        }
      }
      if (offset < b.earliest || offset > b.latest) {
        const reason = offset < b.earliest ? 'below_log_start' : 'beyond_log_end';
        if (request.strict === true) {
          throw new GatewayError('OUT_OF_RANGE', `Offset ${offset} of ${request.topic}/${p} is outside the log [${b.earliest}, ${b.latest}].`, {
            details: { partition: p, earliest: String(b.earliest), latest: String(b.latest) },
          });
        }
        const actual = reason === 'below_log_start' ? b.earliest : b.latest;
        notices.push({ partition: p, requested: offset, actual, reason });
        offset = actual;
      }
      start.set(p, offset);
    }
    for (const notice of notices) sink.continuityLost?.(notice);
    const out = this.metrics.recordsOut.labels({ protocol: ctx.protocol, topic: this.metrics.topic(request.topic) });
    const slow = this.metrics.slowConsumers;
    const latency = this.metrics.deliveryLatency;
    const registry = this.registry;
    const principal = ctx.principal.id;
    const counted: SubscriberSink = {
      records: (batch) => {
        out.inc(batch.length);
        registry.traffic(principal, 'out', batch.length);
        const now = Date.now();
        for (const r of batch) latency.observe(Math.max(0, now - r.timestamp) / 1000);
        return sink.records(batch);
      },
      end: (err) => {
        if (err?.code === 'SLOW_CONSUMER') slow.inc();
        sink.end(err);
      },
      ...(sink.continuityLost ? { continuityLost: (n: ContinuityLost) => sink.continuityLost!(n) } : {}),
    };
    const maxQueueBytes = Math.min(request.maxQueueBytes ?? this.config.hub.maxQueueBytes, this.config.hub.maxQueueBytes);
    return this.hub.subscribe({
      topic: request.topic,
      start,
      latest,
      predicate,
      sink: counted,
      maxQueueBytes,
      ...(request.credit === undefined ? {} : { credit: request.credit }),
    });
  }

  async joinGroup(ctx: Context, request: JoinGroupRequest): Promise<GroupMember> {
    this.checkOpen();
    const scoped = new Map<string, KeyPredicate>();
    for (const topic of request.topics) {
      validateTopicName(topic);
      const predicate = this.readPredicate(ctx, this.check(ctx, 'read', topic), topic, request.filters);
      if (predicate !== undefined) scoped.set(topic, predicate);
    }
    const scope = ctx.principal.scope;
    if (scope !== undefined && !scope.permitsGroup(request.group, request.topics)) {
      this.deny(ctx, 'group', request.topics.join(','), `Principal ${ctx.principal.id} may not use group ${request.group}.`, { group: request.group });
    }
    compileFilters(request.filters);
    // The member's key filter applies per topic: its read scope on that topic AND the request's filters.
    const readScope = scoped.size === 0 ? undefined : (topic: string, key: Buffer | null) => scoped.get(topic)?.(key) ?? true;
    if (request.waitForTopic === true) {
      const missing = await this.firstMissingTopic(request.topics);
      if (missing !== undefined) {
        const memberId = request.memberId ?? newId();
        const member = new WaitingMember(
          request.group,
          memberId,
          [...request.topics],
          this.topicWatcher,
          () => this.firstMissingTopic(request.topics),
          async () => {
            this.checkOpen();
            // The topics did not exist at the call: read partitions nobody committed from their beginning.
            const joined = await this.groups.join({ ...request, memberId, resetTo: 'earliest' }, readScope, ctx.principal.id);
            if (this.closed) {
              // The core closed (and left its members) while this join was in flight.
              await joined.leave();
              throw new GatewayError('SHUTTING_DOWN', 'The gateway is shutting down.');
            }
            return joined;
          },
          ctx.log,
        );
        member.wait(missing);
        return member;
      }
    }
    return this.groups.join(request, readScope, ctx.principal.id);
  }

  /** The first of `topics` that does not exist, or undefined when all do. */
  private async firstMissingTopic(topics: readonly string[]): Promise<string | undefined> {
    for (const topic of topics) {
      try {
        await this.topicInfo(topic, false);
      } catch (err) {
        if (err instanceof GatewayError && err.code === 'TOPIC_NOT_FOUND') return topic;
        throw err;
      }
    }
    return undefined;
  }

  table(name: string): Promise<Table> {
    let table = this.tables.get(name);
    if (table === undefined) {
      table = CompactedTable.open(this.backend, this.hub, name, this.log.child({ table: name }), this.config.hub.maxQueueBytes, this.config.topics.internalPrefix);
      this.tables.set(name, table);
      table.catch(() => this.tables.delete(name));
    }
    return table;
  }

  private checkOpen(): void {
    if (this.closed) throw new GatewayError('SHUTTING_DOWN', 'The gateway is shutting down.');
  }

  private async topicInfo(topic: string, fresh: boolean): Promise<TopicInfo> {
    const cached = this.metadata.get(topic);
    if (!fresh && cached !== undefined && cached.expires > Date.now()) return cached.info;
    const info = await this.backend.describeTopic(topic);
    this.metadata.set(topic, { info, expires: Date.now() + METADATA_TTL_MS });
    return info;
  }

  /** Returns the topic's metadata, creating the topic first when auto-creation is on. */
  private async ensureTopic(topic: string): Promise<TopicInfo> {
    try {
      return await this.topicInfo(topic, false);
    } catch (err) {
      if (!(err instanceof GatewayError && err.code === 'TOPIC_NOT_FOUND') || !this.config.topics.autoCreate) throw err;
    }
    let creating = this.creating.get(topic);
    if (creating === undefined) {
      creating = this.backend
        .createTopic(topic, { partitions: this.backend.kind === 'kafka' ? this.config.topics.defaultPartitions : this.config.embedded.defaultPartitions })
        .catch((err: unknown) => {
          if (!(err instanceof GatewayError && err.code === 'ALREADY_EXISTS')) throw err;
        })
        .finally(() => this.creating.delete(topic));
      this.creating.set(topic, creating);
    }
    await creating;
    this.log.info({ topic }, 'topic created on first produce');
    return this.topicInfo(topic, true);
  }
}
