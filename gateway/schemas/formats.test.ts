/**
 * JSON Schema validation stays linear on hostile payloads: it runs on every produce to a bound
 * topic (schemaRegistry.bindings) and on REST v2 jsonschema produce. Before, ajv's `uniqueItems`
 * compared every pair of non-scalar items (32,000 objects: 35 s on the event loop) and `pattern`
 * ran on backtracking RegExp (`^(a+)+$` on 29 characters: 28 s); these payloads take minutes there.
 */
import { describe, expect, it } from 'vitest';
import { compileSchema } from './formats.js';

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
