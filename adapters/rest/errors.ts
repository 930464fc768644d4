/**
 * The one mapping from the core's error catalogue to HTTP: status + Confluent REST Proxy
 * `error_code` (HTTP status × 100 + sub-code). Codes that exist in Confluent's REST Proxy keep
 * their number and meaning (kafka-rest `Errors.java` and rest-utils `KafkaExceptionMapper`):
 * 40401 topic not found, 40402 partition not found, 40403 consumer instance not found,
 * 40601 format mismatch, 40902 consumer already exists, 40903 illegal state, 42201/42202
 * key/value, 42204 invalid consumer config, 42901 too many requests, 50002 Kafka error,
 * 50003 retriable Kafka error, 50302 broker not available, 40101/40301 authn/authz.
 * Where Confluent has no code the bare status is used (its generic mapper does the same).
 */
import type { Code } from '../../gateway/errors.js';
import { GatewayError } from '../../gateway/errors.js';

export interface HttpError {
  readonly status: number;
  readonly errorCode: number;
}

export const ERROR_TABLE = {
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
  UNIMPLEMENTED: { status: 501, errorCode: 501 },
  INTERNAL: { status: 500, errorCode: 50002 },
} as const satisfies Record<Code, HttpError>;

/**
 * Protocol-level failures that never come from the core (content negotiation, framing, the v2
 * consumer-instance state machine). Each keeps Confluent's number.
 */
export const REST_ERRORS = {
  /** rest-utils JsonParseExceptionMapper: 400 with the bare status as code. */
  MALFORMED_JSON: { status: 400, errorCode: 400 },
  BAD_REQUEST: { status: 400, errorCode: 400 },
  NOT_FOUND: { status: 404, errorCode: 404 },
  METHOD_NOT_ALLOWED: { status: 405, errorCode: 405 },
  NOT_ACCEPTABLE: { status: 406, errorCode: 406 },
  /** kafka-rest CONSUMER_FORMAT_MISMATCH_ERROR_CODE. */
  FORMAT_MISMATCH: { status: 406, errorCode: 40601 },
  /** kafka-rest CONSUMER_ALREADY_EXISTS_ERROR_CODE. */
  CONSUMER_ALREADY_EXISTS: { status: 409, errorCode: 40902 },
  /** kafka-rest ILLEGAL_STATE_ERROR_CODE (e.g. records without a subscription, subscription and assignment mixed). */
  ILLEGAL_STATE: { status: 409, errorCode: 40903 },
  BODY_TOO_LARGE: { status: 413, errorCode: 413 },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, errorCode: 415 },
  /** kafka-rest INVALID_CONSUMER_CONFIG_ERROR_CODE. */
  INVALID_CONSUMER_CONFIG: { status: 422, errorCode: 42204 },
  /** Generic constraint violation (e.g. "records may not be empty"). */
  UNPROCESSABLE: { status: 422, errorCode: 422 },
} as const satisfies Record<string, HttpError>;

export type RestErrorKind = keyof typeof REST_ERRORS;

/** An error in HTTP terms raised by the adapter itself. */
export class RestError extends Error {
  override readonly name = 'RestError';
  constructor(
    readonly kind: RestErrorKind,
    message: string,
  ) {
    super(message);
  }
}

/** The body every error response carries: Confluent's `{error_code, message}` (+ `code` / `details` on the native v1 API). */
export interface ErrorBody {
  error_code: number;
  message: string;
  code?: string;
  details?: Readonly<Record<string, unknown>>;
}

/** Translates any throwable into a status and body. Unknown throwables become INTERNAL (message hidden). */
export function toHttpError(err: unknown, native: boolean): { status: number; body: ErrorBody; gatewayError?: GatewayError } {
  if (err instanceof RestError) {
    const e = REST_ERRORS[err.kind];
    return { status: e.status, body: { error_code: e.errorCode, message: err.message } };
  }
  const gatewayError = GatewayError.from(err);
  const e = ERROR_TABLE[gatewayError.code];
  const body: ErrorBody = { error_code: e.errorCode, message: gatewayError.message };
  if (native) {
    body.code = gatewayError.code;
    if (gatewayError.details !== undefined) body.details = gatewayError.details;
  }
  return { status: e.status, body, gatewayError };
}

/** Per-record error codes in a v2 produce response (Confluent: 1 non-retriable, 2 retriable). */
export function produceRecordErrorCode(err: GatewayError): 1 | 2 {
  return err.retriable ? 2 : 1;
}
