/**
 * The three schema formats of a Confluent-compatible registry — AVRO (avsc), JSON (ajv) and
 * PROTOBUF (protobufjs) — behind one interface: parse a schema text (with the schemas its
 * `references` name) into a compiled schema that validates, encodes and decodes values, and
 * answers "can a reader with this schema read data written with that one" for the compatibility
 * checks (compatibility.ts). Every parse is bounded before a library sees the text (size, JSON
 * nesting depth, count of nodes), so a hostile schema costs bounded work; any library failure is
 * INVALID_SCHEMA.
 */
import avro from 'avsc';
import { Ajv, type ValidateFunction } from 'ajv';
import protobuf from 'protobufjs';
import { isUtf8 } from 'node:buffer';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import RE2 from 're2';
import { GatewayError } from '../errors.js';

/** The `schemaType` names of the registry API (`AVRO` is the default when a request names none). */
export type SchemaType = 'AVRO' | 'JSON' | 'PROTOBUF';

/** The types `/schemas/types` lists. */
export const SCHEMA_TYPES: readonly SchemaType[] = ['JSON', 'PROTOBUF', 'AVRO'];

/** How much a schema may cost to parse and compile (config `schemaRegistry`). */
export interface SchemaLimits {
  /** Bytes of one schema text (UTF-8). */
  readonly maxSchemaBytes: number;
  /** Nesting depth of a JSON schema text (Avro and JSON Schema) and of Protobuf braces. */
  readonly maxDepth: number;
  /** JSON nodes (objects, arrays, values) of one schema text, or Protobuf tokens. */
  readonly maxNodes: number;
  /** References one schema may name (transitively). */
  readonly maxReferences: number;
}

/** A resolved reference: the name the schema uses for it, and the referenced schema's text. */
export interface ResolvedReference {
  readonly name: string;
  readonly schema: string;
}

/** A schema compiled once (the registry caches it per id) and used for every record. */
export interface CompiledSchema {
  readonly type: SchemaType;
  /** Equal for schemas the registry treats as the same (lookup, re-registration). */
  readonly canonical: string;
  /** Why a decoded JSON value breaks the schema, or undefined when it is valid. */
  validate(value: unknown): string | undefined;
  /** A JSON value in the schema's binary form (Avro binary, Protobuf message of `messageIndexes`, JSON text). */
  encode(value: unknown, messageIndexes?: readonly number[]): Buffer;
  /** The schema's binary form back to a JSON-compatible value (INVALID_VALUE when it does not decode; bounded work, see below). */
  decode(payload: Buffer, messageIndexes?: readonly number[]): unknown;
  /**
   * The payload as JSON text, for JSON readers (gateway/schemas/reading.ts): Avro as plain JSON
   * (unions unwrapped as REST v2 produce takes them; bytes and fixed as Avro's JSON encoding, one
   * code point per byte), Protobuf as `toObject` (proto field names, 64-bit integers and enums as
   * strings, bytes base64, default values omitted), JSON Schema the payload's own text (whitespace
   * around it trimmed). INVALID_VALUE when it does not decode.
   */
  toJson(payload: Buffer, messageIndexes?: readonly number[]): string;
  /** Incompatibilities found when this schema reads data written with `writer` (empty = compatible). */
  canRead(writer: CompiledSchema): string[];
  /**
   * PROTOBUF only: the schema as a base64 FileDescriptorProto (the registry API's
   * `?format=serialized`, which confluent-kafka's Protobuf serdes fetch).
   */
  serialized?(): string;
}

/** INVALID_SCHEMA with a message (42201 on the registry API). */
export function invalidSchema(message: string, cause?: unknown): GatewayError {
  return new GatewayError('INVALID_SCHEMA', message, cause === undefined ? undefined : { cause });
}

/** Parses and compiles a schema of `type`, or throws INVALID_SCHEMA. */
export function compileSchema(type: SchemaType, text: string, references: readonly ResolvedReference[], limits: SchemaLimits): CompiledSchema {
  if (Buffer.byteLength(text, 'utf8') > limits.maxSchemaBytes) throw invalidSchema(`The schema exceeds ${limits.maxSchemaBytes} bytes (schemaRegistry.maxSchemaBytes).`);
  if (references.length > limits.maxReferences) throw invalidSchema(`The schema names more than ${limits.maxReferences} references (schemaRegistry.maxReferences).`);
  try {
    switch (type) {
      case 'AVRO':
        return compileAvro(text, references, limits);
      case 'JSON':
        return compileJson(text, references, limits);
      case 'PROTOBUF':
        return compileProtobuf(text, references, limits);
    }
  } catch (err) {
    if (err instanceof GatewayError) throw err;
    // RangeError (stack) included: the bounds above make it unlikely, and it is the schema's fault.
    throw invalidSchema(`Invalid ${type} schema: ${err instanceof Error ? err.message : String(err)}`, err);
  }
}

// --- JSON texts (Avro and JSON Schema) ---------------------------------------------------------

/**
 * Which bound a JSON text breaks, by one linear scan (no recursion on client input): nesting
 * deeper than maxDepth, or more than maxNodes values (strings, containers and commas counted).
 * Only the structure is read; JSON.parse decides whether the text is valid.
 */
export function jsonBoundBroken(text: string | Uint8Array, maxDepth: number, maxNodes = Infinity): 'depth' | 'nodes' | undefined {
  const code = typeof text === 'string' ? (i: number) => text.charCodeAt(i) : (i: number) => text[i]!;
  let depth = 0;
  let nodes = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = code(i);
    if (inString) {
      if (c === 0x5c) i++;
      else if (c === 0x22) inString = false;
      continue;
    }
    if (c === 0x22) {
      inString = true;
      nodes++;
    } else if (c === 0x7b || c === 0x5b) {
      nodes++;
      if (++depth > maxDepth) return 'depth';
    } else if (c === 0x7d || c === 0x5d) depth--;
    else if (c === 0x2c) nodes++;
    if (nodes > maxNodes) return 'nodes';
  }
  return undefined;
}

/** JSON.parse after jsonBoundBroken (the registry's maxDepth and maxNodes). */
function boundedJson(text: string, limits: SchemaLimits, what: string): unknown {
  const broken = jsonBoundBroken(text, limits.maxDepth, limits.maxNodes);
  if (broken === 'depth') throw invalidSchema(`The ${what} nests deeper than ${limits.maxDepth} levels (schemaRegistry.maxDepth).`);
  if (broken === 'nodes') throw invalidSchema(`The ${what} has more than ${limits.maxNodes} JSON nodes (schemaRegistry.maxNodes).`);
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw invalidSchema(`The ${what} is not valid JSON: ${(err as Error).message}`);
  }
}

/** Canonical JSON: the same document whatever its whitespace (key order is kept: it is meaningful in Avro). */
function minified(value: unknown): string {
  return JSON.stringify(value);
}

// --- Avro ------------------------------------------------------------------------------------

function compileAvro(text: string, references: readonly ResolvedReference[], limits: SchemaLimits): CompiledSchema {
  const registry: Record<string, avro.Type> = {};
  for (const ref of references) avro.Type.forSchema(boundedJson(ref.schema, limits, 'referenced schema') as avro.Schema, { registry });
  const parsed = boundedJson(text, limits, 'schema');
  const type = avro.Type.forSchema(parsed as avro.Schema, { registry });
  const bytesInside = holdsBytes(type);
  const walkFirst = unboundedDecode(type);
  const self: CompiledSchema & { avro: avro.Type } = {
    type: 'AVRO',
    avro: type,
    canonical: minified(parsed),
    validate(value) {
      const paths: string[] = [];
      const ok = type.isValid(value, { errorHook: (path) => paths.push(path.join('.') || '(root)') });
      return ok ? undefined : `The value does not match the Avro schema at ${paths.slice(0, 5).join(', ')}.`;
    },
    encode(value) {
      const why = self.validate(value);
      if (why !== undefined) throw new GatewayError('INVALID_VALUE', why);
      return type.toBuffer(value);
    },
    decode(payload) {
      // avsc trusts block counts and recursion: walk the bytes first (bounded), then decode.
      if (walkFirst) checkAvroPayload(type, payload, limits.maxDepth);
      try {
        return type.fromBuffer(payload);
      } catch (err) {
        throw new GatewayError('INVALID_VALUE', `The payload is not Avro of this schema: ${(err as Error).message}`);
      }
    },
    toJson(payload) {
      const value = self.decode(payload);
      if (!bytesInside) return JSON.stringify(value);
      // Buffers (bytes, fixed) as Avro's JSON encoding; the replacer sees the holder's original value, not Buffer#toJSON's.
      return JSON.stringify(value, function (this: Record<string, unknown>, key, v: unknown) {
        const original = key === '' ? value : this[key];
        return Buffer.isBuffer(original) ? original.toString('latin1') : v;
      });
    },
    canRead(writer) {
      if (writer.type !== 'AVRO') return [`A ${writer.type} schema cannot be read as AVRO.`];
      try {
        type.createResolver((writer as typeof self).avro);
        return [];
      } catch (err) {
        return [(err as Error).message];
      }
    },
  };
  return self;
}

/**
 * Items of zero-byte types (null, empty records, fixed of size 0) one Avro payload may declare:
 * their count costs no bytes, so without a bound a 6-byte payload could ask for 2^31 of them.
 */
export const MAX_AVRO_ZERO_SIZE_ITEMS = 100_000;

/**
 * Walks an Avro payload against its schema without building anything, so a hostile payload fails
 * before avsc allocates or loops: every length, block count and index is checked against the bytes
 * left (an array block of n items of a type that takes at least m bytes needs n·m bytes), items of
 * zero-byte types are bounded by MAX_AVRO_ZERO_SIZE_ITEMS, and nesting by `maxDepth` (the decoder
 * and JSON.stringify recurse). Linear in the payload. INVALID_VALUE with the reason otherwise.
 */
export function checkAvroPayload(root: avro.Type, payload: Buffer, maxDepth: number): void {
  let pos = 0;
  let zeroItems = 0;
  const bad = (why: string): never => {
    throw new GatewayError('INVALID_VALUE', `The payload is not Avro of this schema: ${why} (at byte ${pos}).`);
  };
  const long = (): number => {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (pos >= payload.length) bad('truncated');
      const b = payload[pos++]!;
      value += (b & 0x7f) * scale;
      if ((b & 0x80) === 0) return value % 2 === 0 ? value / 2 : -(value + 1) / 2;
      scale *= 128;
    }
    return bad('a varint longer than 10 bytes');
  };
  const skip = (n: number): void => {
    if (n < 0 || n > payload.length - pos) bad(`a length of ${n} with ${payload.length - pos} bytes left`);
    pos += n;
  };
  const walk = (t: avro.Type, depth: number): void => {
    if (depth > maxDepth) bad(`nested deeper than ${maxDepth} levels (schemaRegistry.maxDepth)`);
    const a = t as unknown as AvroNode;
    const name = baseName(a);
    switch (name) {
      case 'null':
        return;
      case 'boolean':
        return skip(1);
      case 'int':
      case 'long':
        long();
        return;
      case 'float':
        return skip(4);
      case 'double':
        return skip(8);
      case 'bytes':
      case 'string':
        return skip(long());
      case 'fixed':
        return skip(a.size ?? 0);
      case 'enum': {
        const i = long();
        if (i < 0 || i >= (a.symbols?.length ?? 0)) bad(`enum index ${i} out of range`);
        return;
      }
      case 'record':
      case 'error': {
        const fields = a.fields ?? [];
        for (let i = 0; i < fields.length; i++) walk(fields[i]!.type, depth + 1);
        return;
      }
      case 'union': {
        const i = long();
        const branch = a.types?.[i];
        if (branch === undefined) bad(`union index ${i} out of range`);
        return walk(branch!, depth + 1);
      }
      case 'array':
      case 'map': {
        const isMap = name === 'map';
        const item = (isMap ? a.valuesType : a.itemsType)!;
        // A map entry is a string key (at least its length byte) and a value.
        const itemMin = minSize(item) + (isMap ? 1 : 0);
        for (;;) {
          let count = long();
          if (count === 0) return;
          if (count < 0) {
            count = -count;
            long(); // the block's size in bytes
          }
          if (itemMin > 0) {
            if (count > (payload.length - pos) / itemMin) bad(`a block of ${count} items with ${payload.length - pos} bytes left`);
          } else if ((zeroItems += count) > MAX_AVRO_ZERO_SIZE_ITEMS) bad(`more than ${MAX_AVRO_ZERO_SIZE_ITEMS} items of a zero-byte type`);
          for (let i = 0; i < count; i++) {
            if (isMap) skip(long());
            walk(item, depth + 1);
          }
        }
      }
      default:
        return bad(`unknown Avro type ${a.typeName}`);
    }
  };
  walk(root, 0);
  if (pos !== payload.length) bad(`${payload.length - pos} bytes after the value`);
}

/** The fewest bytes a value of each type takes (types are immutable: remembered per type object). */
const MIN_SIZES = new WeakMap<avro.Type, number>();

function minSize(t: avro.Type): number {
  const known = MIN_SIZES.get(t);
  if (known !== undefined) return known;
  MIN_SIZES.set(t, 0); // a cycle counts as zero: conservative (the zero-size bound applies)
  const a = t as unknown as AvroNode;
  let size: number;
  switch (baseName(a)) {
    case 'null':
      size = 0;
      break;
    case 'float':
      size = 4;
      break;
    case 'double':
      size = 8;
      break;
    case 'fixed':
      size = a.size ?? 0;
      break;
    case 'record':
    case 'error':
      size = (a.fields ?? []).reduce((sum, f) => sum + minSize(f.type), 0);
      break;
    default:
      size = 1; // boolean, varints, lengths, indexes, block counts: at least one byte
  }
  MIN_SIZES.set(t, size);
  return size;
}

/**
 * Whether decoding a value of the type can cost more than its schema's size: it has arrays or
 * maps (block counts) or is recursive (nesting). Only then is a payload walked before avsc reads
 * it — a flat record's strings and bytes are length-checked by avsc itself.
 */
function unboundedDecode(t: avro.Type, path = new Set<avro.Type>(), done = new Set<avro.Type>()): boolean {
  if (path.has(t)) return true;
  if (done.has(t)) return false;
  const a = t as unknown as AvroNode;
  const name = baseName(a);
  if (name === 'array' || name === 'map') return true;
  path.add(t);
  const children = [...(a.fields ?? []).map((f) => f.type), ...(a.types ?? [])];
  const found = children.some((c) => unboundedDecode(c, path, done));
  path.delete(t);
  done.add(t);
  return found;
}

/** Whether values of the type can hold Buffers (bytes, fixed), which JSON needs converted. */
function holdsBytes(t: avro.Type, seen = new Set<avro.Type>()): boolean {
  if (seen.has(t)) return false;
  seen.add(t);
  const a = t as unknown as AvroNode;
  const name = baseName(a);
  if (name === 'bytes' || name === 'fixed') return true;
  const children = [...(a.fields ?? []).map((f) => f.type), ...(a.types ?? []), ...(a.itemsType === undefined ? [] : [a.itemsType]), ...(a.valuesType === undefined ? [] : [a.valuesType])];
  return children.some((c) => holdsBytes(c, seen));
}

/** What the walk reads of an avsc type (its documented properties). */
interface AvroNode {
  readonly typeName: string;
  readonly underlyingType?: avro.Type;
  readonly size?: number;
  readonly symbols?: readonly string[];
  readonly fields?: readonly { readonly type: avro.Type }[];
  readonly types?: readonly avro.Type[];
  readonly itemsType?: avro.Type;
  readonly valuesType?: avro.Type;
}

const BASE_NAMES = new WeakMap<AvroNode, string>();

/** The wire type: a logical type's underlying one, unions of either kind as `union` (remembered per type). */
function baseName(a: AvroNode): string {
  const known = BASE_NAMES.get(a);
  if (known !== undefined) return known;
  let node = a;
  for (let i = 0; i < 8 && node.underlyingType !== undefined; i++) node = node.underlyingType as unknown as AvroNode;
  const name = node.typeName.startsWith('union') ? 'union' : node.typeName;
  BASE_NAMES.set(a, name);
  return name;
}

// --- JSON Schema -----------------------------------------------------------------------------

type JsonNode = Record<string, unknown> | boolean;

function compileJson(text: string, references: readonly ResolvedReference[], limits: SchemaLimits): CompiledSchema {
  const parsed = boundedJson(text, limits, 'schema');
  if (typeof parsed !== 'boolean' && (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))) throw invalidSchema('A JSON schema is an object or a boolean.');
  // strict off: Confluent accepts unknown keywords (e.g. "connect.type"); the schema is compiled once per id.
  // Validation runs on client payloads (topic bindings, REST v2 produce), so it must stay linear:
  // `pattern` / `patternProperties` run on RE2 (no backtracking: `^(a+)+$` against 29 characters
  // took ajv's default RegExp 28 s), and `uniqueItems` compares canonical texts through a set —
  // ajv's own compares every pair of non-scalar items (measured: 32,000 objects, 370 KB, 35 s).
  const ajv = new Ajv({ strict: false, allErrors: false, validateSchema: true, code: { optimize: false, regExp: re2Engine } });
  ajv.removeKeyword('uniqueItems');
  ajv.addKeyword({ keyword: 'uniqueItems', type: 'array', schemaType: 'boolean', errors: false, validate: (unique: boolean, data: unknown[]) => !unique || allDistinct(data) });
  for (const ref of references) {
    const refSchema = boundedJson(ref.schema, limits, 'referenced schema') as JsonNode;
    ajv.addSchema(refSchema as object, ref.name);
  }
  let validator: ValidateFunction;
  try {
    validator = ajv.compile(parsed as object);
  } catch (err) {
    throw invalidSchema(`Invalid JSON schema: ${(err as Error).message}`);
  }
  const self: CompiledSchema & { json: JsonNode } = {
    type: 'JSON',
    json: parsed as JsonNode,
    canonical: minified(parsed),
    validate(value) {
      if (validator(value)) return undefined;
      const e = validator.errors?.[0];
      return `The value does not match the JSON schema: ${e === undefined ? 'invalid' : `${e.instancePath || '(root)'} ${e.message ?? ''}`.trim()}.`;
    },
    encode(value) {
      const why = self.validate(value);
      if (why !== undefined) throw new GatewayError('INVALID_VALUE', why);
      return Buffer.from(JSON.stringify(value), 'utf8');
    },
    decode(payload) {
      let value: unknown;
      try {
        value = JSON.parse(payload.toString('utf8'));
      } catch {
        throw new GatewayError('INVALID_VALUE', 'The payload is not JSON.');
      }
      return value;
    },
    toJson(payload) {
      // The payload's own text (its numbers as written), checked to be one JSON document within maxDepth.
      if (!isUtf8(payload)) throw new GatewayError('INVALID_VALUE', 'The payload is not UTF-8 JSON.');
      const text = payload.toString('utf8');
      if (jsonBoundBroken(text, limits.maxDepth) !== undefined) throw new GatewayError('INVALID_VALUE', `The JSON payload nests deeper than ${limits.maxDepth} levels (schemaRegistry.maxDepth).`);
      self.decode(payload);
      return text.trim();
    },
    canRead(writer) {
      if (writer.type !== 'JSON') return [`A ${writer.type} schema cannot be read as JSON.`];
      const issues: string[] = [];
      jsonCanRead(self.json, (writer as typeof self).json, '#', issues, { reader: self.json, writer: (writer as typeof self).json, steps: 0, pairs: new WeakMap() });
      return issues;
    },
  };
  return self;
}

/** ajv's RegExp engine on RE2 (linear-time matching); a pattern RE2 cannot compile makes the schema invalid. */
const re2Engine = Object.assign((pattern: string, flags: string) => new RE2(pattern, flags), { code: 'new RE2' });

/** Whether no two items are equal as JSON (object key order ignored, as ajv's deep equality): one canonical text per item. */
function allDistinct(items: readonly unknown[]): boolean {
  const seen = new Set<string>();
  for (const item of items) {
    const text = canonicalJson(item);
    if (seen.has(text)) return false;
    seen.add(text);
  }
  return true;
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    return `{${Object.keys(record).sort().map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

const JSON_TYPES = ['null', 'boolean', 'object', 'array', 'number', 'string', 'integer'] as const;
/** Work bound of one JSON compatibility walk. */
const MAX_JSON_COMPAT_STEPS = 10_000;
/** Recursion bound of one walk (texts are already bounded by maxDepth; `$ref` chains are not). */
const MAX_JSON_COMPAT_DEPTH = 128;

interface JsonWalk {
  readonly reader: JsonNode;
  readonly writer: JsonNode;
  steps: number;
  readonly pairs: WeakMap<object, WeakSet<object>>;
}

function typesOf(node: Record<string, unknown>): Set<string> | undefined {
  const t = node.type;
  if (t === undefined) return undefined;
  const list = Array.isArray(t) ? t.map(String) : [String(t)];
  return new Set(list);
}

function localRef(root: JsonNode, node: JsonNode): JsonNode {
  if (typeof node === 'boolean' || typeof node.$ref !== 'string' || !node.$ref.startsWith('#')) return node;
  let at: unknown = root;
  for (const part of node.$ref.slice(1).split('/').filter((p) => p !== '')) {
    const key = decodeURIComponent(part).replace(/~1/g, '/').replace(/~0/g, '~');
    at = typeof at === 'object' && at !== null ? (at as Record<string, unknown>)[key] : undefined;
  }
  return typeof at === 'object' && at !== null ? (at as JsonNode) : typeof at === 'boolean' ? at : node;
}

/**
 * Confluent's JSON Schema rules (JsonSchemaDiff), the subset streamgate implements: the reader
 * must accept every value the writer accepts. Type narrowed (TYPE_NARROWED; integer→number is a
 * widening), a required property added (REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL), a
 * property added to an open content model with a schema narrower than the writer's
 * `additionalProperties` (PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL), a property removed from a closed
 * reader (PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL), additionalProperties narrowed, enum values
 * removed (ENUM_ARRAY_NARROWED), bounds narrowed (maximum/minimum/maxLength/minLength/maxItems/
 * minItems), items narrowed — each is an incompatibility; local `$ref`s are followed (bounded).
 */
function jsonCanRead(readerIn: JsonNode, writerIn: JsonNode, path: string, issues: string[], state: JsonWalk, depth = 0): void {
  if (++state.steps > MAX_JSON_COMPAT_STEPS || issues.length >= 20) return;
  if (depth > MAX_JSON_COMPAT_DEPTH) {
    issues.push(`${path}: nested deeper than ${MAX_JSON_COMPAT_DEPTH} levels; cannot be compared`);
    return;
  }
  const reader = localRef(state.reader, readerIn);
  const writer = localRef(state.writer, writerIn);
  if (reader === true || writer === false) return;
  // A pair under comparison already ($ref cycles): assume it holds, as a coinductive check does.
  if (typeof reader === 'object' && typeof writer === 'object') {
    let seen = state.pairs.get(reader);
    if (seen === undefined) state.pairs.set(reader, (seen = new WeakSet()));
    if (seen.has(writer)) return;
    seen.add(writer);
  }
  if (reader === false) {
    issues.push(`${path}: the reader accepts nothing`);
    return;
  }
  if (writer === true) {
    if (Object.keys(reader).length > 0) issues.push(`${path}: the writer accepts anything, the reader does not`);
    return;
  }
  const rt = typesOf(reader);
  const wt = typesOf(writer) ?? new Set(JSON_TYPES);
  if (rt !== undefined) {
    for (const t of wt) {
      if (rt.has(t) || (t === 'integer' && rt.has('number'))) continue;
      issues.push(`${path}: TYPE_NARROWED (the writer allows ${t})`);
    }
  }
  if (Array.isArray(reader.enum)) {
    const allowed = new Set(reader.enum.map((v) => JSON.stringify(v)));
    const written = Array.isArray(writer.enum) ? writer.enum : undefined;
    if (written === undefined) issues.push(`${path}: ENUM_ARRAY_NARROWED (the writer has no enum)`);
    else for (const v of written) if (!allowed.has(JSON.stringify(v))) issues.push(`${path}: ENUM_ARRAY_NARROWED (${JSON.stringify(v)} removed)`);
  }
  for (const [key, upper] of [['maximum', true], ['exclusiveMaximum', true], ['maxLength', true], ['maxItems', true], ['maxProperties', true], ['minimum', false], ['exclusiveMinimum', false], ['minLength', false], ['minItems', false], ['minProperties', false]] as const) {
    const r = reader[key];
    if (typeof r !== 'number') continue;
    const w = writer[key];
    if (typeof w !== 'number' || (upper ? w > r : w < r)) issues.push(`${path}: ${key.toUpperCase()}_${upper ? 'DECREASED' : 'INCREASED'} or ADDED`);
  }
  // Objects.
  const rProps = (typeof reader.properties === 'object' && reader.properties !== null ? reader.properties : {}) as Record<string, JsonNode>;
  const wProps = (typeof writer.properties === 'object' && writer.properties !== null ? writer.properties : {}) as Record<string, JsonNode>;
  const rAdditional = (reader.additionalProperties ?? true) as JsonNode;
  const wAdditional = (writer.additionalProperties ?? true) as JsonNode;
  const rRequired = new Set(Array.isArray(reader.required) ? reader.required.map(String) : []);
  const wRequired = new Set(Array.isArray(writer.required) ? writer.required.map(String) : []);
  for (const name of rRequired) if (!wRequired.has(name)) issues.push(`${path}/properties/${name}: REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL`);
  for (const [name, rp] of Object.entries(rProps)) {
    const wp = Object.hasOwn(wProps, name) ? wProps[name]! : wAdditional;
    if (!Object.hasOwn(wProps, name) && wAdditional === true && rp !== true && !(typeof rp === 'object' && Object.keys(rp).length === 0)) {
      issues.push(`${path}/properties/${name}: PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL`);
      continue;
    }
    jsonCanRead(rp, wp, `${path}/properties/${name}`, issues, state, depth + 1);
  }
  for (const [name, wp] of Object.entries(wProps)) {
    if (Object.hasOwn(rProps, name)) continue;
    if (rAdditional === false) issues.push(`${path}/properties/${name}: PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL`);
    else jsonCanRead(rAdditional, wp, `${path}/properties/${name}`, issues, state, depth + 1);
  }
  if (rAdditional !== true) jsonCanRead(rAdditional, wAdditional, `${path}/additionalProperties`, issues, state, depth + 1);
  // Arrays (single-schema items).
  if (reader.items !== undefined && !Array.isArray(reader.items)) jsonCanRead(reader.items as JsonNode, (writer.items ?? true) as JsonNode, `${path}/items`, issues, state, depth + 1);
}

// --- Protobuf --------------------------------------------------------------------------------

/** Scalar types that share a wire encoding and whose values convert (Confluent's ProtobufSchema diff). */
const PROTO_WIRE_GROUPS: readonly (readonly string[])[] = [
  ['int32', 'uint32', 'int64', 'uint64', 'bool'],
  ['sint32', 'sint64'],
  ['fixed32', 'sfixed32'],
  ['fixed64', 'sfixed64'],
  ['string', 'bytes'],
];

function protoFieldCompatible(reader: protobuf.Field, writer: protobuf.Field): boolean {
  const rType = reader.resolvedType?.fullName ?? reader.type;
  const wType = writer.resolvedType?.fullName ?? writer.type;
  if (rType === wType) return true;
  if (reader.resolvedType instanceof protobuf.Enum || writer.resolvedType instanceof protobuf.Enum) {
    const other = reader.resolvedType instanceof protobuf.Enum ? writer.type : reader.type;
    return PROTO_WIRE_GROUPS[0]!.includes(other); // enums are int32 on the wire
  }
  return PROTO_WIRE_GROUPS.some((g) => g.includes(rType) && g.includes(wType));
}

function messagesOf(ns: protobuf.NamespaceBase, out: protobuf.Type[] = [], depth = 0): protobuf.Type[] {
  if (depth > 64) return out;
  for (const nested of ns.nestedArray) {
    if (nested instanceof protobuf.Type) out.push(nested);
    if (nested instanceof protobuf.Namespace || nested instanceof protobuf.Type) messagesOf(nested as protobuf.NamespaceBase, out, depth + 1);
  }
  return out;
}

function boundedProtoText(text: string, limits: SchemaLimits): void {
  let depth = 0;
  let tokens = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x7b) {
      depth++;
      if (depth > limits.maxDepth) throw invalidSchema(`The schema nests deeper than ${limits.maxDepth} levels (schemaRegistry.maxDepth).`);
    } else if (c === 0x7d) depth--;
    else if (c === 0x3b || c === 0x2c) tokens++;
    if (tokens > limits.maxNodes) throw invalidSchema(`The schema has more than ${limits.maxNodes} declarations (schemaRegistry.maxNodes).`);
  }
}

/**
 * A schema text is a .proto file, or (confluent-kafka's Protobuf serializer registers these) a
 * base64 FileDescriptorProto: base64 has no braces, and every .proto message or enum has some.
 */
function protoDescriptorOf(text: string): (protobuf.Message<object> & { name?: string; package?: string; syntax?: string; messageType?: unknown[]; enumType?: unknown[]; dependency?: string[] }) | undefined {
  const trimmed = text.trim();
  if (trimmed.includes('{') || !/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed)) return undefined;
  return descriptor.FileDescriptorProto.decode(Buffer.from(trimmed, 'base64')) as never;
}

type FromDescriptor<T> = { fromDescriptor(descriptor: unknown, edition: string): T };

/** A FileDescriptorProto's messages and enums added to `root` under its package, unresolved. */
function addDescriptor(fdp: { package?: string; syntax?: string; messageType?: unknown[]; enumType?: unknown[] }, root: protobuf.Root): void {
  const edition = fdp.syntax === 'proto3' ? 'proto3' : 'proto2';
  const scope = fdp.package !== undefined && fdp.package !== '' ? root.define(fdp.package) : root;
  for (const m of fdp.messageType ?? []) scope.add((protobuf.Type as unknown as FromDescriptor<protobuf.Type>).fromDescriptor(m, edition));
  for (const e of fdp.enumType ?? []) scope.add((protobuf.Enum as unknown as FromDescriptor<protobuf.Enum>).fromDescriptor(e, edition));
}

/** One schema text (either form) added to `root`; returns its own declarations in a root of their own, and its package. */
function addProtoText(text: string, root: protobuf.Root, limits: SchemaLimits): { own: protobuf.Root; pkg: string | undefined; syntax: string | undefined; imports: readonly string[]; fromDescriptor: boolean } {
  const fdp = protoDescriptorOf(text);
  if (fdp === undefined) {
    boundedProtoText(text, limits);
    const parsed = protobuf.parse(text, new protobuf.Root(), { keepCase: true });
    protobuf.parse(text, root, { keepCase: true });
    return { own: parsed.root, pkg: parsed.package, syntax: (parsed as { syntax?: string }).syntax, imports: parsed.imports ?? [], fromDescriptor: false };
  }
  // Root.fromDescriptor would resolve at once, before the references are there: add the
  // declarations unresolved, to a root of their own and to the shared one.
  // The same bounds as a text's, walked without recursion before protobufjs builds anything.
  let declarations = 0;
  const pending: { m: { field?: unknown[]; nestedType?: unknown[]; enumType?: { value?: unknown[] }[] }; depth: number }[] = (fdp.messageType ?? []).map((m) => ({ m: m as never, depth: 1 }));
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    if (next.depth > limits.maxDepth) throw invalidSchema(`The schema nests deeper than ${limits.maxDepth} levels (schemaRegistry.maxDepth).`);
    declarations += 1 + (next.m.field?.length ?? 0) + (next.m.enumType ?? []).reduce((n, e) => n + 1 + (e.value?.length ?? 0), 0);
    if (declarations > limits.maxNodes) throw invalidSchema(`The schema has more than ${limits.maxNodes} declarations (schemaRegistry.maxNodes).`);
    for (const n of next.m.nestedType ?? []) pending.push({ m: n as never, depth: next.depth + 1 });
  }
  const own = new protobuf.Root();
  addDescriptor(fdp, own);
  addDescriptor(fdp, root);
  return { own, pkg: fdp.package === '' ? undefined : fdp.package, syntax: fdp.syntax, imports: (fdp as { dependency?: string[] }).dependency ?? [], fromDescriptor: true };
}

/** The schema's own file as a FileDescriptorProto (base64), as Confluent's `format=serialized`. */
/**
 * The schema's own file as a FileDescriptorProto (base64), as Confluent's `format=serialized`:
 * its own top-level messages and enums, described from the resolved root (references and
 * well-known types resolved there), importing the files it imports.
 */
function protoSerialized(own: protobuf.Root, resolved: protobuf.Root, pkg: string | undefined, syntax: string | undefined, imports: readonly string[]): string {
  const edition = syntax === 'proto2' ? 'proto2' : 'proto3';
  const ownScope = pkg === undefined ? own : own.lookup(pkg);
  const names = ownScope instanceof protobuf.Namespace || ownScope instanceof protobuf.Root ? (ownScope as protobuf.NamespaceBase).nestedArray.map((n) => n.name) : [];
  type Describable = { toDescriptor(edition?: string): Record<string, unknown> };
  const messageType: unknown[] = [];
  const enumType: unknown[] = [];
  for (const name of names) {
    const r = resolved.lookup(pkg === undefined ? name : `${pkg}.${name}`);
    if (r instanceof protobuf.Type) messageType.push((r as unknown as Describable).toDescriptor(edition));
    else if (r instanceof protobuf.Enum) enumType.push((r as unknown as Describable).toDescriptor());
  }
  const file = descriptor.FileDescriptorProto.create({ name: 'default.proto', ...(pkg === undefined ? {} : { package: pkg }), dependency: [...imports], messageType, enumType, syntax: edition }) as protobuf.Message<object> & Record<string, unknown>;
  // protobufjs writes `packed: false` on every field: protoc refuses `packed` on singular fields,
  // and a repeated scalar's packing must be what the schema says (proto3 packs by default).
  const strip = (messages: unknown, scope: string): void => {
    for (const m of (messages ?? []) as { name?: string; field?: { name?: string; label?: number; type?: number; options?: { packed?: boolean } | null }[]; nestedType?: unknown[] }[]) {
      const name = `${scope}.${m.name ?? ''}`;
      const type = resolved.lookup(name); // resolved: a field's packing is known only after resolution
      for (const f of m.field ?? []) {
        const field = type instanceof protobuf.Type ? type.fields[f.name ?? ''] : undefined;
        const packable = f.label === 3 && f.type !== undefined && ![9, 10, 11, 12].includes(f.type);
        f.options = packable && field !== undefined ? { packed: field.packed } : null;
      }
      strip(m.nestedType, name);
    }
  };
  strip(file.messageType, typeof file.package === 'string' && file.package !== '' ? `.${file.package}` : '');
  return Buffer.from(descriptor.FileDescriptorProto.encode(file).finish()).toString('base64');
}

function compileProtobuf(text: string, references: readonly ResolvedReference[], limits: SchemaLimits): CompiledSchema {
  const root = new protobuf.Root();
  const imports = new Set<string>();
  for (const ref of references) for (const i of addProtoText(ref.schema, root, limits).imports) imports.add(i);
  // Own root for the schema's own declarations (message indexes count only those), and the same
  // declarations in the root holding its references, where types resolve.
  const added = addProtoText(text, root, limits);
  const own = { root: added.own, package: added.pkg };
  // google/protobuf well-known types (Timestamp, Duration, wrappers…) an import names and no
  // reference provides: confluent-kafka's serializer skips registering them (skip.known.types).
  const provided = new Set(references.map((r) => r.name));
  for (const i of added.imports) imports.add(i);
  for (const name of imports) {
    const wkt = provided.has(name) ? null : (protobuf.common as unknown as { get(file: string): protobuf.INamespace | null }).get(name);
    if (wkt !== null && wkt.nested !== undefined) root.addJSON(wkt.nested);
  }
  root.resolveAll();
  const ownPackage = own.package === undefined ? root : root.lookup(own.package);
  if (ownPackage === null) throw invalidSchema('The schema package did not resolve.');
  const topLevel = (ownPackage instanceof protobuf.Namespace || ownPackage instanceof protobuf.Root ? (ownPackage as protobuf.NamespaceBase) : root).nestedArray.filter(
    (n): n is protobuf.Type => n instanceof protobuf.Type && (own.package === undefined ? own.root.lookup(n.name) !== null : own.root.lookup(`${own.package}.${n.name}`) !== null),
  );
  if (topLevel.length === 0) throw invalidSchema('A Protobuf schema declares at least one message.');
  const messageAt = (indexes: readonly number[] = [0]): protobuf.Type => {
    let list: protobuf.Type[] = topLevel;
    let type: protobuf.Type | undefined;
    for (const i of indexes.length === 0 ? [0] : indexes) {
      type = list[i];
      if (type === undefined) throw new GatewayError('INVALID_VALUE', `The message index ${JSON.stringify(indexes)} names no message of the schema.`);
      list = type.nestedArray.filter((n): n is protobuf.Type => n instanceof protobuf.Type);
    }
    return type!;
  };
  const self: CompiledSchema & { messages: Map<string, protobuf.Type> } = {
    type: 'PROTOBUF',
    messages: new Map(messagesOf(ownPackage as protobuf.NamespaceBase).map((m) => [m.fullName, m])),
    // A descriptor's canonical form is its declarations (base64 of the same descriptor can differ in field order).
    canonical: added.fromDescriptor ? `descriptor:${JSON.stringify(added.own.toJSON())}` : text.trim(),
    serialized() {
      if (added.fromDescriptor) return text.trim();
      return protoSerialized(added.own, root, added.pkg, added.syntax, added.imports);
    },
    validate(value) {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'A Protobuf message is a JSON object.';
      try {
        messageAt().fromObject(value as Record<string, unknown>);
      } catch (err) {
        return `The value does not match the Protobuf message: ${(err as Error).message}`;
      }
      const why = messageAt().verify(value as Record<string, unknown>);
      return why === null ? undefined : `The value does not match the Protobuf message: ${why}`;
    },
    encode(value, indexes) {
      const type = messageAt(indexes);
      if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new GatewayError('INVALID_VALUE', 'A Protobuf message is a JSON object.');
      let message: protobuf.Message;
      try {
        message = type.fromObject(value as Record<string, unknown>);
      } catch (err) {
        throw new GatewayError('INVALID_VALUE', `The value does not match the Protobuf message: ${(err as Error).message}`);
      }
      return Buffer.from(type.encode(message).finish());
    },
    decode(payload, indexes) {
      const type = messageAt(indexes);
      try {
        // A plain Reader, not the BufferReader protobufjs picks for a Buffer: that one clamps a
        // string's length to the buffer (a truncated string decodes as a shorter one); this one throws.
        return type.toObject(type.decode(new protobuf.Reader(payload)), { longs: String, bytes: String, enums: String, defaults: false });
      } catch (err) {
        throw new GatewayError('INVALID_VALUE', `The payload is not a ${type.name} message: ${(err as Error).message}`);
      }
    },
    toJson(payload, indexes) {
      return JSON.stringify(self.decode(payload, indexes));
    },
    canRead(writer) {
      if (writer.type !== 'PROTOBUF') return [`A ${writer.type} schema cannot be read as PROTOBUF.`];
      const issues: string[] = [];
      for (const [name, w] of (writer as typeof self).messages) {
        const r = self.messages.get(name);
        if (r === undefined) {
          issues.push(`${name}: MESSAGE_REMOVED`);
          continue;
        }
        for (const wf of w.fieldsArray) {
          const rf = r.fieldsById[wf.id];
          if (rf === undefined) continue; // FIELD_REMOVED is compatible: the reader skips the unknown field
          if (!protoFieldCompatible(rf, wf)) issues.push(`${name}.${rf.name} (${wf.id}): FIELD_SCALAR_KIND_CHANGED or FIELD_NAMED_TYPE_CHANGED`);
          else if (rf.repeated !== wf.repeated) issues.push(`${name}.${rf.name} (${wf.id}): FIELD_LABEL_CHANGED`);
          if ((rf.partOf === null) !== (wf.partOf === null) && wf.partOf === null) issues.push(`${name}.${rf.name} (${wf.id}): FIELD_MOVED_TO_EXISTING_ONEOF`);
        }
      }
      return issues;
    },
  };
  return self;
}
