// Original file: proto/streamgate/v1/streamgate.proto

import type { RecordPosition as _streamgate_v1_RecordPosition, RecordPosition__Output as _streamgate_v1_RecordPosition__Output } from '../../streamgate/v1/RecordPosition.js';

/**
 * A publish was acknowledged by the backend: one position per record, in order.
 */
export interface PublishedFrame {
  'id'?: (string);
  'offsets'?: (_streamgate_v1_RecordPosition)[];
}

/**
 * A publish was acknowledged by the backend: one position per record, in order.
 */
export interface PublishedFrame__Output {
  'id': (string);
  'offsets': (_streamgate_v1_RecordPosition__Output)[];
}
