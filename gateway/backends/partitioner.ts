/**
 * Partition choice shared by the backends, compatible with Kafka's Java client: a keyed record
 * goes to `toPositive(murmur2(key)) % numPartitions` (org.apache.kafka.clients.producer.internals
 * .BuiltInPartitioner#partitionForKey, Utils#murmur2, Utils#toPositive), so the same key lands in
 * the same partition number whether it is written through streamgate, a Java producer, or kafkajs'
 * default partitioner. Records without a key are spread round-robin by the caller.
 */

const SEED = 0x9747b28c;
const M = 0x5bd1e995;
const R = 24;

/**
 * Kafka's murmur2 hash (Utils#murmur2) of the bytes: a signed 32-bit integer. All arithmetic is
 * Java int arithmetic, i.e. 32-bit wrap-around multiplication (Math.imul) and `>>>` shifts.
 */
export function murmur2(data: Uint8Array): number {
  const length = data.length;
  let h = (SEED ^ length) | 0;
  const length4 = length >>> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i * 4;
    let k = (data[i4] & 0xff) | ((data[i4 + 1] & 0xff) << 8) | ((data[i4 + 2] & 0xff) << 16) | ((data[i4 + 3] & 0xff) << 24);
    k = Math.imul(k, M);
    k ^= k >>> R;
    k = Math.imul(k, M);
    h = Math.imul(h, M);
    h ^= k;
  }
  // Java's switch on `length % 4` falls through from case 3 to case 1; written out as ifs.
  const tail = length & ~3;
  const left = length % 4;
  if (left >= 3) h ^= (data[tail + 2] & 0xff) << 16;
  if (left >= 2) h ^= (data[tail + 1] & 0xff) << 8;
  if (left >= 1) {
    h ^= data[tail] & 0xff;
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h | 0;
}

/** Kafka's Utils#toPositive: clears the sign bit (not Math.abs, which differs for MIN_VALUE). */
export function toPositive(n: number): number {
  return n & 0x7fffffff;
}

/** The partition Kafka's default partitioner picks for a non-null key. */
export function partitionForKey(key: Uint8Array, numPartitions: number): number {
  return toPositive(murmur2(key)) % numPartitions;
}

/**
 * Round-robin choice for records without a key (and without an explicit partition). One counter
 * per topic so topics do not disturb each other's spread; not persisted, since the spread of
 * keyless records carries no ordering promise.
 */
export class RoundRobin {
  private readonly next = new Map<string, number>();

  /** The partition for the next keyless record of `topic`. */
  pick(topic: string, numPartitions: number): number {
    const n = this.next.get(topic) ?? 0;
    this.next.set(topic, (n + 1) % 0x7fffffff);
    return n % numPartitions;
  }
}
