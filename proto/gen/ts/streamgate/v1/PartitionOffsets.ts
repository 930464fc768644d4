// Original file: proto/streamgate/v1/streamgate.proto

import type { Long } from '@grpc/proto-loader';

/**
 * The offsets bounding one partition: [earliest, latest).
 */
export interface PartitionOffsets {
  'partition'?: (number);
  'earliest'?: (number | string | Long);
  'latest'?: (number | string | Long);
}

/**
 * The offsets bounding one partition: [earliest, latest).
 */
export interface PartitionOffsets__Output {
  'partition': (number);
  'earliest': (string);
  'latest': (string);
}
