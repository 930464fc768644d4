/**
 * Confluent REST Proxy v2 produce with the schema embedded formats — `application/vnd.kafka.
 * {avro,jsonschema,protobuf}.v2+json` — as kafka-rest does it: the body names the schema inline
 * (`key_schema` / `value_schema`, registered on first use under the TopicNameStrategy subject
 * `<topic>-key` / `<topic>-value`) or by id (`key_schema_id` / `value_schema_id`); each record's
 * JSON key / value is validated against it and encoded by the core's registry into the Confluent
 * wire format; the response carries the ids. A record that breaks the schema fails the whole
 * request before anything is written (kafka-rest's 42203).
 *
 * Values are plain JSON (Avro unions unwrapped: `"x"`, not `{"string":"x"}`); Protobuf records are
 * the schema's first message.
 */
import type { Context, Gateway } from '../../gateway/api.js';
import { GatewayError } from '../../gateway/errors.js';
import type { ProduceRecord } from '../../gateway/record.js';
import type { SchemaType } from '../../gateway/schemas/formats.js';
import { parseJsonBody } from './codec.js';
import { RestError } from './errors.js';

/** The schema embedded formats of a produce Content-Type (undefined for any other type). */
export function schemaProduceFormat(contentType: string | undefined): SchemaType | undefined {
  const t = contentType?.split(';')[0]?.trim().toLowerCase();
  if (t === 'application/vnd.kafka.avro.v2+json') return 'AVRO';
  if (t === 'application/vnd.kafka.jsonschema.v2+json') return 'JSON';
  if (t === 'application/vnd.kafka.protobuf.v2+json') return 'PROTOBUF';
  return undefined;
}

/** The records to write and the schema ids used, for the v2 response. */
export interface SchemaProduce {
  readonly records: ProduceRecord[];
  readonly keySchemaId: number | null;
  readonly valueSchemaId: number | null;
}

type Side = 'key' | 'value';

/** Decodes and encodes a schema-format produce body (kafka-rest ProduceRequest + SchemaManager). */
export async function encodeSchemaProduce(gateway: Gateway, ctx: Context, topic: string, body: Buffer, schemaType: SchemaType, fixedPartition: number | undefined): Promise<SchemaProduce> {
  const registry = gateway.schemas;
  if (registry === undefined) throw new RestError('UNSUPPORTED_MEDIA_TYPE', 'HTTP 415 Unsupported Media Type: schema formats need the schema registry (schemaRegistry.enabled).');
  const parsed = parseJsonBody(body);
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new RestError('BAD_REQUEST', 'Cannot deserialize the request body: it must be a JSON object with a "records" array.');
  const request = parsed as Record<string, unknown>;
  const records = request.records;
  if (records === undefined || records === null || (Array.isArray(records) && records.length === 0)) throw new RestError('UNPROCESSABLE', 'records may not be empty');
  if (!Array.isArray(records)) throw new RestError('BAD_REQUEST', 'Cannot deserialize the request body: records must be an array.');

  const ids: Record<Side, number | null> = { key: null, value: null };
  for (const side of ['key', 'value'] as const) {
    if (!records.some((r) => typeof r === 'object' && r !== null && (r as Record<string, unknown>)[side] !== undefined && (r as Record<string, unknown>)[side] !== null)) continue;
    ids[side] = await schemaIdFor(gateway, ctx, topic, side, request, schemaType);
  }

  const out: ProduceRecord[] = [];
  for (const [i, r] of records.entries()) {
    if (typeof r !== 'object' || r === null || Array.isArray(r)) throw new RestError('BAD_REQUEST', `Cannot deserialize the request body: records[${i}] must be an object.`);
    const record = r as Record<string, unknown>;
    const produced: ProduceRecord = { value: null };
    for (const side of ['key', 'value'] as const) {
      const v = record[side];
      if (v === undefined || v === null) continue;
      try {
        produced[side] = await registry.encode(ctx, ids[side]!, v);
      } catch (err) {
        if (err instanceof GatewayError && err.code === 'INVALID_VALUE') throw new RestError('SCHEMA_CONVERSION', `Conversion of JSON to Object failed: records[${i}].${side}: ${err.message}`);
        throw err;
      }
    }
    const p = record.partition;
    if (p !== undefined && p !== null) {
      if (typeof p !== 'number' || !Number.isInteger(p) || p < 0 || p > 2 ** 31 - 1) throw new RestError('UNPROCESSABLE', `records[${i}].partition must be a non-negative int32.`);
      if (fixedPartition !== undefined && p !== fixedPartition) throw new RestError('UNPROCESSABLE', `records[${i}].partition ${p} differs from the partition in the path (${fixedPartition}).`);
      produced.partition = p;
    }
    out.push(produced);
  }
  return { records: out, keySchemaId: ids.key, valueSchemaId: ids.value };
}

/** The id the body names, or the id of its inline schema (looked up first, registered if new). */
async function schemaIdFor(gateway: Gateway, ctx: Context, topic: string, side: Side, request: Record<string, unknown>, schemaType: SchemaType): Promise<number> {
  const registry = gateway.schemas!;
  const byId = request[`${side}_schema_id`];
  const inline = request[`${side}_schema`];
  if (byId !== undefined && byId !== null) {
    if (typeof byId !== 'number' || !Number.isInteger(byId) || byId < 0) throw new RestError('UNPROCESSABLE', `${side}_schema_id must be a non-negative integer.`);
    const compiled = await registry.compiledById(ctx, byId);
    if (compiled.type !== schemaType) throw new RestError('UNPROCESSABLE', `Schema ${byId} is ${compiled.type}, not the ${schemaType} this Content-Type names.`);
    return byId;
  }
  if (typeof inline !== 'string' || inline === '') {
    // kafka-rest KEY_SCHEMA_MISSING (42201) / VALUE_SCHEMA_MISSING (42202).
    throw new GatewayError(side === 'key' ? 'INVALID_KEY' : 'INVALID_VALUE', `Request includes ${side}s but does not include ${side} schema`);
  }
  const subject = `${topic}-${side}`;
  const input = { schema: inline, schemaType };
  try {
    return (await registry.lookup(ctx, subject, input)).id;
  } catch (err) {
    if (!(err instanceof GatewayError) || (err.code !== 'SUBJECT_NOT_FOUND' && err.code !== 'SCHEMA_NOT_FOUND')) throw invalidSchemaAsRest(err);
  }
  try {
    return (await registry.register(ctx, subject, input)).id;
  } catch (err) {
    throw invalidSchemaAsRest(err);
  }
}

function invalidSchemaAsRest(err: unknown): unknown {
  return err instanceof GatewayError && err.code === 'INVALID_SCHEMA' ? new RestError('INVALID_EMBEDDED_SCHEMA', err.message) : err;
}
