/**
 * Load-balanced consumption (REST consumer instances, gRPC `Subscribe` and `Session` streams with a group, MQTT `$share/`):
 * each partition of a group's topics is read by exactly one member; committed offsets live in
 * the backend (Kafka's group coordinator for the Kafka backend), so a restarted gateway resumes
 * a group where it committed.
 *
 * Commit-after-ack: acknowledgements may arrive in any order; the committed offset advances over
 * the contiguous acknowledged prefix only, and records not acknowledged within the ack timeout
 * are delivered again. (Committing "everything fetched" is how existing REST proxies lose data.)
 *
 * Membership spans gateway instances: every instance writes its members (with a heartbeat) into
 * the compacted `group-members` table, follows the others' entries, and computes the same range
 * assignment over all live members — so a group's partitions are split across instances without
 * sticky load balancing, and a crashed instance's partitions move after `groups.sessionTimeoutMs`.
 * While views converge (a join, a leave, a crash) two members may briefly read the same
 * partition: delivery stays at-least-once, and commits only ever cover acknowledged records.
 *
 * Two modes (`JoinGroupRequest.mode`): `partition` (REST consumer instances, gRPC) — the range
 * plan over members, each partition read by one member; `dispatch` (MQTT `$share/`) — the range
 * plan over gateway INSTANCES (an instance with members counts once), and within an instance each
 * record of its partitions goes to one local member, least loaded first, then round robin, each
 * bounded by its window; what a leaving member did not acknowledge goes to the others at once
 * (group-dispatch.ts). A group has one mode: a join in the other one is FAILED_PRECONDITION.
 */
import type { Logger } from 'pino';
import type { GroupMember, JoinGroupRequest, SubscriberSink } from './api.js';
import type { Backend } from './backends/port.js';
import { partitionStarts } from './group-start.js';
import { GatewayError } from './errors.js';
import { Dispatcher, DispatchMember, sameReads, type DispatchHost } from './group-dispatch.js';
import { compileFilters, type KeyPredicate } from './hub/filters.js';
import type { Hub, HubSubscription } from './hub/hub.js';
import type { StreamRecord, TopicPartition } from './record.js';
import type { CompactedTable } from './table.js';
import { newId } from './ids.js';

/** Group timings and bounds (config sections `groups` and `hub`). */
export interface GroupOptions {
  /** Default redelivery timeout of push-mode deliveries not acknowledged (`JoinGroupRequest.ackTimeoutMs` overrides). */
  readonly ackTimeoutMs: number;
  /** How often auto-commit members commit their contiguous acknowledged prefix. */
  readonly autoCommitIntervalMs: number;
  /** Unacknowledged records a push-mode member may have outstanding. */
  readonly maxInflight: number;
  /** Records one `poll` returns when it names no bound (`hub.fetchMaxRecords`). */
  readonly fetchMaxRecords: number;
  /** Bytes one `poll` returns when it names no bound (`hub.fetchMaxBytes`). */
  readonly fetchMaxBytes: number;
  /** Queue bound of a push-mode member's hub subscription (`hub.maxQueueBytes`). */
  readonly maxQueueBytes: number;
  /** How often an instance refreshes its members' entries in the membership table. */
  readonly heartbeatMs: number;
  /** A member whose entry was not refreshed for this long is gone (its instance crashed). */
  readonly sessionTimeoutMs: number;
}

/** Where membership is shared between instances. */
export interface MembershipStore {
  /** This process's id, distinct per gateway instance. */
  readonly instanceId: string;
  /** Opens the compacted membership table (once). */
  open(): Promise<CompactedTable>;
}

interface MemberEntry {
  readonly instance: string;
  readonly topics: readonly string[];
  readonly seen: number;
  /** The principal the member belongs to (absent: written without one). */
  readonly owner?: string;
  /** `dispatch` for a member of a dispatch-mode group (absent: partition mode). */
  readonly mode?: 'dispatch';
}

/** A member of a group as every instance sees it: local, or known from the membership table. */
interface Participant {
  readonly memberId: string;
  readonly topics: readonly string[];
  readonly owner?: string;
  /** The instance whose member it is (remote participants). */
  readonly instance?: string;
  readonly mode?: 'dispatch';
  readonly local?: Member;
}

/** A local member of either mode, as the coordinator and its group see it. */
type LocalMember = Member | DispatchMember;

interface Inflight {
  readonly record: StreamRecord;
  deliveredAt: number;
}

/** State of one assigned partition in one member. */
class AssignedPartition {
  /** Next offset to deliver. */
  next: bigint;
  /** Pull mode: everything below this was returned before the latest poll (counts as processed). */
  polledNext: bigint;
  /** Push mode: delivered, not yet acknowledged, in offset order. */
  readonly inflight = new Map<bigint, Inflight>();
  lastCommitted: bigint;

  constructor(
    readonly topic: string,
    readonly partition: number,
    start: bigint,
    committed: bigint,
  ) {
    this.next = start;
    this.polledNext = start;
    this.lastCommitted = committed;
  }

  /** The next offset that may be committed: the first unacknowledged delivery, or everything delivered. */
  commitPoint(pullMode: boolean): bigint {
    if (pullMode) return this.polledNext;
    const first = this.inflight.keys().next();
    return first.done === true ? this.next : first.value;
  }
}

const key = (topic: string, partition: number): string => `${topic}\u0000${partition}`;

/** Owns the local groups of one core. */
export class GroupCoordinator {
  private readonly groups = new Map<string, LocalGroup>();
  private table: Promise<CompactedTable> | undefined;
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(
    readonly backend: Backend,
    readonly hub: Hub,
    readonly options: GroupOptions,
    readonly log: Logger,
    private readonly membership: MembershipStore,
  ) {}

  /** The membership table, opened and followed on first use. */
  members(): Promise<CompactedTable> {
    if (this.table === undefined) {
      this.table = this.membership.open().then((table) => {
        this.openedTable = table;
        table.onChange((key) => this.groups.get(key.split('\u0000')[0]!)?.membershipChanged());
        this.heartbeat = setInterval(() => this.beat(), this.options.heartbeatMs);
        this.heartbeat.unref();
        return table;
      });
      this.table.catch(() => (this.table = undefined));
    }
    return this.table;
  }

  /** Live members of `group` on other instances. */
  remoteMembers(group: string): Participant[] {
    const table = this.openedTable;
    if (table === undefined) return [];
    const prefix = `${group}\u0000`;
    const cutoff = Date.now() - this.options.sessionTimeoutMs;
    const out: Participant[] = [];
    for (const [key, value] of table.entries()) {
      if (!key.startsWith(prefix)) continue;
      const entry = parseEntry(value);
      if (entry === undefined || entry.instance === this.membership.instanceId || entry.seen < cutoff) continue;
      out.push({
        memberId: key.slice(prefix.length),
        topics: entry.topics,
        instance: entry.instance,
        ...(entry.owner === undefined ? {} : { owner: entry.owner }),
        ...(entry.mode === 'dispatch' ? { mode: entry.mode } : {}),
      });
    }
    return out;
  }

  private openedTable: CompactedTable | undefined;

  /** This instance's id in the membership table. */
  get instanceId(): string {
    return this.membership.instanceId;
  }

  /** Writes a local member's entry to the membership table, so every instance assigns partitions to it. */
  async register(member: LocalMember): Promise<void> {
    const table = await this.members();
    this.openedTable = table;
    await table.set(entryKey(member.group, member.memberId), member.entry(this.membership.instanceId));
  }

  /** Deletes a leaving member's entry (only if this instance still owns it), so its partitions move. */
  async unregister(member: LocalMember): Promise<void> {
    const table = await this.members();
    const key = entryKey(member.group, member.memberId);
    const current = table.get(key);
    // The same member id may have moved to another instance (a REST consumer instance taken over
    // through another gateway): only this instance's own entry is removed.
    if (current !== undefined && parseEntry(current)?.instance !== this.membership.instanceId) return;
    await table.delete(key);
  }

  /** Refreshes this instance's entries and notices members of other instances that went silent. */
  private beat(): void {
    const table = this.openedTable;
    if (table === undefined) return;
    for (const group of this.groups.values()) {
      for (const member of group.members.values()) {
        table
          .set(entryKey(member.group, member.memberId), member.entry(this.membership.instanceId))
          .catch((err: unknown) => this.log.warn({ err, group: member.group }, 'group heartbeat failed'));
      }
      group.membershipChanged();
    }
  }

  /**
   * Joins `request.group`. A member id names one member: joining with the id of a live member
   * replaces it (a client reconnecting) — only for the principal it belongs to (`owner`); another
   * principal is PERMISSION_DENIED and the member is untouched, on this instance or another.
   * Without `owner` no member is protected.
   * @param readScope the principal's read scope per topic (the core's decision): records outside it
   *   are never delivered to this member, and its position moves past them.
   * @param owner the principal id joining (the core passes `ctx.principal.id`).
   */
  async join(request: JoinGroupRequest, readScope?: (topic: string, key: Buffer | null) => boolean, owner?: string): Promise<GroupMember> {
    if (request.group.length === 0) throw new GatewayError('INVALID_ARGUMENT', 'A group name must not be empty.');
    if (request.topics.length === 0) throw new GatewayError('INVALID_ARGUMENT', 'A group member must subscribe to at least one topic.');
    const partitions = new Map<string, number>();
    for (const topic of request.topics) partitions.set(topic, (await this.backend.describeTopic(topic)).partitions);
    const memberId = request.memberId ?? newId();
    if (request.memberId !== undefined && owner !== undefined) {
      await this.members();
      const holders = [this.groups.get(request.group)?.members.get(memberId)?.principal, this.remoteMembers(request.group).find((r) => r.memberId === memberId)?.owner];
      if (holders.some((h) => h !== undefined && h !== owner)) {
        this.log.warn({ audit: 'denied', action: 'group_member', group: request.group, memberId, principal: owner }, "join with another principal's member id refused");
        throw new GatewayError('PERMISSION_DENIED', `Member id ${memberId} of group ${request.group} belongs to another principal.`);
      }
    }
    const mode = request.mode ?? 'partition';
    await this.members();
    if (this.remoteMembers(request.group).some((r) => (r.mode ?? 'partition') !== mode)) {
      throw new GatewayError('FAILED_PRECONDITION', `Group ${request.group} has members in another mode on another gateway instance; a ${mode}-mode member cannot join it.`);
    }
    // No await from here to the group's creation: concurrent joins must find the same group.
    let group = this.groups.get(request.group);
    if (group !== undefined && group.mode !== mode) {
      throw new GatewayError('FAILED_PRECONDITION', `Group ${request.group} has members in ${group.mode} mode; a ${mode}-mode member cannot join it.`);
    }
    if (group?.dispatcher !== undefined && !sameReads(group.request, request)) {
      throw new GatewayError('FAILED_PRECONDITION', `The members of group ${request.group} dispatch one reader's records: they must read the same topics with the same filters.`);
    }
    if (group === undefined) {
      group = new LocalGroup(this, request.group, mode, request);
      this.groups.set(request.group, group);
    }
    const previous = group.members.get(memberId);
    if (previous !== undefined) await previous.leave();
    const member =
      group.dispatcher === undefined
        ? new Member(group, memberId, request, partitions, owner, readScope)
        : new DispatchMember(group, group.dispatcher, memberId, request, partitions, owner, readScope);
    await group.add(member);
    return member;
  }

  /** This instance's members of `group` and their assigned partitions (observability). */
  localAssignment(group: string): { memberId: string; partitions: TopicPartition[] }[] {
    const g = this.groups.get(group);
    return g === undefined ? [] : [...g.members.values()].map((m) => ({ memberId: m.memberId, partitions: m.assignment() }));
  }

  /**
   * Every live member of every group — this instance's (with their assignment) and the other
   * instances' from the membership table (assignment unknown here) — for observability (REST v3).
   */
  memberships(): { group: string; memberId: string; topics: readonly string[]; instance: string; owner?: string; assignment?: TopicPartition[] }[] {
    const self = this.membership.instanceId;
    const out: ReturnType<GroupCoordinator['memberships']> = [];
    for (const g of this.groups.values()) {
      for (const m of g.members.values()) out.push({ group: g.name, memberId: m.memberId, topics: m.topics, instance: self, ...(m.principal === undefined ? {} : { owner: m.principal }), assignment: m.assignment() });
    }
    const cutoff = Date.now() - this.options.sessionTimeoutMs;
    for (const [key, value] of this.openedTable?.entries() ?? []) {
      const entry = parseEntry(value);
      if (entry === undefined || entry.instance === self || entry.seen < cutoff) continue;
      const at = key.indexOf('\u0000');
      out.push({ group: key.slice(0, at), memberId: key.slice(at + 1), topics: entry.topics, instance: entry.instance, ...(entry.owner === undefined ? {} : { owner: entry.owner }) });
    }
    return out;
  }

  /** Commits and leaves every member (shutdown). */
  async close(): Promise<void> {
    clearInterval(this.heartbeat);
    const members = [...this.groups.values()].flatMap((g) => [...g.members.values()]);
    await Promise.allSettled(members.map((m) => m.leave()));
  }

  /** Forgets a local group once its last local member left. */
  dropGroup(group: LocalGroup): void {
    if (this.groups.get(group.name) === group && group.members.size === 0) {
      this.groups.delete(group.name);
      group.dispatcher?.close();
    }
  }

  /** Unacknowledged records per streaming member of a local dispatch-mode group (observability, tests). */
  dispatchLoads(group: string): Map<string, number> {
    return this.groups.get(group)?.dispatcher?.loads() ?? new Map();
  }
}

/** The members of one group on this instance and their range assignment. */
class LocalGroup implements DispatchHost {
  readonly members = new Map<string, LocalMember>();
  private chain: Promise<void> = Promise.resolve();
  /** The remote membership the current assignment was computed from. */
  private remoteSignature = '';
  /** Dispatch mode: the one reader of the partitions this instance owns. */
  readonly dispatcher: Dispatcher | undefined;

  constructor(
    readonly coordinator: GroupCoordinator,
    readonly name: string,
    readonly mode: 'partition' | 'dispatch',
    /** The first join: in dispatch mode every member reads what it asked for. */
    readonly request: JoinGroupRequest,
  ) {
    this.dispatcher = mode === 'dispatch' ? new Dispatcher(this, request) : undefined;
  }

  get backend(): Backend {
    return this.coordinator.backend;
  }
  get hub(): Hub {
    return this.coordinator.hub;
  }
  get log(): Logger {
    return this.coordinator.log;
  }
  get maxInflight(): number {
    return this.coordinator.options.maxInflight;
  }
  get autoCommitIntervalMs(): number {
    return this.coordinator.options.autoCommitIntervalMs;
  }
  get ackTimeoutMs(): number {
    return this.request.ackTimeoutMs ?? this.coordinator.options.ackTimeoutMs;
  }
  get maxQueueBytes(): number {
    return this.coordinator.options.maxQueueBytes;
  }

  /**
   * Who the range plan is computed over, besides this instance's members: other instances'
   * members (partition mode), or other instances with members (dispatch mode, one each).
   */
  private remoteParticipants(): Participant[] {
    const remote = this.coordinator.remoteMembers(this.name).filter((r) => !this.members.has(r.memberId));
    if (this.dispatcher === undefined) return remote;
    const byInstance = new Map<string, Set<string>>();
    for (const r of remote) {
      const topics = byInstance.get(r.instance!) ?? new Set<string>();
      for (const t of r.topics) topics.add(t);
      byInstance.set(r.instance!, topics);
    }
    return [...byInstance].map(([instance, topics]) => ({ memberId: instance, topics: [...topics] }));
  }

  async add(member: LocalMember): Promise<void> {
    this.members.set(member.memberId, member);
    await this.coordinator.register(member);
    return this.rebalance();
  }

  async remove(member: LocalMember): Promise<void> {
    if (this.members.get(member.memberId) === member) this.members.delete(member.memberId);
    await this.coordinator.unregister(member).catch((err: unknown) => this.coordinator.log.warn({ err, group: this.name }, 'could not remove the member entry; it expires'));
    const done = this.rebalance();
    // The caller sees a failed rebalance through `done`; this branch only tidies up after success.
    done.then(
      () => this.coordinator.dropGroup(this),
      () => undefined,
    );
    return done;
  }

  /** Another instance's member joined, left or went silent: rebalance if the live set changed. */
  membershipChanged(): void {
    if (signature(this.remoteParticipants()) !== this.remoteSignature) {
      this.rebalance().catch((err: unknown) => this.coordinator.log.warn({ err, group: this.name }, 'rebalance failed'));
    }
  }

  /**
   * Runs `fn` between two rebalances of this group on this instance (no assignment changes while
   * it runs); its failure is the caller's and does not stop later rebalances.
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.chain.then(fn, fn);
    this.chain = next.then(
      () => undefined,
      () => undefined,
    );
    return next;
  }

  /**
   * Range assignment per topic over all live members (every instance's; in dispatch mode over the
   * instances with members) sorted by id — every instance computes the same plan — applied to the
   * local members (or the dispatcher), one rebalance at a time.
   */
  rebalance(): Promise<void> {
    const run = async () => {
      const remote = this.remoteParticipants();
      this.remoteSignature = signature(remote);
      const topics = new Map<string, number>();
      for (const m of this.members.values()) for (const [t, n] of m.partitionCounts) topics.set(t, n);
      if (this.dispatcher !== undefined) {
        // One participant per instance: this one (while it has members) and each remote one.
        const local = new Set<string>();
        for (const m of this.members.values()) for (const t of m.topics) local.add(t);
        const everyone: Participant[] = [...(this.members.size > 0 ? [{ memberId: this.coordinator.instanceId, topics: [...local] }] : []), ...remote];
        const mine = rangePlan(everyone, topics).get(this.coordinator.instanceId) ?? [];
        await this.dispatcher.revokeExcept(mine);
        await this.dispatcher.assign(mine);
        return;
      }
      const everyone: Participant[] = [...[...this.members.values()].map((m) => ({ memberId: m.memberId, topics: m.topics, local: m as Member })), ...remote];
      const byId = rangePlan(everyone, topics);
      const plan = new Map<Member, TopicPartition[]>();
      for (const m of this.members.values()) plan.set(m as Member, byId.get(m.memberId) ?? []);
      // Revoke first (committing what was acknowledged), then assign: no partition has two readers.
      for (const [m, parts] of plan) await m.revokeExcept(parts);
      for (const [m, parts] of plan) await m.assign(parts);
    };
    this.chain = this.chain.then(run, run);
    return this.chain;
  }
}

/** Range assignment per topic over the participants sorted by id: every instance computes the same plan. */
function rangePlan(participants: readonly Participant[], topics: ReadonlyMap<string, number>): Map<string, TopicPartition[]> {
  const plan = new Map<string, TopicPartition[]>();
  for (const [topic, count] of topics) {
    const members = participants.filter((m) => m.topics.includes(topic)).sort((a, b) => (a.memberId < b.memberId ? -1 : 1));
    if (members.length === 0) continue;
    const per = Math.floor(count / members.length);
    const extra = count % members.length;
    let p = 0;
    members.forEach((m, i) => {
      const n = per + (i < extra ? 1 : 0);
      const mine = plan.get(m.memberId) ?? [];
      for (let k = 0; k < n; k++) mine.push({ topic, partition: p++ });
      plan.set(m.memberId, mine);
    });
  }
  return plan;
}

/** `offset`, or OUT_OF_RANGE unless the log start ≤ offset ≤ the log end (the next offset to be written). */
function checkInLog(bounds: ReadonlyMap<string, { earliest: bigint; latest: bigint }>, topic: string, partition: number, offset: bigint, what: string): bigint {
  const b = bounds.get(key(topic, partition));
  if (b === undefined) throw new GatewayError('PARTITION_NOT_FOUND', `Partition ${partition} of topic ${topic} not found.`, { details: { topic, partition } });
  if (offset < b.earliest || offset > b.latest) {
    throw new GatewayError('OUT_OF_RANGE', `Cannot ${what} offset ${offset} of ${topic}/${partition}: the log holds offsets ${b.earliest} to ${b.latest} (the log end, next to be written).`, {
      details: { topic, partition, offset: String(offset), earliest: String(b.earliest), latest: String(b.latest) },
    });
  }
  return offset;
}

function entryKey(group: string, memberId: string): string {
  return `${group}\u0000${memberId}`;
}

function encodeEntry(entry: MemberEntry): Buffer {
  return Buffer.from(JSON.stringify(entry), 'utf8');
}

function parseEntry(value: Buffer): MemberEntry | undefined {
  try {
    const entry = JSON.parse(value.toString('utf8')) as MemberEntry;
    return typeof entry.instance === 'string' && Array.isArray(entry.topics) && typeof entry.seen === 'number' ? entry : undefined;
  } catch {
    return undefined; // an entry this version cannot read is not a member it can plan for
  }
}

function signature(participants: readonly Participant[]): string {
  return participants
    .map((p) => `${p.memberId}=${[...p.topics].sort().join(',')}`)
    .sort()
    .join(';');
}

class Member implements GroupMember {
  readonly group: string;
  readonly topics: readonly string[];
  private readonly parts = new Map<string, AssignedPartition>();
  private readonly predicate: (topic: string, key: Buffer | null) => boolean;
  private readonly autoCommit: boolean;
  private readonly ackTimeoutMs: number;
  private pullMode = false;
  private left = false;
  private stream_: PushStream | undefined;
  private readonly commitTimer: NodeJS.Timeout;
  private pollRotation = 0;
  /**
   * Commits of this member are written one at a time, each computed when its turn comes: an
   * automatic commit computed before an explicit one can never land after it and undo it.
   */
  private commits: Promise<void> = Promise.resolve();

  constructor(
    private readonly owner: LocalGroup,
    readonly memberId: string,
    private readonly request: JoinGroupRequest,
    readonly partitionCounts: ReadonlyMap<string, number>,
    /** The principal this member belongs to. */
    readonly principal: string | undefined,
    readScope?: (topic: string, key: Buffer | null) => boolean,
  ) {
    this.group = owner.name;
    this.topics = [...request.topics];
    const asked: KeyPredicate = compileFilters(request.filters);
    this.predicate = readScope === undefined ? (_topic, k) => asked(k) : (topic, k) => readScope(topic, k) && asked(k);
    this.autoCommit = request.autoCommit ?? true;
    this.ackTimeoutMs = request.ackTimeoutMs ?? owner.coordinator.options.ackTimeoutMs;
    this.commitTimer = setInterval(() => {
      if (this.autoCommit) this.commitAcknowledged().catch((err: unknown) => this.log.warn({ err }, 'auto-commit failed'));
      this.redeliverExpired();
    }, Math.max(50, Math.min(owner.coordinator.options.autoCommitIntervalMs, this.ackTimeoutMs > 0 ? this.ackTimeoutMs / 2 : Infinity)));
    this.commitTimer.unref();
  }

  private get log(): Logger {
    return this.owner.coordinator.log;
  }

  /** This member's entry in the membership table. */
  entry(instance: string): Buffer {
    return encodeEntry({ instance, topics: this.topics, seen: Date.now(), ...(this.principal === undefined ? {} : { owner: this.principal }) });
  }

  private get backend(): Backend {
    return this.owner.coordinator.backend;
  }

  assignment(): TopicPartition[] {
    return [...this.parts.values()].map((p) => ({ topic: p.topic, partition: p.partition }));
  }

  positions(): { topic: string; partition: number; offset: bigint }[] {
    return [...this.parts.values()].map((p) => ({ topic: p.topic, partition: p.partition, offset: p.next }));
  }

  async revokeExcept(keep: readonly TopicPartition[]): Promise<void> {
    const keepKeys = new Set(keep.map((tp) => key(tp.topic, tp.partition)));
    const revoked = [...this.parts.entries()].filter(([k]) => !keepKeys.has(k));
    if (revoked.length === 0) return;
    if (this.autoCommit) await this.commitParts(revoked.map(([, p]) => p)).catch((err: unknown) => this.log.warn({ err }, 'commit on revoke failed'));
    for (const [k] of revoked) this.parts.delete(k);
    this.stream_?.restart();
  }

  async assign(partitions: readonly TopicPartition[]): Promise<void> {
    if (this.left) return;
    const added = partitions.filter((tp) => !this.parts.has(key(tp.topic, tp.partition)));
    if (added.length === 0) return;
    for (const p of await partitionStarts(this.backend, this.group, added, this.request.resetTo ?? 'latest', this.log)) {
      this.parts.set(key(p.topic, p.partition), new AssignedPartition(p.topic, p.partition, p.start, p.committed));
    }
    this.stream_?.restart();
  }

  async poll(options: { maxRecords?: number; maxBytes?: number; waitMs?: number; signal?: AbortSignal }): Promise<StreamRecord[]> {
    this.checkLive();
    this.pullMode = true;
    for (const p of this.parts.values()) p.polledNext = p.next;
    if (this.autoCommit) await this.commitAcknowledged();
    const maxRecords = options.maxRecords ?? this.owner.coordinator.options.fetchMaxRecords;
    let maxBytes = options.maxBytes ?? this.owner.coordinator.options.fetchMaxBytes;
    const out: StreamRecord[] = [];
    const parts = [...this.parts.values()];
    if (parts.length === 0) return out;
    this.pollRotation = (this.pollRotation + 1) % parts.length;
    const ordered = [...parts.slice(this.pollRotation), ...parts.slice(0, this.pollRotation)];
    for (const part of ordered) {
      if (out.length >= maxRecords || maxBytes <= 0) break;
      const records = await this.fetchPart(part, { maxRecords: maxRecords - out.length, maxBytes, waitMs: 0 });
      for (const r of records) maxBytes -= (r.value?.length ?? 0) + (r.key?.length ?? 0);
      out.push(...records);
    }
    if (out.length > 0 || (options.waitMs ?? 0) <= 0) return out;
    // Long-poll every assigned partition; the first to answer with records wins.
    const abort = new AbortController();
    const onAbort = () => abort.abort();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const winners = await Promise.all(
        ordered.map(async (part) => {
          const start = part.next;
          const records = await this.fetchPart(part, { maxRecords, maxBytes, waitMs: options.waitMs ?? 0, signal: abort.signal }).catch((err: unknown) => {
            if (abort.signal.aborted) return [];
            throw err;
          });
          if (records.length > 0) abort.abort();
          return { part, start, records };
        }),
      );
      return winners.flatMap((w) => w.records);
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  private async fetchPart(part: AssignedPartition, options: { maxRecords: number; maxBytes: number; waitMs: number; signal?: AbortSignal }): Promise<StreamRecord[]> {
    for (;;) {
      const from = part.next;
      try {
        const result = await this.backend.fetch(part.topic, part.partition, from, options);
        if (!this.parts.has(key(part.topic, part.partition)) || part.next !== from) return [];
        part.next = result.nextOffset > from ? result.nextOffset : from;
        return result.records.filter((r) => this.predicate(part.topic, r.key));
      } catch (err) {
        const error = GatewayError.from(err);
        if (error.code !== 'OUT_OF_RANGE') throw error;
        const earliest = BigInt(String(error.details?.earliest ?? from));
        const latest = BigInt(String(error.details?.latest ?? from));
        part.next = from < earliest ? earliest : latest;
        this.log.warn({ group: this.group, topic: part.topic, partition: part.partition, from: String(from), to: String(part.next) }, 'group position left the log');
      }
    }
  }

  stream(sink: SubscriberSink, options: { credit?: number } = {}): { addCredit(n: number): void; stop(): void } {
    this.checkLive();
    if (this.stream_ !== undefined) throw new GatewayError('FAILED_PRECONDITION', 'This group member is already streaming.');
    const stream = new PushStream(this, sink, options.credit, this.owner.coordinator.options.maxInflight);
    this.stream_ = stream;
    stream.restart();
    return {
      addCredit: (n) => stream.addCredit(n),
      stop: () => {
        stream.stop();
        if (this.stream_ === stream) this.stream_ = undefined;
      },
    };
  }

  /** Subscribes the hub to the assigned partitions from their next offsets. */
  openHubSubscription(target: SubscriberSink, credit: number): HubSubscription | undefined {
    const byTopic = new Map<string, Map<number, bigint>>();
    for (const p of this.parts.values()) {
      const m = byTopic.get(p.topic) ?? new Map<number, bigint>();
      m.set(p.partition, p.next);
      byTopic.set(p.topic, m);
    }
    if (byTopic.size === 0) return undefined;
    if (byTopic.size > 1) this.log.debug({ group: this.group }, 'push streams read one topic at a time; first topic used');
    const [topic, start] = [...byTopic.entries()][0]!;
    return this.owner.coordinator.hub.subscribe({
      topic,
      start,
      predicate: (k) => this.predicate(topic, k),
      sink: target,
      maxQueueBytes: this.owner.coordinator.options.maxQueueBytes,
      credit,
    });
  }

  /** Records handed to the push sink: track them as in flight. */
  delivered(records: readonly StreamRecord[]): void {
    const now = Date.now();
    for (const r of records) {
      const part = this.parts.get(key(r.topic, r.partition));
      if (part === undefined) continue;
      part.inflight.set(r.offset, { record: r, deliveredAt: now });
      if (r.offset >= part.next) part.next = r.offset + 1n;
    }
  }

  /** Moves `next` over records the hub skipped (filtered out) so commits can advance past them. */
  advance(positions: ReadonlyMap<number, bigint>, topic: string): void {
    for (const [partition, offset] of positions) {
      const part = this.parts.get(key(topic, partition));
      if (part !== undefined && offset > part.next) part.next = offset;
    }
  }

  ack(topic: string, partition: number, offset: bigint): boolean {
    const part = this.parts.get(key(topic, partition));
    if (part === undefined || !part.inflight.delete(offset)) return false;
    this.stream_?.acked();
    return true;
  }

  /**
   * An explicit commit covers only partitions this member is assigned, at offsets inside the log
   * (log start ≤ offset ≤ log end): the whole request is checked before anything is written, so a
   * refused request commits nothing. It runs between rebalances of this instance's members, so
   * the partitions cannot move to a local member between the check and the write (a member on
   * another instance sees the move only after views converge — at-least-once, as ever).
   */
  async commit(offsets?: readonly { topic: string; partition: number; offset: bigint }[]): Promise<void> {
    this.checkLive();
    if (offsets === undefined) {
      await this.commitParts([...this.parts.values()], (p) => p.next);
      return;
    }
    if (offsets.length === 0) return;
    for (const o of offsets) this.assigned(o.topic, o.partition, 'commit');
    await this.owner.exclusive(async () => {
      const bounds = await this.logBounds(offsets.map((o) => o.topic));
      // Re-checked after the await: the member may have left or lost the partition meanwhile.
      this.checkLive();
      const parts = offsets.map((o) => {
        const part = this.assigned(o.topic, o.partition, 'commit');
        checkInLog(bounds, o.topic, o.partition, o.offset, 'commit');
        return { part, offset: o.offset };
      });
      await this.serially(async () => {
        await this.backend.commitOffsets(this.group, offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: o.offset })));
        for (const { part, offset } of parts) part.lastCommitted = offset;
      });
    });
  }

  /** Runs a commit after this member's previous ones (never waits for a rebalance: no lock cycle). */
  private serially(fn: () => Promise<void>): Promise<void> {
    const next = this.commits.then(fn, fn);
    this.commits = next.catch(() => undefined);
    return next;
  }

  /** The assigned partition, or FAILED_PRECONDITION (Kafka's "No current assignment for partition"). */
  private assigned(topic: string, partition: number, what: string): AssignedPartition {
    const part = this.parts.get(key(topic, partition));
    if (part === undefined) {
      throw new GatewayError('FAILED_PRECONDITION', `Cannot ${what} ${topic}/${partition}: no current assignment for this partition in group member ${this.memberId}.`, {
        details: { topic, partition },
      });
    }
    return part;
  }

  /** Log start and end per partition of each topic (one offsets request per topic). */
  private async logBounds(topics: readonly string[]): Promise<ReadonlyMap<string, { earliest: bigint; latest: bigint }>> {
    const out = new Map<string, { earliest: bigint; latest: bigint }>();
    for (const topic of new Set(topics)) {
      for (const o of await this.backend.offsets(topic)) out.set(key(topic, o.partition), { earliest: o.earliest, latest: o.latest });
    }
    return out;
  }

  /** Commits the contiguous acknowledged prefix of every partition that moved. */
  async commitAcknowledged(): Promise<void> {
    await this.commitParts([...this.parts.values()], (p) => p.commitPoint(this.pullMode));
  }

  private commitParts(parts: readonly AssignedPartition[], point: (p: AssignedPartition) => bigint = (p) => p.commitPoint(this.pullMode)): Promise<void> {
    return this.serially(async () => {
      // Automatic commits only move forward: an explicit commit ahead of the acknowledged prefix stands.
      const moved = parts.map((p) => ({ p, offset: point(p) })).filter(({ p, offset }) => offset > p.lastCommitted && offset >= 0n);
      if (moved.length === 0) return;
      await this.backend.commitOffsets(this.group, moved.map(({ p, offset }) => ({ topic: p.topic, partition: p.partition, offset })));
      for (const { p, offset } of moved) p.lastCommitted = offset;
    });
  }

  async committed(): Promise<{ topic: string; partition: number; offset: bigint }[]> {
    const assigned = new Set(this.parts.keys());
    const all = await this.backend.committedOffsets(this.group, [...this.topics]);
    return all.filter((c) => assigned.has(key(c.topic, c.partition))).map((c) => ({ topic: c.topic, partition: c.partition, offset: c.offset }));
  }

  /** Moves the member's position within an assigned partition; a position outside the log is OUT_OF_RANGE. */
  async seek(topic: string, partition: number, to: bigint | 'earliest' | 'latest'): Promise<void> {
    this.checkLive();
    this.assigned(topic, partition, 'seek');
    const bounds = await this.logBounds([topic]);
    this.checkLive();
    const part = this.assigned(topic, partition, 'seek');
    const b = bounds.get(key(topic, partition));
    let offset: bigint;
    if (typeof to === 'bigint') offset = checkInLog(bounds, topic, partition, to, 'seek to');
    else offset = to === 'earliest' ? (b?.earliest ?? 0n) : (b?.latest ?? 0n);
    part.next = offset;
    part.polledNext = offset;
    part.inflight.clear();
    this.stream_?.restart();
  }

  redeliverExpired(): void {
    if (this.ackTimeoutMs <= 0 || this.stream_ === undefined) return;
    const cutoff = Date.now() - this.ackTimeoutMs;
    const expired: StreamRecord[] = [];
    for (const part of this.parts.values()) {
      for (const entry of part.inflight.values()) {
        if (entry.deliveredAt <= cutoff) {
          entry.deliveredAt = Date.now();
          expired.push(entry.record);
        }
      }
    }
    if (expired.length > 0) this.stream_.redeliver(expired);
  }

  async leave(): Promise<void> {
    if (this.left) return;
    this.left = true;
    clearInterval(this.commitTimer);
    this.stream_?.stop();
    this.stream_ = undefined;
    if (this.autoCommit) await this.commitAcknowledged().catch((err: unknown) => this.log.warn({ err }, 'final commit failed'));
    this.parts.clear();
    await this.owner.remove(this);
  }

  private checkLive(): void {
    if (this.left) throw new GatewayError('CONSUMER_NOT_FOUND', `Group member ${this.memberId} has left group ${this.group}.`);
  }
}

/** Push delivery of a member: a hub subscription over its partitions, an in-flight bound, redelivery. */
class PushStream {
  private sub: HubSubscription | undefined;
  private stopped = false;
  private chain: Promise<void> = Promise.resolve();
  private readonly clientCredit: boolean;

  constructor(
    private readonly member: Member,
    private readonly sink: SubscriberSink,
    credit: number | undefined,
    private readonly maxInflight: number,
  ) {
    this.clientCredit = credit !== undefined;
    this.credit = credit ?? maxInflight;
  }

  private credit: number;

  restart(): void {
    if (this.stopped) return;
    const previous = this.sub;
    previous?.close();
    if (previous !== undefined) this.member.advance(previous.positions(), previous.topic);
    this.sub = this.member.openHubSubscription(
      {
        records: (batch) => this.send(batch, true),
        continuityLost: (n) => this.sink.continuityLost?.(n),
        end: (err) => {
          if (!this.stopped) this.sink.end(err);
        },
      },
      this.remainingCredit(),
    );
  }

  private remainingCredit(): number {
    return Math.max(0, this.credit);
  }

  addCredit(n: number): void {
    if (!this.clientCredit) return;
    this.credit += n;
    this.sub?.addCredit(n);
  }

  acked(): void {
    if (this.clientCredit) return;
    this.credit += 1;
    this.sub?.addCredit(1);
  }

  redeliver(records: StreamRecord[]): void {
    void this.send(records, false).catch((err: unknown) => this.sink.end(GatewayError.from(err)));
  }

  stop(): void {
    this.stopped = true;
    this.sub?.close();
    this.sub = undefined;
  }

  private send(batch: readonly StreamRecord[], fresh: boolean): Promise<void> {
    if (fresh) {
      this.credit -= batch.length;
      this.member.delivered(batch);
    }
    const next = this.chain.then(() => (this.stopped ? undefined : this.sink.records(batch)));
    this.chain = next.catch(() => undefined);
    return next;
  }
}
