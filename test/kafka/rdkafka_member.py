"""A librdkafka consumer (confluent-kafka for Python) in a consumer group, for test/kafka/group-member.test.ts.

Usage: rdkafka_member.py BROKERS GROUP TOPIC. Prints one JSON line per rebalance callback
({"assigned": [...]} / {"revoked": [...]}, partitions as "topic/partition") and leaves the
group (close) when its standard input closes. Default assignors (range,roundrobin), classic protocol.
"""
import json
import sys
import threading

from confluent_kafka import Consumer


def names(partitions):
    return sorted(f"{p.topic}/{p.partition}" for p in partitions)


def main():
    brokers, group, topic = sys.argv[1:4]
    consumer = Consumer({
        "bootstrap.servers": brokers,
        "group.id": group,
        "client.id": "rdkafka-member",
        "session.timeout.ms": 6000,
        "heartbeat.interval.ms": 500,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    consumer.subscribe(
        [topic],
        on_assign=lambda c, ps: print(json.dumps({"assigned": names(ps)}), flush=True),
        on_revoke=lambda c, ps: print(json.dumps({"revoked": names(ps)}), flush=True),
    )
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    while not stop.is_set():
        consumer.poll(0.1)
    consumer.close()
    print(json.dumps({"closed": True}), flush=True)


if __name__ == "__main__":
    main()
