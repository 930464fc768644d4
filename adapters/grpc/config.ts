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
  /**
   * Time a connection has, from TCP accept, to finish TLS (when configured) and send the HTTP/2
   * client preface and its first SETTINGS frame; a socket that does not is closed. A real client
   * sends the preface right after connecting (one round trip, two with TLS), so 10 s is far above
   * any healthy link while a socket that never speaks costs a slot only briefly (the HTTP
   * listener's headers timeout is the same 10 s).
   */
  handshakeTimeoutMs: z.number().int().positive().default(10_000),
  /**
   * Concurrent calls one connection may hold (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS). 100 is the
   * minimum RFC 9113 §6.5.2 recommends and what most gRPC servers announce; each Subscribe or
   * Session costs hub queues and a stream buffer (grpc.maxBufferedBytes), so one connection must
   * not open them without limit.
   */
  maxConcurrentStreams: z.number().int().positive().default(100),
  /**
   * Bytes one stream may have handed to grpc-js that HTTP/2 has not accepted yet (its write
   * callback fired when flow control let the bytes out). Records wait below it, so a subscriber's
   * sink resolves only once the transport took its bytes and a client that does not read holds at
   * most this plus its hub queue (hub.maxQueueBytes) — then the hub ends it (SLOW_CONSUMER). 1 MiB
   * matches hub.maxQueueBytes and websocket.maxBufferedBytes: it keeps a fast client's pipe full on
   * a high-latency link (1 MiB / 100 ms ≈ 80 Mbit/s).
   */
  maxBufferedBytes: z.number().int().positive().default(1 * MiB),
  /**
   * A stream whose unaccepted frames (records plus replies such as pong, published, error, which
   * are not held back) exceed this is not reading at all: it is ended with SLOW_CONSUMER
   * (RESOURCE_EXHAUSTED) instead of buffering without bound — as websocket.closeBufferedBytes.
   */
  closeBufferedBytes: z.number().int().positive().default(8 * MiB),
  /** On shutdown, streams still open this long after GOAWAY are cancelled. */
  shutdownGraceMs: z.number().int().min(0).default(5_000),
});
export type GrpcConfig = z.infer<typeof grpcConfigSchema>;

/**
 * Largest records frame the adapter builds: half the message limit leaves room for the envelope
 * and the size estimate's error, and no more than grpc.maxBufferedBytes, so one frame handed over
 * at the bound at most doubles what a stream holds (a single larger record still goes alone).
 */
export function recordsFrameBytes(config: Pick<GrpcConfig, 'maxMessageBytes' | 'maxBufferedBytes'>): number {
  return Math.min(Math.floor(config.maxMessageBytes / 2), config.maxBufferedBytes);
}
