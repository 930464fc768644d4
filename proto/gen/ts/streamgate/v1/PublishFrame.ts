// Original file: proto/streamgate/v1/streamgate.proto

import type { ProduceRecord as _streamgate_v1_ProduceRecord, ProduceRecord__Output as _streamgate_v1_ProduceRecord__Output } from '../../streamgate/v1/ProduceRecord.js';

/**
 * Publish a batch; answered by `published` (same id) after the backend acknowledged, or `error`.
 */
export interface PublishFrame {
  'id'?: (string);
  'topic'?: (string);
  'records'?: (_streamgate_v1_ProduceRecord)[];
  'partition'?: (number);
  'idempotency_key'?: (string);
  '_partition'?: "partition";
}

/**
 * Publish a batch; answered by `published` (same id) after the backend acknowledged, or `error`.
 */
export interface PublishFrame__Output {
  'id': (string);
  'topic': (string);
  'records': (_streamgate_v1_ProduceRecord__Output)[];
  'partition'?: (number);
  'idempotency_key': (string);
  '_partition'?: "partition";
}
