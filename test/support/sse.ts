/** A minimal Server-Sent Events reader over fetch for tests (WHATWG HTML §9.2.6 field parsing). */
import { expect } from 'vitest';

export interface SseEvent {
  id?: string;
  event: string;
  data: string;
}

/** Yields the stream's events in order until aborted (asserts a 200 text/event-stream answer). */
export async function* sse(url: string, headers: Record<string, string>, signal: AbortSignal): AsyncGenerator<SseEvent> {
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const decoder = new TextDecoder();
  let buf = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, end);
      buf = buf.slice(end + 2);
      const ev: SseEvent = { event: 'message', data: '' };
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line.startsWith(':')) continue;
        const i = line.indexOf(':');
        const field = i < 0 ? line : line.slice(0, i);
        const value = i < 0 ? '' : line.slice(i + 1).replace(/^ /, '');
        if (field === 'id') ev.id = value;
        else if (field === 'event') ev.event = value;
        else if (field === 'data') data.push(value);
      }
      if (data.length > 0) yield { ...ev, data: data.join('\n') };
    }
  }
}
