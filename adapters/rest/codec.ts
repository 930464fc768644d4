/**
 * HTTP bodies ↔ core types: Confluent v2 produce/consume bodies (json and binary embedded
 * formats), the native v1 record shape, SSE event framing and the SSE event id (positions).
 */
import { randomBytes } from 'node:crypto';
import { GatewayError } from '../../gateway/errors.js';
import type { Headers, ProduceRecord, StreamRecord } from '../../gateway/record.js';
import { RestError } from './errors.js';

// ---------------------------------------------------------------------------------------------
// Content types

export type EmbeddedFormat = 'json' | 'binary';

/** Media types, as Confluent's REST Proxy names them. */
export const MEDIA = {
  v2: 'application/vnd.kafka.v2+json',
  json: 'application/vnd.kafka.json.v2+json',
  binary: 'application/vnd.kafka.binary.v2+json',
  native: 'application/json',
  sse: 'text/event-stream',
} as const;

function mediaType(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const t = header.split(';')[0]!.trim().toLowerCase();
  return t === '' ? undefined : t;
}

/**
 * Embedded format of a v2 produce body from its Content-Type. Per the Confluent docs, the less
 * specific `application/vnd.kafka.v2+json`, `application/vnd.kafka+json` and `application/json`
 * mean binary. Schema formats (avro, protobuf, jsonschema) need a schema registry: 415.
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
export function acceptedFormat(accept: string | undefined): EmbeddedFormat | undefined | 'unacceptable' {
  if (accept === undefined || accept.trim() === '') return undefined;
  let sawGeneric = false;
  for (const part of accept.split(',')) {
    const t = mediaType(part);
    if (t === MEDIA.json) return 'json';
    if (t === MEDIA.binary) return 'binary';
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

/** Deeper JSON than this would overflow the stack when re-encoded; no real payload nests so deep. */
export const MAX_JSON_DEPTH = 256;

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
// Base64 (strict: Buffer.from silently skips bad characters, which would corrupt data)

/** Padded standard base64 alphabet only. Not `/^(?:[A-Za-z0-9+/]{4})*(?:…)?$/`: linear too, but on a
 * 1 MB value it backtracks every group before failing (~240 ms on the event loop); one class scan
 * is ~1 ms. */
function isBase64(text: string): boolean {
  if (text.length % 4 !== 0) return false;
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  return !/[^A-Za-z0-9+/]/.test(pad === 0 ? text : text.slice(0, -pad));
}

export function decodeBase64(text: unknown, code: 'INVALID_KEY' | 'INVALID_VALUE', what: string): Buffer {
  if (typeof text !== 'string' || !isBase64(text)) {
    throw new GatewayError(code, `${what} is not valid base64.`);
  }
  return Buffer.from(text, 'base64');
}

// ---------------------------------------------------------------------------------------------
// Confluent v2 produce / consume

/**
 * A v2 produce body `{"records":[{"key"?, "value", "partition"?}]}`. json: key and value are
 * JSON; a string key is stored as its UTF-8 text (so key filters and MQTT topics match it), other
 * keys and every value as JSON text. binary: key and value are base64. The whole body is decoded
 * before anything is written: one bad record rejects the batch.
 */
export function decodeV2Produce(body: unknown, format: EmbeddedFormat, fixedPartition: number | undefined): ProduceRecord[] {
  if (!isObject(body)) throw new RestError('UNPROCESSABLE', 'The request body must be a JSON object with a "records" array.');
  const records = body.records;
  if (!Array.isArray(records)) throw new RestError('UNPROCESSABLE', 'records may not be null');
  if (records.length === 0) throw new RestError('UNPROCESSABLE', 'records may not be empty');
  return records.map((r, i) => {
    if (!isObject(r)) throw new RestError('UNPROCESSABLE', `records[${i}] must be an object.`);
    const out: ProduceRecord = { value: null };
    const key = r.key;
    if (key !== undefined && key !== null) {
      out.key = format === 'binary' ? decodeBase64(key, 'INVALID_KEY', `records[${i}].key`) : Buffer.from(typeof key === 'string' ? key : JSON.stringify(key), 'utf8');
    }
    const value = r.value;
    if (value !== undefined && value !== null) {
      out.value = format === 'binary' ? decodeBase64(value, 'INVALID_VALUE', `records[${i}].value`) : Buffer.from(JSON.stringify(value), 'utf8');
    }
    if (r.partition !== undefined && r.partition !== null) {
      const p = parsePartition(r.partition, `records[${i}].partition`);
      if (fixedPartition !== undefined && p !== fixedPartition) {
        throw new RestError('UNPROCESSABLE', `records[${i}].partition ${p} differs from the partition in the path (${fixedPartition}).`);
      }
      out.partition = p;
    }
    return out;
  });
}

/** One record of a v2 `GET …/records` response. A json-format value that is not JSON throws INTERNAL-free INVALID_VALUE. */
export function encodeV2Record(r: StreamRecord, format: EmbeddedFormat): Record<string, unknown> {
  if (format === 'binary') {
    return {
      topic: r.topic,
      key: r.key === null ? null : r.key.toString('base64'),
      value: r.value === null ? null : r.value.toString('base64'),
      partition: r.partition,
      offset: r.offset,
    };
  }
  let value: unknown = null;
  if (r.value !== null) {
    try {
      value = JSON.parse(r.value.toString('utf8'));
    } catch {
      throw new GatewayError('INVALID_VALUE', `The value at ${r.topic}/${r.partition}@${r.offset} is not JSON; read it with a binary-format consumer.`, {
        details: { topic: r.topic, partition: r.partition, offset: r.offset.toString() },
      });
    }
  }
  return { topic: r.topic, key: r.key === null ? null : r.key.toString('utf8'), value, partition: r.partition, offset: r.offset };
}

// ---------------------------------------------------------------------------------------------
// Native v1 records (the same shape as the WebSocket JSON protocol)

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

function utf8OrUndefined(b: Buffer): string | undefined {
  try {
    return utf8Decoder.decode(b);
  } catch {
    return undefined;
  }
}

/**
 * A record as native JSON: offset as a decimal string; value as JSON when the bytes are JSON
 * text, otherwise base64 with `"encoding":"base64"`; key as a UTF-8 string (base64 with
 * `"keyEncoding":"base64"` if it is not UTF-8); header values as UTF-8 strings (base64 under
 * `headersEncoding` if any is not).
 */
export function encodeNativeRecord(r: StreamRecord): Record<string, unknown> {
  const out: Record<string, unknown> = { partition: r.partition, offset: r.offset.toString(), timestamp: r.timestamp };
  if (r.key === null) out.key = null;
  else {
    const k = utf8OrUndefined(r.key);
    if (k === undefined) {
      out.key = r.key.toString('base64');
      out.keyEncoding = 'base64';
    } else out.key = k;
  }
  if (r.value === null) out.value = null;
  else {
    const text = utf8OrUndefined(r.value);
    let parsed: { v: unknown } | undefined;
    if (text !== undefined) {
      try {
        parsed = { v: JSON.parse(text) };
      } catch {
        parsed = undefined;
      }
    }
    if (parsed === undefined) {
      out.value = r.value.toString('base64');
      out.encoding = 'base64';
    } else out.value = parsed.v;
  }
  const names = Object.keys(r.headers);
  if (names.length > 0) {
    const texts = names.map((n) => utf8OrUndefined(r.headers[n]!));
    const binary = texts.some((t) => t === undefined);
    out.headers = Object.fromEntries(names.map((n, i) => [n, binary ? r.headers[n]!.toString('base64') : texts[i]!]));
    if (binary) out.headersEncoding = 'base64';
  } else out.headers = {};
  return out;
}

/**
 * A native produce body `{"records":[{"key"?, "value", "encoding"?, "headers"?, "partition"?, "timestamp"?}]}`.
 * value: any JSON (stored as JSON text), or base64 bytes with `"encoding":"base64"`.
 */
export function decodeNativeProduce(body: unknown): ProduceRecord[] {
  if (!isObject(body) || !Array.isArray(body.records)) throw new GatewayError('INVALID_ARGUMENT', 'The body must be {"records":[…]}.');
  if (body.records.length === 0) throw new GatewayError('INVALID_ARGUMENT', 'records may not be empty.');
  return body.records.map((r: unknown, i: number) => {
    if (!isObject(r)) throw new GatewayError('INVALID_ARGUMENT', `records[${i}] must be an object.`);
    const encoding = r.encoding;
    if (encoding !== undefined && encoding !== 'base64' && encoding !== 'json') {
      throw new GatewayError('INVALID_ARGUMENT', `records[${i}].encoding must be "json" or "base64".`);
    }
    const out: ProduceRecord = { value: null };
    if (r.key !== undefined && r.key !== null) {
      if (typeof r.key !== 'string') throw new GatewayError('INVALID_KEY', `records[${i}].key must be a string or null.`);
      out.key = r.keyEncoding === 'base64' ? decodeBase64(r.key, 'INVALID_KEY', `records[${i}].key`) : Buffer.from(r.key, 'utf8');
    }
    if (r.value !== undefined && r.value !== null) {
      out.value = encoding === 'base64' ? decodeBase64(r.value, 'INVALID_VALUE', `records[${i}].value`) : Buffer.from(JSON.stringify(r.value), 'utf8');
    }
    if (r.headers !== undefined) {
      if (!isObject(r.headers)) throw new GatewayError('INVALID_ARGUMENT', `records[${i}].headers must be an object of strings.`);
      const headers: Headers = {};
      for (const [name, v] of Object.entries(r.headers)) {
        if (typeof v !== 'string') throw new GatewayError('INVALID_ARGUMENT', `records[${i}].headers.${name} must be a string.`);
        headers[name] = Buffer.from(v, 'utf8');
      }
      out.headers = headers;
    }
    if (r.partition !== undefined && r.partition !== null) out.partition = parsePartition(r.partition, `records[${i}].partition`);
    if (r.timestamp !== undefined && r.timestamp !== null) {
      if (typeof r.timestamp !== 'number' || !Number.isSafeInteger(r.timestamp) || r.timestamp < 0) {
        throw new GatewayError('INVALID_ARGUMENT', `records[${i}].timestamp must be milliseconds since the epoch.`);
      }
      out.timestamp = r.timestamp;
    }
    return out;
  });
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

/** Parses an event id back into positions; INVALID_ARGUMENT if it is not one we produced. */
export function decodeEventId(id: string): Map<number, bigint> {
  const out = new Map<number, bigint>();
  if (id.trim() === '') return out;
  for (const pair of id.split(',')) {
    const m = /^(\d{1,10}):(\d{1,19})$/.exec(pair.trim());
    if (m === null) throw new GatewayError('INVALID_ARGUMENT', `"${id.slice(0, 64)}" is not a streamgate event id (expected partition:offset pairs such as 0:43,1:7).`);
    out.set(Number(m[1]), BigInt(m[2]!));
  }
  return out;
}

/** One SSE event block (WHATWG HTML §9.2 "Server-sent events": fields, one `data:` line per line). */
export function sseEvent(event: string, data: string, id?: string): string {
  let out = '';
  if (id !== undefined) out += `id: ${id}\n`;
  out += `event: ${event}\n`;
  for (const line of data.split('\n')) out += `data: ${line}\n`;
  return `${out}\n`;
}
