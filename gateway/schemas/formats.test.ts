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
