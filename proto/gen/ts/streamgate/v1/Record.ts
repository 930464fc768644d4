// Original file: proto/streamgate/v1/streamgate.proto

import type { Header as _streamgate_v1_Header, Header__Output as _streamgate_v1_Header__Output } from '../../streamgate/v1/Header.js';
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
  /**
   * In the record's order; a name may repeat (Kafka headers, MQTT 5 user properties).
   */
  'headers'?: (_streamgate_v1_Header)[];
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
  /**
   * In the record's order; a name may repeat (Kafka headers, MQTT 5 user properties).
   */
  'headers': (_streamgate_v1_Header__Output)[];
  '_key'?: "key";
  '_value'?: "value";
}
