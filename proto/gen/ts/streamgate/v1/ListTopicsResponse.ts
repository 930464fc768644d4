// Original file: proto/streamgate/v1/streamgate.proto

import type { TopicInfo as _streamgate_v1_TopicInfo, TopicInfo__Output as _streamgate_v1_TopicInfo__Output } from '../../streamgate/v1/TopicInfo.js';

/**
 * All topics.
 */
export interface ListTopicsResponse {
  'topics'?: (_streamgate_v1_TopicInfo)[];
}

/**
 * All topics.
 */
export interface ListTopicsResponse__Output {
  'topics': (_streamgate_v1_TopicInfo__Output)[];
}
