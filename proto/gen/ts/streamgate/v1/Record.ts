// Original file: proto/streamgate/v1/streamgate.proto

import type { Long } from '@grpc/proto-loader';

/**
 * A record as stored in the log and delivered to readers.
 */
export interface Record {
  'topic'?: (string);
  'partition'?: (number);
  'offset'?: (number | string | Long);
  /**
   * Milliseconds since the epoch.
   */
  'timestamp'?: (number | string | Long);
  /**
   * Absent = null key (not the same as an empty key).
   */
  'key'?: (Buffer | Uint8Array | string);
  /**
   * Absent = null value (a tombstone in compacted topics).
   */
  'value'?: (Buffer | Uint8Array | string);
  'headers'?: ({[key: string]: Buffer | Uint8Array | string});
  '_key'?: "key";
  '_value'?: "value";
}

/**
 * A record as stored in the log and delivered to readers.
 */
export interface Record__Output {
  'topic': (string);
  'partition': (number);
  'offset': (string);
  /**
   * Milliseconds since the epoch.
   */
  'timestamp': (string);
  /**
   * Absent = null key (not the same as an empty key).
   */
  'key'?: (Buffer);
  /**
   * Absent = null value (a tombstone in compacted topics).
   */
  'value'?: (Buffer);
  'headers': ({[key: string]: Buffer});
  '_key'?: "key";
  '_value'?: "value";
}
