/**
 * Schema evolution under every compatibility level, for Avro, JSON Schema and Protobuf, against
 * Confluent's documented behaviour (docs.confluent.io, "Schema Evolution and Compatibility"):
 * BACKWARD — delete fields, add optional (defaulted) fields, checked against the latest version;
 * FORWARD — add fields, delete optional fields; FULL — add or delete optional fields only; the
 * _TRANSITIVE variants check every earlier version; NONE checks nothing. JSON Schema follows
 * Confluent's open / closed content model rules, Protobuf its wire-compatibility rules (adding a
 * message type is not forward compatible). Each row: a change, and for B / F whether a reader of
 * the new schema reads old data (B) and a reader of the old schema reads new data (F).
 */
import { describe, expect, it } from 'vitest';
import { checkCompatibility, COMPATIBILITY_LEVELS, type CompatibilityLevel } from './compatibility.js';
import { compileSchema, type CompiledSchema, type SchemaType } from './formats.js';

const limits = { maxSchemaBytes: 256 * 1024, maxDepth: 64, maxNodes: 20_000, maxReferences: 100 };

type Row = { change: string; from: string; to: string; backward: boolean; forward: boolean };

const avro = (fields: object[]) => JSON.stringify({ type: 'record', name: 'Reading', namespace: 'sensors', fields });
const device = { name: 'device', type: 'string' };
const battery = { name: 'battery', type: 'int', default: 100 };
const AVRO_ROWS: Row[] = [
  { change: 'add a field with a default', from: avro([device]), to: avro([device, battery]), backward: true, forward: true },
  { change: 'add a field without a default', from: avro([device]), to: avro([device, { name: 'site', type: 'string' }]), backward: false, forward: true },
  { change: 'delete a field with a default', from: avro([device, battery]), to: avro([device]), backward: true, forward: true },
  { change: 'delete a field without a default', from: avro([device, { name: 'site', type: 'string' }]), to: avro([device]), backward: true, forward: false },
  { change: 'rename a field (no alias, no default)', from: avro([device]), to: avro([{ name: 'sensor', type: 'string' }]), backward: false, forward: false },
  { change: 'rename a field with an alias of the old name', from: avro([device]), to: avro([{ name: 'sensor', type: 'string', aliases: ['device'] }]), backward: true, forward: false },
  { change: 'widen int to long', from: avro([{ name: 'n', type: 'int' }]), to: avro([{ name: 'n', type: 'long' }]), backward: true, forward: false },
  { change: 'narrow long to int', from: avro([{ name: 'n', type: 'long' }]), to: avro([{ name: 'n', type: 'int' }]), backward: false, forward: true },
  { change: 'change string to int', from: avro([{ name: 'n', type: 'string' }]), to: avro([{ name: 'n', type: 'int' }]), backward: false, forward: false },
  { change: 'add an enum symbol', from: JSON.stringify({ type: 'enum', name: 'E', symbols: ['A'] }), to: JSON.stringify({ type: 'enum', name: 'E', symbols: ['A', 'B'] }), backward: true, forward: false },
  { change: 'make a field nullable (union)', from: avro([device]), to: avro([{ name: 'device', type: ['null', 'string'], default: null }]), backward: true, forward: false },
];

const obj = (properties: object, extra: object = {}) => JSON.stringify({ type: 'object', properties, ...extra });
const closed = { additionalProperties: false };
const JSON_ROWS: Row[] = [
  { change: 'closed model: add an optional property', from: obj({ a: { type: 'string' } }, closed), to: obj({ a: { type: 'string' }, b: { type: 'number' } }, closed), backward: true, forward: false },
  { change: 'closed model: add a required property', from: obj({ a: { type: 'string' } }, closed), to: obj({ a: { type: 'string' }, b: { type: 'number' } }, { ...closed, required: ['b'] }), backward: false, forward: false },
  { change: 'closed model: delete an optional property', from: obj({ a: { type: 'string' }, b: { type: 'number' } }, closed), to: obj({ a: { type: 'string' } }, closed), backward: false, forward: true },
  { change: 'open model: add a property', from: obj({ a: { type: 'string' } }), to: obj({ a: { type: 'string' }, b: { type: 'number' } }), backward: false, forward: true },
  { change: 'open model: delete a property', from: obj({ a: { type: 'string' }, b: { type: 'number' } }), to: obj({ a: { type: 'string' } }), backward: true, forward: false },
  { change: 'widen integer to number', from: obj({ n: { type: 'integer' } }), to: obj({ n: { type: 'number' } }), backward: true, forward: false },
  { change: 'change string to number', from: obj({ n: { type: 'string' } }), to: obj({ n: { type: 'number' } }), backward: false, forward: false },
  { change: 'make a property required', from: obj({ a: { type: 'string' } }), to: obj({ a: { type: 'string' } }, { required: ['a'] }), backward: false, forward: true },
  { change: 'add an enum value', from: obj({ u: { enum: ['C'] } }), to: obj({ u: { enum: ['C', 'F'] } }), backward: true, forward: false },
  { change: 'raise maxLength', from: obj({ a: { type: 'string', maxLength: 8 } }), to: obj({ a: { type: 'string', maxLength: 16 } }), backward: true, forward: false },
];

const proto = (body: string) => `syntax = "proto3";\npackage sensors;\n${body}\n`;
const PROTO_ROWS: Row[] = [
  { change: 'add a field', from: proto('message R { string device = 1; }'), to: proto('message R { string device = 1; int32 battery = 2; }'), backward: true, forward: true },
  { change: 'delete a field', from: proto('message R { string device = 1; int32 battery = 2; }'), to: proto('message R { string device = 1; }'), backward: true, forward: true },
  { change: 'rename a field (same number)', from: proto('message R { string device = 1; }'), to: proto('message R { string sensor = 1; }'), backward: true, forward: true },
  { change: 'int32 to int64 (same wire type)', from: proto('message R { int32 n = 1; }'), to: proto('message R { int64 n = 1; }'), backward: true, forward: true },
  { change: 'double to string', from: proto('message R { double n = 1; }'), to: proto('message R { string n = 1; }'), backward: false, forward: false },
  { change: 'singular to repeated', from: proto('message R { int32 n = 1; }'), to: proto('message R { repeated int32 n = 1; }'), backward: false, forward: false },
  { change: 'add a message type', from: proto('message R { int32 n = 1; }'), to: proto('message R { int32 n = 1; }\nmessage S { int32 m = 1; }'), backward: true, forward: false },
  { change: 'delete a message type', from: proto('message R { int32 n = 1; }\nmessage S { int32 m = 1; }'), to: proto('message R { int32 n = 1; }'), backward: false, forward: true },
];

const FORMATS: [SchemaType, Row[]][] = [
  ['AVRO', AVRO_ROWS],
  ['JSON', JSON_ROWS],
  ['PROTOBUF', PROTO_ROWS],
];

/** What a level allows for a change with these directions (one earlier version: transitive = plain). */
function expected(level: CompatibilityLevel, row: Pick<Row, 'backward' | 'forward'>): boolean {
  if (level === 'NONE') return true;
  if (level.startsWith('BACKWARD')) return row.backward;
  if (level.startsWith('FORWARD')) return row.forward;
  return row.backward && row.forward;
}

const compile = (type: SchemaType, text: string): CompiledSchema => compileSchema(type, text, [], limits);

describe.each(FORMATS)('%s evolution under each compatibility level', (type, rows) => {
  const cases = rows.flatMap((row) => COMPATIBILITY_LEVELS.map((level) => ({ ...row, level, allowed: expected(level, row) })));
  it.each(cases)('$change: $level allows it = $allowed', ({ from, to, level, allowed }) => {
    const messages = checkCompatibility(level, compile(type, to), [{ version: 1, schema: compile(type, from) }]);
    expect(messages.length === 0, messages.join('; ')).toBe(allowed);
  });
});

/**
 * Transitive levels: three versions where the new one is compatible with the latest but not with
 * the first — the plain level accepts it, the transitive one refuses it (and names version 1).
 */
describe('transitive levels check every earlier version', () => {
  const three: { type: SchemaType; what: string; levels: [CompatibilityLevel, CompatibilityLevel]; versions: [string, string, string] }[] = [
    // v2 gave `site` a default, v3 drops the default: v3 reads v2 data, not v1 data (no `site`).
    { type: 'AVRO', what: 'a field whose default came and went', levels: ['BACKWARD', 'BACKWARD_TRANSITIVE'], versions: [avro([device]), avro([device, { name: 'site', type: 'string', default: '' }]), avro([device, { name: 'site', type: 'string' }])] },
    // v1 requires `site` (no default), v2 defaults it, v3 deletes it: v2 reads v3 data, v1 cannot.
    { type: 'AVRO', what: 'a field deleted after it got a default', levels: ['FORWARD', 'FORWARD_TRANSITIVE'], versions: [avro([device, { name: 'site', type: 'string' }]), avro([device, { name: 'site', type: 'string', default: '' }]), avro([device])] },
    { type: 'AVRO', what: 'a field deleted after it got a default (full)', levels: ['FULL', 'FULL_TRANSITIVE'], versions: [avro([device, { name: 'site', type: 'string' }]), avro([device, { name: 'site', type: 'string', default: '' }]), avro([device])] },
    // v1 has b:string, v2 removed b (open model), v3 re-adds b as a number: v3 vs v1 changes b's type.
    { type: 'JSON', what: 'a property re-added with another type', levels: ['FORWARD', 'FORWARD_TRANSITIVE'], versions: [obj({ a: { type: 'string' }, b: { type: 'string' } }, closed), obj({ a: { type: 'string' } }), obj({ a: { type: 'string' }, b: { type: 'number' } })] },
    // Field 2 was a double, deleted in v2, re-used as a string in v3.
    { type: 'PROTOBUF', what: 'a field number re-used with another type', levels: ['BACKWARD', 'BACKWARD_TRANSITIVE'], versions: [proto('message R { int32 n = 1; double x = 2; }'), proto('message R { int32 n = 1; }'), proto('message R { int32 n = 1; string x = 2; }')] },
  ];
  it.each(three)('$type: $what — $levels.0 accepts, $levels.1 refuses', ({ type, levels, versions }) => {
    const [v1, v2, v3] = versions.map((t) => compile(type, t));
    const previous = [
      { version: 1, schema: v1! },
      { version: 2, schema: v2! },
    ];
    expect(checkCompatibility(levels[0], v3!, previous)).toEqual([]);
    const transitive = checkCompatibility(levels[1], v3!, previous);
    expect(transitive.length).toBeGreaterThan(0);
    expect(transitive.every((m) => m.includes('version 1'))).toBe(true);
  });
});
