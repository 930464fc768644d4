/**
 * The v2 produce response when the backend fails some records of a batch, which a healthy broker
 * does not do on demand: a fake gateway (in addition to the real-broker tests in test/rest)
 * answers the produce with a mix, and the response must read as kafka-rest's
 * AbstractProduceAction writes it — a failed record has null partition and offset and the
 * error_code of its class (40101, 40301, 50003 retriable, 50002 other).
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Gateway } from '../../gateway/api.js';
import { GatewayError } from '../../gateway/errors.js';
import type { ProduceResult } from '../../gateway/record.js';
import { restConfigSchema } from './config.js';
import { RestRoutes } from './routes.js';

const results: ProduceResult[] = [
  { ok: true, partition: 1, offset: 41n, timestamp: 1 },
  { ok: false, partition: 1, error: new GatewayError('UNAVAILABLE', 'The broker is not available.') },
  { ok: false, partition: 0, error: new GatewayError('INTERNAL', 'Something broke.') },
  { ok: false, partition: 0, error: new GatewayError('PERMISSION_DENIED', 'Not allowed.') },
  { ok: false, partition: 0, error: new GatewayError('UNAUTHENTICATED', 'Who are you?') },
];

const gateway = {
  authenticate: async () => ({ id: 'anonymous' }),
  produce: async () => results,
} as unknown as Gateway;

let server: Server;
let base: string;
let routes: RestRoutes;
beforeAll(async () => {
  routes = new RestRoutes(gateway, restConfigSchema.parse({}), pino({ level: 'silent' }), () => () => undefined);
  server = createServer((req, res) => {
    if (!routes.handle(req, res)) res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await routes.close();
  await new Promise((resolve) => server.close(resolve));
});

describe('v2 produce with failed records', () => {
  it('answers 200 with null partition and offset and kafka-rest error codes for each failed record', async () => {
    const res = await fetch(`${base}/topics/t`, {
      method: 'POST',
      headers: { 'content-type': 'application/vnd.kafka.json.v2+json' },
      body: JSON.stringify({ records: results.map((_, i) => ({ value: i })) }),
    });
    expect([res.status, res.headers.get('content-type')]).toEqual([200, 'application/vnd.kafka.v2+json']);
    expect(await res.json()).toEqual({
      offsets: [
        { partition: 1, offset: 41, error_code: null, error: null },
        { partition: null, offset: null, error_code: 50003, error: 'The broker is not available.' },
        { partition: null, offset: null, error_code: 50002, error: 'Something broke.' },
        { partition: null, offset: null, error_code: 40301, error: 'Not allowed.' },
        { partition: null, offset: null, error_code: 40101, error: 'Who are you?' },
      ],
      key_schema_id: null,
      value_schema_id: null,
    });
  });
});
