// Original file: proto/streamgate/v1/streamgate.proto

import type { Position as _streamgate_v1_Position, Position__Output as _streamgate_v1_Position__Output } from '../../streamgate/v1/Position.js';
import type { KeyFilter as _streamgate_v1_KeyFilter, KeyFilter__Output as _streamgate_v1_KeyFilter__Output } from '../../streamgate/v1/KeyFilter.js';

/**
 * Open a subscription named `id` (unique within the session); answered by `subscribed` or
 * `error`. No records flow until the client grants credit (here or with `credit` frames).
 */
export interface SubscribeFrame {
  'id'?: (string);
  'topic'?: (string);
  'position'?: (_streamgate_v1_Position | null);
  'partitions'?: (number)[];
  'filters'?: (_streamgate_v1_KeyFilter)[];
  /**
   * Consumer group id: join the group (partitions are split among members; `ack` and
   * `commit` apply). Empty = broadcast.
   */
  'group'?: (string);
  /**
   * Group only: a stable member id.
   */
  'member_id'?: (string);
  /**
   * Initial credit in records for this subscription.
   */
  'credit'?: (number);
  'strict'?: (boolean);
}

/**
 * Open a subscription named `id` (unique within the session); answered by `subscribed` or
 * `error`. No records flow until the client grants credit (here or with `credit` frames).
 */
export interface SubscribeFrame__Output {
  'id': (string);
  'topic': (string);
  'position': (_streamgate_v1_Position__Output | null);
  'partitions': (number)[];
  'filters': (_streamgate_v1_KeyFilter__Output)[];
  /**
   * Consumer group id: join the group (partitions are split among members; `ack` and
   * `commit` apply). Empty = broadcast.
   */
  'group': (string);
  /**
   * Group only: a stable member id.
   */
  'member_id': (string);
  /**
   * Initial credit in records for this subscription.
   */
  'credit': (number);
  'strict': (boolean);
}
