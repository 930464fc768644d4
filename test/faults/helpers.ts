/**
 * Shared pieces of the fault tests: sequence-numbered records, reading a topic straight from Kafka
 * (kafkajs, not through the gateway), and checking acknowledgements against what Kafka holds.
 */
import kafkajs from 'kafkajs';
import { WebSocket } from 'ws';
import { connect as connectBrowser, type StreamgateClient as BrowserClient } from '../../clients/ts/browser/index.js';
import { uniqueId } from '../support/names.js';

const { Kafka, logLevel } = kafkajs;

/** Where a record is in Kafka. */
export interface Placement {
  readonly partition: number;
  readonly offset: bigint;
}

/** What a producer loop learned: acks by sequence number, and what failed how. */
export interface ProducerLog {
  readonly source: string;
  /** seq → where the gateway said it put it (the last ack wins; several acks = several copies). */
  readonly acks: Map<number, Placement[]>;
  /** Failed attempts: seq, the error as the protocol reported it, and how long the attempt took. */
  readonly errors: { seq: number; error: string; ms: number }[];
  /** Longest single attempt (ms), acked or failed. */
  maxAttemptMs: number;
  /** Attempts whose outcome is unknown (connection died with the request in flight). */
  unknown: number;
}

export function newLog(source: string): ProducerLog {
  return { source, acks: new Map(), errors: [], maxAttemptMs: 0, unknown: 0 };
}

export function recordAck(log: ProducerLog, seq: number, at: Placement): void {
  const list = log.acks.get(seq) ?? [];
  list.push(at);
  log.acks.set(seq, list);
}

/** The value every fault test writes: which producer, which sequence number. */
export function seqValue(source: string, seq: number): string {
  return JSON.stringify({ src: source, seq });
}

/** A record as read back from Kafka. */
export interface KafkaRecord {
  readonly partition: number;
  readonly offset: bigint;
  readonly key: string | null;
  readonly value: string | null;
}

/**
 * Reads every record of `topic` from offset 0 to the current high watermark of each partition,
 * with a plain kafkajs consumer (its own group), independent of the gateway.
 */
export async function readTopicFromKafka(brokers: string, topic: string, timeoutMs = 30_000): Promise<KafkaRecord[]> {
  const kafka = new Kafka({ brokers: brokers.split(','), clientId: uniqueId('faults-reader'), logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  let highs: Map<number, bigint>;
  try {
    highs = new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, BigInt(p.high)]));
  } finally {
    await admin.disconnect();
  }
  const out: KafkaRecord[] = [];
  const remaining = new Set([...highs].filter(([, h]) => h > 0n).map(([p]) => p));
  if (remaining.size === 0) return out;
  const consumer = kafka.consumer({ groupId: uniqueId('faults-reader'), maxWaitTimeInMs: 100 });
  await consumer.connect();
  try {
    await consumer.subscribe({ topic, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`reading ${topic} from Kafka: partitions ${[...remaining].join(',')} not read to their end within ${timeoutMs} ms`)),
        timeoutMs,
      );
      consumer
        .run({
          autoCommit: false,
          eachMessage: async ({ partition, message }) => {
            const offset = BigInt(message.offset);
            const high = highs.get(partition) ?? 0n;
            if (offset < high) {
              out.push({ partition, offset, key: message.key?.toString('utf8') ?? null, value: message.value?.toString('utf8') ?? null });
            }
            if (offset + 1n >= high && remaining.delete(partition) && remaining.size === 0) {
              clearTimeout(timer);
              resolve();
            }
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
  }
  return out;
}

/** Parses a fault-test value (`{"src":…,"seq":…}`), or undefined for anything else. */
export function parseSeq(value: string | null): { src: string; seq: number } | undefined {
  if (value === null) return undefined;
  try {
    const v = JSON.parse(value) as { src?: unknown; seq?: unknown };
    return typeof v.src === 'string' && typeof v.seq === 'number' ? { src: v.src, seq: v.seq } : undefined;
  } catch (err) {
    // Records other protocols wrote (e.g. an MQTT payload that is not JSON) are not ours.
    if (err instanceof SyntaxError) return undefined;
    throw err;
  }
}

export interface AckCheck {
  /** Acks whose (partition, offset) does not hold the acknowledged record. */
  readonly misplaced: string[];
  /** Sequence numbers 1..expected missing from Kafka. */
  readonly missing: number[];
  /** Extra copies in Kafka beyond one per sequence number. */
  readonly duplicates: number;
  readonly acked: number;
}

/**
 * Checks one producer's acks against what Kafka holds: each ack's (partition, offset) holds that
 * producer's record with that seq, every seq in 1..`expected` is somewhere, and counts extra copies.
 */
export function checkAcks(log: ProducerLog, records: readonly KafkaRecord[], expected: number): AckCheck {
  const at = new Map<string, { src: string; seq: number } | undefined>();
  const copies = new Map<number, number>();
  for (const r of records) {
    const v = parseSeq(r.value);
    at.set(`${r.partition}:${r.offset}`, v);
    if (v?.src === log.source) copies.set(v.seq, (copies.get(v.seq) ?? 0) + 1);
  }
  const misplaced: string[] = [];
  for (const [seq, places] of log.acks) {
    for (const p of places) {
      const v = at.get(`${p.partition}:${p.offset}`);
      if (v?.src !== log.source || v.seq !== seq) misplaced.push(`${log.source}#${seq} acked at ${p.partition}:${p.offset}, Kafka has ${JSON.stringify(v)}`);
    }
  }
  const missing: number[] = [];
  let duplicates = 0;
  for (let seq = 1; seq <= expected; seq++) {
    const n = copies.get(seq) ?? 0;
    if (n === 0) missing.push(seq);
    else duplicates += n - 1;
  }
  return { misplaced, missing, duplicates, acked: log.acks.size };
}

/** Per partition: the offsets a subscriber saw must be contiguous from `from` with no repeats. */
export function gapsAndRepeats(seen: readonly Placement[], from: ReadonlyMap<number, bigint> = new Map()): { gaps: string[]; repeats: number } {
  const next = new Map(from);
  const gaps: string[] = [];
  let repeats = 0;
  for (const s of seen) {
    const expected = next.get(s.partition) ?? 0n;
    if (s.offset < expected) repeats += 1;
    else if (s.offset > expected) gaps.push(`partition ${s.partition}: expected ${expected}, got ${s.offset}`);
    if (s.offset >= expected) next.set(s.partition, s.offset + 1n);
  }
  return { gaps, repeats };
}

/** The browser client in Node (ws as the WebSocket). */
export function browserClient(wsUrl: string): BrowserClient {
  return connectBrowser(`${wsUrl}/v1/ws`, { WebSocketImpl: WebSocket as never, initialBackoffMs: 50, maxBackoffMs: 500 });
}

/** Runs `fn` and returns [result or error, elapsed ms]. */
export async function timed<T>(fn: () => Promise<T>): Promise<[{ ok: true; value: T } | { ok: false; error: unknown }, number]> {
  const t0 = Date.now();
  try {
    const value = await fn();
    return [{ ok: true, value }, Date.now() - t0];
  } catch (error) {
    return [{ ok: false, error }, Date.now() - t0];
  }
}

/** A promise resolving after ms — only for pacing producer loops (never to wait for a condition). */
export function pace(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
