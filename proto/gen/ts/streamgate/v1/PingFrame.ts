// Original file: proto/streamgate/v1/streamgate.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Liveness probe; answered by `pong` with the same nonce.
 */
export interface PingFrame {
  'nonce'?: (number | string | Long);
}

/**
 * Liveness probe; answered by `pong` with the same nonce.
 */
export interface PingFrame__Output {
  'nonce': (string);
}
