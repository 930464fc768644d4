// Original file: proto/streamgate/v1/streamgate.proto

import type { Position as _streamgate_v1_Position, Position__Output as _streamgate_v1_Position__Output } from '../../streamgate/v1/Position.js';
import type { KeyFilter as _streamgate_v1_KeyFilter, KeyFilter__Output as _streamgate_v1_KeyFilter__Output } from '../../streamgate/v1/KeyFilter.js';

/**
 * Subscribe to a topic (broadcast) or join a consumer group (`group` set).
 */
export interface SubscribeRequest {
  'topic'?: (string);
  /**
   * Broadcast: where to start. Group: partitions without a committed offset start at
   * `earliest` if this is `earliest`, else at `latest`.
   */
  'position'?: (_streamgate_v1_Position | null);
  /**
   * Broadcast only: only these partitions (default all).
   */
  'partitions'?: (number)[];
  'filters'?: (_streamgate_v1_KeyFilter)[];
  /**
   * Consumer group id: the topic's partitions are split among the group's members and the
   * offsets of records the server has written to this stream are committed.
   */
  'group'?: (string);
  /**
   * Group only: a stable member id (re-joins replace the previous member with that id).
   */
  'member_id'?: (string);
  /**
   * Broadcast only: a start offset that no longer exists is OUT_OF_RANGE instead of a
   * clamp + continuity_lost notice.
   */
  'strict'?: (boolean);
}

/**
 * Subscribe to a topic (broadcast) or join a consumer group (`group` set).
 */
export interface SubscribeRequest__Output {
  'topic': (string);
  /**
   * Broadcast: where to start. Group: partitions without a committed offset start at
   * `earliest` if this is `earliest`, else at `latest`.
   */
  'position': (_streamgate_v1_Position__Output | null);
  /**
   * Broadcast only: only these partitions (default all).
   */
  'partitions': (number)[];
  'filters': (_streamgate_v1_KeyFilter__Output)[];
  /**
   * Consumer group id: the topic's partitions are split among the group's members and the
   * offsets of records the server has written to this stream are committed.
   */
  'group': (string);
  /**
   * Group only: a stable member id (re-joins replace the previous member with that id).
   */
  'member_id': (string);
  /**
   * Broadcast only: a start offset that no longer exists is OUT_OF_RANGE instead of a
   * clamp + continuity_lost notice.
   */
  'strict': (boolean);
}
