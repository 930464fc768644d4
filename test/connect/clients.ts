/**
 * Small protocol clients for the Connect pipeline tests and examples/connect: a WebSocket
 * subscriber (streamgate.v1.json), a Server-Sent Events reader over fetch, and the decoding of
 * delivered values back to the bytes that are in Kafka.
 */
import { WebSocket } from 'ws';
import { eventually } from '../support/wait.js';

/** A record as the WebSocket JSON subprotocol and the SSE/native REST API deliver it. */
export interface DeliveredRecord {
  topic?: string;
  partition: number;
  offset: string;
  timestamp: number;
  key: string | null;
  keyEncoding?: 'base64';
  value: unknown;
  encoding?: 'base64';
  /** In the record's order; a name may repeat. */
  headers?: { name: string; value: string }[];
  headersEncoding?: 'base64';
}

/**
 * The bytes a delivered value stands for: base64 values are raw bytes, anything else is JSON
 * that was stored as its JSON text (so `"a"` stands for the 3 bytes `"a"`).
 */
export function valueText(r: DeliveredRecord): string | null {
  if (r.value === null) return null;
  if (r.encoding === 'base64') return Buffer.from(r.value as string, 'base64').toString('utf8');
  return JSON.stringify(r.value);
}

/** A WebSocket connection with one subscription, recording every delivered record. */
export interface WsSubscriber {
  readonly records: DeliveredRecord[];
  readonly errors: unknown[];
  waitFor(n: number, timeoutMs?: number): Promise<DeliveredRecord[]>;
  close(): Promise<void>;
}

/** Opens `/v1/ws` and subscribes to `topic` from `from`; resolves once the gateway confirmed the subscription. */
export async function wsSubscribe(wsUrl: string, topic: string, from: unknown = 'earliest'): Promise<WsSubscriber> {
  const ws = new WebSocket(`${wsUrl}/v1/ws`, ['streamgate.v1.json']);
  const records: DeliveredRecord[] = [];
  const errors: unknown[] = [];
  let subscribed = false;
  ws.on('message', (data: Buffer) => {
    const frame = JSON.parse(data.toString('utf8')) as { op: string; records?: DeliveredRecord[]; id?: string };
    if (frame.op === 'records') records.push(...frame.records!);
    else if (frame.op === 'subscribed') subscribed = true;
    else if (frame.op === 'error' || frame.op === 'end' || frame.op === 'continuity-lost') errors.push(frame);
  });
  await new Promise<void>((ok, fail) => {
    ws.once('open', () => ok());
    ws.once('error', fail);
  });
  ws.send(JSON.stringify({ op: 'subscribe', id: 's1', topic, from }));
  await eventually(
    () => {
      if (errors.length > 0) throw new Error(`subscribe to ${topic} failed: ${JSON.stringify(errors)}`);
      return subscribed;
    },
    { what: `WebSocket subscription to ${topic}`, timeoutMs: 10_000 },
  );
  return {
    records,
    errors,
    waitFor: (n, timeoutMs = 20_000) => eventually(() => records.length >= n && records, { timeoutMs, what: `${n} WebSocket records of ${topic}` }),
    close: () =>
      new Promise<void>((ok) => {
        if (ws.readyState === WebSocket.CLOSED) return ok();
        ws.once('close', () => ok());
        ws.close();
      }),
  };
}

/** One Server-Sent Event. */
export interface SseEvent {
  event: string;
  id?: string;
  data: string;
}

/** A `GET /v1/topics/{t}/events` stream, parsed as it arrives (text/event-stream, WHATWG HTML §9.2.6). */
export interface SseReader {
  readonly events: SseEvent[];
  /** The `record` events' data, parsed. */
  records(): DeliveredRecord[];
  waitFor(n: number, timeoutMs?: number): Promise<DeliveredRecord[]>;
  close(): void;
}

export async function sseSubscribe(httpUrl: string, topic: string, from = 'earliest'): Promise<SseReader> {
  const abort = new AbortController();
  const res = await fetch(`${httpUrl}/v1/topics/${encodeURIComponent(topic)}/events?from=${encodeURIComponent(from)}`, {
    headers: { accept: 'text/event-stream' },
    signal: abort.signal,
  });
  if (res.status !== 200 || res.body === null) {
    const body = await res.text().catch((err: unknown) => String(err));
    abort.abort();
    throw new Error(`SSE ${topic}: HTTP ${res.status} ${body}`);
  }
  const events: SseEvent[] = [];
  let failure: unknown;
  (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      let end: number;
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event: SseEvent = { event: 'message', data: '' };
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const field = colon < 0 ? line : line.slice(0, colon);
          const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
          if (field === 'event') event.event = value;
          else if (field === 'id') event.id = value;
          else if (field === 'data') data.push(value);
        }
        if (data.length === 0) continue;
        event.data = data.join('\n');
        events.push(event);
      }
    }
  })().catch((err: unknown) => {
    if (!abort.signal.aborted) failure = err;
  });
  const records = (): DeliveredRecord[] => events.filter((e) => e.event === 'message').map((e) => JSON.parse(e.data) as DeliveredRecord);
  return {
    events,
    records,
    waitFor: (n, timeoutMs = 20_000) =>
      eventually(
        () => {
          if (failure !== undefined) throw failure;
          const r = records();
          return r.length >= n && r;
        },
        { timeoutMs, what: `${n} SSE records of ${topic}` },
      ),
    close: () => abort.abort(),
  };
}
