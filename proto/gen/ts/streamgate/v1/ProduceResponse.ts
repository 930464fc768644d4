// Original file: proto/streamgate/v1/streamgate.proto

import type { RecordPosition as _streamgate_v1_RecordPosition, RecordPosition__Output as _streamgate_v1_RecordPosition__Output } from '../../streamgate/v1/RecordPosition.js';

/**
 * One position per produced record, in request order.
 */
export interface ProduceResponse {
  'offsets'?: (_streamgate_v1_RecordPosition)[];
}

/**
 * One position per produced record, in request order.
 */
export interface ProduceResponse__Output {
  'offsets': (_streamgate_v1_RecordPosition__Output)[];
}
