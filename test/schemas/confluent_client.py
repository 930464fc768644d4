"""confluent-kafka's Schema Registry client and serializers against the gateway's registry.

produce: registers the schema through the serializer (auto.register.schemas) at --registry, and
         produces --count records straight to the Kafka broker; prints one JSON line per record
         with the schema id the serializer framed it with.
consume: reads --count records of --topic from the broker, deserializes them with the schema the
         registry returns for the id in each record, and prints each value as a JSON line.
"""
import argparse
import json
import sys

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext

AVRO = json.dumps({
    "type": "record", "name": "Reading", "namespace": "sensors",
    "fields": [{"name": "device", "type": "string"}, {"name": "celsius", "type": "double"}],
})
JSON_SCHEMA = json.dumps({
    "$schema": "http://json-schema.org/draft-07/schema#", "title": "Reading", "type": "object",
    "properties": {"device": {"type": "string"}, "celsius": {"type": "number"}},
    "required": ["device", "celsius"],
})
# The same reading as a .proto file; its Python message class is generated at run time (protoc).
# It imports a well-known type: the serializer registers a FileDescriptorProto depending on
# google/protobuf/timestamp.proto without a reference for it (skip.known.types).
PROTO = """syntax = "proto3";
package sensors;
import "google/protobuf/timestamp.proto";
message Reading {
  string device = 1;
  double celsius = 2;
  google.protobuf.Timestamp at = 3;
}
"""


def proto_message_class():
    """sensors.Reading as a generated Python class (grpc_tools' protoc, into a temp dir)."""
    import importlib
    import os
    import tempfile

    import grpc_tools
    from grpc_tools import protoc

    out = tempfile.mkdtemp(prefix="sg-proto-")
    with open(os.path.join(out, "reading.proto"), "w") as f:
        f.write(PROTO)
    if protoc.main(["protoc", f"-I{out}", f"-I{os.path.join(os.path.dirname(grpc_tools.__file__), '_proto')}", f"--python_out={out}", os.path.join(out, "reading.proto")]) != 0:
        raise RuntimeError("protoc failed")
    sys.path.insert(0, out)
    return importlib.import_module("reading_pb2").Reading


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["produce", "consume"])
    parser.add_argument("--registry", required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--format", choices=["avro", "json", "protobuf"], default="avro")
    parser.add_argument("--count", type=int, default=3)
    parser.add_argument("--no-keys", action="store_true", help="produce records without a key (default: the device name as plain bytes)")
    args = parser.parse_args()

    registry = SchemaRegistryClient({"url": args.registry})
    if args.mode == "produce":
        if args.format == "avro":
            serializer = AvroSerializer(registry, AVRO)
        elif args.format == "protobuf":
            reading = proto_message_class()
            proto_serializer = ProtobufSerializer(reading, registry)
            serializer = lambda v, c: proto_serializer(reading(**v), c)  # noqa: E731
        else:
            serializer = JSONSerializer(JSON_SCHEMA, registry)
        # The test broker does not create topics on first produce: create it (one partition).
        admin = AdminClient({"bootstrap.servers": args.bootstrap})
        for future in admin.create_topics([NewTopic(args.topic, num_partitions=1, replication_factor=1)]).values():
            future.result(20)
        producer = Producer({"bootstrap.servers": args.bootstrap, "acks": "all"})
        ctx = SerializationContext(args.topic, MessageField.VALUE)
        for i in range(args.count):
            value = serializer({"device": f"dev-{i}", "celsius": 20.5 + i}, ctx)
            producer.produce(args.topic, key=None if args.no_keys else f"dev-{i}".encode(), value=value)
            print(json.dumps({"schema_id": int.from_bytes(value[1:5], "big"), "magic": value[0]}))
        if producer.flush(20) != 0:
            print("undelivered records", file=sys.stderr)
            return 1
        return 0

    if args.format == "avro":
        deserializer = AvroDeserializer(registry)
    elif args.format == "protobuf":
        from google.protobuf.json_format import MessageToDict

        proto_deserializer = ProtobufDeserializer(proto_message_class(), {}, registry)
        deserializer = lambda b, c: MessageToDict(proto_deserializer(b, c), preserving_proto_field_name=True)  # noqa: E731
    else:
        deserializer = JSONDeserializer(None, schema_registry_client=registry)
    consumer = Consumer({"bootstrap.servers": args.bootstrap, "group.id": f"py-{args.topic}", "auto.offset.reset": "earliest"})
    consumer.subscribe([args.topic])
    got = 0
    try:
        while got < args.count:
            msg = consumer.poll(20)
            if msg is None:
                print("timed out waiting for records", file=sys.stderr)
                return 1
            if msg.error():
                continue
            value = deserializer(msg.value(), SerializationContext(args.topic, MessageField.VALUE))
            print(json.dumps(value, sort_keys=True))
            got += 1
    finally:
        consumer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
