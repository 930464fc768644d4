/**
 * Cross-language interop: the Go example (built here with `go build`) and the Python example
 * (run with python3; needs `pip install grpcio protobuf`) publish and read back records through
 * the gateway over the generated stubs; the TypeScript side then reads everything both wrote.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueTopic } from '../support/names.js';
import { call, stubFor } from './helpers.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../', import.meta.url));

describe('gRPC interop: Go and Python clients (kafka)', () => {
  let gw: TestGateway;
  let binDir: string;
  const topic = uniqueTopic('grpc-interop');

  beforeAll(async () => {
    binDir = mkdtempSync(join(tmpdir(), 'streamgate-go-'));
    // Build while the gateway starts; module downloads come from the Go proxy (cached after).
    const build = run('go', ['build', '-o', join(binDir, 'example'), './example'], { cwd: join(root, 'clients/go'), timeout: 170_000 });
    gw = await startTestGateway();
    await build;
  }, 180_000);
  afterAll(async () => {
    await gw?.close();
    if (binDir) rmSync(binDir, { recursive: true, force: true });
  });

  const lines = (out: string) => out.trim().split('\n').filter((l) => l !== '');

  it('the Go program publishes and reads its records back through a credit-controlled Session', async () => {
    const { stdout } = await run(join(binDir, 'example'), ['-addr', `127.0.0.1:${gw.ports.grpc}`, '-topic', topic, '-n', '3'], { timeout: 30_000 });
    expect(lines(stdout)).toEqual(['0 0 go-0 hello from go 0', '0 1 go-1 hello from go 1', '0 2 go-2 hello from go 2']);
  });

  it('the Python script publishes and reads its records back through Subscribe', async () => {
    const { stdout } = await run('python3', [join(root, 'clients/python/example.py'), '--addr', `127.0.0.1:${gw.ports.grpc}`, '--topic', topic, '-n', '3'], {
      timeout: 30_000,
    });
    expect(lines(stdout)).toEqual(['0 3 py-0 hello from python 0', '0 4 py-1 hello from python 1', '0 5 py-2 hello from python 2']);
  });

  it('TypeScript reads what Go and Python wrote, bytes and headers intact', async () => {
    const stub = stubFor(gw.ports.grpc);
    try {
      const fetched = await call(stub, 'Fetch', { topic, partition: 0, offset: '0', max_records: 10 });
      expect(fetched.records.map((r: any) => [r.key.toString(), r.value.toString(), r.headers.map((h: any) => `${h.key}=${h.value.toString()}`).join()])).toEqual([
        ['go-0', 'hello from go 0', 'lang=go,trace=a,trace=b'],
        ['go-1', 'hello from go 1', 'lang=go,trace=a,trace=b'],
        ['go-2', 'hello from go 2', 'lang=go,trace=a,trace=b'],
        ['py-0', 'hello from python 0', 'lang=python,trace=a,trace=b'],
        ['py-1', 'hello from python 1', 'lang=python,trace=a,trace=b'],
        ['py-2', 'hello from python 2', 'lang=python,trace=a,trace=b'],
      ]);
    } finally {
      stub.close();
    }
  });
});
