// Original file: proto/streamgate/v1/streamgate.proto


/**
 * Ask for a topic's offsets.
 */
export interface GetOffsetsRequest {
  'topic'?: (string);
}

/**
 * Ask for a topic's offsets.
 */
export interface GetOffsetsRequest__Output {
  'topic': (string);
}
