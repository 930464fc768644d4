import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, lazyChild, REDACTED, type Logger } from './log.js';

function capture(): { lines: () => Record<string, unknown>[]; stream: Writable } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      chunks.push(String(chunk));
      done();
    },
  });
  return { stream, lines: () => chunks.join('').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>) };
}

/** Counts every child() made on root's tree (children inherit it from root). */
function countChildren(root: Logger): { count: number } {
  const made = { count: 0 };
  const child = root.child;
  root.child = function (this: Logger, ...args: Parameters<typeof child>) {
    made.count++;
    return child.apply(this, args);
  } as typeof child;
  return made;
}

describe('lazyChild', () => {
  it('makes the child only when first used, then logs with the bindings of every level of laziness', () => {
    const out = capture();
    const root = createLogger('info', out.stream);
    const made = countChildren(root);
    const conn = lazyChild(root, { conn: 'c1', remote: '10.0.0.1:5' });
    const named = lazyChild(conn, { clientId: 'dev-1' });
    expect(made.count).toBe(0);
    named.info({ password: 'p' }, 'connected');
    expect(made.count).toBe(2); // conn's child, then named's child of it
    conn.warn('plain');
    expect(made.count).toBe(2);
    const [first, second] = out.lines();
    expect(first).toMatchObject({ conn: 'c1', remote: '10.0.0.1:5', clientId: 'dev-1', msg: 'connected', password: REDACTED, level: 30 });
    expect(second).toMatchObject({ conn: 'c1', msg: 'plain', level: 40 });
    expect(second).not.toHaveProperty('clientId');
  });

  it('honours levels set on it and children made from it', () => {
    const out = capture();
    const log = lazyChild(createLogger('info', out.stream), { component: 'x' });
    log.debug('hidden');
    log.level = 'debug';
    log.debug('shown');
    log.child({ sub: 1 }).debug('child shown');
    expect(out.lines().map((l) => [l.msg, l.component, l.sub])).toEqual([
      ['shown', 'x', undefined],
      ['child shown', 'x', 1],
    ]);
  });
});

describe('lazyChild chains', () => {
  it('a debug call on a child of a lazy child makes neither, and an info call makes both once', () => {
    const out = capture();
    const root = createLogger('info', out.stream);
    const made = countChildren(root);
    const conn = lazyChild(root, { conn: 'c2' });
    const named = lazyChild(conn, { clientId: 'dev-2' });
    const call = named.child({ call: 7 });
    named.debug('not logged');
    call.debug('not logged either');
    expect(named.isLevelEnabled('debug')).toBe(false);
    expect(made.count).toBe(0);
    call.info('logged');
    expect(made.count).toBe(3);
    named.info('again');
    expect(made.count).toBe(3);
    expect(out.lines().map((l) => [l.msg, l.conn, l.clientId, l.call])).toEqual([
      ['logged', 'c2', 'dev-2', 7],
      ['again', 'c2', 'dev-2', undefined],
    ]);
  });
});
