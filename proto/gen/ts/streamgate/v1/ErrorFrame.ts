// Original file: proto/streamgate/v1/streamgate.proto


/**
 * A request failed (id = the publish/subscribe/commit/ack frame's id or subscription id).
 * The session stays open.
 */
export interface ErrorFrame {
  'id'?: (string);
  'code'?: (string);
  'message'?: (string);
  'retriable'?: (boolean);
}

/**
 * A request failed (id = the publish/subscribe/commit/ack frame's id or subscription id).
 * The session stays open.
 */
export interface ErrorFrame__Output {
  'id': (string);
  'code': (string);
  'message': (string);
  'retriable': (boolean);
}
