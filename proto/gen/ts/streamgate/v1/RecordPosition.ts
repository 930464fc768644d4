// Original file: proto/streamgate/v1/streamgate.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Where a produced record landed.
 */
export interface RecordPosition {
  'partition'?: (number);
  'offset'?: (number | string | Long);
  'timestamp'?: (number | string | Long);
}

/**
 * Where a produced record landed.
 */
export interface RecordPosition__Output {
  'partition': (number);
  'offset': (string);
  'timestamp': (string);
}
