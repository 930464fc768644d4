// Original file: proto/streamgate/v1/streamgate.proto


/**
 * A subscription ended: code empty after `unsubscribe`, else why the gateway ended it.
 */
export interface EndFrame {
  'subscription_id'?: (string);
  'code'?: (string);
  'message'?: (string);
  'retriable'?: (boolean);
}

/**
 * A subscription ended: code empty after `unsubscribe`, else why the gateway ended it.
 */
export interface EndFrame__Output {
  'subscription_id': (string);
  'code': (string);
  'message': (string);
  'retriable': (boolean);
}
