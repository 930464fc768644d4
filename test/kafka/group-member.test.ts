/**
 * KafkaGroupMember (gateway/backends/kafka/group-member.ts) against the real harness broker: real
 * Kafka classic-protocol members, in one group with a kafkajs consumer, seen by Kafka's
 * DescribeGroups, and fenced by the coordinator.
 */
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import kafkajs, { type Admin, type Consumer } from 'kafkajs';
import { pino } from 'pino';
import { GatewayError } from '../../gateway/errors.js';
import { KafkaGroupMember, type KafkaGroupMemberOptions } from '../../gateway/backends/kafka/group-member.js';
import { kafkaBrokers } from '../support/kafka.js';
import { classpath } from './harness.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';

const { Kafka, AssignerProtocol, logLevel } = kafkajs;

/** The broker's group.min.session.timeout.ms default: the shortest session Kafka accepts. */
const SESSION_MS = 6000;

let admin: Admin;
const cleanup: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  admin = new Kafka({ brokers: [kafkaBrokers()], clientId: 'group-member-test', logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
});
afterEach(async () => {
  await Promise.allSettled(cleanup.splice(0).map((fn) => fn()));
});
afterAll(async () => {
  await admin?.disconnect();
});

async function topicWith(partitions: number): Promise<string> {
  const topic = uniqueTopic('gm');
  await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true });
  return topic;
}

function member(groupId: string, topic: string, clientId: string, extra: Partial<KafkaGroupMemberOptions> = {}): KafkaGroupMember {
  const m = new KafkaGroupMember({
    brokers: [kafkaBrokers()],
    groupId,
    topics: [topic],
    clientId,
    sessionTimeoutMs: SESSION_MS,
    heartbeatIntervalMs: 500,
    logger: pino({ level: 'silent' }),
    ...extra,
  });
  cleanup.push(() => m.close());
  return m;
}

/** A kafkajs consumer in the group; `assigned()` is its partitions after its last join. */
async function kafkajsConsumer(groupId: string, topic: string): Promise<{ consumer: Consumer; assigned: () => string[] | undefined }> {
  const consumer = new Kafka({ brokers: [kafkaBrokers()], clientId: 'kafkajs-member', logLevel: logLevel.NOTHING }).consumer({
    groupId,
    sessionTimeout: SESSION_MS,
    heartbeatInterval: 500,
    rebalanceTimeout: SESSION_MS,
    // kafkajs heartbeats between fetches: a short long-poll lets it see a rebalance soon.
    maxWaitTimeInMs: 500,
  });
  let assigned: string[] | undefined;
  consumer.on(consumer.events.GROUP_JOIN, (e) => {
    assigned = Object.entries(e.payload.memberAssignment as Record<string, number[]>).flatMap(([t, ps]) => ps.map((p) => `${t}/${p}`)).sort();
  });
  cleanup.push(() => consumer.disconnect());
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await consumer.run({ eachMessage: async () => undefined });
  return { consumer, assigned: () => assigned };
}

/** A librdkafka consumer (confluent-kafka for Python, test/kafka/rdkafka_member.py) in the group. */
function rdkafkaConsumer(groupId: string, topic: string): { assigned: () => string[] | undefined; close: () => Promise<void> } {
  const script = fileURLToPath(new URL('./rdkafka_member.py', import.meta.url));
  const child = spawn('python3', [script, kafkaBrokers(), groupId, topic], { stdio: ['pipe', 'pipe', 'inherit'] });
  let assigned: string[] | undefined;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  createInterface({ input: child.stdout }).on('line', (line) => {
    const event = JSON.parse(line) as { assigned?: string[]; revoked?: string[] };
    if (event.assigned !== undefined) assigned = event.assigned;
    if (event.revoked !== undefined) assigned = undefined;
  });
  const close = async (): Promise<void> => {
    if (child.exitCode === null) child.stdin.end();
    await exited;
  };
  cleanup.push(close);
  return { assigned: () => assigned, close };
}

interface Described {
  state: string;
  members: { memberId: string; clientId: string; partitions: string[] }[];
}

/** Kafka's own view of the group (DescribeGroups through the kafkajs admin). */
async function describe_(groupId: string): Promise<Described> {
  const { groups } = await admin.describeGroups([groupId]);
  const g = groups[0];
  return {
    state: g.state,
    members: g.members.map((m) => {
      const decoded = m.memberAssignment.length > 0 ? AssignerProtocol.MemberAssignment.decode(m.memberAssignment) : null;
      const partitions = Object.entries(decoded?.assignment ?? {}).flatMap(([t, ps]) => ps.map((p) => `${t}/${p}`)).sort();
      return { memberId: m.memberId, clientId: m.clientId, partitions };
    }),
  };
}

const names = (m: KafkaGroupMember): string[] => (m.assignment()?.partitions ?? []).map((p) => `${p.topic}/${p.partition}`);
const allOf = (topic: string, n: number): string[] => Array.from({ length: n }, (_, p) => `${topic}/${p}`).sort();

/** Waits until Kafka reports the group Stable with exactly `clientIds` as members, their assignments disjoint and covering `topic`. */
async function stableWith(groupId: string, topic: string, partitions: number, clientIds: string[]): Promise<Described> {
  return eventually(
    async () => {
      const d = await describe_(groupId);
      if (d.state !== 'Stable') return false;
      if (d.members.map((m) => m.clientId).sort().join() !== [...clientIds].sort().join()) return false;
      const all = d.members.flatMap((m) => m.partitions).sort();
      return all.join() === allOf(topic, partitions).join() ? d : false;
    },
    { timeoutMs: 40_000, intervalMs: 200, what: `group ${groupId} stable with ${clientIds.join(', ')}` },
  );
}

describe('KafkaGroupMember on the harness broker', () => {
  it('two members and a kafkajs consumer divide 4 partitions (no overlap, full cover), as DescribeGroups lists them; a leaving member hands its partitions on', async () => {
    const topic = await topicWith(4);
    const groupId = uniqueId('gm-mixed');
    const a = member(groupId, topic, 'streamgate-rest-a');
    const b = member(groupId, topic, 'streamgate-rest-b');
    // a joins first: Kafka keeps the first member as the leader, so a computes everyone's assignment.
    await a.start();
    const native = await kafkajsConsumer(groupId, topic);
    await b.start();

    const d = await stableWith(groupId, topic, 4, ['streamgate-rest-a', 'streamgate-rest-b', 'kafkajs-member']);
    // Every member got a share (4 partitions over 3 members) and the broker's member ids carry the client ids.
    for (const m of d.members) expect(m.partitions.length).toBeGreaterThan(0);
    const byClient = new Map(d.members.map((m) => [m.clientId, m]));
    expect(byClient.get('streamgate-rest-a')?.memberId.startsWith('streamgate-rest-a-')).toBe(true);
    // Each member holds exactly what Kafka says it was assigned.
    await eventually(() => names(a).join() === byClient.get('streamgate-rest-a')?.partitions.join() && a.assignment()?.memberId === byClient.get('streamgate-rest-a')?.memberId, { what: 'a holds its described partitions' });
    await eventually(() => names(b).join() === byClient.get('streamgate-rest-b')?.partitions.join(), { what: 'b holds its described partitions' });
    await eventually(() => native.assigned()?.join() === byClient.get('kafkajs-member')?.partitions.join(), { what: 'kafkajs holds its described partitions' });
    // The coordinator chose the one assignor kafkajs offers; the streamgate members offered it too.
    expect(a.assignment()?.protocol).toBe('RoundRobinAssigner');
    expect(a.assignment()?.leader).toBe(true);
    expect(b.assignment()?.leader).toBe(false);

    const bHad = names(b);
    await b.close();
    const after = await stableWith(groupId, topic, 4, ['streamgate-rest-a', 'kafkajs-member']);
    const aNow = after.members.find((m) => m.clientId === 'streamgate-rest-a')?.partitions ?? [];
    const nativeNow = after.members.find((m) => m.clientId === 'kafkajs-member')?.partitions ?? [];
    for (const p of bHad) expect([...aNow, ...nativeNow]).toContain(p);
    await eventually(() => names(a).join() === aNow.join(), { what: 'a holds its new partitions' });
    await eventually(() => native.assigned()?.join() === nativeNow.join(), { what: 'kafkajs holds its new partitions' });
  }, 90_000);

  it('a member that stops heartbeating is removed after the session timeout, and its late commit is refused (fenced)', async () => {
    const topic = await topicWith(4);
    const groupId = uniqueId('gm-fence');
    const a = member(groupId, topic, 'streamgate-rest-live');
    const c = member(groupId, topic, 'streamgate-rest-frozen');
    await Promise.all([a.start(), c.start()]);
    await stableWith(groupId, topic, 4, ['streamgate-rest-live', 'streamgate-rest-frozen']);
    await eventually(() => names(c).length === 2 && names(a).length === 2, { what: 'both hold two partitions' });
    const frozen = c.assignment();
    expect(frozen).toBeDefined();

    // In its generation, c's commit goes through.
    const first = frozen!.partitions[0];
    await c.commit([{ topic: first.topic, partition: first.partition, offset: 0n }]);

    const suspendedAt = Date.now();
    c.suspendHeartbeats();
    await stableWith(groupId, topic, 4, ['streamgate-rest-live']);
    // The coordinator waited for the session timeout (or the rebalance timeout, the same here) before dropping c.
    expect(Date.now() - suspendedAt).toBeGreaterThanOrEqual(SESSION_MS - 1000);
    await eventually(() => names(a).length === 4, { what: 'a holds all four partitions' });

    // c still believes it holds its partitions: Kafka refuses the commit of its old generation.
    expect(c.assignment()?.generationId).toBe(frozen!.generationId);
    const refused = await c.commit([{ topic: first.topic, partition: first.partition, offset: 3n }]).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(GatewayError);
    expect((refused as GatewayError).code).toBe('FAILED_PRECONDITION');
    expect(['UNKNOWN_MEMBER_ID', 'ILLEGAL_GENERATION']).toContain((refused as GatewayError).details?.kafka);
    const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
    expect(committed[0].partitions.find((p) => p.partition === first.partition)?.offset).toBe('0');

    // The live member commits in its generation.
    await a.commit([{ topic: first.topic, partition: first.partition, offset: 2n }]);
    const now = await admin.fetchOffsets({ groupId, topics: [topic] });
    expect(now[0].partitions.find((p) => p.partition === first.partition)?.offset).toBe('2');

    // Heartbeating again, c learns it was removed and joins as a new member.
    c.resumeHeartbeats();
    await stableWith(groupId, topic, 4, ['streamgate-rest-live', 'streamgate-rest-frozen']);
    await eventually(() => c.assignment() !== undefined && c.assignment()!.memberId !== frozen!.memberId, { timeoutMs: 20_000, what: 'c rejoined with a new member id' });
  }, 90_000);

  it('a commit of a partition the member is not assigned is refused before it is sent', async () => {
    const topic = await topicWith(2);
    const groupId = uniqueId('gm-own');
    const a = member(groupId, topic, 'streamgate-rest-one');
    const got = await a.start();
    expect(got.partitions.map((p) => p.partition)).toEqual([0, 1]);
    expect(got.leader).toBe(true);
    // Alone, the member offered range first and was its own leader.
    expect(got.protocol).toBe('range');
    await expect(a.commit([{ topic, partition: 5, offset: 1n }])).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
    await a.commit([{ topic, partition: 1, offset: 1n }]);
    await a.close();
    // LeaveGroup: the group is empty at once (no session timeout to wait for).
    const d = await describe_(groupId);
    expect(d.members).toEqual([]);
    expect((await admin.fetchOffsets({ groupId, topics: [topic] }))[0].partitions.find((p) => p.partition === 1)?.offset).toBe('1');
  }, 60_000);

  it('a librdkafka (confluent-kafka, Python) consumer shares the group: range is chosen, the streamgate leader assigns it, its leave moves its partitions', async () => {
    const topic = await topicWith(4);
    const groupId = uniqueId('gm-rdkafka');
    const a = member(groupId, topic, 'streamgate-grpc-a');
    await a.start();
    const native = rdkafkaConsumer(groupId, topic);
    const b = member(groupId, topic, 'streamgate-grpc-b');
    await b.start();

    const d = await stableWith(groupId, topic, 4, ['streamgate-grpc-a', 'streamgate-grpc-b', 'rdkafka-member']);
    const byClient = new Map(d.members.map((m) => [m.clientId, m.partitions]));
    for (const parts of byClient.values()) expect(parts.length).toBeGreaterThan(0);
    await eventually(() => native.assigned()?.join() === byClient.get('rdkafka-member')?.join(), { timeoutMs: 20_000, what: 'librdkafka holds its described partitions' });
    await eventually(() => names(a).join() === byClient.get('streamgate-grpc-a')?.join() && names(b).join() === byClient.get('streamgate-grpc-b')?.join(), { what: 'streamgate members hold theirs' });
    // librdkafka offers range,roundrobin; range is everyone's first choice. a joined first and leads.
    expect(a.assignment()?.protocol).toBe('range');
    expect(a.assignment()?.leader).toBe(true);

    await native.close();
    const after = await stableWith(groupId, topic, 4, ['streamgate-grpc-a', 'streamgate-grpc-b']);
    await eventually(() => names(a).length + names(b).length === 4 && names(a).join() === after.members.find((m) => m.clientId === 'streamgate-grpc-a')?.partitions.join(), { what: 'a and b hold all four' });
  }, 90_000);

  it('before a rebalance takes partitions away, onRevoke gets them and may still commit in the old generation', async () => {
    const topic = await topicWith(2);
    const groupId = uniqueId('gm-revoke');
    const revoked: { partitions: string[]; generationId: number | undefined }[] = [];
    const a: KafkaGroupMember = member(groupId, topic, 'streamgate-rest-first', {
      onRevoke: async (old) => {
        revoked.push({ partitions: old.partitions.map((p) => `${p.topic}/${p.partition}`), generationId: old.generationId });
        // What the core will do: commit the acknowledged prefix while the generation is still valid.
        await a.commit(old.partitions.map((p) => ({ topic: p.topic, partition: p.partition, offset: 7n })));
      },
    });
    const first = await a.start();
    expect(first.partitions).toHaveLength(2);
    const b = member(groupId, topic, 'streamgate-rest-second');
    await b.start();
    await stableWith(groupId, topic, 2, ['streamgate-rest-first', 'streamgate-rest-second']);
    expect(revoked).toHaveLength(1);
    expect(revoked[0].partitions).toEqual(allOf(topic, 2));
    expect(revoked[0].generationId).toBe(first.generationId);
    const offsets = await admin.fetchOffsets({ groupId, topics: [topic] });
    expect(offsets[0].partitions.map((p) => p.offset)).toEqual(['7', '7']);
    await eventually(() => (a.assignment()?.generationId ?? 0) > first.generationId && names(a).length === 1, { what: 'a in the next generation with one partition' });
  }, 60_000);

  it('a group whose members share no assignor refuses the join with a catalogued error, without retrying', async () => {
    const topic = await topicWith(1);
    const groupId = uniqueId('gm-inconsistent');
    await kafkajsConsumer(groupId, topic);
    await stableWith(groupId, topic, 1, ['kafkajs-member']);
    const m = member(groupId, topic, 'streamgate-rest-range-only', { assignors: ['range'] });
    const started = Date.now();
    const err = await m.start().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).code).toBe('FAILED_PRECONDITION');
    expect(Date.now() - started).toBeLessThan(5000);
    // The native member was not disturbed.
    await stableWith(groupId, topic, 1, ['kafkajs-member']);
  }, 60_000);

  it('an unreachable cluster fails start() with UNAVAILABLE within the join deadline', async () => {
    const m = new KafkaGroupMember({
      brokers: ['127.0.0.1:1'],
      groupId: uniqueId('gm-down'),
      topics: ['t'],
      clientId: 'streamgate-rest-down',
      connectionTimeoutMs: 500,
      joinDeadlineMs: 2000,
      logger: pino({ level: 'silent' }),
    });
    cleanup.push(() => m.close());
    const started = Date.now();
    await expect(m.start()).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    expect(Date.now() - started).toBeLessThan(10_000);
  }, 30_000);

  it('a subscription naming a topic that does not exist still gets the partitions of the ones that do', async () => {
    const topic = await topicWith(3);
    const missing = uniqueTopic('gm-missing');
    const groupId = uniqueId('gm-partial');
    const m = member(groupId, topic, 'streamgate-rest-partial', { topics: [topic, missing] });
    const got = await m.start();
    expect(got.partitions.map((p) => `${p.topic}/${p.partition}`)).toEqual(allOf(topic, 3));
  }, 30_000);

  it("Kafka's kafka-consumer-groups tool lists the streamgate members with their client ids and assignments", async () => {
    const topic = await topicWith(4);
    const groupId = uniqueId('gm-tool');
    const a = member(groupId, topic, 'streamgate-rest-tool-a');
    const b = member(groupId, topic, 'streamgate-mqtt-share-tool-b');
    await a.start();
    await b.start();
    await stableWith(groupId, topic, 4, ['streamgate-rest-tool-a', 'streamgate-mqtt-share-tool-b']);
    await eventually(() => names(a).length === 2 && names(b).length === 2, { what: 'both hold two partitions' });
    const { stdout } = await promisify(execFile)(
      'java',
      ['-cp', classpath(), 'org.apache.kafka.tools.consumer.group.ConsumerGroupCommand', '--bootstrap-server', kafkaBrokers(), '--describe', '--group', groupId, '--members', '--verbose'],
      { timeout: 60_000 },
    );
    // A header row (GROUP CONSUMER-ID HOST CLIENT-ID #PARTITIONS CURRENT-EPOCH CURRENT-ASSIGNMENT …), then one row per member.
    const lines = stdout.split('\n').map((l) => l.trim().split(/\s+/));
    const header = lines.find((cols) => cols[0] === 'GROUP') ?? [];
    const col = (name: string): number => header.indexOf(name);
    expect(col('CURRENT-ASSIGNMENT')).toBeGreaterThan(0);
    const rows = lines.filter((cols) => cols[0] === groupId);
    const byClient = new Map(rows.map((cols) => [cols[col('CLIENT-ID')], { memberId: cols[col('CONSUMER-ID')], count: cols[col('#PARTITIONS')], assignment: cols[col('CURRENT-ASSIGNMENT')] }]));
    expect([...byClient.keys()].sort()).toEqual(['streamgate-mqtt-share-tool-b', 'streamgate-rest-tool-a']);
    for (const [m, clientId] of [
      [a, 'streamgate-rest-tool-a'],
      [b, 'streamgate-mqtt-share-tool-b'],
    ] as const) {
      const row = byClient.get(clientId);
      expect(row?.memberId).toBe(m.assignment()?.memberId);
      expect(row?.count).toBe('2');
      expect(row?.assignment).toBe(`${topic}:${(m.assignment()?.partitions ?? []).map((p) => p.partition).join(',')}`);
    }
  }, 90_000);
});
