import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { JsonSyntaxError, MAX_JSON_DEPTH, isWellFormed, jsonSpan, member, parseJson, textOf, type JsonNode, type JsonObject } from './json-text.js';

const bytes = (s: string): Buffer => Buffer.from(s, 'utf8');

function accepts(text: string | Buffer): boolean {
  return jsonSpan(typeof text === 'string' ? bytes(text) : text) !== undefined;
}

function jsonParses(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

describe('JSON scanner', () => {
  it('accepts exactly what JSON.parse accepts (random documents and random mutations of them)', () => {
    fc.assert(
      fc.property(fc.json({ depthSize: 'medium' }), fc.nat(), fc.string({ maxLength: 3 }), (json, at, insert) => {
        expect(accepts(json)).toBe(true);
        const pos = at % (json.length + 1);
        const mutated = json.slice(0, pos) + insert + json.slice(pos + (at % 3));
        expect(accepts(mutated)).toBe(jsonParses(mutated));
      }),
      { numRuns: 2_000 },
    );
  });

  it('agrees with JSON.parse on the grammar corners', () => {
    const cases = [
      '0', '-0', '1e400', '-1.5E-7', '01', '1.', '.5', '+1', '1e', '--1', '0x10', 'NaN', 'Infinity',
      '"a"', '"\\u00e9"', '"\\ud800"', '"\\x41"', '"\\u12"', '"tab\there"', '"\u2028"', "'a'",
      'true', 'tru', 'nulll', '[]', '[1,]', '[,1]', '{}', '{"a":1,}', '{"a" 1}', '{a:1}', '{"a":1 "b":2}',
      ' \t\n\r[1] ', '\u00a0[1]', '\ufeff[1]', '[1] x', '', ' ', '[', ']', '{"a":{"b":[]}}',
    ];
    for (const text of cases) expect([text, accepts(text)]).toEqual([text, jsonParses(text)]);
  });

  it('refuses ill-formed UTF-8 (it could not be served as the same text)', () => {
    expect(accepts(Buffer.from([0x22, 0xff, 0x22]))).toBe(false);
    expect(accepts(Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22]))).toBe(false); // an encoded surrogate (CESU-8)
    expect(accepts(bytes('"é"'))).toBe(true);
  });

  it('gives each value its exact span, keeps duplicate members and decodes names and strings', () => {
    const text = ' {"n": 12345678901234567890, "d":0.1000000000000000055511151231257827, "e":1e400, "z":-0, "k":1, "k":2, "s":"\\u00e9\\ud83d\\ude00", "a":[ 1 , {"x":[]} ]} ';
    const b = bytes(text);
    const root = parseJson(b) as JsonObject;
    expect(textOf(b, root)).toBe(text.trim());
    const texts = root.entries!.map(([name, node]) => [name, textOf(b, node)]);
    expect(texts).toEqual([
      ['n', '12345678901234567890'],
      ['d', '0.1000000000000000055511151231257827'],
      ['e', '1e400'],
      ['z', '-0'],
      ['k', '1'],
      ['k', '2'],
      ['s', '"\\u00e9\\ud83d\\ude00"'],
      ['a', '[ 1 , {"x":[]} ]'],
    ]);
    expect(textOf(b, member(root, 'k')!)).toBe('2');
    expect(member(root, 's')).toMatchObject({ type: 'string', value: 'é😀' });
  });

  it('expands only the containers asked for, spans below', () => {
    const b = bytes('{"records":[{"value":{"deep":[1,2,3]}}]}');
    const seen: [number, string | undefined][] = [];
    const root = parseJson(b, { expand: (depth, name) => (seen.push([depth, name]), depth <= 3) }) as JsonObject;
    expect(seen).toEqual([[1, undefined], [2, 'records'], [3, undefined], [4, 'value']]);
    const record = (member(root, 'records') as Extract<JsonNode, { type: 'array' }>).items![0] as JsonObject;
    const value = member(record, 'value') as JsonObject;
    expect(value.entries).toBeUndefined();
    expect(textOf(b, value)).toBe('{"deep":[1,2,3]}');
    expect(parseJson(b, { expand: () => false })).toMatchObject({ type: 'object', entries: undefined, start: 0, end: b.length });
  });

  it('bounds nesting without recursion: 300,000 levels are refused in linear time, the bound itself accepted', () => {
    const deep = bytes(`${'['.repeat(300_000)}${']'.repeat(300_000)}`);
    const t0 = performance.now();
    expect(() => parseJson(deep)).toThrow(JsonSyntaxError);
    expect(() => parseJson(deep)).toThrow(/nested deeper than 256/);
    expect(jsonSpan(deep)).toBeUndefined();
    // Validating without a depth bound is iterative too: no stack overflow at any depth.
    expect(jsonSpan(deep, Number.MAX_SAFE_INTEGER)).toEqual({ start: 0, end: deep.length });
    expect(performance.now() - t0).toBeLessThan(1_000);
    const atBound = bytes(`${'['.repeat(MAX_JSON_DEPTH)}${']'.repeat(MAX_JSON_DEPTH)}`);
    expect(jsonSpan(atBound)).toEqual({ start: 0, end: atBound.length });
    expect(jsonSpan(bytes(`[${atBound.toString()}]`))).toBeUndefined();
  });

  it('tells well-formed strings from ones with lone surrogates', () => {
    expect(isWellFormed('a😀b')).toBe(true);
    expect(isWellFormed('\ud800x')).toBe(false);
    expect(isWellFormed('x\udc00')).toBe(false);
    expect(isWellFormed('\ude00\ud83d')).toBe(false);
  });
});
