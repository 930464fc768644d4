/**
 * JSON Schema validation stays linear on hostile payloads: it runs on every produce to a bound
 * topic (schemaRegistry.bindings) and on REST v2 jsonschema produce. Before, ajv's `uniqueItems`
 * compared every pair of non-scalar items (32,000 objects: 35 s on the event loop) and `pattern`
 * ran on backtracking RegExp (`^(a+)+$` on 29 characters: 28 s); these payloads take minutes there.
 */
import { describe, expect, it } from 'vitest';
import avro from 'avsc';
import { checkAvroPayload, compileSchema } from './formats.js';

const limits = { maxSchemaBytes: 256 * 1024, maxDepth: 64, maxNodes: 20_000, maxReferences: 100 };

describe('JSON Schema validation on hostile payloads', () => {
  it('uniqueItems on 64,000 objects: distinct ones pass, one duplicate (keys in another order) fails', () => {
    const schema = compileSchema('JSON', JSON.stringify({ type: 'array', uniqueItems: true }), [], limits);
    const items = Array.from({ length: 64_000 }, (_, i) => ({ a: i, b: [i, { c: 'x' }] }));
    expect(schema.validate(items)).toBeUndefined();
    items.push({ b: [7, { c: 'x' }], a: 7 } as never);
    expect(schema.validate(items)).toMatch(/uniqueItems/);
    // Scalars and mixed types as ajv: 1 and "1" differ, null once.
    expect(schema.validate([1, '1', null, true, [1], { 1: 1 }])).toBeUndefined();
    expect(schema.validate([null, null])).toMatch(/uniqueItems/);
  });

  it('pattern and patternProperties run on RE2: a catastrophic-backtracking pattern answers at once', () => {
    const schema = compileSchema('JSON', JSON.stringify({ type: 'object', properties: { id: { type: 'string', pattern: '^(a+)+$' } }, patternProperties: { '^(x+)+y$': { type: 'number' } } }), [], limits);
    expect(schema.validate({ id: `${'a'.repeat(5_000)}b` })).toMatch(/pattern/);
    expect(schema.validate({ id: 'a'.repeat(5_000) })).toBeUndefined();
    expect(schema.validate({ [`${'x'.repeat(5_000)}y`]: 'not a number' })).toMatch(/number/);
  });

  it('a pattern RE2 cannot run (a backreference) makes the schema invalid, not a slow validator', () => {
    expect(() => compileSchema('JSON', JSON.stringify({ type: 'string', pattern: '^(a)\\1$' }), [], limits)).toThrow(/Invalid JSON schema/);
  });
});

/** A zigzag varint (Avro int / long) of n. */
function zigzag(n: number): Buffer {
  let v = BigInt(n) * 2n;
  if (n < 0) v = -BigInt(n) * 2n - 1n;
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number((v & 0x7fn) | 0x80n));
    v >>= 7n;
  }
  out.push(Number(v));
  return Buffer.from(out);
}

describe('decoding hostile records fails fast (a record read by a JSON reader or a REST v2 schema consumer)', () => {
  const avroOf = (schema: unknown) => compileSchema('AVRO', JSON.stringify(schema), [], limits);

  it('Avro: an array block count of 2^31 - 1 ints in a few bytes is refused before avsc loops over it', () => {
    const ints = avroOf({ type: 'array', items: 'int' });
    const started = performance.now();
    expect(() => ints.decode(Buffer.concat([zigzag(2 ** 31 - 1), Buffer.from([2, 0])]))).toThrow(/block of 2147483647 items/);
    // The same count as a negative block (count + byte size), and a map.
    expect(() => ints.decode(Buffer.concat([zigzag(-(2 ** 31 - 1)), zigzag(4), Buffer.from([2, 0])]))).toThrow(/block of 2147483647 items/);
    expect(() => avroOf({ type: 'map', values: 'int' }).decode(Buffer.concat([zigzag(10_000_000), Buffer.from([0])]))).toThrow(/block of 10000000 items/);
    expect(performance.now() - started).toBeLessThan(100);
    // A real array decodes.
    expect(ints.decode(Buffer.concat([zigzag(3), zigzag(1), zigzag(-2), zigzag(3), Buffer.from([0])]))).toEqual([1, -2, 3]);
  });

  it('Avro: items of a zero-byte type (null) are bounded: 6 bytes cannot ask for 2^31 of them', () => {
    const nulls = avroOf({ type: 'array', items: 'null' });
    const started = performance.now();
    expect(() => nulls.decode(Buffer.concat([zigzag(2 ** 31 - 1), Buffer.from([0])]))).toThrow(/zero-byte type/);
    // Spread over nested arrays, the bound is per payload.
    const nested = avroOf({ type: 'array', items: { type: 'array', items: 'null' } });
    const block = Buffer.concat([zigzag(60_000), Buffer.from([0])]);
    expect(() => nested.decode(Buffer.concat([zigzag(2), block, block, Buffer.from([0])]))).toThrow(/zero-byte type/);
    expect(performance.now() - started).toBeLessThan(100);
    expect(nulls.decode(Buffer.concat([zigzag(3), Buffer.from([0])]))).toEqual([null, null, null]);
  });

  it('Avro: a string length past the end, a bad union or enum index, trailing bytes and deep recursion are INVALID_VALUE', () => {
    // Flat types: avsc checks these itself (no walk first); the walk gives the same verdict with its reason.
    for (const [schema, payload, why] of [
      ['string', Buffer.concat([zigzag(2 ** 31), Buffer.from('x')]), /length of 2147483648/],
      [['null', 'string'], zigzag(7), /union index 7/],
      [{ type: 'enum', name: 'E', symbols: ['A'] }, zigzag(1), /enum index 1/],
      ['int', Buffer.from([2, 2]), /1 bytes after the value/],
    ] as const) {
      expect(() => avroOf(schema).decode(payload)).toThrow(/not Avro of this schema/);
      expect(() => checkAvroPayload(avro.Type.forSchema(schema as avro.Schema), payload, 64)).toThrow(why);
    }
    // A recursive schema nested 1,000 levels deep (2 bytes a level): refused at maxDepth, no stack overflow.
    const list = avroOf({ type: 'record', name: 'Node', fields: [{ name: 'next', type: ['null', 'Node'] }] });
    const deep = Buffer.concat([...Array.from({ length: 1_000 }, () => zigzag(1)), zigzag(0)]);
    expect(() => list.decode(deep)).toThrow(/nested deeper than 64/);
    expect(list.toJson(Buffer.concat([zigzag(1), zigzag(0)]))).toBe('{"next":{"next":null}}');
  });

  it('Avro toJson: plain JSON (unions unwrapped), bytes and fixed as Avro JSON strings', () => {
    const schema = avroOf({ type: 'record', name: 'R', fields: [{ name: 'b', type: 'bytes' }, { name: 'u', type: ['null', 'string'] }, { name: 'e', type: { type: 'enum', name: 'E', symbols: ['A', 'B'] } }, { name: 'f', type: { type: 'fixed', name: 'F', size: 2 } }] });
    const payload = Buffer.concat([zigzag(2), Buffer.from([0, 255]), zigzag(1), zigzag(1), Buffer.from('x'), zigzag(1), Buffer.from([65, 66])]);
    expect(JSON.parse(schema.toJson(payload))).toEqual({ b: '\u0000\u00ff', u: 'x', e: 'B', f: 'AB' });
  });

  it('Protobuf: a string whose length runs past the payload is refused (protobufjs BufferReader would clamp it)', () => {
    const schema = compileSchema('PROTOBUF', 'syntax = "proto3"; message M { string s = 1; repeated int32 r = 2; M child = 3; }', [], limits);
    expect(() => schema.decode(Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x07, 0x41]))).toThrow(/not a M message: index out of range/);
    expect(() => schema.decode(Buffer.from([0x12, 0xff, 0xff, 0xff, 0xff, 0x07, 0x01]))).toThrow(/index out of range/);
    // Nested 200 levels (and 500,000 unknown groups): protobufjs' own nesting limit answers, no stack overflow.
    let deep = Buffer.alloc(0);
    for (let i = 0; i < 200; i++) deep = Buffer.concat([Buffer.from([0x1a]), zigzagFree(deep.length), deep]);
    expect(() => schema.decode(deep)).toThrow(/nesting depth/);
    expect(() => schema.decode(Buffer.alloc(500_000, 0x4b))).toThrow(/nesting depth|index out of range/);
    expect(schema.toJson(Buffer.from([0x0a, 0x01, 0x41, 0x10, 0x05]))).toBe('{"s":"A","r":[5]}');
  });

  it('JSON Schema toJson: the payload text as stored; not JSON, or deeper than maxDepth, is INVALID_VALUE', () => {
    const schema = compileSchema('JSON', '{"type":"object"}', [], limits);
    expect(schema.toJson(Buffer.from(' {"n":1.50} '))).toBe('{"n":1.50}');
    expect(() => schema.toJson(Buffer.from('{"n":'))).toThrow(/not JSON/);
    expect(() => schema.toJson(Buffer.from('['.repeat(100_000)))).toThrow(/deeper than 64/);
    expect(() => schema.toJson(Buffer.from([0x7b, 0xff, 0x7d]))).toThrow(/UTF-8/);
  });
});

/** An unsigned varint (a Protobuf length). */
function zigzagFree(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}

describe('Protobuf schemas as base64 FileDescriptorProtos (confluent-kafka registers and fetches these)', () => {
  const text = 'syntax = "proto3";\npackage sensors;\nmessage Reading {\n  string device = 1;\n  double celsius = 2;\n  repeated int32 samples = 3;\n  message Inner { int64 n = 1; }\n}\n';

  it('a text schema serializes to a descriptor that compiles to the same messages, encoding the same bytes', () => {
    const fromText = compileSchema('PROTOBUF', text, [], limits);
    const serialized = fromText.serialized!();
    expect(serialized).toMatch(/^[A-Za-z0-9+/]+=*$/);
    const fromDescriptor = compileSchema('PROTOBUF', serialized, [], limits);
    const value = { device: 'd', celsius: 1.5, samples: [1, 2, 3] };
    expect(fromDescriptor.encode(value)).toEqual(fromText.encode(value));
    expect(fromDescriptor.decode(fromText.encode(value))).toEqual(value);
    expect(fromDescriptor.decode(fromText.encode({ n: '7' }, [0, 0]), [0, 0])).toEqual({ n: '7' });
    // Both directions read each other; a descriptor serializes as itself.
    expect(fromDescriptor.canRead(fromText)).toEqual([]);
    expect(fromText.canRead(fromDescriptor)).toEqual([]);
    expect(fromDescriptor.serialized!()).toBe(serialized);
    expect(fromDescriptor.canonical).not.toBe(fromText.canonical);
  });

  it('base64 that is not a descriptor of any message is INVALID_SCHEMA', () => {
    expect(() => compileSchema('PROTOBUF', Buffer.from('not a descriptor at all').toString('base64'), [], limits)).toThrow(expect.objectContaining({ code: 'INVALID_SCHEMA' }));
    expect(() => compileSchema('PROTOBUF', 'AAAA', [], limits)).toThrow(expect.objectContaining({ code: 'INVALID_SCHEMA' }));
  });
});

describe('Protobuf imports: references and well-known types', () => {
  const common = 'syntax = "proto3";\npackage acme.common;\nmessage Unit { string name = 1; }\n';
  const text = 'syntax = "proto3";\npackage acme;\nimport "acme/common.proto";\nimport "google/protobuf/timestamp.proto";\nmessage Reading { acme.common.Unit unit = 1; google.protobuf.Timestamp at = 2; repeated double samples = 3; }\n';
  const refs = [{ name: 'acme/common.proto', schema: common }];

  it('a well-known type resolves without a reference; the serialized file describes only its own messages and imports both files', () => {
    const compiled = compileSchema('PROTOBUF', text, refs, limits);
    const value = { unit: { name: 'C' }, at: { seconds: '5', nanos: 1 }, samples: [1.5] };
    expect(compiled.decode(compiled.encode(value))).toEqual(value);
    const serialized = compiled.serialized!();
    const again = compileSchema('PROTOBUF', serialized, refs, limits);
    expect(again.encode(value)).toEqual(compiled.encode(value));
    expect(again.canRead(compiled)).toEqual([]);
  });

  it('a type neither referenced nor well-known is INVALID_SCHEMA', () => {
    expect(() => compileSchema('PROTOBUF', text, [], limits)).toThrow(expect.objectContaining({ code: 'INVALID_SCHEMA' }));
  });
});

describe('Protobuf descriptors are bounded like texts', () => {
  const tight = { ...limits, maxDepth: 4, maxNodes: 50 };
  const serializedOf = (text: string) => compileSchema('PROTOBUF', text, [], limits).serialized!();

  it('nesting deeper than maxDepth and more declarations than maxNodes are INVALID_SCHEMA', () => {
    const deep = `syntax = "proto3";\n${'message M { '.repeat(6)}int32 x = 1;${' }'.repeat(6)}\n`;
    expect(() => compileSchema('PROTOBUF', serializedOf(deep), [], tight)).toThrow(expect.objectContaining({ code: 'INVALID_SCHEMA', message: expect.stringMatching(/maxDepth/) }));
    const wide = `syntax = "proto3";\nmessage M { ${Array.from({ length: 60 }, (_, i) => `int32 f${i} = ${i + 1};`).join(' ')} }\n`;
    expect(() => compileSchema('PROTOBUF', serializedOf(wide), [], tight)).toThrow(expect.objectContaining({ code: 'INVALID_SCHEMA', message: expect.stringMatching(/maxNodes/) }));
  });

  it('a descriptor referencing another descriptor (how confluent-kafka registers imports) resolves', () => {
    const common = serializedOf('syntax = "proto3";\npackage acme.common;\nmessage Unit { string name = 1; }\n');
    const text = 'syntax = "proto3";\npackage acme;\nimport "acme/common.proto";\nmessage Reading { acme.common.Unit unit = 1; }\n';
    const refs = [{ name: 'acme/common.proto', schema: common }];
    const reading = compileSchema('PROTOBUF', compileSchema('PROTOBUF', text, refs, limits).serialized!(), refs, limits);
    expect(reading.decode(reading.encode({ unit: { name: 'C' } }))).toEqual({ unit: { name: 'C' } });
  });
});
