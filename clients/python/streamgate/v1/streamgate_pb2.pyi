from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Boundary(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    BOUNDARY_UNSPECIFIED: _ClassVar[Boundary]
    BOUNDARY_EARLIEST: _ClassVar[Boundary]
    BOUNDARY_LATEST: _ClassVar[Boundary]
BOUNDARY_UNSPECIFIED: Boundary
BOUNDARY_EARLIEST: Boundary
BOUNDARY_LATEST: Boundary

class Record(_message.Message):
    __slots__ = ("topic", "partition", "offset", "timestamp", "key", "value", "headers")
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    topic: str
    partition: int
    offset: int
    timestamp: int
    key: bytes
    value: bytes
    headers: _containers.RepeatedCompositeFieldContainer[Header]
    def __init__(self, topic: _Optional[str] = ..., partition: _Optional[int] = ..., offset: _Optional[int] = ..., timestamp: _Optional[int] = ..., key: _Optional[bytes] = ..., value: _Optional[bytes] = ..., headers: _Optional[_Iterable[_Union[Header, _Mapping]]] = ...) -> None: ...

class Header(_message.Message):
    __slots__ = ("key", "value")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: bytes
    def __init__(self, key: _Optional[str] = ..., value: _Optional[bytes] = ...) -> None: ...

class ProduceRecord(_message.Message):
    __slots__ = ("key", "value", "headers", "partition", "timestamp")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    HEADERS_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    key: bytes
    value: bytes
    headers: _containers.RepeatedCompositeFieldContainer[Header]
    partition: int
    timestamp: int
    def __init__(self, key: _Optional[bytes] = ..., value: _Optional[bytes] = ..., headers: _Optional[_Iterable[_Union[Header, _Mapping]]] = ..., partition: _Optional[int] = ..., timestamp: _Optional[int] = ...) -> None: ...

class RecordPosition(_message.Message):
    __slots__ = ("partition", "offset", "timestamp")
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    partition: int
    offset: int
    timestamp: int
    def __init__(self, partition: _Optional[int] = ..., offset: _Optional[int] = ..., timestamp: _Optional[int] = ...) -> None: ...

class PartitionOffset(_message.Message):
    __slots__ = ("partition", "offset")
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    partition: int
    offset: int
    def __init__(self, partition: _Optional[int] = ..., offset: _Optional[int] = ...) -> None: ...

class Position(_message.Message):
    __slots__ = ("earliest", "latest", "offsets", "timestamp")
    class Earliest(_message.Message):
        __slots__ = ()
        def __init__(self) -> None: ...
    class Latest(_message.Message):
        __slots__ = ()
        def __init__(self) -> None: ...
    class Offsets(_message.Message):
        __slots__ = ("offsets", "otherwise")
        class OffsetsEntry(_message.Message):
            __slots__ = ("key", "value")
            KEY_FIELD_NUMBER: _ClassVar[int]
            VALUE_FIELD_NUMBER: _ClassVar[int]
            key: int
            value: int
            def __init__(self, key: _Optional[int] = ..., value: _Optional[int] = ...) -> None: ...
        OFFSETS_FIELD_NUMBER: _ClassVar[int]
        OTHERWISE_FIELD_NUMBER: _ClassVar[int]
        offsets: _containers.ScalarMap[int, int]
        otherwise: Boundary
        def __init__(self, offsets: _Optional[_Mapping[int, int]] = ..., otherwise: _Optional[_Union[Boundary, str]] = ...) -> None: ...
    EARLIEST_FIELD_NUMBER: _ClassVar[int]
    LATEST_FIELD_NUMBER: _ClassVar[int]
    OFFSETS_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    earliest: Position.Earliest
    latest: Position.Latest
    offsets: Position.Offsets
    timestamp: int
    def __init__(self, earliest: _Optional[_Union[Position.Earliest, _Mapping]] = ..., latest: _Optional[_Union[Position.Latest, _Mapping]] = ..., offsets: _Optional[_Union[Position.Offsets, _Mapping]] = ..., timestamp: _Optional[int] = ...) -> None: ...

class KeyFilter(_message.Message):
    __slots__ = ("exact", "prefix", "mqtt")
    EXACT_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    MQTT_FIELD_NUMBER: _ClassVar[int]
    exact: str
    prefix: str
    mqtt: str
    def __init__(self, exact: _Optional[str] = ..., prefix: _Optional[str] = ..., mqtt: _Optional[str] = ...) -> None: ...

class ProduceRequest(_message.Message):
    __slots__ = ("topic", "records", "partition", "idempotency_key")
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    topic: str
    records: _containers.RepeatedCompositeFieldContainer[ProduceRecord]
    partition: int
    idempotency_key: str
    def __init__(self, topic: _Optional[str] = ..., records: _Optional[_Iterable[_Union[ProduceRecord, _Mapping]]] = ..., partition: _Optional[int] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class ProduceResponse(_message.Message):
    __slots__ = ("offsets",)
    OFFSETS_FIELD_NUMBER: _ClassVar[int]
    offsets: _containers.RepeatedCompositeFieldContainer[RecordPosition]
    def __init__(self, offsets: _Optional[_Iterable[_Union[RecordPosition, _Mapping]]] = ...) -> None: ...

class FetchRequest(_message.Message):
    __slots__ = ("topic", "partition", "offset", "max_records", "wait_ms", "max_bytes")
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    MAX_RECORDS_FIELD_NUMBER: _ClassVar[int]
    WAIT_MS_FIELD_NUMBER: _ClassVar[int]
    MAX_BYTES_FIELD_NUMBER: _ClassVar[int]
    topic: str
    partition: int
    offset: int
    max_records: int
    wait_ms: int
    max_bytes: int
    def __init__(self, topic: _Optional[str] = ..., partition: _Optional[int] = ..., offset: _Optional[int] = ..., max_records: _Optional[int] = ..., wait_ms: _Optional[int] = ..., max_bytes: _Optional[int] = ...) -> None: ...

class FetchResponse(_message.Message):
    __slots__ = ("records", "next_offset", "latest", "earliest")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    NEXT_OFFSET_FIELD_NUMBER: _ClassVar[int]
    LATEST_FIELD_NUMBER: _ClassVar[int]
    EARLIEST_FIELD_NUMBER: _ClassVar[int]
    records: _containers.RepeatedCompositeFieldContainer[Record]
    next_offset: int
    latest: int
    earliest: int
    def __init__(self, records: _Optional[_Iterable[_Union[Record, _Mapping]]] = ..., next_offset: _Optional[int] = ..., latest: _Optional[int] = ..., earliest: _Optional[int] = ...) -> None: ...

class ListTopicsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class TopicInfo(_message.Message):
    __slots__ = ("name", "partitions", "config")
    class ConfigEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    name: str
    partitions: int
    config: _containers.ScalarMap[str, str]
    def __init__(self, name: _Optional[str] = ..., partitions: _Optional[int] = ..., config: _Optional[_Mapping[str, str]] = ...) -> None: ...

class ListTopicsResponse(_message.Message):
    __slots__ = ("topics",)
    TOPICS_FIELD_NUMBER: _ClassVar[int]
    topics: _containers.RepeatedCompositeFieldContainer[TopicInfo]
    def __init__(self, topics: _Optional[_Iterable[_Union[TopicInfo, _Mapping]]] = ...) -> None: ...

class GetOffsetsRequest(_message.Message):
    __slots__ = ("topic",)
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    topic: str
    def __init__(self, topic: _Optional[str] = ...) -> None: ...

class PartitionOffsets(_message.Message):
    __slots__ = ("partition", "earliest", "latest")
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    EARLIEST_FIELD_NUMBER: _ClassVar[int]
    LATEST_FIELD_NUMBER: _ClassVar[int]
    partition: int
    earliest: int
    latest: int
    def __init__(self, partition: _Optional[int] = ..., earliest: _Optional[int] = ..., latest: _Optional[int] = ...) -> None: ...

class GetOffsetsResponse(_message.Message):
    __slots__ = ("partitions",)
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    partitions: _containers.RepeatedCompositeFieldContainer[PartitionOffsets]
    def __init__(self, partitions: _Optional[_Iterable[_Union[PartitionOffsets, _Mapping]]] = ...) -> None: ...

class SubscribeRequest(_message.Message):
    __slots__ = ("topic", "position", "partitions", "filters", "group", "member_id", "strict")
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    STRICT_FIELD_NUMBER: _ClassVar[int]
    topic: str
    position: Position
    partitions: _containers.RepeatedScalarFieldContainer[int]
    filters: _containers.RepeatedCompositeFieldContainer[KeyFilter]
    group: str
    member_id: str
    strict: bool
    def __init__(self, topic: _Optional[str] = ..., position: _Optional[_Union[Position, _Mapping]] = ..., partitions: _Optional[_Iterable[int]] = ..., filters: _Optional[_Iterable[_Union[KeyFilter, _Mapping]]] = ..., group: _Optional[str] = ..., member_id: _Optional[str] = ..., strict: _Optional[bool] = ...) -> None: ...

class SubscribeResponse(_message.Message):
    __slots__ = ("subscribed", "records", "continuity_lost")
    SUBSCRIBED_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    CONTINUITY_LOST_FIELD_NUMBER: _ClassVar[int]
    subscribed: SubscribedFrame
    records: RecordsFrame
    continuity_lost: ContinuityLostFrame
    def __init__(self, subscribed: _Optional[_Union[SubscribedFrame, _Mapping]] = ..., records: _Optional[_Union[RecordsFrame, _Mapping]] = ..., continuity_lost: _Optional[_Union[ContinuityLostFrame, _Mapping]] = ...) -> None: ...

class SessionRequest(_message.Message):
    __slots__ = ("publish", "subscribe", "unsubscribe", "ack", "commit", "credit", "ping")
    PUBLISH_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIBE_FIELD_NUMBER: _ClassVar[int]
    UNSUBSCRIBE_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    CREDIT_FIELD_NUMBER: _ClassVar[int]
    PING_FIELD_NUMBER: _ClassVar[int]
    publish: PublishFrame
    subscribe: SubscribeFrame
    unsubscribe: UnsubscribeFrame
    ack: AckFrame
    commit: CommitFrame
    credit: CreditFrame
    ping: PingFrame
    def __init__(self, publish: _Optional[_Union[PublishFrame, _Mapping]] = ..., subscribe: _Optional[_Union[SubscribeFrame, _Mapping]] = ..., unsubscribe: _Optional[_Union[UnsubscribeFrame, _Mapping]] = ..., ack: _Optional[_Union[AckFrame, _Mapping]] = ..., commit: _Optional[_Union[CommitFrame, _Mapping]] = ..., credit: _Optional[_Union[CreditFrame, _Mapping]] = ..., ping: _Optional[_Union[PingFrame, _Mapping]] = ...) -> None: ...

class SessionResponse(_message.Message):
    __slots__ = ("records", "published", "subscribed", "continuity_lost", "error", "end", "pong", "committed")
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIBED_FIELD_NUMBER: _ClassVar[int]
    CONTINUITY_LOST_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    PONG_FIELD_NUMBER: _ClassVar[int]
    COMMITTED_FIELD_NUMBER: _ClassVar[int]
    records: RecordsFrame
    published: PublishedFrame
    subscribed: SubscribedFrame
    continuity_lost: ContinuityLostFrame
    error: ErrorFrame
    end: EndFrame
    pong: PongFrame
    committed: CommittedFrame
    def __init__(self, records: _Optional[_Union[RecordsFrame, _Mapping]] = ..., published: _Optional[_Union[PublishedFrame, _Mapping]] = ..., subscribed: _Optional[_Union[SubscribedFrame, _Mapping]] = ..., continuity_lost: _Optional[_Union[ContinuityLostFrame, _Mapping]] = ..., error: _Optional[_Union[ErrorFrame, _Mapping]] = ..., end: _Optional[_Union[EndFrame, _Mapping]] = ..., pong: _Optional[_Union[PongFrame, _Mapping]] = ..., committed: _Optional[_Union[CommittedFrame, _Mapping]] = ...) -> None: ...

class PublishFrame(_message.Message):
    __slots__ = ("id", "topic", "records", "partition", "idempotency_key")
    ID_FIELD_NUMBER: _ClassVar[int]
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    IDEMPOTENCY_KEY_FIELD_NUMBER: _ClassVar[int]
    id: str
    topic: str
    records: _containers.RepeatedCompositeFieldContainer[ProduceRecord]
    partition: int
    idempotency_key: str
    def __init__(self, id: _Optional[str] = ..., topic: _Optional[str] = ..., records: _Optional[_Iterable[_Union[ProduceRecord, _Mapping]]] = ..., partition: _Optional[int] = ..., idempotency_key: _Optional[str] = ...) -> None: ...

class SubscribeFrame(_message.Message):
    __slots__ = ("id", "topic", "position", "partitions", "filters", "group", "member_id", "credit", "strict")
    ID_FIELD_NUMBER: _ClassVar[int]
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    FILTERS_FIELD_NUMBER: _ClassVar[int]
    GROUP_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    CREDIT_FIELD_NUMBER: _ClassVar[int]
    STRICT_FIELD_NUMBER: _ClassVar[int]
    id: str
    topic: str
    position: Position
    partitions: _containers.RepeatedScalarFieldContainer[int]
    filters: _containers.RepeatedCompositeFieldContainer[KeyFilter]
    group: str
    member_id: str
    credit: int
    strict: bool
    def __init__(self, id: _Optional[str] = ..., topic: _Optional[str] = ..., position: _Optional[_Union[Position, _Mapping]] = ..., partitions: _Optional[_Iterable[int]] = ..., filters: _Optional[_Iterable[_Union[KeyFilter, _Mapping]]] = ..., group: _Optional[str] = ..., member_id: _Optional[str] = ..., credit: _Optional[int] = ..., strict: _Optional[bool] = ...) -> None: ...

class UnsubscribeFrame(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class AckFrame(_message.Message):
    __slots__ = ("subscription_id", "partition", "offset")
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    subscription_id: str
    partition: int
    offset: int
    def __init__(self, subscription_id: _Optional[str] = ..., partition: _Optional[int] = ..., offset: _Optional[int] = ...) -> None: ...

class CommitFrame(_message.Message):
    __slots__ = ("id", "subscription_id", "topic", "offsets")
    ID_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    TOPIC_FIELD_NUMBER: _ClassVar[int]
    OFFSETS_FIELD_NUMBER: _ClassVar[int]
    id: str
    subscription_id: str
    topic: str
    offsets: _containers.RepeatedCompositeFieldContainer[PartitionOffset]
    def __init__(self, id: _Optional[str] = ..., subscription_id: _Optional[str] = ..., topic: _Optional[str] = ..., offsets: _Optional[_Iterable[_Union[PartitionOffset, _Mapping]]] = ...) -> None: ...

class CreditFrame(_message.Message):
    __slots__ = ("subscription_id", "records")
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    subscription_id: str
    records: int
    def __init__(self, subscription_id: _Optional[str] = ..., records: _Optional[int] = ...) -> None: ...

class PingFrame(_message.Message):
    __slots__ = ("nonce",)
    NONCE_FIELD_NUMBER: _ClassVar[int]
    nonce: int
    def __init__(self, nonce: _Optional[int] = ...) -> None: ...

class RecordsFrame(_message.Message):
    __slots__ = ("subscription_id", "records")
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    subscription_id: str
    records: _containers.RepeatedCompositeFieldContainer[Record]
    def __init__(self, subscription_id: _Optional[str] = ..., records: _Optional[_Iterable[_Union[Record, _Mapping]]] = ...) -> None: ...

class PublishedFrame(_message.Message):
    __slots__ = ("id", "offsets")
    ID_FIELD_NUMBER: _ClassVar[int]
    OFFSETS_FIELD_NUMBER: _ClassVar[int]
    id: str
    offsets: _containers.RepeatedCompositeFieldContainer[RecordPosition]
    def __init__(self, id: _Optional[str] = ..., offsets: _Optional[_Iterable[_Union[RecordPosition, _Mapping]]] = ...) -> None: ...

class SubscribedFrame(_message.Message):
    __slots__ = ("id", "positions", "member_id")
    class PositionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: int
        value: int
        def __init__(self, key: _Optional[int] = ..., value: _Optional[int] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    POSITIONS_FIELD_NUMBER: _ClassVar[int]
    MEMBER_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    positions: _containers.ScalarMap[int, int]
    member_id: str
    def __init__(self, id: _Optional[str] = ..., positions: _Optional[_Mapping[int, int]] = ..., member_id: _Optional[str] = ...) -> None: ...

class ContinuityLostFrame(_message.Message):
    __slots__ = ("subscription_id", "partition", "requested", "actual", "reason")
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    REQUESTED_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    subscription_id: str
    partition: int
    requested: int
    actual: int
    reason: str
    def __init__(self, subscription_id: _Optional[str] = ..., partition: _Optional[int] = ..., requested: _Optional[int] = ..., actual: _Optional[int] = ..., reason: _Optional[str] = ...) -> None: ...

class ErrorFrame(_message.Message):
    __slots__ = ("id", "code", "message", "retriable")
    ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RETRIABLE_FIELD_NUMBER: _ClassVar[int]
    id: str
    code: str
    message: str
    retriable: bool
    def __init__(self, id: _Optional[str] = ..., code: _Optional[str] = ..., message: _Optional[str] = ..., retriable: _Optional[bool] = ...) -> None: ...

class EndFrame(_message.Message):
    __slots__ = ("subscription_id", "code", "message", "retriable")
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    RETRIABLE_FIELD_NUMBER: _ClassVar[int]
    subscription_id: str
    code: str
    message: str
    retriable: bool
    def __init__(self, subscription_id: _Optional[str] = ..., code: _Optional[str] = ..., message: _Optional[str] = ..., retriable: _Optional[bool] = ...) -> None: ...

class CommittedFrame(_message.Message):
    __slots__ = ("id", "subscription_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    SUBSCRIPTION_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    subscription_id: str
    def __init__(self, id: _Optional[str] = ..., subscription_id: _Optional[str] = ...) -> None: ...

class PongFrame(_message.Message):
    __slots__ = ("nonce",)
    NONCE_FIELD_NUMBER: _ClassVar[int]
    nonce: int
    def __init__(self, nonce: _Optional[int] = ...) -> None: ...
