/**
 * Table.sync(): a read after sync() on one instance sees every write another instance had
 * acknowledged before the call — what the MQTT adapter relies on when a client leaves one gateway
 * and reconnects through another at once. Two cores on one Kafka; the follower of a compacted
 * table normally lags a write by a tail fetch, so reading without sync() would often miss it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GatewayError } from '../../gateway/errors.js';
import { createTestCore, type TestCore } from '../support/core.js';
import { uniqueId } from '../support/names.js';

describe('compacted table sync across instances', () => {
  let a: TestCore;
  let b: TestCore;
  beforeAll(async () => {
    a = await createTestCore('kafka');
    b = await createTestCore('kafka');
  });
  afterAll(async () => {
    await Promise.allSettled([a?.close(), b?.close()]);
  });

  it('sees the other instance’s acknowledged writes and deletes right after sync()', async () => {
    const name = uniqueId('sync-table');
    const writer = await a.core.table(name);
    const reader = await b.core.table(name);
    for (let i = 0; i < 40; i++) {
      const key = `k${i % 5}`;
      await writer.set(key, Buffer.from(String(i)));
      await reader.sync();
      expect(reader.get(key)?.toString()).toBe(String(i));
      if (i % 10 === 9) {
        await writer.delete(key);
        await reader.sync();
        expect(reader.get(key)).toBeUndefined();
      }
    }
    // Concurrent callers are all answered (they share offsets requests).
    await writer.set('last', Buffer.from('x'));
    await Promise.all(Array.from({ length: 20 }, () => reader.sync()));
    expect(reader.get('last')?.toString()).toBe('x');
  });

  it('fails with TIMEOUT when the copy cannot catch up in time', async () => {
    const name = uniqueId('sync-closed');
    const writer = await a.core.table(name);
    const reader = await b.core.table(name);
    await writer.set('k', Buffer.from('v'));
    await reader.sync();
    // A copy that no longer follows (its instance is closing) never reaches a later write.
    (reader as unknown as { close(): void }).close();
    await writer.set('k', Buffer.from('w'));
    const err = await reader.sync(200).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GatewayError);
    expect((err as GatewayError).code).toBe('TIMEOUT');
  });
});
