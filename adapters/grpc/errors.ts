/**
 * The one mapping table: catalogue code → gRPC status code
 * (https://grpc.github.io/grpc/core/md_doc_statuscodes.html). The catalogue code itself travels
 * in the `streamgate-code` trailer and the message starts with it, so clients can branch on the
 * stable name without parsing text.
 */
import { constants as http2 } from 'node:http2';
import { Metadata, status, type ServiceError } from '@grpc/grpc-js';
import { GatewayError, type Code } from '../../gateway/errors.js';

export const GRPC_STATUS = {
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  INVALID_KEY: status.INVALID_ARGUMENT,
  INVALID_VALUE: status.INVALID_ARGUMENT,
  INVALID_TOPIC: status.INVALID_ARGUMENT,
  // A request over a size limit is a quota in gRPC terms (grpc-js itself answers an oversized
  // message with RESOURCE_EXHAUSTED).
  MESSAGE_TOO_LARGE: status.RESOURCE_EXHAUSTED,
  TOPIC_NOT_FOUND: status.NOT_FOUND,
  PARTITION_NOT_FOUND: status.NOT_FOUND,
  CONSUMER_NOT_FOUND: status.NOT_FOUND,
  NOT_FOUND: status.NOT_FOUND,
  ALREADY_EXISTS: status.ALREADY_EXISTS,
  OUT_OF_RANGE: status.OUT_OF_RANGE,
  FAILED_PRECONDITION: status.FAILED_PRECONDITION,
  UNAUTHENTICATED: status.UNAUTHENTICATED,
  PERMISSION_DENIED: status.PERMISSION_DENIED,
  RESOURCE_EXHAUSTED: status.RESOURCE_EXHAUSTED,
  SLOW_CONSUMER: status.RESOURCE_EXHAUSTED,
  UNAVAILABLE: status.UNAVAILABLE,
  SERVER_BUSY: status.UNAVAILABLE,
  TIMEOUT: status.DEADLINE_EXCEEDED,
  CANCELLED: status.CANCELLED,
  SHUTTING_DOWN: status.UNAVAILABLE,
  SUBJECT_NOT_FOUND: status.NOT_FOUND,
  VERSION_NOT_FOUND: status.NOT_FOUND,
  SCHEMA_NOT_FOUND: status.NOT_FOUND,
  SUBJECT_NOT_SOFT_DELETED: status.NOT_FOUND,
  VERSION_NOT_SOFT_DELETED: status.NOT_FOUND,
  INVALID_SCHEMA: status.INVALID_ARGUMENT,
  INVALID_VERSION: status.INVALID_ARGUMENT,
  INVALID_COMPATIBILITY_LEVEL: status.INVALID_ARGUMENT,
  INCOMPATIBLE_SCHEMA: status.FAILED_PRECONDITION,
  OPERATION_NOT_PERMITTED: status.FAILED_PRECONDITION,
  SCHEMA_VALIDATION: status.INVALID_ARGUMENT,
  RECORD_NOT_DECODABLE: status.FAILED_PRECONDITION,
  UNIMPLEMENTED: status.UNIMPLEMENTED,
  INTERNAL: status.INTERNAL,
} as const satisfies Record<Code, status>;

/**
 * The HTTP/2 GOAWAY error code (RFC 9113 §7) a connection refused at accept is answered with. It
 * is the only signal a client gets before any stream exists, and gRPC clients map it to the
 * status of the call waiting for that connection: ENHANCE_YOUR_CALM ("generating excessive
 * load") becomes RESOURCE_EXHAUSTED — this address should slow down — and NO_ERROR becomes
 * UNAVAILABLE (retriable: another instance may take the client), as SERVER_BUSY maps above.
 */
export function goawayCode(code: Code): number {
  return GRPC_STATUS[code] === status.RESOURCE_EXHAUSTED ? http2.NGHTTP2_ENHANCE_YOUR_CALM : http2.NGHTTP2_NO_ERROR;
}

/** Trailer naming the catalogue code. */
export const CODE_TRAILER = 'streamgate-code';
/** Trailer saying whether retrying the same call may succeed ("true"/"false"). */
export const RETRIABLE_TRAILER = 'streamgate-retriable';

/** A GatewayError (or anything, via GatewayError.from) as the status object grpc-js sends. */
export function toStatus(err: unknown): Partial<ServiceError> & { code: status; details: string; metadata: Metadata } {
  const error = GatewayError.from(err);
  const metadata = new Metadata();
  metadata.set(CODE_TRAILER, error.code);
  metadata.set(RETRIABLE_TRAILER, String(error.retriable));
  const details = error.details === undefined ? '' : ` ${JSON.stringify(error.details, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`;
  return { name: 'GatewayError', message: error.message, code: GRPC_STATUS[error.code], details: `${error.code}: ${error.message}${details}`, metadata };
}
