/**
 * The slice of kafkajs 2.2.4's internal protocol layer (Cluster, Broker) this backend uses, with
 * the types it relies on. kafkajs has no public API to fetch one partition from an offset without
 * a consumer group, nor a producer that survives the deletion of a topic it wrote to (its
 * metadata refresh keeps asking for the deleted topic and fails every later send), so the backend
 * talks to brokers through the same Cluster/Broker objects kafkajs's own clients use. kafkajs is
 * pinned to 2.2.4 in package.json; these shapes are read from its source (src/broker/index.js,
 * src/cluster/index.js, src/protocol/requests/*).
 */
import { createRequire } from 'node:module';
import type { Logger } from 'pino';
import type { DecodedHeaders, KafkaJsHeaders } from './headers.js';

const require = createRequire(import.meta.url);

/** kafkajs log levels (src/loggers/index.js LEVELS). */
export const KAFKAJS_LEVELS = { NOTHING: 0, ERROR: 1, WARN: 2, INFO: 4, DEBUG: 5 } as const;

/** Fetch isolation (src/protocol/isolationLevel.js): read up to the high watermark, aborted transactions included. */
export const READ_UNCOMMITTED = 0;
/** Fetch isolation: read up to the last stable offset; records of aborted transactions are skipped. */
export const READ_COMMITTED = 1;

/** ListOffsets special timestamp: asks for the log start offset. */
export const EARLIEST_TIMESTAMP = -2;
/** ListOffsets special timestamp: asks for the log end offset (next offset to be written). */
export const LATEST_TIMESTAMP = -1;

/** kafkajs's internal logger (src/loggers/index.js), as Cluster and Broker objects take it. */
export interface KafkaJsLogger {
  namespace(name: string, level?: number): KafkaJsLogger;
  info(message: string, extra?: object): void;
  error(message: string, extra?: object): void;
  warn(message: string, extra?: object): void;
  debug(message: string, extra?: object): void;
}

/** Where one Kafka broker node listens, as a Metadata response lists it. */
export interface BrokerAddress {
  readonly nodeId: number;
  readonly host: string;
  readonly port: number;
  readonly rack: string | null;
}

/** One partition in a Metadata response: its leader node and replicas (decoded by kafkajs). */
export interface PartitionMetadata {
  partitionErrorCode: number;
  partitionId: number;
  leader: number;
  replicas: number[];
  isr: number[];
}

/** A decoded Metadata response: the broker nodes and, per requested topic, its partitions. */
export interface MetadataResponse {
  brokers: BrokerAddress[];
  controllerId: number | null;
  topicMetadata: { topicErrorCode: number; topic: string; isInternal?: boolean; partitionMetadata: PartitionMetadata[] }[];
}

/** A record as decoded by kafkajs (src/protocol/recordBatch/record/v0/decoder.js). */
export interface DecodedRecord {
  offset: string;
  timestamp: string;
  key: Buffer | null;
  value: Buffer | null;
  headers: DecodedHeaders;
  isControlRecord: boolean;
  batchContext: { firstOffset: string; lastOffsetDelta: number; timestampType: number; maxTimestamp: string };
}

/** One partition's part of a decoded Fetch response: its bounds and the records read. */
export interface FetchPartitionResponse {
  partition: number;
  errorCode: number;
  highWatermark: string;
  lastStableOffset?: string;
  /** The partition's log start offset (kafkajs names it `lastStartOffset`); -1 when unknown. */
  lastStartOffset?: string;
  abortedTransactions?: { producerId: string; firstOffset: string }[];
  messages: DecodedRecord[];
}

/** A record as kafkajs's Produce request encodes it. */
export interface KafkaJsMessage {
  key: Buffer | null;
  value: Buffer | null;
  headers?: KafkaJsHeaders;
  timestamp: number;
}

/**
 * One connection to one Kafka broker node: a kafkajs `Broker` object (kafkajs's name), which sends
 * protocol requests to that node over its own connection pool and answers them in order.
 */
export interface BrokerConnection {
  readonly nodeId: number | null;
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  isConnected(): boolean;
  apiVersions(): Promise<unknown>;
  metadata(topics: string[]): Promise<MetadataResponse>;
  produce(request: {
    acks: number;
    timeout: number;
    topicData: { topic: string; partitions: { partition: number; messages: KafkaJsMessage[] }[] }[];
  }): Promise<{ topics: { topicName: string; partitions: { partition: number; errorCode: number; baseOffset: string; logAppendTime: string }[] }[] }>;
  fetch(request: {
    replicaId: number;
    isolationLevel: number;
    maxWaitTime: number;
    minBytes: number;
    maxBytes: number;
    topics: { topic: string; partitions: { partition: number; fetchOffset: string; maxBytes: number }[] }[];
  }): Promise<{ responses: { topicName: string; partitions: FetchPartitionResponse[] }[] }>;
  listOffsets(request: {
    replicaId: number;
    isolationLevel: number;
    topics: { topic: string; partitions: { partition: number; timestamp: number }[] }[];
  }): Promise<{ responses: { topic: string; partitions: { partition: number; errorCode: number; offset: string }[] }[] }>;
  deleteRecords(request: { topics: { topic: string; partitions: { partition: number; offset: string }[] }[] }): Promise<unknown>;
  offsetCommit(request: {
    groupId: string;
    groupGenerationId: number;
    memberId: string;
    retentionTime?: number;
    topics: { topic: string; partitions: { partition: number; offset: string; metadata?: string | null }[] }[];
  }): Promise<unknown>;
  /** JoinGroup (kafkajs retries once itself with the member id a MEMBER_ID_REQUIRED answer carries); may block up to rebalanceTimeout. */
  joinGroup(request: {
    groupId: string;
    sessionTimeout: number;
    rebalanceTimeout: number;
    memberId: string;
    protocolType?: string;
    groupProtocols: { name: string; metadata: Buffer }[];
  }): Promise<{
    generationId: number;
    groupProtocol: string;
    leaderId: string;
    memberId: string;
    members: { memberId: string; groupInstanceId?: string | null; memberMetadata: Buffer }[];
  }>;
  syncGroup(request: {
    groupId: string;
    generationId: number;
    memberId: string;
    groupAssignment: { memberId: string; memberAssignment: Buffer }[];
  }): Promise<{ memberAssignment: Buffer }>;
  heartbeat(request: { groupId: string; groupGenerationId: number; memberId: string }): Promise<unknown>;
  leaveGroup(request: { groupId: string; memberId: string }): Promise<unknown>;
  offsetFetch(request: {
    groupId: string;
    topics: { topic: string; partitions: { partition: number }[] }[];
  }): Promise<{ responses: { topic: string; partitions: { partition: number; offset: string; metadata: string | null; errorCode: number }[] }[] }>;
}

/** Builds the connection pool of a BrokerConnection with the cluster's settings (TLS, SASL, timeouts). */
export interface ConnectionPoolBuilder {
  build(destination?: { host?: string; port?: number; rack?: string | null }): Promise<unknown>;
}

/**
 * A kafkajs Cluster (src/cluster/index.js): the bootstrap connection, cluster metadata, and the
 * shared BrokerConnection per node and per group coordinator.
 */
export interface Cluster {
  readonly connectionPoolBuilder: ConnectionPoolBuilder;
  readonly brokerPool: { versions: unknown; findConnectedBroker(): Promise<BrokerConnection> };
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  isConnected(): boolean;
  refreshMetadata(): Promise<void>;
  findBroker(options: { nodeId: string }): Promise<BrokerConnection>;
  findGroupCoordinator(options: { groupId: string }): Promise<BrokerConnection>;
}

/** What the kafkajs Cluster constructor takes; the backend sets every field explicitly. */
export interface ClusterOptions {
  logger: KafkaJsLogger;
  socketFactory: unknown;
  brokers: string[];
  clientId: string;
  connectionTimeout: number;
  requestTimeout: number;
  enforceRequestTimeout: boolean;
  metadataMaxAge: number;
  retry: { retries: number; initialRetryTime: number; maxRetryTime: number };
  allowAutoTopicCreation: boolean;
  maxInFlightRequests: number | null;
  isolationLevel: number;
}

type ClusterCtor = new (options: ClusterOptions) => Cluster;
type BrokerConnectionCtor = new (options: {
  connectionPool: unknown;
  logger: KafkaJsLogger;
  nodeId: number;
  versions: unknown;
  allowAutoTopicCreation: boolean;
}) => BrokerConnection;

const ClusterClass = require('kafkajs/src/cluster/index.js') as ClusterCtor;
const BrokerConnectionClass = require('kafkajs/src/broker/index.js') as BrokerConnectionCtor;
const loggers = require('kafkajs/src/loggers/index.js') as {
  createLogger(options: { level: number; logCreator: (level: number) => (entry: LogEntry) => void }): KafkaJsLogger;
};
const socketFactory = require('kafkajs/src/network/socketFactory.js') as () => unknown;
const filterAborted = require('kafkajs/src/consumer/filterAbortedMessages.js') as (input: {
  messages: DecodedRecord[];
  abortedTransactions: { producerId: string; firstOffset: string }[];
}) => DecodedRecord[];

/** One log call of kafkajs, as its logCreator receives it. */
export interface LogEntry {
  namespace: string;
  level: number;
  label: string;
  log: { message: string; timestamp?: string; logger?: string } & Record<string, unknown>;
}

/** Creates a kafkajs Cluster: connection pools, metadata and broker lookup, without target topics. */
export function createCluster(options: ClusterOptions): Cluster {
  return new ClusterClass(options);
}

/** A fresh connection (own sockets) to the broker node at `address`, sharing the cluster's connection settings. */
export async function createBrokerConnection(cluster: Cluster, logger: KafkaJsLogger, address: BrokerAddress): Promise<BrokerConnection> {
  const connectionPool = await cluster.connectionPoolBuilder.build({ host: address.host, port: address.port, rack: address.rack });
  return new BrokerConnectionClass({
    connectionPool,
    logger,
    nodeId: address.nodeId,
    versions: cluster.brokerPool.versions,
    allowAutoTopicCreation: false,
  });
}

/** kafkajs's default TCP socket factory. */
export function defaultSocketFactory(): unknown {
  return socketFactory();
}

/** Drops records of aborted transactions (the fetch response lists them; the client filters). */
export function filterAbortedMessages(messages: DecodedRecord[], aborted: { producerId: string; firstOffset: string }[]): DecodedRecord[] {
  return aborted.length === 0 ? messages : filterAborted({ messages, abortedTransactions: aborted });
}

/** kafkajs logger settings (`logLevel` + `logCreator`, as the public `Kafka` client takes them) writing into pino. */
export interface KafkaJsLogSettings {
  readonly logLevel: number;
  readonly logCreator: (level: number) => (entry: LogEntry) => void;
}

/**
 * Routes kafkajs logs into pino. kafkajs logs every error response and every retry at ERROR
 * although callers get (and we classify and report) the error anyway, so its levels are lowered:
 * connection-level chatter goes to debug, its other errors to warn, its info to debug.
 */
export function kafkaJsLogSettings(logger: Logger): KafkaJsLogSettings {
  const logLevel = logger.isLevelEnabled('trace')
    ? KAFKAJS_LEVELS.DEBUG
    : logger.isLevelEnabled('debug')
      ? KAFKAJS_LEVELS.INFO
      : KAFKAJS_LEVELS.WARN;
  const logCreator = () => (entry: LogEntry) => {
    const { message, timestamp: _ts, logger: _name, ...extra } = entry.log;
    const fields = { kafkajs: entry.namespace, ...extra };
    switch (entry.level) {
      case KAFKAJS_LEVELS.ERROR:
        if (entry.namespace === 'Connection' || entry.namespace === 'Broker') logger.debug(fields, message);
        else logger.warn(fields, message);
        break;
      case KAFKAJS_LEVELS.WARN:
        logger.warn(fields, message);
        break;
      case KAFKAJS_LEVELS.INFO:
        logger.debug(fields, message);
        break;
      default:
        logger.trace(fields, message);
    }
  };
  return { logLevel, logCreator };
}

/** A kafkajs-internal logger for Cluster/Broker objects, writing into pino. */
export function kafkaJsLogger(settings: KafkaJsLogSettings): KafkaJsLogger {
  return loggers.createLogger({ level: settings.logLevel, logCreator: settings.logCreator });
}
