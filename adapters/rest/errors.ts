/**
 * REST's errors in HTTP terms: the core's codes map through codecs/http-status.ts (shared with the
 * WebSocket handshake and the HTTP host); this file adds the refusals only the REST adapter raises
 * (content negotiation, framing, the v2 consumer-instance state machine), each with Confluent
 * REST Proxy's number (kafka-rest `Errors.java`, rest-utils' exception mappers): 40601 format
 * mismatch, 40902 consumer already exists, 40903 illegal state, 42204 invalid consumer config.
 */
import { httpErrorOf, type ErrorBody, type HttpError } from '../../codecs/http-status.js';
import type { Code, GatewayError } from '../../gateway/errors.js';
import { MEDIA } from './media.js';


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

/** Translates any throwable into a status and body: the adapter's own kinds here, the core's through codecs/http-status.ts. */
export function toHttpError(err: unknown, native: boolean): { status: number; body: ErrorBody; gatewayError?: GatewayError } {
  if (err instanceof RestError) {
    const e = REST_ERRORS[err.kind];
    return { status: e.status, body: { error_code: e.errorCode, message: err.message } };
  }
  return httpErrorOf(err, native);
}

/**
 * Where the v3 API answers a core error unlike v2, as kafka-rest's v3 exception mappers do:
 * KafkaExceptionMapper sends UnknownTopicOrPartitionException as 404/40403 and TopicExists /
 * InvalidConfiguration / InvalidPartitions / InvalidReplicationFactor as 400/40002; a missing
 * v3 resource (cluster, group, consumer, config) is a NotFoundException, 404/404.
 */
const V3_OVERRIDES: Partial<Record<Code, HttpError>> = {
  TOPIC_NOT_FOUND: { status: 404, errorCode: 40403 },
  PARTITION_NOT_FOUND: { status: 404, errorCode: 40403 },
  ALREADY_EXISTS: { status: 400, errorCode: 40002 },
  INVALID_ARGUMENT: { status: 400, errorCode: 40002 },
  INVALID_KEY: { status: 400, errorCode: 400 },
  INVALID_VALUE: { status: 400, errorCode: 400 },
};

/** Any throwable in v3 terms: the v2 mapping, with kafka-rest's v3 numbers where they differ. */
export function toV3HttpError(err: unknown): { status: number; body: ErrorBody; gatewayError?: GatewayError } {
  const mapped = toHttpError(err, false);
  const override = mapped.gatewayError === undefined ? undefined : V3_OVERRIDES[mapped.gatewayError.code];
  if (override === undefined) return mapped;
  return { ...mapped, status: override.status, body: { error_code: override.errorCode, message: mapped.body.message } };
}

/**
 * The `error_code` of a failed record in a v2 produce response, as kafka-rest's
 * AbstractProduceAction classifies a producer exception: authentication 40101, authorization
 * 40301, retriable 50003, any other 50002. (Confluent's documentation still says 1 and 2; its
 * sources have sent these since the v2 API.)
 */
export function produceRecordErrorCode(err: GatewayError): 40101 | 40301 | 50002 | 50003 {
  if (err.code === 'UNAUTHENTICATED') return 40101;
  if (err.code === 'PERMISSION_DENIED') return 40301;
  return err.retriable ? 50003 : 50002;
}

/**
 * The Content-Type of a v2 error. rest-utils' ConstraintViolationExceptionMapper (every 422) and
 * KafkaExceptionMapper (Kafka's own failures: 40002, 40101, 40301, 42901, 50002, 50003, 50302)
 * set `application/json`; every other refusal is a JAX-RS WebApplicationException whose body is
 * negotiated to the resource's `application/vnd.kafka.v2+json`.
 */
export function v2ErrorMediaType(status: number, errorCode: number): typeof MEDIA.native | typeof MEDIA.v2 {
  return status === 422 || KAFKA_MAPPER_CODES.has(errorCode) ? MEDIA.native : MEDIA.v2;
}

const KAFKA_MAPPER_CODES: ReadonlySet<number> = new Set([40002, 40101, 40301, 42901, 50002, 50003, 50302]);
