/**
 * Compacted key → value tables: state that must survive restarts and be shared by every gateway
 * instance on one Kafka (MQTT retained messages and persistent sessions). A table is a
 * single-partition compacted topic `__streamgate-<name>`; it is read fully at open and then
 * followed through the hub, so writes made by other instances show up here too. A null value
 * (tombstone) deletes a key.
 */
import type { Logger } from 'pino';
import type { Table } from './api.js';
import type { Backend } from './backends/port.js';
import { GatewayError } from './errors.js';
import type { Hub, HubSubscription } from './hub/hub.js';
import { NO_HEADERS, type StreamRecord } from './record.js';

/** The Kafka topic behind a table (`prefix` is `topics.internalPrefix`). */
export function tableTopic(name: string, prefix = '__streamgate-'): string {
  return `${prefix}${name}`;
}

/** A table kept current from its compacted topic. */
export class CompactedTable implements Table {
  private readonly values = new Map<string, Buffer>();
  /** Offset of the record each key's current state came from; older records never overwrite newer ones. */
  private readonly versions = new Map<string, bigint>();
  private subscription: HubSubscription | undefined;
  private readonly listeners = new Set<(key: string) => void>();

  private constructor(
    private readonly backend: Backend,
    private readonly topic: string,
    private readonly log: Logger,
  ) {}

  /** Creates the topic if needed, loads it, and follows it. */
  static async open(backend: Backend, hub: Hub, name: string, log: Logger, maxQueueBytes: number, prefix?: string): Promise<CompactedTable> {
    const topic = tableTopic(name, prefix);
    try {
      await backend.createTopic(topic, { partitions: 1, compacted: true });
    } catch (err) {
      if (!(err instanceof GatewayError && err.code === 'ALREADY_EXISTS')) throw err;
    }
    const table = new CompactedTable(backend, topic, log);
    const [bounds] = await offsetsWhenServable(backend, topic);
    let next = bounds?.earliest ?? 0n;
    const end = bounds?.latest ?? 0n;
    while (next < end) {
      const result = await backend.fetch(topic, 0, next, { maxRecords: 1000 });
      for (const record of result.records) table.apply(record);
      if (result.nextOffset <= next) break;
      next = result.nextOffset;
    }
    table.subscription = hub.subscribe({
      topic,
      start: new Map([[0, next]]),
      latest: new Map([[0, end]]),
      predicate: () => true,
      maxQueueBytes,
      sink: {
        records: (batch) => {
          for (const record of batch) table.apply(record);
        },
        end: (err) => {
          if (err !== undefined && err.code !== 'SHUTTING_DOWN') log.error({ err, topic }, 'table follower ended');
        },
      },
    });
    return table;
  }

  get(key: string): Buffer | undefined {
    return this.values.get(key);
  }

  entries(): IterableIterator<[string, Buffer]> {
    return this.values.entries();
  }

  /** The offset the key's current value was written at (log order across instances, unlike `entries()` order). */
  offsetOf(key: string): bigint | undefined {
    return this.values.has(key) ? this.versions.get(key) : undefined;
  }

  async set(key: string, value: Buffer): Promise<void> {
    await this.write(key, value);
  }

  async delete(key: string): Promise<void> {
    await this.write(key, null);
  }

  /** Calls `listener(key)` after each change applied to the table (local writes and followed ones). */
  onChange(listener: (key: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops following the topic; pending `sync` calls fail SHUTTING_DOWN. */
  close(): void {
    this.subscription?.close();
    this.listeners.clear();
    if (this.syncTimer !== undefined) clearInterval(this.syncTimer);
    for (const w of this.syncWaiters.splice(0)) w.fail(new GatewayError('SHUTTING_DOWN', 'The table is closed.'));
  }

  private syncWaiters: { target: bigint; done: () => void; fail: (err: GatewayError) => void }[] = [];
  private syncTimer: NodeJS.Timeout | undefined;
  /** The offsets request callers arriving now may share: it was not sent before they called. */
  private nextEnd: Promise<bigint> | undefined;

  async sync(timeoutMs = 10_000): Promise<void> {
    // Callers arriving while no request is queued start one; later callers share it until it is sent.
    if (this.nextEnd === undefined) {
      const end = Promise.resolve().then(async () => {
        if (this.nextEnd === end) this.nextEnd = undefined; // sent: later callers need a new one
        const [bounds] = await this.backend.offsets(this.topic);
        return bounds?.latest ?? 0n;
      });
      this.nextEnd = end;
    }
    const target = await this.nextEnd;
    if (this.followed() >= target) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.syncWaiters = this.syncWaiters.filter((w) => w !== waiter);
        reject(new GatewayError('TIMEOUT', `The ${this.topic} table did not catch up with offset ${target} within ${timeoutMs} ms.`));
      }, timeoutMs);
      const waiter = {
        target,
        done: () => {
          clearTimeout(timer);
          resolve();
        },
        fail: (err: GatewayError) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      this.syncWaiters.push(waiter);
      // The follower's position also moves over offsets that carry no record (compaction gaps), which
      // no sink call reports: look at it on a short timer while anyone waits.
      this.syncTimer ??= setInterval(() => this.wakeSynced(), 20);
    });
  }

  /** Next offset the follower has applied everything below. */
  private followed(): bigint {
    return this.subscription?.positions().get(0) ?? 0n;
  }

  private wakeSynced(): void {
    const at = this.followed();
    const still = [];
    for (const w of this.syncWaiters) {
      if (at >= w.target) w.done();
      else still.push(w);
    }
    this.syncWaiters = still;
    if (still.length === 0 && this.syncTimer !== undefined) {
      clearInterval(this.syncTimer);
      this.syncTimer = undefined;
    }
  }

  private async write(key: string, value: Buffer | null): Promise<void> {
    const [result] = await this.backend.produce(this.topic, [{ key: Buffer.from(key, 'utf8'), value, partition: 0 }]);
    if (result === undefined || !result.ok) throw result?.ok === false ? result.error : new GatewayError('INTERNAL', 'Table write returned no result.');
    this.apply({ topic: this.topic, partition: 0, offset: result.offset, timestamp: result.timestamp, key: Buffer.from(key, 'utf8'), value, headers: NO_HEADERS });
  }

  private apply(record: StreamRecord): void {
    if (record.key === null) {
      this.log.warn({ topic: this.topic, offset: String(record.offset) }, 'table record without key ignored');
      return;
    }
    const key = record.key.toString('utf8');
    const version = this.versions.get(key);
    if (version !== undefined && version >= record.offset) return;
    this.versions.set(key, record.offset);
    if (record.value === null) this.values.delete(key);
    else this.values.set(key, record.value);
    for (const listener of this.listeners) listener(key);
  }
}

/**
 * Another instance may have created the topic a moment ago (our create said ALREADY_EXISTS) while
 * its partitions do not answer yet: wait for them for a bounded time instead of failing the start.
 */
async function offsetsWhenServable(backend: Backend, topic: string): Promise<import('./record.js').PartitionOffsets[]> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      return await backend.offsets(topic);
    } catch (err) {
      const error = GatewayError.from(err);
      const transient = error.code === 'TOPIC_NOT_FOUND' || error.code === 'PARTITION_NOT_FOUND' || error.retriable;
      if (!transient || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}
