// Original file: proto/streamgate/v1/streamgate.proto

import type { Header as _streamgate_v1_Header, Header__Output as _streamgate_v1_Header__Output } from '../../streamgate/v1/Header.js';
import type { Long } from '@grpc/proto-loader';

/**
 * A record a client asks to write.
 */
export interface ProduceRecord {
  /**
   * Absent = null key; with no explicit partition the key decides it (Kafka's murmur2).
   */
  'key'?: (Buffer | Uint8Array | string);
  /**
   * Absent = null value.
   */
  'value'?: (Buffer | Uint8Array | string);
  /**
   * In order; a name may repeat. Stored in this order.
   */
  'headers'?: (_streamgate_v1_Header)[];
  /**
   * Explicit partition for this record (overrides the key-based choice).
   */
  'partition'?: (number);
  /**
   * Create time in ms; the gateway uses "now" when absent.
   */
  'timestamp'?: (number | string | Long);
  '_key'?: "key";
  '_value'?: "value";
  '_partition'?: "partition";
  '_timestamp'?: "timestamp";
}

/**
 * A record a client asks to write.
 */
export interface ProduceRecord__Output {
  /**
   * Absent = null key; with no explicit partition the key decides it (Kafka's murmur2).
   */
  'key'?: (Buffer);
  /**
   * Absent = null value.
   */
  'value'?: (Buffer);
  /**
   * In order; a name may repeat. Stored in this order.
   */
  'headers': (_streamgate_v1_Header__Output)[];
  /**
   * Explicit partition for this record (overrides the key-based choice).
   */
  'partition'?: (number);
  /**
   * Create time in ms; the gateway uses "now" when absent.
   */
  'timestamp'?: (string);
  '_key'?: "key";
  '_value'?: "value";
  '_partition'?: "partition";
  '_timestamp'?: "timestamp";
}
