// Original file: proto/streamgate/v1/streamgate.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Answer to `ping`.
 */
export interface PongFrame {
  'nonce'?: (number | string | Long);
}

/**
 * Answer to `ping`.
 */
export interface PongFrame__Output {
  'nonce': (string);
}
