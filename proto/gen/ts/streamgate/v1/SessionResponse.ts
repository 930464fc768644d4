// Original file: proto/streamgate/v1/streamgate.proto

import type { RecordsFrame as _streamgate_v1_RecordsFrame, RecordsFrame__Output as _streamgate_v1_RecordsFrame__Output } from '../../streamgate/v1/RecordsFrame.js';
import type { PublishedFrame as _streamgate_v1_PublishedFrame, PublishedFrame__Output as _streamgate_v1_PublishedFrame__Output } from '../../streamgate/v1/PublishedFrame.js';
import type { SubscribedFrame as _streamgate_v1_SubscribedFrame, SubscribedFrame__Output as _streamgate_v1_SubscribedFrame__Output } from '../../streamgate/v1/SubscribedFrame.js';
import type { ContinuityLostFrame as _streamgate_v1_ContinuityLostFrame, ContinuityLostFrame__Output as _streamgate_v1_ContinuityLostFrame__Output } from '../../streamgate/v1/ContinuityLostFrame.js';
import type { ErrorFrame as _streamgate_v1_ErrorFrame, ErrorFrame__Output as _streamgate_v1_ErrorFrame__Output } from '../../streamgate/v1/ErrorFrame.js';
import type { EndFrame as _streamgate_v1_EndFrame, EndFrame__Output as _streamgate_v1_EndFrame__Output } from '../../streamgate/v1/EndFrame.js';
import type { PongFrame as _streamgate_v1_PongFrame, PongFrame__Output as _streamgate_v1_PongFrame__Output } from '../../streamgate/v1/PongFrame.js';
import type { CommittedFrame as _streamgate_v1_CommittedFrame, CommittedFrame__Output as _streamgate_v1_CommittedFrame__Output } from '../../streamgate/v1/CommittedFrame.js';

/**
 * A server → client frame.
 */
export interface SessionResponse {
  'records'?: (_streamgate_v1_RecordsFrame | null);
  'published'?: (_streamgate_v1_PublishedFrame | null);
  'subscribed'?: (_streamgate_v1_SubscribedFrame | null);
  'continuity_lost'?: (_streamgate_v1_ContinuityLostFrame | null);
  'error'?: (_streamgate_v1_ErrorFrame | null);
  'end'?: (_streamgate_v1_EndFrame | null);
  'pong'?: (_streamgate_v1_PongFrame | null);
  'committed'?: (_streamgate_v1_CommittedFrame | null);
  'frame'?: "records"|"published"|"subscribed"|"continuity_lost"|"error"|"end"|"pong"|"committed";
}

/**
 * A server → client frame.
 */
export interface SessionResponse__Output {
  'records'?: (_streamgate_v1_RecordsFrame__Output | null);
  'published'?: (_streamgate_v1_PublishedFrame__Output | null);
  'subscribed'?: (_streamgate_v1_SubscribedFrame__Output | null);
  'continuity_lost'?: (_streamgate_v1_ContinuityLostFrame__Output | null);
  'error'?: (_streamgate_v1_ErrorFrame__Output | null);
  'end'?: (_streamgate_v1_EndFrame__Output | null);
  'pong'?: (_streamgate_v1_PongFrame__Output | null);
  'committed'?: (_streamgate_v1_CommittedFrame__Output | null);
  'frame'?: "records"|"published"|"subscribed"|"continuity_lost"|"error"|"end"|"pong"|"committed";
}
