/**
 * The `mqtt` config slice: listeners, routing, limits and session persistence; and the adapter's
 * fixed bounds, each named with the reason for its value.
 */
import { z } from 'zod';

const MiB = 1024 * 1024;

// ---- fixed bounds (not configurable: each follows from the spec or from a measured trade-off) ----

/**
 * The server closes a connection silent for this many keepalive periods [MQTT-5:3.1.2-22]
 * [MQTT-3.1.1:3.1.2-24].
 */
export const KEEPALIVE_GRACE = 1.5;

/**
 * Packets other than PUBLISH and its acknowledgements (SUBSCRIBE, UNSUBSCRIBE, …) queued behind one
 * still being handled before the socket is paused: a client pipelining SUBSCRIBEs waits on TCP
 * instead of growing the queue; 100 is far more than any client pipelines.
 */
export const MAX_QUEUED_CONTROL_PACKETS = 100;

/**
 * Received PUBLISHes of one connection for one Kafka topic written in one produce call: large
 * enough to amortize the backend round trip, small enough that one produce (and its rate-limit
 * decision) stays bounded.
 */
export const MAX_PRODUCE_BATCH = 500;

/**
 * A socket paused at `maxInboundQueueBytes` resumes once the queue fell to this fraction of it
 * (hysteresis, so a client at the bound is not paused and resumed per packet).
 */
export const INBOUND_RESUME_FRACTION = 0.5;

/**
 * Records a subscription's reader may be spared at most because another subscription of the same
 * connection, further ahead, already sent them in one PUBLISH for both (overlapping filters). Both
 * readers normally move with the same hub batches, so this is a batch or two; one far behind (a
 * resumed session catching up) gets its own copies instead of an unbounded list.
 */
export const MAX_OVERLAP_COVERED = 1000;

/** Largest delay Node's timers hold (2^31 − 1 ms, ~24.8 days); longer ones are clamped or re-checked. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Bytes of an MQTT fixed header at most: one type byte and a Remaining Length of up to four bytes
 * (MQTT-5 §2.1.4, MQTT-3.1.1 §2.2.3). A WebSocket frame carrying one whole packet is at most
 * `maxPacketBytes` plus this.
 */
export const MAX_FIXED_HEADER_BYTES = 5;

/** Hex characters of the filter's SHA-256 in a `$share/` group name: 48 bits, no collision among one share's filters in practice. */
export const SHARE_GROUP_HASH_CHARS = 12;

/**
 * Characters of a v5 Reason String sent to a client: it is for a human reading a log, and a short
 * one keeps acknowledgements small (they count against the client's Maximum Packet Size).
 */
export const MAX_REASON_STRING_CHARS = 200;

/** Session Expiry Interval meaning "never" (MQTT-5 §3.1.2.11.2): such a session has no expiry timer. */
export const SESSION_NEVER_EXPIRES = 0xffff_ffff;

/** The largest Packet Identifier (a two-byte integer, MQTT-5 §2.2.1); 0 is not one. */
export const MAX_PACKET_ID = 65_535;

const routeObject = z.strictObject({
  /** MQTT topic filter (wildcards allowed). */
  filter: z.string().min(1),
  /** Kafka topic the matching MQTT topics are written to and read from. */
  topic: z.string().min(1),
  /** MQTT topic name for records of this Kafka topic that have no key (default: the Kafka topic name). */
  nullKeyTopic: z.string().min(1).optional(),
});

/** A route as an object, or `filter=topic` (so routes can be set as a comma list in the environment). */
const route = z.union([
  routeObject,
  z
    .string()
    .regex(/^[^=]+=[^=]+$/, 'a route string is "<filter>=<kafka topic>"')
    .transform((s) => {
      const [filter, topic] = s.split('=') as [string, string];
      return { filter: filter.trim(), topic: topic.trim() };
    }),
]);

export const mqttConfigSchema = z.strictObject({
  /** TCP listener port (0 = a free port). */
  port: z.number().int().min(0).max(65535).default(1883),
  /** MQTT over WebSocket at /mqtt on the shared HTTP port (subprotocol `mqtt`). */
  websocket: z.boolean().default(true),
  /** MQTT topic filter → Kafka topic; first match wins. */
  routes: z.array(route).default([]),
  /** Kafka topic of MQTT topics no route matches. */
  defaultTopic: z.string().min(1).default('mqtt-messages'),
  /** MQTT topic name for keyless records of the default topic (default: the default topic's name). */
  defaultNullKeyTopic: z.string().min(1).optional(),
  /**
   * Client ids a principal may use, e.g. `{sub}` or `{sub}-*` (`{sub}` = the principal's subject:
   * JWT `sub`, API key id, certificate name; `{claim:NAME}` = a JWT claim; `*` = any run of
   * characters). With authentication, a CONNECT with a client id that does not match is refused
   * (v5 CONNACK 0x87, 3.1.1 return code 5). Server-assigned ids (empty client id) are exempt: they
   * are new and nobody else's. Unset: any client id not held by another principal.
   */
  clientIdPattern: z.string().min(1).optional(),
  /** Compacted table (core `gateway.table`) holding retained messages, keyed by MQTT topic. */
  retainedTable: z.string().min(1).default('mqtt-retained'),
  /** Compacted table holding persistent sessions, keyed by client id. */
  sessionsTable: z.string().min(1).default('mqtt-sessions'),
  /**
   * Compacted table naming the instance and connection that hold each connected client id, so a
   * CONNECT through one gateway instance takes over a connection held by another [MQTT-5:3.1.4-3]
   * [MQTT-3.1.1:3.1.4-2].
   */
  connectionsTable: z.string().min(1).default('mqtt-connections'),
  /**
   * How long a CONNECT taking over a persistent session from another instance waits for that
   * instance to stop the old connection and hand the session over before it reads the stored state
   * anyway (the previous instance may have crashed). Well under the usual client connect timeouts
   * (MQTT.js 30 s); after a crash each client waits this once.
   */
  takeoverWaitMs: z.number().int().min(0).default(3000),
  /**
   * Largest MQTT packet accepted (CONNACK Maximum Packet Size in v5). 1 MiB matches the core's
   * default record limit, so a packet that fits is never refused by the backend for size.
   */
  maxPacketBytes: z.number().int().min(64).max(268_435_455).default(1 * MiB),
  /**
   * QoS 1/2 PUBLISHes a client may have unacknowledged (CONNACK Receive Maximum in v5). 64 keeps a
   * fast device's pipeline full over a 100 ms link while bounding per-connection memory.
   */
  receiveMaximum: z.number().int().min(1).max(65535).default(64),
  /** QoS 1/2 deliveries the server keeps unacknowledged per connection (also bounded by the client's Receive Maximum). */
  maxInflight: z.number().int().min(1).max(65535).default(64),
  /** Topic aliases a v5 client may define (CONNACK Topic Alias Maximum); 0 disables them. */
  topicAliasMaximum: z.number().int().min(0).max(65535).default(16),
  /**
   * Largest keepalive accepted, in seconds; a larger (or zero) request is replaced via Server Keep
   * Alive (v5). A 3.1.1 client asking for 0 (none) is closed after 1.5 × this of silence. 0 = no limit.
   */
  keepaliveMaxSeconds: z.number().int().min(0).max(65535).default(0),
  /** Time a new connection has to send CONNECT. */
  connectTimeoutMs: z.number().int().positive().default(10_000),
  /**
   * How long a closing connection may take to flush what is still queued for it (a final
   * DISCONNECT with its reason, behind the deliveries already written) before the socket is cut.
   * A peer that does not read is gone after this; 1 s is plenty for a reading peer on a normal
   * link and keeps a dead one from holding its buffers.
   */
  closeDrainMs: z.number().int().positive().default(1_000),
  /**
   * Levels a topic name or filter may have (PUBLISH → 0x90, SUBSCRIBE → 0x8F, will → CONNACK 0x90).
   * Matching is linear in the levels, but a 1 MB packet of 16,000-level filters against deep
   * retained topics still held the event loop for ~0.4 s; 128 is EMQX's default and far above any
   * real topic tree.
   */
  maxTopicLevels: z.number().int().min(1).max(65535).default(128),
  /** Upper bound on session expiry; also the expiry of MQTT 3.1.1 persistent sessions. Default 7 days. */
  sessionExpiryMaxSeconds: z.number().int().min(0).max(SESSION_NEVER_EXPIRES).default(7 * 24 * 3600),
  /**
   * How often a connected persistent session's positions and pending deliveries are written to the
   * sessions table while they change. Bounds the write rate; a gateway crash redelivers at most
   * this much (at-least-once).
   */
  sessionFlushMs: z.number().int().positive().default(1000),
  /** QoS of records written by other protocols (no `mqtt.qos` header), capped by the subscription's QoS. */
  foreignRecordQos: z.union([z.literal(0), z.literal(1), z.literal(2)]).default(1),
  /** Bytes of received, not yet written PUBLISH payloads per connection before the socket is paused. */
  maxInboundQueueBytes: z.number().int().positive().default(4 * MiB),
});
export type MqttConfig = z.infer<typeof mqttConfigSchema>;
