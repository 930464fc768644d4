import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../gateway/errors.js';
import { acceptedFormat, decodeBase64, decodeEventId, decodeV2Produce, encodeEventId, encodeV2Record, parseRecordsBody, produceFormat, sseEvent, stringifyWithNumbers } from './codec.js';
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
    // The schema formats are consumer formats too (a mismatch with the instance's is the route's 40601).
    expect(acceptedFormat('application/vnd.kafka.avro.v2+json')).toBe('avro');
    expect(acceptedFormat('application/vnd.kafka.protobuf.v2+json, */*')).toBe('protobuf');
    expect(acceptedFormat('application/vnd.kafka.xml.v2+json')).toBe('unacceptable');
    expect(acceptedFormat('text/html')).toBe('unacceptable');
  });

  const v2 = (body: string, format: 'json' | 'binary' = 'json') => decodeV2Produce(Buffer.from(body), parseRecordsBody(Buffer.from(body)), format, undefined);

  it('keeps json-format string keys as their text so key filters match them', () => {
    const [r] = v2('{"records":[{"key":"sensors/a","value":{"t":1}}]}');
    expect(r!.key!.toString()).toBe('sensors/a');
    expect(r!.value!.toString()).toBe('{"t":1}');
  });

  it('stores json-format values and non-string keys as the exact text sent', () => {
    const value = '{ "n": 12345678901234567890, "d": 0.1000000000000000055511151231257827, "e": 1e400, "z": -0, "k": 1, "k": 2 }';
    const [r] = v2(`{"records":[{"key":[1.50, -0],"value": ${value} }]}`);
    expect(r!.key!.toString()).toBe('[1.50, -0]');
    expect(r!.value!.toString()).toBe(value);
  });

  it('refuses a json-format key UTF-8 cannot represent instead of storing U+FFFD', () => {
    expect(() => v2('{"records":[{"key":"\\ud800x","value":1}]}')).toThrow(expect.objectContaining({ code: 'INVALID_KEY' }));
  });

  it('renders v2 records as text: json values verbatim, non-JSON or too deep as INVALID_VALUE, binary as base64', () => {
    const base = { topic: 't', partition: 0, offset: 9_007_199_254_740_993n, timestamp: 1, headers: [] };
    expect(encodeV2Record({ ...base, key: Buffer.from('k'), value: Buffer.from(' 1e400 ') }, 'json')).toBe('{"topic":"t","key":"k","value":1e400,"partition":0,"offset":9007199254740993}');
    expect(encodeV2Record({ ...base, key: null, value: Buffer.from([0xff]) }, 'binary')).toBe('{"topic":"t","key":null,"value":"/w==","partition":0,"offset":9007199254740993}');
    const deep = Buffer.from(`${'['.repeat(300_000)}${']'.repeat(300_000)}`);
    expect(() => encodeV2Record({ ...base, key: null, value: deep }, 'json')).toThrow(expect.objectContaining({ code: 'INVALID_VALUE' }));
    expect(() => encodeV2Record({ ...base, key: Buffer.from([0xff]), value: null }, 'json')).toThrow(expect.objectContaining({ code: 'INVALID_KEY' }));
  });

  it('frames multi-line SSE data as one data line per line (CR, LF and CRLF all end an SSE line)', () => {
    expect(sseEvent('record', 'a\nb', '0:1')).toBe('id: 0:1\nevent: record\ndata: a\ndata: b\n\n');
    expect(sseEvent('record', '[1,\r2,\r\n3]')).toBe('event: record\ndata: [1,\ndata: 2,\ndata: 3]\n\n');
    // No event name: no `event:` field, so the browser dispatches a default `message` event.
    expect(sseEvent(undefined, '{}', '0:2')).toBe('id: 0:2\ndata: {}\n\n');
  });
});
