/** The console's record display (console/records.ts): both JSON header forms, base64 and bytes. */
import { describe, expect, it } from 'vitest';
import { headerPairs, shownKey, shownValue } from '../../console/records.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe('console record display', () => {
  it('reads headers in the object form and in the ordered list form, where names may repeat', () => {
    expect(headerPairs({ a: '1', b: '2' }, undefined)).toEqual([['a', '1'], ['b', '2']]);
    expect(headerPairs({ a: b64('x') }, 'base64')).toEqual([['a', 'x']]);
    expect(headerPairs([{ name: 'a', value: '1' }, { name: 'a', value: '2' }], undefined)).toEqual([['a', '1'], ['a', '2']]);
    expect(headerPairs([{ name: 'bin', value: b64('y'), encoding: 'base64' }], undefined)).toEqual([['bin', 'y']]);
    expect(headerPairs({ raw: new TextEncoder().encode('z') }, undefined)).toEqual([['raw', 'z']]);
    expect(headerPairs(undefined, undefined)).toEqual([]);
    expect(headerPairs(null, undefined)).toEqual([]);
  });

  it('shows JSON values as their JSON text, base64 values decoded when they are UTF-8 and as base64 when not', () => {
    expect(shownValue({ n: 1 }, undefined)).toEqual({ text: '{"n":1}' });
    expect(shownValue('<img>', undefined)).toEqual({ text: '"<img>"' });
    expect(shownValue(b64('plain text'), 'base64')).toEqual({ text: 'plain text', note: 'base64 decoded' });
    expect(shownValue('/w==', 'base64')).toEqual({ text: '/w==', note: 'base64' });
    expect(shownValue(new Uint8Array([0xff]), undefined)).toEqual({ text: '/w==', note: 'base64' });
    expect(shownValue(null, undefined)).toEqual({ text: 'null' });
  });

  it('shows keys as text, base64 keys decoded, and no key as none', () => {
    expect(shownKey('k', undefined)).toEqual({ text: 'k' });
    expect(shownKey(b64('k2'), 'base64')).toEqual({ text: 'k2', note: 'base64 decoded' });
    expect(shownKey(new Uint8Array([0xff, 0xfe]), undefined)).toEqual({ text: '//4=', note: 'base64' });
    expect(shownKey(null, undefined)).toBeNull();
  });
});
