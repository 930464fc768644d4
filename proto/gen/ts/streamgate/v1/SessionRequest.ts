// Original file: proto/streamgate/v1/streamgate.proto

import type { PublishFrame as _streamgate_v1_PublishFrame, PublishFrame__Output as _streamgate_v1_PublishFrame__Output } from '../../streamgate/v1/PublishFrame.js';
import type { SubscribeFrame as _streamgate_v1_SubscribeFrame, SubscribeFrame__Output as _streamgate_v1_SubscribeFrame__Output } from '../../streamgate/v1/SubscribeFrame.js';
import type { UnsubscribeFrame as _streamgate_v1_UnsubscribeFrame, UnsubscribeFrame__Output as _streamgate_v1_UnsubscribeFrame__Output } from '../../streamgate/v1/UnsubscribeFrame.js';
import type { AckFrame as _streamgate_v1_AckFrame, AckFrame__Output as _streamgate_v1_AckFrame__Output } from '../../streamgate/v1/AckFrame.js';
import type { CommitFrame as _streamgate_v1_CommitFrame, CommitFrame__Output as _streamgate_v1_CommitFrame__Output } from '../../streamgate/v1/CommitFrame.js';
import type { CreditFrame as _streamgate_v1_CreditFrame, CreditFrame__Output as _streamgate_v1_CreditFrame__Output } from '../../streamgate/v1/CreditFrame.js';
import type { PingFrame as _streamgate_v1_PingFrame, PingFrame__Output as _streamgate_v1_PingFrame__Output } from '../../streamgate/v1/PingFrame.js';

/**
 * A client → server frame.
 */
export interface SessionRequest {
  'publish'?: (_streamgate_v1_PublishFrame | null);
  'subscribe'?: (_streamgate_v1_SubscribeFrame | null);
  'unsubscribe'?: (_streamgate_v1_UnsubscribeFrame | null);
  'ack'?: (_streamgate_v1_AckFrame | null);
  'commit'?: (_streamgate_v1_CommitFrame | null);
  'credit'?: (_streamgate_v1_CreditFrame | null);
  'ping'?: (_streamgate_v1_PingFrame | null);
  'frame'?: "publish"|"subscribe"|"unsubscribe"|"ack"|"commit"|"credit"|"ping";
}

/**
 * A client → server frame.
 */
export interface SessionRequest__Output {
  'publish'?: (_streamgate_v1_PublishFrame__Output | null);
  'subscribe'?: (_streamgate_v1_SubscribeFrame__Output | null);
  'unsubscribe'?: (_streamgate_v1_UnsubscribeFrame__Output | null);
  'ack'?: (_streamgate_v1_AckFrame__Output | null);
  'commit'?: (_streamgate_v1_CommitFrame__Output | null);
  'credit'?: (_streamgate_v1_CreditFrame__Output | null);
  'ping'?: (_streamgate_v1_PingFrame__Output | null);
  'frame'?: "publish"|"subscribe"|"unsubscribe"|"ack"|"commit"|"credit"|"ping";
}
