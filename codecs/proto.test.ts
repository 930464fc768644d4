import { join } from 'node:path';
import protobuf from 'protobufjs';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../gateway/errors.js';
import type { StreamRecord } from '../gateway/record.js';
import {
  chunkBySize,
  decodeSessionRequest,
  encodeRecordsFrame,
  encodeSessionResponse,
  isMalformed,
  keyFilters,
  position,
  produceRecord,
  RECORDS_FIELD,
  recordMessage,
  streamGateway,
} from './proto.js';

describe('proto codec', () => {
  const { service } = streamGateway();

  it('maps positions, absent = latest', () => {
    expect(position(undefined)).toEqual({ kind: 'latest' });
    expect(position({ kind: 'earliest', earliest: {} })).toEqual({ kind: 'earliest' });
    expect(position({ kind: 'timestamp', timestamp: '1700000000000' })).toEqual({ kind: 'timestamp', timestamp: 1700000000000 });
    const p = position({ kind: 'offsets', offsets: { offsets: { '0': '42', '3': '9223372036854775807' }, otherwise: 'BOUNDARY_EARLIEST' } });
    expect(p).toEqual({ kind: 'offsets', offsets: new Map([[0, 42n], [3, 9223372036854775807n]]), otherwise: 'earliest' });
  });

  it('keeps null and empty keys apart, and int64 exact', () => {
    const r = recordMessage({ topic: 't', partition: 1, offset: 2n ** 62n, timestamp: 5, key: null, value: Buffer.alloc(0), headers: [] });
    expect(r.key).toBeUndefined();
    expect(r.value).toEqual(Buffer.alloc(0));
    expect(r.offset).toBe('4611686018427387904');
    const decoded = produceRecord({ _key: 'key', key: Buffer.alloc(0), headers: [] });
    expect(decoded.key).toEqual(Buffer.alloc(0));
    expect(decoded.value).toBeNull();
  });

  it('round-trips a SessionRequest through the served codec and marks undecodable bytes', () => {
    const session = (service as any).Session;
    const bytes = session.requestSerialize({ publish: { id: 'p', topic: 't', records: [{ value: Buffer.from('v') }] } });
    expect(session.requestDeserialize(bytes).publish.records[0].value.toString()).toBe('v');
    const bad = session.requestDeserialize(Buffer.from([0x0a, 0xff, 0xff]));
    expect(Object.getOwnPropertySymbols(bad)).toHaveLength(1);
  });

  it('serializes a records frame from shared record bytes exactly as the object form', () => {
    const records: StreamRecord[] = [
      { topic: 't', partition: 1, offset: 2n ** 62n, timestamp: 1_700_000_000_123, key: null, value: Buffer.from('v1'), headers: [{ name: 'traceparent', value: Buffer.from('00-ab') }, { name: 'x', value: Buffer.from('1') }, { name: 'traceparent', value: Buffer.from('') }] },
      { topic: 't', partition: 1, offset: 9223372036854775807n, timestamp: 0, key: Buffer.alloc(0), value: null, headers: [] },
    ];
    for (const [method, field, id] of [['Session', RECORDS_FIELD.session, 'sub-1'], ['Subscribe', RECORDS_FIELD.subscribe, '']] as const) {
      const m = (service as any)[method];
      const viaObject: Buffer = m.responseSerialize({ records: { subscription_id: id, records: records.map(recordMessage) } });
      const viaShared: Buffer = m.responseSerialize(encodeRecordsFrame(field, id, records));
      // Same message (the object form also writes an empty subscription id; proto3 omits it).
      const decoded = m.responseDeserialize(viaShared);
      expect(decoded).toEqual(m.responseDeserialize(viaObject));
      if (id !== '') expect(viaShared.equals(viaObject)).toBe(true);
      expect(decoded.records.records.map((r: any) => r.offset)).toEqual(['4611686018427387904', '9223372036854775807']);
      expect(decoded.records.records[1].key).toEqual(Buffer.alloc(0));
      expect(decoded.records.records[1].value).toBeUndefined();
    }
  });

  it('rejects filters with no kind and negative partitions', () => {
    expect(() => keyFilters([{}])).toThrow(GatewayError);
    expect(() => produceRecord({ _partition: 'partition', partition: -1, headers: [] })).toThrow(/non-negative/);
    expect(keyFilters([])).toBeUndefined();
  });

  it('chunks records by size', () => {
    const rec = (n: number) => ({ topic: 't', partition: 0, offset: 0n, timestamp: 0, key: null, value: Buffer.alloc(n), headers: [] });
    expect(chunkBySize([rec(100), rec(100), rec(100)], 300).map((c) => c.length)).toEqual([2, 1]);
    expect(chunkBySize([rec(1000)], 10).map((c) => c.length)).toEqual([1]);
  });
});

describe('Session frames as WebSocket binary messages (decodeSessionRequest / encodeSessionResponse)', () => {
  // An independent client's view: protobufjs with its default (camelCase) options.
  const root = protobuf.loadSync(join(import.meta.dirname, '../proto/streamgate/v1/streamgate.proto'));
  const Req = root.lookupType('streamgate.v1.SessionRequest');
  const Res = root.lookupType('streamgate.v1.SessionResponse');
  const request = (o: object) => decodeSessionRequest(Buffer.from(Req.encode(Req.fromObject(o)).finish())) as any;

  it('decodes subscribe and publish frames into the typed objects the gRPC Session gets, null vs empty keys kept apart', () => {
    const sub = request({ subscribe: { id: 's1', topic: 't', position: { offsets: { offsets: { 0: '42' }, otherwise: 1 } }, filters: [{ prefix: 'a/' }] } });
    expect(sub.frame).toBe('subscribe');
    expect(position(sub.subscribe.position)).toEqual({ kind: 'offsets', offsets: new Map([[0, 42n]]), otherwise: 'earliest' });
    expect(keyFilters(sub.subscribe.filters)).toEqual([{ kind: 'prefix', prefix: 'a/' }]);
    expect(sub.subscribe.credit).toBe(0);
    const pub = request({ publish: { id: 'p1', topic: 't', records: [{ key: Buffer.alloc(0), value: Buffer.from('v'), headers: [{ key: 'h', value: Buffer.from('x') }, { key: 'g', value: Buffer.from('y') }, { key: 'h', value: Buffer.from('') }] }, {}] } });
    expect(pub.publish.records.map(produceRecord)).toEqual([
      { key: Buffer.alloc(0), value: Buffer.from('v'), headers: [{ name: 'h', value: Buffer.from('x') }, { name: 'g', value: Buffer.from('y') }, { name: 'h', value: Buffer.from('') }] },
      { key: null, value: null, headers: [] },
    ]);
  });

  it('encodes records and published frames that decode back with the same offsets', () => {
    const records = [{ topic: 't', partition: 1, offset: 9007199254740993n, timestamp: 5, key: null, value: Buffer.from([1, 2]), headers: [] }];
    const decoded = Res.toObject(Res.decode(encodeSessionResponse(encodeRecordsFrame(RECORDS_FIELD.session, 's1', records))), { longs: String, oneofs: true }) as any;
    expect(decoded.frame).toBe('records');
    expect(decoded.records.subscriptionId).toBe('s1');
    expect(decoded.records.records[0].offset).toBe('9007199254740993');
    expect(decoded.records.records[0].key).toBeUndefined();
    expect(Buffer.from(decoded.records.records[0].value)).toEqual(Buffer.from([1, 2]));
    const published = Res.toObject(Res.decode(encodeSessionResponse({ published: { id: 'p', offsets: [{ partition: 0, offset: '3', timestamp: '1' }] } })), { longs: String }) as any;
    expect(published.published).toEqual({ id: 'p', offsets: [{ partition: 0, offset: '3', timestamp: '1' }] });
  });

  it("splices each record encoded once into every subscriber's frame, byte for byte what protobufjs writes for the whole frame", () => {
    const r = { topic: 't', partition: 2, offset: 42n, timestamp: 7, key: Buffer.from('k'), value: Buffer.from('{"a":1}'), headers: [{ name: 'h', value: Buffer.from('x') }, { name: 'h', value: Buffer.from('y') }] };
    const empty = { topic: 't', partition: 2, offset: 43n, timestamp: 8, key: Buffer.alloc(0), value: null, headers: [] };
    const whole = (sub: string) =>
      Buffer.from(
        Res.encode(
          Res.fromObject({
            records: {
              subscriptionId: sub,
              records: [r, empty].map((x) => ({ topic: x.topic, partition: x.partition, offset: x.offset.toString(), timestamp: x.timestamp, ...(x.key === null ? {} : { key: x.key }), ...(x.value === null ? {} : { value: x.value }), headers: x.headers.map((h) => ({ key: h.name, value: h.value })) })),
            },
          }),
        ).finish(),
      );
    const a = encodeSessionResponse(encodeRecordsFrame(RECORDS_FIELD.session, 'sub-a', [r, empty]));
    const b = encodeSessionResponse(encodeRecordsFrame(RECORDS_FIELD.session, 'b', [r, empty]));
    expect(a).toEqual(whole('sub-a'));
    expect(b).toEqual(whole('b'));
    const decoded = Res.toObject(Res.decode(b), { longs: String, oneofs: true }) as any;
    expect(decoded.records.records.map((x: any) => x.offset)).toEqual(['42', '43']);
    expect(Buffer.from(decoded.records.records[1].key)).toEqual(Buffer.alloc(0));
  });

  it('marks bytes that are not a SessionRequest', () => {
    expect(isMalformed(decodeSessionRequest(Buffer.from([0xff, 0xff, 0xff])))).toBe(true);
  });
});
