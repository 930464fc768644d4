/**
 * Instance liveness across gateway instances: two cores on one Kafka see each other through the
 * heartbeats in the `instances` table; a cleanly closed core is gone at once, a crashed one (no
 * more heartbeats, entry left behind) after `groups.sessionTimeoutMs`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { tableTopic } from '../../gateway/table.js';
import { INSTANCES_TABLE } from '../../gateway/instances.js';
import { createTestCore, type TestCore } from '../support/core.js';
import { eventually } from '../support/wait.js';

const SESSION_TIMEOUT_MS = 1200;
const FAST = { groups: { heartbeatMs: 200, sessionTimeoutMs: SESSION_TIMEOUT_MS } };

describe('gateway instance liveness on one Kafka', () => {
  const cores: TestCore[] = [];
  afterEach(async () => {
    await Promise.allSettled(cores.splice(0).map((c) => c.close()));
  });

  it('each instance sees the other alive, and a cleanly closed one gone without waiting for the timeout', async () => {
    const a = await createTestCore('kafka', FAST);
    const b = await createTestCore('kafka', FAST);
    cores.push(a);
    expect(a.core.instanceId).not.toBe(b.core.instanceId);
    expect(a.core.instanceAlive(a.core.instanceId)).toBe(true);
    // b's first heartbeat was acknowledged before its start resolved; a's copy follows the table.
    await eventually(() => a.core.instanceAlive(b.core.instanceId), { what: 'a sees b alive' });
    expect(b.core.instanceAlive(a.core.instanceId)).toBe(true);
    expect(a.core.instanceAlive('never-started')).toBe(false);

    const table = await a.core.table(INSTANCES_TABLE);
    expect(JSON.parse(table.get(b.core.instanceId)!.toString())).toEqual({ seen: expect.any(Number) });
    await b.close();
    // The clean close deleted b's entry: gone as soon as the tombstone reached a's copy.
    await eventually(() => table.get(b.core.instanceId) === undefined, { what: 'b’s entry deleted' });
    expect(a.core.instanceAlive(b.core.instanceId)).toBe(false);
    expect(tableTopic(INSTANCES_TABLE)).toBe('__streamgate-instances');
  });

  it('an instance that stopped heartbeating (a crash) is gone once its last heartbeat is sessionTimeoutMs old; its entry stays', async () => {
    const a = await createTestCore('kafka', FAST);
    const b = await createTestCore('kafka', FAST);
    cores.push(a);
    const table = await a.core.table(INSTANCES_TABLE);
    await eventually(() => a.core.instanceAlive(b.core.instanceId), { what: 'a sees b alive' });
    // Heartbeats keep b's entry fresh well past one session timeout while b runs.
    const firstSeen = JSON.parse(table.get(b.core.instanceId)!.toString()).seen as number;
    await eventually(() => (JSON.parse(table.get(b.core.instanceId)!.toString()).seen as number) > firstSeen, { what: 'b’s entry refreshed' });

    // "Crash" b: its backend goes away, so its entry stays but is no longer refreshed.
    await b.backend.close();
    await b.core.close().catch(() => undefined); // the delete fails: the backend is gone
    await eventually(() => !a.core.instanceAlive(b.core.instanceId), { what: 'b gone after the session timeout', timeoutMs: 10_000 });
    const last = JSON.parse(table.get(b.core.instanceId)!.toString()).seen as number;
    // The entry is still there (a crash deletes nothing); it is older than the timeout now.
    expect(Date.now() - last).toBeGreaterThanOrEqual(SESSION_TIMEOUT_MS);
    expect(a.core.instanceAlive(a.core.instanceId)).toBe(true);
  });
});
