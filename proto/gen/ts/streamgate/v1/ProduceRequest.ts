// Original file: proto/streamgate/v1/streamgate.proto

import type { ProduceRecord as _streamgate_v1_ProduceRecord, ProduceRecord__Output as _streamgate_v1_ProduceRecord__Output } from '../../streamgate/v1/ProduceRecord.js';

/**
 * Produce a batch to one topic.
 */
export interface ProduceRequest {
  'topic'?: (string);
  'records'?: (_streamgate_v1_ProduceRecord)[];
  /**
   * Write every record of the batch to this partition.
   */
  'partition'?: (number);
  /**
   * A retried produce with the same key (per principal, within the configured window) returns
   * the original offsets instead of writing again. Metadata `idempotency-key` is equivalent.
   */
  'idempotency_key'?: (string);
  '_partition'?: "partition";
}

/**
 * Produce a batch to one topic.
 */
export interface ProduceRequest__Output {
  'topic': (string);
  'records': (_streamgate_v1_ProduceRecord__Output)[];
  /**
   * Write every record of the batch to this partition.
   */
  'partition'?: (number);
  /**
   * A retried produce with the same key (per principal, within the configured window) returns
   * the original offsets instead of writing again. Metadata `idempotency-key` is equivalent.
   */
  'idempotency_key': (string);
  '_partition'?: "partition";
}
