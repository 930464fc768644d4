/**
 * v3 records (kafka-rest ProduceAction + StreamingResponse) on both backends: one record answered
 * by one ProduceResponse; a streaming produce — a chunked request of concatenated records — answered
 * by one delivery report per record, in order, each with its own error_code, each sent before the
 * client sent the next record; a bad record in the middle fails alone; bytes that are not JSON end
 * the stream after an error report; the bytes sent are the bytes stored.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueTopic } from '../support/names.js';
import { http } from './http.js';

const JSON_TYPE = 'application/json';
const b64 = (s: string) => Buffer.from(s).toString('base64');

/** A chunked POST whose body the test writes piece by piece, reading the report lines as they come. */
function openStream(url: string): { send(text: string): void; end(): void; next(): Promise<Record<string, unknown>>; done: Promise<{ status: number; type: string | undefined; rest: string }> } {
  const lines: string[] = [];
  const waiters: ((line: string) => void)[] = [];
  let buffered = '';
  let status = 0;
  let type: string | undefined;
  let resolveDone!: (v: { status: number; type: string | undefined; rest: string }) => void;
  const done = new Promise<{ status: number; type: string | undefined; rest: string }>((r) => (resolveDone = r));
  const req = request(url, { method: 'POST', headers: { 'content-type': JSON_TYPE } }, (res) => {
    status = res.statusCode ?? 0;
    type = res.headers['content-type'];
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => {
      buffered += chunk;
      let at: number;
      while ((at = buffered.indexOf('\r\n')) >= 0) {
        const line = buffered.slice(0, at);
        buffered = buffered.slice(at + 2);
        const w = waiters.shift();
        if (w) w(line);
        else lines.push(line);
      }
    });
    res.on('end', () => resolveDone({ status, type, rest: buffered }));
  });
  req.flushHeaders();
  return {
    send: (text) => void req.write(text),
    end: () => req.end(),
    next: () => new Promise((resolve) => {
      const l = lines.shift();
      if (l !== undefined) resolve(JSON.parse(l));
      else waiters.push((line) => resolve(JSON.parse(line)));
    }),
    done,
  };
}

describe.each(['embedded', 'kafka'] as const)('Confluent v3 records (%s backend)', (backend) => {
  let gw: TestGateway;
  let cluster: string;
  const url = (path: string) => `${gw.httpUrl}${path}`;
  const records = (topic: string) => url(`/v3/clusters/${cluster}/topics/${topic}/records`);
  const create = async (topic: string, partitions = 2) => {
    const res = await http('POST', url(`/v3/clusters/${cluster}/topics`), { headers: { 'content-type': JSON_TYPE }, body: { topic_name: topic, partitions_count: partitions } });
    expect(res.status, res.text).toBe(201);
  };
  /** The v1 text of partition `p` from offset 0 (values spliced verbatim, so exact bytes are visible). */
  const stored = async (topic: string, p: number) => (await http('GET', url(`/v1/topics/${topic}/partitions/${p}/records?offset=0`))).text;

  beforeAll(async () => {
    gw = await startTestGateway({ backend });
    cluster = (await http('GET', url('/v3/clusters'))).json.data[0].cluster_id;
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('one record: 200, a ProduceResponse (error_code 200, partition, offset, ISO timestamp, key/value type and size); the bytes sent are stored', async () => {
    const topic = uniqueTopic('v3rec');
    await create(topic);
    const res = await http('POST', records(topic), {
      headers: { 'content-type': JSON_TYPE },
      raw: '{"partition_id":1,"key":{"type":"STRING","data":"sensor-7"},"value":{"type":"JSON","data":{"n":12345678901234567890,"x":1.50}},"headers":[{"name":"h","value":"' + b64('hv') + '"}],"timestamp":"2026-01-02T03:04:05.678Z"}',
    });
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe(JSON_TYPE);
    expect(res.text.endsWith('\r\n')).toBe(true);
    expect(res.json).toEqual({
      error_code: 200,
      cluster_id: cluster,
      topic_name: topic,
      partition_id: 1,
      offset: 0,
      timestamp: '2026-01-02T03:04:05.678Z',
      key: { type: 'STRING', size: 8 },
      value: { type: 'JSON', size: Buffer.byteLength('{"n":12345678901234567890,"x":1.50}') },
    });
    const text = await stored(topic, 1);
    expect(text).toContain('"key":"sensor-7"');
    expect(text).toContain('"value":{"n":12345678901234567890,"x":1.50}');
    expect(text).toContain('"headers":[{"name":"h","value":"hv"}]');
    expect(text).toContain(`"timestamp":${Date.parse('2026-01-02T03:04:05.678Z')}`);

    const binary = await http('POST', records(topic), { headers: { 'content-type': JSON_TYPE }, body: { partition_id: 0, key: { type: 'BINARY', data: b64('\u0001\u0002') }, value: { type: 'BINARY', data: b64('raw bytes') } } });
    expect(binary.json).toMatchObject({ error_code: 200, partition_id: 0, offset: 0, key: { type: 'BINARY', size: 2 }, value: { type: 'BINARY', size: 9 } });
    const nulls = await http('POST', records(topic), { headers: { 'content-type': JSON_TYPE }, body: { partition_id: 0 } });
    expect(nulls.json).toMatchObject({ error_code: 200, partition_id: 0, offset: 1, key: null, value: null });
  });

  it('a request (Content-Length) with one record the gateway refuses is answered with that error status; with several, 200 and a report each', async () => {
    const topic = uniqueTopic('v3one');
    await create(topic, 1);
    const bad = await http('POST', records(topic), { headers: { 'content-type': JSON_TYPE }, body: { value: { type: 'BINARY', data: '!!' } } });
    expect({ status: bad.status, type: bad.headers['content-type'], body: bad.json }).toEqual({ status: 400, type: JSON_TYPE, body: { error_code: 400, message: expect.any(String) } });
    const missing = await http('POST', records(topic), { headers: { 'content-type': JSON_TYPE }, body: { partition_id: 4, value: { type: 'STRING', data: 'x' } } });
    expect({ status: missing.status, body: missing.json }).toEqual({ status: 404, body: { error_code: 40403, message: expect.any(String) } });
    const empty = await http('POST', records(topic), { headers: { 'content-type': JSON_TYPE }, raw: '' });
    expect({ status: empty.status, body: empty.json }).toEqual({ status: 400, body: { error_code: 400, message: 'Request body is empty. Data is required.' } });
    const two = await http('POST', records(topic), { headers: { 'content-type': JSON_TYPE }, raw: '{"value":{"type":"BINARY","data":"!!"}}{"value":{"type":"STRING","data":"ok"}}' });
    expect(two.status).toBe(200);
    expect(two.text.split('\r\n').filter((l) => l !== '').map((l) => JSON.parse(l))).toEqual([{ error_code: 400, message: expect.any(String) }, expect.objectContaining({ error_code: 200, offset: 0 })]);
  });

  it('streaming produce: one report per record, in order, each before the next record is sent; a bad record in the middle fails alone', async () => {
    const topic = uniqueTopic('v3stream');
    await create(topic, 1);
    const s = openStream(records(topic));
    s.send('{"value":{"type":"JSON","data":{"i":0}}}');
    expect(await s.next()).toMatchObject({ error_code: 200, partition_id: 0, offset: 0 });
    // Not base64: this record alone is refused.
    s.send('\r\n{"value":{"type":"BINARY","data":"not base64!"}}');
    expect(await s.next()).toEqual({ error_code: 400, message: expect.stringMatching(/value/) });
    // A partition the topic does not have: its own error, the stream goes on.
    s.send('{"partition_id":9,"value":{"type":"STRING","data":"x"}}');
    expect(await s.next()).toEqual({ error_code: 40403, message: expect.any(String) });
    // Two records in one chunk, and one record split across chunks.
    s.send('{"value":{"type":"STRING","data":"a"}}{"value":{"type":"STR');
    expect(await s.next()).toMatchObject({ error_code: 200, offset: 1 });
    s.send('ING","data":"b"}}');
    expect(await s.next()).toMatchObject({ error_code: 200, offset: 2 });
    s.end();
    expect(await s.done).toEqual({ status: 200, type: JSON_TYPE, rest: '' });
    const text = await stored(topic, 0);
    expect(text).toContain('"value":{"i":0}');
    // STRING data is stored as its UTF-8 bytes; `a` is not JSON, so v1 serves it base64.
    expect(text).toContain(`"value":"${b64('a')}","encoding":"base64"`);
    expect(text).toContain(`"value":"${b64('b')}","encoding":"base64"`);
    expect((await http('GET', url(`/v1/topics/${topic}/offsets`))).json.partitions[0].latest).toBe('3');
  });

  it('many records in one body: as many reports, in order, offsets consecutive', async () => {
    const topic = uniqueTopic('v3many');
    await create(topic, 1);
    const n = 300;
    const body = Array.from({ length: n }, (_, i) => (i === 150 ? '{"value":{"type":"NOPE"}}' : `{"value":{"type":"JSON","data":${i}}}`)).join('\n');
    const res = await http('POST', records(topic), { headers: { 'content-type': JSON_TYPE }, raw: body });
    expect(res.status).toBe(200);
    const reports = res.text.split('\r\n').filter((l) => l !== '').map((l) => JSON.parse(l));
    expect(reports).toHaveLength(n);
    expect(reports[150]).toEqual({ error_code: 400, message: expect.any(String) });
    const offsets = reports.filter((r, i) => i !== 150).map((r) => r.offset);
    expect(offsets).toEqual(Array.from({ length: n - 1 }, (_, i) => i));
  });

  it('bytes that are not JSON end the stream after an error report; the records before are written; an unterminated record at the end is an error', async () => {
    const topic = uniqueTopic('v3garbage');
    await create(topic, 1);
    const res = await http('POST', records(topic), { headers: { 'content-type': JSON_TYPE }, raw: '{"value":{"type":"STRING","data":"ok"}} nonsense {"value":{"type":"STRING","data":"never"}}' });
    expect(res.status).toBe(200);
    const reports = res.text.split('\r\n').filter((l) => l !== '').map((l) => JSON.parse(l));
    expect(reports).toEqual([expect.objectContaining({ error_code: 200, offset: 0 }), { error_code: 400, message: expect.stringMatching(/JSON/) }]);
    const cut = await http('POST', records(topic), { headers: { 'content-type': JSON_TYPE }, raw: '{"value":{"type":"STRING","data":"ok2"}}{"value":' });
    expect(cut.text.split('\r\n').filter((l) => l !== '').map((l) => JSON.parse(l))).toEqual([expect.objectContaining({ error_code: 200, offset: 1 }), { error_code: 400, message: expect.any(String) }]);
    expect((await http('GET', url(`/v1/topics/${topic}/offsets`))).json.partitions[0].latest).toBe('2');
    // Wrong Content-Type and wrong cluster: refused before any record, with a status.
    const wrongType = await http('POST', records(topic), { headers: { 'content-type': 'text/plain' }, raw: '{}' });
    expect({ status: wrongType.status, body: wrongType.json }).toEqual({ status: 415, body: { error_code: 415, message: expect.any(String) } });
    const wrongCluster = await http('POST', url(`/v3/clusters/nope/topics/${topic}/records`), { headers: { 'content-type': JSON_TYPE }, raw: '{}' });
    expect({ status: wrongCluster.status, body: wrongCluster.json }).toEqual({ status: 404, body: { error_code: 404, message: expect.any(String) } });
  });
});
