// Original file: proto/streamgate/v1/streamgate.proto


/**
 * Close the subscription `id`; answered by `end` with an empty code.
 */
export interface UnsubscribeFrame {
  'id'?: (string);
}

/**
 * Close the subscription `id`; answered by `end` with an empty code.
 */
export interface UnsubscribeFrame__Output {
  'id': (string);
}
