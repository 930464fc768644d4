/**
 * Server reflection (grpc.reflection.v1 and v1alpha) from the compiled descriptors.
 *
 * @grpc/reflection describes whatever package definition it is given. proto-loader's package
 * definitions carry descriptors protobufjs rebuilt from its own parse — file `streamgate_v1.proto`
 * instead of `streamgate/v1/streamgate.proto`, a map's entry type named `Headers` instead of
 * `HeadersEntry` (protobuf-go, i.e. grpcurl, refuses the file: "is an invalid map: incorrect
 * implicit map entry name"), `optional` fields without `proto3_optional` — and only the files
 * loaded with it, so health and reflection itself were not listed. So the library is given the
 * FileDescriptorSet buf compiled (proto/gen/descriptors.binpb, built and drift-checked by
 * scripts/gen-protos.sh) of every service the server has, comments included.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Server } from '@grpc/grpc-js';
import type { MessageTypeDefinition, PackageDefinition } from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import { protoRoot } from '../../codecs/proto.js';

/** `FileDescriptorSet.file` (descriptor.proto), length-delimited. */
const FILE_FIELD_TAG = (1 << 3) | 2;

/** The reflection services: the library registers them from the same .proto files the set holds. */
const REFLECTION_METHODS = ['/grpc.reflection.v1.ServerReflection/ServerReflectionInfo', '/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo'];

interface MethodPaths {
  readonly [name: string]: { readonly path: string };
}

/**
 * Adds reflection v1 and v1alpha to `server`. `served` are the definitions of every other service
 * the server has; a method of them the descriptor set does not declare (a set built from another
 * proto) throws here, at startup, rather than a client finding out.
 */
export function addReflection(server: Server, served: readonly MethodPaths[]): void {
  const files = compiledFiles();
  const declared = new Set<string>();
  for (const bytes of files) {
    const file = descriptor.FileDescriptorProto.decode(bytes) as unknown as FileDescriptor;
    const prefix = file.package ? `${file.package}.` : '';
    for (const service of file.service ?? []) {
      for (const method of service.method ?? []) declared.add(`/${prefix}${service.name}/${method.name}`);
    }
  }
  const missing = [...served.flatMap((s) => Object.values(s).map((m) => m.path)), ...REFLECTION_METHODS].filter((p) => !declared.has(p));
  if (missing.length > 0) {
    throw new Error(`proto/gen/descriptors.binpb does not declare ${missing.join(', ')}; run npm run gen:proto`);
  }
  // The library's constructor reads nothing of a package definition's entries but their
  // `fileDescriptorProtos` (ReflectionV1Implementation), so one entry carries every file.
  const entry: Pick<MessageTypeDefinition<object, object>, 'fileDescriptorProtos'> = { fileDescriptorProtos: files };
  const definition = { 'streamgate.descriptors': entry } as unknown as PackageDefinition;
  new ReflectionService(definition).addToServer(server);
}

/** Each FileDescriptorProto of the set, exactly as buf encoded it. */
function compiledFiles(): Buffer[] {
  const set = readFileSync(join(protoRoot(), 'gen', 'descriptors.binpb'));
  const reader = protobuf.Reader.create(set);
  const files: Buffer[] = [];
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag === FILE_FIELD_TAG) files.push(Buffer.from(reader.bytes()));
    else reader.skipType(tag & 7);
  }
  return files;
}

interface FileDescriptor {
  readonly package?: string;
  readonly service?: readonly { readonly name: string; readonly method?: readonly { readonly name: string }[] }[];
}
