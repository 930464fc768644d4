import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { eventually } from '../test/support/wait.js';
import { encodeOnce } from './encoded.js';
import { GatewayError } from './errors.js';
import type { StreamRecord } from './record.js';

function record(offset: bigint, value = 'v'): StreamRecord {
  return { topic: 't', partition: 0, offset, timestamp: 1, key: Buffer.from('k'), value: Buffer.from(value), headers: [] };
}

describe('encodeOnce', () => {
  it('encodes a record once per format and hands every subscriber the same bytes', () => {
    const r = record(1n);
    let calls = 0;
    const encode = (x: StreamRecord): Buffer => {
      calls++;
      return Buffer.from(`${x.offset}:${x.value!.toString()}`);
    };
    const first = encodeOnce(r, 'test.a', encode);
    const second = encodeOnce(r, 'test.a', encode);
    expect(calls).toBe(1);
    expect(second).toBe(first);
    expect(second.toString()).toBe('1:v');
  });

  it('keeps distinct formats and distinct records apart', () => {
    const r = record(1n);
    const other = record(2n);
    expect(encodeOnce(r, 'test.a', () => 'A')).toBe('A');
    expect(encodeOnce(r, 'test.b', () => 'B')).toBe('B');
    expect(encodeOnce(other, 'test.a', () => 'A2')).toBe('A2');
    expect(encodeOnce(r, 'test.a', () => 'not called')).toBe('A');
    expect(encodeOnce(r, 'test.b', () => 'not called')).toBe('B');
  });

  it('remembers an undefined result (not deliverable) instead of re-encoding', () => {
    const r = record(1n);
    let calls = 0;
    const encode = (): undefined => {
      calls++;
      return undefined;
    };
    expect(encodeOnce(r, 'test.none', encode)).toBeUndefined();
    expect(encodeOnce(r, 'test.none', encode)).toBeUndefined();
    expect(calls).toBe(1);
  });

  it('contains an encoder that throws: a catalogued error naming the record, remembered so the encoder runs once', () => {
    const r = record(7n);
    let calls = 0;
    const encode = (): string => {
      calls++;
      throw new RangeError('Maximum call stack size exceeded');
    };
    const failures = [0, 1, 2].map(() => {
      try {
        encodeOnce(r, 'test.broken\0v5', encode);
      } catch (err) {
        return err;
      }
      return undefined;
    });
    expect(calls).toBe(1);
    for (const err of failures) {
      expect(err).toBeInstanceOf(GatewayError);
      expect(err).toMatchObject({ code: 'INTERNAL', details: { topic: 't', partition: 0, offset: '7' } });
      expect((err as GatewayError).message).toBe('The record at t/0@7 could not be encoded (test.broken).');
      expect((err as GatewayError).cause).toBeInstanceOf(RangeError);
    }
    // Other formats of the same record are unaffected.
    expect(encodeOnce(r, 'test.ok', () => 'fine')).toBe('fine');
  });

  it('does not keep an encoding alive once its record is gone', async () => {
    // gc() for this test only: V8 lets the flag be set at run time, and a new context exposes it.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    let r: StreamRecord | undefined = record(1n);
    const encoded = new WeakRef(encodeOnce(r, 'test.big', () => Buffer.alloc(1 << 20)));
    expect(encoded.deref()?.length).toBe(1 << 20);
    r = undefined;
    // WeakRef targets survive until the current job ends: poll across ticks, collecting each time.
    await eventually(
      () => {
        gc();
        return encoded.deref() === undefined;
      },
      { what: 'the encoding to be collected with its record' },
    );
  });
});
