/** Standard gRPC health checking (grpc.health.v1) and server reflection answer; shutdown says NOT_SERVING/UNAVAILABLE. */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';
import { call, SessionRecorder, stubFor, SubscribeRecorder } from './helpers.js';

const require = createRequire(import.meta.url);

function loadService(file: string, includeDir: string, name: string): grpc.ServiceClientConstructor {
  const def = protoLoader.loadSync(file, { includeDirs: [includeDir], keepCase: true, enums: String, defaults: true, oneofs: true });
  let node: any = grpc.loadPackageDefinition(def);
  for (const part of name.split('.')) node = node[part];
  return node as grpc.ServiceClientConstructor;
}

const healthProto = require.resolve('grpc-health-check/proto/health/v1/health.proto');
const reflectionRoot = join(dirname(require.resolve('@grpc/reflection')), '..', 'proto');
const descriptorSet = fileURLToPath(new URL('../../proto/gen/descriptors.binpb', import.meta.url));

/** Each FileDescriptorProto of the committed set, by file name, as buf encoded it. */
function compiledFiles(): Map<string, Buffer> {
  const reader = protobuf.Reader.create(readFileSync(descriptorSet));
  const files = new Map<string, Buffer>();
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag !== ((1 << 3) | 2)) throw new Error(`unexpected FileDescriptorSet field tag ${tag}`);
    const bytes = Buffer.from(reader.bytes());
    files.set((descriptor.FileDescriptorProto.decode(bytes) as unknown as { name: string }).name, bytes);
  }
  return files;
}

describe('gRPC health and reflection (embedded)', () => {
  let gw: TestGateway;
  let address: string;

  beforeAll(async () => {
    gw = await startTestGateway({ backend: 'embedded' });
    address = `127.0.0.1:${gw.ports.grpc}`;
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('health Check answers SERVING for the server and for streamgate.v1.StreamGateway', async () => {
    const Health = loadService(healthProto, dirname(healthProto), 'grpc.health.v1.Health');
    const client = new Health(address, grpc.credentials.createInsecure());
    const check = (service: string) =>
      new Promise<any>((resolve, reject) => (client as any).Check({ service }, (err: unknown, res: unknown) => (err ? reject(err) : resolve(res))));
    try {
      expect((await check('')).status).toBe('SERVING');
      expect((await check('streamgate.v1.StreamGateway')).status).toBe('SERVING');
      const unknown = await check('nope.Service').catch((e: grpc.ServiceError) => e);
      expect(unknown.code).toBe(grpc.status.NOT_FOUND);
    } finally {
      client.close();
    }
  });

  for (const version of ['v1', 'v1alpha']) {
    it(`reflection ${version} lists every service and serves the compiled descriptors of each (proto/gen/descriptors.binpb)`, async () => {
      const Reflection = loadService(`grpc/reflection/${version}/reflection.proto`, reflectionRoot, `grpc.reflection.${version}.ServerReflection`);
      const client = new Reflection(address, grpc.credentials.createInsecure());
      try {
        const ask = (request: object) =>
          new Promise<any>((resolve, reject) => {
            const stream = (client as any).ServerReflectionInfo();
            stream.on('data', (res: unknown) => {
              resolve(res);
              stream.end();
            });
            stream.on('error', reject);
            stream.write(request);
          });
        const listed = await ask({ list_services: '' });
        const names = listed.list_services_response.service.map((s: { name: string }) => s.name).sort();
        const services = ['grpc.health.v1.Health', 'grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection', 'streamgate.v1.StreamGateway'];
        expect(names).toEqual(services);
        const compiled = compiledFiles();
        const fileOf: Record<string, string> = {
          'grpc.health.v1.Health': 'grpc/health/v1/health.proto',
          'grpc.reflection.v1.ServerReflection': 'grpc/reflection/v1/reflection.proto',
          'grpc.reflection.v1alpha.ServerReflection': 'grpc/reflection/v1alpha/reflection.proto',
          'streamgate.v1.StreamGateway': 'streamgate/v1/streamgate.proto',
        };
        for (const service of services) {
          const bySymbol = await ask({ file_containing_symbol: service });
          // Byte for byte what buf compiled: file names as imported, map entries, proto3_optional, comments.
          expect(bySymbol.file_descriptor_response.file_descriptor_proto).toEqual([compiled.get(fileOf[service]!)]);
        }
        const byName = await ask({ file_by_filename: 'streamgate/v1/streamgate.proto' });
        expect(byName.file_descriptor_response.file_descriptor_proto).toEqual([compiled.get('streamgate/v1/streamgate.proto')]);
        const symbol = await ask({ file_containing_symbol: 'streamgate.v1.Record' });
        expect(symbol.file_descriptor_response.file_descriptor_proto).toEqual([compiled.get('streamgate/v1/streamgate.proto')]);
      } finally {
        client.close();
      }
    });
  }
});

describe('gRPC shutdown', () => {
  it('ends open streams with UNAVAILABLE (SHUTTING_DOWN) so clients reconnect', async () => {
    const gw = await startTestGateway({ backend: 'embedded' });
    const stub = stubFor(gw.ports.grpc);
    try {
      const topic = uniqueTopic('grpc-shutdown');
      await call(stub, 'Produce', { topic, records: [{ value: Buffer.from('x') }] });
      const sub = new SubscribeRecorder(stub, { topic, position: { earliest: {} } });
      await sub.subscribed();
      const session = new SessionRecorder(stub);
      session.send({ ping: { nonce: '1' } });
      await session.waitFor('pong');
      await gw.close();
      await eventually(() => sub.error !== undefined && session.error !== undefined);
      for (const err of [sub.error!, session.error!]) {
        expect(err.code).toBe(grpc.status.UNAVAILABLE);
        expect(err.metadata.get('streamgate-code')).toEqual(['SHUTTING_DOWN']);
        expect(err.metadata.get('streamgate-retriable')).toEqual(['true']);
      }
    } finally {
      stub.close();
      await gw.close();
    }
  });
});
