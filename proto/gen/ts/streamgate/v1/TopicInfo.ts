// Original file: proto/streamgate/v1/streamgate.proto


/**
 * Metadata of one topic.
 */
export interface TopicInfo {
  'name'?: (string);
  'partitions'?: (number);
  'config'?: ({[key: string]: string});
}

/**
 * Metadata of one topic.
 */
export interface TopicInfo__Output {
  'name': (string);
  'partitions': (number);
  'config': ({[key: string]: string});
}
