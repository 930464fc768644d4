/**
 * The WebSocket adapter's config slice (`websocket.*`, e.g. `STREAMGATE_WEBSOCKET_MAX_BUFFERED_BYTES`).
 * Every key has a default; each bound says why it has the value it has.
 */
import { z } from 'zod';

const MiB = 1024 * 1024;

export const websocketConfigSchema = z.strictObject({
  /** Serve `/v1/ws`. Off: the path answers 404 like any unknown upgrade path. */
  enabled: z.boolean().default(true),
  /**
   * Which implementation speaks WebSocket, for every WebSocket endpoint of the process (`/v1/ws`
   * and MQTT's `/mqtt`): the process reads this key once for its transport
   * (transport/websocket.ts). `ws` (default) on the shared HTTP port. `uws`:
   * uWebSockets.js (official module if installed, else `@trufflesuite/uws-js-unofficial`) serving
   * both paths on its own port `uwsPort` (uWS cannot share node:http's listener), in addition to
   * `ws` on the shared port; start fails if no build loads, and the config is refused with TLS
   * (the builds have none). `auto`: `uws` when a build loads and TLS is off, else `ws` only with
   * one log line.
   */
  engine: z.enum(['ws', 'uws', 'auto']).default('ws'),
  /** Port of the uWebSockets.js listener (`engine: uws|auto`); 0 picks a free one (logged, and reported as `ports.websocket` in the ready line). */
  uwsPort: z.number().int().min(0).max(65535).default(0),
  /**
   * Largest frame a client may send; over it the engine closes with 1009 (RFC 6455 §7.4.1).
   * A publish frame carries JSON or base64 text, larger than the bytes it holds: 2 MiB leaves
   * room for one record at limits.maxRecordBytes (1 MiB) in base64 (×4/3) plus envelope.
   */
  maxPayloadBytes: z.number().int().positive().default(2 * MiB),
  /**
   * Subscription records are not written while the socket holds more than this many unsent bytes;
   * the sink resolves (the hub's backpressure signal) once it is back under. 1 MiB matches
   * hub.maxQueueBytes: one queue's worth in the socket keeps a fast client's pipe full on a
   * high-latency link (1 MiB / 100 ms RTT ≈ 80 Mbit/s) while 10,000 stalled clients cost at
   * most ~10 GiB only in the pathological case that all of them stall with full buffers.
   */
  maxBufferedBytes: z.number().int().positive().default(1 * MiB),
  /**
   * A client whose unsent replies (acks, errors, pongs) exceed this is not reading at all: it is
   * closed with 4008 SLOW_CONSUMER instead of growing the buffer without bound. Records never get
   * here (they wait for maxBufferedBytes); only a client that sends requests and never reads does.
   */
  closeBufferedBytes: z.number().int().positive().default(8 * MiB),
  /**
   * A WebSocket ping every this many ms; a connection that did not answer (pong or any frame)
   * since the previous ping is terminated. 30 s is below the 60 s idle timeout of common proxies
   * and load balancers (nginx proxy_read_timeout, AWS ALB), so it also keeps idle paths open.
   */
  pingIntervalMs: z.number().int().positive().default(30_000),
  /**
   * Bound on publishes awaiting the backend per connection; over it: RESOURCE_EXHAUSTED (retriable).
   * With 2 MiB frames this caps one connection's produce memory at ~128 MiB.
   */
  maxInFlightPublishes: z.number().int().positive().default(64),
  /**
   * permessage-deflate (RFC 7692). Off by default: it costs ~300 KiB of zlib state per connection
   * and CPU per frame, which defeats cheap idle connections; turn it on for slow links.
   */
  perMessageDeflate: z.boolean().default(false),
  /** Serve the demo page at `/` and `/demo` and the browser client at `/assets/streamgate.js`. */
  demo: z.boolean().default(true),
  /** On shutdown, time given to in-flight publishes and the close handshake before sockets are cut. */
  closeTimeoutMs: z.number().int().positive().default(5_000),
});
export type WebsocketConfig = z.infer<typeof websocketConfigSchema>;
