/**
 * Each adapter README's error table says what its `errors.ts` does (fastify tests that its docs
 * list every error code): every catalogue code — and every adapter-level error — has exactly one
 * row, with the mapping the table in code has, and a row names nothing the code lacks. A new code,
 * a changed mapping or a stale row fails here until the README says the same.
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { GRPC_STATUS } from '../../adapters/grpc/errors.js';
import { MQTT_ERRORS } from '../../adapters/mqtt/errors.js';
import { REST_ERRORS } from '../../adapters/rest/errors.js';
import { HTTP_ERRORS } from '../../codecs/http-status.js';
import { WS_ERRORS, mayReconnect } from '../../adapters/websocket/errors.js';
import { CODES, type Code } from '../../gateway/errors.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

interface Table {
  readonly header: string[];
  readonly rows: string[][];
}

/** The tables of the README section whose heading starts with `heading`, in order. */
function tablesIn(adapter: string, heading: string): Table[] {
  const lines = readFileSync(join(ROOT, 'adapters', adapter, 'README.md'), 'utf8').split('\n');
  const start = lines.findIndex((l) => l.startsWith(`## ${heading}`));
  expect(start, `adapters/${adapter}/README.md has a "## ${heading}" section`).toBeGreaterThanOrEqual(0);
  const end = lines.findIndex((l, i) => i > start && l.startsWith('## '));
  const section = lines.slice(start + 1, end === -1 ? undefined : end);
  const tables: Table[] = [];
  let rows: string[][] = [];
  for (const line of [...section, '']) {
    if (line.startsWith('|')) {
      rows.push(line.replace(/^\||\|$/g, '').split('|').map((c) => c.trim()));
      continue;
    }
    // A header row, the |---| separator, then the body.
    if (rows.length >= 2) tables.push({ header: rows[0]!, rows: rows.slice(2) });
    rows = [];
  }
  return tables;
}

/** The names a first cell lists: comma-separated, backticks and parenthesised remarks dropped. */
function namesIn(cell: string): string[] {
  return cell
    .replace(/\([^)]*\)/g, '')
    .replace(/`/g, '')
    .split(',')
    .map((n) => n.trim())
    .filter((n) => n !== '');
}

/**
 * Every name in `names` has exactly one row, the row's mapping cells (read by `cells`) equal
 * `expected(name)`, and no row names anything else.
 */
function expectTableMatches(table: Table, names: readonly string[], cells: (row: string[]) => string[], expected: (name: string) => string[]): void {
  const rowOf = new Map<string, string[]>();
  for (const row of table.rows) {
    const listed = namesIn(row[0]!);
    expect(listed.length, `row "${row.join(' | ')}" names at least one code`).toBeGreaterThan(0);
    for (const name of listed) {
      expect(names, `the README row "${row[0]}" names ${name}, which errors.ts lacks`).toContain(name);
      expect(rowOf.has(name), `${name} has one row, not two`).toBe(false);
      rowOf.set(name, row.slice(1));
    }
  }
  for (const name of names) {
    const row = rowOf.get(name);
    expect(row, `the README table lists ${name}`).toBeDefined();
    expect(cells(row!), `the README row of ${name}`).toEqual(expected(name));
  }
}

describe('adapter READMEs list every error their errors.ts maps, with the same mapping', () => {
  it('REST: catalogue code → HTTP status and Confluent error_code (HTTP_ERRORS in codecs/http-status.ts)', () => {
    const [core] = tablesIn('rest', 'Errors');
    expect(core!.header).toEqual(['core code', 'HTTP', 'error_code']);
    expectTableMatches(core!, CODES, (cells) => cells, (code) => {
      const e = HTTP_ERRORS[code as Code];
      return [String(e.status), String(e.errorCode)];
    });
  });

  it('REST: adapter-level errors → HTTP status and error_code (REST_ERRORS)', () => {
    const [, adapterLevel] = tablesIn('rest', 'Errors');
    expect(adapterLevel?.header).toEqual(['adapter error', 'when', 'HTTP', 'error_code']);
    expectTableMatches(adapterLevel!, Object.keys(REST_ERRORS), (cells) => cells.slice(1), (kind) => {
      const e = REST_ERRORS[kind as keyof typeof REST_ERRORS];
      return [String(e.status), String(e.errorCode)];
    });
  });

  it('gRPC: catalogue code → status name and number (GRPC_STATUS)', () => {
    const [table] = tablesIn('grpc', 'Errors');
    expect(table!.header).toEqual(['catalogue code', 'gRPC status']);
    // "INVALID_ARGUMENT (3)", possibly followed by a remark.
    const statusCell = (cells: string[]): string[] => [/^[A-Z_]+ \(\d+\)/.exec(cells[0]!)?.[0] ?? cells[0]!];
    expectTableMatches(table!, CODES, statusCell, (code) => {
      const s = GRPC_STATUS[code as Code];
      return [`${status[s]} (${s})`];
    });
  });

  it('MQTT: catalogue code → v5 PUBACK/PUBREC, SUBACK, CONNACK, DISCONNECT and the 3.1.1 CONNACK code (MQTT_ERRORS)', () => {
    const [table] = tablesIn('mqtt', 'Errors');
    expect(table!.header).toEqual(['core code', 'PUBACK/PUBREC', 'SUBACK', 'CONNACK v5', 'CONNACK 3.1.1', 'DISCONNECT']);
    expectTableMatches(table!, CODES, (cells) => cells.map((c) => String(Number(c))), (code) => {
      const m = MQTT_ERRORS[code as Code];
      return [m.ack, m.suback, m.connack, m.connack311, m.disconnect].map(String);
    });
  });

  it('WebSocket: catalogue code → close code, and whether the client is told to reconnect (WS_ERRORS, mayReconnect)', () => {
    const [table] = tablesIn('websocket', 'Errors');
    expect(table!.header).toEqual(['core code', 'close code', 'client']);
    const advice = (close: number): string => (mayReconnect(close) ? 'reconnect' : 'do not reconnect');
    expectTableMatches(table!, CODES, (cells) => [cells[0]!, /\breconnect\b/.test(cells[1]!) ? 'reconnect' : 'do not reconnect'], (code) => {
      const close = WS_ERRORS[code as Code].close;
      return [String(close), advice(close)];
    });
  });
});
