import { join } from 'node:path';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../gateway/errors.js';
import type { StreamRecord } from '../../gateway/record.js';
import { FrameError, encodeJsonRecord, jsonCodec, loadProtoCodec } from './codec.js';
import { closeReason } from './errors.js';
import { selectSubprotocol } from '../../transport/websocket.js';
import { SUBPROTOCOLS } from './index.js';

const PROTO = join(import.meta.dirname, '../../proto/streamgate/v1/streamgate.proto');
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
        { key: Buffer.from('k'), value: Buffer.from('{"a":1}'), headers: { h: Buffer.from('v') }, partition: 1, timestamp: 5 },
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
    headers: {},
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
          record({ offset: 44n, value: Buffer.from([0xff, 0]), key: Buffer.from([0xc3]), headers: { a: Buffer.from('x'), b: Buffer.from([0xff]) } }),
          record({ offset: 45n, value: null, headers: { h: Buffer.from('v') } }),
        ],
      }) as string,
    );
    expect(frame).toEqual({
      op: 'records',
      sub: 's1',
      records: [
        { partition: 0, offset: '42', timestamp: 1000, key: 'k', value: { n: 1 }, headers: {} },
        { partition: 0, offset: '43', timestamp: 1000, key: null, value: Buffer.from('plain text').toString('base64'), encoding: 'base64', headers: {} },
        {
          partition: 0,
          offset: '44',
          timestamp: 1000,
          key: 'ww==',
          keyEncoding: 'base64',
          value: '/wA=',
          encoding: 'base64',
          headers: { a: 'eA==', b: '/w==' },
          headersEncoding: 'base64',
        },
        { partition: 0, offset: '45', timestamp: 1000, key: 'k', value: null, headers: { h: 'v' } },
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

describe('proto codec (SessionRequest / SessionResponse)', () => {
  const codec = loadProtoCodec(PROTO);
  const root = protobuf.loadSync(PROTO);
  const Req = root.lookupType('streamgate.v1.SessionRequest');
  const Res = root.lookupType('streamgate.v1.SessionResponse');

  it('decodes subscribe and publish frames with null vs empty keys kept apart', () => {
    const sub = codec.decode(
      Buffer.from(
        Req.encode(
          Req.fromObject({ subscribe: { id: 's1', topic: 't', position: { offsets: { offsets: { 0: '42' }, otherwise: 1 } }, filters: [{ prefix: 'a/' }] } }),
        ).finish(),
      ),
    );
    expect(sub).toEqual({
      op: 'subscribe',
      id: 's1',
      topic: 't',
      from: { kind: 'offsets', offsets: new Map([[0, 42n]]), otherwise: 'earliest' },
      filters: [{ kind: 'prefix', prefix: 'a/' }],
      credit: 0,
    });
    const pub = codec.decode(
      Buffer.from(
        Req.encode(
          Req.fromObject({ publish: { id: 'p1', topic: 't', records: [{ key: Buffer.alloc(0), value: Buffer.from('v'), headers: { h: Buffer.from('x') } }, {}] } }),
        ).finish(),
      ),
    );
    expect(pub).toEqual({
      op: 'publish',
      id: 'p1',
      topic: 't',
      idempotencyKey: 'p1',
      records: [
        { key: Buffer.alloc(0), value: Buffer.from('v'), headers: { h: Buffer.from('x') } },
        { key: null, value: null },
      ],
    });
  });

  it('encodes records and acks that decode back with the same offsets', () => {
    const bytes = codec.encode({
      op: 'records',
      sub: 's1',
      records: [{ topic: 't', partition: 1, offset: 9007199254740993n, timestamp: 5, key: null, value: Buffer.from([1, 2]), headers: {} }],
    }) as Uint8Array;
    const decoded = Res.toObject(Res.decode(bytes), { longs: String, oneofs: true }) as any;
    expect(decoded.frame).toBe('records');
    expect(decoded.records.subscriptionId).toBe('s1');
    expect(decoded.records.records[0].offset).toBe('9007199254740993');
    expect(decoded.records.records[0].key).toBeUndefined();
    expect(Buffer.from(decoded.records.records[0].value)).toEqual(Buffer.from([1, 2]));
    const ack = Res.toObject(Res.decode(codec.encode({ op: 'ack', id: 'p', offsets: [{ partition: 0, offset: 3n, timestamp: 1 }] }) as Uint8Array), {
      longs: String,
    }) as any;
    expect(ack.published).toEqual({ id: 'p', offsets: [{ partition: 0, offset: '3', timestamp: '1' }] });
  });

  it('splices each record encoded once into every subscriber\'s frame, byte for byte what protobufjs writes for the whole frame', () => {
    const r = { topic: 't', partition: 2, offset: 42n, timestamp: 7, key: Buffer.from('k'), value: Buffer.from('{"a":1}'), headers: { h: Buffer.from('x') } };
    const empty = { topic: 't', partition: 2, offset: 43n, timestamp: 8, key: Buffer.alloc(0), value: null, headers: {} };
    const whole = (sub: string) =>
      Buffer.from(
        Res.encode(
          Res.fromObject({
            records: {
              subscriptionId: sub,
              records: [r, empty].map((x) => ({ topic: x.topic, partition: x.partition, offset: x.offset.toString(), timestamp: x.timestamp, ...(x.key === null ? {} : { key: x.key }), ...(x.value === null ? {} : { value: x.value }), headers: x.headers })),
            },
          }),
        ).finish(),
      );
    const a = Buffer.from(codec.encode({ op: 'records', sub: 'sub-a', records: [r, empty] }) as Uint8Array);
    const b = Buffer.from(codec.encode({ op: 'records', sub: 'b', records: [r, empty] }) as Uint8Array);
    expect(a).toEqual(whole('sub-a'));
    expect(b).toEqual(whole('b'));
    const decoded = Res.toObject(Res.decode(b), { longs: String, oneofs: true }) as any;
    expect(decoded.records.records.map((x: any) => x.offset)).toEqual(['42', '43']);
    expect(Buffer.from(decoded.records.records[1].key)).toEqual(Buffer.alloc(0));
  });

  it('rejects bytes that are not a SessionRequest', () => {
    expect(() => codec.decode(Buffer.from([0xff, 0xff, 0xff]))).toThrow(FrameError);
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
