// Original file: proto/streamgate/v1/streamgate.proto


/**
 * A group commit was stored.
 */
export interface CommittedFrame {
  'id'?: (string);
  'subscription_id'?: (string);
}

/**
 * A group commit was stored.
 */
export interface CommittedFrame__Output {
  'id': (string);
  'subscription_id': (string);
}
