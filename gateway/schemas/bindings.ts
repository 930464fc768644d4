/**
 * Topic bindings (config `schemaRegistry.bindings`): a topic pattern bound to a registry subject,
 * so that every produce on every protocol is checked against the subject's schema before
 * anything is written — the core's produce path calls `TopicBindings.apply`, whatever protocol the
 * records came from.
 *
 * Per record, the bound side (value by default, or key):
 * - null passes (a tombstone, or no key);
 * - a payload in the Confluent wire format (first byte 0: JSON text never starts with it) passes
 *   unchanged if its schema id is a live version of the bound subject and it decodes with that
 *   schema (JSON Schema: and the decoded JSON validates) — what Confluent serializers write;
 * - any other payload is JSON text, validated against the subject's latest version. With
 *   `encode: true` it is written in the wire format of that version (Avro / Protobuf binary, or
 *   the JSON text framed); without, a JSON Schema binding stores the bytes exactly as sent and an
 *   Avro / Protobuf binding refuses JSON (only the wire format can be stored as Avro / Protobuf).
 *
 * A record that fails refuses the whole request (SCHEMA_VALIDATION, with the record's index in
 * the details, so an adapter that batches independent messages can answer each); nothing is
 * written. A bound subject without any live version refuses produce with FAILED_PRECONDITION:
 * the operator registers a schema first (validation is never skipped).
 *
 * Cost: the subject's versions and compiled schemas come from the registry's memory (its tables
 * are followed live, compiled schemas cached per id); no I/O per record. A JSON payload's nesting
 * depth is bounded (`schemaRegistry.maxDepth`) by a linear scan before it is parsed and validated.
 */
import type { Logger } from 'pino';
import { globMatch } from '../grants.js';
import { GatewayError } from '../errors.js';
import type { ProduceRecord } from '../record.js';
import { jsonBoundBroken, type CompiledSchema, type SchemaType } from './formats.js';
import type { SchemaRegistry } from './registry.js';
import { decodeFramed, encodeFramed, MAGIC_BYTE } from './wire.js';

/** The formats a binding names, as the REST v2 embedded formats spell them. */
export const BINDING_FORMATS = ['avro', 'jsonschema', 'protobuf'] as const;
/** One binding format. */
export type BindingFormat = (typeof BINDING_FORMATS)[number];

/** One binding as configured (`schemaRegistry.bindings[]`). */
export interface TopicBindingConfig {
  /** Topic name or pattern (`*` = any run of characters), as in grants. First match wins per side. */
  readonly topic: string;
  /** The registry subject; default `<topic>-<side>` (Confluent's TopicNameStrategy). */
  readonly subject?: string | undefined;
  readonly format: BindingFormat;
  /** Which part of the record is checked (default value). */
  readonly side: 'value' | 'key';
  /** Write JSON payloads in the Confluent wire format of the subject's latest version. */
  readonly encode: boolean;
}

/** Longest validation message a client is sent. */
export const MAX_VALIDATION_MESSAGE_CHARS = 500;

const TYPE_OF: Record<BindingFormat, SchemaType> = { avro: 'AVRO', jsonschema: 'JSON', protobuf: 'PROTOBUF' };

/** The bindings of one gateway, applied on the core's produce path. */
export class TopicBindings {
  constructor(
    private readonly bindings: readonly TopicBindingConfig[],
    private readonly registry: SchemaRegistry | undefined,
    private readonly maxDepth: number,
    private readonly log: Logger,
  ) {}

  /** Whether any binding is configured (the produce path skips everything otherwise). */
  get empty(): boolean {
    return this.bindings.length === 0;
  }

  /** The first binding of `topic` for each side. */
  bindingsOf(topic: string): TopicBindingConfig[] {
    const out: TopicBindingConfig[] = [];
    for (const side of ['value', 'key'] as const) {
      const found = this.bindings.find((b) => b.side === side && globMatch(b.topic, topic));
      if (found !== undefined) out.push(found);
    }
    return out;
  }

  /**
   * The records as they are to be written: checked against the bound subjects (and encoded where
   * configured). Throws SCHEMA_VALIDATION for the first record that fails, FAILED_PRECONDITION when
   * a bound subject has no schema. Returns `records` itself when nothing was re-encoded.
   */
  async apply(topic: string, records: ProduceRecord[]): Promise<ProduceRecord[]> {
    const bound = this.bindingsOf(topic);
    if (bound.length === 0) return records;
    let out: ProduceRecord[] | undefined;
    for (const binding of bound) {
      const subject = binding.subject ?? `${topic}-${binding.side}`;
      const expected = TYPE_OF[binding.format];
      if (this.registry === undefined) throw new GatewayError('FAILED_PRECONDITION', `Topic ${topic} is bound to subject ${subject}, but the schema registry is disabled; nothing was written.`);
      const schemas = await this.registry.subjectSchemas(subject);
      if (schemas === undefined) {
        throw new GatewayError('FAILED_PRECONDITION', `Topic ${topic} is bound to subject ${subject}, which has no schema yet: register one first; nothing was written.`, { details: { subject } });
      }
      if (schemas.latest.compiled.type !== expected) {
        throw new GatewayError('FAILED_PRECONDITION', `Topic ${topic} is bound to ${expected} subject ${subject}, whose latest schema is ${schemas.latest.compiled.type}; nothing was written.`, { details: { subject } });
      }
      const current: readonly ProduceRecord[] = out ?? records;
      for (let i = 0; i < current.length; i++) {
        const record = current[i]!;
        const bytes = binding.side === 'value' ? record.value : (record.key ?? null);
        if (bytes === null) continue;
        const fail = (why: string, schemaId?: number): never => {
          const message = `Record ${i} ${binding.side}: ${why}`.slice(0, MAX_VALIDATION_MESSAGE_CHARS);
          throw new GatewayError('SCHEMA_VALIDATION', `${message} (subject ${subject}); nothing was written.`, { details: { index: i, side: binding.side, subject, ...(schemaId === undefined ? {} : { schemaId }) } });
        };
        if (bytes.length > 0 && bytes[0] === MAGIC_BYTE) {
          checkFramed(bytes, expected, subject, schemas.byId, fail);
          continue;
        }
        const value = parseJson(bytes, this.maxDepth, fail);
        const why = safely(() => schemas.latest.compiled.validate(value));
        if (why !== undefined) fail(why, schemas.latest.id);
        if (!binding.encode) {
          if (expected !== 'JSON') fail(`Topic ${topic} is bound to the ${expected} subject ${subject}: send the Confluent wire format (magic byte 0, schema id, ${expected} bytes), or configure the binding with encode: true to send JSON`);
          continue;
        }
        const indexes = expected === 'PROTOBUF' ? [0] : undefined;
        let encoded: Buffer;
        try {
          encoded = encodeFramed(schemas.latest.id, schemas.latest.compiled.encode(value, indexes), indexes);
        } catch (err) {
          return fail(err instanceof GatewayError ? err.message : 'the value does not encode with the schema', schemas.latest.id);
        }
        out ??= [...records];
        out[i] = binding.side === 'value' ? { ...record, value: encoded } : { ...record, key: encoded };
      }
    }
    if (out !== undefined) this.log.trace({ topic, records: out.length }, 'records encoded by topic binding');
    return out ?? records;
  }
}

/** A wire-format payload: a live version of the subject, and it decodes (JSON Schema: and validates). */
function checkFramed(bytes: Buffer, expected: SchemaType, subject: string, byId: (id: number) => CompiledSchema | undefined, fail: (why: string, schemaId?: number) => never): void {
  let head;
  try {
    head = decodeFramed(bytes, { protobuf: expected === 'PROTOBUF' });
  } catch (err) {
    return fail(err instanceof GatewayError ? err.message : 'not in the Confluent wire format');
  }
  const compiled = byId(head.schemaId);
  if (compiled === undefined) return fail(`schema id ${head.schemaId} is not a live version of subject ${subject}`, head.schemaId);
  let value: unknown;
  try {
    value = compiled.decode(head.payload, head.messageIndexes);
  } catch (err) {
    return fail(err instanceof GatewayError ? err.message : 'the payload does not decode with its schema', head.schemaId);
  }
  if (compiled.type === 'JSON') {
    const why = safely(() => compiled.validate(value));
    if (why !== undefined) fail(why, head.schemaId);
  }
}

/** A validator that throws (e.g. a stack overflow on a hostile value) fails the record; it never takes the request down as INTERNAL. */
function safely(validate: () => string | undefined): string | undefined {
  try {
    return validate();
  } catch (err) {
    return `the value could not be validated: ${err instanceof Error ? err.message : String(err)}`;
  }
}

/** JSON text, its nesting bounded by a linear scan before JSON.parse (no recursion on client input). */
function parseJson(bytes: Buffer, maxDepth: number, fail: (why: string) => never): unknown {
  if (jsonBoundBroken(bytes, maxDepth) !== undefined) fail(`the JSON nests deeper than ${maxDepth} levels (schemaRegistry.maxDepth)`);
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch {
    return fail('the payload is neither JSON nor in the Confluent wire format');
  }
}
