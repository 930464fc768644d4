// Original file: proto/streamgate/v1/streamgate.proto

import type * as grpc from '@grpc/grpc-js'
import type { MethodDefinition } from '@grpc/proto-loader'
import type { FetchRequest as _streamgate_v1_FetchRequest, FetchRequest__Output as _streamgate_v1_FetchRequest__Output } from '../../streamgate/v1/FetchRequest.js';
import type { FetchResponse as _streamgate_v1_FetchResponse, FetchResponse__Output as _streamgate_v1_FetchResponse__Output } from '../../streamgate/v1/FetchResponse.js';
import type { GetOffsetsRequest as _streamgate_v1_GetOffsetsRequest, GetOffsetsRequest__Output as _streamgate_v1_GetOffsetsRequest__Output } from '../../streamgate/v1/GetOffsetsRequest.js';
import type { GetOffsetsResponse as _streamgate_v1_GetOffsetsResponse, GetOffsetsResponse__Output as _streamgate_v1_GetOffsetsResponse__Output } from '../../streamgate/v1/GetOffsetsResponse.js';
import type { ListTopicsRequest as _streamgate_v1_ListTopicsRequest, ListTopicsRequest__Output as _streamgate_v1_ListTopicsRequest__Output } from '../../streamgate/v1/ListTopicsRequest.js';
import type { ListTopicsResponse as _streamgate_v1_ListTopicsResponse, ListTopicsResponse__Output as _streamgate_v1_ListTopicsResponse__Output } from '../../streamgate/v1/ListTopicsResponse.js';
import type { ProduceRequest as _streamgate_v1_ProduceRequest, ProduceRequest__Output as _streamgate_v1_ProduceRequest__Output } from '../../streamgate/v1/ProduceRequest.js';
import type { ProduceResponse as _streamgate_v1_ProduceResponse, ProduceResponse__Output as _streamgate_v1_ProduceResponse__Output } from '../../streamgate/v1/ProduceResponse.js';
import type { SessionRequest as _streamgate_v1_SessionRequest, SessionRequest__Output as _streamgate_v1_SessionRequest__Output } from '../../streamgate/v1/SessionRequest.js';
import type { SessionResponse as _streamgate_v1_SessionResponse, SessionResponse__Output as _streamgate_v1_SessionResponse__Output } from '../../streamgate/v1/SessionResponse.js';
import type { SubscribeRequest as _streamgate_v1_SubscribeRequest, SubscribeRequest__Output as _streamgate_v1_SubscribeRequest__Output } from '../../streamgate/v1/SubscribeRequest.js';
import type { SubscribeResponse as _streamgate_v1_SubscribeResponse, SubscribeResponse__Output as _streamgate_v1_SubscribeResponse__Output } from '../../streamgate/v1/SubscribeResponse.js';

/**
 * Produce, read and subscribe to topics of the gateway's topic/offset core.
 */
export interface StreamGatewayClient extends grpc.Client {
  /**
   * Stateless read of one partition from an offset (optionally long-polling `wait_ms`).
   */
  Fetch(argument: _streamgate_v1_FetchRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_streamgate_v1_FetchResponse__Output>): grpc.ClientUnaryCall;
  Fetch(argument: _streamgate_v1_FetchRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_streamgate_v1_FetchResponse__Output>): grpc.ClientUnaryCall;
  Fetch(argument: _streamgate_v1_FetchRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_streamgate_v1_FetchResponse__Output>): grpc.ClientUnaryCall;
  Fetch(argument: _streamgate_v1_FetchRequest, callback: grpc.requestCallback<_streamgate_v1_FetchResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Stateless read of one partition from an offset (optionally long-polling `wait_ms`).
   */
  fetch(argument: _streamgate_v1_FetchRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_streamgate_v1_FetchResponse__Output>): grpc.ClientUnaryCall;
  fetch(argument: _streamgate_v1_FetchRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_streamgate_v1_FetchResponse__Output>): grpc.ClientUnaryCall;
  fetch(argument: _streamgate_v1_FetchRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_streamgate_v1_FetchResponse__Output>): grpc.ClientUnaryCall;
  fetch(argument: _streamgate_v1_FetchRequest, callback: grpc.requestCallback<_streamgate_v1_FetchResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Earliest and latest (next to be written) offsets per partition of a topic.
   */
  GetOffsets(argument: _streamgate_v1_GetOffsetsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_streamgate_v1_GetOffsetsResponse__Output>): grpc.ClientUnaryCall;
  GetOffsets(argument: _streamgate_v1_GetOffsetsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_streamgate_v1_GetOffsetsResponse__Output>): grpc.ClientUnaryCall;
  GetOffsets(argument: _streamgate_v1_GetOffsetsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_streamgate_v1_GetOffsetsResponse__Output>): grpc.ClientUnaryCall;
  GetOffsets(argument: _streamgate_v1_GetOffsetsRequest, callback: grpc.requestCallback<_streamgate_v1_GetOffsetsResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Earliest and latest (next to be written) offsets per partition of a topic.
   */
  getOffsets(argument: _streamgate_v1_GetOffsetsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_streamgate_v1_GetOffsetsResponse__Output>): grpc.ClientUnaryCall;
  getOffsets(argument: _streamgate_v1_GetOffsetsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_streamgate_v1_GetOffsetsResponse__Output>): grpc.ClientUnaryCall;
  getOffsets(argument: _streamgate_v1_GetOffsetsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_streamgate_v1_GetOffsetsResponse__Output>): grpc.ClientUnaryCall;
  getOffsets(argument: _streamgate_v1_GetOffsetsRequest, callback: grpc.requestCallback<_streamgate_v1_GetOffsetsResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Topics and their partition counts.
   */
  ListTopics(argument: _streamgate_v1_ListTopicsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_streamgate_v1_ListTopicsResponse__Output>): grpc.ClientUnaryCall;
  ListTopics(argument: _streamgate_v1_ListTopicsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_streamgate_v1_ListTopicsResponse__Output>): grpc.ClientUnaryCall;
  ListTopics(argument: _streamgate_v1_ListTopicsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_streamgate_v1_ListTopicsResponse__Output>): grpc.ClientUnaryCall;
  ListTopics(argument: _streamgate_v1_ListTopicsRequest, callback: grpc.requestCallback<_streamgate_v1_ListTopicsResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Topics and their partition counts.
   */
  listTopics(argument: _streamgate_v1_ListTopicsRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_streamgate_v1_ListTopicsResponse__Output>): grpc.ClientUnaryCall;
  listTopics(argument: _streamgate_v1_ListTopicsRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_streamgate_v1_ListTopicsResponse__Output>): grpc.ClientUnaryCall;
  listTopics(argument: _streamgate_v1_ListTopicsRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_streamgate_v1_ListTopicsResponse__Output>): grpc.ClientUnaryCall;
  listTopics(argument: _streamgate_v1_ListTopicsRequest, callback: grpc.requestCallback<_streamgate_v1_ListTopicsResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * Writes a batch of records. Answers after the backend acknowledged every record; the
   * idempotency key comes from the request field or the `idempotency-key` metadata entry.
   */
  Produce(argument: _streamgate_v1_ProduceRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_streamgate_v1_ProduceResponse__Output>): grpc.ClientUnaryCall;
  Produce(argument: _streamgate_v1_ProduceRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_streamgate_v1_ProduceResponse__Output>): grpc.ClientUnaryCall;
  Produce(argument: _streamgate_v1_ProduceRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_streamgate_v1_ProduceResponse__Output>): grpc.ClientUnaryCall;
  Produce(argument: _streamgate_v1_ProduceRequest, callback: grpc.requestCallback<_streamgate_v1_ProduceResponse__Output>): grpc.ClientUnaryCall;
  /**
   * Writes a batch of records. Answers after the backend acknowledged every record; the
   * idempotency key comes from the request field or the `idempotency-key` metadata entry.
   */
  produce(argument: _streamgate_v1_ProduceRequest, metadata: grpc.Metadata, options: grpc.CallOptions, callback: grpc.requestCallback<_streamgate_v1_ProduceResponse__Output>): grpc.ClientUnaryCall;
  produce(argument: _streamgate_v1_ProduceRequest, metadata: grpc.Metadata, callback: grpc.requestCallback<_streamgate_v1_ProduceResponse__Output>): grpc.ClientUnaryCall;
  produce(argument: _streamgate_v1_ProduceRequest, options: grpc.CallOptions, callback: grpc.requestCallback<_streamgate_v1_ProduceResponse__Output>): grpc.ClientUnaryCall;
  produce(argument: _streamgate_v1_ProduceRequest, callback: grpc.requestCallback<_streamgate_v1_ProduceResponse__Output>): grpc.ClientUnaryCall;
  
  /**
   * A long-lived session multiplexing publishes and subscriptions with credit-based flow
   * control: the server never sends a subscription more records than the client granted.
   */
  Session(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_streamgate_v1_SessionRequest, _streamgate_v1_SessionResponse__Output>;
  Session(options?: grpc.CallOptions): grpc.ClientDuplexStream<_streamgate_v1_SessionRequest, _streamgate_v1_SessionResponse__Output>;
  /**
   * A long-lived session multiplexing publishes and subscriptions with credit-based flow
   * control: the server never sends a subscription more records than the client granted.
   */
  session(metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientDuplexStream<_streamgate_v1_SessionRequest, _streamgate_v1_SessionResponse__Output>;
  session(options?: grpc.CallOptions): grpc.ClientDuplexStream<_streamgate_v1_SessionRequest, _streamgate_v1_SessionResponse__Output>;
  
  /**
   * A server stream of records from a position (broadcast), or from a consumer group's
   * committed offsets when `group` is set. The first message is `subscribed`.
   */
  Subscribe(argument: _streamgate_v1_SubscribeRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_streamgate_v1_SubscribeResponse__Output>;
  Subscribe(argument: _streamgate_v1_SubscribeRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_streamgate_v1_SubscribeResponse__Output>;
  /**
   * A server stream of records from a position (broadcast), or from a consumer group's
   * committed offsets when `group` is set. The first message is `subscribed`.
   */
  subscribe(argument: _streamgate_v1_SubscribeRequest, metadata: grpc.Metadata, options?: grpc.CallOptions): grpc.ClientReadableStream<_streamgate_v1_SubscribeResponse__Output>;
  subscribe(argument: _streamgate_v1_SubscribeRequest, options?: grpc.CallOptions): grpc.ClientReadableStream<_streamgate_v1_SubscribeResponse__Output>;
  
}

/**
 * Produce, read and subscribe to topics of the gateway's topic/offset core.
 */
export interface StreamGatewayHandlers extends grpc.UntypedServiceImplementation {
  /**
   * Stateless read of one partition from an offset (optionally long-polling `wait_ms`).
   */
  Fetch: grpc.handleUnaryCall<_streamgate_v1_FetchRequest__Output, _streamgate_v1_FetchResponse>;
  
  /**
   * Earliest and latest (next to be written) offsets per partition of a topic.
   */
  GetOffsets: grpc.handleUnaryCall<_streamgate_v1_GetOffsetsRequest__Output, _streamgate_v1_GetOffsetsResponse>;
  
  /**
   * Topics and their partition counts.
   */
  ListTopics: grpc.handleUnaryCall<_streamgate_v1_ListTopicsRequest__Output, _streamgate_v1_ListTopicsResponse>;
  
  /**
   * Writes a batch of records. Answers after the backend acknowledged every record; the
   * idempotency key comes from the request field or the `idempotency-key` metadata entry.
   */
  Produce: grpc.handleUnaryCall<_streamgate_v1_ProduceRequest__Output, _streamgate_v1_ProduceResponse>;
  
  /**
   * A long-lived session multiplexing publishes and subscriptions with credit-based flow
   * control: the server never sends a subscription more records than the client granted.
   */
  Session: grpc.handleBidiStreamingCall<_streamgate_v1_SessionRequest__Output, _streamgate_v1_SessionResponse>;
  
  /**
   * A server stream of records from a position (broadcast), or from a consumer group's
   * committed offsets when `group` is set. The first message is `subscribed`.
   */
  Subscribe: grpc.handleServerStreamingCall<_streamgate_v1_SubscribeRequest__Output, _streamgate_v1_SubscribeResponse>;
  
}

export interface StreamGatewayDefinition extends grpc.ServiceDefinition {
  Fetch: MethodDefinition<_streamgate_v1_FetchRequest, _streamgate_v1_FetchResponse, _streamgate_v1_FetchRequest__Output, _streamgate_v1_FetchResponse__Output>
  GetOffsets: MethodDefinition<_streamgate_v1_GetOffsetsRequest, _streamgate_v1_GetOffsetsResponse, _streamgate_v1_GetOffsetsRequest__Output, _streamgate_v1_GetOffsetsResponse__Output>
  ListTopics: MethodDefinition<_streamgate_v1_ListTopicsRequest, _streamgate_v1_ListTopicsResponse, _streamgate_v1_ListTopicsRequest__Output, _streamgate_v1_ListTopicsResponse__Output>
  Produce: MethodDefinition<_streamgate_v1_ProduceRequest, _streamgate_v1_ProduceResponse, _streamgate_v1_ProduceRequest__Output, _streamgate_v1_ProduceResponse__Output>
  Session: MethodDefinition<_streamgate_v1_SessionRequest, _streamgate_v1_SessionResponse, _streamgate_v1_SessionRequest__Output, _streamgate_v1_SessionResponse__Output>
  Subscribe: MethodDefinition<_streamgate_v1_SubscribeRequest, _streamgate_v1_SubscribeResponse, _streamgate_v1_SubscribeRequest__Output, _streamgate_v1_SubscribeResponse__Output>
}
