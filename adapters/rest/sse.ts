/**
 * One Server-Sent Events stream (`GET /v1/topics/{t}/events`): a hub subscription written as
 * `record` events whose id is the positions after that record, so an EventSource that reconnects
 * with `Last-Event-ID` resumes with no gap and no duplicate (WHATWG HTML §9.2.4: the browser
 * sends the last event id it saw).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context, ContinuityLost, Gateway, KeyFilter, Subscription } from '../../gateway/api.js';
import { encodeOnce } from '../../gateway/encoded.js';
import { GatewayError } from '../../gateway/errors.js';
import { offsetsPosition, type Position, type StreamRecord } from '../../gateway/record.js';
import { decodeEventId, encodeEventId, encodeNativeRecord, parsePartition, sseEvent, stringifyWithStrings } from './codec.js';
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
  const lastEventId = (Array.isArray(header) ? header[0] : header) ?? query.get('lastEventId') ?? undefined;
  if (lastEventId !== undefined && lastEventId.trim() !== '') {
    // Partitions missing from the id appeared after it was issued: read them from the start.
    return positionsFrom(decodeEventId(lastEventId));
  }
  const from = query.get('from') ?? 'latest';
  if (from === 'earliest') return { kind: 'earliest' };
  if (from === 'latest') return { kind: 'latest' };
  const ts = /^ts:(\d{1,15})$/.exec(from);
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
    if (filter === '' || /(^|\/)#./.test(filter) || /[^/]#|\+[^/]|[^/]\+/.test(filter)) {
      throw new GatewayError('INVALID_ARGUMENT', `filter "${filter.slice(0, 64)}" is not a valid MQTT topic filter.`);
    }
    filters.push({ kind: 'mqtt', filter });
  }
  return filters;
}

const SSE_RECORD_FORMAT = 'sse.record';

/** A `record` event without its `id:` line, which each stream writes in front of it (same bytes as sseEvent with an id). */
function recordEventBody(r: StreamRecord): string {
  return sseEvent('record', stringifyWithStrings({ topic: r.topic, ...encodeNativeRecord(r) }));
}

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
  const partitions = partitionsParam === null || partitionsParam === '' ? undefined : partitionsParam.split(',').map((p) => parsePartition(p.trim(), 'partitions entry'));

  // Positions after the last event written: the id of every event.
  const positions = new Map<number, bigint>();
  let subscription: Subscription | undefined;
  let finished = false;
  let heartbeat: NodeJS.Timeout | undefined;
  let drainWaiter: (() => void) | undefined;
  let endedEarly: GatewayError | null | undefined;

  const finish = (): void => {
    if (finished) return;
    finished = true;
    if (heartbeat !== undefined) clearInterval(heartbeat);
    subscription?.close();
    drainWaiter?.();
    drainWaiter = undefined;
  };
  res.on('close', finish);
  res.on('drain', () => {
    const w = drainWaiter;
    drainWaiter = undefined;
    w?.();
  });

  const write = (chunk: string): boolean => (finished ? true : res.write(chunk));
  // The hub may deliver before subscribe() resolved and the headers are out: hold those until then.
  let started = false;
  const early: ({ batch: readonly StreamRecord[] } | { notice: ContinuityLost })[] = [];

  const sink = {
    records: (batch: readonly StreamRecord[]): Promise<void> | void => {
      if (finished) return;
      if (!started) {
        early.push({ batch });
        return;
      }
      // One write per batch (not per record): one chunk and one syscall for many events. The
      // event body is encoded once per record for every stream; only the id line is this stream's.
      let events = '';
      for (const r of batch) {
        positions.set(r.partition, r.offset + 1n);
        events += `id: ${encodeEventId(positions)}\n${encodeOnce(r, SSE_RECORD_FORMAT, recordEventBody)}`;
      }
      const ok = events === '' || write(events);
      if (ok || finished) return;
      // Backpressure: the hub waits until the socket took the bytes.
      return new Promise<void>((resolve) => {
        drainWaiter = resolve;
      });
    },
    continuityLost: (notice: ContinuityLost): void => {
      if (!started) {
        early.push({ notice });
        return;
      }
      positions.set(notice.partition, notice.actual);
      write(
        sseEvent(
          'continuity-lost',
          stringifyWithStrings({ partition: notice.partition, requested: notice.requested, actual: notice.actual, reason: notice.reason }),
          encodeEventId(positions),
        ),
      );
    },
    end: (error?: GatewayError): void => {
      if (!started) {
        endedEarly = error ?? null;
        return;
      }
      if (error !== undefined && !finished) {
        const { body } = toHttpError(error, true);
        write(sseEvent('error', JSON.stringify(body)));
      }
      if (!finished) res.end();
      finish();
    },
  };

  // Subscribe before the 200 so a bad topic or position is an ordinary HTTP error.
  subscription = await gateway.subscribe(ctx, { topic, from, filters, ...(partitions === undefined ? {} : { partitions }) }, sink);
  if (finished) {
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
  for (const item of early.splice(0)) {
    if ('batch' in item) await sink.records(item.batch);
    else sink.continuityLost(item.notice);
  }
  if (endedEarly !== undefined) {
    sink.end(endedEarly ?? undefined);
    return;
  }
  if (finished) return;
  const endWith = (error: GatewayError) => sink.end(error);
  live.add(endWith);
  res.once('close', () => live.delete(endWith));
  heartbeat = setInterval(() => write(': heartbeat\n\n'), options.heartbeatMs);
  heartbeat.unref();
}
