/** The startup guard of reflection.ts: a served method the descriptor set does not declare is refused before anyone connects. */
import { Server } from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { describe, expect, it } from 'vitest';
import { streamGateway } from '../../codecs/proto.js';
import { addReflection } from './reflection.js';

describe('addReflection', () => {
  it('accepts the services the adapter serves (streamgate.v1 and grpc.health.v1)', () => {
    expect(() => addReflection(new Server(), [streamGateway().service, healthService])).not.toThrow();
  });

  it('refuses a served method the compiled descriptors do not declare, naming it', () => {
    const stale = { Rewind: { path: '/streamgate.v1.StreamGateway/Rewind' } };
    expect(() => addReflection(new Server(), [streamGateway().service, stale])).toThrow(
      'proto/gen/descriptors.binpb does not declare /streamgate.v1.StreamGateway/Rewind; run npm run gen:proto',
    );
  });
});
