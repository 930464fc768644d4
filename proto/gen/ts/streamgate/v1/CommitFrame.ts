// Original file: proto/streamgate/v1/streamgate.proto

import type { PartitionOffset as _streamgate_v1_PartitionOffset, PartitionOffset__Output as _streamgate_v1_PartitionOffset__Output } from '../../streamgate/v1/PartitionOffset.js';

/**
 * Commit a group subscription's offsets (next offset to read per partition). Empty `offsets`
 * commits everything delivered so far. Answered by `committed` (same id) or `error`.
 */
export interface CommitFrame {
  'id'?: (string);
  'subscription_id'?: (string);
  'topic'?: (string);
  'offsets'?: (_streamgate_v1_PartitionOffset)[];
}

/**
 * Commit a group subscription's offsets (next offset to read per partition). Empty `offsets`
 * commits everything delivered so far. Answered by `committed` (same id) or `error`.
 */
export interface CommitFrame__Output {
  'id': (string);
  'subscription_id': (string);
  'topic': (string);
  'offsets': (_streamgate_v1_PartitionOffset__Output)[];
}
