// Original file: proto/streamgate/v1/streamgate.proto

import type { SubscribedFrame as _streamgate_v1_SubscribedFrame, SubscribedFrame__Output as _streamgate_v1_SubscribedFrame__Output } from '../../streamgate/v1/SubscribedFrame.js';
import type { RecordsFrame as _streamgate_v1_RecordsFrame, RecordsFrame__Output as _streamgate_v1_RecordsFrame__Output } from '../../streamgate/v1/RecordsFrame.js';
import type { ContinuityLostFrame as _streamgate_v1_ContinuityLostFrame, ContinuityLostFrame__Output as _streamgate_v1_ContinuityLostFrame__Output } from '../../streamgate/v1/ContinuityLostFrame.js';

/**
 * One message of a Subscribe stream.
 */
export interface SubscribeResponse {
  'subscribed'?: (_streamgate_v1_SubscribedFrame | null);
  'records'?: (_streamgate_v1_RecordsFrame | null);
  'continuity_lost'?: (_streamgate_v1_ContinuityLostFrame | null);
  'frame'?: "subscribed"|"records"|"continuity_lost";
}

/**
 * One message of a Subscribe stream.
 */
export interface SubscribeResponse__Output {
  'subscribed'?: (_streamgate_v1_SubscribedFrame__Output | null);
  'records'?: (_streamgate_v1_RecordsFrame__Output | null);
  'continuity_lost'?: (_streamgate_v1_ContinuityLostFrame__Output | null);
  'frame'?: "subscribed"|"records"|"continuity_lost";
}
