/** The browser client's reconnect logic against a scripted fake WebSocket (no network). */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { connect, mayReconnect, type WebSocketLike } from '../../clients/ts/browser/index.js';

class FakeSocket implements WebSocketLike {
  static all: FakeSocket[] = [];
  readyState = 0;
  protocol = 'streamgate.v1.json';
  sent: any[] = [];
  onopen: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  onclose: ((ev: { code: number; reason: string }) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  constructor(
    readonly url: string,
    readonly protocols?: string | string[],
  ) {
    FakeSocket.all.push(this);
  }
  send(data: string): void {
    this.sent.push(JSON.parse(data));
  }
  close(): void {
    this.readyState = 3;
  }
  open(): void {
    this.readyState = 1;
    this.onopen?.({});
  }
  receive(frame: unknown): void {
    this.onmessage?.({ data: JSON.stringify(frame) });
  }
  drop(code = 1006): void {
    this.readyState = 3;
    this.onclose?.({ code, reason: '' });
  }
}

afterEach(() => {
  vi.useRealTimers();
  FakeSocket.all = [];
});

const rec = (offset: number, seq: number) => ({ partition: 0, offset: String(offset), timestamp: 1, key: null, value: { seq } });

describe('browser client', () => {
  it('resubscribes from the next offset after the last delivered record and never delivers a record twice', async () => {
    vi.useFakeTimers();
    const client = connect('ws://gw/v1/ws', { WebSocketImpl: FakeSocket, initialBackoffMs: 100 });
    const seen: number[] = [];
    client.subscribe('t', { from: 'earliest', keyPrefix: 'a/' }, (records) => seen.push(...records.map((r) => (r.value as { seq: number }).seq)));
    const first = FakeSocket.all[0]!;
    expect(first.protocols).toBe('streamgate.v1.json');
    first.open();
    expect(first.sent).toEqual([{ op: 'subscribe', id: 's1', topic: 't', from: 'earliest', keyPrefix: 'a/' }]);
    first.receive({ op: 'subscribed', id: 's1', positions: { '0': '10', '1': '0' } });
    first.receive({ op: 'records', sub: 's1', records: [rec(10, 0), rec(11, 1)] });
    first.drop();
    expect(client.state).toBe('reconnecting');

    // Full jitter: the first retry comes within initialBackoffMs.
    vi.advanceTimersByTime(100);
    const second = FakeSocket.all[1]!;
    second.open();
    expect(second.sent).toEqual([
      { op: 'subscribe', id: 's1', topic: 't', from: { offsets: { '0': '12', '1': '0' }, otherwise: 'earliest' }, keyPrefix: 'a/' },
    ]);
    second.receive({ op: 'subscribed', id: 's1', positions: { '0': '12', '1': '0' } });
    // A record the app already has (offset 11) is dropped; 12 is new.
    second.receive({ op: 'records', sub: 's1', records: [rec(11, 1), rec(12, 2)] });
    expect(seen).toEqual([0, 1, 2]);
    client.close();
  });

  it('resends unacknowledged publishes with the same id after a reconnect', async () => {
    vi.useFakeTimers();
    const client = connect('ws://gw/v1/ws', { WebSocketImpl: FakeSocket, initialBackoffMs: 10 });
    const result = client.publish('t', [{ key: 'k', value: new Uint8Array([0, 255]) }]);
    FakeSocket.all[0]!.open();
    const [frame] = FakeSocket.all[0]!.sent;
    expect(frame).toMatchObject({ op: 'publish', topic: 't', records: [{ key: 'k', value: 'AP8=', encoding: 'base64' }] });
    FakeSocket.all[0]!.drop();
    vi.advanceTimersByTime(10);
    FakeSocket.all[1]!.open();
    expect(FakeSocket.all[1]!.sent).toEqual([frame]);
    FakeSocket.all[1]!.receive({ op: 'ack', id: frame.id, offsets: [{ partition: 0, offset: '7', timestamp: 1 }] });
    expect(await result).toEqual([{ partition: 0, offset: '7', timestamp: 1 }]);
    client.close();
  });

  it('gives up on permanent close codes and fails what is pending', async () => {
    const client = connect('ws://gw/v1/ws', { WebSocketImpl: FakeSocket });
    const result = client.publish('t', [{ value: 1 }]);
    FakeSocket.all[0]!.open();
    FakeSocket.all[0]!.drop(4512);
    await expect(result).rejects.toMatchObject({ code: 'CLOSED' });
    expect(client.state).toBe('closed');
    expect(FakeSocket.all).toHaveLength(1);
    expect([mayReconnect(1001), mayReconnect(4008), mayReconnect(1006), mayReconnect(4505), mayReconnect(1009)]).toEqual([true, true, true, false, false]);
  });

  it('reports a subscribe error frame to the subscription and rejects subscribed()', async () => {
    const client = connect('ws://gw/v1/ws', { WebSocketImpl: FakeSocket });
    const errors: string[] = [];
    const sub = client.subscribe('missing', {}, () => undefined, { onError: (e) => errors.push(e.code) });
    FakeSocket.all[0]!.open();
    const confirmed = sub.subscribed();
    FakeSocket.all[0]!.receive({ op: 'error', id: 's1', code: 'TOPIC_NOT_FOUND', message: 'no', retriable: false });
    await expect(confirmed).rejects.toMatchObject({ code: 'TOPIC_NOT_FOUND' });
    expect(errors).toEqual(['TOPIC_NOT_FOUND']);
    client.close();
  });
});
