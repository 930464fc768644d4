/**
 * Configuration: one zod schema (the core's sections plus each adapter's slice), filled from a
 * YAML file, `STREAMGATE_*` environment variables and CLI flags (later sources win), validated
 * once at start and then frozen. This is the only module that reads the environment.
 *
 * Every key is reachable three ways: YAML `hub.maxQueueBytes: 1048576`, environment
 * `STREAMGATE_HUB_MAX_QUEUE_BYTES=1048576`, flag `--hub.max-queue-bytes=1048576`.
 */
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { authConfigShape } from './auth.js';

const MiB = 1024 * 1024;

/** The core's sections. Adapters add their own slices (see each adapters/<protocol>/config.ts). */
export const coreConfigShape = {
  /** Interface every listener binds to. Loopback by default: exposing the gateway is a decision. */
  host: z.string().min(1).default('127.0.0.1'),
  /** Embedded backend storage directory (used when kafka.brokers is empty). */
  dataDir: z.string().min(1).default('./data'),
  log: z
    .strictObject({
      level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    })
    .prefault({}),
  http: z
    .strictObject({
      port: z.number().int().min(0).max(65535).default(8080),
    })
    .prefault({}),
  kafka: z
    .strictObject({
      /** Bootstrap brokers; when non-empty the Kafka backend is used instead of the embedded log. */
      brokers: z.array(z.string().min(1)).default([]),
      clientId: z.string().min(1).default('streamgate'),
      /** Producer acks: -1 = all in-sync replicas (default; nothing acknowledged is lost), 1 = leader. */
      acks: z.union([z.literal(-1), z.literal(1)]).default(-1),
      connectionTimeoutMs: z.number().int().positive().default(3000),
      requestTimeoutMs: z.number().int().positive().default(30000),
    })
    .prefault({}),
  embedded: z
    .strictObject({
      /** Partitions of topics created automatically on the embedded log. */
      defaultPartitions: z.number().int().min(1).max(1024).default(1),
      retentionBytesPerPartition: z.number().int().positive().default(1024 * MiB),
      retentionMs: z.number().int().positive().default(7 * 24 * 3600 * 1000),
    })
    .prefault({}),
  topics: z
    .strictObject({
      /** Create a topic on first produce (Kafka's own default). Reading a missing topic is always NOT_FOUND. */
      autoCreate: z.boolean().default(true),
      /** Partitions of auto-created topics (Kafka backend). */
      defaultPartitions: z.number().int().min(1).max(1024).default(1),
      /**
       * How often the core checks whether a topic that subscriptions or group members wait for
       * (`waitForTopic`, e.g. an MQTT SUBSCRIBE before anything was published) exists now: one
       * metadata call per missing topic per interval, however many wait for it. A produce through
       * this gateway wakes them at once; the poll is for topics created elsewhere, so 1 s is the
       * delay a device sees for a topic another instance or client created.
       */
      waitPollMs: z.number().int().positive().default(1000),
      /**
       * Prefix of the gateway's own state topics (MQTT sessions and retained messages, group
       * membership, REST consumer instances, instance liveness). No client operation on any
       * protocol may read, write, describe or list a topic with this prefix — nor Kafka's own `__`
       * topics — whatever its grants. Change it only before the first start (state lives there).
       */
      internalPrefix: z.string().min(1).regex(/^[a-zA-Z0-9._-]+$/, 'must be a valid topic-name prefix').default('__streamgate-'),
    })
    .prefault({}),
  limits: z
    .strictObject({
      /** Largest record (key + value + headers) accepted from any protocol. Kafka's default message.max.bytes is ~1 MiB. */
      maxRecordBytes: z.number().int().positive().default(1 * MiB),
      /**
       * Most headers one produced record may carry (names may repeat). Their bytes already count
       * toward maxRecordBytes (16 bytes of overhead each); the count bounds the per-record work of
       * carrying them to every protocol (one MQTT user property, JSON entry or proto message each).
       * Tracing and routing use a handful; 1,000 leaves room for any real use.
       */
      maxHeadersPerRecord: z.number().int().positive().default(1_000),
      /** Largest produce batch in records. */
      maxBatchRecords: z.number().int().positive().default(10_000),
      /** Open client connections, all protocols together; past it new ones are refused (RESOURCE_EXHAUSTED). */
      maxConnections: z.number().int().positive().default(100_000),
      /** Open connections from one remote address: one misbehaving host cannot take them all. */
      maxConnectionsPerAddress: z.number().int().positive().default(10_000),
      /** Subscriptions one connection may hold (each costs a queue and a hub entry). */
      maxSubscriptionsPerConnection: z.number().int().positive().default(1_000),
      /** Records per second one principal may produce (token bucket); 0 = unlimited. */
      publishRatePerPrincipal: z.number().min(0).default(0),
      /** Burst allowed above the rate, in records. */
      publishBurstPerPrincipal: z.number().int().positive().default(10_000),
    })
    .prefault({}),
  hub: z
    .strictObject({
      /**
       * Bytes queued per subscriber before it is detached from the live tail and caught up from the
       * log instead. 1 MiB holds ~1,000 1 KiB records: enough to absorb bursts, small enough that
       * 10,000 subscribers cannot exhaust memory (10 GiB worst case would be too much; most are idle).
       */
      maxQueueBytes: z.number().int().positive().default(1 * MiB),
      /** A subscriber still this many records behind the tail, or behind for longer than slowConsumerMs, is ended (SLOW_CONSUMER). */
      maxLagRecords: z.number().int().positive().default(1_000_000),
      slowConsumerMs: z.number().int().positive().default(60_000),
      /** Records per backend fetch for the shared readers and catch-up reads. */
      fetchMaxRecords: z.number().int().positive().default(500),
      fetchMaxBytes: z.number().int().positive().default(4 * MiB),
      /** Long-poll wait of the shared tail readers. */
      tailWaitMs: z.number().int().positive().default(500),
      /** Back-off after a backend error before a reader retries. */
      retryBackoffMs: z.number().int().positive().default(250),
    })
    .prefault({}),
  groups: z
    .strictObject({
      /** Delivered but unacknowledged records (push mode) are delivered again after this long. */
      ackTimeoutMs: z.number().int().min(0).default(30_000),
      /** Interval of automatic commits of the acknowledged prefix. */
      autoCommitIntervalMs: z.number().int().positive().default(1_000),
      /** How often an instance refreshes its group members' entries in the shared membership table, and its own liveness entry in the `instances` table (gateway/instances.ts). */
      heartbeatMs: z.number().int().positive().default(3_000),
      /** A member not refreshed for this long is gone: its partitions move to the others (Kafka's default session timeout is 45 s; 10 s moves work sooner after a crash). Also the liveness cutoff of a gateway instance (`Gateway.instanceAlive`, e.g. MQTT takeover stops waiting for a crashed instance). */
      sessionTimeoutMs: z.number().int().positive().default(10_000),
      /** Unacknowledged records one push-mode member may hold before delivery waits for acks. */
      maxInflight: z.number().int().positive().default(1_000),
    })
    .prefault({}),
  idempotency: z
    .strictObject({
      /** How long a produce's idempotency key is remembered. */
      windowMs: z.number().int().positive().default(10 * 60 * 1000),
      /** Bound on remembered keys (oldest forgotten first). */
      maxKeys: z.number().int().positive().default(100_000),
    })
    .prefault({}),
  schemaRegistry: z
    .strictObject({
      /**
       * Serve the Confluent-compatible Schema Registry API (`/subjects`, `/schemas`, `/config`,
       * `/compatibility`, `/mode`) on the HTTP port. On by default: it costs nothing until first
       * used (its topics are created then), and registry clients need only the gateway's URL.
       */
      enabled: z.boolean().default(true),
      /**
       * The compacted topic holding the schemas, in Confluent's `_schemas` record format (Confluent
       * Schema Registry's `kafkastore.topic`). Internal: no client protocol may read or write it.
       */
      topic: z.string().min(1).max(249).regex(/^[a-zA-Z0-9._-]+$/, 'must be a valid topic name').default('_schemas'),
      /** The level of subjects without their own (Confluent's default). */
      defaultCompatibility: z.enum(['NONE', 'BACKWARD', 'BACKWARD_TRANSITIVE', 'FORWARD', 'FORWARD_TRANSITIVE', 'FULL', 'FULL_TRANSITIVE']).default('BACKWARD'),
      /** Largest schema text: a schema is compiled on registration and kept compiled; 256 KiB holds any real-world schema. */
      maxSchemaBytes: z.number().int().positive().default(256 * 1024),
      /** Nesting depth of a schema (records in records, JSON objects, Protobuf braces); parsers recurse this deep at most. */
      maxDepth: z.number().int().positive().max(256).default(64),
      /** JSON nodes / Protobuf declarations of one schema: bounds compile time and memory (an enum of 100k symbols is refused). */
      maxNodes: z.number().int().positive().default(20_000),
      /** Schemas one schema may reference, transitively. */
      maxReferences: z.number().int().positive().default(100),
      /** Compiled schemas kept (least recently used dropped first). */
      compiledCacheSize: z.number().int().positive().default(1_000),
      /** Subjects the registry holds at most. */
      maxSubjects: z.number().int().positive().default(10_000),
      /** Versions one subject holds at most (live and soft-deleted). */
      maxVersionsPerSubject: z.number().int().positive().default(1_000),
      /**
       * Topic bindings (gateway/schemas/bindings.ts): every produce on every protocol to a matching
       * topic is checked against the subject's schema before anything is written, and with
       * `encode: true` JSON is written in the Confluent wire format. `topic` is a name or a pattern
       * (`*` = any run of characters, as in grants); the first binding matching a topic wins, per
       * side. `subject` defaults to `<topic>-value` / `<topic>-key` (TopicNameStrategy).
       */
      bindings: z
        .array(
          z.strictObject({
            topic: z.string().min(1).max(249).regex(/^[a-zA-Z0-9._*-]+$/, 'must be a topic name or a pattern with *'),
            subject: z.string().min(1).max(255).optional(),
            format: z.enum(['avro', 'jsonschema', 'protobuf']),
            side: z.enum(['value', 'key']).default('value'),
            encode: z.boolean().default(false),
          }),
        )
        .max(1_000)
        .default([]),
    })
    .prefault({})
    .refine((r) => r.enabled || r.bindings.length === 0, { message: 'bindings need the schema registry (schemaRegistry.enabled)', path: ['bindings'] }),
  ...authConfigShape,
  tls: z
    .strictObject({
      /** PEM certificate chain and key: when both are set, every listener (HTTP/WebSocket, MQTT, gRPC) speaks TLS only. */
      certFile: z.string().optional(),
      keyFile: z.string().optional(),
      /** PEM CA bundle for verifying client certificates. */
      caFile: z.string().optional(),
      /** `none`: no client certificates; `request`: verify one if sent (its subject becomes the principal); `require`: refuse clients without one. */
      clientAuth: z.enum(['none', 'request', 'require']).default('none'),
    })
    .prefault({})
    .refine((t) => (t.certFile === undefined) === (t.keyFile === undefined), { message: 'certFile and keyFile must be set together' })
    .refine((t) => t.clientAuth === 'none' || t.caFile !== undefined, { message: 'clientAuth needs caFile' }),
  shutdown: z
    .strictObject({
      /** SIGTERM: time allowed to finish in-flight work before the process exits anyway. */
      deadlineMs: z.number().int().positive().default(10_000),
    })
    .prefault({}),
} as const;

/** The core's sections alone, strict (an unknown key is an error naming it); the full schema adds each adapter's slice. */
export const coreConfigSchema = z.object(coreConfigShape).strict();
/** The validated core sections, defaults filled in. */
export type CoreConfig = z.infer<typeof coreConfigSchema>;

/** Where configuration comes from; defaults to the real process. */
export interface ConfigSources {
  argv?: readonly string[];
  env?: Readonly<Record<string, string | undefined>>;
  /** Parsed object used instead of reading a file (tests, embedding). */
  file?: unknown;
}

/** A configuration error naming the offending key. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const ENV_PREFIX = 'STREAMGATE_';

/**
 * Builds the configuration from defaults < YAML file (`STREAMGATE_CONFIG` or `--config`) <
 * environment < CLI flags, validates it against `schema` and deep-freezes it.
 */
export function loadConfig<S extends z.ZodObject>(schema: S, sources: ConfigSources = {}): Readonly<z.infer<S>> {
  const env = sources.env ?? process.env;
  const argv = sources.argv ?? process.argv.slice(2);
  const flags = parseFlags(argv);

  let base: Record<string, unknown> = {};
  const configPath = flags.get('config') ?? env[`${ENV_PREFIX}CONFIG`];
  flags.delete('config');
  if (sources.file !== undefined) {
    base = asObject(sources.file, 'config');
  } else if (configPath !== undefined && configPath !== '') {
    let text: string;
    try {
      text = readFileSync(configPath, 'utf8');
    } catch (err) {
      throw new ConfigError(`Cannot read config file ${configPath}: ${(err as Error).message}`);
    }
    try {
      base = asObject(parseYaml(text) ?? {}, configPath);
    } catch (err) {
      throw new ConfigError(`Config file ${configPath} is not valid YAML: ${(err as Error).message}`);
    }
  }

  const leaves = leafPaths(schema);
  const byEnv = new Map(leaves.map((leaf) => [ENV_PREFIX + leaf.path.map(toSnake).join('_'), leaf]));
  const byFlag = new Map(leaves.map((leaf) => [leaf.path.map(toKebab).join('.'), leaf]));
  for (const leaf of leaves) byFlag.set(leaf.path.map(toKebab).join('-'), leaf);

  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith(ENV_PREFIX) || raw === undefined || name === `${ENV_PREFIX}CONFIG`) continue;
    const leaf = byEnv.get(name);
    if (leaf === undefined) throw new ConfigError(`Unknown environment variable ${name}.`);
    setPath(base, leaf.path, coerce(raw, leaf.isArray, leaf.isString));
  }
  for (const [name, raw] of flags) {
    const leaf = byFlag.get(name) ?? byFlag.get(name.split('.').map(toKebab).join('.'));
    if (leaf === undefined) throw new ConfigError(`Unknown flag --${name}.`);
    setPath(base, leaf.path, coerce(raw, leaf.isArray, leaf.isString));
  }

  const parsed = schema.safeParse(base);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = issue.path.join('.') || '(root)';
    const keys = issue.code === 'unrecognized_keys' ? ` (${issue.keys.join(', ')})` : '';
    throw new ConfigError(`Invalid config key "${key}"${keys}: ${issue.message}`);
  }
  return deepFreeze(parsed.data) as Readonly<z.infer<S>>;
}

function parseFlags(argv: readonly string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new ConfigError(`Unexpected argument "${arg}" (flags look like --http.port=8080).`);
    const eq = arg.indexOf('=');
    if (eq > 0) {
      flags.set(arg.slice(2, eq), arg.slice(eq + 1));
    } else {
      const next = argv[i + 1];
      if (next === undefined || next.startsWith('--')) flags.set(arg.slice(2), 'true');
      else {
        flags.set(arg.slice(2), next);
        i++;
      }
    }
  }
  return flags;
}

interface Leaf {
  path: string[];
  isArray: boolean;
  /** A string-typed key keeps its text as is (an all-digit secret stays a string). */
  isString: boolean;
}

/** Walks the schema's object shapes down to leaves, looking through defaults and optionals. */
function leafPaths(schema: z.ZodType, prefix: string[] = []): Leaf[] {
  const inner = unwrap(schema);
  if (inner instanceof z.ZodObject) {
    return Object.entries(inner.shape as Record<string, z.ZodType>).flatMap(([key, child]) => leafPaths(child, [...prefix, key]));
  }
  return [{ path: prefix, isArray: inner instanceof z.ZodArray, isString: inner instanceof z.ZodString }];
}

function unwrap(schema: z.ZodType): z.ZodType {
  let current: z.ZodType = schema;
  for (;;) {
    const def = (current as unknown as { _zod: { def: { innerType?: z.ZodType } } })._zod.def;
    if (def.innerType === undefined) return current;
    current = def.innerType;
  }
}

function coerce(raw: string, isArray: boolean, isString = false): unknown {
  if (isArray) return raw === '' ? [] : raw.split(',').map((s) => s.trim()).filter((s) => s !== '');
  if (isString) return raw;
  if (/^-?\d+(\.\d+)?$/.test(raw)) return Number(raw);
  if (raw === 'true') return true;
  if (raw === 'false') return false;
  return raw;
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

function asObject(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ConfigError(`${what} must be a mapping of keys.`);
  return structuredClone(value) as Record<string, unknown>;
}

function toSnake(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

function toKebab(key: string): string {
  return key.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}
