/**
 * streamgate Node client over gRPC: the generated stubs (proto/streamgate/v1 loaded with
 * @grpc/proto-loader, typed by proto/gen/ts) plus the things every consumer rewrites —
 * bigint offsets, reconnect with backoff, and resume from the last position seen, so a
 * subscription survives gateway restarts without gaps or duplicates.
 *
 * ```ts
 * const client = new StreamgateClient({ address: '127.0.0.1:50051' });
 * await client.produce('orders', [{ key: Buffer.from('k'), value: Buffer.from('v') }]);
 * for await (const r of client.subscribe('orders', { from: 'earliest' })) console.log(r.offset, r.value);
 * ```
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { ProtoGrpcType } from '../../../proto/gen/ts/streamgate.js';
import type { StreamGatewayClient } from '../../../proto/gen/ts/streamgate/v1/StreamGateway.js';
import type { Position as PositionMessage } from '../../../proto/gen/ts/streamgate/v1/Position.js';
import type { Record__Output } from '../../../proto/gen/ts/streamgate/v1/Record.js';
import type { SessionRequest } from '../../../proto/gen/ts/streamgate/v1/SessionRequest.js';
import type { SessionResponse__Output } from '../../../proto/gen/ts/streamgate/v1/SessionResponse.js';
import type { KeyFilter as KeyFilterMessage } from '../../../proto/gen/ts/streamgate/v1/KeyFilter.js';

export type { StreamGatewayClient } from '../../../proto/gen/ts/streamgate/v1/StreamGateway.js';
export type { SessionRequest } from '../../../proto/gen/ts/streamgate/v1/SessionRequest.js';
export type { SessionResponse__Output as SessionResponse } from '../../../proto/gen/ts/streamgate/v1/SessionResponse.js';

/** The loader options the generated types (proto/gen/ts) were produced with. */
export const LOADER_OPTIONS: protoLoader.Options = { keepCase: true, longs: String, enums: String, defaults: true, oneofs: true };

function protoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'proto');
    if (existsSync(join(candidate, 'streamgate/v1/streamgate.proto'))) return candidate;
    dir = dirname(dir);
  }
  throw new Error('proto/streamgate/v1/streamgate.proto not found');
}

let loaded: ProtoGrpcType | undefined;

/** The streamgate.v1 package (message types and the StreamGateway client constructor). */
export function loadStreamgate(): ProtoGrpcType {
  loaded ??= grpc.loadPackageDefinition(
    protoLoader.loadSync('streamgate/v1/streamgate.proto', { ...LOADER_OPTIONS, includeDirs: [protoRoot()] }),
  ) as unknown as ProtoGrpcType;
  return loaded;
}

/** A raw generated stub. */
export function createStub(address: string, credentials = grpc.credentials.createInsecure(), options?: grpc.ClientOptions): StreamGatewayClient {
  return new (loadStreamgate().streamgate.v1.StreamGateway)(address, credentials, options);
}

/** A record read from streamgate. */
export interface ReadRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: bigint;
  readonly timestamp: number;
  readonly key: Buffer | null;
  readonly value: Buffer | null;
  /** In the record's order; a name may repeat (as in Kafka). */
  readonly headers: readonly RecordHeader[];
}

/** One record header. */
export interface RecordHeader {
  readonly name: string;
  readonly value: Buffer;
}

/** Headers to write: a list in order (names may repeat), or an object with one value per name. */
export type WriteHeaders = readonly { readonly name: string; readonly value: Buffer | string }[] | Record<string, Buffer | string>;

/** A record to write. */
export interface WriteRecord {
  key?: Buffer | string | null;
  value: Buffer | string | null;
  headers?: WriteHeaders;
  partition?: number;
}

export type From = 'earliest' | 'latest' | { offsets: Record<number, bigint>; otherwise?: 'earliest' | 'latest' } | { timestamp: number };

export type Filter = { exact: string } | { prefix: string } | { mqtt: string };

/** Converts a Record message. */
export function readRecord(r: Record__Output): ReadRecord {
  return {
    topic: r.topic,
    partition: r.partition,
    offset: BigInt(r.offset),
    timestamp: Number(r.timestamp),
    key: r._key === 'key' && r.key !== undefined ? r.key : null,
    value: r._value === 'value' && r.value !== undefined ? r.value : null,
    headers: r.headers.map((h) => ({ name: h.key, value: h.value })),
  };
}

/** WriteHeaders as `Header` messages, in order. */
function headerMessages(headers: WriteHeaders | undefined): { key: string; value: Buffer }[] {
  if (headers === undefined) return [];
  const list = Array.isArray(headers) ? (headers as readonly { name: string; value: Buffer | string }[]) : Object.entries(headers).map(([name, value]) => ({ name, value }));
  return list.map((h) => ({ key: h.name, value: bytes(h.value) }));
}

/** A `From` as a Position message. */
export function positionMessage(from: From): PositionMessage {
  if (from === 'earliest') return { earliest: {} };
  if (from === 'latest') return { latest: {} };
  if ('timestamp' in from) return { timestamp: String(from.timestamp) };
  const offsets: Record<string, string> = {};
  for (const [p, o] of Object.entries(from.offsets)) offsets[p] = o.toString();
  return { offsets: { offsets, otherwise: from.otherwise === 'earliest' ? 'BOUNDARY_EARLIEST' : 'BOUNDARY_LATEST' } };
}

function filterMessages(filters: readonly Filter[] | undefined): KeyFilterMessage[] {
  return (filters ?? []).map((f) => ({ ...f }));
}

function bytes(v: Buffer | string): Buffer {
  return typeof v === 'string' ? Buffer.from(v) : v;
}

/** The stable catalogue code of a failed call (`streamgate-code` trailer), e.g. TOPIC_NOT_FOUND. */
export function errorCode(err: unknown): string | undefined {
  const metadata = (err as { metadata?: grpc.Metadata }).metadata;
  const code = metadata?.get('streamgate-code')[0];
  return typeof code === 'string' ? code : undefined;
}

/** Statuses after which reconnecting may succeed. */
const RETRIABLE = new Set([grpc.status.UNAVAILABLE, grpc.status.RESOURCE_EXHAUSTED, grpc.status.INTERNAL, grpc.status.UNKNOWN]);

function retriable(err: unknown): boolean {
  const e = err as { code?: number; metadata?: grpc.Metadata };
  const flag = e.metadata?.get('streamgate-retriable')[0];
  if (flag !== undefined) return flag === 'true';
  return typeof e.code === 'number' && RETRIABLE.has(e.code);
}

export interface ClientOptions {
  address: string;
  credentials?: grpc.ChannelCredentials;
  /** Bearer token (JWT or API key) sent as `authorization` metadata. */
  token?: string;
  /** Reconnect backoff: first delay, doubled up to max (ms). */
  reconnect?: { initialDelayMs?: number; maxDelayMs?: number; maxAttempts?: number };
  /** Per-call deadline for unary calls (ms). */
  timeoutMs?: number;
}

/** A subscription that reconnects and resumes; iterate it, `close()` to stop. */
export interface ResumingSubscription extends AsyncIterable<ReadRecord> {
  /** Next offset per partition: what a resume would start from. */
  positions(): ReadonlyMap<number, bigint>;
  /** How many times the stream was re-established. */
  readonly reconnects: number;
  close(): void;
}

export class StreamgateClient {
  readonly stub: StreamGatewayClient;
  private readonly options: ClientOptions;

  constructor(options: ClientOptions) {
    this.options = options;
    this.stub = createStub(options.address, options.credentials ?? grpc.credentials.createInsecure());
  }

  private metadata(extra?: Record<string, string>): grpc.Metadata {
    const md = new grpc.Metadata();
    if (this.options.token !== undefined) md.set('authorization', `Bearer ${this.options.token}`);
    for (const [k, v] of Object.entries(extra ?? {})) md.set(k, v);
    return md;
  }

  private callOptions(): grpc.CallOptions {
    return this.options.timeoutMs === undefined ? {} : { deadline: Date.now() + this.options.timeoutMs };
  }

  /** Writes records; resolves with each one's position once the backend acknowledged. */
  produce(topic: string, records: WriteRecord[], options: { partition?: number; idempotencyKey?: string } = {}): Promise<{ partition: number; offset: bigint }[]> {
    return new Promise((resolve, reject) => {
      this.stub.Produce(
        {
          topic,
          records: records.map((r) => ({
            ...(r.key === undefined || r.key === null ? {} : { key: bytes(r.key) }),
            ...(r.value === null ? {} : { value: bytes(r.value) }),
            headers: headerMessages(r.headers),
            ...(r.partition === undefined ? {} : { partition: r.partition }),
          })),
          ...(options.partition === undefined ? {} : { partition: options.partition }),
          idempotency_key: options.idempotencyKey ?? '',
        },
        this.metadata(),
        this.callOptions(),
        (err, res) => (err ? reject(err) : resolve(res!.offsets.map((o) => ({ partition: o.partition, offset: BigInt(o.offset) })))),
      );
    });
  }

  /** Reads one partition from an offset. */
  fetch(topic: string, partition: number, offset: bigint, options: { maxRecords?: number; waitMs?: number } = {}): Promise<{ records: ReadRecord[]; nextOffset: bigint; latest: bigint }> {
    return new Promise((resolve, reject) => {
      this.stub.Fetch(
        { topic, partition, offset: offset.toString(), max_records: options.maxRecords ?? 0, wait_ms: options.waitMs ?? 0 },
        this.metadata(),
        this.callOptions(),
        (err, res) => (err ? reject(err) : resolve({ records: res!.records.map(readRecord), nextOffset: BigInt(res!.next_offset), latest: BigInt(res!.latest) })),
      );
    });
  }

  listTopics(): Promise<{ name: string; partitions: number }[]> {
    return new Promise((resolve, reject) => {
      this.stub.ListTopics({}, this.metadata(), this.callOptions(), (err, res) =>
        err ? reject(err) : resolve(res!.topics.map((t) => ({ name: t.name, partitions: t.partitions }))),
      );
    });
  }

  offsets(topic: string): Promise<{ partition: number; earliest: bigint; latest: bigint }[]> {
    return new Promise((resolve, reject) => {
      this.stub.GetOffsets({ topic }, this.metadata(), this.callOptions(), (err, res) =>
        err ? reject(err) : resolve(res!.partitions.map((p) => ({ partition: p.partition, earliest: BigInt(p.earliest), latest: BigInt(p.latest) }))),
      );
    });
  }

  /**
   * A broadcast subscription over the server-streaming Subscribe. When the stream fails with a
   * retriable status (gateway restart, SHUTTING_DOWN, SLOW_CONSUMER) it reconnects with backoff
   * and resumes from the offset after the last record it yielded, per partition: no gap, no
   * duplicate. Partitions it has not seen yet start from the original position.
   */
  subscribe(topic: string, options: { from?: From; partitions?: number[]; filters?: Filter[] } = {}): ResumingSubscription {
    const from = options.from ?? 'latest';
    const next = new Map<number, bigint>();
    const queue: ReadRecord[] = [];
    let wake: (() => void) | undefined;
    let failure: unknown;
    let closed = false;
    let call: grpc.ClientReadableStream<import('../../../proto/gen/ts/streamgate/v1/SubscribeResponse.js').SubscribeResponse__Output> | undefined;
    let reconnects = 0;
    let attempt = 0;
    const { initialDelayMs = 100, maxDelayMs = 5_000, maxAttempts = Infinity } = this.options.reconnect ?? {};

    const resumeFrom = (): From => {
      if (next.size === 0) return from;
      const offsets: Record<number, bigint> = {};
      for (const [p, o] of next) offsets[p] = o;
      // Unseen partitions: from the original boundary (a timestamp/offset start degrades to earliest
      // so nothing produced meanwhile is skipped).
      return { offsets, otherwise: from === 'latest' ? 'latest' : 'earliest' };
    };

    const connect = (): void => {
      if (closed) return;
      call = this.stub.Subscribe(
        { topic, position: positionMessage(resumeFrom()), partitions: options.partitions ?? [], filters: filterMessages(options.filters) },
        this.metadata(),
      );
      call.on('data', (msg) => {
        if (msg.frame === 'subscribed') attempt = 0;
        if (msg.frame !== 'records') return;
        for (const r of msg.records!.records) queue.push(readRecord(r));
        wake?.();
      });
      call.on('error', (err: grpc.ServiceError) => {
        if (closed || err.code === grpc.status.CANCELLED) return;
        if (!retriable(err) || attempt >= maxAttempts) {
          failure = err;
          wake?.();
          return;
        }
        const delay = Math.min(maxDelayMs, initialDelayMs * 2 ** attempt);
        attempt += 1;
        reconnects += 1;
        setTimeout(connect, delay);
      });
      call.on('end', () => wake?.());
    };
    connect();

    return {
      positions: () => next,
      get reconnects() {
        return reconnects;
      },
      close() {
        closed = true;
        call?.cancel();
        wake?.();
      },
      async *[Symbol.asyncIterator]() {
        try {
          for (;;) {
            const r = queue.shift();
            if (r !== undefined) {
              // Counted when yielded: a resume starts right after what the consumer received.
              next.set(r.partition, r.offset + 1n);
              yield r;
              continue;
            }
            if (failure !== undefined) throw failure;
            if (closed) return;
            await new Promise<void>((resolve) => (wake = resolve));
            wake = undefined;
          }
        } finally {
          closed = true;
          call?.cancel();
        }
      },
    };
  }

  /** Opens a bidirectional Session (see ResumingSession). */
  session(): ResumingSession {
    return new ResumingSession(this.stub, () => this.metadata(), this.options.reconnect ?? {});
  }

  close(): void {
    this.stub.close();
  }
}

interface SessionSub {
  readonly id: string;
  readonly topic: string;
  readonly from: From;
  readonly group?: string;
  memberId?: string;
  readonly filters?: Filter[];
  readonly partitions?: number[];
  /** Credit granted and not yet used, re-granted on reconnect. */
  outstanding: number;
  readonly next: Map<number, bigint>;
  readonly onRecords: (records: ReadRecord[]) => void;
}

/**
 * A Session with reconnect: on a retriable failure it reopens the stream and re-subscribes
 * every subscription — broadcast ones from the offset after the last record delivered, group
 * ones with the same member id (the group resumes from its committed offsets) — and re-grants
 * the credit that was granted but not used. Publishes in flight when the stream broke are
 * rejected: retry them with the same idempotency key.
 */
export class ResumingSession {
  private call: grpc.ClientDuplexStream<SessionRequest, SessionResponse__Output> | undefined;
  private readonly subs = new Map<string, SessionSub>();
  private readonly pending = new Map<string, { resolve: (v: SessionResponse__Output) => void; reject: (e: unknown) => void }>();
  private seq = 0;
  private closed = false;
  private attempt = 0;
  /** Times the stream was re-established. */
  reconnects = 0;
  /** Every frame received, for diagnostics and tests. */
  onFrame: ((frame: SessionResponse__Output) => void) | undefined;

  constructor(
    private readonly stub: StreamGatewayClient,
    private readonly metadata: () => grpc.Metadata,
    private readonly backoff: { initialDelayMs?: number; maxDelayMs?: number; maxAttempts?: number },
  ) {
    this.open();
  }

  private open(): void {
    const call = this.stub.Session(this.metadata());
    this.call = call;
    call.on('data', (frame: SessionResponse__Output) => this.onData(frame));
    // Only the current call's failure counts (a replaced call may still report its end).
    call.on('error', (err: grpc.ServiceError) => {
      if (this.call === call) this.onBroken(err);
    });
    call.on('end', () => {
      if (this.call === call) this.onBroken(undefined);
    });
    for (const sub of this.subs.values()) this.sendSubscribe(sub);
  }

  private onData(frame: SessionResponse__Output): void {
    // The stream works again: the next failure starts the backoff from the beginning.
    this.attempt = 0;
    this.onFrame?.(frame);
    switch (frame.frame) {
      case 'records': {
        const sub = this.subs.get(frame.records!.subscription_id);
        if (sub === undefined) return;
        const records = frame.records!.records.map(readRecord);
        sub.outstanding = Math.max(0, sub.outstanding - records.length);
        for (const r of records) sub.next.set(r.partition, r.offset + 1n);
        sub.onRecords(records);
        return;
      }
      case 'subscribed': {
        const sub = this.subs.get(frame.subscribed!.id);
        if (sub !== undefined && frame.subscribed!.member_id !== '') sub.memberId = frame.subscribed!.member_id;
        this.settle(frame.subscribed!.id, frame);
        return;
      }
      case 'published':
        this.settle(frame.published!.id, frame);
        return;
      case 'committed':
        this.settle(frame.committed!.id, frame);
        return;
      case 'error': {
        const p = this.pending.get(frame.error!.id);
        if (p !== undefined) {
          this.pending.delete(frame.error!.id);
          p.reject(Object.assign(new Error(frame.error!.message), { code: frame.error!.code, retriable: frame.error!.retriable }));
        }
        return;
      }
      default:
        return;
    }
  }

  private settle(id: string, frame: SessionResponse__Output): void {
    const p = this.pending.get(id);
    if (p === undefined) return;
    this.pending.delete(id);
    p.resolve(frame);
  }

  private onBroken(err: grpc.ServiceError | undefined): void {
    if (this.closed || this.call === undefined) return;
    this.call = undefined;
    for (const [id, p] of this.pending) {
      // Subscribes are re-sent on reconnect and settle then; everything else fails now.
      if (this.subs.has(id)) continue;
      p.reject(err ?? new Error('The session ended.'));
      this.pending.delete(id);
    }
    const { initialDelayMs = 100, maxDelayMs = 5_000, maxAttempts = Infinity } = this.backoff;
    if ((err !== undefined && !retriable(err)) || this.attempt >= maxAttempts) return;
    const delay = Math.min(maxDelayMs, initialDelayMs * 2 ** this.attempt);
    this.attempt += 1;
    this.reconnects += 1;
    setTimeout(() => {
      if (!this.closed) this.open();
    }, delay);
  }

  private request(id: string, frame: SessionRequest): Promise<SessionResponse__Output> {
    if (this.call === undefined) {
      // Between streams: fail fast (retriable) rather than queue an unbounded backlog.
      return Promise.reject(Object.assign(new Error('The session is reconnecting.'), { code: 'UNAVAILABLE', retriable: true }));
    }
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.send(frame);
    });
  }

  /** Sends a raw frame (dropped while reconnecting). */
  send(frame: SessionRequest): void {
    this.call?.write(frame);
  }

  /** Publishes; resolves with positions once the backend acknowledged. */
  async publish(topic: string, records: WriteRecord[], options: { idempotencyKey?: string } = {}): Promise<{ partition: number; offset: bigint }[]> {
    const id = `p${++this.seq}`;
    const frame = await this.request(id, {
      publish: {
        id,
        topic,
        records: records.map((r) => ({
          ...(r.key === undefined || r.key === null ? {} : { key: bytes(r.key) }),
          ...(r.value === null ? {} : { value: bytes(r.value) }),
          headers: headerMessages(r.headers),
        })),
        idempotency_key: options.idempotencyKey ?? '',
      },
    });
    return frame.published!.offsets.map((o) => ({ partition: o.partition, offset: BigInt(o.offset) }));
  }

  /**
   * Subscribes; `credit` records may flow at once, grant more with `credit()`. Resolves with the
   * start positions (and member id for groups).
   */
  async subscribe(
    id: string,
    topic: string,
    options: { from?: From; group?: string; memberId?: string; credit?: number; filters?: Filter[]; partitions?: number[] },
    onRecords: (records: ReadRecord[]) => void,
  ): Promise<{ positions: Map<number, bigint>; memberId: string }> {
    const sub: SessionSub = {
      id,
      topic,
      from: options.from ?? 'latest',
      outstanding: options.credit ?? 0,
      next: new Map(),
      onRecords,
      ...(options.group === undefined ? {} : { group: options.group }),
      ...(options.memberId === undefined ? {} : { memberId: options.memberId }),
      ...(options.filters === undefined ? {} : { filters: options.filters }),
      ...(options.partitions === undefined ? {} : { partitions: options.partitions }),
    };
    this.subs.set(id, sub);
    const frame = await new Promise<SessionResponse__Output>((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.sendSubscribe(sub);
    }).catch((err: unknown) => {
      this.subs.delete(id);
      throw err;
    });
    const positions = new Map<number, bigint>();
    for (const [p, o] of Object.entries(frame.subscribed!.positions)) positions.set(Number(p), BigInt(o));
    return { positions, memberId: frame.subscribed!.member_id };
  }

  private sendSubscribe(sub: SessionSub): void {
    let from = sub.from;
    if (sub.group === undefined && sub.next.size > 0) {
      from = { offsets: Object.fromEntries(sub.next), otherwise: sub.from === 'latest' ? 'latest' : 'earliest' };
    }
    this.send({
      subscribe: {
        id: sub.id,
        topic: sub.topic,
        position: positionMessage(from),
        partitions: sub.partitions ?? [],
        filters: filterMessages(sub.filters),
        group: sub.group ?? '',
        member_id: sub.memberId ?? '',
        credit: sub.outstanding,
      },
    });
  }

  /** Grants `records` more credit to a subscription (or the session pool without an id). */
  credit(subscriptionId: string, records: number): void {
    const sub = this.subs.get(subscriptionId);
    if (sub !== undefined) sub.outstanding += records;
    this.send({ credit: { subscription_id: subscriptionId, records } });
  }

  ack(subscriptionId: string, partition: number, offset: bigint): void {
    this.send({ ack: { subscription_id: subscriptionId, partition, offset: offset.toString() } });
  }

  /** Commits a group subscription (everything delivered, or explicit next offsets). */
  async commit(subscriptionId: string, offsets?: { partition: number; offset: bigint }[]): Promise<void> {
    const id = `c${++this.seq}`;
    await this.request(id, {
      commit: { id, subscription_id: subscriptionId, offsets: (offsets ?? []).map((o) => ({ partition: o.partition, offset: o.offset.toString() })) },
    });
  }

  unsubscribe(id: string): void {
    this.subs.delete(id);
    this.send({ unsubscribe: { id } });
  }

  close(): void {
    this.closed = true;
    this.call?.end();
    this.call?.cancel();
    for (const p of this.pending.values()) p.reject(new Error('The session was closed.'));
    this.pending.clear();
  }
}
