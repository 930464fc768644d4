/**
 * grpcurl — the standard gRPC command line tool, written by nobody here — against a real gateway
 * (Kafka backend), knowing nothing but what server reflection tells it: it lists every service the
 * server has, describes them as the proto declares them, and every grpcurl example of README.md
 * and adapters/grpc/README.md runs as written (pointed at the test port and a fresh topic).
 *
 * grpcurl is a Go program: .ci/run installs it with `go install` (GRPCURL_VERSION below). Without
 * it the suite fails under CI=true and is skipped, saying why, elsewhere.
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueTopic } from '../support/names.js';

const GRPCURL_VERSION = 'v1.9.4';
const INSTALL = `go install github.com/fullstorydev/grpcurl/cmd/grpcurl@${GRPCURL_VERSION}`;
const root = fileURLToPath(new URL('../../', import.meta.url));
const EXAMPLE_ADDRESS = '127.0.0.1:50051';
const EXAMPLE_TOPIC = '"topic":"demo"';
/** Bounds the examples' endless Subscribe stream; its records arrive in milliseconds. */
const SUBSCRIBE_MAX_TIME_S = 5;
/** grpcurl exits with 64 + the status code of a failed call: DEADLINE_EXCEEDED (4). */
const EXIT_DEADLINE_EXCEEDED = 64 + 4;

const SERVICES = ['grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection', 'streamgate.v1.StreamGateway'];

/** $GRPCURL, else grpcurl on PATH, else where `go install` puts it. */
function findGrpcurl(): string | undefined {
  const candidates = [process.env.GRPCURL, 'grpcurl'];
  try {
    candidates.push(join(execFileSync('go', ['env', 'GOPATH'], { encoding: 'utf8' }).trim(), 'bin', 'grpcurl'));
  } catch {
    // no Go toolchain: only PATH can have it
  }
  for (const candidate of candidates) {
    if (candidate === undefined || (candidate.includes('/') && !existsSync(candidate))) continue;
    try {
      execFileSync(candidate, ['-version'], { stdio: 'ignore' });
      return candidate;
    } catch {
      // not this one
    }
  }
  return undefined;
}

const grpcurl = findGrpcurl();
const inCi = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';
if (grpcurl === undefined && !inCi) console.warn(`test/grpc/grpcurl.test.ts skipped: grpcurl not found (install: ${INSTALL})`);

interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a shell command line (the README examples use `$(…)`); never rejects. */
function sh(command: string): Promise<Run> {
  return new Promise((resolve) => {
    execFile('bash', ['-c', command], { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

/** The grpcurl command lines of a markdown file's sh blocks, continuation lines joined, comments cut. */
function examples(file: string): string[] {
  const text = readFileSync(join(root, file), 'utf8');
  const lines: string[] = [];
  for (const [, block] of text.matchAll(/```sh\n([\s\S]*?)```/g)) {
    lines.push(...block!.replace(/\\\n\s*/g, '').split('\n').filter((l) => l.startsWith('grpcurl ')).map((l) => l.replace(/\s+#\s.*$/, '')));
  }
  return lines;
}

/** grpcurl prints one JSON document per message, back to back. */
function jsonMessages(output: string): any[] {
  const messages: any[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < output.length; i++) {
    const c = output[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') {
      if (depth++ === 0) start = i;
    } else if (c === '}' && --depth === 0) messages.push(JSON.parse(output.slice(start, i + 1)));
  }
  expect(depth, `unbalanced grpcurl output: ${output}`).toBe(0);
  return messages;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

describe.skipIf(grpcurl === undefined && !inCi)('grpcurl against the gateway (kafka)', () => {
  let gw: TestGateway;
  let address: string;

  beforeAll(async () => {
    if (grpcurl === undefined) throw new Error(`grpcurl is not installed (CI=${process.env.CI}): ${INSTALL}, with $(go env GOPATH)/bin on PATH`);
    gw = await startTestGateway();
    address = `127.0.0.1:${gw.ports.grpc}`;
  });
  afterAll(async () => {
    await gw?.close();
  });

  /** grpcurl with these arguments (no shell). */
  const run = (...args: string[]): Promise<Run> =>
    new Promise((resolve) => {
      execFile(grpcurl!, ['-plaintext', ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
        resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : -1, stdout, stderr });
      });
    });

  const ok = (r: Run): string => {
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    return r.stdout;
  };

  it('list shows every service the server has: StreamGateway, health and both reflection versions', async () => {
    expect(ok(await run(address, 'list')).trim().split('\n')).toEqual(SERVICES);
  });

  it('describes every service, the StreamGateway methods and Record as the proto declares them', async () => {
    for (const service of SERVICES) expect(ok(await run(address, 'describe', service))).toContain(`${service} is a service:`);
    const proto = readFileSync(join(root, 'proto/streamgate/v1/streamgate.proto'), 'utf8');
    const rpcs = [...proto.matchAll(/^\s*rpc (\w+)\(/gm)].map(([, name]) => `streamgate.v1.StreamGateway.${name}`);
    expect(rpcs.length).toBeGreaterThan(0);
    expect(ok(await run(address, 'list', 'streamgate.v1.StreamGateway')).trim().split('\n').sort()).toEqual(rpcs.sort());
    const described = ok(await run(address, 'describe', 'streamgate.v1.StreamGateway'));
    for (const rpc of rpcs) expect(described).toContain(`rpc ${rpc.split('.').pop()} (`);
    // The comments travel too (the descriptors are buf's, source info included).
    expect(described).toContain('// Writes a batch of records.');

    // Every declaration of `message Record` in the proto, as grpcurl prints it back. `optional`
    // needs proto3_optional and the map its HeadersEntry: what the loader-rebuilt descriptors lacked.
    const record = ok(await run(address, 'describe', 'streamgate.v1.Record')).replaceAll('.streamgate.v1.', '');
    const block = /^message Record \{\n([\s\S]*?)^\}/m.exec(proto)![1]!;
    const declarations = block.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('//'));
    expect(declarations).toContain('optional bytes key = 5;');
    for (const declaration of declarations) expect(record).toContain(declaration);
  });

  it('health Check answers SERVING for the server and for streamgate.v1.StreamGateway', async () => {
    for (const service of ['', 'streamgate.v1.StreamGateway']) {
      expect(JSON.parse(ok(await run('-d', JSON.stringify({ service }), address, 'grpc.health.v1.Health/Check')))).toEqual({ status: 'SERVING' });
    }
  });

  for (const readme of ['README.md', 'adapters/grpc/README.md']) {
    it(`runs every grpcurl example of ${readme}`, async () => {
      const lines = examples(readme);
      expect(lines.length).toBeGreaterThan(0);
      const topic = uniqueTopic('grpcurl');
      const produced = { key: b64('k'), value: b64('hello') };
      for (const line of lines) {
        expect(line, 'examples talk to the default port').toContain(EXAMPLE_ADDRESS);
        const method = line.trim().split(/\s+/).pop()!;
        const bounded = method.endsWith('/Subscribe') ? ` -max-time ${SUBSCRIBE_MAX_TIME_S}` : '';
        const command = line
          .replace(/^grpcurl /, `'${grpcurl}'${bounded} `)
          .replaceAll(EXAMPLE_ADDRESS, address)
          .replaceAll(EXAMPLE_TOPIC, `"topic":"${topic}"`);
        const result = await sh(command);
        const context = `${line}\n→ exit ${result.code}\n${result.stdout}${result.stderr}`;
        switch (method) {
          case 'list':
            expect(result.code, context).toBe(0);
            expect(result.stdout.trim().split('\n'), context).toEqual(SERVICES);
            break;
          case 'streamgate.v1.StreamGateway/Produce':
            expect(result.code, context).toBe(0);
            expect(jsonMessages(result.stdout), context).toEqual([{ offsets: [{ partition: 0, offset: '0', timestamp: expect.stringMatching(/^\d+$/) }] }]);
            break;
          case 'streamgate.v1.StreamGateway/Fetch': {
            expect(result.code, context).toBe(0);
            const [fetched] = jsonMessages(result.stdout);
            expect(fetched.records, context).toEqual([expect.objectContaining({ topic, ...produced })]);
            expect(fetched.nextOffset, context).toBe('1');
            break;
          }
          case 'streamgate.v1.StreamGateway/Subscribe':
            // An endless stream: it ends at -max-time, after the subscribed frame and the record.
            expect(result.code, context).toBe(EXIT_DEADLINE_EXCEEDED);
            expect(result.stderr, context).toContain('DeadlineExceeded');
            expect(jsonMessages(result.stdout), context).toEqual([
              { subscribed: { positions: { '0': '0' } } },
              { records: { records: [expect.objectContaining({ topic, ...produced })] } },
            ]);
            break;
          case 'grpc.health.v1.Health/Check':
            expect(result.code, context).toBe(0);
            expect(jsonMessages(result.stdout), context).toEqual([{ status: 'SERVING' }]);
            break;
          default:
            throw new Error(`no check for this README example (add one): ${line}`);
        }
      }
    }, 90_000);
  }
});
