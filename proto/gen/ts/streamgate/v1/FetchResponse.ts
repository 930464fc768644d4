// Original file: proto/streamgate/v1/streamgate.proto

import type { Record as _streamgate_v1_Record, Record__Output as _streamgate_v1_Record__Output } from '../../streamgate/v1/Record.js';
import type { Long } from '@grpc/proto-loader';

/**
 * Records read from one partition.
 */
export interface FetchResponse {
  'records'?: (_streamgate_v1_Record)[];
  /**
   * The offset to request next to continue after these records.
   */
  'next_offset'?: (number | string | Long);
  /**
   * The partition's log end (next offset to be written) when the fetch was answered.
   */
  'latest'?: (number | string | Long);
  /**
   * The partition's log start when the fetch was answered.
   */
  'earliest'?: (number | string | Long);
}

/**
 * Records read from one partition.
 */
export interface FetchResponse__Output {
  'records': (_streamgate_v1_Record__Output)[];
  /**
   * The offset to request next to continue after these records.
   */
  'next_offset': (string);
  /**
   * The partition's log end (next offset to be written) when the fetch was answered.
   */
  'latest': (string);
  /**
   * The partition's log start when the fetch was answered.
   */
  'earliest': (string);
}
