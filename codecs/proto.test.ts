import { describe, expect, it } from 'vitest';
import { GatewayError } from '../gateway/errors.js';
import type { StreamRecord } from '../gateway/record.js';
import { chunkBySize, encodeRecordsFrame, keyFilters, streamGateway, position, produceRecord, RECORDS_FIELD, recordMessage } from './proto.js';

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
    const r = recordMessage({ topic: 't', partition: 1, offset: 2n ** 62n, timestamp: 5, key: null, value: Buffer.alloc(0), headers: {} });
    expect(r.key).toBeUndefined();
    expect(r.value).toEqual(Buffer.alloc(0));
    expect(r.offset).toBe('4611686018427387904');
    const decoded = produceRecord({ _key: 'key', key: Buffer.alloc(0), headers: {} });
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
      { topic: 't', partition: 1, offset: 2n ** 62n, timestamp: 1_700_000_000_123, key: null, value: Buffer.from('v1'), headers: { traceparent: Buffer.from('00-ab') } },
      { topic: 't', partition: 1, offset: 9223372036854775807n, timestamp: 0, key: Buffer.alloc(0), value: null, headers: {} },
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
    expect(() => produceRecord({ _partition: 'partition', partition: -1, headers: {} })).toThrow(/non-negative/);
    expect(keyFilters([])).toBeUndefined();
  });

  it('chunks records by size', () => {
    const rec = (n: number) => ({ topic: 't', partition: 0, offset: 0n, timestamp: 0, key: null, value: Buffer.alloc(n), headers: {} });
    expect(chunkBySize([rec(100), rec(100), rec(100)], 300).map((c) => c.length)).toEqual([2, 1]);
    expect(chunkBySize([rec(1000)], 10).map((c) => c.length)).toEqual([1]);
  });
});
