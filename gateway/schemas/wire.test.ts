import { describe, expect, it } from 'vitest';
import { GatewayError } from '../errors.js';
import { checkCompatibility } from './compatibility.js';
import { compileSchema, type SchemaLimits } from './formats.js';
import { decodeFramed, encodeFramed } from './wire.js';

const limits: SchemaLimits = { maxSchemaBytes: 256 * 1024, maxDepth: 64, maxNodes: 20_000, maxReferences: 100 };

describe('Confluent wire format', () => {
  it('is magic 0, a big-endian 4-byte id, then the payload', () => {
    const framed = encodeFramed(258, Buffer.from('abc'));
    expect([...framed]).toEqual([0, 0, 0, 1, 2, 0x61, 0x62, 0x63]);
    expect(decodeFramed(framed)).toEqual({ schemaId: 258, payload: Buffer.from('abc') });
  });

  it('writes Protobuf message indexes as zigzag varints, [0] as the single byte 0', () => {
    expect([...encodeFramed(1, Buffer.from([9]), [0])]).toEqual([0, 0, 0, 0, 1, 0, 9]);
    // [1, 2]: count 2 → zigzag 4, then 1 → 2 and 2 → 4 (Confluent MessageIndexes.toByteArray).
    const framed = encodeFramed(1, Buffer.from([9]), [1, 2]);
    expect([...framed]).toEqual([0, 0, 0, 0, 1, 4, 2, 4, 9]);
    expect(decodeFramed(framed, { protobuf: true })).toEqual({ schemaId: 1, messageIndexes: [1, 2], payload: Buffer.from([9]) });
    expect(decodeFramed(encodeFramed(7, Buffer.alloc(0), [0]), { protobuf: true }).messageIndexes).toEqual([0]);
  });

  it('refuses short payloads, other magic bytes, and runaway index varints with INVALID_VALUE', () => {
    for (const bad of [Buffer.from([0, 0, 0]), Buffer.from([1, 0, 0, 0, 1]), Buffer.from([0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), Buffer.from([0, 0, 0, 0, 1, 0x7e])]) {
      expect(() => decodeFramed(bad, { protobuf: true })).toThrow(GatewayError);
      try {
        decodeFramed(bad, { protobuf: true });
      } catch (err) {
        expect((err as GatewayError).code).toBe('INVALID_VALUE');
      }
    }
  });
});

describe('schema formats', () => {
  it('Avro: validates, encodes to Avro binary and decodes back', () => {
    const s = compileSchema('AVRO', JSON.stringify({ type: 'record', name: 'R', fields: [{ name: 'n', type: 'int' }, { name: 's', type: 'string' }] }), [], limits);
    expect(s.validate({ n: 1, s: 'x' })).toBeUndefined();
    expect(s.validate({ n: 'one', s: 'x' })).toMatch(/n/);
    const bytes = s.encode({ n: 1, s: 'x' });
    expect([...bytes]).toEqual([2, 2, 0x78]); // zigzag 1, length 1, "x"
    expect(s.decode(bytes)).toEqual({ n: 1, s: 'x' });
  });

  it('Protobuf: encodes the message its indexes name, and decodes it', () => {
    const s = compileSchema('PROTOBUF', 'syntax = "proto3"; package p; message A { int32 a = 1; } message B { string b = 1; message C { bool c = 1; } }', [], limits);
    expect([...s.encode({ a: 150 }, [0])]).toEqual([0x08, 0x96, 0x01]);
    expect(s.decode(s.encode({ b: 'hi' }, [1]), [1])).toEqual({ b: 'hi' });
    expect(s.decode(s.encode({ c: true }, [1, 0]), [1, 0])).toEqual({ c: true });
    expect(() => s.encode({ a: 1 }, [5])).toThrow(/message index/);
  });

  it('JSON Schema: the compatibility rules Confluent documents', () => {
    const j = (schema: object) => compileSchema('JSON', JSON.stringify(schema), [], limits);
    const closed = j({ type: 'object', properties: { a: { type: 'integer' } }, additionalProperties: false });
    const widened = j({ type: 'object', properties: { a: { type: 'number' } }, additionalProperties: false });
    expect(widened.canRead(closed)).toEqual([]); // integer → number widens
    expect(closed.canRead(widened).join()).toMatch(/TYPE_NARROWED/);
    const open = j({ type: 'object', properties: { a: { type: 'integer' } } });
    const openPlus = j({ type: 'object', properties: { a: { type: 'integer' }, b: { type: 'string' } } });
    expect(openPlus.canRead(open).join()).toMatch(/PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL/);
    expect(closed.canRead(open).join()).toMatch(/./); // open writer may send anything the closed reader refuses
    const enumAB = j({ enum: ['a', 'b'] });
    const enumA = j({ enum: ['a'] });
    expect(enumAB.canRead(enumA)).toEqual([]);
    expect(enumA.canRead(enumAB).join()).toMatch(/ENUM_ARRAY_NARROWED/);
    const recursive = j({ $defs: { n: { type: 'object', properties: { next: { $ref: '#/$defs/n' } } } }, $ref: '#/$defs/n' });
    expect(recursive.canRead(recursive)).toEqual([]); // cycles end (bounded walk)
  });

  it('BACKWARD vs FORWARD vs TRANSITIVE pick the direction and the versions', () => {
    const a = (fields: object[]) => compileSchema('AVRO', JSON.stringify({ type: 'record', name: 'T', fields }), [], limits);
    const v1 = a([{ name: 'x', type: 'int' }]);
    const v2 = a([{ name: 'x', type: 'int' }, { name: 'y', type: 'int', default: 0 }]);
    const v3 = a([{ name: 'y', type: 'int', default: 0 }]);
    // v3 drops x (no default in v1/v2): readers of v1 cannot read v3 data → FORWARD breaks with v1 and v2.
    expect(checkCompatibility('BACKWARD', v3, [{ version: 1, schema: v1 }, { version: 2, schema: v2 }])).toEqual([]);
    expect(checkCompatibility('FORWARD', v3, [{ version: 1, schema: v1 }, { version: 2, schema: v2 }])).toHaveLength(1);
    expect(checkCompatibility('FORWARD_TRANSITIVE', v3, [{ version: 1, schema: v1 }, { version: 2, schema: v2 }])).toHaveLength(2);
    expect(checkCompatibility('NONE', v3, [{ version: 1, schema: v1 }])).toEqual([]);
  });
});
