// Original file: proto/streamgate/v1/streamgate.proto

import type { PartitionOffsets as _streamgate_v1_PartitionOffsets, PartitionOffsets__Output as _streamgate_v1_PartitionOffsets__Output } from '../../streamgate/v1/PartitionOffsets.js';

/**
 * A topic's offsets per partition.
 */
export interface GetOffsetsResponse {
  'partitions'?: (_streamgate_v1_PartitionOffsets)[];
}

/**
 * A topic's offsets per partition.
 */
export interface GetOffsetsResponse__Output {
  'partitions': (_streamgate_v1_PartitionOffsets__Output)[];
}
