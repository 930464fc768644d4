// Original file: proto/streamgate/v1/streamgate.proto

import type { Record as _streamgate_v1_Record, Record__Output as _streamgate_v1_Record__Output } from '../../streamgate/v1/Record.js';

/**
 * Records of one subscription.
 */
export interface RecordsFrame {
  'subscription_id'?: (string);
  'records'?: (_streamgate_v1_Record)[];
}

/**
 * Records of one subscription.
 */
export interface RecordsFrame__Output {
  'subscription_id': (string);
  'records': (_streamgate_v1_Record__Output)[];
}
