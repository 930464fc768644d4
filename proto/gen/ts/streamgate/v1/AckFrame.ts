// Original file: proto/streamgate/v1/streamgate.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Acknowledge one delivered record of a group subscription (any order). Acks for records
 * never delivered on this subscription are answered with an INVALID_ARGUMENT `error`;
 * acks on broadcast subscriptions are accepted and have no effect.
 */
export interface AckFrame {
  'subscription_id'?: (string);
  'partition'?: (number);
  'offset'?: (number | string | Long);
}

/**
 * Acknowledge one delivered record of a group subscription (any order). Acks for records
 * never delivered on this subscription are answered with an INVALID_ARGUMENT `error`;
 * acks on broadcast subscriptions are accepted and have no effect.
 */
export interface AckFrame__Output {
  'subscription_id': (string);
  'partition': (number);
  'offset': (string);
}
