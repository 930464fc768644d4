/**
 * Frames ↔ core types of the JSON subprotocol (the proto subprotocol's are codecs/proto.ts).
 *
 * `streamgate.v1.json` (text frames), as in the design's WebSocket section:
 *   subscribe   {"op":"subscribe","id":"s1","topic":"t","from":"earliest"|"latest"|{"offsets":{"0":"42"},"otherwise"?:"earliest"|"latest"}|{"timestamp":ms},
 *                "key"?:string|string[],"keyPrefix"?:…,"filter"?:… (MQTT filter over the key),"partitions"?:[0,1],"strict"?:bool}
 *   unsubscribe {"op":"unsubscribe","sub":"s1"}               → {"op":"end","sub":"s1"}
 *   publish     {"op":"publish","id":"p1","topic":"t","partition"?:0,"records":[{"key"?:"k","value":…,"headers"?:[{"name","value"}…],"partition"?:0,"timestamp"?:ms}]}
 *   ping        {"op":"ping","id"?:…}                         → {"op":"pong","id"?:…}
 *   metrics     {"op":"metrics","id":"m1","intervalMs"?:1000}  → {"op":"metrics","id":"m1","sample":{…}} every interval
 *               (the core's MetricsSample; operators and the `metrics` grant only) until
 *               {"op":"unsubscribe","sub":"m1"} → {"op":"end","sub":"m1"}
 *   server      subscribed / records / ack / error / continuity-lost / end
 * Records (publish and delivery) are the JSON record of codecs/json-record.ts, shared with REST
 * v1 and SSE: a JSON value is stored as the exact text sent and served verbatim; bytes that are
 * not JSON (or nest deeper than MAX_JSON_DEPTH) travel base64 with `"encoding":"base64"`; keys and
 * headers as UTF-8 strings or base64 with `keyEncoding` / `headersEncoding`. Offsets are decimal strings.
 */
import { decodeProduceRecord, envelopeFields, jsonRecord, parseRecordsRequest } from '../../codecs/json-record.js';
import { JsonSyntaxError, MAX_JSON_DEPTH, type JsonNode } from '../../codecs/json-text.js';
import type { KeyFilter } from '../../gateway/api.js';
import type { ContinuityLost } from '../../gateway/api.js';
import { GatewayError } from '../../gateway/errors.js';
import type { MetricsSample } from '../../gateway/metrics.js';
import type { RecordDecoding } from '../../gateway/schemas/reading.js';
import { offsetsPosition, type Position, type ProduceRecord, type StreamRecord } from '../../gateway/record.js';

// ---------------------------------------------------------------------------------------------
// The protocol-neutral frame model the session works with

export type ClientFrame =
  | {
      readonly op: 'subscribe';
      readonly id: string;
      readonly topic: string;
      readonly from: Position;
      readonly partitions?: readonly number[];
      readonly filters?: readonly KeyFilter[];
      readonly strict?: boolean;
    }
  | { readonly op: 'unsubscribe'; readonly sub: string }
  | {
      readonly op: 'publish';
      readonly id: string;
      readonly topic: string;
      readonly records: ProduceRecord[];
      readonly partition?: number;
      readonly idempotencyKey: string;
      /** W3C traceparent for the published records (the core validates it). */
      readonly traceparent?: string;
    }
  | { readonly op: 'ping'; readonly id?: string }
  | { readonly op: 'metrics'; readonly id: string; readonly intervalMs: number };

export type ServerFrame =
  | { readonly op: 'subscribed'; readonly id: string; readonly positions: ReadonlyMap<number, bigint> }
  | { readonly op: 'records'; readonly sub: string; readonly records: readonly StreamRecord[]; readonly decoded?: readonly (RecordDecoding | undefined)[] | undefined }
  | { readonly op: 'ack'; readonly id: string; readonly offsets: readonly { partition: number; offset: bigint; timestamp: number }[] }
  | { readonly op: 'error'; readonly id?: string; readonly error: GatewayError }
  | { readonly op: 'continuity-lost'; readonly sub: string; readonly notice: ContinuityLost }
  | { readonly op: 'end'; readonly sub: string; readonly error?: GatewayError }
  | { readonly op: 'pong'; readonly id?: string }
  | { readonly op: 'metrics'; readonly id: string; readonly sample: MetricsSample };

/** A frame that could not be decoded; `id` is the request id when it could still be read. */
export class FrameError extends Error {
  override readonly name = 'FrameError';
  constructor(
    readonly error: GatewayError,
    readonly id?: string,
  ) {
    super(error.message);
  }
}

/** The subprotocol's encoding. */
export interface Codec {
  /** Text frames (JSON). */
  readonly binary: boolean;
  decode(data: Buffer): ClientFrame;
  encode(frame: ServerFrame): string | Uint8Array;
}

const invalid = (message: string, id?: string): FrameError => new FrameError(new GatewayError('INVALID_ARGUMENT', message), id);

// ---------------------------------------------------------------------------------------------
// JSON

/** Longest request id a client may use (ids are keys of per-connection maps). */
export const MAX_ID_LENGTH = 256;

/** The `streamgate.v1.json` codec. */
export const jsonCodec: Codec = {
  binary: false,
  decode(data) {
    // One linear scan gives the envelope as nodes and each record value as its exact span.
    let root: JsonNode;
    try {
      root = parseRecordsRequest(data);
    } catch (err) {
      if (!(err instanceof JsonSyntaxError)) throw err;
      if (/nested deeper/.test(err.message)) throw invalid(`JSON nested deeper than ${MAX_JSON_DEPTH} levels is not accepted.`);
      throw invalid(`The frame is not valid JSON: ${err.message}`);
    }
    if (root.type !== 'object') throw invalid('A frame must be a JSON object.');
    const { fields: frame, records } = envelopeFields(data, root);
    const id = typeof frame.id === 'string' ? frame.id : undefined;
    try {
      return decodeJsonFrame(data, frame, records, id);
    } catch (err) {
      if (err instanceof FrameError) throw err;
      if (err instanceof GatewayError) throw new FrameError(err, id);
      throw err;
    }
  },
  encode: encodeJson,
};

function decodeJsonFrame(data: Buffer, frame: Record<string, unknown>, records: readonly JsonNode[] | undefined, id: string | undefined): ClientFrame {
  switch (frame.op) {
    case 'subscribe': {
      const subId = requireId(frame.id, 'subscribe');
      const topic = requireString(frame.topic, 'topic', subId);
      const filters = [
        ...stringList(frame.key, 'key').map((key): KeyFilter => ({ kind: 'exact', key })),
        ...stringList(frame.keyPrefix, 'keyPrefix').map((prefix): KeyFilter => ({ kind: 'prefix', prefix })),
        ...stringList(frame.filter, 'filter').map((filter): KeyFilter => ({ kind: 'mqtt', filter })),
      ];
      let partitions: number[] | undefined;
      if (frame.partitions !== undefined) {
        if (!Array.isArray(frame.partitions) || !frame.partitions.every((p) => Number.isInteger(p) && p >= 0)) {
          throw invalid('"partitions" must be an array of non-negative integers.', subId);
        }
        partitions = frame.partitions as number[];
      }
      if (frame.strict !== undefined && typeof frame.strict !== 'boolean') throw invalid('"strict" must be a boolean.', subId);
      return {
        op: 'subscribe',
        id: subId,
        topic,
        from: jsonPosition(frame.from),
        ...(partitions === undefined ? {} : { partitions }),
        ...(filters.length === 0 ? {} : { filters }),
        ...(frame.strict === true ? { strict: true } : {}),
      };
    }
    case 'unsubscribe': {
      // `sub` names the subscription; a bare `id` is accepted too (it is the subscription's id).
      const sub = frame.sub ?? frame.id;
      return { op: 'unsubscribe', sub: requireId(sub, 'unsubscribe') };
    }
    case 'publish': {
      const pubId = requireId(frame.id, 'publish');
      const topic = requireString(frame.topic, 'topic', pubId);
      if (records === undefined) throw invalid('"records" must be an array.', pubId);
      const decoded = records.map((r, i) => decodeProduceRecord(data, r, i));
      const partition = optionalPartition(frame.partition, 'partition');
      const traceparent = typeof frame.traceparent === 'string' ? { traceparent: frame.traceparent } : {};
      return { op: 'publish', id: pubId, topic, records: decoded, idempotencyKey: pubId, ...traceparent, ...(partition === undefined ? {} : { partition }) };
    }
    case 'ping':
      return id === undefined ? { op: 'ping' } : { op: 'ping', id };
    case 'metrics': {
      const metricsId = requireId(frame.id, 'metrics');
      const intervalMs = frame.intervalMs ?? METRICS_DEFAULT_INTERVAL_MS;
      if (typeof intervalMs !== 'number' || !Number.isInteger(intervalMs) || intervalMs < METRICS_MIN_INTERVAL_MS || intervalMs > METRICS_MAX_INTERVAL_MS) {
        throw invalid(`"intervalMs" must be an integer from ${METRICS_MIN_INTERVAL_MS} to ${METRICS_MAX_INTERVAL_MS}.`, metricsId);
      }
      return { op: 'metrics', id: metricsId, intervalMs };
    }
    case undefined:
      throw invalid('The frame has no "op".', id);
    default:
      throw invalid(`Unknown op ${JSON.stringify(frame.op).slice(0, 64)}; expected subscribe, unsubscribe, publish, ping or metrics.`, id);
  }
}

/** Metrics sampling interval bounds (ms): faster would be work for nothing, slower no longer "live". */
export const METRICS_MIN_INTERVAL_MS = 250;
export const METRICS_MAX_INTERVAL_MS = 60_000;
export const METRICS_DEFAULT_INTERVAL_MS = 1_000;

function requireId(value: unknown, op: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_ID_LENGTH) {
    throw invalid(`A ${op} frame needs an "id": a string of 1–${MAX_ID_LENGTH} characters.`);
  }
  return value;
}

function requireString(value: unknown, name: string, id: string): string {
  if (typeof value !== 'string') throw invalid(`"${name}" must be a string.`, id);
  return value;
}

function stringList(value: unknown, name: string): string[] {
  if (value === undefined) return [];
  if (typeof value === 'string') return [value];
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value as string[];
  throw new GatewayError('INVALID_ARGUMENT', `"${name}" must be a string or an array of strings.`);
}

function optionalPartition(value: unknown, name: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (!Number.isInteger(value) || (value as number) < 0) throw new GatewayError('INVALID_ARGUMENT', `"${name}" must be a non-negative integer.`);
  return value as number;
}

function jsonPosition(from: unknown): Position {
  if (from === undefined || from === 'latest') return { kind: 'latest' };
  if (from === 'earliest') return { kind: 'earliest' };
  if (typeof from === 'object' && from !== null && !Array.isArray(from)) {
    const f = from as Record<string, unknown>;
    if (f.offsets !== undefined) {
      if (typeof f.offsets !== 'object' || f.offsets === null || Array.isArray(f.offsets)) {
        throw new GatewayError('INVALID_ARGUMENT', '"from.offsets" must map partitions to offsets, e.g. {"0":"42"}.');
      }
      if (f.otherwise !== undefined && f.otherwise !== 'earliest' && f.otherwise !== 'latest') {
        throw new GatewayError('INVALID_ARGUMENT', '"from.otherwise" must be "earliest" or "latest".');
      }
      return offsetsPosition(f.offsets as Record<string, string | number>, f.otherwise as 'earliest' | 'latest' | undefined);
    }
    if (f.timestamp !== undefined) {
      if (typeof f.timestamp !== 'number' || !Number.isSafeInteger(f.timestamp) || f.timestamp < 0) {
        throw new GatewayError('INVALID_ARGUMENT', '"from.timestamp" must be milliseconds since the epoch.');
      }
      return { kind: 'timestamp', timestamp: f.timestamp };
    }
  }
  throw new GatewayError('INVALID_ARGUMENT', '"from" must be "earliest", "latest", {"offsets":{…}} or {"timestamp":ms}.');
}

/** The JSON text of one delivered record, serialized once per record object for every subscriber and protocol (codecs/json-record.ts). */
export const encodeJsonRecord = jsonRecord;

function encodeJson(frame: ServerFrame): string {
  switch (frame.op) {
    case 'records':
      return `{"op":"records","sub":${JSON.stringify(frame.sub)},"records":[${frame.records.map((r, i) => encodeJsonRecord(r, frame.decoded?.[i])).join(',')}]}`;
    case 'subscribed':
      return JSON.stringify({ op: 'subscribed', id: frame.id, positions: Object.fromEntries([...frame.positions].map(([p, o]) => [String(p), o.toString()])) });
    case 'ack':
      return JSON.stringify({
        op: 'ack',
        id: frame.id,
        offsets: frame.offsets.map((o) => ({ partition: o.partition, offset: o.offset.toString(), timestamp: o.timestamp })),
      });
    case 'error':
      return JSON.stringify({
        op: 'error',
        ...(frame.id === undefined ? {} : { id: frame.id }),
        code: frame.error.code,
        message: frame.error.message,
        retriable: frame.error.retriable,
        ...(frame.error.details === undefined ? {} : { details: frame.error.details }),
      });
    case 'continuity-lost':
      return JSON.stringify({
        op: 'continuity-lost',
        sub: frame.sub,
        partition: frame.notice.partition,
        requested: frame.notice.requested.toString(),
        actual: frame.notice.actual.toString(),
        reason: frame.notice.reason,
      });
    case 'end':
      return JSON.stringify({
        op: 'end',
        sub: frame.sub,
        ...(frame.error === undefined ? {} : { code: frame.error.code, message: frame.error.message, retriable: frame.error.retriable }),
      });
    case 'pong':
      return JSON.stringify(frame.id === undefined ? { op: 'pong' } : { op: 'pong', id: frame.id });
    case 'metrics':
      return JSON.stringify({ op: 'metrics', id: frame.id, sample: frame.sample });
  }
}
