/**
 * W3C trace context: a `traceparent` arriving with a produce (HTTP header, gRPC metadata, MQTT 5
 * user property, WebSocket publish field) is stored in the record's `traceparent` header and comes
 * back out with the record on every protocol, so one trace follows a record from device to backend.
 */

/** The record header (and HTTP header / gRPC metadata key / MQTT user property) name. */
export const TRACEPARENT = 'traceparent';

/** A version-00 traceparent: `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`, ids not all zero. */
const FORMAT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$/;

/**
 * The traceparent if it is valid, else undefined — an invalid one is ignored, as the W3C
 * specification asks, never an error for the produce.
 */
export function validTraceparent(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const m = FORMAT.exec(value.trim());
  if (m === null || /^0+$/.test(m[1]!) || /^0+$/.test(m[2]!)) return undefined;
  return value.trim();
}
