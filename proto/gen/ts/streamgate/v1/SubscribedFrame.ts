// Original file: proto/streamgate/v1/streamgate.proto

import type { Long } from '@grpc/proto-loader';

/**
 * A subscription started: the next offset it will deliver per partition (for a group, per
 * partition assigned to this member at join time).
 */
export interface SubscribedFrame {
  'id'?: (string);
  'positions'?: ({[key: number]: number | string | Long});
  /**
   * Group subscriptions: this member's id (pass it back as member_id to re-join).
   */
  'member_id'?: (string);
}

/**
 * A subscription started: the next offset it will deliver per partition (for a group, per
 * partition assigned to this member at join time).
 */
export interface SubscribedFrame__Output {
  'id': (string);
  'positions': ({[key: number]: string});
  /**
   * Group subscriptions: this member's id (pass it back as member_id to re-join).
   */
  'member_id': (string);
}
