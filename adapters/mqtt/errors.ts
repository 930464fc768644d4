/**
 * MQTT reason codes and the one mapping from the gateway's error catalogue to them.
 *
 * MQTT 5 has a reason code on every acknowledgement, but each packet type allows only its own
 * subset (MQTT-5 §3.4.2.1 PUBACK/PUBREC, §3.9.3 SUBACK, §3.2.2.2 CONNACK, §3.14.2.1 DISCONNECT);
 * MQTT 3.1.1 has only CONNACK return codes 0–5 and SUBACK 0x80 — a failed QoS 1/2 publish can
 * only be reported by closing the connection (the client then resends).
 */
import type { Code } from '../../gateway/errors.js';
import { GatewayError } from '../../gateway/errors.js';
import { MAX_REASON_STRING_CHARS } from './config.js';

/** MQTT 5 reason codes used by this server (names from MQTT-5 §2.4, Table 2-6). */
export const RC = {
  SUCCESS: 0x00,
  GRANTED_QOS_1: 0x01,
  GRANTED_QOS_2: 0x02,
  DISCONNECT_WITH_WILL: 0x04,
  NO_SUBSCRIPTION_EXISTED: 0x11,
  UNSPECIFIED: 0x80,
  MALFORMED_PACKET: 0x81,
  PROTOCOL_ERROR: 0x82,
  IMPLEMENTATION_SPECIFIC: 0x83,
  UNSUPPORTED_PROTOCOL_VERSION: 0x84,
  CLIENT_ID_NOT_VALID: 0x85,
  BAD_USERNAME_OR_PASSWORD: 0x86,
  NOT_AUTHORIZED: 0x87,
  SERVER_UNAVAILABLE: 0x88,
  SERVER_BUSY: 0x89,
  SERVER_SHUTTING_DOWN: 0x8b,
  KEEP_ALIVE_TIMEOUT: 0x8d,
  SESSION_TAKEN_OVER: 0x8e,
  TOPIC_FILTER_INVALID: 0x8f,
  TOPIC_NAME_INVALID: 0x90,
  PACKET_ID_IN_USE: 0x91,
  PACKET_ID_NOT_FOUND: 0x92,
  RECEIVE_MAXIMUM_EXCEEDED: 0x93,
  TOPIC_ALIAS_INVALID: 0x94,
  PACKET_TOO_LARGE: 0x95,
  QUOTA_EXCEEDED: 0x97,
  PAYLOAD_FORMAT_INVALID: 0x99,
  SHARED_SUBSCRIPTIONS_NOT_SUPPORTED: 0x9e,
} as const;

/** MQTT 3.1.1 CONNACK return codes (MQTT-3.1.1 §3.2.2.3) — the only codes 3.1.1 has besides SUBACK 0x80. */
export const RC311 = {
  ACCEPTED: 0,
  UNACCEPTABLE_PROTOCOL_VERSION: 1,
  IDENTIFIER_REJECTED: 2,
  SERVER_UNAVAILABLE: 3,
  BAD_USERNAME_OR_PASSWORD: 4,
  NOT_AUTHORIZED: 5,
  /** SUBACK failure (MQTT-3.1.1 §3.9.3). */
  SUBACK_FAILURE: 0x80,
} as const;

interface Mapping {
  /** MQTT 5 PUBACK / PUBREC reason. */
  readonly ack: number;
  /** MQTT 5 SUBACK reason. */
  readonly suback: number;
  /** MQTT 5 CONNACK reason. */
  readonly connack: number;
  /** MQTT 3.1.1 CONNACK return code (0–5). */
  readonly connack311: number;
  /** MQTT 5 DISCONNECT reason when the error ends the connection. */
  readonly disconnect: number;
}

const I = RC.IMPLEMENTATION_SPECIFIC;
const U = RC.UNSPECIFIED;

/** The one table: every catalogued code → MQTT codes per packet type and version. */
export const MQTT_ERRORS = {
  INVALID_ARGUMENT: { ack: I, suback: I, connack: I, connack311: RC311.SERVER_UNAVAILABLE, disconnect: I },
  INVALID_KEY: { ack: RC.TOPIC_NAME_INVALID, suback: RC.TOPIC_FILTER_INVALID, connack: I, connack311: RC311.SERVER_UNAVAILABLE, disconnect: RC.TOPIC_NAME_INVALID },
  INVALID_VALUE: { ack: RC.PAYLOAD_FORMAT_INVALID, suback: I, connack: RC.PAYLOAD_FORMAT_INVALID, connack311: RC311.SERVER_UNAVAILABLE, disconnect: RC.PAYLOAD_FORMAT_INVALID },
  INVALID_TOPIC: { ack: RC.TOPIC_NAME_INVALID, suback: RC.TOPIC_FILTER_INVALID, connack: I, connack311: RC311.SERVER_UNAVAILABLE, disconnect: RC.TOPIC_NAME_INVALID },
  // PUBACK has no "packet too large"; the reason string says it.
  MESSAGE_TOO_LARGE: { ack: I, suback: I, connack: RC.PACKET_TOO_LARGE, connack311: RC311.SERVER_UNAVAILABLE, disconnect: RC.PACKET_TOO_LARGE },
  TOPIC_NOT_FOUND: { ack: I, suback: I, connack: I, connack311: RC311.SERVER_UNAVAILABLE, disconnect: I },
  PARTITION_NOT_FOUND: { ack: I, suback: I, connack: I, connack311: RC311.SERVER_UNAVAILABLE, disconnect: I },
  CONSUMER_NOT_FOUND: { ack: I, suback: I, connack: I, connack311: RC311.SERVER_UNAVAILABLE, disconnect: I },
  NOT_FOUND: { ack: I, suback: I, connack: I, connack311: RC311.SERVER_UNAVAILABLE, disconnect: I },
  ALREADY_EXISTS: { ack: I, suback: I, connack: I, connack311: RC311.SERVER_UNAVAILABLE, disconnect: I },
  OUT_OF_RANGE: { ack: I, suback: I, connack: I, connack311: RC311.SERVER_UNAVAILABLE, disconnect: I },
  FAILED_PRECONDITION: { ack: I, suback: I, connack: I, connack311: RC311.SERVER_UNAVAILABLE, disconnect: I },
  UNAUTHENTICATED: { ack: RC.NOT_AUTHORIZED, suback: RC.NOT_AUTHORIZED, connack: RC.BAD_USERNAME_OR_PASSWORD, connack311: RC311.BAD_USERNAME_OR_PASSWORD, disconnect: RC.NOT_AUTHORIZED },
  PERMISSION_DENIED: { ack: RC.NOT_AUTHORIZED, suback: RC.NOT_AUTHORIZED, connack: RC.NOT_AUTHORIZED, connack311: RC311.NOT_AUTHORIZED, disconnect: RC.NOT_AUTHORIZED },
  RESOURCE_EXHAUSTED: { ack: RC.QUOTA_EXCEEDED, suback: RC.QUOTA_EXCEEDED, connack: RC.QUOTA_EXCEEDED, connack311: RC311.SERVER_UNAVAILABLE, disconnect: RC.QUOTA_EXCEEDED },
  SLOW_CONSUMER: { ack: RC.QUOTA_EXCEEDED, suback: RC.QUOTA_EXCEEDED, connack: RC.QUOTA_EXCEEDED, connack311: RC311.SERVER_UNAVAILABLE, disconnect: RC.QUOTA_EXCEEDED },
  UNAVAILABLE: { ack: U, suback: U, connack: RC.SERVER_UNAVAILABLE, connack311: RC311.SERVER_UNAVAILABLE, disconnect: RC.SERVER_BUSY },
  // MQTT-5 §3.2.2.2 0x89 Server busy; MQTT-3.1.1 §3.2.2.3 has only 0x03 Server unavailable.
  SERVER_BUSY: { ack: U, suback: U, connack: RC.SERVER_BUSY, connack311: RC311.SERVER_UNAVAILABLE, disconnect: RC.SERVER_BUSY },
  TIMEOUT: { ack: U, suback: U, connack: RC.SERVER_UNAVAILABLE, connack311: RC311.SERVER_UNAVAILABLE, disconnect: RC.SERVER_BUSY },
  CANCELLED: { ack: U, suback: U, connack: U, connack311: RC311.SERVER_UNAVAILABLE, disconnect: U },
  SHUTTING_DOWN: { ack: U, suback: U, connack: RC.SERVER_UNAVAILABLE, connack311: RC311.SERVER_UNAVAILABLE, disconnect: RC.SERVER_SHUTTING_DOWN },
  SUBJECT_NOT_FOUND: { ack: I, suback: I, connack: I, connack311: RC311.SERVER_UNAVAILABLE, disconnect: I },
  VERSION_NOT_FOUND: { ack: I, suback: I, connack: I, connack311: RC311.SERVER_UNAVAILABLE, disconnect: I },
  SCHEMA_NOT_FOUND: { ack: I, suback: I, connack: I, connack311: RC311.SERVER_UNAVAILABLE, disconnect: I },
  SUBJECT_NOT_SOFT_DELETED: { ack: I, suback: I, connack: I, connack311: RC311.SERVER_UNAVAILABLE, disconnect: I },
  VERSION_NOT_SOFT_DELETED: { ack: I, suback: I, connack: I, connack311: RC311.SERVER_UNAVAILABLE, disconnect: I },
  INVALID_SCHEMA: { ack: I, suback: I, connack: I, connack311: RC311.SERVER_UNAVAILABLE, disconnect: I },
  INVALID_VERSION: { ack: I, suback: I, connack: I, connack311: RC311.SERVER_UNAVAILABLE, disconnect: I },
  INVALID_COMPATIBILITY_LEVEL: { ack: I, suback: I, connack: I, connack311: RC311.SERVER_UNAVAILABLE, disconnect: I },
  INCOMPATIBLE_SCHEMA: { ack: I, suback: I, connack: I, connack311: RC311.SERVER_UNAVAILABLE, disconnect: I },
  OPERATION_NOT_PERMITTED: { ack: I, suback: I, connack: I, connack311: RC311.SERVER_UNAVAILABLE, disconnect: I },
  // MQTT-5 §3.4.2.1 0x99 Payload format invalid: the payload breaks its topic's schema.
  SCHEMA_VALIDATION: { ack: RC.PAYLOAD_FORMAT_INVALID, suback: I, connack: I, connack311: RC311.SERVER_UNAVAILABLE, disconnect: RC.PAYLOAD_FORMAT_INVALID },
  RECORD_NOT_DECODABLE: { ack: I, suback: I, connack: I, connack311: RC311.SERVER_UNAVAILABLE, disconnect: I },
  UNIMPLEMENTED: { ack: I, suback: I, connack: I, connack311: RC311.SERVER_UNAVAILABLE, disconnect: I },
  INTERNAL: { ack: U, suback: U, connack: U, connack311: RC311.SERVER_UNAVAILABLE, disconnect: U },
} as const satisfies Record<Code, Mapping>;

/** The MQTT codes for any throwable (unknown throwables are INTERNAL). */
export function mqttError(err: unknown): Mapping & { error: GatewayError } {
  const error = GatewayError.from(err);
  return { ...MQTT_ERRORS[error.code], error };
}

/** A reason string safe for the client: the catalogued message, never an internal cause. */
export function reasonString(error: GatewayError): string {
  return error.code === 'INTERNAL' ? 'Internal gateway error.' : `${error.code}: ${error.message}`.slice(0, MAX_REASON_STRING_CHARS);
}
