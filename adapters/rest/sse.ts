/**
 * One Server-Sent Events stream (`GET /v1/topics/{t}/events`): a hub subscription written as
 * default `message` events (no `event:` field, so `EventSource.onmessage` receives them; control
 * events — `subscribed`, `continuity-lost`, `error` — are named) whose id is the positions after
 * that record, so an EventSource that reconnects
 * with `Last-Event-ID` resumes with no gap and no duplicate (WHATWG HTML §9.2.4: the browser
 * sends the last event id it saw).
 *
 * A failure for this stream stays with this stream: every write goes through one guard that
 * refuses once the stream ended (no write after end, whoever calls — hub, heartbeat, shutdown),
 * the stream ends itself synchronously (not when the socket's `close` arrives later), and a
 * record that cannot be encoded ends this stream with a catalogued `error` event — never an
 * exception into the hub or the process.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context, ContinuityLost, Gateway, KeyFilter, Subscription } from '../../gateway/api.js';
import { encodeOnce } from '../../gateway/encoded.js';
import { GatewayError } from '../../gateway/errors.js';
import { offsetsPosition, type Position, type StreamRecord } from '../../gateway/record.js';
import { jsonRecordWithTopic } from '../../codecs/json-record.js';
import type { RecordDecoding } from '../../gateway/schemas/reading.js';
import { decodeEventId, encodeEventId, sseEvent, stringifyWithStrings } from './codec.js';
import { PARTITION_LIST } from './schemas.js';
import { validateMqttFilter } from '../../gateway/hub/filters.js';
import { toHttpError } from './errors.js';

export interface SseOptions {
  readonly heartbeatMs: number;
  readonly retryMs: number;
}

/**
 * Where to start: `Last-Event-ID` (header, or `lastEventId` query for clients that cannot set
 * headers) wins over `from` = `earliest` | `latest` (default) | `ts:<ms>` | positions `0:43,1:7`.
 */
export function ssePosition(req: IncomingMessage, query: URLSearchParams): Position {
  const header = req.headers['last-event-id'];
  const fromHeader = Array.isArray(header) ? header[0] : header;
  // An empty header is no header (as an EventSource that has seen no id yet sends none).
  const lastEventId = fromHeader !== undefined && fromHeader !== '' ? fromHeader : (query.get('lastEventId') ?? undefined);
  if (lastEventId !== undefined && lastEventId !== '') {
    // Partitions missing from the id appeared after it was issued: read them from the start.
    return positionsFrom(decodeEventId(lastEventId));
  }
  const from = query.get('from') ?? 'latest';
  if (from === 'earliest') return { kind: 'earliest' };
  if (from === 'latest') return { kind: 'latest' };
  const ts = /^ts:([0-9]{1,15})$/.exec(from);
  if (ts !== null) return { kind: 'timestamp', timestamp: Number(ts[1]) };
  return positionsFrom(decodeEventId(from));
}

function positionsFrom(map: Map<number, bigint>): Position {
  const obj: Record<string, bigint> = {};
  for (const [p, o] of map) obj[String(p)] = o;
  return offsetsPosition(obj, 'earliest');
}

/** Key filters from `key=` (exact), `key_prefix=` and `filter=` (MQTT-style); repeatable, any match delivers. */
export function sseFilters(query: URLSearchParams): KeyFilter[] {
  const filters: KeyFilter[] = [];
  for (const key of query.getAll('key')) filters.push({ kind: 'exact', key });
  for (const prefix of query.getAll('key_prefix')) filters.push({ kind: 'prefix', prefix });
  for (const filter of query.getAll('filter')) {
    validateMqttFilter(filter);
    filters.push({ kind: 'mqtt', filter });
  }
  return filters;
}

/** The encodeOnce format of a record event body (shared by every SSE stream). */
export const SSE_RECORD_FORMAT = 'sse.record';

/** A record's `message` event without its `id:` line, which each stream writes in front of it (same bytes as sseEvent with an id). */
function recordEventBody(r: StreamRecord): string {
  return sseEvent(undefined, jsonRecordWithTopic(r));
}

/** The encodeOnce format of a record event body shown decoded (a schema-bound topic; the core memoizes the decoding per record). */
const SSE_DECODED_FORMAT = 'sse.record.decoded';

/** Streams one subscription to `res` until the client goes away or the gateway ends it. */
export async function serveSse(
  gateway: Gateway,
  ctx: Context,
  req: IncomingMessage,
  res: ServerResponse,
  topic: string,
  query: URLSearchParams,
  options: SseOptions,
  /** Live streams; the adapter ends each with SHUTTING_DOWN when the gateway stops. */
  live: Set<(error: GatewayError) => void>,
): Promise<void> {
  const from = ssePosition(req, query);
  const filters = sseFilters(query);
  const partitionsParam = query.get('partitions');
  if (partitionsParam !== null && !PARTITION_LIST.test(partitionsParam)) throw new GatewayError('INVALID_ARGUMENT', 'partitions must be comma-separated partition numbers (such as 0,2).');
  const partitions = partitionsParam === null || partitionsParam === '' ? undefined : [...new Set(partitionsParam.split(',').map(Number))];

  // Positions after the last event written: the id of every event.
  const positions = new Map<number, bigint>();
  let subscription: Subscription | undefined;
  /** Set the moment the stream ends, whatever ends it; nothing is written after. */
  let ended = false;
  let started = false;
  let heartbeat: NodeJS.Timeout | undefined;
  let drainWaiter: (() => void) | undefined;
  const endWith = (error: GatewayError): void => stop(error);

  // The hub may deliver before subscribe() resolved and the headers are out: those deliveries
  // wait for `ready` (the hub awaits records(), so their order is kept), and run as no-ops if the
  // stream ended first.
  let markReady!: () => void;
  const ready = new Promise<void>((resolve) => (markReady = resolve));

  const finish = (): void => {
    if (ended) return;
    ended = true;
    if (heartbeat !== undefined) clearInterval(heartbeat);
    live.delete(endWith);
    subscription?.close();
    markReady();
    const w = drainWaiter;
    drainWaiter = undefined;
    w?.();
  };
  res.on('close', finish);
  // A socket error ends this stream only (the response emits it instead of throwing).
  res.on('error', (err) => {
    ctx.log.debug({ err }, 'SSE stream write failed; ending it');
    finish();
  });
  res.on('drain', () => {
    const w = drainWaiter;
    drainWaiter = undefined;
    w?.();
  });

  /** The one way bytes reach the socket. */
  const write = (chunk: string): boolean => (ended || res.writableEnded || res.destroyed ? true : res.write(chunk));

  /** Ends the stream now (after an `error` event when the gateway ended it with one). */
  const stop = (error?: GatewayError, id?: string): void => {
    if (ended) return;
    if (error !== undefined && started) write(sseEvent('error', JSON.stringify(toHttpError(error, true).body), id));
    finish();
    if (started) res.end();
  };

  const deliver = (batch: readonly StreamRecord[]): Promise<void> | void => {
    if (ended) return;
    // Records of schema-bound topics are shown decoded (the core decides and decodes, once per batch).
    const decoding = gateway.decodeForJson(batch);
    return decoding === undefined ? writeBatch(batch, undefined) : decoding.then((decoded) => writeBatch(batch, decoded));
  };

  const writeBatch = (batch: readonly StreamRecord[], decoded: readonly (RecordDecoding | undefined)[] | undefined): Promise<void> | void => {
    if (ended) return;
    // One write per batch (not per record): one chunk and one syscall for many events. The
    // event body is encoded once per record for every stream; only the id line is this stream's.
    let events = '';
    for (const [i, r] of batch.entries()) {
      let body: string;
      try {
        const decoding = decoded?.[i];
        body = decoding === undefined ? encodeOnce(r, SSE_RECORD_FORMAT, recordEventBody) : encodeOnce(r, SSE_DECODED_FORMAT, (x) => sseEvent(undefined, jsonRecordWithTopic(x, decoding)));
      } catch (err) {
        // Contained to this stream: what was encoded so far goes out, then a catalogued error
        // whose id is past the record, so a reconnecting EventSource does not hit it again.
        const error = GatewayError.from(err);
        ctx.log.error({ err: error.cause ?? err, topic: r.topic, partition: r.partition, offset: r.offset.toString() }, 'SSE record could not be encoded; ending the stream');
        if (events !== '') write(events);
        positions.set(r.partition, r.offset + 1n);
        stop(error, encodeEventId(positions));
        return;
      }
      positions.set(r.partition, r.offset + 1n);
      events += `id: ${encodeEventId(positions)}\n${body}`;
    }
    const ok = events === '' || write(events);
    if (ok || ended) return;
    // Backpressure: the hub waits until the socket took the bytes.
    return new Promise<void>((resolve) => {
      drainWaiter = resolve;
    });
  };

  const notice = (n: ContinuityLost): void => {
    positions.set(n.partition, n.actual);
    write(
      sseEvent(
        'continuity-lost',
        stringifyWithStrings({ partition: n.partition, requested: n.requested, actual: n.actual, reason: n.reason }),
        encodeEventId(positions),
      ),
    );
  };

  const sink = {
    records: (batch: readonly StreamRecord[]): Promise<void> | void => (started ? deliver(batch) : ready.then(() => deliver(batch))),
    continuityLost: (n: ContinuityLost): void => {
      if (started) notice(n);
      else void ready.then(() => (ended ? undefined : notice(n)));
    },
    end: (error?: GatewayError): void => {
      if (started) stop(error);
      else void ready.then(() => stop(error));
    },
  };

  // Subscribe before the 200 so a bad topic or position is an ordinary HTTP error.
  try {
    subscription = await gateway.subscribe(ctx, { topic, from, filters, ...(partitions === undefined ? {} : { partitions }) }, sink);
  } catch (err) {
    finish();
    throw err;
  }
  if (ended) {
    // The client went away while subscribing.
    subscription.close();
    return;
  }
  for (const [p, o] of subscription.start) if (!positions.has(p)) positions.set(p, o);

  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    // nginx: do not buffer the stream.
    'x-accel-buffering': 'no',
  });
  // The first event tells the resolved start, and its id lets a reconnect resume there even if no record arrived.
  const start = Object.fromEntries([...subscription.start.entries()].map(([p, o]) => [String(p), o.toString()]));
  write(`retry: ${options.retryMs}\n\n`);
  write(sseEvent('subscribed', JSON.stringify({ topic, positions: start }), encodeEventId(positions)));
  started = true;
  live.add(endWith);
  heartbeat = setInterval(() => write(': heartbeat\n\n'), options.heartbeatMs);
  heartbeat.unref();
  markReady();
}
