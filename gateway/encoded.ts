/**
 * Encode a record once per wire format, not once per subscriber. The hub hands the SAME record
 * object to every subscriber of a shared tail reader, so a record fanned out to 10,000 sockets
 * can be serialized once and its bytes spliced into each subscriber's frame. Adapters key the
 * memo by a format name they own (`sse.record`, `json.record`, `mqtt.publish.v4.q0…`) and
 * store only the subscriber-independent part of their encoding (a subscription id, an MQTT
 * packet id or an SSE event id is added per subscriber around it).
 *
 * Entries live exactly as long as the record: the memo is a WeakMap keyed by the record object,
 * so nothing here outlives the hub's queues or needs eviction. Records from a subscriber's own
 * catch-up read are separate objects; they are encoded for that subscriber alone, as before.
 */
import { GatewayError } from './errors.js';
import type { StreamRecord } from './record.js';

const memo = new WeakMap<StreamRecord, Map<string, unknown>>();

/** A remembered encoding failure: every later call for that (record, format) throws it again without re-running the encoder. */
class Failed {
  constructor(readonly error: GatewayError) {}
}

/**
 * The encoding of `record` in `format`, computed by `encode` on the first call for that
 * (record, format) and returned from the memo afterwards. `format` must name everything the
 * encoding depends on besides the record itself (protocol version, QoS, configured topic names):
 * two calls with the same record and format must be interchangeable. `encode` must not depend
 * on the subscriber; an `undefined` result is remembered too (e.g. "not deliverable").
 *
 * An encoder that throws is a fault contained to the readers of that record in that format:
 * the failure is remembered (10,000 subscribers do not re-run an encoder that overflowed the
 * stack) and each call throws a GatewayError INTERNAL naming the record, with the original as
 * `cause`; a reader's sink that lets it propagate ends that reader only (the hub ends one
 * subscription per failing sink).
 */
export function encodeOnce<T>(record: StreamRecord, format: string, encode: (record: StreamRecord) => T): T {
  let formats = memo.get(record);
  if (formats === undefined) {
    formats = new Map();
    memo.set(record, formats);
  } else if (formats.has(format)) {
    const known = formats.get(format);
    if (known instanceof Failed) throw known.error;
    return known as T;
  }
  let encoded: T;
  try {
    encoded = encode(record);
  } catch (err) {
    const error = new GatewayError('INTERNAL', `The record at ${record.topic}/${record.partition}@${record.offset} could not be encoded (${format.split('\0')[0]}).`, {
      cause: err,
      details: { topic: record.topic, partition: record.partition, offset: record.offset.toString() },
    });
    formats.set(format, new Failed(error));
    throw error;
  }
  formats.set(format, encoded);
  return encoded;
}

const batchMemo = new WeakMap<readonly StreamRecord[], Map<string, unknown>>();

/**
 * The encoding of a whole batch (`records` as the hub handed it to a sink) in `format`, computed
 * once per (array, format). The hub gives subscribers that take every record of a shared read the
 * SAME array, so a frame that differs between them only by what `format` names (e.g. a
 * client-chosen subscription id) is built once for all of them and its bytes reused for each
 * socket. The same rules as `encodeOnce`: `format` names everything besides the records, the
 * memo lives as long as the array. An encoder that throws is not remembered (the caller falls
 * back to its per-subscriber path, which reports the failure).
 */
export function encodeBatchOnce<T>(records: readonly StreamRecord[], format: string, encode: (records: readonly StreamRecord[]) => T): T {
  let formats = batchMemo.get(records);
  if (formats === undefined) {
    formats = new Map();
    batchMemo.set(records, formats);
  } else if (formats.has(format)) return formats.get(format) as T;
  const encoded = encode(records);
  formats.set(format, encoded);
  return encoded;
}
