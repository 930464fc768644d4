import { status } from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { CODES, GatewayError } from '../../gateway/errors.js';
import { errorBody } from '../../codecs/proto.js';
import { CODE_TRAILER, GRPC_STATUS, RETRIABLE_TRAILER, toStatus } from './errors.js';

describe('grpc error mapping', () => {
  it('maps every catalogue code to the gRPC status of its class', () => {
    for (const code of CODES) {
      const cls = new GatewayError(code, 'x').status;
      expect(GRPC_STATUS[code], code).toBe(cls === 'DEADLINE_EXCEEDED' ? status.DEADLINE_EXCEEDED : status[cls]);
    }
  });

  it('puts the catalogue code in the message and trailers, with details', () => {
    const s = toStatus(new GatewayError('TOPIC_NOT_FOUND', 'Topic t does not exist.', { details: { topic: 't' } }));
    expect(s.code).toBe(status.NOT_FOUND);
    expect(s.details).toBe('TOPIC_NOT_FOUND: Topic t does not exist. {"topic":"t"}');
    expect(s.metadata.get(CODE_TRAILER)).toEqual(['TOPIC_NOT_FOUND']);
    expect(s.metadata.get(RETRIABLE_TRAILER)).toEqual(['false']);
  });

  it('never shows an unknown throwable to the client', () => {
    const s = toStatus(new Error('secret stack detail'));
    expect(s.code).toBe(status.INTERNAL);
    expect(s.details).not.toContain('secret');
    expect(errorBody(new Error('secret'))).toEqual({ code: 'INTERNAL', message: 'Internal gateway error.', retriable: false });
  });
});
