/**
 * Header order through kafkajs 2.2.4's own record encoder and decoder (no broker): the bytes a
 * record batch holds list the headers exactly as the core's list has them, and decoding that
 * batch gives the list back, interleaved repeats included — plain and GZIP-compressed.
 */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import type { Headers } from '../../record.js';
import { fromDecodedHeaders, toKafkaJsHeaders, type DecodedHeaders } from './headers.js';

const require = createRequire(import.meta.url);
interface KafkaJsEncoder {
  buffer: Buffer;
}
const Record = require('kafkajs/src/protocol/recordBatch/record/v0/index.js') as (r: object) => KafkaJsEncoder;
const { RecordBatch } = require('kafkajs/src/protocol/recordBatch/v0/index.js') as { RecordBatch: (b: object) => Promise<KafkaJsEncoder> };
const decodeBatch = require('kafkajs/src/protocol/recordBatch/v0/decoder.js') as (d: unknown) => Promise<{ records: { headers: DecodedHeaders }[] }>;
const Decoder = require('kafkajs/src/protocol/decoder.js') as new (b: Buffer) => unknown;
const { Types } = require('kafkajs/src/protocol/message/compression/index.js') as { Types: { None: number; GZIP: number } };

const h = (name: string, value: string): { name: string; value: Buffer } => ({ name, value: Buffer.from(value) });
const plain = (headers: Headers): [string, string][] => headers.map((x) => [x.name, x.value.toString('utf8')]);

/** The headers as the record's bytes list them (Kafka's record format: varint lengths, zigzag). */
function wireOrder(record: Buffer): [string, string][] {
  let at = 0;
  const varint = (): number => {
    let raw = 0;
    let shift = 0;
    for (;;) {
      const b = record[at++]!;
      raw |= (b & 0x7f) << shift;
      if ((b & 0x80) === 0) break;
      shift += 7;
    }
    return (raw >>> 1) ^ -(raw & 1);
  };
  const bytes = (): Buffer | null => {
    const n = varint();
    if (n < 0) return null;
    at += n;
    return record.subarray(at - n, at);
  };
  varint(); // length
  at += 1; // attributes
  varint(); // timestamp delta (small here)
  varint(); // offset delta
  bytes(); // key
  bytes(); // value
  const out: [string, string][] = [];
  for (let n = varint(); n > 0; n--) out.push([bytes()!.toString('utf8'), bytes()?.toString('utf8') ?? '<null>']);
  return out;
}

const interleaved: Headers = [h('x', '1'), h('trace', 'a'), h('7', 'int-like'), h('y', ''), h('trace', 'b'), h('x', '2'), h('trace', 'c')];

describe('Kafka headers through kafkajs', () => {
  it('writes the exact order, interleaved repeats and integer-like names included', () => {
    const record = Record({ key: null, value: Buffer.from('v'), headers: toKafkaJsHeaders(interleaved) });
    expect(wireOrder(record.buffer)).toEqual(plain(interleaved));
  });

  it('a plain object, as kafkajs takes it, loses the interleaving (why the encoder gets the ordered form)', () => {
    const record = Record({ key: null, value: Buffer.from('v'), headers: { x: [Buffer.from('1'), Buffer.from('2')], trace: Buffer.from('a'), 7: Buffer.from('i') } });
    expect(wireOrder(record.buffer).map(([n]) => n)).toEqual(['7', 'x', 'x', 'trace']);
  });

  it.each([
    ['uncompressed', Types.None],
    ['GZIP', Types.GZIP],
  ])('reads the exact order back from a decoded %s batch', async (_name, compression) => {
    const records = [Record({ key: null, value: Buffer.from('v'), headers: toKafkaJsHeaders(interleaved) }), Record({ offsetDelta: 1, key: null, value: null, headers: toKafkaJsHeaders([h('b', '1'), h('a', '2'), h('b', '3')]) })];
    const batch = await RecordBatch({ compression, records, lastOffsetDelta: 1 });
    const decoded = await decodeBatch(new Decoder(batch.buffer));
    // kafkajs itself folds them: {x: [1, 2], trace: [a, b, c], 7: …, y: …}, names grouped.
    expect(Object.keys(decoded.records[0]!.headers)).toEqual(['7', 'x', 'trace', 'y']);
    expect(plain(fromDecodedHeaders(decoded.records[0]!.headers))).toEqual(plain(interleaved));
    expect(plain(fromDecodedHeaders(decoded.records[1]!.headers))).toEqual([['b', '1'], ['a', '2'], ['b', '3']]);
  });

  it('places a null value after the previous header of its name, before the next one, or first', () => {
    const wire = Buffer.from('..1..2..3..4');
    const at = (i: number): Buffer => wire.subarray(i, i + 1);
    // Wire order: a=1, n=null, b=2, a=null, b=3, m=null, a=4 — only non-null values have a place.
    const decoded: DecodedHeaders = { a: [at(2), null, at(11)], n: null, b: [at(5), at(8)], m: null };
    expect(fromDecodedHeaders(decoded).map((x) => `${x.name}=${x.value.toString()}`)).toEqual(['n=', 'm=', 'a=1', 'a=', 'b=2', 'b=3', 'a=4']);
  });

  it('falls back to the folded order when the values do not share one buffer', () => {
    const decoded: DecodedHeaders = { a: [Buffer.from('1'), Buffer.from('2')], b: Buffer.from('3') };
    expect(plain(fromDecodedHeaders(decoded))).toEqual([['a', '1'], ['a', '2'], ['b', '3']]);
  });
});
