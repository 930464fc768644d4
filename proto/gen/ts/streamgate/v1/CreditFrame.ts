// Original file: proto/streamgate/v1/streamgate.proto


/**
 * Grant credit: the server may send this many more records. With an empty subscription_id the
 * credit goes to a session-wide pool that any subscription draws on once its own is used up.
 */
export interface CreditFrame {
  'subscription_id'?: (string);
  'records'?: (number);
}

/**
 * Grant credit: the server may send this many more records. With an empty subscription_id the
 * credit goes to a session-wide pool that any subscription draws on once its own is used up.
 */
export interface CreditFrame__Output {
  'subscription_id': (string);
  'records': (number);
}
