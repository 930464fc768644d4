/**
 * HTTP bodies ↔ core types: Confluent v2 produce/consume bodies (json and binary embedded
 * formats), the native v1 record shape, SSE event framing and the SSE event id (positions).
 */
import { isUtf8 } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { decodeBase64, decodeProduceRecord, parseRecordsRequest, partitionOf, storedJson, utf8Of } from '../../codecs/json-record.js';
import { JsonSyntaxError, MAX_JSON_DEPTH, bytesOf, member, plain, type JsonNode } from '../../codecs/json-text.js';
import { GatewayError } from '../../gateway/errors.js';
import type { ProduceRecord, StreamRecord } from '../../gateway/record.js';
import type { SchemaType } from '../../gateway/schemas/formats.js';
import { RestError } from './errors.js';
import { MEDIA } from './media.js';
import { EVENT_ID } from './schemas.js';

export { decodeBase64, MAX_JSON_DEPTH };

// ---------------------------------------------------------------------------------------------
// Content types

export type EmbeddedFormat = 'json' | 'binary';

/** The schema embedded formats (records in the Confluent wire format, decoded to JSON for consumers). */
export type SchemaFormat = 'avro' | 'jsonschema' | 'protobuf';

/** What a v2 consumer instance reads as: an embedded format or a schema format. */
export type ConsumerFormat = EmbeddedFormat | SchemaFormat;

/** The registry's schema type of each schema format. */
export const SCHEMA_TYPE_OF = { avro: 'AVRO', jsonschema: 'JSON', protobuf: 'PROTOBUF' } as const satisfies Record<SchemaFormat, SchemaType>;

/** Whether a consumer format is a schema format. */
export function isSchemaFormat(format: ConsumerFormat): format is SchemaFormat {
  return format === 'avro' || format === 'jsonschema' || format === 'protobuf';
}

/** Media types, as Confluent's REST Proxy names them. */
export { MEDIA } from './media.js';

function mediaType(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const t = header.split(';')[0]!.trim().toLowerCase();
  return t === '' ? undefined : t;
}

/**
 * Embedded format of a v2 produce body from its Content-Type. Per the Confluent docs, the less
 * specific `application/vnd.kafka.v2+json`, `application/vnd.kafka+json` and `application/json`
 * mean binary. Schema formats (avro, protobuf, jsonschema) are schema-produce.ts's; here they are 415.
 */
export function produceFormat(contentType: string | undefined): EmbeddedFormat {
  const t = mediaType(contentType);
  if (t === MEDIA.json) return 'json';
  if (t === MEDIA.binary || t === MEDIA.v2 || t === 'application/vnd.kafka+json' || t === 'application/json') return 'binary';
  if (t === undefined) throw new RestError('UNSUPPORTED_MEDIA_TYPE', 'HTTP 415 Unsupported Media Type: a Content-Type such as application/vnd.kafka.json.v2+json is required.');
  const m = /^application\/vnd\.kafka\.([a-z]+)\.v2\+json$/.exec(t);
  if (m !== null) throw new RestError('UNSUPPORTED_MEDIA_TYPE', `HTTP 415 Unsupported Media Type: embedded format "${m[1]}" is not supported (use json or binary).`);
  throw new RestError('UNSUPPORTED_MEDIA_TYPE', `HTTP 415 Unsupported Media Type: ${t}.`);
}

/** Request bodies that carry no records (consumer API, v1) must be JSON if present. */
export function requireJsonBody(contentType: string | undefined, bodyLength: number): void {
  const t = mediaType(contentType);
  if (t === undefined) {
    if (bodyLength === 0) return;
    throw new RestError('UNSUPPORTED_MEDIA_TYPE', 'HTTP 415 Unsupported Media Type: a JSON Content-Type (application/vnd.kafka.v2+json or application/json) is required.');
  }
  if (t === 'application/json' || /^application\/vnd\.kafka(\.[a-z]+)?(\.v2)?\+json$/.test(t)) return;
  throw new RestError('UNSUPPORTED_MEDIA_TYPE', `HTTP 415 Unsupported Media Type: ${t}.`);
}

/**
 * The embedded format a `GET …/records` asks for in `Accept`. `undefined` when the client does
 * not say (absent, `*\/*`, plain JSON): the instance's own format is used.
 */
export function acceptedFormat(accept: string | undefined): ConsumerFormat | undefined | 'unacceptable' {
  if (accept === undefined || accept.trim() === '') return undefined;
  let sawGeneric = false;
  for (const part of accept.split(',')) {
    const t = mediaType(part);
    if (t === MEDIA.json) return 'json';
    if (t === MEDIA.binary) return 'binary';
    if (t === MEDIA.avro) return 'avro';
    if (t === MEDIA.jsonschema) return 'jsonschema';
    if (t === MEDIA.protobuf) return 'protobuf';
    if (t !== undefined && /^application\/vnd\.kafka\.[a-z]+\.v2\+json$/.test(t)) return 'unacceptable';
    if (t === '*/*' || t === 'application/*' || t === 'application/json' || t === MEDIA.v2 || t === 'application/vnd.kafka+json') sawGeneric = true;
  }
  return sawGeneric ? undefined : 'unacceptable';
}

// ---------------------------------------------------------------------------------------------
// JSON

/** Parses a request body; malformed JSON is Confluent's 400 (rest-utils JsonParseExceptionMapper). */
export function parseJsonBody(body: Buffer): unknown {
  if (body.length === 0) return undefined;
  let text: string;
  try {
    // Invalid UTF-8 is refused, not silently replaced by U+FFFD and stored altered.
    text = UTF8.decode(body);
  } catch {
    throw new RestError('MALFORMED_JSON', 'The request body is not valid UTF-8.');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new RestError('MALFORMED_JSON', `Malformed JSON in request body: ${(err as Error).message}`);
  }
  if (nestingDepth(parsed) > MAX_JSON_DEPTH) throw new RestError('MALFORMED_JSON', `JSON nested deeper than ${MAX_JSON_DEPTH} levels is not accepted.`);
  return parsed;
}

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/**
 * A request body carrying records (v1 and v2 produce), parsed so each value keeps its exact text
 * (codecs/json-text.ts); undefined when empty. Malformed JSON is Confluent's 400, as parseJsonBody.
 */
export function parseRecordsBody(body: Buffer): JsonNode | undefined {
  if (body.length === 0) return undefined;
  try {
    return parseRecordsRequest(body);
  } catch (err) {
    if (!(err instanceof JsonSyntaxError)) throw err;
    if (!isUtf8(body)) throw new RestError('MALFORMED_JSON', 'The request body is not valid UTF-8.');
    if (/nested deeper/.test(err.message)) throw new RestError('MALFORMED_JSON', `JSON nested deeper than ${MAX_JSON_DEPTH} levels is not accepted.`);
    throw new RestError('MALFORMED_JSON', `Malformed JSON in request body: ${err.message}`);
  }
}

/** Nesting depth of a parsed JSON value, computed without recursion. */
export function nestingDepth(value: unknown): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth > max) max = depth;
    if (max > MAX_JSON_DEPTH) return max;
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
  return max;
}

const BIGINT_TOKEN = `__sg_bigint_${randomBytes(6).toString('hex')}__`;
const BIGINT_PATTERN = new RegExp(`"${BIGINT_TOKEN}(\\d+)"`, 'g');

/**
 * JSON with bigint offsets rendered as bare JSON numbers (Confluent v2 bodies carry offsets as
 * JSON longs; rendering the digits keeps int64 exact where JSON.stringify would throw).
 */
export function stringifyWithNumbers(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? `${BIGINT_TOKEN}${v.toString()}` : v)).replace(BIGINT_PATTERN, '$1');
}

/** JSON with bigint rendered as decimal strings (the native API and SSE, as in every other protocol). */
export function stringifyWithStrings(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A non-negative int32 partition number from JSON or a path/query string. */
export function parsePartition(value: unknown, what = 'partition'): number {
  const n = typeof value === 'string' && /^\d{1,10}$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 2 ** 31 - 1) {
    throw new GatewayError('INVALID_ARGUMENT', `The ${what} must be a non-negative integer.`);
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// Confluent v2 produce / consume

/**
 * A v2 produce body `{"records":[{"key"?, "value", "partition"?}]}` (from parseRecordsBody).
 * json: key and value are JSON; a string key is stored as its UTF-8 text (so key filters and MQTT
 * topics match it; a lone surrogate is refused), any other key and every value as the exact JSON
 * text sent. binary: key and value are base64. The whole body is decoded before anything is
 * written: one bad record rejects the batch.
 */
export function decodeV2Produce(bytes: Buffer, body: JsonNode | undefined, format: EmbeddedFormat, fixedPartition: number | undefined): ProduceRecord[] {
  if (body === undefined) throw new RestError('UNPROCESSABLE', 'The request body must be a JSON object with a "records" array.');
  // JSON of the wrong type for the entity is Jackson's mapping error in kafka-rest: 400/400.
  if (body.type !== 'object') throw new RestError('BAD_REQUEST', 'Cannot deserialize the request body: it must be a JSON object with a "records" array.');
  const records = member(body, 'records');
  // Missing or null records are an empty list there, refused by @NotEmpty (422).
  if (records === undefined || records.type === 'null') throw new RestError('UNPROCESSABLE', 'records may not be empty');
  if (records.type !== 'array') throw new RestError('BAD_REQUEST', 'Cannot deserialize the request body: records must be an array.');
  if (records.items!.length === 0) throw new RestError('UNPROCESSABLE', 'records may not be empty');
  return records.items!.map((r, i) => {
    if (r.type !== 'object') throw new RestError('BAD_REQUEST', `Cannot deserialize the request body: records[${i}] must be an object.`);
    const out: ProduceRecord = { value: null };
    const key = member(r, 'key');
    if (key !== undefined && key.type !== 'null') {
      const what = `records[${i}].key`;
      if (format === 'binary') out.key = decodeBase64(key.type === 'string' ? key.value : undefined, 'INVALID_KEY', what);
      else out.key = key.type === 'string' ? utf8Of(key.value, 'INVALID_KEY', what) : bytesOf(bytes, key);
    }
    const value = member(r, 'value');
    if (value !== undefined && value.type !== 'null') {
      out.value = format === 'binary' ? decodeBase64(value.type === 'string' ? value.value : undefined, 'INVALID_VALUE', `records[${i}].value`) : bytesOf(bytes, value);
    }
    const partition = member(r, 'partition');
    if (partition !== undefined && partition.type !== 'null') {
      const p = partitionOf(plain(bytes, partition), `records[${i}].partition`);
      if (fixedPartition !== undefined && p !== fixedPartition) {
        throw new RestError('UNPROCESSABLE', `records[${i}].partition ${p} differs from the partition in the path (${fixedPartition}).`);
      }
      out.partition = p;
    }
    return out;
  });
}

/**
 * One record of a v2 `GET …/records` response, as JSON text (offsets as bare JSON numbers).
 * json: the value is the stored JSON text, spliced verbatim; a value that is not JSON (or nests
 * deeper than MAX_JSON_DEPTH) throws INVALID_VALUE, as a failing deserializer would — read it
 * with a binary-format consumer. A key that is not UTF-8 throws INVALID_KEY the same way.
 */
export function encodeV2Record(r: StreamRecord, format: EmbeddedFormat): string {
  const at = { topic: r.topic, partition: r.partition, offset: r.offset.toString() };
  const tail = `,"partition":${r.partition},"offset":${r.offset}}`;
  if (format === 'binary') {
    const key = r.key === null ? 'null' : `"${r.key.toString('base64')}"`;
    const value = r.value === null ? 'null' : `"${r.value.toString('base64')}"`;
    return `{"topic":${JSON.stringify(r.topic)},"key":${key},"value":${value}${tail}`;
  }
  let key = 'null';
  if (r.key !== null) {
    if (!isUtf8(r.key)) {
      throw new GatewayError('INVALID_KEY', `The key at ${r.topic}/${r.partition}@${r.offset} is not UTF-8 text; read it with a binary-format consumer.`, { details: at });
    }
    key = JSON.stringify(r.key.toString('utf8'));
  }
  let value = 'null';
  if (r.value !== null) {
    const json = storedJson(r.value);
    if (json === undefined) {
      throw new GatewayError(
        'INVALID_VALUE',
        `The value at ${r.topic}/${r.partition}@${r.offset} is not JSON (or nests deeper than ${MAX_JSON_DEPTH} levels); read it with a binary-format consumer.`,
        { details: at },
      );
    }
    value = json;
  }
  return `{"topic":${JSON.stringify(r.topic)},"key":${key},"value":${value}${tail}`;
}

/**
 * One record of a v2 `GET …/records` response of a schema-format consumer (kafka-rest's
 * SchemaConsumerRecord: topic, key, value, partition, offset — no schema ids), with key and value
 * the JSON texts the core decoded (Gateway.decodeRecord), spliced as they are; null stays null.
 */
export function encodeV2SchemaRecord(r: StreamRecord, decoded: { readonly key: string | null; readonly value: string | null }): string {
  return `{"topic":${JSON.stringify(r.topic)},"key":${decoded.key ?? 'null'},"value":${decoded.value ?? 'null'},"partition":${r.partition},"offset":${r.offset}}`;
}

// ---------------------------------------------------------------------------------------------
// Native v1 records: the JSON record of codecs/json-record.ts (the WebSocket JSON shape)

/**
 * A native produce body `{"records":[{"key"?, "keyEncoding"?, "value", "encoding"?, "headers"?,
 * "headersEncoding"?, "partition"?, "timestamp"?}]}` (from parseRecordsBody).
 */
export function decodeNativeProduce(bytes: Buffer, body: JsonNode | undefined): ProduceRecord[] {
  const records = body !== undefined && body.type === 'object' ? member(body, 'records') : undefined;
  if (records === undefined || records.type !== 'array') throw new GatewayError('INVALID_ARGUMENT', 'The body must be {"records":[…]}.');
  if (records.items!.length === 0) throw new GatewayError('INVALID_ARGUMENT', 'records may not be empty.');
  return records.items!.map((r, i) => decodeProduceRecord(bytes, r, i));
}

// ---------------------------------------------------------------------------------------------
// SSE

/**
 * The SSE event id: the next offset to read of every partition, `p:o` pairs joined by commas,
 * e.g. `0:43,1:7`. Sent back as `Last-Event-ID`, it resumes exactly after the event.
 */
export function encodeEventId(positions: ReadonlyMap<number, bigint>): string {
  // Written once per delivered record per stream: skip the sort for the common one-partition case.
  if (positions.size === 1) for (const [p, o] of positions) return `${p}:${o}`;
  return [...positions.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([p, o]) => `${p}:${o}`)
    .join(',');
}

/**
 * Parses an event id back into positions (schemas.ts EVENT_ID: int32 partitions, int64 offsets, no
 * spaces; empty is none); INVALID_ARGUMENT if it is not one we produce.
 */
export function decodeEventId(id: string): Map<number, bigint> {
  const out = new Map<number, bigint>();
  if (!EVENT_ID.test(id)) throw new GatewayError('INVALID_ARGUMENT', `"${id.slice(0, 64)}" is not a streamgate event id (expected partition:offset pairs such as 0:43,1:7).`);
  if (id === '') return out;
  for (const pair of id.split(',')) {
    const colon = pair.indexOf(':');
    out.set(Number(pair.slice(0, colon)), BigInt(pair.slice(colon + 1)));
  }
  return out;
}

/**
 * One SSE event block (WHATWG HTML §9.2 "Server-sent events": fields, one `data:` line per line).
 * CR, LF and CRLF all end a line there, so each is split on: JSON text can hold them only as
 * whitespace (inside strings they are escaped), which the receiver gets back as LF. Without an
 * `event` the block has no `event:` field and dispatches as a `message` event (§9.2.6), the one
 * `EventSource.onmessage` receives.
 */
export function sseEvent(event: string | undefined, data: string, id?: string): string {
  let out = '';
  if (id !== undefined) out += `id: ${id}\n`;
  if (event !== undefined) out += `event: ${event}\n`;
  for (const line of data.split(/\r\n|\r|\n/)) out += `data: ${line}\n`;
  return `${out}\n`;
}
