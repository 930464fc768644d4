/**
 * The gRPC adapter's config slice (`grpc.*`, e.g. `STREAMGATE_GRPC_PORT`,
 * `STREAMGATE_GRPC_MAX_MESSAGE_BYTES`). Every key has a default; each bound says why it exists.
 */
import { z } from 'zod';

const MiB = 1024 * 1024;

export const grpcConfigSchema = z.strictObject({
  /** Listening port (own HTTP/2 listener, not the shared HTTP server). 50051 is gRPC's conventional port; 0 picks a free one. */
  port: z.number().int().min(0).max(65535).default(50051),
  /**
   * Largest message received or sent, in bytes (grpc.max_receive/send_message_length). 4 MiB is
   * gRPC's own default and holds a batch of a few 1 MiB records (limits.maxRecordBytes); larger
   * requests are refused with RESOURCE_EXHAUSTED before they are decoded.
   */
  maxMessageBytes: z.number().int().min(1024).default(4 * MiB),
  /** Subscriptions one Session may hold open; each holds a hub subscriber queue (hub.maxQueueBytes). */
  maxSubscriptionsPerSession: z.number().int().positive().default(100),
  /**
   * Publishes of one Session awaiting the backend before the server stops reading that stream
   * (HTTP/2 flow control then pushes back on the client): bounds memory per session.
   */
  maxPendingPublishes: z.number().int().positive().default(64),
  /** Longest `wait_ms` a Fetch may long-poll, so a request cannot pin resources forever. */
  maxFetchWaitMs: z.number().int().min(0).default(30_000),
  /** On shutdown, streams still open this long after GOAWAY are cancelled. */
  shutdownGraceMs: z.number().int().min(0).default(5_000),
});
export type GrpcConfig = z.infer<typeof grpcConfigSchema>;
