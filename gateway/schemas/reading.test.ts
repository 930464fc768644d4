/**
 * SchemaReading's decision and its memo (the fan-out cost): a topic without a binding costs no
 * promise, a shared batch is decoded once for every subscriber, filtered subscribers' arrays of
 * the same records reuse each record's decoding, and a record that does not decode is served as
 * its bytes. The registry here is a counting fake (the real one runs in test/schemas/reading.test.ts).
 */
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import type { StreamRecord } from '../record.js';
import { TopicBindings } from './bindings.js';
import { compileSchema, type CompiledSchema } from './formats.js';
import { SchemaReading } from './reading.js';
import type { SchemaRegistry } from './registry.js';
import { encodeFramed } from './wire.js';

const limits = { maxSchemaBytes: 256 * 1024, maxDepth: 64, maxNodes: 20_000, maxReferences: 100 };
const schema = compileSchema('AVRO', JSON.stringify({ type: 'record', name: 'R', fields: [{ name: 'n', type: 'int' }] }), [], limits);

function setup() {
  const calls = { toJson: 0, prepare: 0 };
  const counted: CompiledSchema = { ...schema, toJson: (p, i) => (calls.toJson++, schema.toJson(p, i)) };
  const registry = {
    prepareIds: async () => void calls.prepare++,
    knownCompiled: (id: number) => (id === 7 ? counted : undefined),
  } as unknown as SchemaRegistry;
  const bindings = new TopicBindings([{ topic: 'bound-*', format: 'avro', side: 'value', encode: false }], registry, 64, pino({ level: 'silent' }));
  return { calls, reading: new SchemaReading(bindings, registry) };
}

const rec = (topic: string, offset: number, value: Buffer | null): StreamRecord => ({ topic, partition: 0, offset: BigInt(offset), timestamp: 1, key: null, value, headers: [] });
const framed = (n: number) => encodeFramed(7, schema.encode({ n }));

describe('SchemaReading.forJson', () => {
  it('an unbound topic costs no promise; a shared batch is decoded once; filtered arrays reuse each record', async () => {
    const { calls, reading } = setup();
    expect(reading.forJson([rec('plain', 0, framed(1))])).toBeUndefined();
    const batch = [rec('bound-a', 0, framed(1)), rec('bound-a', 1, framed(2))];
    const first = reading.forJson(batch);
    // 10,000 subscribers of the same array share one promise.
    for (let i = 0; i < 10_000; i++) expect(reading.forJson(batch)).toBe(first);
    expect(await first).toEqual([{ value: { schemaId: 7, json: '{"n":1}' } }, { value: { schemaId: 7, json: '{"n":2}' } }]);
    expect(calls.toJson).toBe(2);
    // A filtered subscriber's array of the same record objects: no decode again.
    expect(await reading.forJson([batch[1]!])).toEqual([{ value: { schemaId: 7, json: '{"n":2}' } }]);
    expect(calls.toJson).toBe(2);
  });

  it('not framed, an unknown id, a payload that does not decode, null: served as bytes (undefined), never a rejection', async () => {
    const { reading } = setup();
    const truncated = framed(1).subarray(0, 5);
    const unknown = encodeFramed(8, schema.encode({ n: 1 }));
    const hostile = Buffer.concat([framed(1).subarray(0, 5), Buffer.alloc(11, 0xff)]); // a varint that never ends
    const out = await reading.forJson([rec('bound-b', 0, Buffer.from('{"n":1}')), rec('bound-b', 1, unknown), rec('bound-b', 2, truncated), rec('bound-b', 3, hostile), rec('bound-b', 4, null), rec('bound-b', 5, framed(3))]);
    expect(out).toEqual([undefined, undefined, undefined, undefined, undefined, { value: { schemaId: 7, json: '{"n":3}' } }]);
  });
});
