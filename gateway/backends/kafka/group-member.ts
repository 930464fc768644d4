/**
 * A real member of a Kafka consumer group, on the classic group protocol (JoinGroup, SyncGroup,
 * Heartbeat, LeaveGroup; OffsetCommit with the member's generation and member id), spoken through
 * kafkajs's protocol layer (./internals.ts) the way kafkajs's own consumer group does
 * (kafkajs/src/consumer/consumerGroup.js). First slice of issue #21: not wired into the core yet.
 *
 * ## Why the classic protocol, not KIP-848 (ConsumerGroupHeartbeat)
 * - kafkajs 2.2.4 (the framing this backend already uses) has every classic request; it has no
 *   ConsumerGroupHeartbeat, and the 848 assignment is computed by the broker: the gateway could
 *   not keep its own plan (range per topic today, per-instance dispatch for MQTT `$share`).
 * - Mixed groups: kafkajs consumers only speak the classic protocol, and librdkafka/Java clients
 *   default to it (`group.protocol=classic`). A Kafka 4.x group can mix both protocols only
 *   through the broker's upgrade path; a classic group with a common assignor name just works.
 * - The classic identity is (member id, generation), two values any connection may present: a
 *   REST v2 consumer instance's identity can be kept in the core and used by whichever gateway
 *   instance serves the request, which an 848 member epoch (bumped by the heartbeat loop that owns
 *   it) makes harder.
 *
 * ## Assignors and member metadata
 * The member offers the names native clients offer, so the coordinator finds one all members
 * share: `range` and `roundrobin` (librdkafka's default `range,roundrobin`; Java's default
 * `range, cooperative-sticky` shares `range`) and `RoundRobinAssigner` (kafkajs's default, its
 * only built-in). `cooperative-sticky` is not offered: it needs incremental rebalancing, this
 * member is eager (it drops its whole assignment before every rejoin). Metadata is
 * ConsumerProtocolSubscription v0 (version, topics, user data) and assignments are
 * ConsumerProtocolAssignment v0 (version, topic partitions, user data): every client decodes v0,
 * and the first three fields of v1–v3 (owned partitions, generation, rack) are the same, so
 * foreign members' newer metadata decodes here too. When this member is the leader it computes
 * the assignment of EVERY member, foreign ones included: by default Kafka's RangeAssignor or
 * RoundRobinAssignor semantics for the chosen name, or the `assign` function given (the core's
 * own plan, e.g. weighted by the number of streamgate members behind each instance).
 * The coordinator picks a protocol EVERY member offers: a default kafkajs consumer
 * (`RoundRobinAssigner` only) and a default librdkafka consumer (`range,roundrobin`) cannot share
 * a group whatever streamgate offers (INCONSISTENT_GROUP_PROTOCOL, FAILED_PRECONDITION here);
 * streamgate members join either kind (tests: test/kafka/group-member.test.ts).
 *
 * ## One Kafka member per gateway instance per group (multiplexing), recommended
 * A GroupMember is one Kafka member; the core decides how many it creates. Recommended: one per
 * gateway instance and group, which sub-assigns its partitions to its local streamgate members
 * (what LocalGroup.rebalance and the dispatcher already do with the instance's share), because
 * - the classic protocol is stop-the-world: every join or leave makes EVERY member (kafkajs and
 *   librdkafka ones included) revoke and rejoin. One Kafka member per REST instance / gRPC session
 *   / MQTT `$share` subscriber would turn each subscribe into a group-wide rebalance;
 * - sockets, heartbeats and JoinGroup round trips stay per instance, not per client;
 * - REST v2 instances created on one gateway instance and served by another need the
 *   sub-assignment (which local member reads what) in the core's table anyway; Kafka only needs to
 *   fence the instance.
 * The cost: Kafka tools show one member per gateway instance (client id
 * `streamgate-<protocol>-<instance>`), not one per client; the user data of the subscription can
 * carry the local member count so a leader weights instances by it. Per-client members remain
 * possible (one GroupMember each, client id `streamgate-mqtt-share-<client id>`) where a
 * deployment wants visibility over rebalance cost.
 *
 * ## Behaviour
 * start() finds the coordinator, joins (kafkajs answers MEMBER_ID_REQUIRED by rejoining with the
 * id the broker gave), syncs and resolves with the first assignment. Then it heartbeats every
 * `heartbeatIntervalMs` (< sessionTimeoutMs). REBALANCE_IN_PROGRESS: revoke (awaiting `onRevoke`,
 * which may still commit in the old generation), rejoin with the same member id. UNKNOWN_MEMBER_ID
 * / ILLEGAL_GENERATION / FENCED_INSTANCE_ID: the member was removed (e.g. missed its session):
 * revoke without committing, rejoin as a new member. NOT_COORDINATOR and friends: find the
 * coordinator again. Every (re)join runs under a deadline (`joinDeadlineMs`); past it the member
 * gives up, emits `failed` (a catalogued GatewayError) and stops: the owner decides whether to
 * create a new one. commit() sends the generation and member id: a fenced member's commit is
 * refused by Kafka and surfaces as FAILED_PRECONDITION (details.kafka names the reason); a
 * commit of a partition this member is not assigned is refused before it is sent.
 *
 * ## Wiring that remains (next slice)
 * - gateway/backends/port.ts: a coordination capability (`joinGroup(group, topics, listener)`
 *   returning this member's handle); the embedded backend gets an in-process implementation.
 * - gateway/groups.ts: LocalGroup.add/remove (create the instance's GroupMember on the first local
 *   member, close it after the last, update subscribed topics → rejoin); LocalGroup.rebalance
 *   (the instance's partitions come from the `assigned` event instead of rangePlan over
 *   remoteParticipants; the local split stays); membershipChanged / remoteMembers /
 *   GroupCoordinator.members (the `__streamgate-group-members` table is no longer read with
 *   Kafka); Member.commit and commitAcknowledged (backend.commitOffsets → GroupMember.commit, so
 *   commits carry the generation; onRevoke commits the acknowledged prefix before the rejoin);
 *   leave/close (GroupMember.close sends LeaveGroup).
 * - gateway/group-dispatch.ts: Dispatcher.commitAcknowledged (same commit path);
 *   revokeExcept/assign driven by the instance member's assignment.
 * - REST v2 instance identity across instances: the member that owns the instance's partitions is
 *   an instance's GroupMember; the REST table keeps (instance, generation) so another instance
 *   forwards or refuses the commit.
 * - config: `groups.sessionTimeoutMs` → sessionTimeoutMs; client id per protocol.
 */
import { EventEmitter } from 'node:events';
import type { Logger } from 'pino';
import kafkajs from 'kafkajs';
import { GatewayError } from '../../errors.js';
import type { TopicPartition } from '../../record.js';
import { classify, kafkaType } from './errors.js';
import {
  createCluster,
  defaultSocketFactory,
  kafkaJsLogger,
  kafkaJsLogSettings,
  READ_COMMITTED,
  type BrokerConnection,
  type Cluster,
} from './internals.js';

const { AssignerProtocol } = kafkajs;

/** The assignor names offered, most preferred first (see the module comment). */
export const DEFAULT_ASSIGNORS = ['range', 'roundrobin', 'RoundRobinAssigner'] as const;

/** One member of the group as the leader sees it in the JoinGroup answer. */
export interface GroupMemberInfo {
  readonly memberId: string;
  readonly topics: readonly string[];
  readonly userData: Buffer;
}

/** A leader's plan: member id → its partitions. Members left out get nothing. */
export type AssignFunction = (input: {
  protocol: string;
  members: readonly GroupMemberInfo[];
  /** Partition count per topic any member subscribed to (topics Kafka does not know are absent). */
  partitions: ReadonlyMap<string, number>;
}) => Map<string, TopicPartition[]>;

/** What the member holds after a completed join + sync. */
export interface Assignment {
  readonly generationId: number;
  readonly memberId: string;
  readonly leader: boolean;
  readonly protocol: string;
  readonly partitions: readonly TopicPartition[];
}

/** Options of one Kafka group member (the core maps `groups.sessionTimeoutMs` and its client ids onto them). */
export interface KafkaGroupMemberOptions {
  brokers: string[];
  groupId: string;
  topics: string[];
  /** Kafka client id; the broker's member ids start with it (e.g. `streamgate-rest-<instance>`). */
  clientId: string;
  /** Kafka session timeout (default 10000 ms; the broker bounds it by group.min/max.session.timeout.ms). */
  sessionTimeoutMs?: number;
  /** How long the coordinator waits for members to rejoin (default = sessionTimeoutMs). */
  rebalanceTimeoutMs?: number;
  /** Heartbeat period (default sessionTimeoutMs / 3, at most 3000 ms); must be below sessionTimeoutMs. */
  heartbeatIntervalMs?: number;
  /** Bound of one join + sync round, retries included (default rebalanceTimeoutMs + 10000 ms). */
  joinDeadlineMs?: number;
  /** Assignor names offered (default DEFAULT_ASSIGNORS). */
  assignors?: readonly string[];
  /** The leader's plan (default: Kafka's range / round-robin semantics for the chosen name). */
  assign?: AssignFunction;
  /** User data of this member's subscription (e.g. its local member count). */
  userData?: Buffer;
  /** Called with the assignment about to be dropped, before a rejoin while its generation is still valid: commit here. */
  onRevoke?: (revoked: Assignment) => Promise<void>;
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
  logger: Logger;
}

/** Protocol errors after which the member must rejoin as a NEW member. */
const FENCED_TYPES = new Set(['UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION', 'FENCED_INSTANCE_ID']);
/** Protocol errors after which the coordinator must be looked up again. */
const COORDINATOR_TYPES = new Set(['NOT_COORDINATOR', 'NOT_COORDINATOR_FOR_GROUP', 'COORDINATOR_NOT_AVAILABLE', 'GROUP_COORDINATOR_NOT_AVAILABLE', 'COORDINATOR_LOAD_IN_PROGRESS', 'GROUP_LOAD_IN_PROGRESS']);
/** Pause between two attempts of a join round (bounded by its deadline). */
const RETRY_PAUSE_MS = 200;

type State = 'new' | 'joining' | 'stable' | 'failed' | 'closed';

/**
 * Events: `assigned` (Assignment) after every completed join + sync; `revoked` (partitions) when
 * the member drops its assignment; `failed` (GatewayError) when a rejoin gave up — the member is
 * then stopped (not `error`: an owner without a listener must not crash the process).
 */
export class KafkaGroupMember extends EventEmitter {
  readonly groupId: string;
  private readonly options: Required<Omit<KafkaGroupMemberOptions, 'assign' | 'onRevoke' | 'userData' | 'logger'>> & Pick<KafkaGroupMemberOptions, 'onRevoke'>;
  private readonly assignFn: AssignFunction;
  private readonly userData: Buffer;
  private readonly log: Logger;
  private readonly cluster: Cluster;
  private coordinator: BrokerConnection | undefined;
  private memberId = '';
  private current: Assignment | undefined;
  private state: State = 'new';
  private timer: NodeJS.Timeout | undefined;
  /** The heartbeat or rejoin in progress (close waits for it). */
  private work: Promise<void> = Promise.resolve();
  private heartbeatsSuspended = false;
  /** When the last heartbeat (or the sync) went through. */
  private lastHeartbeat = 0;

  constructor(options: KafkaGroupMemberOptions) {
    super();
    const sessionTimeoutMs = options.sessionTimeoutMs ?? 10_000;
    const rebalanceTimeoutMs = options.rebalanceTimeoutMs ?? sessionTimeoutMs;
    const heartbeatIntervalMs = options.heartbeatIntervalMs ?? Math.min(3000, Math.floor(sessionTimeoutMs / 3));
    if (!(heartbeatIntervalMs > 0 && heartbeatIntervalMs < sessionTimeoutMs)) {
      throw new GatewayError('INVALID_ARGUMENT', `The heartbeat interval (${heartbeatIntervalMs} ms) must be positive and below the session timeout (${sessionTimeoutMs} ms).`);
    }
    if (options.topics.length === 0) throw new GatewayError('INVALID_ARGUMENT', 'A group member subscribes to at least one topic.');
    this.groupId = options.groupId;
    this.options = {
      brokers: options.brokers,
      groupId: options.groupId,
      topics: [...new Set(options.topics)].sort(),
      clientId: options.clientId,
      sessionTimeoutMs,
      rebalanceTimeoutMs,
      heartbeatIntervalMs,
      joinDeadlineMs: options.joinDeadlineMs ?? rebalanceTimeoutMs + 10_000,
      assignors: options.assignors ?? DEFAULT_ASSIGNORS,
      onRevoke: options.onRevoke,
      connectionTimeoutMs: options.connectionTimeoutMs ?? 3000,
      requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
    };
    this.assignFn = options.assign ?? defaultAssign;
    this.userData = options.userData ?? Buffer.alloc(0);
    this.log = options.logger.child({ group: options.groupId, clientId: options.clientId });
    this.cluster = createCluster({
      logger: kafkaJsLogger(kafkaJsLogSettings(this.log)),
      socketFactory: defaultSocketFactory(),
      brokers: options.brokers,
      clientId: options.clientId,
      connectionTimeout: this.options.connectionTimeoutMs,
      requestTimeout: this.options.requestTimeoutMs,
      enforceRequestTimeout: true,
      metadataMaxAge: 300_000,
      retry: { retries: 2, initialRetryTime: 100, maxRetryTime: 1000 },
      allowAutoTopicCreation: false,
      maxInFlightRequests: null,
      isolationLevel: READ_COMMITTED,
    });
  }

  /** The assignment of the current generation, or undefined while (re)joining. */
  assignment(): Assignment | undefined {
    return this.state === 'stable' ? this.current : undefined;
  }

  /** Connects, joins and syncs; resolves with the first assignment. Rejects (and closes) if the join round gives up. */
  async start(): Promise<Assignment> {
    if (this.state !== 'new') throw new GatewayError('FAILED_PRECONDITION', 'The group member was already started.');
    this.state = 'joining';
    try {
      await this.cluster.connect();
      await this.joinRound();
    } catch (err) {
      await this.close();
      throw classify(err, { group: this.groupId });
    }
    this.schedule();
    return this.current as Assignment;
  }

  /**
   * Commits offsets (the next offset to read, per partition) with this member's generation and
   * member id. FAILED_PRECONDITION if the member holds no assignment right now, if a partition
   * is not assigned to it, or if Kafka refuses the generation (the member was fenced).
   */
  async commit(offsets: readonly { topic: string; partition: number; offset: bigint }[]): Promise<void> {
    const held = this.current;
    if (held === undefined || this.coordinator === undefined || (this.state !== 'stable' && this.state !== 'joining')) {
      throw new GatewayError('FAILED_PRECONDITION', 'The group member holds no assignment.', { details: { group: this.groupId } });
    }
    for (const o of offsets) {
      if (!held.partitions.some((p) => p.topic === o.topic && p.partition === o.partition)) {
        throw new GatewayError('FAILED_PRECONDITION', `Partition ${o.partition} of topic ${o.topic} is not assigned to this member.`, {
          details: { group: this.groupId, topic: o.topic, partition: o.partition, generationId: held.generationId },
        });
      }
    }
    const topics = new Map<string, { partition: number; offset: string }[]>();
    for (const o of offsets) {
      const list = topics.get(o.topic) ?? [];
      list.push({ partition: o.partition, offset: String(o.offset) });
      topics.set(o.topic, list);
    }
    try {
      await this.coordinator.offsetCommit({
        groupId: this.groupId,
        groupGenerationId: held.generationId,
        memberId: held.memberId,
        topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })),
      });
    } catch (err) {
      const kafka = kafkaType(err);
      throw classify(err, { group: this.groupId, generationId: held.generationId, memberId: held.memberId, ...(kafka === undefined ? {} : { kafka }) });
    }
  }

  /**
   * Stops heartbeating without leaving, as a paused process or a network partition would: the
   * coordinator removes the member after the session timeout. For fault tests and for an owner
   * that knows it lost the partitions' readers. resumeHeartbeats() undoes it.
   */
  suspendHeartbeats(): void {
    this.heartbeatsSuspended = true;
  }

  resumeHeartbeats(): void {
    this.heartbeatsSuspended = false;
  }

  /** Leaves the group (LeaveGroup: the others rebalance at once) and disconnects. Idempotent. */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    const wasMember = this.state === 'stable' || this.state === 'joining';
    this.state = 'closed';
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.work.catch(() => undefined);
    if (wasMember && this.memberId !== '' && this.coordinator !== undefined) {
      try {
        await this.coordinator.leaveGroup({ groupId: this.groupId, memberId: this.memberId });
      } catch (err) {
        this.log.debug({ err }, 'LeaveGroup failed; the coordinator drops the member after the session timeout');
      }
    }
    this.current = undefined;
    await this.cluster.disconnect().catch((err: unknown) => this.log.warn({ err }, 'error while disconnecting a group member'));
  }

  private schedule(): void {
    if (this.state !== 'stable') return;
    this.timer = setTimeout(() => {
      this.work = this.heartbeat()
        .catch((err: unknown) => this.log.warn({ err }, 'heartbeat loop error'))
        .finally(() => this.schedule());
    }, this.options.heartbeatIntervalMs);
  }

  private async heartbeat(): Promise<void> {
    const held = this.current;
    if (this.state !== 'stable' || held === undefined || this.coordinator === undefined || this.heartbeatsSuspended) return;
    try {
      await this.coordinator.heartbeat({ groupId: this.groupId, groupGenerationId: held.generationId, memberId: held.memberId });
      this.lastHeartbeat = Date.now();
      return;
    } catch (err) {
      if (this.state !== 'stable') return;
      const type = kafkaType(err);
      if (type === 'REBALANCE_IN_PROGRESS') {
        await this.rejoin(true);
      } else if (type !== undefined && FENCED_TYPES.has(type)) {
        this.log.info({ kafka: type, generationId: held.generationId }, 'fenced by the group coordinator; joining again as a new member');
        if (type === 'UNKNOWN_MEMBER_ID') this.memberId = '';
        await this.rejoin(false);
      } else if (Date.now() - this.lastHeartbeat >= this.options.sessionTimeoutMs) {
        // No heartbeat went through for a whole session: the coordinator has dropped this member.
        this.log.info({ err }, 'no heartbeat for a session timeout; joining again');
        this.coordinator = undefined;
        this.memberId = '';
        await this.rejoin(false);
      } else {
        // Coordinator moved or unreachable: look it up again at the next heartbeat, within the session timeout.
        if (type === undefined || COORDINATOR_TYPES.has(type)) this.coordinator = await this.cluster.findGroupCoordinator({ groupId: this.groupId }).catch(() => this.coordinator);
        this.log.debug({ err }, 'heartbeat failed; retrying');
      }
    }
  }

  /** Drops the assignment (awaiting onRevoke when the generation is still valid) and runs a join round. */
  private async rejoin(commitFirst: boolean): Promise<void> {
    const held = this.current;
    const dropped = held?.partitions ?? [];
    this.state = 'joining';
    if (commitFirst && this.options.onRevoke !== undefined && held !== undefined && dropped.length > 0) {
      try {
        await this.options.onRevoke(held);
      } catch (err) {
        this.log.warn({ err }, 'commit before the rebalance failed');
      }
    }
    this.current = undefined;
    if (dropped.length > 0) this.emit('revoked', dropped);
    try {
      await this.joinRound();
    } catch (err) {
      if ((this.state as State) === 'closed') return;
      this.state = 'failed';
      const error = classify(err, { group: this.groupId });
      this.log.warn({ err: error }, 'group member gave up rejoining');
      this.emit('failed', error);
    }
  }

  /** Find coordinator, JoinGroup, (as leader) assign, SyncGroup — retried within joinDeadlineMs. */
  private async joinRound(): Promise<void> {
    const deadline = Date.now() + this.options.joinDeadlineMs;
    for (;;) {
      if ((this.state as State) === 'closed') throw new GatewayError('UNAVAILABLE', 'The group member is closed.');
      try {
        this.coordinator ??= await this.cluster.findGroupCoordinator({ groupId: this.groupId });
        const joined = await this.coordinator.joinGroup({
          groupId: this.groupId,
          sessionTimeout: this.options.sessionTimeoutMs,
          rebalanceTimeout: this.options.rebalanceTimeoutMs,
          memberId: this.memberId,
          protocolType: 'consumer',
          groupProtocols: this.options.assignors.map((name) => ({
            name,
            metadata: AssignerProtocol.MemberMetadata.encode({ version: 0, topics: this.options.topics, userData: this.userData }),
          })),
        });
        this.memberId = joined.memberId;
        const leader = joined.leaderId === joined.memberId;
        const groupAssignment = leader ? await this.leaderAssignment(joined.groupProtocol, joined.members) : [];
        const synced = await this.coordinator.syncGroup({ groupId: this.groupId, generationId: joined.generationId, memberId: joined.memberId, groupAssignment });
        const decoded = synced.memberAssignment.length > 0 ? AssignerProtocol.MemberAssignment.decode(synced.memberAssignment) : null;
        const partitions: TopicPartition[] = [];
        for (const [topic, parts] of Object.entries(decoded?.assignment ?? {})) for (const partition of parts) partitions.push({ topic, partition });
        partitions.sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
        this.current = { generationId: joined.generationId, memberId: joined.memberId, leader, protocol: joined.groupProtocol, partitions };
        if ((this.state as State) === 'closed') return;
        this.state = 'stable';
        this.lastHeartbeat = Date.now();
        this.log.debug({ generationId: joined.generationId, memberId: joined.memberId, leader, partitions: partitions.length }, 'joined the Kafka group');
        this.emit('assigned', this.current);
        return;
      } catch (err) {
        const type = kafkaType(err);
        if (type === 'UNKNOWN_MEMBER_ID') this.memberId = '';
        const retriable =
          type === 'REBALANCE_IN_PROGRESS' ||
          type === 'UNKNOWN_MEMBER_ID' ||
          type === 'ILLEGAL_GENERATION' ||
          type === 'MEMBER_ID_REQUIRED' ||
          type === 'LEADER_NOT_AVAILABLE' ||
          type === undefined ||
          COORDINATOR_TYPES.has(type);
        if (type === undefined || COORDINATOR_TYPES.has(type)) this.coordinator = undefined;
        if (!retriable || Date.now() + RETRY_PAUSE_MS > deadline) throw err;
        this.log.debug({ err, kafka: type }, 'join round failed; retrying');
        await new Promise((resolve) => setTimeout(resolve, RETRY_PAUSE_MS));
      }
    }
  }

  /** The leader's SyncGroup payload: every member's ConsumerProtocolAssignment v0. */
  private async leaderAssignment(protocol: string, raw: readonly { memberId: string; memberMetadata: Buffer }[]): Promise<{ memberId: string; memberAssignment: Buffer }[]> {
    const members: GroupMemberInfo[] = raw.map((m) => {
      const meta = AssignerProtocol.MemberMetadata.decode(m.memberMetadata);
      return { memberId: m.memberId, topics: meta?.topics ?? [], userData: meta?.userData ?? Buffer.alloc(0) };
    });
    const wanted = [...new Set(members.flatMap((m) => m.topics))].sort();
    const broker = await this.cluster.brokerPool.findConnectedBroker();
    // One Metadata request per topic: kafkajs fails a whole request for one unknown topic, and a
    // member subscribed to a topic that does not exist (yet) must not stop the group's assignment.
    const partitions = new Map<string, number>();
    await Promise.all(
      wanted.map(async (topic) => {
        try {
          const t = (await broker.metadata([topic])).topicMetadata.find((m) => m.topic === topic);
          if (t !== undefined && t.partitionMetadata.length > 0) partitions.set(topic, t.partitionMetadata.length);
        } catch (err) {
          if (kafkaType(err) !== 'UNKNOWN_TOPIC_OR_PARTITION') throw err;
        }
      }),
    );
    const plan = this.assignFn({ protocol, members, partitions });
    return members.map((m) => {
      const assignment: Record<string, number[]> = {};
      for (const { topic, partition } of plan.get(m.memberId) ?? []) (assignment[topic] ??= []).push(partition);
      for (const parts of Object.values(assignment)) parts.sort((a, b) => a - b);
      return { memberId: m.memberId, memberAssignment: AssignerProtocol.MemberAssignment.encode({ version: 0, assignment, userData: Buffer.alloc(0) }) };
    });
  }
}

/**
 * Kafka's assignors, by the name the coordinator chose: `range` (RangeAssignor: per topic,
 * subscribers sorted by member id, contiguous ranges, the first ones one extra) and the
 * round-robin names (RoundRobinAssignor: all subscribed partitions sorted by topic then
 * partition, dealt to the members sorted by id, skipping members not subscribed to the topic).
 */
export function defaultAssign(input: Parameters<AssignFunction>[0]): Map<string, TopicPartition[]> {
  const plan = new Map<string, TopicPartition[]>();
  const sorted = [...input.members].sort((a, b) => (a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0));
  for (const m of sorted) plan.set(m.memberId, []);
  const topics = [...input.partitions.keys()].sort();
  if (input.protocol === 'range') {
    for (const topic of topics) {
      const count = input.partitions.get(topic) ?? 0;
      const subscribers = sorted.filter((m) => m.topics.includes(topic));
      if (subscribers.length === 0) continue;
      const per = Math.floor(count / subscribers.length);
      const extra = count % subscribers.length;
      let p = 0;
      subscribers.forEach((m, i) => {
        const n = per + (i < extra ? 1 : 0);
        for (let k = 0; k < n; k++) plan.get(m.memberId)?.push({ topic, partition: p++ });
      });
    }
    return plan;
  }
  let next = 0;
  for (const topic of topics) {
    const count = input.partitions.get(topic) ?? 0;
    if (!sorted.some((m) => m.topics.includes(topic))) continue;
    for (let partition = 0; partition < count; partition++) {
      while (!sorted[next % sorted.length].topics.includes(topic)) next++;
      plan.get(sorted[next % sorted.length].memberId)?.push({ topic, partition });
      next++;
    }
  }
  return plan;
}
