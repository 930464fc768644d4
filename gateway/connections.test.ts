import { describe, expect, it } from 'vitest';
import { ConnectionRegistry, OTHER_PRINCIPAL, SNAPSHOT_PRINCIPALS } from './connections.js';
import { bucketQuantileMs } from './metrics.js';

describe('ConnectionRegistry', () => {
  it('counts open and accepted connections per protocol; a release counts once', () => {
    const r = new ConnectionRegistry();
    const a = r.opened('mqtt');
    r.opened('mqtt');
    r.opened('websocket');
    a();
    a();
    expect(r.snapshot().protocols).toEqual([
      { protocol: 'mqtt', open: 1, openedTotal: 2 },
      { protocol: 'websocket', open: 1, openedTotal: 1 },
    ]);
  });

  it('ranks principals by traffic, then by open connections, and lists at most SNAPSHOT_PRINCIPALS', () => {
    const r = new ConnectionRegistry();
    r.identified('quiet', 'mqtt');
    r.traffic('talker', 'in', 5);
    r.traffic('talker', 'out', 7);
    r.traffic('listener', 'out', 3);
    const [first, second, third] = r.snapshot().principals;
    expect([first!.principal, first!.recordsIn, first!.recordsOut]).toEqual(['talker', 5, 7]);
    expect(second!.principal).toBe('listener');
    expect([third!.principal, third!.connections]).toEqual(['quiet', { mqtt: 1 }]);
    for (let i = 0; i < SNAPSHOT_PRINCIPALS + 10; i++) r.traffic(`p${i}`, 'in', 1);
    expect(r.snapshot().principals).toHaveLength(SNAPSHOT_PRINCIPALS);
    expect(r.snapshot().principalsTracked).toBe(SNAPSHOT_PRINCIPALS + 13);
  });

  it('stays within its bound: idle principals make room, connected ones are kept and newcomers go to _other', () => {
    const r = new ConnectionRegistry(3);
    const release = r.identified('a', 'websocket');
    r.identified('b', 'websocket');
    r.traffic('idle', 'in', 1);
    r.traffic('new', 'in', 2); // `idle` (no connection) makes room
    expect(r.snapshot().principals.map((p) => p.principal).sort()).toEqual(['a', 'b', 'new']);
    r.identified('new', 'mqtt');
    r.traffic('late', 'out', 4); // everyone is connected: counted under _other
    const other = r.snapshot().principals.find((p) => p.principal === OTHER_PRINCIPAL);
    expect(other?.recordsOut).toBe(4);
    expect(r.snapshot().principalsTracked).toBe(4);
    release();
    release();
    expect(r.snapshot().principals.find((p) => p.principal === 'a')?.connections).toEqual({});
  });
});

describe('bucketQuantileMs', () => {
  // Buckets: 1, 2.5, 5, 10, 25, … ms (DELIVERY_LATENCY_BUCKETS), then +Inf; counts are cumulative.
  const cumulative = (perBucket: number[]) => perBucket.reduce<number[]>((out, n) => [...out, (out.at(-1) ?? 0) + n], []);
  const empty = new Array<number>(17).fill(0);

  it('is null without observations in the interval', () => {
    expect(bucketQuantileMs(empty, empty, 0.99)).toBeNull();
    const some = cumulative([5, ...new Array<number>(16).fill(0)]);
    expect(bucketQuantileMs(some, some, 0.99)).toBeNull();
  });

  it('is the upper bound of the bucket holding the rank, over the interval only', () => {
    // 99 deliveries within 1 ms, 1 within 10 ms: p99 is 1 ms, p100 10 ms.
    const after = cumulative([99, 0, 0, 1, ...new Array<number>(13).fill(0)]);
    expect(bucketQuantileMs(empty, after, 0.99)).toBe(1);
    expect(bucketQuantileMs(empty, after, 1)).toBe(10);
    // Earlier observations (before) do not count: 100 more in the 25 ms bucket.
    const later = after.map((n, i) => n + (i >= 4 ? 100 : 0));
    expect(bucketQuantileMs(after, later, 0.99)).toBe(25);
  });

  it('reports the last finite bound when the rank is in +Inf', () => {
    const after = [...new Array<number>(16).fill(0), 3];
    expect(bucketQuantileMs(empty, after, 0.99)).toBe(300_000);
  });
});
