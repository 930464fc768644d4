// Original file: proto/streamgate/v1/streamgate.proto

import type { Long } from '@grpc/proto-loader';

/**
 * A (partition, offset) pair, e.g. for commits.
 */
export interface PartitionOffset {
  'partition'?: (number);
  'offset'?: (number | string | Long);
}

/**
 * A (partition, offset) pair, e.g. for commits.
 */
export interface PartitionOffset__Output {
  'partition': (number);
  'offset': (string);
}
