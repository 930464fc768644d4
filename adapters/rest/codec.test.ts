import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../gateway/errors.js';
import { acceptedFormat, decodeBase64, decodeEventId, decodeV2Produce, encodeEventId, encodeNativeRecord, produceFormat, sseEvent, stringifyWithNumbers } from './codec.js';
import { RestError } from './errors.js';

describe('REST codec', () => {
  it('round-trips SSE event ids (next offset per partition)', () => {
    const positions = new Map<number, bigint>([
      [1, 7n],
      [0, 9_223_372_036_854_775_807n],
    ]);
    expect(encodeEventId(positions)).toBe('0:9223372036854775807,1:7');
    expect(decodeEventId('0:9223372036854775807,1:7')).toEqual(new Map([[0, 9_223_372_036_854_775_807n], [1, 7n]]));
    expect(() => decodeEventId('0:1,x')).toThrow(GatewayError);
  });

  it('renders bigint offsets as exact JSON numbers for v2 bodies', () => {
    expect(stringifyWithNumbers({ offset: 9_007_199_254_740_993n, s: 'x' })).toBe('{"offset":9007199254740993,"s":"x"}');
  });

  it('decodes base64 strictly (Buffer.from would skip bad characters)', () => {
    expect(decodeBase64('Y29uZmx1ZW50', 'INVALID_VALUE', 'v').toString()).toBe('confluent');
    for (const bad of ['Y29uZmx1ZW5', 'a b=', '****', 12]) expect(() => decodeBase64(bad, 'INVALID_VALUE', 'v')).toThrow(/base64/);
  });

  it('maps content types to the embedded format the Confluent way', () => {
    expect(produceFormat('application/vnd.kafka.json.v2+json; charset=utf-8')).toBe('json');
    expect(produceFormat('application/vnd.kafka.binary.v2+json')).toBe('binary');
    expect(produceFormat('application/json')).toBe('binary');
    expect(() => produceFormat('application/vnd.kafka.avro.v2+json')).toThrow(RestError);
    expect(acceptedFormat('application/vnd.kafka.json.v2+json')).toBe('json');
    expect(acceptedFormat('*/*')).toBeUndefined();
    expect(acceptedFormat('application/vnd.kafka.avro.v2+json')).toBe('unacceptable');
    expect(acceptedFormat('text/html')).toBe('unacceptable');
  });

  it('keeps json-format string keys as their text so key filters match them', () => {
    const [r] = decodeV2Produce({ records: [{ key: 'sensors/a', value: { t: 1 } }] }, 'json', undefined);
    expect(r!.key!.toString()).toBe('sensors/a');
    expect(r!.value!.toString()).toBe('{"t":1}');
  });

  it('encodes native records: JSON values as JSON, other bytes as base64', () => {
    const base = { topic: 't', partition: 0, offset: 5n, timestamp: 1, headers: {} };
    expect(encodeNativeRecord({ ...base, key: Buffer.from('k'), value: Buffer.from('{"a":1}') })).toEqual({ partition: 0, offset: '5', timestamp: 1, key: 'k', value: { a: 1 }, headers: {} });
    expect(encodeNativeRecord({ ...base, key: Buffer.from([0xff]), value: Buffer.from('hello') })).toEqual({
      partition: 0, offset: '5', timestamp: 1, key: '/w==', keyEncoding: 'base64', value: 'aGVsbG8=', encoding: 'base64', headers: {},
    });
  });

  it('frames multi-line SSE data as one data line per line', () => {
    expect(sseEvent('record', 'a\nb', '0:1')).toBe('id: 0:1\nevent: record\ndata: a\ndata: b\n\n');
  });
});
