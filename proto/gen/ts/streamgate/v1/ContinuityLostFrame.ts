// Original file: proto/streamgate/v1/streamgate.proto

import type { Long } from '@grpc/proto-loader';

/**
 * The requested start offset did not exist; the subscription starts at `actual` instead.
 */
export interface ContinuityLostFrame {
  'subscription_id'?: (string);
  'partition'?: (number);
  'requested'?: (number | string | Long);
  'actual'?: (number | string | Long);
  /**
   * "below_log_start" or "beyond_log_end".
   */
  'reason'?: (string);
}

/**
 * The requested start offset did not exist; the subscription starts at `actual` instead.
 */
export interface ContinuityLostFrame__Output {
  'subscription_id': (string);
  'partition': (number);
  'requested': (string);
  'actual': (string);
  /**
   * "below_log_start" or "beyond_log_end".
   */
  'reason': (string);
}
