import type * as grpc from '@grpc/grpc-js';
import type { EnumTypeDefinition, MessageTypeDefinition } from '@grpc/proto-loader';

import type { AckFrame as _streamgate_v1_AckFrame, AckFrame__Output as _streamgate_v1_AckFrame__Output } from './streamgate/v1/AckFrame.js';
import type { CommitFrame as _streamgate_v1_CommitFrame, CommitFrame__Output as _streamgate_v1_CommitFrame__Output } from './streamgate/v1/CommitFrame.js';
import type { CommittedFrame as _streamgate_v1_CommittedFrame, CommittedFrame__Output as _streamgate_v1_CommittedFrame__Output } from './streamgate/v1/CommittedFrame.js';
import type { ContinuityLostFrame as _streamgate_v1_ContinuityLostFrame, ContinuityLostFrame__Output as _streamgate_v1_ContinuityLostFrame__Output } from './streamgate/v1/ContinuityLostFrame.js';
import type { CreditFrame as _streamgate_v1_CreditFrame, CreditFrame__Output as _streamgate_v1_CreditFrame__Output } from './streamgate/v1/CreditFrame.js';
import type { EndFrame as _streamgate_v1_EndFrame, EndFrame__Output as _streamgate_v1_EndFrame__Output } from './streamgate/v1/EndFrame.js';
import type { ErrorFrame as _streamgate_v1_ErrorFrame, ErrorFrame__Output as _streamgate_v1_ErrorFrame__Output } from './streamgate/v1/ErrorFrame.js';
import type { FetchRequest as _streamgate_v1_FetchRequest, FetchRequest__Output as _streamgate_v1_FetchRequest__Output } from './streamgate/v1/FetchRequest.js';
import type { FetchResponse as _streamgate_v1_FetchResponse, FetchResponse__Output as _streamgate_v1_FetchResponse__Output } from './streamgate/v1/FetchResponse.js';
import type { GetOffsetsRequest as _streamgate_v1_GetOffsetsRequest, GetOffsetsRequest__Output as _streamgate_v1_GetOffsetsRequest__Output } from './streamgate/v1/GetOffsetsRequest.js';
import type { GetOffsetsResponse as _streamgate_v1_GetOffsetsResponse, GetOffsetsResponse__Output as _streamgate_v1_GetOffsetsResponse__Output } from './streamgate/v1/GetOffsetsResponse.js';
import type { Header as _streamgate_v1_Header, Header__Output as _streamgate_v1_Header__Output } from './streamgate/v1/Header.js';
import type { KeyFilter as _streamgate_v1_KeyFilter, KeyFilter__Output as _streamgate_v1_KeyFilter__Output } from './streamgate/v1/KeyFilter.js';
import type { ListTopicsRequest as _streamgate_v1_ListTopicsRequest, ListTopicsRequest__Output as _streamgate_v1_ListTopicsRequest__Output } from './streamgate/v1/ListTopicsRequest.js';
import type { ListTopicsResponse as _streamgate_v1_ListTopicsResponse, ListTopicsResponse__Output as _streamgate_v1_ListTopicsResponse__Output } from './streamgate/v1/ListTopicsResponse.js';
import type { PartitionOffset as _streamgate_v1_PartitionOffset, PartitionOffset__Output as _streamgate_v1_PartitionOffset__Output } from './streamgate/v1/PartitionOffset.js';
import type { PartitionOffsets as _streamgate_v1_PartitionOffsets, PartitionOffsets__Output as _streamgate_v1_PartitionOffsets__Output } from './streamgate/v1/PartitionOffsets.js';
import type { PingFrame as _streamgate_v1_PingFrame, PingFrame__Output as _streamgate_v1_PingFrame__Output } from './streamgate/v1/PingFrame.js';
import type { PongFrame as _streamgate_v1_PongFrame, PongFrame__Output as _streamgate_v1_PongFrame__Output } from './streamgate/v1/PongFrame.js';
import type { Position as _streamgate_v1_Position, Position__Output as _streamgate_v1_Position__Output } from './streamgate/v1/Position.js';
import type { ProduceRecord as _streamgate_v1_ProduceRecord, ProduceRecord__Output as _streamgate_v1_ProduceRecord__Output } from './streamgate/v1/ProduceRecord.js';
import type { ProduceRequest as _streamgate_v1_ProduceRequest, ProduceRequest__Output as _streamgate_v1_ProduceRequest__Output } from './streamgate/v1/ProduceRequest.js';
import type { ProduceResponse as _streamgate_v1_ProduceResponse, ProduceResponse__Output as _streamgate_v1_ProduceResponse__Output } from './streamgate/v1/ProduceResponse.js';
import type { PublishFrame as _streamgate_v1_PublishFrame, PublishFrame__Output as _streamgate_v1_PublishFrame__Output } from './streamgate/v1/PublishFrame.js';
import type { PublishedFrame as _streamgate_v1_PublishedFrame, PublishedFrame__Output as _streamgate_v1_PublishedFrame__Output } from './streamgate/v1/PublishedFrame.js';
import type { Record as _streamgate_v1_Record, Record__Output as _streamgate_v1_Record__Output } from './streamgate/v1/Record.js';
import type { RecordPosition as _streamgate_v1_RecordPosition, RecordPosition__Output as _streamgate_v1_RecordPosition__Output } from './streamgate/v1/RecordPosition.js';
import type { RecordsFrame as _streamgate_v1_RecordsFrame, RecordsFrame__Output as _streamgate_v1_RecordsFrame__Output } from './streamgate/v1/RecordsFrame.js';
import type { SessionRequest as _streamgate_v1_SessionRequest, SessionRequest__Output as _streamgate_v1_SessionRequest__Output } from './streamgate/v1/SessionRequest.js';
import type { SessionResponse as _streamgate_v1_SessionResponse, SessionResponse__Output as _streamgate_v1_SessionResponse__Output } from './streamgate/v1/SessionResponse.js';
import type { StreamGatewayClient as _streamgate_v1_StreamGatewayClient, StreamGatewayDefinition as _streamgate_v1_StreamGatewayDefinition } from './streamgate/v1/StreamGateway.js';
import type { SubscribeFrame as _streamgate_v1_SubscribeFrame, SubscribeFrame__Output as _streamgate_v1_SubscribeFrame__Output } from './streamgate/v1/SubscribeFrame.js';
import type { SubscribeRequest as _streamgate_v1_SubscribeRequest, SubscribeRequest__Output as _streamgate_v1_SubscribeRequest__Output } from './streamgate/v1/SubscribeRequest.js';
import type { SubscribeResponse as _streamgate_v1_SubscribeResponse, SubscribeResponse__Output as _streamgate_v1_SubscribeResponse__Output } from './streamgate/v1/SubscribeResponse.js';
import type { SubscribedFrame as _streamgate_v1_SubscribedFrame, SubscribedFrame__Output as _streamgate_v1_SubscribedFrame__Output } from './streamgate/v1/SubscribedFrame.js';
import type { TopicInfo as _streamgate_v1_TopicInfo, TopicInfo__Output as _streamgate_v1_TopicInfo__Output } from './streamgate/v1/TopicInfo.js';
import type { UnsubscribeFrame as _streamgate_v1_UnsubscribeFrame, UnsubscribeFrame__Output as _streamgate_v1_UnsubscribeFrame__Output } from './streamgate/v1/UnsubscribeFrame.js';

type SubtypeConstructor<Constructor extends new (...args: any) => any, Subtype> = {
  new(...args: ConstructorParameters<Constructor>): Subtype;
};

export interface ProtoGrpcType {
  streamgate: {
    v1: {
      AckFrame: MessageTypeDefinition<_streamgate_v1_AckFrame, _streamgate_v1_AckFrame__Output>
      Boundary: EnumTypeDefinition
      CommitFrame: MessageTypeDefinition<_streamgate_v1_CommitFrame, _streamgate_v1_CommitFrame__Output>
      CommittedFrame: MessageTypeDefinition<_streamgate_v1_CommittedFrame, _streamgate_v1_CommittedFrame__Output>
      ContinuityLostFrame: MessageTypeDefinition<_streamgate_v1_ContinuityLostFrame, _streamgate_v1_ContinuityLostFrame__Output>
      CreditFrame: MessageTypeDefinition<_streamgate_v1_CreditFrame, _streamgate_v1_CreditFrame__Output>
      EndFrame: MessageTypeDefinition<_streamgate_v1_EndFrame, _streamgate_v1_EndFrame__Output>
      ErrorFrame: MessageTypeDefinition<_streamgate_v1_ErrorFrame, _streamgate_v1_ErrorFrame__Output>
      FetchRequest: MessageTypeDefinition<_streamgate_v1_FetchRequest, _streamgate_v1_FetchRequest__Output>
      FetchResponse: MessageTypeDefinition<_streamgate_v1_FetchResponse, _streamgate_v1_FetchResponse__Output>
      GetOffsetsRequest: MessageTypeDefinition<_streamgate_v1_GetOffsetsRequest, _streamgate_v1_GetOffsetsRequest__Output>
      GetOffsetsResponse: MessageTypeDefinition<_streamgate_v1_GetOffsetsResponse, _streamgate_v1_GetOffsetsResponse__Output>
      Header: MessageTypeDefinition<_streamgate_v1_Header, _streamgate_v1_Header__Output>
      KeyFilter: MessageTypeDefinition<_streamgate_v1_KeyFilter, _streamgate_v1_KeyFilter__Output>
      ListTopicsRequest: MessageTypeDefinition<_streamgate_v1_ListTopicsRequest, _streamgate_v1_ListTopicsRequest__Output>
      ListTopicsResponse: MessageTypeDefinition<_streamgate_v1_ListTopicsResponse, _streamgate_v1_ListTopicsResponse__Output>
      PartitionOffset: MessageTypeDefinition<_streamgate_v1_PartitionOffset, _streamgate_v1_PartitionOffset__Output>
      PartitionOffsets: MessageTypeDefinition<_streamgate_v1_PartitionOffsets, _streamgate_v1_PartitionOffsets__Output>
      PingFrame: MessageTypeDefinition<_streamgate_v1_PingFrame, _streamgate_v1_PingFrame__Output>
      PongFrame: MessageTypeDefinition<_streamgate_v1_PongFrame, _streamgate_v1_PongFrame__Output>
      Position: MessageTypeDefinition<_streamgate_v1_Position, _streamgate_v1_Position__Output>
      ProduceRecord: MessageTypeDefinition<_streamgate_v1_ProduceRecord, _streamgate_v1_ProduceRecord__Output>
      ProduceRequest: MessageTypeDefinition<_streamgate_v1_ProduceRequest, _streamgate_v1_ProduceRequest__Output>
      ProduceResponse: MessageTypeDefinition<_streamgate_v1_ProduceResponse, _streamgate_v1_ProduceResponse__Output>
      PublishFrame: MessageTypeDefinition<_streamgate_v1_PublishFrame, _streamgate_v1_PublishFrame__Output>
      PublishedFrame: MessageTypeDefinition<_streamgate_v1_PublishedFrame, _streamgate_v1_PublishedFrame__Output>
      Record: MessageTypeDefinition<_streamgate_v1_Record, _streamgate_v1_Record__Output>
      RecordPosition: MessageTypeDefinition<_streamgate_v1_RecordPosition, _streamgate_v1_RecordPosition__Output>
      RecordsFrame: MessageTypeDefinition<_streamgate_v1_RecordsFrame, _streamgate_v1_RecordsFrame__Output>
      SessionRequest: MessageTypeDefinition<_streamgate_v1_SessionRequest, _streamgate_v1_SessionRequest__Output>
      SessionResponse: MessageTypeDefinition<_streamgate_v1_SessionResponse, _streamgate_v1_SessionResponse__Output>
      /**
       * Produce, read and subscribe to topics of the gateway's topic/offset core.
       */
      StreamGateway: SubtypeConstructor<typeof grpc.Client, _streamgate_v1_StreamGatewayClient> & { service: _streamgate_v1_StreamGatewayDefinition }
      SubscribeFrame: MessageTypeDefinition<_streamgate_v1_SubscribeFrame, _streamgate_v1_SubscribeFrame__Output>
      SubscribeRequest: MessageTypeDefinition<_streamgate_v1_SubscribeRequest, _streamgate_v1_SubscribeRequest__Output>
      SubscribeResponse: MessageTypeDefinition<_streamgate_v1_SubscribeResponse, _streamgate_v1_SubscribeResponse__Output>
      SubscribedFrame: MessageTypeDefinition<_streamgate_v1_SubscribedFrame, _streamgate_v1_SubscribedFrame__Output>
      TopicInfo: MessageTypeDefinition<_streamgate_v1_TopicInfo, _streamgate_v1_TopicInfo__Output>
      UnsubscribeFrame: MessageTypeDefinition<_streamgate_v1_UnsubscribeFrame, _streamgate_v1_UnsubscribeFrame__Output>
    }
  }
}

