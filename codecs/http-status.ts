/**
 * The core's error catalogue in HTTP terms — the one home of that mapping, used by the REST
 * adapter, the WebSocket handshake and the process's HTTP host alike, so one refusal reads the
 * same wherever it happens. Status + Confluent REST Proxy `error_code` (HTTP status × 100 +
 * sub-code); codes that exist in Confluent's REST Proxy keep their number and meaning (kafka-rest
 * `Errors.java` and rest-utils `KafkaExceptionMapper`): 40401 topic not found, 40402 partition not
 * found, 40403 consumer instance not found, 40902 consumer already exists, 40903 illegal state,
 * 42201/42202 key/value, 42901 too many requests, 50002 Kafka error, 50003 retriable Kafka
 * error, 50302 broker not available, 40101/40301 authn/authz. Where Confluent has no code the
 * bare status is used (its generic mapper does the same).
 */
import { STATUS_CODES } from 'node:http';
import { GatewayError, type Code } from '../gateway/errors.js';

/** An HTTP status with the Confluent-style `error_code` carried in the body. */
export interface HttpError {
  readonly status: number;
  readonly errorCode: number;
}

/** Every core error code as an HTTP status and `error_code`. */
export const HTTP_ERRORS = {
  INVALID_ARGUMENT: { status: 422, errorCode: 422 },
  INVALID_KEY: { status: 422, errorCode: 42201 },
  INVALID_VALUE: { status: 422, errorCode: 42202 },
  INVALID_TOPIC: { status: 400, errorCode: 40002 },
  MESSAGE_TOO_LARGE: { status: 413, errorCode: 41301 },
  TOPIC_NOT_FOUND: { status: 404, errorCode: 40401 },
  PARTITION_NOT_FOUND: { status: 404, errorCode: 40402 },
  CONSUMER_NOT_FOUND: { status: 404, errorCode: 40403 },
  NOT_FOUND: { status: 404, errorCode: 404 },
  ALREADY_EXISTS: { status: 409, errorCode: 40902 },
  OUT_OF_RANGE: { status: 416, errorCode: 41601 },
  FAILED_PRECONDITION: { status: 409, errorCode: 40903 },
  UNAUTHENTICATED: { status: 401, errorCode: 40101 },
  PERMISSION_DENIED: { status: 403, errorCode: 40301 },
  RESOURCE_EXHAUSTED: { status: 429, errorCode: 42901 },
  SLOW_CONSUMER: { status: 429, errorCode: 42902 },
  UNAVAILABLE: { status: 503, errorCode: 50302 },
  SERVER_BUSY: { status: 503, errorCode: 50303 },
  TIMEOUT: { status: 500, errorCode: 50003 },
  CANCELLED: { status: 500, errorCode: 50003 },
  SHUTTING_DOWN: { status: 503, errorCode: 50301 },
  // Schema registry: Confluent Schema Registry's codes (its Errors.java / RestIncompatibleSchemaException is a bare 409).
  SUBJECT_NOT_FOUND: { status: 404, errorCode: 40401 },
  VERSION_NOT_FOUND: { status: 404, errorCode: 40402 },
  SCHEMA_NOT_FOUND: { status: 404, errorCode: 40403 },
  SUBJECT_NOT_SOFT_DELETED: { status: 404, errorCode: 40405 },
  VERSION_NOT_SOFT_DELETED: { status: 404, errorCode: 40407 },
  INVALID_SCHEMA: { status: 422, errorCode: 42201 },
  INVALID_VERSION: { status: 422, errorCode: 42202 },
  INVALID_COMPATIBILITY_LEVEL: { status: 422, errorCode: 42203 },
  INCOMPATIBLE_SCHEMA: { status: 409, errorCode: 409 },
  OPERATION_NOT_PERMITTED: { status: 422, errorCode: 42205 },
  // kafka-rest JSON_CONVERSION_ERROR_CODE, as a v2 schema-format produce whose record breaks its schema.
  SCHEMA_VALIDATION: { status: 422, errorCode: 42203 },
  // kafka-rest: a consumer's failing deserializer is a KafkaException, 500/50002 ("Kafka error: …").
  RECORD_NOT_DECODABLE: { status: 500, errorCode: 50002 },
  UNIMPLEMENTED: { status: 501, errorCode: 501 },
  INTERNAL: { status: 500, errorCode: 50002 },
} as const satisfies Record<Code, HttpError>;

/** The body every HTTP error response carries: Confluent's `{error_code, message}` (+ `code` / `details` on the native v1 API). */
export interface ErrorBody {
  error_code: number;
  message: string;
  code?: string;
  details?: Readonly<Record<string, unknown>>;
}

/**
 * Any throwable as an HTTP status and body. Unknown throwables become INTERNAL with their message
 * hidden (GatewayError.from). `native` adds the core's `code` and `details` (streamgate's own
 * v1 API; Confluent's v2 body has neither).
 */
export function httpErrorOf(err: unknown, native = false): { status: number; body: ErrorBody; gatewayError: GatewayError } {
  const gatewayError = GatewayError.from(err);
  const e = HTTP_ERRORS[gatewayError.code];
  const body: ErrorBody = { error_code: e.errorCode, message: gatewayError.message };
  if (native) {
    body.code = gatewayError.code;
    if (gatewayError.details !== undefined) body.details = gatewayError.details;
  }
  return { status: e.status, body, gatewayError };
}

/** Headers a response to a refused or failed request carries besides its body's. */
export type ExtraHeaders = Readonly<Record<string, string | number>>;

/**
 * A whole HTTP/1.1 response as text, for sockets no HTTP server answers on: a connection refused
 * at accept, a malformed request, a refused WebSocket handshake. Always `Connection: close`
 * (RFC 9112 §9.6): the socket ends right after.
 */
export function rawHttpResponse(status: number, headers: ExtraHeaders = {}, body = ''): string {
  let head = `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nConnection: close\r\n`;
  for (const [name, value] of Object.entries(headers)) head += `${name}: ${value}\r\n`;
  return `${head}Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/** An error body as a raw HTTP response (see rawHttpResponse), `application/json`. */
export function rawHttpError(status: number, body: ErrorBody, headers: ExtraHeaders = {}): string {
  return rawHttpResponse(status, { ...headers, 'Content-Type': 'application/json' }, JSON.stringify(body));
}
