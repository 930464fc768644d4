import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../gateway/errors.js';
import type { StreamRecord } from '../../gateway/record.js';
import { FrameError, encodeJsonRecord, jsonCodec } from './codec.js';
import { closeReason } from './errors.js';
import { selectSubprotocol } from '../../transport/websocket-shared.js';
import { SUBPROTOCOLS } from './index.js';

const json = (o: unknown): Buffer => Buffer.from(JSON.stringify(o));

function decodeError(data: Buffer): FrameError {
  try {
    jsonCodec.decode(data);
  } catch (err) {
    if (err instanceof FrameError) return err;
    throw err;
  }
  throw new Error('expected a FrameError');
}

describe('JSON codec: client frames', () => {
  it('decodes every kind of position and key filter', () => {
    expect(jsonCodec.decode(json({ op: 'subscribe', id: 's1', topic: 't' }))).toEqual({ op: 'subscribe', id: 's1', topic: 't', from: { kind: 'latest' } });
    expect(jsonCodec.decode(json({ op: 'subscribe', id: 's1', topic: 't', from: 'earliest' }))).toMatchObject({ from: { kind: 'earliest' } });
    expect(jsonCodec.decode(json({ op: 'subscribe', id: 's1', topic: 't', from: { timestamp: 1700000000000 } }))).toMatchObject({
      from: { kind: 'timestamp', timestamp: 1700000000000 },
    });
    const offsets = jsonCodec.decode(json({ op: 'subscribe', id: 's1', topic: 't', from: { offsets: { '0': '42', '3': 7 }, otherwise: 'earliest' } }));
    expect(offsets).toMatchObject({ from: { kind: 'offsets', offsets: new Map([[0, 42n], [3, 7n]]), otherwise: 'earliest' } });
    const filtered = jsonCodec.decode(json({ op: 'subscribe', id: 's', topic: 't', key: 'a', keyPrefix: ['b/', 'c/'], filter: 'd/+/e', partitions: [0, 2] }));
    expect(filtered).toMatchObject({
      partitions: [0, 2],
      filters: [
        { kind: 'exact', key: 'a' },
        { kind: 'prefix', prefix: 'b/' },
        { kind: 'prefix', prefix: 'c/' },
        { kind: 'mqtt', filter: 'd/+/e' },
      ],
    });
  });

  it('decodes publish records: JSON values as their text, base64 values as bytes, the id as idempotency key', () => {
    const frame = jsonCodec.decode(
      json({
        op: 'publish',
        id: 'p1',
        topic: 't',
        records: [
          { key: 'k', value: { a: 1 }, headers: { h: 'v' }, partition: 1, timestamp: 5 },
          { value: 'AAEC/w==', encoding: 'base64' },
          { key: null },
        ],
      }),
    );
    expect(frame).toEqual({
      op: 'publish',
      id: 'p1',
      topic: 't',
      idempotencyKey: 'p1',
      records: [
        { key: Buffer.from('k'), value: Buffer.from('{"a":1}'), headers: [{ name: 'h', value: Buffer.from('v') }], partition: 1, timestamp: 5 },
        { key: null, value: Buffer.from([0, 1, 2, 255]) },
        { key: null, value: null },
      ],
    });
  });

  it('reports bad frames with catalogued codes and the request id when it is readable', () => {
    expect(decodeError(Buffer.from('{nope')).error.code).toBe('INVALID_ARGUMENT');
    expect(decodeError(Buffer.from('[1]')).error.code).toBe('INVALID_ARGUMENT');
    const unknown = decodeError(json({ op: 'dance', id: 'x1' }));
    expect([unknown.error.code, unknown.id]).toEqual(['INVALID_ARGUMENT', 'x1']);
    expect(unknown.message).toMatch(/Unknown op "dance"/);
    const badFrom = decodeError(json({ op: 'subscribe', id: 's9', topic: 't', from: 'yesterday' }));
    expect([badFrom.error.code, badFrom.id]).toEqual(['INVALID_ARGUMENT', 's9']);
    expect(decodeError(json({ op: 'subscribe', id: 's', topic: 't', from: { offsets: { '0': '-1' } } })).error.code).toBe('INVALID_ARGUMENT');
    expect(decodeError(json({ op: 'publish', id: 'p', topic: 't', records: [{ value: '@@', encoding: 'base64' }] })).error.code).toBe('INVALID_VALUE');
    expect(decodeError(json({ op: 'publish', id: 'p', topic: 't', records: [{ key: 5, value: 1 }] })).error.code).toBe('INVALID_KEY');
    expect(decodeError(json({ op: 'publish', topic: 't', records: [] })).error.code).toBe('INVALID_ARGUMENT');
  });
});

describe('JSON codec: server frames', () => {
  const record = (over: Partial<StreamRecord>): StreamRecord => ({
    topic: 't',
    partition: 0,
    offset: 42n,
    timestamp: 1000,
    key: Buffer.from('k'),
    value: Buffer.from('{"n":1}'),
    headers: [],
    ...over,
  });

  it('inlines JSON values, base64-encodes the rest, and renders offsets as strings', () => {
    const frame = JSON.parse(
      jsonCodec.encode({
        op: 'records',
        sub: 's1',
        records: [
          record({}),
          record({ offset: 43n, value: Buffer.from('plain text'), key: null }),
          record({ offset: 44n, value: Buffer.from([0xff, 0]), key: Buffer.from([0xc3]), headers: [{ name: 'a', value: Buffer.from('x') }, { name: 'b', value: Buffer.from([0xff]) }] }),
          record({ offset: 45n, value: null, headers: [{ name: 'h', value: Buffer.from('v') }] }),
        ],
      }) as string,
    );
    expect(frame).toEqual({
      op: 'records',
      sub: 's1',
      records: [
        { partition: 0, offset: '42', timestamp: 1000, key: 'k', value: { n: 1 }, headers: [] },
        { partition: 0, offset: '43', timestamp: 1000, key: null, value: Buffer.from('plain text').toString('base64'), encoding: 'base64', headers: [] },
        {
          partition: 0,
          offset: '44',
          timestamp: 1000,
          key: 'ww==',
          keyEncoding: 'base64',
          value: '/wA=',
          encoding: 'base64',
          headers: [{ name: 'a', value: 'eA==' }, { name: 'b', value: '/w==' }],
          headersEncoding: 'base64',
        },
        { partition: 0, offset: '45', timestamp: 1000, key: 'k', value: null, headers: [{ name: 'h', value: 'v' }] },
      ],
    });
  });

  it('serializes a record once however many subscribers it goes to', () => {
    const r = record({});
    expect(encodeJsonRecord(r)).toBe(encodeJsonRecord(r));
    expect(Object.is(encodeJsonRecord(r), encodeJsonRecord(r))).toBe(true);
  });

  it('encodes subscribed, ack, error, continuity-lost and end frames as the protocol says', () => {
    const enc = (f: Parameters<typeof jsonCodec.encode>[0]) => JSON.parse(jsonCodec.encode(f) as string);
    expect(enc({ op: 'subscribed', id: 's1', positions: new Map([[0, 42n]]) })).toEqual({ op: 'subscribed', id: 's1', positions: { '0': '42' } });
    expect(enc({ op: 'ack', id: 'p1', offsets: [{ partition: 0, offset: 43n, timestamp: 9 }] })).toEqual({
      op: 'ack',
      id: 'p1',
      offsets: [{ partition: 0, offset: '43', timestamp: 9 }],
    });
    expect(enc({ op: 'error', id: 's2', error: new GatewayError('TOPIC_NOT_FOUND', 'no such topic') })).toEqual({
      op: 'error',
      id: 's2',
      code: 'TOPIC_NOT_FOUND',
      message: 'no such topic',
      retriable: false,
    });
    expect(enc({ op: 'continuity-lost', sub: 's1', notice: { partition: 0, requested: 5n, actual: 10n, reason: 'below_log_start' } })).toEqual({
      op: 'continuity-lost',
      sub: 's1',
      partition: 0,
      requested: '5',
      actual: '10',
      reason: 'below_log_start',
    });
    expect(enc({ op: 'end', sub: 's1', error: new GatewayError('SLOW_CONSUMER', 'too slow') })).toEqual({
      op: 'end',
      sub: 's1',
      code: 'SLOW_CONSUMER',
      message: 'too slow',
      retriable: true,
    });
    expect(enc({ op: 'end', sub: 's1' })).toEqual({ op: 'end', sub: 's1' });
  });
});

describe('subprotocol selection and close reasons', () => {
  it('picks a supported subprotocol, defaults to JSON without a header, refuses unknown ones', () => {
    const endpoint = { subprotocols: SUBPROTOCOLS, defaultSubprotocol: 'streamgate.v1.json' };
    expect(selectSubprotocol(undefined, endpoint)).toBe('streamgate.v1.json');
    expect(selectSubprotocol('foo, streamgate.v1.proto', endpoint)).toBe('streamgate.v1.proto');
    expect(selectSubprotocol('mqtt', endpoint)).toBeUndefined();
  });

  it('keeps close reasons under 123 bytes', () => {
    const reason = closeReason('é'.repeat(200));
    expect(Buffer.byteLength(reason)).toBeLessThanOrEqual(122);
    expect(closeReason('short')).toBe('short');
  });
});
