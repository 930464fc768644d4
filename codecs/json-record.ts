/**
 * The JSON record, both directions — the one home of this wire shape for REST v1 (produce and
 * fetch), SSE and the WebSocket `streamgate.v1.json` subprotocol; Confluent v2's json format
 * reuses its value rules.
 *
 *   {"partition":0,"offset":"42","timestamp":1700000000000,
 *    "key":"k"|null, "keyEncoding"?:"base64",
 *    "value":<JSON>|null, "encoding"?:"base64",
 *    "headers":[{"name":"trace","value":"a"},…], "headersEncoding"?:"base64"}
 *
 * A side of a topic bound to a schema (schemaRegistry.bindings) whose bytes are in the Confluent
 * wire format is read decoded, with its schema id: `"value":<decoded JSON>,"valueSchemaId":7`
 * (`"key":…,"keySchemaId":…` likewise); see gateway/schemas/reading.ts.
 *
 * Values are bytes, and the bytes a client sent are the bytes served:
 * - Writing, a JSON value is stored as the exact text the client sent (its span in the request,
 *   surrounding whitespace aside): big integers, long decimals, exponents, `-0`, duplicate
 *   members and escapes stay as written. `"encoding":"base64"` carries raw bytes.
 * - Reading, stored bytes that are well-formed UTF-8 JSON nesting at most MAX_JSON_DEPTH levels
 *   are spliced into the record verbatim (never parsed and re-serialized); anything else — plain
 *   text, binary, deeper JSON — travels as base64 with `"encoding":"base64"`, so one odd record
 *   can never make the envelope unreadable for a client's parser.
 * - Keys and header names/values given as JSON strings are stored as their UTF-8; a string UTF-8
 *   cannot represent (a lone surrogate escape such as `"\ud800x"`) is refused with INVALID_KEY /
 *   INVALID_ARGUMENT, never stored as U+FFFD. `keyEncoding` / `headersEncoding: "base64"` carry
 *   bytes. Read back: UTF-8 strings when the bytes are UTF-8, else base64 with the same markers.
 * - Headers are an ordered list in which a name may repeat (Kafka's model; the shape Confluent
 *   REST v3 and the Strimzi bridge use): served as an array of `{"name","value"}` in the record's
 *   order, every value base64 when any one is not UTF-8. Written as that array, or — for
 *   convenience — as an object `{"name":"value"}` with unique names (a repeated member is
 *   refused: JSON objects cannot say which comes first). `"value": null` in the array is stored
 *   as empty bytes (the core's headers carry bytes; Kafka's null header value reads back as "").
 */
import { isUtf8 } from 'node:buffer';
import { encodeOnce } from '../gateway/encoded.js';
import { GatewayError } from '../gateway/errors.js';
import type { Headers, ProduceRecord, StreamRecord } from '../gateway/record.js';
import type { RecordDecoding } from '../gateway/schemas/reading.js';
import { bytesOf, isWellFormed, jsonSpan, member, parseJson, plain, type JsonNode, type JsonObject } from './json-text.js';

// ---------------------------------------------------------------------------------------------
// Reading: stored bytes → JSON text

/**
 * The JSON text stored bytes hold, to splice verbatim into a JSON document, or undefined when
 * they are not well-formed UTF-8 JSON within MAX_JSON_DEPTH (checked iteratively, linear time).
 */
export function storedJson(bytes: Buffer): string | undefined {
  if (bytes.length === 0) return undefined;
  const span = jsonSpan(bytes);
  return span === undefined ? undefined : bytes.toString('utf8', span.start, span.end);
}

/**
 * The text of one record, encoded once per record object for every reader (gateway/encoded.ts).
 * With `decoding` (Gateway.decodeForJson: a schema-encoded side of a bound topic), that side is
 * its decoded JSON followed by `"keySchemaId"` / `"valueSchemaId"`; the record's bytes otherwise.
 */
export function jsonRecord(r: StreamRecord, decoding?: RecordDecoding): string {
  return decoding === undefined ? encodeOnce(r, 'json.record', recordText) : encodeOnce(r, 'json.record.decoded', (x) => recordText(x, decoding));
}

/**
 * The record with its topic first (SSE). Not memoized: the caller memoizes its own framing around
 * it, so a record read over SSE alone is held once, not twice.
 */
export function jsonRecordWithTopic(r: StreamRecord, decoding?: RecordDecoding): string {
  return `{"topic":${JSON.stringify(r.topic)},${recordText(r, decoding).slice(1)}`;
}

function recordText(r: StreamRecord, decoding?: RecordDecoding): string {
  const timestamp = Number.isFinite(r.timestamp) ? String(r.timestamp) : 'null';
  let out = `{"partition":${r.partition},"offset":"${r.offset}","timestamp":${timestamp}`;
  if (decoding?.key !== undefined) out += `,"key":${decoding.key.json},"keySchemaId":${decoding.key.schemaId}`;
  else if (r.key === null) out += ',"key":null';
  else if (isUtf8(r.key)) out += `,"key":${JSON.stringify(r.key.toString('utf8'))}`;
  else out += `,"key":"${r.key.toString('base64')}","keyEncoding":"base64"`;
  if (decoding?.value !== undefined) out += `,"value":${decoding.value.json},"valueSchemaId":${decoding.value.schemaId}`;
  else if (r.value === null) out += ',"value":null';
  else {
    const json = storedJson(r.value);
    out += json === undefined ? `,"value":"${r.value.toString('base64')}","encoding":"base64"` : `,"value":${json}`;
  }
  const utf8 = r.headers.every((h) => isUtf8(h.value));
  const parts = r.headers.map((h) => `{"name":${JSON.stringify(h.name)},"value":${JSON.stringify(h.value.toString(utf8 ? 'utf8' : 'base64'))}}`);
  out += `,"headers":[${parts.join(',')}]`;
  if (!utf8) out += ',"headersEncoding":"base64"';
  return `${out}}`;
}

// ---------------------------------------------------------------------------------------------
// Writing: a JSON request → records

/**
 * Which containers of a `{"records":[{…, "headers":[{…}]}], …}` request become nodes: the root,
 * the records array, each record, its headers and (array form) each header. Values, keys and any
 * other member stay spans, so a large value costs a scan, not a tree.
 */
export function expandRecordsEnvelope(depth: number, name: string | undefined): boolean {
  // Depth 5 is asked only for children of an expanded depth-4 container, i.e. of `headers`.
  return depth === 1 || (depth === 2 && name === 'records') || (depth === 3 && name === undefined) || (depth === 4 && name === 'headers') || (depth === 5 && name === undefined);
}

/** Parses a request holding a records envelope (JsonSyntaxError when it is not JSON within MAX_JSON_DEPTH). */
export function parseRecordsRequest(bytes: Buffer): JsonNode {
  return parseJson(bytes, { expand: expandRecordsEnvelope });
}

/** The root object's members as plain values, except `records`, which stays nodes (its values are spans). */
export function envelopeFields(bytes: Buffer, root: JsonObject): { fields: Record<string, unknown>; records: readonly JsonNode[] | undefined } {
  const fields: Record<string, unknown> = {};
  let records: readonly JsonNode[] | undefined;
  let recordsSeen = false;
  for (const [name, node] of root.entries ?? []) {
    if (name === 'records') {
      recordsSeen = true;
      records = node.type === 'array' ? node.items : undefined;
      continue;
    }
    define(fields, name, plain(bytes, node));
  }
  if (recordsSeen && records === undefined) define(fields, 'records', null);
  return { fields, records };
}

/**
 * One record of a REST v1 or WebSocket publish request (see the module comment). `bytes` is the
 * whole request, `node` the record within it (from parseRecordsRequest).
 */
export function decodeProduceRecord(bytes: Buffer, node: JsonNode, index: number): ProduceRecord {
  const at = `records[${index}]`;
  if (node.type !== 'object' || node.entries === undefined) throw new GatewayError('INVALID_ARGUMENT', `${at} must be an object.`);
  const field = (name: string): JsonNode | undefined => member(node, name);
  const record: ProduceRecord = { key: null, value: null };

  const key = field('key');
  const keyEncoding = encodingOf(bytes, field('keyEncoding'), ['base64'], 'INVALID_KEY', `${at}.keyEncoding`);
  if (key !== undefined && key.type !== 'null') {
    if (key.type !== 'string') throw new GatewayError('INVALID_KEY', `${at}.key must be a string or null.`);
    const text = stringOf(bytes, key);
    record.key = keyEncoding === 'base64' ? decodeBase64(text, 'INVALID_KEY', `${at}.key`) : utf8Of(text, 'INVALID_KEY', `${at}.key`);
  }

  const value = field('value');
  const encoding = encodingOf(bytes, field('encoding'), ['json', 'base64'], 'INVALID_VALUE', `${at}.encoding`);
  if (value !== undefined && value.type !== 'null') {
    if (encoding === 'base64') {
      if (value.type !== 'string') throw new GatewayError('INVALID_VALUE', `${at}.value must be a base64 string with "encoding":"base64".`);
      record.value = decodeBase64(stringOf(bytes, value), 'INVALID_VALUE', `${at}.value`);
    } else {
      // The client's own text: the request was validated as JSON already.
      record.value = bytesOf(bytes, value);
    }
  }

  const headers = field('headers');
  const headersEncoding = encodingOf(bytes, field('headersEncoding'), ['base64'], 'INVALID_ARGUMENT', `${at}.headersEncoding`);
  if (headers !== undefined && headers.type !== 'null') record.headers = decodeHeaders(headers, headersEncoding, at);

  const partition = field('partition');
  if (partition !== undefined && partition.type !== 'null') record.partition = partitionOf(plain(bytes, partition), `${at}.partition`);
  const timestamp = field('timestamp');
  if (timestamp !== undefined && timestamp.type !== 'null') {
    const t = plain(bytes, timestamp);
    if (typeof t !== 'number' || !Number.isSafeInteger(t) || t < 0) throw new GatewayError('INVALID_ARGUMENT', `${at}.timestamp must be milliseconds since the epoch.`);
    record.timestamp = t;
  }
  return record;
}

/**
 * The UTF-8 of a string given in JSON. Refuses a string with a lone surrogate: UTF-8 has no
 * encoding for it, and storing U+FFFD instead would store something the client did not send.
 */
export function utf8Of(text: string, code: 'INVALID_KEY' | 'INVALID_VALUE' | 'INVALID_ARGUMENT', what: string): Buffer {
  if (!isWellFormed(text)) {
    throw new GatewayError(code, `${what} is not valid Unicode: a lone surrogate (such as \\ud800) cannot be stored as UTF-8; send the bytes base64-encoded.`);
  }
  return Buffer.from(text, 'utf8');
}

/**
 * Padded standard base64 alphabet only. Not `/^(?:[A-Za-z0-9+/]{4})*(?:…)?$/`: linear too, but on a
 * 1 MB value it backtracks every group before failing (~240 ms on the event loop); one class scan
 * takes ~1 ms. Accepts exactly what that regex accepted.
 */
function isBase64(text: string): boolean {
  if (text.length % 4 !== 0) return false;
  const pad = text.endsWith('==') ? 2 : text.endsWith('=') ? 1 : 0;
  return !/[^A-Za-z0-9+/]/.test(pad === 0 ? text : text.slice(0, -pad));
}

/** Strict base64 (Buffer.from silently skips bad characters, which would store corrupt data). */
export function decodeBase64(text: unknown, code: 'INVALID_KEY' | 'INVALID_VALUE' | 'INVALID_ARGUMENT', what: string): Buffer {
  if (typeof text !== 'string' || !isBase64(text)) throw new GatewayError(code, `${what} is not valid base64.`);
  return Buffer.from(text, 'base64');
}

/** A non-negative int32 partition from JSON (a number, or its decimal string). */
export function partitionOf(value: unknown, what: string): number {
  const n = typeof value === 'string' && /^\d{1,10}$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 2 ** 31 - 1) throw new GatewayError('INVALID_ARGUMENT', `${what} must be a non-negative integer.`);
  return n;
}

function stringOf(bytes: Buffer, node: JsonNode): string {
  return node.type === 'string' ? node.value : String(plain(bytes, node));
}

/** `headers` of one record: the array of `{"name","value"}` or the object with unique names. */
function decodeHeaders(node: JsonNode, encoding: 'base64' | undefined, at: string): Headers {
  const valueOf = (v: string, what: string): Buffer => (encoding === 'base64' ? decodeBase64(v, 'INVALID_ARGUMENT', what) : utf8Of(v, 'INVALID_ARGUMENT', what));
  const nameOf = (name: string): string => {
    if (!isWellFormed(name)) throw new GatewayError('INVALID_ARGUMENT', `A header name of ${at} is not valid Unicode (a lone surrogate cannot be stored as UTF-8).`);
    return name;
  };
  const shape = `${at}.headers must be an array of {"name": string, "value": string} (or an object mapping unique names to strings).`;
  if (node.type === 'array' && node.items !== undefined) {
    return node.items.map((item, i) => {
      const what = `${at}.headers[${i}]`;
      if (item.type !== 'object' || item.entries === undefined) throw new GatewayError('INVALID_ARGUMENT', shape);
      let name: string | undefined;
      let value: Buffer | undefined;
      for (const [member, v] of item.entries) {
        if (member === 'name' && name === undefined && v.type === 'string') name = nameOf(v.value);
        else if (member === 'value' && value === undefined && v.type === 'string') value = valueOf(v.value, `${what}.value`);
        else if (member === 'value' && value === undefined && v.type === 'null') value = Buffer.alloc(0);
        else throw new GatewayError('INVALID_ARGUMENT', `${what} must be {"name": string, "value": string}, each once (member "${member.slice(0, 64)}").`);
      }
      if (name === undefined || value === undefined) throw new GatewayError('INVALID_ARGUMENT', `${what} must have a "name" and a "value".`);
      return { name, value };
    });
  }
  if (node.type !== 'object' || node.entries === undefined) throw new GatewayError('INVALID_ARGUMENT', shape);
  const seen = new Set<string>();
  return node.entries.map(([name, v]) => {
    const what = `${at}.headers.${name.slice(0, 64)}`;
    nameOf(name);
    if (seen.has(name)) throw new GatewayError('INVALID_ARGUMENT', `${what} is given twice; repeated header names take the array form [{"name","value"},…], which keeps their order.`);
    seen.add(name);
    if (v.type !== 'string') throw new GatewayError('INVALID_ARGUMENT', `${what} must be a string.`);
    return { name, value: valueOf(v.value, what) };
  });
}

function encodingOf<E extends string>(bytes: Buffer, node: JsonNode | undefined, allowed: readonly E[], code: 'INVALID_KEY' | 'INVALID_VALUE' | 'INVALID_ARGUMENT', what: string): E | undefined {
  if (node === undefined || node.type === 'null') return undefined;
  const v = plain(bytes, node);
  if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as E;
  throw new GatewayError(code, `${what} must be ${allowed.map((a) => `"${a}"`).join(' or ')}.`);
}

/** Sets an own property whatever its name (`__proto__` included: a header name is client input). */
function define<T>(target: Record<string, T>, name: string, value: T): void {
  Object.defineProperty(target, name, { value, enumerable: true, writable: true, configurable: true });
}
