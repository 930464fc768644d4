/**
 * Does a Kafka-API broker give streamgate what it needs? Point it at any bootstrap server:
 *
 *   npx tsx examples/connect/check-broker.ts 127.0.0.1:9092
 *
 * Two parts:
 * 1. API versions: the broker's ApiVersions answer against the requests streamgate's Kafka backend
 *    sends (through kafkajs 2.2.4, which uses the highest version both sides implement). A request
 *    whose chosen version lies outside the broker's [min, max] range fails.
 * 2. Operations: each thing the backend does, run for real through streamgate's own Kafka backend
 *    on throwaway topics (`streamgate-check-*`, deleted afterwards): create a topic, create a
 *    compacted topic (MQTT retained messages and sessions are compacted tables), produce with
 *    key and headers, fetch, list offsets (earliest/latest/by time), standalone group commits
 *    (OffsetCommit with generation -1, no member id) and OffsetFetch, DeleteRecords, delete topic.
 *
 * Exit code 0 when everything passed, 1 otherwise. The test suite runs the same checks against
 * its broker (test/connect/broker-check.test.ts).
 */
import { randomBytes } from 'node:crypto';
import { createRequire } from 'node:module';
import { pino } from 'pino';
import { KafkaBackend } from '../../gateway/backends/kafka/index.js';
import { createCluster, defaultSocketFactory, kafkaJsLogger, kafkaJsLogSettings, READ_COMMITTED } from '../../gateway/backends/kafka/internals.js';

const require = createRequire(import.meta.url);
const apiKeys = require('kafkajs/src/protocol/requests/apiKeys.js') as Record<string, number>;
const { requests } = require('kafkajs/src/protocol/requests/index.js') as { requests: Record<string, { versions: string[] }> };

/** The Kafka requests streamgate's backend sends, and what for. */
export const REQUIRED_APIS: readonly { name: string; why: string }[] = [
  { name: 'ApiVersions', why: 'version negotiation, health probe (/readyz)' },
  { name: 'Metadata', why: 'topics, partitions, leaders' },
  { name: 'Produce', why: 'every publish (acks=-1 by default); record headers need v3+' },
  { name: 'Fetch', why: 'subscriptions and fetches, read_committed (needs v4+)' },
  { name: 'ListOffsets', why: 'earliest/latest/by-timestamp positions' },
  { name: 'CreateTopics', why: 'auto-create on first produce, compacted tables' },
  { name: 'DeleteTopics', why: 'topic deletion (admin)' },
  { name: 'DescribeConfigs', why: 'topic configs (cleanup.policy, retention)' },
  { name: 'DeleteRecords', why: 'truncating a partition (admin)' },
  { name: 'FindCoordinator', why: 'group coordinator for committed offsets' },
  { name: 'OffsetCommit', why: 'group offsets, committed standalone (generation -1, no member)' },
  { name: 'OffsetFetch', why: 'reading group offsets on (re)join' },
];

export interface ApiCheck {
  name: string;
  why: string;
  /** Versions the broker implements, or undefined when it does not know the request at all. */
  broker: { min: number; max: number } | undefined;
  /** The version streamgate (kafkajs) sends to this broker. */
  used: number | undefined;
  ok: boolean;
}

export interface OperationCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface BrokerReport {
  apis: ApiCheck[];
  operations: OperationCheck[];
  ok: boolean;
}

/** Compares the broker's ApiVersions with the versions kafkajs would send. */
export async function checkApiVersions(brokers: string[]): Promise<ApiCheck[]> {
  const log = pino({ level: 'silent' });
  const cluster = createCluster({
    logger: kafkaJsLogger(kafkaJsLogSettings(log)),
    socketFactory: defaultSocketFactory(),
    brokers,
    clientId: 'streamgate-check',
    connectionTimeout: 3000,
    requestTimeout: 10_000,
    enforceRequestTimeout: true,
    metadataMaxAge: 300_000,
    retry: { retries: 1, initialRetryTime: 100, maxRetryTime: 1000 },
    allowAutoTopicCreation: false,
    maxInFlightRequests: null,
    isolationLevel: READ_COMMITTED,
  });
  await cluster.connect();
  try {
    const versions = cluster.brokerPool.versions as Record<number, { minVersion: number; maxVersion: number }>;
    return REQUIRED_APIS.map(({ name, why }) => {
      // kafkajs names FindCoordinator by its old name.
      const kafkajsName = name === 'FindCoordinator' ? 'GroupCoordinator' : name;
      const range = versions[apiKeys[kafkajsName]!];
      const implemented = requests[kafkajsName]!.versions.map(Number);
      // kafkajs's lookup: the highest version it implements, capped by the broker's maximum.
      const used = range === undefined ? undefined : Math.min(Math.max(...implemented), range.maxVersion);
      const ok = range !== undefined && used !== undefined && used >= range.minVersion && implemented.includes(used);
      return { name, why, broker: range && { min: range.minVersion, max: range.maxVersion }, used, ok };
    });
  } finally {
    await cluster.disconnect();
  }
}

/** Runs every backend operation streamgate needs on throwaway topics, through the real Kafka backend. */
export async function checkOperations(brokers: string[]): Promise<OperationCheck[]> {
  const backend = new KafkaBackend({ brokers, clientId: 'streamgate-check', logger: pino({ level: 'silent' }) });
  const suffix = randomBytes(4).toString('hex');
  const plain = `streamgate-check-${suffix}`;
  const compacted = `streamgate-check-compacted-${suffix}`;
  const group = `streamgate-check-${suffix}`;
  const results: OperationCheck[] = [];
  const step = async (name: string, run: () => Promise<string>): Promise<boolean> => {
    try {
      results.push({ name, ok: true, detail: await run() });
      return true;
    } catch (err) {
      results.push({ name, ok: false, detail: err instanceof Error ? err.message : String(err) });
      return false;
    }
  };
  const expect = (condition: boolean, message: string): void => {
    if (!condition) throw new Error(message);
  };

  if (!(await step('connect', async () => (await backend.start(), 'connected')))) return results;
  try {
    if (await step('create topic', async () => (await backend.createTopic(plain, { partitions: 1 }), plain))) {
      const before = Date.now();
      await step('produce (key, value, headers; acks=-1)', async () => {
        const res = await backend.produce(plain, [
          { key: Buffer.from('k1'), value: Buffer.from('v1'), headers: [{ name: 'h', value: Buffer.from('x') }, { name: 'h', value: Buffer.from('y') }] },
          { key: Buffer.from('k2'), value: Buffer.from('v2') },
          { key: null, value: Buffer.from('v3') },
        ]);
        const offsets = res.map((r) => (r.ok ? String(r.offset) : r.error.message)).join();
        expect(offsets === '0,1,2', `offsets ${offsets}, expected 0,1,2`);
        return 'offsets 0,1,2';
      });
      await step('fetch', async () => {
        const res = await backend.fetch(plain, 0, 0n, { maxRecords: 10 });
        const got = res.records.map((r) => `${r.key?.toString() ?? 'null'}=${r.value?.toString()}`).join(',');
        expect(got === 'k1=v1,k2=v2,null=v3', `fetched ${got}`);
        expect(res.records[0]!.headers.map((h) => `${h.name}=${h.value.toString()}`).join() === 'h=x,h=y', 'headers h=x,h=y not kept in order');
        return got;
      });
      await step('list offsets (earliest, latest, by timestamp)', async () => {
        const [p] = await backend.offsets(plain);
        expect(p!.earliest === 0n && p!.latest === 3n, `earliest ${p!.earliest}, latest ${p!.latest}`);
        const byTime = await backend.offsetsForTimestamp(plain, before - 1000);
        expect(byTime.get(0) === 0n, `offset for time ${String(byTime.get(0))}`);
        return 'earliest 0, latest 3, for time 0';
      });
      await step('group offsets (standalone OffsetCommit, OffsetFetch)', async () => {
        await backend.commitOffsets(group, [{ topic: plain, partition: 0, offset: 2n }]);
        const committed = await backend.committedOffsets(group, [plain]);
        expect(committed.length === 1 && committed[0]!.offset === 2n, `committed ${JSON.stringify(committed.map((c) => String(c.offset)))}`);
        return `group ${group} at 2`;
      });
      await step('delete records', async () => {
        await backend.deleteRecords(plain, 0, 1n);
        const [p] = await backend.offsets(plain);
        expect(p!.earliest === 1n, `earliest after delete ${p!.earliest}`);
        return 'earliest now 1';
      });
      await step('delete topic', async () => (await backend.deleteTopic(plain), plain));
    }
    if (await step('create compacted topic', async () => (await backend.createTopic(compacted, { partitions: 1, compacted: true }), compacted))) {
      await step('describe topic config (cleanup.policy=compact)', async () => {
        const info = await backend.describeTopic(compacted);
        expect(info.config['cleanup.policy'] === 'compact', `cleanup.policy=${info.config['cleanup.policy']}`);
        return 'cleanup.policy=compact';
      });
      await step('tombstone (null value) in a compacted topic', async () => {
        await backend.produce(compacted, [{ key: Buffer.from('k'), value: Buffer.from('v') }, { key: Buffer.from('k'), value: null }]);
        const res = await backend.fetch(compacted, 0, 0n, { maxRecords: 10 });
        expect(res.records.at(-1)?.value === null, 'tombstone not read back as null');
        return 'written and read back';
      });
      await step('delete compacted topic', async () => (await backend.deleteTopic(compacted), compacted));
    }
  } finally {
    await backend.close();
  }
  return results;
}

export async function checkBroker(brokers: string[]): Promise<BrokerReport> {
  const apis = await checkApiVersions(brokers);
  const operations = await checkOperations(brokers);
  return { apis, operations, ok: apis.every((a) => a.ok) && operations.every((o) => o.ok) };
}

/** The report as text, one line per check. */
export function formatReport(report: BrokerReport): string {
  const lines = ['API              broker   streamgate sends'];
  for (const a of report.apis) {
    const range = a.broker === undefined ? 'missing' : `v${a.broker.min}-v${a.broker.max}`;
    lines.push(`${a.ok ? 'ok  ' : 'FAIL'} ${a.name.padEnd(16)} ${range.padEnd(8)} ${a.used === undefined ? '-' : `v${a.used}`}   (${a.why})`);
  }
  lines.push('', 'Operations');
  for (const o of report.operations) lines.push(`${o.ok ? 'ok  ' : 'FAIL'} ${o.name}: ${o.detail}`);
  lines.push('', report.ok ? 'This broker has everything streamgate needs.' : 'This broker lacks something streamgate needs (FAIL above).');
  return lines.join('\n');
}

if (process.argv[1] !== undefined && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const bootstrap = process.argv[2];
  if (bootstrap === undefined) {
    process.stderr.write('usage: npx tsx examples/connect/check-broker.ts HOST:PORT[,HOST:PORT…]\n');
    process.exit(2);
  }
  checkBroker(bootstrap.split(',')).then(
    (report) => {
      process.stdout.write(`${formatReport(report)}\n`);
      process.exit(report.ok ? 0 : 1);
    },
    (err: unknown) => {
      process.stderr.write(`check failed: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
}
