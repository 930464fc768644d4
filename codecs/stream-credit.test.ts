import { describe, expect, it } from 'vitest';
import { SessionCredit } from './stream-credit.js';

describe('credit', () => {
  it('spends own credit first, then the session pool, never more than granted', () => {
    const session = new SessionCredit();
    const a = session.subscription(2);
    const b = session.subscription(0);
    expect(a.take(5)).toBe(2);
    expect(a.take(5)).toBe(0);
    session.grantPool(3);
    expect(a.take(2)).toBe(2);
    expect(b.take(5)).toBe(1);
    expect(b.take(5)).toBe(0);
    b.grant(4);
    expect(b.take(10)).toBe(4);
  });

  it('wakes a waiting subscription on its own grant, on a pool grant, or on cancel', async () => {
    const session = new SessionCredit();
    const a = session.subscription(0);
    let woke = 0;
    const w1 = a.wait().then(() => woke++);
    a.grant(1);
    await w1;
    const w2 = a.wait().then(() => woke++);
    session.grantPool(1);
    await w2;
    const w3 = a.wait().then(() => woke++);
    a.cancel();
    await w3;
    expect(woke).toBe(3);
    await a.wait(); // cancelled: resolves at once
  });
});
