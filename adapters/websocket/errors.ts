/**
 * The one mapping from catalogue codes to WebSocket terms.
 *
 * Request-scoped errors travel as error frames `{"op":"error","id":…,"code":"<catalogue code>",…}`
 * on a connection that stays open; the code in the frame is the catalogue name itself. The close
 * code below is used when an error ends the whole connection (e.g. credentials expire, the gateway
 * shuts down, the client stopped reading).
 *
 * Close-code ranges (RFC 6455 §7.4.2 leaves 4000–4999 to applications); clients rely on them:
 * - 1000–1015: the standard meanings (1001 going away, 1003 unsupported data, 1008 policy,
 *   1009 too big, 1011 server error).
 * - 4000–4499: transient; the client may reconnect (with backoff) and resume from its positions.
 * - 4500–4999: permanent; reconnecting with the same request and credentials will fail again.
 */
import type { Code } from '../../gateway/errors.js';

export interface WsErrorMapping {
  /** Close code when this error ends the connection. */
  readonly close: number;
}

/** Catalogue code → close code. A new catalogue code without a row here fails to compile. */
export const WS_ERRORS = {
  INVALID_ARGUMENT: { close: 4500 },
  INVALID_KEY: { close: 4501 },
  INVALID_VALUE: { close: 4502 },
  INVALID_TOPIC: { close: 4503 },
  MESSAGE_TOO_LARGE: { close: 4504 },
  TOPIC_NOT_FOUND: { close: 4505 },
  PARTITION_NOT_FOUND: { close: 4506 },
  CONSUMER_NOT_FOUND: { close: 4507 },
  NOT_FOUND: { close: 4508 },
  ALREADY_EXISTS: { close: 4509 },
  OUT_OF_RANGE: { close: 4510 },
  FAILED_PRECONDITION: { close: 4511 },
  // Reconnecting with the same credentials fails again; the application must obtain new ones.
  UNAUTHENTICATED: { close: 4512 },
  PERMISSION_DENIED: { close: 4513 },
  RESOURCE_EXHAUSTED: { close: 4029 },
  SLOW_CONSUMER: { close: 4008 },
  UNAVAILABLE: { close: 4003 },
  // RFC 6455 §7.4.2 registry: 1013 Try Again Later.
  SERVER_BUSY: { close: 1013 },
  TIMEOUT: { close: 4004 },
  CANCELLED: { close: 4005 },
  SHUTTING_DOWN: { close: 1001 },
  SUBJECT_NOT_FOUND: { close: 4515 },
  VERSION_NOT_FOUND: { close: 4516 },
  SCHEMA_NOT_FOUND: { close: 4517 },
  SUBJECT_NOT_SOFT_DELETED: { close: 4518 },
  VERSION_NOT_SOFT_DELETED: { close: 4519 },
  INVALID_SCHEMA: { close: 4520 },
  INVALID_VERSION: { close: 4521 },
  INVALID_COMPATIBILITY_LEVEL: { close: 4522 },
  INCOMPATIBLE_SCHEMA: { close: 4523 },
  OPERATION_NOT_PERMITTED: { close: 4524 },
  SCHEMA_VALIDATION: { close: 4525 },
  RECORD_NOT_DECODABLE: { close: 4526 },
  UNIMPLEMENTED: { close: 4514 },
  INTERNAL: { close: 1011 },
} as const satisfies Record<Code, WsErrorMapping>;

/**
 * Close codes that are not catalogue errors: protocol-level ends of a connection.
 * 1009 is sent by the engine itself when a frame exceeds websocket.maxPayloadBytes.
 */
export const CLOSE = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  /** A binary frame on `streamgate.v1.json` or a text frame on `streamgate.v1.proto` (RFC 6455 §7.4.1). */
  UNSUPPORTED_DATA: 1003,
  POLICY: 1008,
  TOO_BIG: 1009,
  INTERNAL: 1011,
  /** The client does not read its replies (websocket.closeBufferedBytes): transient, reconnect and resume. */
  NOT_READING: WS_ERRORS.SLOW_CONSUMER.close,
} as const;

/** RFC 6455 §5.5: a close frame's payload is at most 125 bytes, 2 of them the code. */
const MAX_REASON_BYTES = 122;

/** Truncates a close reason to fit a close frame, on a UTF-8 character boundary. */
export function closeReason(reason: string): string {
  if (Buffer.byteLength(reason) <= MAX_REASON_BYTES) return reason;
  let out = reason;
  while (Buffer.byteLength(`${out}…`) > MAX_REASON_BYTES) out = out.slice(0, -1);
  // Never leave half of a surrogate pair (it would be sent as U+FFFD).
  if (/[\uD800-\uDBFF]$/.test(out)) out = out.slice(0, -1);
  return `${out}…`;
}

/** Whether a close code tells the client it may reconnect (see the ranges above). */
export function mayReconnect(code: number): boolean {
  return code === 1001 || code === 1006 || code === 1011 || code === 1012 || code === 1013 || (code >= 4000 && code < 4500);
}
