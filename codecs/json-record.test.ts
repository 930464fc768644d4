import { describe, expect, it } from 'vitest';
import type { StreamRecord } from '../gateway/record.js';
import { decodeProduceRecord, jsonRecord, jsonRecordWithTopic, parseRecordsRequest, storedJson } from './json-record.js';
import type { JsonNode } from './json-text.js';

/** The exact-value corpus: every way JSON.parse + JSON.stringify would alter the text. */
const EXACT_VALUE =
  '{"big":12345678901234567890,"neg":-98765432109876543210,"long":0.1000000000000000055511151231257827,' +
  '"exp":1e400,"tiny":-2.5E-400,"zero":-0,"dup":1,"dup":2,"esc":"\\u00e9\\/\\ud83d\\ude00","lone":"\\ud800",' +
  '"raw":"é😀","arr":[1.0,2.50,[{}]]}';

function records(text: string): { bytes: Buffer; items: readonly JsonNode[] } {
  const bytes = Buffer.from(text);
  const root = parseRecordsRequest(bytes);
  if (root.type !== 'object') throw new Error('not an object');
  const recs = root.entries!.find(([n]) => n === 'records')![1];
  if (recs.type !== 'array') throw new Error('no records');
  return { bytes, items: recs.items! };
}

const decode = (record: string) => {
  const { bytes, items } = records(`{"records":[${record}]}`);
  return decodeProduceRecord(bytes, items[0]!, 0);
};

const stored = (over: Partial<StreamRecord>): StreamRecord => ({ topic: 't', partition: 0, offset: 7n, timestamp: 1, key: null, value: null, headers: [], ...over });

describe('JSON record: writing', () => {
  it('stores a JSON value as the exact text sent (surrounding whitespace aside)', () => {
    expect(decode(`{"value":  ${EXACT_VALUE}\n}`).value!.toString()).toBe(EXACT_VALUE);
    expect(decode('{"value":-0}').value!.toString()).toBe('-0');
    expect(decode('{"value":"\\ud800"}').value!.toString()).toBe('"\\ud800"');
    expect(decode('{"value":null}').value).toBeNull();
  });

  it('takes base64 for the key, value and headers when told so', () => {
    const r = decode('{"key":"/w==","keyEncoding":"base64","value":"AAE=","encoding":"base64","headers":{"h":"/w=="},"headersEncoding":"base64"}');
    expect(r).toEqual({ key: Buffer.from([0xff]), value: Buffer.from([0, 1]), headers: [{ name: 'h', value: Buffer.from([0xff]) }] });
    expect(decode('{"value":1,"headers":[{"name":"h","value":"/w=="},{"name":"h","value":""}],"headersEncoding":"base64"}').headers).toEqual([
      { name: 'h', value: Buffer.from([0xff]) },
      { name: 'h', value: Buffer.alloc(0) },
    ]);
    expect(() => decode('{"value":1,"headersEncoding":"hex"}')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => decode('{"value":1,"headers":{"h":"@@"},"headersEncoding":"base64"}')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => decode('{"key":"k","keyEncoding":"utf16"}')).toThrow(expect.objectContaining({ code: 'INVALID_KEY' }));
  });

  it('refuses keys and headers UTF-8 cannot represent (lone surrogates), instead of storing U+FFFD', () => {
    expect(() => decode('{"key":"\\ud800x","value":1}')).toThrow(expect.objectContaining({ code: 'INVALID_KEY', message: expect.stringMatching(/lone surrogate/) }));
    expect(() => decode('{"key":"x\\udc00","value":1}')).toThrow(expect.objectContaining({ code: 'INVALID_KEY' }));
    expect(() => decode('{"value":1,"headers":{"h":"\\udfff"}}')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => decode('{"value":1,"headers":{"\\ud800":"v"}}')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => decode('{"value":1,"headers":[{"name":"\\ud800","value":"v"}]}')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(() => decode('{"value":1,"headers":[{"name":"h","value":"\\udfff"}]}')).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(decode('{"key":"\\ud83d\\ude00","value":1}').key).toEqual(Buffer.from('😀'));
  });

  it('keeps a header named __proto__ as a header, not a prototype', () => {
    const r = decode('{"value":1,"headers":{"__proto__":"x","a":"b"}}');
    expect(r.headers!.map((h) => h.name)).toEqual(['__proto__', 'a']);
    expect(decode('{"value":1,"headers":[{"name":"__proto__","value":"x"}]}').headers!.map((h) => h.name)).toEqual(['__proto__']);
  });

  it('takes headers as an ordered array in which names repeat, and the object form with unique names', () => {
    const list = decode('{"value":1,"headers":[{"name":"trace","value":"a"},{"name":"x","value":"1"},{"name":"trace","value":"b"},{"value":null,"name":"n"}]}').headers!;
    expect(list.map((h) => [h.name, h.value.toString()])).toEqual([['trace', 'a'], ['x', '1'], ['trace', 'b'], ['n', '']]);
    expect(decode('{"value":1,"headers":{"b":"2","a":"1","7":"i"}}').headers!.map((h) => h.name)).toEqual(['b', 'a', '7']);
    expect(decode('{"value":1,"headers":[]}').headers).toEqual([]);
    // Hostile or mistaken shapes: refused whole with INVALID_ARGUMENT, naming what is wrong.
    for (const bad of [
      '{"h":"1","h":"2"}', // a repeated name in the object form: its order cannot be told
      '[{"name":"h"}]',
      '[{"value":"v"}]',
      '[{"name":"h","value":"v","extra":1}]',
      '[{"name":"h","name":"g","value":"v"}]',
      '[{"name":1,"value":"v"}]',
      '[{"name":"h","value":1}]',
      '["h"]',
      '[["h","v"]]',
      '"h"',
      '{"h":1}',
    ]) {
      expect(() => decode(`{"value":1,"headers":${bad}}`), bad).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    }
  });
});

describe('JSON record: reading', () => {
  it('splices stored JSON verbatim (trimmed) and reads back what was written', () => {
    const text = jsonRecord(stored({ key: Buffer.from('k'), value: Buffer.from(` ${EXACT_VALUE}\r\n`), headers: [{ name: 'h', value: Buffer.from('v') }] }));
    expect(text).toBe(`{"partition":0,"offset":"7","timestamp":1,"key":"k","value":${EXACT_VALUE},"headers":[{"name":"h","value":"v"}]}`);
    expect(jsonRecordWithTopic(stored({ value: Buffer.from('1') }))).toBe('{"topic":"t","partition":0,"offset":"7","timestamp":1,"key":null,"value":1,"headers":[]}');
  });

  it('delivers bytes that are not JSON, or nest deeper than the bound, as base64 with the binary marker', () => {
    const deep = Buffer.from(`${'['.repeat(300_000)}${']'.repeat(300_000)}`);
    for (const value of [Buffer.from('plain text'), Buffer.from([0xff, 0]), deep, Buffer.from(''), Buffer.from('\ufeff1')]) {
      const parsed = JSON.parse(jsonRecord(stored({ value, key: Buffer.from([0xc3]), headers: [{ name: 'a', value: Buffer.from('x') }, { name: 'b', value: Buffer.from([0xff]) }] })));
      expect(parsed).toMatchObject({ value: value.toString('base64'), encoding: 'base64', key: 'ww==', keyEncoding: 'base64', headers: [{ name: 'a', value: 'eA==' }, { name: 'b', value: '/w==' }], headersEncoding: 'base64' });
    }
    expect(storedJson(deep)).toBeUndefined();
  });
});

describe('JSON record: decoded sides of schema-bound topics (Gateway.decodeForJson)', () => {
  it('a decoded side is its JSON with keySchemaId / valueSchemaId; without a decoding the same record is its bytes', () => {
    const framed = Buffer.from([0, 0, 0, 0, 7, 2]);
    const r = stored({ key: Buffer.from([0, 0, 0, 0, 3, 4]), value: framed });
    const decoded = jsonRecord(r, { key: { schemaId: 3, json: '2' }, value: { schemaId: 7, json: '{"n":1}' } });
    expect(JSON.parse(decoded)).toEqual({ partition: 0, offset: '7', timestamp: 1, key: 2, keySchemaId: 3, value: { n: 1 }, valueSchemaId: 7, headers: [] });
    // The plain encoding of the same record object is memoized separately: bytes, base64, no ids.
    expect(JSON.parse(jsonRecord(r))).toMatchObject({ value: framed.toString('base64'), encoding: 'base64' });
    expect(JSON.parse(jsonRecord(r))).not.toHaveProperty('valueSchemaId');
    // One side decoded: the other stays as stored.
    expect(JSON.parse(jsonRecordWithTopic(stored({ key: Buffer.from('k'), value: framed }), { value: { schemaId: 7, json: '[1]' } }))).toMatchObject({ topic: 't', key: 'k', value: [1], valueSchemaId: 7 });
  });
});
