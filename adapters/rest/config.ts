/**
 * The REST adapter's config slice (`rest.*`, e.g. `STREAMGATE_REST_CONSUMER_INSTANCE_TIMEOUT_MS`).
 * Every key has a default; the bounds name why they exist.
 */
import { z } from 'zod';

const MiB = 1024 * 1024;

export const restConfigSchema = z.strictObject({
  /**
   * A v2 consumer instance not used for this long is removed and leaves its group (40403 after).
   * 300000 is Confluent REST Proxy's `consumer.instance.timeout.ms` default.
   */
  consumerInstanceTimeoutMs: z.number().int().positive().default(300_000),
  /** Bound on live v2 consumer instances (each holds a group membership); over it: 429. */
  maxConsumerInstances: z.number().int().positive().default(1_000),
  /** Default `timeout` of `GET …/records` (Confluent's `consumer.request.timeout.ms` default is 1000). */
  consumerRequestTimeoutMs: z.number().int().min(0).default(1_000),
  /** Default and cap of `max_bytes` for `GET …/records` (Confluent's `consumer.request.max.bytes`: 64 MiB). */
  consumerRequestMaxBytes: z.number().int().positive().default(64 * MiB),
  /** Cap on any long-poll wait a client asks for (`timeout`, `timeout_ms`), so requests cannot pin resources forever. */
  maxPollWaitMs: z.number().int().min(0).default(30_000),
  /** Default and cap of `max` for the native v1 fetch. */
  v1MaxRecords: z.number().int().positive().default(500),
  /**
   * Largest request body read. A produce body carries base64 or JSON text, so it is larger than
   * the records it holds: the default leaves room for one 1 MiB record (limits.maxRecordBytes)
   * plus envelope. Over it: 413 and reading stops.
   */
  maxBodyBytes: z.number().int().positive().default(MiB + 64 * 1024),
  /**
   * The URL clients reach this gateway at (e.g. `https://stream.example.com`, a path prefix
   * allowed), used for v2 consumer `base_uri`s. Unset: the listener's own scheme and address
   * (the socket's local address and port). Never the request's `Host` header, which the client
   * chooses: a forged one would send the consumer's later requests (and credentials) elsewhere.
   */
  advertisedUrl: z.url({ protocol: /^https?$/ }).optional(),
  /** SSE heartbeat comment interval: keeps proxies (typically 30–60 s idle timeouts) from closing idle streams. */
  sseHeartbeatMs: z.number().int().positive().default(15_000),
  /** `retry:` hint sent to EventSource clients: how long they wait before reconnecting. */
  sseRetryMs: z.number().int().positive().default(2_000),
});
export type RestConfig = z.infer<typeof restConfigSchema>;
