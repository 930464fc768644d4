/**
 * The shared hostile-input corpus (issue 8, "Bad input"): inputs every protocol adapter must
 * answer with a clear error in its own terms while the process stays up, memory stays bounded
 * and other clients are unaffected. Cases are data; test/security/hostile.test.ts runs them
 * against REST (raw HTTP/1.1 bytes), WebSocket (frames on an authenticated connection) and gRPC
 * (raw HTTP/2 + gRPC length-prefixed messages). MQTT's malformed packets are exercised by
 * test/mqtt/fuzz.test.ts and are not repeated here.
 *
 * A case may carry `weakness`: the behaviour it shows is a known gateway weakness (reported to
 * the lead); the test for it is an `it.fails` so that fixing the gateway turns it red and the
 * marker gets removed.
 */

/** What the hostile input is aimed at; the runner fills these in. */
export interface Target {
  /** A valid bearer token with read/write on `hostile-*`. */
  token: string;
  /** A fresh topic the token may use. */
  topic: string;
}

// ---------------------------------------------------------------------------------------------
// Shared building blocks

/** Topic names that try to leave the topic namespace or smuggle bytes (all illegal Kafka names). */
export const HOSTILE_TOPICS: readonly string[] = [
  '..',
  '.',
  '../x',
  '../../etc/passwd',
  '..\\..\\windows',
  '%2e%2e',
  '%2e%2e%2fx',
  'a/b',
  '',
  'x'.repeat(250),
  'nul\u0000byte',
  'crlf\r\nX-Injected: 1',
  'ünïcödé',
  '${jndi:ldap://x}',
  '<script>',
];

/** Regexes that backtrack exponentially in a JS RegExp on a long run of one character (v2 topic_pattern). */
export const PATHOLOGICAL_PATTERNS = ['(.*.*.*)*Z', '(a+)+$', '(x+x+)+y', '(a|aa)+$', '(.*a){20}'] as const;

/** JSON nested `depth` levels deep: stresses recursive parsers and serializers. */
export const deepJson = (depth: number): string => `${'['.repeat(depth)}${']'.repeat(depth)}`;

/** Bytes that are not UTF-8: a lone continuation byte, an overlong '/', a surrogate, 0xFF. */
export const INVALID_UTF8 = Buffer.from([0x80, 0xc0, 0xaf, 0xed, 0xa0, 0x80, 0xff, 0xfe]);

// ---------------------------------------------------------------------------------------------
// REST: raw HTTP/1.1 requests (so nothing is normalized or refused by a client library)

export interface HttpCase {
  readonly name: string;
  /** The raw bytes sent on a fresh TCP connection (`Connection: close`: the server closes after its answer). */
  readonly request: (t: Target) => Buffer;
  /** Half-close the connection after the bytes (the client's EOF is part of the input). */
  readonly halfClose?: boolean;
  /** Acceptable status codes; `closed` = the server closed the connection without a response. */
  readonly expect: readonly (number | 'closed')[];
  /** When a JSON body is expected: its native-v1 `code`. */
  readonly code?: string;
  readonly weakness?: string;
}

const CRLF = '\r\n';
function req(method: string, path: string, headers: Record<string, string>, body?: Buffer | string): Buffer {
  const b = body === undefined ? Buffer.alloc(0) : Buffer.isBuffer(body) ? body : Buffer.from(body);
  const head = [`${method} ${path} HTTP/1.1`, 'Host: 127.0.0.1', 'Connection: close', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  if (body !== undefined && !Object.keys(headers).some((h) => /^(content-length|transfer-encoding)$/i.test(h))) head.push(`Content-Length: ${b.length}`);
  return Buffer.concat([Buffer.from(head.join(CRLF) + CRLF + CRLF, 'latin1'), b]);
}
const auth = (t: Target) => ({ Authorization: `Bearer ${t.token}` });
const jsonPost = (t: Target, path: string, body: Buffer | string) => req('POST', path, { ...auth(t), 'Content-Type': 'application/json' }, body);
const records = (t: Target) => `/v1/topics/${t.topic}/records`;

export const REST_CASES: readonly HttpCase[] = [
  { name: 'malformed JSON body', request: (t) => jsonPost(t, records(t), '{"records":[{'), expect: [400] },
  { name: 'JSON body that is not an object', request: (t) => jsonPost(t, records(t), '42'), expect: [400, 422] },
  { name: 'records is not an array', request: (t) => jsonPost(t, records(t), '{"records":{"0":1}}'), expect: [400, 422] },
  {
    name: 'invalid UTF-8 inside a JSON string',
    request: (t) => jsonPost(t, records(t), Buffer.concat([Buffer.from('{"records":[{"value":"'), INVALID_UTF8, Buffer.from('"}]}')])),
    expect: [400, 422],
  },
  {
    name: 'JSON nested 5,000 levels deep (10 KB)',
    request: (t) => jsonPost(t, records(t), `{"records":[{"value":${deepJson(5_000)}}]}`),
    expect: [400, 422],
  },
  // Bounded parsing (issue 16): nesting deep enough that a recursive parser or encoder overflows
  // the stack, and that JSON.parse alone takes ~1 s to materialize; each must be a 4xx, promptly.
  { name: 'v1 produce: JSON nested 300,000 levels deep (600 KB)', request: (t) => jsonPost(t, records(t), `{"records":[{"value":${deepJson(300_000)}}]}`), expect: [400, 422] },
  {
    name: 'v2 json produce: JSON nested 300,000 levels deep (600 KB)',
    request: (t) => req('POST', `/topics/${t.topic}`, { ...auth(t), 'Content-Type': 'application/vnd.kafka.json.v2+json' }, `{"records":[{"value":${deepJson(300_000)}}]}`),
    expect: [400, 422],
  },
  { name: 'v1 produce: the whole body nested 300,000 levels deep', request: (t) => jsonPost(t, records(t), deepJson(300_000)), expect: [400, 422] },
  {
    name: 'v2 binary produce: 1 MB of base64 with one bad character at the end',
    request: (t) => req('POST', `/topics/${t.topic}`, { ...auth(t), 'Content-Type': 'application/vnd.kafka.binary.v2+json' }, `{"records":[{"value":"${'A'.repeat(1_000_000)}!"}]}`),
    expect: [422],
  },
  // A regex retrying from every slash of a long run (/\/+$/) is quadratic in the path.
  { name: 'path of 16,000 slashes before its last segment', request: (t) => req('GET', `/v1/topics/${t.topic}${'/'.repeat(16_000)}x`, auth(t)), expect: [404, 431] },
  { name: '99 headers of 160 bytes each', request: (t) => req('GET', '/healthz', { ...auth(t), ...Object.fromEntries(Array.from({ length: 95 }, (_, i) => [`X-H${i}`, 'h'.repeat(160)])) }), expect: [200, 431] },
  { name: 'declared body larger than rest.maxBodyBytes', request: (t) => req('POST', records(t), { ...auth(t), 'Content-Type': 'application/json', 'Content-Length': '104857600' }, '{"rec'), expect: [413] },
  { name: 'chunked body larger than rest.maxBodyBytes', request: (t) => chunked(t, 'x'.repeat(64 * 1024), 40), expect: [413, 'closed'] },
  { name: 'truncated body (Content-Length 100, 10 bytes, then EOF)', request: (t) => req('POST', records(t), { ...auth(t), 'Content-Type': 'application/json', 'Content-Length': '100' }, '{"records"'), halfClose: true, expect: [400, 'closed'] },
  { name: 'header block larger than 16 KiB', request: (t) => req('GET', '/healthz', { ...auth(t), 'X-Big': 'a'.repeat(20_000) }), expect: [431, 400] },
  { name: 'bare CR inside a header value (header injection)', request: () => Buffer.from(`GET /healthz HTTP/1.1${CRLF}Host: x${CRLF}X-Request-Id: a\rX-Injected: 1${CRLF}${CRLF}`, 'latin1'), expect: [400] },
  { name: 'bare LF inside a header value', request: () => Buffer.from(`GET /healthz HTTP/1.1${CRLF}Host: x${CRLF}X-Request-Id: a\nX-Injected: 1${CRLF}${CRLF}`, 'latin1'), expect: [400, 200] },
  { name: 'NUL in a header value', request: () => Buffer.from(`GET /healthz HTTP/1.1${CRLF}Host: x${CRLF}X-Request-Id: a\u0000b${CRLF}${CRLF}`, 'latin1'), expect: [400] },
  { name: 'request smuggling: Content-Length and Transfer-Encoding together', request: (t) => req('POST', records(t), { ...auth(t), 'Content-Length': '4', 'Transfer-Encoding': 'chunked' }, '0\r\n\r\nGET /x HTTP/1.1\r\n\r\n'), expect: [400] },
  { name: 'invalid chunk size', request: (t) => req('POST', records(t), { ...auth(t), 'Transfer-Encoding': 'chunked' }, 'zz\r\nabc\r\n0\r\n\r\n'), expect: [400] },
  { name: 'negative Content-Length', request: (t) => req('POST', records(t), { ...auth(t), 'Content-Length': '-1' }, ''), expect: [400] },
  { name: 'binary garbage instead of a request line', request: () => Buffer.from([0, 1, 2, 3, 0xff, 0x0d, 0x0a, 0x0d, 0x0a]), halfClose: true, expect: [400, 'closed'] },
  { name: 'unknown method', request: (t) => req('BREW', records(t), auth(t)), expect: [400, 404, 405, 501] },
  { name: 'path traversal ..%2F..%2Fetc', request: (t) => jsonPost(t, '/v1/topics/..%2F..%2Fetc/records', '{"records":[{"value":1}]}'), expect: [400], code: 'INVALID_TOPIC' },
  // WHATWG URL parsing treats %2e%2e as a `..` segment and removes it: /v1/records is no route.
  { name: 'path traversal %2e%2e', request: (t) => jsonPost(t, '/v1/topics/%2e%2e/records', '{"records":[{"value":1}]}'), expect: [404] },
  { name: 'path traversal %2e%2e%2f inside one segment', request: (t) => jsonPost(t, '/v1/topics/%2e%2e%2fx/records', '{"records":[{"value":1}]}'), expect: [400], code: 'INVALID_TOPIC' },
  { name: 'path traversal with literal ../ (normalized away: not a topic route)', request: (t) => req('GET', '/v1/topics/../../../etc/passwd', auth(t)), expect: [404] },
  { name: 'encoded CRLF in the topic (response splitting)', request: (t) => jsonPost(t, '/v1/topics/a%0d%0aX-Injected:%201/records', '{"records":[{"value":1}]}'), expect: [400], code: 'INVALID_TOPIC' },
  { name: 'NUL in the topic', request: (t) => jsonPost(t, '/v1/topics/a%00b/records', '{"records":[{"value":1}]}'), expect: [400], code: 'INVALID_TOPIC' },
  { name: 'invalid percent-encoding', request: (t) => req('GET', '/v1/topics/%zz/offsets', auth(t)), expect: [400] },
  { name: 'topic name of 300 characters', request: (t) => jsonPost(t, `/v1/topics/${'a'.repeat(300)}/records`, '{"records":[{"value":1}]}'), expect: [400], code: 'INVALID_TOPIC' },
  { name: 'offset beyond int64', request: (t) => req('GET', `/v1/topics/${t.topic}/partitions/0/records?offset=99999999999999999999999`, auth(t)), expect: [400, 422] },
  { name: 'negative partition', request: (t) => req('GET', `/v1/topics/${t.topic}/partitions/-1/records?offset=0`, auth(t)), expect: [400, 404, 422] },
  { name: 'partition beyond int32', request: (t) => req('GET', `/v1/topics/${t.topic}/partitions/99999999999/records?offset=0`, auth(t)), expect: [400, 404, 422] },
  { name: 'unsupported v2 content type', request: (t) => req('POST', `/topics/${t.topic}`, { ...auth(t), 'Content-Type': 'application/vnd.kafka.avro.v2+json' }, '{"records":[]}'), expect: [415, 422, 400] },
  { name: '__proto__ in the body', request: (t) => jsonPost(t, records(t), '{"__proto__":{"polluted":true},"records":[{"value":1,"__proto__":{"polluted":true}}]}'), expect: [200, 400, 422] },
  // Credentials
  { name: 'no credentials', request: (t) => req('GET', `/v1/topics/${t.topic}/offsets`, {}), expect: [401], code: 'UNAUTHENTICATED' },
  { name: 'alg:none token', request: (t) => req('GET', `/v1/topics/${t.topic}/offsets`, { Authorization: `Bearer ${noneToken()}` }), expect: [401], code: 'UNAUTHENTICATED' },
  { name: 'expired token', request: (t) => req('GET', `/v1/topics/${t.topic}/offsets`, { Authorization: `Bearer ${expiredShape(t.token)}` }), expect: [401], code: 'UNAUTHENTICATED' },
  { name: 'token of 12 KiB', request: (t) => req('GET', `/v1/topics/${t.topic}/offsets`, { Authorization: `Bearer ${'a'.repeat(6000)}.${'b'.repeat(6000)}.c` }), expect: [401, 431], code: 'UNAUTHENTICATED' },
  { name: 'Authorization scheme other than Bearer', request: (t) => req('GET', `/v1/topics/${t.topic}/offsets`, { Authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }), expect: [401] },
];

function chunked(t: Target, chunk: string, count: number): Buffer {
  const one = `${chunk.length.toString(16)}\r\n${chunk}\r\n`;
  return req('POST', records(t), { ...auth(t), 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' }, one.repeat(count) + '0\r\n\r\n');
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
/** An unsigned token claiming every topic. */
export const noneToken = (): string => `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: 'x', exp: 9_999_999_999, topics: { read: ['*'], write: ['*'] } })}.`;
/** The valid token's header and signature around a payload that expired (the signature no longer matches either). */
export const expiredShape = (valid: string): string => {
  const [h, , s] = valid.split('.');
  return `${h}.${b64({ sub: 'x', exp: 1 })}.${s}`;
};

// ---------------------------------------------------------------------------------------------
// WebSocket: frames on an authenticated `streamgate.v1.json` connection

export interface WsCase {
  readonly name: string;
  /** A text frame (string) or raw bytes sent as a text frame (`text: true`) or a binary frame. */
  readonly frame: (t: Target) => string | { bytes: Buffer; binary: boolean };
  /** The error frame's catalogue code (the connection stays open) … */
  readonly code?: readonly string[];
  /** … or the close code that ends the connection. */
  readonly close?: readonly number[];
  readonly weakness?: string;
}

export const WS_CASES: readonly WsCase[] = [
  { name: 'malformed JSON', frame: () => '{"op":"publish",', code: ['INVALID_ARGUMENT'] },
  { name: 'JSON null', frame: () => 'null', code: ['INVALID_ARGUMENT'] },
  { name: 'JSON array', frame: () => '[1,2,3]', code: ['INVALID_ARGUMENT'] },
  { name: 'unknown op', frame: () => '{"op":"rm -rf","id":"x"}', code: ['INVALID_ARGUMENT', 'UNIMPLEMENTED'] },
  { name: 'publish without records', frame: (t) => JSON.stringify({ op: 'publish', id: 'x', topic: t.topic }), code: ['INVALID_ARGUMENT'] },
  { name: 'publish with invalid base64', frame: (t) => JSON.stringify({ op: 'publish', id: 'x', topic: t.topic, records: [{ value: '%%%', encoding: 'base64' }] }), code: ['INVALID_VALUE', 'INVALID_ARGUMENT'] },
  ...HOSTILE_TOPICS.map<WsCase>((topic) => ({
    name: `subscribe to hostile topic ${JSON.stringify(topic.slice(0, 24))}`,
    frame: () => JSON.stringify({ op: 'subscribe', id: 'x', topic, from: 'earliest' }),
    code: ['INVALID_TOPIC', 'INVALID_ARGUMENT'],
  })),
  { name: 'publish to ../x', frame: () => JSON.stringify({ op: 'publish', id: 'x', topic: '../x', records: [{ value: 1 }] }), code: ['INVALID_TOPIC'] },
  { name: 'start offset beyond int64', frame: (t) => JSON.stringify({ op: 'subscribe', id: 'x', topic: t.topic, from: { offsets: { '0': '99999999999999999999999' } } }), code: ['INVALID_ARGUMENT', 'OUT_OF_RANGE'] },
  { name: 'negative start offset', frame: (t) => JSON.stringify({ op: 'subscribe', id: 'x', topic: t.topic, from: { offsets: { '0': '-5' } } }), code: ['INVALID_ARGUMENT', 'OUT_OF_RANGE'] },
  { name: 'timestamp 1e309 (Infinity)', frame: (t) => `{"op":"subscribe","id":"x","topic":"${t.topic}","from":{"timestamp":1e309}}`, code: ['INVALID_ARGUMENT'] },
  { name: '__proto__ pollution attempt', frame: (t) => `{"op":"publish","id":"x","topic":"${t.topic}","__proto__":{"polluted":true},"records":{"__proto__":{"length":1}}}`, code: ['INVALID_ARGUMENT'] },
  {
    name: 'JSON nested 5,000 levels deep (10 KB)',
    frame: (t) => `{"op":"publish","id":"x","topic":"${t.topic}","records":[{"value":${deepJson(5_000)}}]}`,
    code: ['INVALID_ARGUMENT', 'INVALID_VALUE'],
  },
  {
    name: 'JSON nested 30,000 levels deep (60 KB, under websocket.maxPayloadBytes)',
    frame: (t) => `{"op":"publish","id":"x","topic":"${t.topic}","records":[{"value":${deepJson(30_000)}}]}`,
    code: ['INVALID_ARGUMENT', 'INVALID_VALUE'],
  },
  { name: 'the whole frame nested 30,000 levels deep', frame: () => deepJson(30_000), code: ['INVALID_ARGUMENT'] },
  {
    name: '60 KB of base64 with one bad character at the end',
    frame: (t) => JSON.stringify({ op: 'publish', id: 'x', topic: t.topic, records: [{ value: `${'A'.repeat(60_000)}!`, encoding: 'base64' }] }),
    code: ['INVALID_VALUE', 'INVALID_ARGUMENT'],
  },
  { name: 'subscribe to a topic name of 60,000 characters', frame: () => JSON.stringify({ op: 'subscribe', id: 'x', topic: 'a'.repeat(60_000), from: 'earliest' }), code: ['INVALID_TOPIC', 'INVALID_ARGUMENT'] },
  // Connection-ending cases (each on its own connection).
  { name: 'invalid UTF-8 in a text frame', frame: () => ({ bytes: Buffer.concat([Buffer.from('{"op":"ping","id":"'), INVALID_UTF8, Buffer.from('"}')]), binary: false }), close: [1007] },
  { name: 'binary frame on the JSON subprotocol', frame: () => ({ bytes: Buffer.from([0x0a, 0x02, 0x68, 0x69]), binary: true }), close: [1003] },
  { name: 'frame larger than websocket.maxPayloadBytes', frame: () => 'x'.repeat(80 * 1024), close: [1009] },
];

// ---------------------------------------------------------------------------------------------
// gRPC: raw HTTP/2 requests carrying gRPC length-prefixed messages

export interface GrpcCase {
  readonly name: string;
  readonly method: string;
  /** The request body: gRPC messages (1 byte flag + 4 bytes length + payload), possibly broken. */
  readonly body: (t: Target) => Buffer;
  /** Extra HTTP/2 headers (metadata); `authorization` defaults to the valid token. */
  readonly headers?: (t: Target) => Record<string, string>;
  /** Acceptable grpc-status codes (numbers, @grpc/grpc-js `status`), or `http` statuses for non-gRPC answers. */
  readonly grpcStatus: readonly number[];
  readonly weakness?: string;
}

/** gRPC message framing (gRPC over HTTP/2, "Length-Prefixed-Message"). */
export function grpcFrame(payload: Buffer, options: { compressed?: boolean; declaredLength?: number } = {}): Buffer {
  const head = Buffer.alloc(5);
  head[0] = options.compressed ? 1 : 0;
  head.writeUInt32BE(options.declaredLength ?? payload.length, 1);
  return Buffer.concat([head, payload]);
}

/** Protobuf wire encoding of the few fields the corpus needs (length-delimited fields only). */
export function pbField(field: number, value: Buffer | string): Buffer {
  const bytes = Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8');
  return Buffer.concat([varint((field << 3) | 2), varint(bytes.length), bytes]);
}
function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}
/** ProduceRequest{topic, records: [{value}]} */
export const produceRequest = (topic: Buffer | string, value = 'v'): Buffer => Buffer.concat([pbField(1, topic), pbField(2, pbField(2, value))]);

const PRODUCE = '/streamgate.v1.StreamGateway/Produce';
// grpc-js status numbers, spelled out so the corpus has no runtime dependency.
const S = { INVALID_ARGUMENT: 3, NOT_FOUND: 5, PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14, UNAUTHENTICATED: 16, CANCELLED: 1, UNKNOWN: 2 } as const;

export const GRPC_CASES: readonly GrpcCase[] = [
  { name: 'garbage protobuf', method: PRODUCE, body: () => grpcFrame(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x99])), grpcStatus: [S.INTERNAL, S.INVALID_ARGUMENT] },
  {
    name: 'truncated protobuf: the topic string runs past the message end',
    method: PRODUCE,
    // A valid record first, then field 1 declaring the whole topic of which only "hostile-" + 4
    // characters follow: a different, granted topic name.
    body: (t) => grpcFrame(Buffer.concat([pbField(2, pbField(2, 'v')), Buffer.from([0x0a, t.topic.length]), Buffer.from(t.topic.slice(0, 'hostile-'.length + 4))])),
    grpcStatus: [S.INTERNAL, S.INVALID_ARGUMENT],
  },
  { name: 'truncated protobuf: a bytes field runs past the message end', method: PRODUCE, body: (t) => grpcFrame(Buffer.concat([pbField(1, t.topic), Buffer.from([0x12, 0x10, 0x12, 0x20, 0x41])])), grpcStatus: [S.INTERNAL, S.INVALID_ARGUMENT] },
  { name: 'truncated gRPC frame (declares 100 bytes, sends 10)', method: PRODUCE, body: (t) => grpcFrame(produceRequest(t.topic).subarray(0, 10), { declaredLength: 100 }), grpcStatus: [S.INTERNAL, S.INVALID_ARGUMENT, S.UNAVAILABLE, S.CANCELLED, S.UNIMPLEMENTED] },
  { name: 'frame declaring 2 GiB', method: PRODUCE, body: () => grpcFrame(Buffer.alloc(16), { declaredLength: 0x7fffffff }), grpcStatus: [S.RESOURCE_EXHAUSTED] },
  {
    name: 'compressed flag without grpc-encoding',
    method: PRODUCE,
    body: (t) => grpcFrame(produceRequest(t.topic), { compressed: true }),
    grpcStatus: [S.INTERNAL, S.UNIMPLEMENTED],
    weakness: 'grpc-js reads a Compressed-Flag=1 message under identity encoding as uncompressed and the call succeeds; the gRPC HTTP/2 spec says INTERNAL. (Dependency behaviour, harmless here.)',
  },
  { name: 'two messages on a unary call', method: PRODUCE, body: (t) => Buffer.concat([grpcFrame(produceRequest(t.topic)), grpcFrame(produceRequest(t.topic))]), grpcStatus: [S.UNIMPLEMENTED, S.INTERNAL, S.INVALID_ARGUMENT] },
  { name: 'empty body on a unary call', method: PRODUCE, body: () => Buffer.alloc(0), grpcStatus: [S.UNIMPLEMENTED, S.INTERNAL, S.INVALID_ARGUMENT] },
  { name: 'unknown method', method: '/streamgate.v1.StreamGateway/DropAllTopics', body: () => grpcFrame(Buffer.alloc(0)), grpcStatus: [S.UNIMPLEMENTED] },
  { name: 'unknown service (path traversal in :path)', method: '/../../streamgate.v1.StreamGateway/Produce', body: (t) => grpcFrame(produceRequest(t.topic)), grpcStatus: [S.UNIMPLEMENTED] },
  ...['..', '../x', '%2e%2e', 'a/b', 'crlf\r\nx', 'x'.repeat(300)].map<GrpcCase>((topic) => ({
    name: `Produce to hostile topic ${JSON.stringify(topic.slice(0, 16))}`,
    method: PRODUCE,
    body: () => grpcFrame(produceRequest(topic)),
    grpcStatus: [S.INVALID_ARGUMENT],
  })),
  { name: 'topic with invalid UTF-8 bytes', method: PRODUCE, body: () => grpcFrame(produceRequest(Buffer.concat([Buffer.from('ok'), INVALID_UTF8]))), grpcStatus: [S.INVALID_ARGUMENT] },
  { name: 'no credentials', method: PRODUCE, body: (t) => grpcFrame(produceRequest(t.topic)), headers: () => ({ authorization: '' }), grpcStatus: [S.UNAUTHENTICATED] },
  { name: 'alg:none token', method: PRODUCE, body: (t) => grpcFrame(produceRequest(t.topic)), headers: () => ({ authorization: `Bearer ${noneToken()}` }), grpcStatus: [S.UNAUTHENTICATED] },
  { name: 'expired / tampered token', method: PRODUCE, body: (t) => grpcFrame(produceRequest(t.topic)), headers: (t) => ({ authorization: `Bearer ${expiredShape(t.token)}` }), grpcStatus: [S.UNAUTHENTICATED] },
  { name: 'x-api-key of 6 KiB', method: PRODUCE, body: (t) => grpcFrame(produceRequest(t.topic)), headers: () => ({ authorization: '', 'x-api-key': 'k'.repeat(6 * 1024) }), grpcStatus: [S.UNAUTHENTICATED] },
  { name: 'grpc-timeout header that is not a timeout', method: PRODUCE, body: (t) => grpcFrame(produceRequest(t.topic)), headers: () => ({ 'grpc-timeout': '99999999999999999999H' }), grpcStatus: [0, S.INTERNAL, S.INVALID_ARGUMENT, S.UNAVAILABLE] },
  { name: 'Subscribe with 100,000 repeated partitions', method: '/streamgate.v1.StreamGateway/Subscribe', body: (t) => grpcFrame(Buffer.concat([pbField(1, t.topic), pbField(3, Buffer.from(varintList(100_000)))])), grpcStatus: [S.INVALID_ARGUMENT, S.NOT_FOUND] },
];

/** Packed repeated int32 0..n-1 (field body only). */
function varintList(n: number): Buffer {
  return Buffer.concat(Array.from({ length: n }, (_, i) => varint(i % 64)));
}
