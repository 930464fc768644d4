/**
 * Encode a record once per wire format, not once per subscriber. The hub hands the SAME record
 * object to every subscriber of a shared tail reader, so a record fanned out to 10,000 sockets
 * can be serialized once and its bytes spliced into each subscriber's frame. Adapters key the
 * memo by a format name they own (`sse.record`, `ws.json.record`, `mqtt.publish.v4.q0…`) and
 * store only the subscriber-independent part of their encoding (a subscription id, an MQTT
 * packet id or an SSE event id is added per subscriber around it).
 *
 * Entries live exactly as long as the record: the memo is a WeakMap keyed by the record object,
 * so nothing here outlives the hub's queues or needs eviction. Records from a subscriber's own
 * catch-up read are separate objects; they are encoded for that subscriber alone, as before.
 */
import type { StreamRecord } from './record.js';

const memo = new WeakMap<StreamRecord, Map<string, unknown>>();

/**
 * The encoding of `record` in `format`, computed by `encode` on the first call for that
 * (record, format) and returned from the memo afterwards. `format` must name everything the
 * encoding depends on besides the record itself (protocol version, QoS, configured topic names):
 * two calls with the same record and format must be interchangeable. `encode` must not depend
 * on the subscriber; an `undefined` result is remembered too (e.g. "not deliverable").
 */
export function encodeOnce<T>(record: StreamRecord, format: string, encode: (record: StreamRecord) => T): T {
  let formats = memo.get(record);
  if (formats === undefined) {
    formats = new Map();
    memo.set(record, formats);
  } else if (formats.has(format)) {
    return formats.get(format) as T;
  }
  const encoded = encode(record);
  formats.set(format, encoded);
  return encoded;
}
