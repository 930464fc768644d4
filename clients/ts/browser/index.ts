/**
 * streamgate browser client: subscribe to topics and publish over the gateway's WebSocket API
 * (`/v1/ws`, subprotocol `streamgate.v1.json`). No dependencies and no Node APIs: it needs only
 * a WebSocket implementation (the browser's, or `ws` passed as `WebSocketImpl` in Node 20).
 *
 * Reconnects by itself (exponential backoff with full jitter) and resubscribes every
 * subscription from the next offset per partition after the last record it delivered, so the
 * application sees neither a gap nor a duplicate. Publishes not yet acknowledged are sent again
 * with the same id, which the gateway uses as the idempotency key.
 *
 *   const client = connect('ws://localhost:8080/v1/ws');
 *   const sub = client.subscribe('events', { from: 'earliest' }, (records) => console.log(records));
 *   const [pos] = await client.publish('events', [{ key: 'k', value: { n: 1 } }]);
 *   await sub.close(); client.close();
 */

// --- Platform types (declared here so the client compiles without DOM typings) ---------------

interface WsMessageEvent {
  readonly data: unknown;
}
interface WsCloseEvent {
  readonly code: number;
  readonly reason: string;
}
/** The subset of the WebSocket API the client uses. */
export interface WebSocketLike {
  readonly readyState: number;
  readonly protocol: string;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: WsMessageEvent) => void) | null;
  onclose: ((ev: WsCloseEvent) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
}
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike;

const OPEN = 1;
const SUBPROTOCOL = 'streamgate.v1.json';

// --- Public types ------------------------------------------------------------------------

/** Where a subscription starts. Offsets are decimal strings (int64). */
export type From = 'earliest' | 'latest' | { offsets: Record<string, string>; otherwise?: 'earliest' | 'latest' } | { timestamp: number };

export interface SubscribeOptions {
  from?: From;
  /** Only records with this key (or any of these keys). */
  key?: string | string[];
  keyPrefix?: string | string[];
  /** MQTT-style filter over the key (`+` one level, `#` the rest). */
  filter?: string | string[];
  partitions?: number[];
}

/** A delivered record. `value` is the JSON value, or bytes when the record's value is not JSON. */
export interface StreamRecord<T = unknown> {
  readonly topic: string;
  readonly partition: number;
  /** int64 as a decimal string. */
  readonly offset: string;
  readonly timestamp: number;
  readonly key: string | Uint8Array | null;
  readonly value: T | Uint8Array | null;
  /** In the record's order; a name may repeat (as in Kafka). Values are bytes when a record's header values are not all UTF-8. */
  readonly headers: readonly RecordHeader[];
}

/** One record header. */
export interface RecordHeader {
  readonly name: string;
  readonly value: string | Uint8Array;
}

export interface PublishRecord {
  key?: string | null;
  /** Any JSON value, or bytes (sent base64). */
  value: unknown;
  /** In order, names may repeat; or an object with one value per name. Text values (UTF-8). */
  headers?: readonly { readonly name: string; readonly value: string }[] | Record<string, string>;
  partition?: number;
  timestamp?: number;
}

export interface RecordPosition {
  readonly partition: number;
  readonly offset: string;
  readonly timestamp: number;
}

/** An error reported by the gateway (`code` is the gateway's catalogue code) or by the client. */
export class StreamgateError extends Error {
  override readonly name = 'StreamgateError';
  constructor(
    readonly code: string,
    message: string,
    readonly retriable = false,
  ) {
    super(message);
  }
}

export interface ContinuityLost {
  readonly partition: number;
  readonly requested: string;
  readonly actual: string;
  readonly reason: string;
}

export interface SubscriptionHandlers {
  /** The subscription failed or the gateway ended it for good (it is closed afterwards). */
  onError?(error: StreamgateError): void;
  /** The requested start no longer existed (e.g. retention deleted it): records skipped from `requested` to `actual`. */
  onContinuityLost?(notice: ContinuityLost): void;
}

export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed';

export interface ConnectOptions {
  /** Sent as the `access_token` query parameter (browsers cannot set headers on WebSocket). */
  token?: string;
  /** WebSocket implementation; defaults to the platform's `WebSocket`. */
  WebSocketImpl?: WebSocketConstructor;
  /** First reconnect delay cap in ms (default 250); doubles per failed attempt up to maxBackoffMs. */
  initialBackoffMs?: number;
  /** Largest reconnect delay cap in ms (default 10000). */
  maxBackoffMs?: number;
  /** Publishes sent but not acknowledged at once; more wait in the client (default 32, below the gateway's default limit of 64). */
  maxInFlightPublishes?: number;
  onStateChange?(state: ConnectionState): void;
}

/** A subscription handle. `await using sub = client.subscribe(…)` closes it at scope end. */
export interface Subscription {
  readonly id: string;
  readonly topic: string;
  /** Next offset per partition after the last delivered record (what a resume would start from). */
  positions(): Record<string, string>;
  /** Resolves once the gateway confirmed the subscription, with its positions (next offset per partition) at that time. */
  subscribed(): Promise<Record<string, string>>;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** `Symbol.asyncDispose` where the platform has it, else the registered symbol TypeScript's downlevel helpers use. */
const asyncDispose: typeof Symbol.asyncDispose =
  (Symbol as { asyncDispose?: typeof Symbol.asyncDispose }).asyncDispose ?? (Symbol.for('Symbol.asyncDispose') as typeof Symbol.asyncDispose);

// --- Implementation ----------------------------------------------------------------------

interface SubEntry {
  readonly id: string;
  readonly topic: string;
  readonly options: SubscribeOptions;
  readonly onRecords: (records: StreamRecord[], sub: Subscription) => void;
  readonly handlers: SubscriptionHandlers;
  /** Next offset per partition; set from `subscribed`, advanced by every delivered record. */
  next: Map<number, bigint> | undefined;
  confirmed: boolean;
  waiters: { resolve(p: Record<string, string>): void; reject(e: StreamgateError): void }[];
  handle: Subscription;
}

interface PendingPublish {
  readonly id: string;
  readonly frame: string;
  sent: boolean;
  resolve(offsets: RecordPosition[]): void;
  reject(err: StreamgateError): void;
}

/** Opens a client; it connects at once and keeps reconnecting until `close()`. */
export function connect(url: string, options: ConnectOptions = {}): StreamgateClient {
  return new StreamgateClient(url, options);
}

export class StreamgateClient {
  private ws: WebSocketLike | undefined;
  private stateValue: ConnectionState = 'connecting';
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly subs = new Map<string, SubEntry>();
  private readonly publishes = new Map<string, PendingPublish>();
  private readonly prefix = randomId();
  private seq = 0;
  private readonly WebSocketImpl: WebSocketConstructor;
  /** The last transport error event (for debugging; the close code decides what happens). */
  lastError: unknown;

  constructor(
    private readonly url: string,
    private readonly options: ConnectOptions = {},
  ) {
    const impl = options.WebSocketImpl ?? (globalThis as { WebSocket?: WebSocketConstructor }).WebSocket;
    if (impl === undefined) throw new StreamgateError('UNIMPLEMENTED', 'No WebSocket implementation: pass options.WebSocketImpl.');
    this.WebSocketImpl = impl;
    this.open();
  }

  get state(): ConnectionState {
    return this.stateValue;
  }

  /** Subscribes to a topic; `onRecords` gets each batch in offset order per partition. */
  subscribe<T = unknown>(
    topic: string,
    options: SubscribeOptions,
    onRecords: (records: StreamRecord<T>[], sub: Subscription) => void,
    handlers: SubscriptionHandlers = {},
  ): Subscription {
    if (this.stateValue === 'closed') throw new StreamgateError('FAILED_PRECONDITION', 'The client is closed.');
    const id = `s${++this.seq}`;
    const entry: SubEntry = {
      id,
      topic,
      options,
      onRecords: onRecords as SubEntry['onRecords'],
      handlers,
      next: undefined,
      confirmed: false,
      waiters: [],
      handle: undefined as unknown as Subscription,
    };
    entry.handle = {
      id,
      topic,
      positions: () => Object.fromEntries([...(entry.next ?? [])].map(([p, o]) => [String(p), o.toString()])),
      subscribed: () =>
        entry.confirmed
          ? Promise.resolve(entry.handle.positions())
          : new Promise((resolve, reject) => entry.waiters.push({ resolve, reject })),
      close: async () => this.unsubscribe(entry),
      [asyncDispose]: async () => this.unsubscribe(entry),
    };
    this.subs.set(id, entry);
    if (this.isOpen()) this.sendSubscribe(entry);
    return entry.handle;
  }

  /** Publishes records; resolves with their positions once the gateway's backend acknowledged them. */
  publish(topic: string, records: PublishRecord[], options: { partition?: number } = {}): Promise<RecordPosition[]> {
    if (this.stateValue === 'closed') return Promise.reject(new StreamgateError('FAILED_PRECONDITION', 'The client is closed.'));
    // The id is the idempotency key: unique per client instance, stable across resends.
    const id = `${this.prefix}-${++this.seq}`;
    const frame = JSON.stringify({
      op: 'publish',
      id,
      topic,
      ...(options.partition === undefined ? {} : { partition: options.partition }),
      records: records.map(encodeRecord),
    });
    return new Promise((resolve, reject) => {
      this.publishes.set(id, { id, frame, sent: false, resolve, reject });
      this.flushPublishes();
    });
  }

  /** Closes the connection for good; pending publishes and subscriptions fail with CANCELLED. */
  close(): void {
    if (this.stateValue === 'closed') return;
    this.setState('closed');
    clearTimeout(this.timer);
    this.ws?.close(1000, 'client closed');
    this.ws = undefined;
    this.failAll(new StreamgateError('CANCELLED', 'The client was closed.'));
  }

  // --- Connection ------------------------------------------------------------------------

  private open(): void {
    const url = this.options.token === undefined ? this.url : `${this.url}${this.url.includes('?') ? '&' : '?'}access_token=${encodeURIComponent(this.options.token)}`;
    const ws = new this.WebSocketImpl(url, SUBPROTOCOL);
    this.ws = ws;
    ws.onopen = () => {
      if (this.ws !== ws) return;
      this.attempt = 0;
      this.setState('open');
      for (const entry of this.subs.values()) this.sendSubscribe(entry);
      for (const p of this.publishes.values()) p.sent = false;
      this.flushPublishes();
    };
    ws.onmessage = (ev) => {
      if (this.ws === ws && typeof ev.data === 'string') this.onFrame(ev.data);
    };
    // Browsers give error events no detail; the close event that follows decides what happens.
    ws.onerror = (ev) => {
      this.lastError = ev;
    };
    ws.onclose = (ev) => {
      if (this.ws !== ws) return;
      this.ws = undefined;
      if (this.stateValue === 'closed') return;
      if (!mayReconnect(ev.code)) {
        this.setState('closed');
        this.failAll(new StreamgateError('CLOSED', `The gateway closed the connection (${ev.code} ${ev.reason}).`));
        return;
      }
      this.scheduleReconnect();
    };
  }

  private scheduleReconnect(): void {
    this.setState('reconnecting');
    const initial = this.options.initialBackoffMs ?? 250;
    const max = this.options.maxBackoffMs ?? 10_000;
    // Full jitter: a random delay in [0, cap) spreads a crowd of clients after a gateway restart.
    const cap = Math.min(max, initial * 2 ** this.attempt);
    this.attempt++;
    this.timer = setTimeout(() => {
      if (this.stateValue !== 'closed') this.open();
    }, Math.random() * cap);
  }

  private isOpen(): boolean {
    return this.ws !== undefined && this.ws.readyState === OPEN && this.stateValue === 'open';
  }

  private setState(state: ConnectionState): void {
    if (this.stateValue === state) return;
    this.stateValue = state;
    this.options.onStateChange?.(state);
  }

  private send(frame: string): void {
    this.ws?.send(frame);
  }

  private sendSubscribe(entry: SubEntry): void {
    const o = entry.options;
    // After the first confirmation, resume exactly after the last delivered record; partitions
    // that appeared since start at their beginning so nothing written meanwhile is missed.
    const from: From =
      entry.next === undefined
        ? (o.from ?? 'latest')
        : { offsets: Object.fromEntries([...entry.next].map(([p, n]) => [String(p), n.toString()])), otherwise: 'earliest' };
    this.send(
      JSON.stringify({
        op: 'subscribe',
        id: entry.id,
        topic: entry.topic,
        from,
        ...(o.key === undefined ? {} : { key: o.key }),
        ...(o.keyPrefix === undefined ? {} : { keyPrefix: o.keyPrefix }),
        ...(o.filter === undefined ? {} : { filter: o.filter }),
        ...(o.partitions === undefined ? {} : { partitions: o.partitions }),
      }),
    );
  }

  private async unsubscribe(entry: SubEntry): Promise<void> {
    if (this.subs.get(entry.id) !== entry) return;
    this.subs.delete(entry.id);
    if (this.isOpen()) this.send(JSON.stringify({ op: 'unsubscribe', sub: entry.id }));
    for (const w of entry.waiters.splice(0)) w.reject(new StreamgateError('CANCELLED', 'The subscription was closed.'));
  }

  private flushPublishes(): void {
    if (!this.isOpen()) return;
    const limit = this.options.maxInFlightPublishes ?? 32;
    let inFlight = 0;
    for (const p of this.publishes.values()) if (p.sent) inFlight++;
    for (const p of this.publishes.values()) {
      if (inFlight >= limit) break;
      if (p.sent) continue;
      p.sent = true;
      inFlight++;
      this.send(p.frame);
    }
  }

  private failAll(err: StreamgateError): void {
    for (const p of this.publishes.values()) p.reject(err);
    this.publishes.clear();
    for (const entry of this.subs.values()) {
      for (const w of entry.waiters.splice(0)) w.reject(err);
      entry.handlers.onError?.(err);
    }
    this.subs.clear();
  }

  // --- Frames ----------------------------------------------------------------------------

  private onFrame(text: string): void {
    const frame = JSON.parse(text) as Record<string, unknown>;
    switch (frame.op) {
      case 'records':
        return this.onRecords(frame.sub as string, frame.records as WireRecord[]);
      case 'subscribed': {
        const entry = this.subs.get(frame.id as string);
        if (entry === undefined) return;
        const positions = frame.positions as Record<string, string>;
        // First confirmation seeds the positions; on a resume keep ours (they are at least as far).
        const next = entry.next ?? new Map<number, bigint>();
        for (const [p, o] of Object.entries(positions)) if (!next.has(Number(p))) next.set(Number(p), BigInt(o));
        entry.next = next;
        entry.confirmed = true;
        for (const w of entry.waiters.splice(0)) w.resolve(entry.handle.positions());
        return;
      }
      case 'continuity-lost': {
        const entry = this.subs.get(frame.sub as string);
        if (entry === undefined) return;
        entry.next?.set(frame.partition as number, BigInt(frame.actual as string));
        entry.handlers.onContinuityLost?.({
          partition: frame.partition as number,
          requested: frame.requested as string,
          actual: frame.actual as string,
          reason: frame.reason as string,
        });
        return;
      }
      case 'ack': {
        const p = this.publishes.get(frame.id as string);
        if (p === undefined) return;
        this.publishes.delete(p.id);
        p.resolve(frame.offsets as RecordPosition[]);
        this.flushPublishes();
        return;
      }
      case 'error':
        return this.onError(frame);
      case 'end': {
        const entry = this.subs.get(frame.sub as string);
        if (entry === undefined || frame.code === undefined) return;
        if (frame.retriable === true) {
          // E.g. SLOW_CONSUMER: the gateway cut us off; resume from where we are.
          this.sendSubscribe(entry);
          return;
        }
        this.subs.delete(entry.id);
        const err = new StreamgateError(frame.code as string, frame.message as string, false);
        for (const w of entry.waiters.splice(0)) w.reject(err);
        entry.handlers.onError?.(err);
        return;
      }
      default:
        return;
    }
  }

  private onError(frame: Record<string, unknown>): void {
    const id = frame.id as string | undefined;
    const err = new StreamgateError(frame.code as string, frame.message as string, frame.retriable === true);
    if (id === undefined) return;
    const p = this.publishes.get(id);
    if (p !== undefined) {
      this.publishes.delete(id);
      p.reject(err);
      this.flushPublishes();
      return;
    }
    const entry = this.subs.get(id);
    if (entry !== undefined) {
      this.subs.delete(id);
      for (const w of entry.waiters.splice(0)) w.reject(err);
      entry.handlers.onError?.(err);
    }
  }

  private onRecords(subId: string, wire: WireRecord[]): void {
    const entry = this.subs.get(subId);
    if (entry === undefined) return;
    const next = entry.next ?? new Map<number, bigint>();
    entry.next = next;
    const fresh: StreamRecord[] = [];
    for (const w of wire) {
      const offset = BigInt(w.offset);
      const expected = next.get(w.partition);
      // Never hand the application a record twice, whatever the transport did.
      if (expected !== undefined && offset < expected) continue;
      next.set(w.partition, offset + 1n);
      fresh.push(decodeRecord(entry.topic, w));
    }
    if (fresh.length > 0) entry.onRecords(fresh, entry.handle);
  }
}

interface WireRecord {
  partition: number;
  offset: string;
  timestamp: number;
  key: string | null;
  keyEncoding?: 'base64';
  value: unknown;
  encoding?: 'base64';
  headers?: { name: string; value: string }[];
  headersEncoding?: 'base64';
}

function decodeRecord(topic: string, w: WireRecord): StreamRecord {
  const headers = (w.headers ?? []).map((h) => ({ name: h.name, value: w.headersEncoding === 'base64' ? fromBase64(h.value) : h.value }));
  return {
    topic,
    partition: w.partition,
    offset: w.offset,
    timestamp: w.timestamp,
    key: w.key === null ? null : w.keyEncoding === 'base64' ? fromBase64(w.key) : w.key,
    value: w.encoding === 'base64' ? fromBase64(w.value as string) : w.value,
    headers,
  };
}

function encodeRecord(r: PublishRecord): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (r.key !== undefined && r.key !== null) out.key = r.key;
  if (r.value instanceof Uint8Array) {
    out.value = toBase64(r.value);
    out.encoding = 'base64';
  } else {
    out.value = r.value === undefined ? null : r.value;
  }
  if (r.headers !== undefined) out.headers = r.headers;
  if (r.partition !== undefined) out.partition = r.partition;
  if (r.timestamp !== undefined) out.timestamp = r.timestamp;
  return out;
}

function fromBase64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function toBase64(bytes: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}

function randomId(): string {
  const bytes = new Uint8Array(12);
  const c = (globalThis as { crypto?: { getRandomValues(a: Uint8Array): Uint8Array } }).crypto;
  if (c !== undefined) c.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * The gateway's close-code ranges (adapters/websocket/errors.ts): 4000–4499 and the transient
 * standard codes may reconnect; 4500–4999, 1003, 1008 and 1009 will fail the same way again.
 */
export function mayReconnect(code: number): boolean {
  if (code >= 4500 && code < 5000) return false;
  return code !== 1003 && code !== 1008 && code !== 1009 && code !== 1002 && code !== 1007;
}
