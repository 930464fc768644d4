"""Publish records to a streamgate topic over gRPC and read them back with Subscribe.

    pip install grpcio protobuf
    python3 clients/python/example.py --addr 127.0.0.1:50051 --topic demo -n 3

Prints one line per record received: "<partition> <offset> <key> <value>".
"""
import argparse
import os
import sys

# The generated package lives beside this script (clients/python/streamgate/v1).
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import grpc  # noqa: E402

from streamgate.v1 import streamgate_pb2 as pb  # noqa: E402
from streamgate.v1 import streamgate_pb2_grpc as pb_grpc  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--addr", default="127.0.0.1:50051")
    parser.add_argument("--topic", default="demo")
    parser.add_argument("-n", type=int, default=3)
    args = parser.parse_args()

    with grpc.insecure_channel(args.addr) as channel:
        stub = pb_grpc.StreamGatewayStub(channel)

        # Acknowledged only after the backend stored the records.
        produced = stub.Produce(
            pb.ProduceRequest(
                topic=args.topic,
                records=[
                    pb.ProduceRecord(key=f"py-{i}".encode(), value=f"hello from python {i}".encode(), headers=[pb.Header(key="lang", value=b"python"), pb.Header(key="trace", value=b"a"), pb.Header(key="trace", value=b"b")])
                    for i in range(args.n)
                ],
            ),
            timeout=30,
        )
        first = produced.offsets[0]

        # Server stream from the first produced offset; the first message is `subscribed`.
        stream = stub.Subscribe(
            pb.SubscribeRequest(
                topic=args.topic,
                position=pb.Position(offsets=pb.Position.Offsets(offsets={first.partition: first.offset})),
                partitions=[first.partition],
            ),
            timeout=30,
        )
        received = 0
        for message in stream:
            if message.WhichOneof("frame") != "records":
                continue
            for r in message.records.records:
                print(r.partition, r.offset, r.key.decode(), r.value.decode(), flush=True)
                received += 1
            if received >= args.n:
                stream.cancel()
                break
    return 0


if __name__ == "__main__":
    sys.exit(main())
