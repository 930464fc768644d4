// Original file: proto/streamgate/v1/streamgate.proto

import type { Boundary as _streamgate_v1_Boundary, Boundary__Output as _streamgate_v1_Boundary__Output } from '../../streamgate/v1/Boundary.js';
import type { Long } from '@grpc/proto-loader';

/**
 * The log start of every partition.
 */
export interface _streamgate_v1_Position_Earliest {
}

/**
 * The log start of every partition.
 */
export interface _streamgate_v1_Position_Earliest__Output {
}

/**
 * The next record written to each partition.
 */
export interface _streamgate_v1_Position_Latest {
}

/**
 * The next record written to each partition.
 */
export interface _streamgate_v1_Position_Latest__Output {
}

/**
 * The next offset to read per partition (a client that saw offset N resumes with N+1).
 */
export interface _streamgate_v1_Position_Offsets {
  'offsets'?: ({[key: number]: number | string | Long});
  /**
   * Where partitions not listed in `offsets` start.
   */
  'otherwise'?: (_streamgate_v1_Boundary);
}

/**
 * The next offset to read per partition (a client that saw offset N resumes with N+1).
 */
export interface _streamgate_v1_Position_Offsets__Output {
  'offsets': ({[key: number]: string});
  /**
   * Where partitions not listed in `offsets` start.
   */
  'otherwise': (_streamgate_v1_Boundary__Output);
}

/**
 * Where a reader starts. An absent position means `latest`.
 */
export interface Position {
  'earliest'?: (_streamgate_v1_Position_Earliest | null);
  'latest'?: (_streamgate_v1_Position_Latest | null);
  'offsets'?: (_streamgate_v1_Position_Offsets | null);
  /**
   * The first record with a timestamp >= this many ms since the epoch, per partition.
   */
  'timestamp'?: (number | string | Long);
  'kind'?: "earliest"|"latest"|"offsets"|"timestamp";
}

/**
 * Where a reader starts. An absent position means `latest`.
 */
export interface Position__Output {
  'earliest'?: (_streamgate_v1_Position_Earliest__Output | null);
  'latest'?: (_streamgate_v1_Position_Latest__Output | null);
  'offsets'?: (_streamgate_v1_Position_Offsets__Output | null);
  /**
   * The first record with a timestamp >= this many ms since the epoch, per partition.
   */
  'timestamp'?: (string);
  'kind'?: "earliest"|"latest"|"offsets"|"timestamp";
}
