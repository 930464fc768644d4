/**
 * Reading schema-encoded records (issue 18, read side): the decision which records a JSON reader
 * sees decoded, and the decoding itself, for every protocol alike — adapters only call it
 * through the Gateway API (`decodeForJson`, `decodeRecord`).
 *
 * JSON readers (WebSocket `streamgate.v1.json`, SSE, REST v1 fetch). A side (key or value) of a
 * topic bound in `schemaRegistry.bindings` whose bytes are in the Confluent wire format (magic 0,
 * a schema id this registry holds, a payload that decodes with it) is shown as JSON — Avro and
 * Protobuf converted (CompiledSchema.toJson), JSON Schema the payload's text without its 5 header
 * bytes — with the schema id beside it. Anything else — a record that is not framed, names an
 * unknown id or does not decode — is served exactly as without a binding: its bytes, no id. Never
 * an error: one odd record must not end a subscription. Binary readers (WebSocket proto, gRPC,
 * REST v2 binary, MQTT) never ask: they serve the stored bytes.
 *
 * Cost. The hub hands every unfiltered tail subscriber the same batch array: its decoding is one
 * promise per array (a WeakMap), so 10,000 subscribers decode a batch once; filtered subscribers
 * get other arrays of the same record objects, so each record's decoding is memoized too (a
 * WeakMap keyed by the record: it lives exactly as long as the record). A topic without a binding
 * costs one map lookup per batch. Decoding is bounded (formats.ts: Avro block counts and depth,
 * Protobuf lengths), compiled schemas come from the registry's bounded cache, and ids unknown here
 * cost at most one registry sync a second.
 *
 * REST v2 consumers created with `format: avro | jsonschema | protobuf` decode strictly
 * (`decodeRecord`): any record they cannot decode is RECORD_NOT_DECODABLE, as a Kafka consumer's
 * failing deserializer is; the caller leaves its position at that record.
 */
import type { Context } from '../api.js';
import { GatewayError } from '../errors.js';
import type { StreamRecord } from '../record.js';
import type { TopicBindings } from './bindings.js';
import type { SchemaType } from './formats.js';
import type { SchemaRegistry } from './registry.js';
import { decodeFramed, MAGIC_BYTE } from './wire.js';

/** One side of a record decoded for JSON readers. */
export interface DecodedSide {
  /** The schema id the record names (Confluent wire format). */
  readonly schemaId: number;
  /** The decoded value as JSON text, to splice into a JSON document as is. */
  readonly json: string;
}

/** What a JSON reader shows instead of a record's bytes: the sides that decoded (none = serve the bytes). */
export interface RecordDecoding {
  readonly key?: DecodedSide;
  readonly value?: DecodedSide;
}

/** A record's key and value decoded for a REST v2 schema consumer: JSON text, or null where the record has null. */
export interface StrictDecoding {
  readonly key: string | null;
  readonly value: string | null;
}

/** Topics whose bound sides are remembered (a topic name is client input: the map stays bounded). */
const MAX_REMEMBERED_TOPICS = 10_000;

type Sides = { readonly key: boolean; readonly value: boolean } | undefined;

/** The read side of schema support. One per core. */
export class SchemaReading {
  private readonly sidesByTopic = new Map<string, Sides>();
  private readonly byBatch = new WeakMap<readonly StreamRecord[], Promise<readonly (RecordDecoding | undefined)[]>>();
  private readonly byRecord = new WeakMap<StreamRecord, RecordDecoding | null>();

  constructor(
    private readonly bindings: TopicBindings,
    private readonly registry: SchemaRegistry | undefined,
  ) {}

  /**
   * For JSON readers: per record of `records`, the sides to show decoded (undefined = serve its
   * bytes). Undefined at once — no promise — when no record's topic is bound, so the common case
   * costs nothing. Memoized per array and per record (see the file comment). Never rejects.
   */
  forJson(records: readonly StreamRecord[]): Promise<readonly (RecordDecoding | undefined)[]> | undefined {
    if (this.registry === undefined || this.bindings.empty || records.length === 0) return undefined;
    // A batch is one topic's (a subscription or fetch reads one): look each distinct topic up once.
    let bound = false;
    let last: string | undefined;
    for (const r of records) {
      if (r.topic === last) continue;
      last = r.topic;
      if (this.sidesOf(r.topic) !== undefined) {
        bound = true;
        break;
      }
    }
    if (!bound) return undefined;
    let decoded = this.byBatch.get(records);
    if (decoded === undefined) {
      decoded = this.decodeBatch(records, this.registry);
      this.byBatch.set(records, decoded);
    }
    return decoded;
  }

  private async decodeBatch(records: readonly StreamRecord[], registry: SchemaRegistry): Promise<readonly (RecordDecoding | undefined)[]> {
    const ids = new Set<number>();
    for (const r of records) {
      const sides = this.sidesOf(r.topic);
      if (sides === undefined || this.byRecord.has(r)) continue;
      for (const bytes of [sides.key ? r.key : null, sides.value ? r.value : null]) {
        if (bytes !== null && bytes.length >= 5 && bytes[0] === MAGIC_BYTE) ids.add(bytes.readInt32BE(1));
      }
    }
    try {
      await registry.prepareIds(ids);
    } catch {
      // The registry unreachable: what it already knows decodes, the rest is served as bytes.
    }
    return records.map((r) => this.decodeOne(r, registry));
  }

  private decodeOne(r: StreamRecord, registry: SchemaRegistry): RecordDecoding | undefined {
    const known = this.byRecord.get(r);
    if (known !== undefined) return known ?? undefined;
    const sides = this.sidesOf(r.topic);
    let out: { key?: DecodedSide; value?: DecodedSide } | null = null;
    if (sides !== undefined) {
      const key = sides.key ? lenient(r.key, registry) : undefined;
      const value = sides.value ? lenient(r.value, registry) : undefined;
      if (key !== undefined || value !== undefined) out = { ...(key === undefined ? {} : { key }), ...(value === undefined ? {} : { value }) };
    }
    this.byRecord.set(r, out);
    return out ?? undefined;
  }

  /** Which sides of `topic` are bound (undefined: none). */
  private sidesOf(topic: string): Sides {
    if (this.sidesByTopic.has(topic)) return this.sidesByTopic.get(topic);
    const bound = this.bindings.bindingsOf(topic);
    const sides: Sides = bound.length === 0 ? undefined : { key: bound.some((b) => b.side === 'key'), value: bound.some((b) => b.side === 'value') };
    if (this.sidesByTopic.size >= MAX_REMEMBERED_TOPICS) this.sidesByTopic.clear();
    this.sidesByTopic.set(topic, sides);
    return sides;
  }

  /**
   * For a REST v2 consumer of `type` (`avro` → AVRO, …): the record's key and value decoded from
   * the Confluent wire format, whatever the bindings (the bytes name their schema). Null stays
   * null. RECORD_NOT_DECODABLE (details: topic, partition, offset, side) when a side is not in
   * the wire format, names an id the registry does not hold or of another type, or does not
   * decode; UNIMPLEMENTED when the registry is disabled.
   */
  async strict(ctx: Context, record: StreamRecord, type: SchemaType): Promise<StrictDecoding> {
    const registry = this.registry;
    if (registry === undefined) throw new GatewayError('UNIMPLEMENTED', 'Schema formats need the schema registry (schemaRegistry.enabled).');
    const side = async (name: 'key' | 'value', bytes: Buffer | null): Promise<string | null> => {
      if (bytes === null) return null;
      const fail = (why: string, cause?: unknown): never => {
        ctx.log.debug({ topic: record.topic, partition: record.partition, offset: record.offset.toString(), side: name, why }, 'record not decodable');
        throw new GatewayError(
          'RECORD_NOT_DECODABLE',
          `Kafka error: Error deserializing ${name} for partition ${record.topic}-${record.partition} at offset ${record.offset}: ${why} If needed, please seek past the record to continue consumption.`,
          { ...(cause === undefined ? {} : { cause }), details: { topic: record.topic, partition: record.partition, offset: record.offset.toString(), side: name } },
        );
      };
      let head;
      try {
        head = decodeFramed(bytes, { protobuf: type === 'PROTOBUF' });
      } catch (err) {
        return fail(err instanceof GatewayError ? err.message : 'not in the Confluent wire format.', err);
      }
      await registry.prepareIds([head.schemaId]).catch(() => undefined);
      const compiled = registry.knownCompiled(head.schemaId);
      if (compiled === undefined) return fail(`schema ${head.schemaId} is not in the schema registry.`);
      if (compiled.type !== type) return fail(`schema ${head.schemaId} is ${compiled.type}, not ${type}.`);
      try {
        return compiled.toJson(head.payload, head.messageIndexes);
      } catch (err) {
        return fail(err instanceof GatewayError ? err.message : 'the payload does not decode with its schema.', err);
      }
    };
    return { key: await side('key', record.key), value: await side('value', record.value) };
  }
}

/** A side shown decoded to JSON readers, or undefined to serve its bytes (see the file comment). */
function lenient(bytes: Buffer | null, registry: SchemaRegistry): DecodedSide | undefined {
  if (bytes === null || bytes.length < 5 || bytes[0] !== MAGIC_BYTE) return undefined;
  const schemaId = bytes.readInt32BE(1);
  if (schemaId < 0) return undefined;
  const compiled = registry.knownCompiled(schemaId);
  if (compiled === undefined) return undefined;
  try {
    const head = decodeFramed(bytes, { protobuf: compiled.type === 'PROTOBUF' });
    return { schemaId, json: compiled.toJson(head.payload, head.messageIndexes) };
  } catch {
    return undefined;
  }
}
