// Original file: proto/streamgate/v1/streamgate.proto


/**
 * List the topics.
 */
export interface ListTopicsRequest {
}

/**
 * List the topics.
 */
export interface ListTopicsRequest__Output {
}
