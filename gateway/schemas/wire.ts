/**
 * The Confluent wire format, as every Confluent serializer (Java, librdkafka-based clients,
 * Kafka Streams, Connect converters) writes a record key or value: magic byte 0, the schema id
 * as a 4-byte big-endian signed integer, then the payload. Protobuf payloads carry, between the
 * id and the message bytes, the message indexes naming which message of the schema file the
 * payload is: a zigzag varint count followed by that many zigzag varint indexes, with the
 * single byte 0 standing for `[0]` (the first top-level message) — Confluent's
 * `MessageIndexes` / confluent-kafka's `_MessageIndexes`.
 */
import { GatewayError } from '../errors.js';

/** The first byte of every Confluent-framed payload. */
export const MAGIC_BYTE = 0;

/** At most this many message indexes (nesting of the message in its file); bounds the decode. */
export const MAX_MESSAGE_INDEXES = 64;

/** A payload split into the schema id it names, the Protobuf message indexes (if asked for) and the body. */
export interface Framed {
  readonly schemaId: number;
  /** Only when decoded with `protobuf: true`. */
  readonly messageIndexes?: readonly number[];
  readonly payload: Buffer;
}

/** Frames `payload` for schema `schemaId` (Protobuf: pass the message indexes, `[0]` for the first message). */
export function encodeFramed(schemaId: number, payload: Buffer, messageIndexes?: readonly number[]): Buffer {
  if (!Number.isInteger(schemaId) || schemaId < 0 || schemaId > 0x7fffffff) throw new GatewayError('INVALID_ARGUMENT', `A schema id is a non-negative 32-bit integer, not ${schemaId}.`);
  const header = Buffer.alloc(5);
  header.writeUInt8(MAGIC_BYTE, 0);
  header.writeInt32BE(schemaId, 1);
  if (messageIndexes === undefined) return Buffer.concat([header, payload]);
  const indexes = messageIndexes.length === 1 && messageIndexes[0] === 0 ? [0] : [zigzagVarint(messageIndexes.length), ...messageIndexes.map(zigzagVarint)];
  return Buffer.concat([header, ...indexes.map((b) => (typeof b === 'number' ? Buffer.from([b]) : b)), payload]);
}

/** Splits a framed payload; INVALID_VALUE when it is too short, has another magic byte, or bad indexes. */
export function decodeFramed(bytes: Buffer, options: { protobuf?: boolean } = {}): Framed {
  if (bytes.length < 5) throw new GatewayError('INVALID_VALUE', `A schema-framed payload has at least 5 bytes; this one has ${bytes.length}.`);
  if (bytes[0] !== MAGIC_BYTE) throw new GatewayError('INVALID_VALUE', `Unknown magic byte ${bytes[0]}: the payload is not in the Confluent wire format.`);
  const schemaId = bytes.readInt32BE(1);
  if (schemaId < 0) throw new GatewayError('INVALID_VALUE', `A schema id is non-negative, not ${schemaId}.`);
  if (options.protobuf !== true) return { schemaId, payload: bytes.subarray(5) };
  let at = 5;
  const read = (): number => {
    const [value, next] = readZigzagVarint(bytes, at);
    at = next;
    return value;
  };
  const count = read();
  if (count === 0) return { schemaId, messageIndexes: [0], payload: bytes.subarray(at) };
  if (count < 0 || count > MAX_MESSAGE_INDEXES) throw new GatewayError('INVALID_VALUE', `A message index count is between 0 and ${MAX_MESSAGE_INDEXES}, not ${count}.`);
  const messageIndexes: number[] = [];
  for (let i = 0; i < count; i++) {
    const index = read();
    if (index < 0) throw new GatewayError('INVALID_VALUE', `A message index is non-negative, not ${index}.`);
    messageIndexes.push(index);
  }
  return { schemaId, messageIndexes, payload: bytes.subarray(at) };
}

function zigzagVarint(n: number): Buffer {
  let v = n >= 0 ? n * 2 : -n * 2 - 1;
  const out: number[] = [];
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}

/** A zigzag varint of at most 5 bytes (an int32), as Confluent's ByteUtils.readVarint. */
function readZigzagVarint(bytes: Buffer, start: number): [number, number] {
  let value = 0;
  let shift = 0;
  for (let i = start; i < bytes.length && i < start + 5; i++) {
    const b = bytes[i]!;
    value += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if ((b & 0x80) === 0) return [value % 2 === 0 ? value / 2 : -(value + 1) / 2, i + 1];
  }
  throw new GatewayError('INVALID_VALUE', 'A message index varint is truncated or longer than 5 bytes.');
}
