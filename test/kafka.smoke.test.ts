/**
 * Proves the harness broker is a working Kafka for kafkajs 2.2.4: topic creation, produce with
 * acks=all, consumption in a consumer group, and offset commits read back through the admin API.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import kafkajs from 'kafkajs';
import { kafkaBrokers } from './support/kafka.js';
import { uniqueId, uniqueTopic } from './support/names.js';
import { eventually } from './support/wait.js';

const { Kafka, logLevel, Partitioners } = kafkajs;

describe('harness Kafka broker', () => {
  const kafka = new Kafka({ brokers: [kafkaBrokers()], clientId: 'smoke', logLevel: logLevel.NOTHING });
  const admin = kafka.admin();

  beforeAll(async () => {
    await admin.connect();
  });
  afterAll(async () => {
    await admin.disconnect();
  });

  it('does not auto-create topics (the core decides)', async () => {
    const topics = await admin.listTopics();
    expect(topics.filter((t) => !t.startsWith('__'))).not.toContain('never-created');
    const metadata = admin.fetchTopicMetadata({ topics: [uniqueTopic('missing')] });
    await expect(metadata).rejects.toMatchObject({ type: 'UNKNOWN_TOPIC_OR_PARTITION' });
  });

  it('produces, consumes in a group and commits offsets', async () => {
    const topic = uniqueTopic('smoke');
    const groupId = uniqueId('smoke-group');
    expect(await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true })).toBe(true);

    const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    const values = ['a', 'b', 'c', 'd', 'e'];
    const sent = await producer.send({ topic, acks: -1, messages: values.map((value, i) => ({ key: `k${i}`, value })) });
    await producer.disconnect();
    expect(sent).toEqual([expect.objectContaining({ topicName: topic, partition: 0, errorCode: 0, baseOffset: '0' })]);
    expect(await admin.fetchTopicOffsets(topic)).toEqual([expect.objectContaining({ partition: 0, low: '0', high: '5' })]);

    const consumer = kafka.consumer({ groupId, sessionTimeout: 10_000, heartbeatInterval: 1000 });
    const seen: { offset: string; key: string; value: string }[] = [];
    await consumer.connect();
    try {
      await consumer.subscribe({ topic, fromBeginning: true });
      await consumer.run({
        autoCommit: false,
        eachMessage: async ({ message }) => {
          seen.push({ offset: message.offset, key: message.key!.toString(), value: message.value!.toString() });
        },
      });
      await eventually(() => seen.length >= values.length, { timeoutMs: 20_000, what: 'all records consumed' });
      expect(seen).toEqual(values.map((value, i) => ({ offset: String(i), key: `k${i}`, value })));
      // Committed offset = next offset to read (last processed + 1).
      await consumer.commitOffsets([{ topic, partition: 0, offset: '5' }]);
    } finally {
      await consumer.disconnect();
    }

    const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
    expect(committed).toEqual([{ topic, partitions: [expect.objectContaining({ partition: 0, offset: '5' })] }]);
    await admin.deleteTopics({ topics: [topic] });
  });
});
