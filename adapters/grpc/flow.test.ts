import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { EncodedResponse } from '../../codecs/proto.js';
import { FrameWriter } from './flow.js';

describe('FrameWriter', () => {
  /** A grpc-js-like stream whose write callbacks fire only when the test accepts the bytes (HTTP/2 flow control). */
  function transport() {
    const taken: number[] = [];
    const callbacks: (() => void)[] = [];
    const stream = new Writable({
      objectMode: true,
      // grpc-js's server streams buffer up to 16 messages: the writer must not rely on write()'s return value.
      highWaterMark: 16,
      write(chunk: EncodedResponse, _enc, cb) {
        taken.push(chunk.bytes.length);
        callbacks.push(() => cb());
      },
    });
    return { stream, taken, accept: () => callbacks.shift()?.() };
  }
  const frame = (n: number) => new EncodedResponse(Buffer.alloc(n));
  const tick = () => new Promise((r) => setImmediate(r));

  it('hands frames over while fewer than maxBufferedBytes are unaccepted; later writes wait, in order, until the transport accepts', async () => {
    const t = transport();
    const writer = new FrameWriter<EncodedResponse>(t.stream, { maxBufferedBytes: 100, closeBufferedBytes: 1000 }, () => undefined);
    const done: number[] = [];
    const writes = [60, 50, 10, 5].map((n, i) => writer.write(frame(n)).then(() => done.push(i)));
    await tick();
    // 60 < 100 → second frame goes too (110 unaccepted); the rest wait.
    expect(t.taken).toEqual([60]);
    expect(done).toEqual([0, 1]);
    expect(writer.bufferedBytes).toBe(110);
    t.accept(); // 60 accepted: 50 unaccepted → 10 and 5 go
    await tick();
    await Promise.all(writes);
    expect(writer.bufferedBytes).toBe(65);
    for (let i = 0; i < 3; i++) {
      t.accept();
      await tick();
    }
    expect(writer.bufferedBytes).toBe(0);
    expect(done).toEqual([0, 1, 2, 3]);
    expect(t.taken).toEqual([60, 50, 10, 5]);
  });

  it('ends a client that does not read: posted replies past closeBufferedBytes call onOverflow; awaited frames do not count while waiting', async () => {
    const t = transport();
    let overflows = 0;
    const writer = new FrameWriter<EncodedResponse>(t.stream, { maxBufferedBytes: 100, closeBufferedBytes: 700 }, () => overflows++);
    void writer.write(frame(150)); // handed over: 150 unaccepted
    void writer.write(frame(1000)); // waits (its caller holds it): not counted
    writer.post(frame(200));
    writer.post(frame(300));
    expect(overflows).toBe(0); // 150 + 500
    writer.post(frame(100));
    expect(overflows).toBe(1); // 150 + 600 > 700
  });

  it('releases pending writes when the call closes', async () => {
    const t = transport();
    const writer = new FrameWriter<EncodedResponse>(t.stream, { maxBufferedBytes: 10, closeBufferedBytes: 100 }, () => undefined);
    await writer.write(frame(20));
    const p = writer.write(frame(1));
    writer.markClosed();
    await p;
    await writer.write(frame(2)); // after close: resolves at once, dropped
    expect(t.taken).toEqual([20]);
    expect(writer.isClosed).toBe(true);
  });
});
