/** Where a group's newly assigned partitions start, shared by both group modes (groups.ts, group-dispatch.ts). */
import type { Logger } from 'pino';
import type { Backend } from './backends/port.js';
import type { TopicPartition } from './record.js';

/** One newly assigned partition's next offset to read, and the group's committed offset (-1n: none). */
export interface PartitionStart {
  readonly topic: string;
  readonly partition: number;
  readonly start: bigint;
  readonly committed: bigint;
}

/**
 * Per partition: the group's committed offset, else the log start or end by `resetTo`; a committed
 * offset outside the log (records deleted, topic recreated) continues from the nearer log bound.
 */
export async function partitionStarts(backend: Backend, group: string, partitions: readonly TopicPartition[], resetTo: 'earliest' | 'latest', log: Logger): Promise<PartitionStart[]> {
  const byTopic = new Map<string, number[]>();
  for (const tp of partitions) byTopic.set(tp.topic, [...(byTopic.get(tp.topic) ?? []), tp.partition]);
  const out: PartitionStart[] = [];
  for (const [topic, ps] of byTopic) {
    const committed = new Map((await backend.committedOffsets(group, [topic])).map((c) => [c.partition, c.offset]));
    const bounds = new Map((await backend.offsets(topic)).map((o) => [o.partition, o]));
    for (const partition of ps) {
      const b = bounds.get(partition);
      const earliest = b?.earliest ?? 0n;
      const latest = b?.latest ?? 0n;
      let start = committed.get(partition) ?? (resetTo === 'earliest' ? earliest : latest);
      if (start < earliest || start > latest) {
        log.warn({ group, topic, partition, committed: String(start), earliest: String(earliest) }, 'committed offset outside the log; continuing from the log bound');
        start = start < earliest ? earliest : latest;
      }
      out.push({ topic, partition, start, committed: committed.get(partition) ?? -1n });
    }
  }
  return out;
}
