/**
 * `npx tsx bench/schemas.ts [--quick]`: the per-record cost of schema work in the core, in-process
 * on the embedded log (no broker, no sockets): for a 141-byte JSON sensor reading, JSON Schema
 * validation, Avro and Protobuf encode (validate + encode + Confluent framing) and decode, each
 * against the baseline of passing the JSON bytes through untouched (JSON.parse only). Compiled
 * schemas come from the registry's cache, so this is the steady state a producer sees after its
 * first record. Writes bench/results/schemas.json and prints a table.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadServerConfig, startServer } from '../app/compose.js';
import { createContext } from '../gateway/context.js';
import { benchFlags, markdownTable, writeResult } from './lib/common.js';

const flags = benchFlags();
const N = flags.quick ? 20_000 : 200_000;

const value = { device: 'sensor-0042', site: 'plant-7/line-3', celsius: 21.375, humidity: 48.5, battery: 87, ok: true, tags: ['a', 'b', 'c'], seq: 123456789 };
const avro = JSON.stringify({
  type: 'record', name: 'Reading', fields: [
    { name: 'device', type: 'string' }, { name: 'site', type: 'string' }, { name: 'celsius', type: 'double' }, { name: 'humidity', type: 'double' },
    { name: 'battery', type: 'int' }, { name: 'ok', type: 'boolean' }, { name: 'tags', type: { type: 'array', items: 'string' } }, { name: 'seq', type: 'long' },
  ],
});
const json = JSON.stringify({
  type: 'object', required: ['device', 'celsius'], additionalProperties: false, properties: {
    device: { type: 'string', maxLength: 64 }, site: { type: 'string' }, celsius: { type: 'number', minimum: -100, maximum: 200 }, humidity: { type: 'number' },
    battery: { type: 'integer', minimum: 0, maximum: 100 }, ok: { type: 'boolean' }, tags: { type: 'array', items: { type: 'string' } }, seq: { type: 'integer' },
  },
});
const proto = 'syntax = "proto3"; package bench; message Reading { string device = 1; string site = 2; double celsius = 3; double humidity = 4; int32 battery = 5; bool ok = 6; repeated string tags = 7; int64 seq = 8; }';

function time(label: string, fn: () => unknown): { op: string; 'ns/record': number; 'records/s': number } {
  for (let i = 0; i < Math.min(N, 5_000); i++) fn(); // warm-up (JIT)
  const start = process.hrtime.bigint();
  for (let i = 0; i < N; i++) fn();
  const ns = Number(process.hrtime.bigint() - start) / N;
  return { op: label, 'ns/record': Math.round(ns), 'records/s': Math.round(1e9 / ns) };
}

const dataDir = mkdtempSync(join(tmpdir(), 'streamgate-bench-schemas-'));
const server = await startServer(loadServerConfig({ argv: [], env: {}, file: { dataDir, http: { port: 0 }, mqtt: { port: 0 }, grpc: { port: 0 } } }), { log: pino({ level: 'silent' }) });
try {
  const registry = server.core.schemas!;
  const ctx = createContext({ protocol: 'bench', log: server.core.log });
  const reg = async (subject: string, schema: string, schemaType: 'AVRO' | 'JSON' | 'PROTOBUF') => (await registry.register(ctx, subject, { schema, schemaType })).id;
  const ids = { avro: await reg('bench-avro', avro, 'AVRO'), json: await reg('bench-json', json, 'JSON'), proto: await reg('bench-proto', proto, 'PROTOBUF') };
  const compiled = { avro: await registry.compiledById(ctx, ids.avro), json: await registry.compiledById(ctx, ids.json), proto: await registry.compiledById(ctx, ids.proto) };
  const text = Buffer.from(JSON.stringify(value));
  const avroBytes = await registry.encode(ctx, ids.avro, value);
  const protoBytes = await registry.encode(ctx, ids.proto, value);
  const rows = [
    time('baseline: JSON.parse of the value bytes (no schema)', () => JSON.parse(text.toString('utf8'))),
    time('JSON Schema: parse + validate', () => compiled.json.validate(JSON.parse(text.toString('utf8')))),
    time('Avro: parse + validate + encode', () => compiled.avro.encode(JSON.parse(text.toString('utf8')))),
    time('Protobuf: parse + convert + encode', () => compiled.proto.encode(JSON.parse(text.toString('utf8')), [0])),
    time('Avro: unframe + decode', () => compiled.avro.decode(avroBytes.subarray(5))),
    time('Protobuf: unframe + decode', () => compiled.proto.decode(protoBytes.subarray(6), [0])),
  ];
  const base = rows[0]!['ns/record'];
  const table = rows.map((r) => ({ ...r, 'x baseline': (r['ns/record'] / base).toFixed(2) }));
  const file = writeResult('schemas', { records: N, valueBytes: text.length, avroBytes: avroBytes.length, protoBytes: protoBytes.length, rows: table });
  console.log(markdownTable(table));
  console.log(`\n${N} records of ${text.length} JSON bytes (framed: Avro ${avroBytes.length} B, Protobuf ${protoBytes.length} B) → ${file}`);
} finally {
  await server.close();
  rmSync(dataDir, { recursive: true, force: true });
}
