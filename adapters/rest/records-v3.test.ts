/**
 * The v3 streaming produce's own parts, in-process: the record splitter (any slicing of the bytes,
 * strings holding braces, the per-record bound) and the stream's bounds against a client that
 * sends records forever and never reads a report.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable, Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { Context, Gateway } from '../../gateway/api.js';
import type { ProduceRecord, ProduceResult } from '../../gateway/record.js';
import { JsonSplitter, ProduceStream, V3_STREAM_MAX_INFLIGHT, decodeV3Record } from './records-v3.js';
import { V3Names } from './routes-v3.js';

describe('JsonSplitter', () => {
  const records = ['{"value":{"type":"STRING","data":"a}{\\"b"}}', '{"key":null,"value":{"type":"JSON","data":[1,{"x":"]"}]}}', '{}'];
  const text = `${records[0]}\r\n  ${records[1]}${records[2]}\n`;

  it('finds every object whatever the chunking: whole, byte by byte, split at every position', () => {
    const whole = new JsonSplitter(1_000).push(Buffer.from(text)).map(String);
    expect(whole).toEqual(records);
    const splitter = new JsonSplitter(1_000);
    const bytes = Buffer.from(text);
    const one: string[] = [];
    for (let i = 0; i < bytes.length; i++) one.push(...splitter.push(bytes.subarray(i, i + 1)).map(String));
    expect(one).toEqual(records);
    expect(splitter.pending()).toBe(false);
    for (let cut = 1; cut < bytes.length; cut++) {
      const s = new JsonSplitter(1_000);
      expect([...s.push(bytes.subarray(0, cut)), ...s.push(bytes.subarray(cut))].map(String)).toEqual(records);
    }
  });

  it('refuses bytes between records that are not whitespace, and a record over the limit (without waiting for its end)', () => {
    expect(() => new JsonSplitter(1_000).push(Buffer.from('{} x {}'))).toThrow(/JSON object/);
    expect(() => new JsonSplitter(1_000).push(Buffer.from('[1]'))).toThrow(/JSON object/);
    const s = new JsonSplitter(16);
    expect(() => s.push(Buffer.from(`{"v":"${'x'.repeat(64)}`))).toThrow(/over 16 bytes/);
    const t = new JsonSplitter(16);
    expect(t.push(Buffer.from('{"v":"x'))).toEqual([]);
    expect(t.pending()).toBe(true);
  });
});

describe('decodeV3Record', () => {
  it('stores JSON data as the exact text sent, STRING as UTF-8, BINARY as its bytes; headers in order', () => {
    const d = decodeV3Record(Buffer.from('{"key":{"type":"STRING","data":"k"},"value":{"type":"JSON","data": {"n":1.10, "n":2} },"headers":[{"name":"a","value":"AQ=="},{"name":"b","value":null}],"partition_id":3}'));
    expect(d.record.key).toEqual(Buffer.from('k'));
    expect(d.record.value!.toString()).toBe('{"n":1.10, "n":2}');
    expect(d.record.partition).toBe(3);
    expect(d.record.headers).toEqual([
      { name: 'a', value: Buffer.from([1]) },
      { name: 'b', value: Buffer.alloc(0) },
    ]);
    expect(d.value).toEqual({ type: 'JSON', size: 17 });
    expect(() => decodeV3Record(Buffer.from('{"value":{"type":"AVRO","data":1}}'))).toThrow();
    expect(() => decodeV3Record(Buffer.from('{"value":{"type":"STRING","data":"\\ud800"}}'))).toThrow(/surrogate/);
    expect(() => decodeV3Record(Buffer.from('{"timestamp":"yesterday"}'))).toThrow();
  });

  it('keeps a repeated header name, in order, as Kafka does', () => {
    const d = decodeV3Record(Buffer.from('{"value":{"type":"STRING","data":"v"},"headers":[{"name":"h","value":"MQ=="},{"name":"x","value":"eA=="},{"name":"h","value":"Mg=="}]}'));
    expect(d.record.headers!.map((h) => `${h.name}=${h.value.toString()}`)).toEqual(['h=1', 'x=x', 'h=2']);
  });
});

describe('ProduceStream bounds', () => {
  it('a client that streams records forever and never reads a report stops being read: records read and produced stay bounded', async () => {
    const record = Buffer.from('{"value":{"type":"STRING","data":"0123456789012345678901234567890123456789"}}\n');
    let generated = 0;
    const req = new Readable({
      highWaterMark: 16 * 1024,
      read() {
        // An endless body, generated only when the server reads.
        for (let i = 0; i < 64; i++) {
          generated++;
          this.push(record);
        }
      },
    });
    // A chunked body: a stream, no Content-Length.
    Object.assign(req, { headers: { 'transfer-encoding': 'chunked' } });
    let written = 0;
    const res = new Writable({
      highWaterMark: 1024,
      write(_chunk, _enc, _done) {
        // The client never reads: no write ever completes.
        written++;
      },
    }) as Writable & { writeHead(): void; writableFinished: boolean };
    res.writeHead = () => undefined;
    let produced = 0;
    const gateway = {
      produce: async (_ctx: Context, _topic: string, records: ProduceRecord[]): Promise<ProduceResult[]> => {
        produced += records.length;
        return records.map((_, i) => ({ ok: true as const, partition: 0, offset: BigInt(produced - records.length + i), timestamp: 0 }));
      },
    } as unknown as Gateway;
    const ctx = { protocol: 'rest', principal: { id: 'p', anonymous: true }, log: pino({ level: 'silent' }) } as Context;
    const stream = new ProduceStream(gateway, ctx, req as unknown as IncomingMessage, res as unknown as ServerResponse, new V3Names('http://x', 'c'), 't', 1024 * 1024);
    void stream.run();
    // Poll (no sleep) until the stream stopped reading, then let the event loop run a while.
    for (let spins = 0; spins < 10_000 && !(req.isPaused() && res.writableNeedDrain); spins++) await new Promise((r) => setImmediate(r));
    expect(req.isPaused()).toBe(true);
    const at = { generated, produced, written };
    for (let i = 0; i < 200; i++) await new Promise((r) => setImmediate(r));
    expect({ generated, produced, written }).toEqual(at);
    // Reports waiting for the client + records unreported, and what the body stream buffers.
    expect(produced).toBeLessThanOrEqual(V3_STREAM_MAX_INFLIGHT + written + 64);
    expect(generated * record.length).toBeLessThan(64 * 1024 + (V3_STREAM_MAX_INFLIGHT + written + 128) * record.length);
    req.destroy();
  });
});
