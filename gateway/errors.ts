/**
 * The one error catalogue. Every failure the core reports has a stable code from this table;
 * each adapter maps codes to its protocol in one table typed `satisfies Record<Code, …>`, so a
 * code without a mapping fails to compile.
 */

/** gRPC-style status classes: the coarse meaning of a code, shared by every protocol mapping. */
export type StatusClass =
  | 'INVALID_ARGUMENT'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'OUT_OF_RANGE'
  | 'FAILED_PRECONDITION'
  | 'UNAUTHENTICATED'
  | 'PERMISSION_DENIED'
  | 'RESOURCE_EXHAUSTED'
  | 'UNAVAILABLE'
  | 'DEADLINE_EXCEEDED'
  | 'CANCELLED'
  | 'UNIMPLEMENTED'
  | 'INTERNAL';

/** Whether an error ends one request or the whole connection/stream it happened on. */
export type ErrorScope = 'request' | 'connection';

interface CodeInfo {
  readonly status: StatusClass;
  readonly retriable: boolean;
  readonly scope: ErrorScope;
  readonly summary: string;
}

/** Every error code the gateway can report, with its class, retriability and scope. */
export const CATALOGUE = {
  INVALID_ARGUMENT: { status: 'INVALID_ARGUMENT', retriable: false, scope: 'request', summary: 'The request is malformed or a field is invalid.' },
  INVALID_KEY: { status: 'INVALID_ARGUMENT', retriable: false, scope: 'request', summary: 'A record key could not be decoded in the declared format.' },
  INVALID_VALUE: { status: 'INVALID_ARGUMENT', retriable: false, scope: 'request', summary: 'A record value could not be decoded in the declared format.' },
  INVALID_TOPIC: { status: 'INVALID_ARGUMENT', retriable: false, scope: 'request', summary: 'The topic name is not a legal Kafka topic name.' },
  MESSAGE_TOO_LARGE: { status: 'RESOURCE_EXHAUSTED', retriable: false, scope: 'request', summary: 'A record or request exceeds the configured size limit.' },
  TOPIC_NOT_FOUND: { status: 'NOT_FOUND', retriable: false, scope: 'request', summary: 'The topic does not exist.' },
  PARTITION_NOT_FOUND: { status: 'NOT_FOUND', retriable: false, scope: 'request', summary: 'The partition does not exist in the topic.' },
  CONSUMER_NOT_FOUND: { status: 'NOT_FOUND', retriable: false, scope: 'request', summary: 'The consumer (group member) does not exist or has expired.' },
  NOT_FOUND: { status: 'NOT_FOUND', retriable: false, scope: 'request', summary: 'The requested resource does not exist.' },
  ALREADY_EXISTS: { status: 'ALREADY_EXISTS', retriable: false, scope: 'request', summary: 'The resource already exists.' },
  OUT_OF_RANGE: { status: 'OUT_OF_RANGE', retriable: false, scope: 'request', summary: 'The offset is outside the range the log holds.' },
  FAILED_PRECONDITION: { status: 'FAILED_PRECONDITION', retriable: false, scope: 'request', summary: 'The operation is not allowed in the current state.' },
  UNAUTHENTICATED: { status: 'UNAUTHENTICATED', retriable: false, scope: 'connection', summary: 'Credentials are missing, invalid or expired.' },
  PERMISSION_DENIED: { status: 'PERMISSION_DENIED', retriable: false, scope: 'request', summary: 'The principal may not perform this operation on this resource.' },
  RESOURCE_EXHAUSTED: { status: 'RESOURCE_EXHAUSTED', retriable: true, scope: 'request', summary: 'A configured limit or quota was exceeded.' },
  SLOW_CONSUMER: { status: 'RESOURCE_EXHAUSTED', retriable: true, scope: 'connection', summary: 'The subscriber fell too far behind and was cut off; resume from its last position.' },
  UNAVAILABLE: { status: 'UNAVAILABLE', retriable: true, scope: 'request', summary: 'The backend is unreachable or not ready; retry later.' },
  SERVER_BUSY: { status: 'UNAVAILABLE', retriable: true, scope: 'connection', summary: 'This gateway instance holds as many connections as it may; retry later or connect to another instance.' },
  TIMEOUT: { status: 'DEADLINE_EXCEEDED', retriable: true, scope: 'request', summary: 'The operation did not complete in time.' },
  CANCELLED: { status: 'CANCELLED', retriable: true, scope: 'request', summary: 'The operation was cancelled by the caller.' },
  SHUTTING_DOWN: { status: 'UNAVAILABLE', retriable: true, scope: 'connection', summary: 'The gateway is shutting down; reconnect (to another instance).' },
  SUBJECT_NOT_FOUND: { status: 'NOT_FOUND', retriable: false, scope: 'request', summary: 'The schema registry subject does not exist (or is soft-deleted).' },
  VERSION_NOT_FOUND: { status: 'NOT_FOUND', retriable: false, scope: 'request', summary: 'The subject has no such schema version.' },
  SCHEMA_NOT_FOUND: { status: 'NOT_FOUND', retriable: false, scope: 'request', summary: 'No schema with this id, or not registered under this subject.' },
  SUBJECT_NOT_SOFT_DELETED: { status: 'NOT_FOUND', retriable: false, scope: 'request', summary: 'A subject must be soft-deleted before it is deleted permanently.' },
  VERSION_NOT_SOFT_DELETED: { status: 'NOT_FOUND', retriable: false, scope: 'request', summary: 'A schema version must be soft-deleted before it is deleted permanently.' },
  INVALID_SCHEMA: { status: 'INVALID_ARGUMENT', retriable: false, scope: 'request', summary: 'The schema does not parse, or exceeds the registry limits.' },
  INVALID_VERSION: { status: 'INVALID_ARGUMENT', retriable: false, scope: 'request', summary: 'A schema version is not a positive integer or "latest".' },
  INVALID_COMPATIBILITY_LEVEL: { status: 'INVALID_ARGUMENT', retriable: false, scope: 'request', summary: 'The compatibility level is not one the registry knows.' },
  INCOMPATIBLE_SCHEMA: { status: 'FAILED_PRECONDITION', retriable: false, scope: 'request', summary: 'The schema breaks the subject compatibility level with an earlier version.' },
  OPERATION_NOT_PERMITTED: { status: 'FAILED_PRECONDITION', retriable: false, scope: 'request', summary: 'The registry (or subject) mode forbids the operation, e.g. a write in READONLY mode.' },
  SCHEMA_VALIDATION: { status: 'INVALID_ARGUMENT', retriable: false, scope: 'request', summary: 'A record breaks the schema its topic is bound to (schemaRegistry.bindings); nothing of the request was written.' },
  RECORD_NOT_DECODABLE: { status: 'FAILED_PRECONDITION', retriable: false, scope: 'request', summary: 'A stored record is not in the schema format its reader asked for (REST v2 avro / jsonschema / protobuf consumers); seek past it to go on.' },
  UNIMPLEMENTED: { status: 'UNIMPLEMENTED', retriable: false, scope: 'request', summary: 'The operation is not supported.' },
  INTERNAL: { status: 'INTERNAL', retriable: false, scope: 'request', summary: 'An unexpected gateway fault; details are in the gateway log.' },
} as const satisfies Readonly<Record<string, CodeInfo>>;

/** A stable error code from the catalogue. */
export type Code = keyof typeof CATALOGUE;

/** All codes, for tables and documentation tests. */
export const CODES = Object.keys(CATALOGUE) as Code[];

/** The one error type the core throws and adapters translate. */
export class GatewayError extends Error {
  override readonly name = 'GatewayError';
  /** The catalogue code: what adapters map to their protocol's status, and what clients branch on. */
  readonly code: Code;
  /** Structured details safe to show a client (never secrets, never stack traces). */
  readonly details: Readonly<Record<string, unknown>> | undefined;

  constructor(code: Code, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options?.details;
  }

  /** The gRPC-style class of the code, from the catalogue. */
  get status(): StatusClass {
    return CATALOGUE[this.code].status;
  }

  /** Whether the same request may succeed if sent again unchanged (from the catalogue). */
  get retriable(): boolean {
    return CATALOGUE[this.code].retriable;
  }

  /** Whether the error ends one request or the whole connection (from the catalogue). */
  get scope(): ErrorScope {
    return CATALOGUE[this.code].scope;
  }

  /**
   * Turns any throwable into a GatewayError. Unknown throwables become INTERNAL with the
   * original kept as `cause` for the log; their message is never shown to clients.
   */
  static from(err: unknown): GatewayError {
    if (err instanceof GatewayError) return err;
    if (isAbortError(err)) return new GatewayError('CANCELLED', 'The operation was cancelled.', { cause: err });
    return new GatewayError('INTERNAL', 'Internal gateway error.', { cause: err });
  }
}

function isAbortError(err: unknown): boolean {
  return err instanceof Error && (err.name === 'AbortError' || (err as { code?: unknown }).code === 'ABORT_ERR');
}

/** Shorthand for throwing a catalogued error. */
export function fail(code: Code, message: string, details?: Record<string, unknown>): never {
  throw new GatewayError(code, message, details === undefined ? undefined : { details });
}
