/**
 * The proto wire shape (proto/streamgate/v1/streamgate.proto) <-> core types, for every adapter
 * that speaks it: the gRPC service and the WebSocket `streamgate.v1.proto` subprotocol (whose
 * binary messages are the gRPC Session's SessionRequest / SessionResponse frames).
 *
 * One module owns the loaded contract. @grpc/proto-loader (protobufjs underneath, the runtime codec
 * the project was specified with) loads it once; its method (de)serializers encode and decode the
 * frames for both adapters, so both see the same typed objects: the TypeScript shapes come from
 * proto-loader-gen-types (proto/gen/ts), generated with exactly the options below. A records frame
 * is the exception: its Record messages are encoded once per record with protobufjs directly (see
 * encodeRecordsFrame). Nothing here imports a transport (grpc-js, ws).
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import { encodeBatchOnce, encodeOnce } from '../gateway/encoded.js';
import type { JoinGroupRequest, KeyFilter, SubscribeRequest } from '../gateway/api.js';
import { GatewayError } from '../gateway/errors.js';
import {
  EARLIEST,
  LATEST,
  offsetsPosition,
  parseOffset,
  type Position,
  type ProduceRecord,
  type ProduceResult,
  type StreamRecord,
} from '../gateway/record.js';
import type { KeyFilter__Output } from '../proto/gen/ts/streamgate/v1/KeyFilter.js';
import type { Position__Output } from '../proto/gen/ts/streamgate/v1/Position.js';
import type { ProduceRecord__Output } from '../proto/gen/ts/streamgate/v1/ProduceRecord.js';
import type { Record as RecordMessage } from '../proto/gen/ts/streamgate/v1/Record.js';
import type { RecordPosition } from '../proto/gen/ts/streamgate/v1/RecordPosition.js';
import type { SessionRequest__Output } from '../proto/gen/ts/streamgate/v1/SessionRequest.js';
import type { SessionResponse } from '../proto/gen/ts/streamgate/v1/SessionResponse.js';

/**
 * proto-loader options; scripts/gen-protos.sh passes the same to proto-loader-gen-types.
 * keepCase: field names as in the proto (`max_records`), which DESIGN.md fixes for clients.
 * longs String: int64 offsets survive as decimal strings (Number would lose precision > 2^53).
 * defaults + oneofs: absent scalars read as their zero, and each oneof names its set member.
 */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: String,
  enums: String,
  defaults: true,
  oneofs: true,
};

/** Fully-qualified service name, for health checking and reflection. */
export const SERVICE_NAME = 'streamgate.v1.StreamGateway';

/** Finds proto/ whether running from sources (codecs/) or the build (dist/codecs/). */
export function protoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'proto');
    if (existsSync(join(candidate, 'streamgate/v1/streamgate.proto'))) return candidate;
    dir = dirname(dir);
  }
  throw new Error('proto/streamgate/v1/streamgate.proto not found above codecs/');
}

/** Marks a message the wrapped deserializer could not decode (see streamGateway). */
export const MALFORMED = Symbol('malformed');
/** What a request decodes to when its bytes are not a valid message of its type. */
export interface Malformed {
  readonly [MALFORMED]: string;
}

/** Whether a decoded request is the MALFORMED marker rather than a message. */
export function isMalformed(message: unknown): message is Malformed {
  return typeof message === 'object' && message !== null && MALFORMED in message;
}

/**
 * A response message serialized ahead of the write: the served serializers pass its bytes
 * through (see streamGateway), and over WebSocket they are the binary message itself.
 */
export class EncodedResponse {
  constructor(readonly bytes: Buffer) {}
}

/**
 * The loaded contract: the service's methods. (Reflection does not describe proto-loader's package
 * definition, whose descriptors protobufjs rebuilt: adapters/grpc/reflection.ts serves buf's.)
 */
export interface StreamGatewayDefinition {
  /** The methods with the request/response codecs both adapters use (a grpc-js ServiceDefinition). */
  readonly service: Readonly<Record<string, protoLoader.MethodDefinition<object, object>>>;
}

let definition: StreamGatewayDefinition | undefined;

/** The contract, loaded once per process (the gRPC adapter serves it, the WebSocket proto subprotocol speaks its Session frames). */
export function streamGateway(): StreamGatewayDefinition {
  definition ??= loadStreamGateway();
  return definition;
}

function loadStreamGateway(): StreamGatewayDefinition {
  const packageDefinition = protoLoader.loadSync('streamgate/v1/streamgate.proto', { ...LOADER_OPTIONS, includeDirs: [protoRoot()] });
  const raw = packageDefinition[SERVICE_NAME] as protoLoader.ServiceDefinition;
  // grpc-js answers an undecodable request with INTERNAL, yet a malformed message is the
  // client's fault: decode errors become a marker the handlers turn into INVALID_ARGUMENT.
  const service: Record<string, protoLoader.MethodDefinition<object, object>> = {};
  for (const [name, method] of Object.entries(raw)) {
    const decode = method.requestDeserialize;
    const serialize = method.responseSerialize;
    service[name] = {
      ...method,
      // Records frames arrive already serialized (encodeRecordsFrame); everything else is encoded here.
      responseSerialize: (value: object) => (value instanceof EncodedResponse ? value.bytes : serialize(value)),
      requestDeserialize: (bytes: Buffer) => {
        try {
          // protobufjs's Buffer reader silently clamps a string that runs past the end of the
          // message; its plain Uint8Array reader is bounds-checked. Validate with the latter (its
          // result has Uint8Array bytes fields), then decode into Buffers for the handlers.
          decode(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) as Buffer);
          return decode(bytes);
        } catch (err) {
          return { [MALFORMED]: err instanceof Error ? err.message : String(err) };
        }
      },
    };
  }
  return { service };
}

/** The INVALID_ARGUMENT a malformed request becomes. */
export function malformedError(message: Malformed): GatewayError {
  return new GatewayError('INVALID_ARGUMENT', `The request is not a valid protobuf message of this method: ${message[MALFORMED]}`);
}

/** One SessionRequest from its bytes (a WebSocket binary message), exactly as the gRPC Session decodes it. */
export function decodeSessionRequest(bytes: Buffer): SessionRequest__Output | Malformed {
  return streamGateway().service.Session!.requestDeserialize(bytes) as SessionRequest__Output | Malformed;
}

/** One SessionResponse as bytes (a WebSocket binary message), exactly as the gRPC Session encodes it. */
export function encodeSessionResponse(frame: SessionResponse | EncodedResponse): Buffer {
  return streamGateway().service.Session!.responseSerialize(frame);
}

/** `records` field numbers in the two streaming responses (proto/streamgate/v1/streamgate.proto). */
export const RECORDS_FIELD = { session: 1, subscribe: 2 } as const;

let recordType: protobuf.Type | undefined;
function recordMessageType(): protobuf.Type {
  recordType ??= new protobuf.Root()
    .loadSync(join(protoRoot(), 'streamgate/v1/streamgate.proto'), { keepCase: true })
    .lookupType('streamgate.v1.Record');
  return recordType;
}

/**
 * A records frame (`SessionResponse.records` or `SubscribeResponse.records`) as bytes. Each
 * `Record` is encoded once per record, not once per subscriber (gateway/encoded.ts): the hub
 * hands the same record object to every subscriber of a partition, and protobuf messages
 * concatenate, so a frame is only the envelope (field tags and lengths, the subscription id)
 * around the shared record bytes.
 */
export function encodeRecordsFrame(field: number, subscriptionId: string, records: readonly StreamRecord[]): EncodedResponse {
  const w = protobuf.Writer.create();
  w.uint32((field << 3) | 2).fork(); // the RecordsFrame, length-delimited (wire type 2)
  if (subscriptionId !== '') w.uint32((1 << 3) | 2).string(subscriptionId);
  for (const r of records) w.uint32((2 << 3) | 2).bytes(encodeOnce(r, 'proto.record', encodeRecord));
  w.ldelim();
  const bytes = w.finish();
  return new EncodedResponse(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
}

function encodeRecord(r: StreamRecord): Uint8Array {
  const type = recordMessageType();
  const message: { [field: string]: unknown } = {
    topic: r.topic,
    partition: r.partition,
    // protobufjs takes {low, high} for int64 without a Long implementation: exact for every offset.
    offset: longBits(r.offset),
    timestamp: longBits(BigInt(r.timestamp)),
    headers: r.headers.map((h) => ({ key: h.name, value: h.value })),
  };
  if (r.key !== null) message.key = r.key;
  if (r.value !== null) message.value = r.value;
  return type.encode(message).finish();
}

function longBits(v: bigint): { low: number; high: number; unsigned: boolean } {
  const u = BigInt.asUintN(64, v);
  return { low: Number(u & 0xffffffffn), high: Number(u >> 32n), unsigned: false };
}

/** A core record as a `Record` message (int64 as decimal strings; null key/value left absent). */
export function recordMessage(r: StreamRecord): RecordMessage {
  const message: RecordMessage = {
    topic: r.topic,
    partition: r.partition,
    offset: r.offset.toString(),
    timestamp: String(r.timestamp),
    // Header {key = 1, value = 2}: the wire form of the map entry it replaced (see the proto).
    headers: r.headers.map((h) => ({ key: h.name, value: h.value })),
  };
  if (r.key !== null) message.key = r.key;
  if (r.value !== null) message.value = r.value;
  return message;
}

/** Approximate encoded bytes of a record message, to keep frames under the message size limit. */
export function recordMessageSize(r: StreamRecord): number {
  let size = r.topic.length + 40 + (r.key?.length ?? 0) + (r.value?.length ?? 0);
  for (const h of r.headers) size += h.name.length + h.value.length + 8;
  return size;
}

/**
 * A batch as `RecordsFrame`s of at most `maxBytes` each, with the records each carries. Built once
 * per (batch array, field, subscription id, bound): the hub hands subscribers of a shared read the
 * same array, so 10,000 streams with the same subscription id share the frames (gateway/encoded.ts).
 */
export function recordsFrames(field: number, subscriptionId: string, records: readonly StreamRecord[], maxBytes: number): readonly { readonly records: readonly StreamRecord[]; readonly frame: EncodedResponse }[] {
  return encodeBatchOnce(records, `proto.records\0${field}\0${subscriptionId}\0${maxBytes}`, (batch) =>
    chunkBySize(batch, maxBytes).map((chunk) => ({ records: chunk, frame: encodeRecordsFrame(field, subscriptionId, chunk) })),
  );
}

/**
 * Splits records into frames whose encoded size stays under `maxBytes` (a single record larger
 * than that still travels alone; limits.maxRecordBytes keeps it below the message limit).
 */
export function chunkBySize(records: readonly StreamRecord[], maxBytes: number): StreamRecord[][] {
  const chunks: StreamRecord[][] = [];
  let current: StreamRecord[] = [];
  let size = 0;
  for (const r of records) {
    const s = recordMessageSize(r);
    if (current.length > 0 && size + s > maxBytes) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(r);
    size += s;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

/** A `ProduceRecord` message as a core ProduceRecord; absent key/value are null. */
export function produceRecord(m: ProduceRecord__Output): ProduceRecord {
  const record: ProduceRecord = {
    key: m._key === 'key' && m.key !== undefined ? m.key : null,
    value: m._value === 'value' && m.value !== undefined ? m.value : null,
    headers: m.headers.map((h) => ({ name: h.key, value: h.value })),
  };
  if (m._partition === 'partition' && m.partition !== undefined) record.partition = checkPartition(m.partition, 'record partition');
  if (m._timestamp === 'timestamp' && m.timestamp !== undefined) record.timestamp = Number(parseInt64(m.timestamp, 'record timestamp'));
  return record;
}

/** Parses an int64 delivered as a decimal string (LOADER_OPTIONS.longs). */
export function parseInt64(value: string, what: string): bigint {
  return parseOffset(value, what);
}

/** Rejects negative partitions (proto int32 allows them). */
export function checkPartition(p: number, what = 'partition'): number {
  if (!Number.isInteger(p) || p < 0) throw new GatewayError('INVALID_ARGUMENT', `The ${what} must be a non-negative integer.`);
  return p;
}

/** A `Position` message as a core Position; absent means latest. */
export function position(p: Position__Output | null | undefined): Position {
  if (p === null || p === undefined) return LATEST;
  switch (p.kind) {
    case 'earliest':
      return EARLIEST;
    case 'latest':
    case undefined:
      return LATEST;
    case 'offsets': {
      const offsets = p.offsets?.offsets ?? {};
      const otherwise = p.offsets?.otherwise === 'BOUNDARY_EARLIEST' ? 'earliest' : 'latest';
      return offsetsPosition(offsets, otherwise);
    }
    case 'timestamp': {
      const ts = parseInt64(p.timestamp ?? '0', 'position timestamp');
      return { kind: 'timestamp', timestamp: Number(ts) };
    }
  }
}

/** Where a group member starts partitions without a committed offset. */
export function resetTo(p: Position__Output | null | undefined): 'earliest' | 'latest' {
  return p?.kind === 'earliest' ? 'earliest' : 'latest';
}

/** KeyFilter messages as core filters; no filters = every record. */
export function keyFilters(filters: readonly KeyFilter__Output[]): KeyFilter[] | undefined {
  if (filters.length === 0) return undefined;
  return filters.map((f, i): KeyFilter => {
    switch (f.kind) {
      case 'exact':
        return { kind: 'exact', key: f.exact ?? '' };
      case 'prefix':
        return { kind: 'prefix', prefix: f.prefix ?? '' };
      case 'mqtt':
        return { kind: 'mqtt', filter: f.mqtt ?? '' };
      default:
        throw new GatewayError('INVALID_ARGUMENT', `filters[${i}] sets none of exact, prefix, mqtt.`);
    }
  });
}

/** A partition list (empty = all). */
export function partitionList(partitions: readonly number[]): number[] | undefined {
  if (partitions.length === 0) return undefined;
  return partitions.map((p) => checkPartition(p, 'partitions entry'));
}

/** The fields a server-streaming `SubscribeRequest` and a Session's `SubscribeFrame` share. */
export interface SubscribeFields {
  readonly topic: string;
  readonly group: string;
  readonly member_id: string;
  readonly partitions: readonly number[];
  readonly filters: readonly KeyFilter__Output[];
  readonly position?: Position__Output | null;
  readonly strict: boolean;
}

/** The group join a subscribe with a `group` asks for (a group assigns partitions: listing them is INVALID_ARGUMENT). */
export function joinGroupRequest(s: SubscribeFields): JoinGroupRequest {
  if (s.partitions.length > 0) throw new GatewayError('INVALID_ARGUMENT', 'A group subscription reads the partitions the group assigns; do not list partitions.');
  const filters = keyFilters(s.filters);
  return {
    group: s.group,
    topics: [s.topic],
    resetTo: resetTo(s.position),
    ...(s.member_id === '' ? {} : { memberId: s.member_id }),
    ...(filters === undefined ? {} : { filters }),
  };
}

/** The broadcast subscription a subscribe without a `group` asks for; `credit` as SubscribeRequest.credit. */
export function subscribeRequest(s: SubscribeFields, credit?: number): SubscribeRequest {
  const partitions = partitionList(s.partitions);
  const filters = keyFilters(s.filters);
  return {
    topic: s.topic,
    from: position(s.position),
    strict: s.strict,
    ...(credit === undefined ? {} : { credit }),
    ...(partitions === undefined ? {} : { partitions }),
    ...(filters === undefined ? {} : { filters }),
  };
}

/** A start map (partition → next offset) as the `positions` map of a SubscribedFrame. */
export function positionsMessage(start: ReadonlyMap<number, bigint>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [p, o] of [...start.entries()].sort((a, b) => a[0] - b[0])) out[String(p)] = o.toString();
  return out;
}

/** One position per record, in request order (only call when every record was written). */
export function producedPositions(results: readonly ProduceResult[]): RecordPosition[] {
  return results.map((r) => {
    if (!r.ok) throw new GatewayError('INTERNAL', 'producedPositions called with a failed result.');
    return { partition: r.partition, offset: r.offset.toString(), timestamp: String(r.timestamp) };
  });
}

/**
 * The error to report when some record of a batch was not written, or undefined when all were.
 * ProduceResponse and PublishedFrame have no room for per-record failures, so the request fails
 * with the first failure's code and the details name exactly which records WERE written (index →
 * partition/offset), so a client retrying the rest neither loses nor duplicates anything.
 */
export function produceFailure(results: readonly ProduceResult[]): GatewayError | undefined {
  const firstFailed = results.findIndex((r) => !r.ok);
  if (firstFailed < 0) return undefined;
  const failed = results[firstFailed]!;
  if (failed.ok) return undefined;
  const written: Record<string, string> = {};
  results.forEach((r, i) => {
    if (r.ok) written[String(i)] = `${r.partition}/${r.offset}`;
  });
  return new GatewayError(failed.error.code, `Record ${firstFailed} of the batch was not written: ${failed.error.message}`, {
    cause: failed.error,
    details: { failed: results.filter((r) => !r.ok).length, written },
  });
}

/** An ErrorFrame / EndFrame body: the catalogue code itself, its message and whether a retry may succeed. */
export function errorBody(err: unknown): { code: string; message: string; retriable: boolean } {
  const error = GatewayError.from(err);
  return { code: error.code, message: error.message, retriable: error.retriable };
}
