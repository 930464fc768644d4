// Original file: proto/streamgate/v1/streamgate.proto

import type { Long } from '@grpc/proto-loader';

/**
 * Read one partition from an offset.
 */
export interface FetchRequest {
  'topic'?: (string);
  'partition'?: (number);
  'offset'?: (number | string | Long);
  /**
   * 0 = the gateway's default.
   */
  'max_records'?: (number);
  /**
   * Long-poll: wait up to this many ms for records when none are available (0 = answer now).
   */
  'wait_ms'?: (number);
  /**
   * 0 = the gateway's default.
   */
  'max_bytes'?: (number);
}

/**
 * Read one partition from an offset.
 */
export interface FetchRequest__Output {
  'topic': (string);
  'partition': (number);
  'offset': (string);
  /**
   * 0 = the gateway's default.
   */
  'max_records': (number);
  /**
   * Long-poll: wait up to this many ms for records when none are available (0 = answer now).
   */
  'wait_ms': (number);
  /**
   * 0 = the gateway's default.
   */
  'max_bytes': (number);
}
