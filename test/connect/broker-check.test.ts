/**
 * "Works with other Kafka-API brokers": the checks of examples/connect/check-broker.ts (the API
 * versions streamgate sends and every backend operation it needs) pass against the real test broker.
 */
import { describe, expect, it } from 'vitest';
import { checkApiVersions, checkOperations, formatReport, REQUIRED_APIS } from '../../examples/connect/check-broker.js';
import { kafkaBrokers } from '../support/kafka.js';

describe('broker requirements check', () => {
  it('every request streamgate sends is within the broker’s supported versions', async () => {
    const apis = await checkApiVersions([kafkaBrokers()]);
    expect(apis.map((a) => a.name)).toEqual(REQUIRED_APIS.map((a) => a.name));
    expect(apis.filter((a) => !a.ok), formatReport({ apis, operations: [], ok: false })).toEqual([]);
    // The versions kafkajs 2.2.4 settles on with Apache Kafka 4.3 (documented in the README).
    expect(Object.fromEntries(apis.map((a) => [a.name, a.used]))).toEqual({
      ApiVersions: 2,
      Metadata: 6,
      Produce: 7,
      Fetch: 11,
      ListOffsets: 3,
      CreateTopics: 3,
      DeleteTopics: 1,
      DescribeConfigs: 2,
      DeleteRecords: 1,
      FindCoordinator: 2,
      OffsetCommit: 5,
      OffsetFetch: 4,
    });
  });

  it('every backend operation works: topics, compacted topics, produce, fetch, offsets, standalone commits, delete records', async () => {
    const operations = await checkOperations([kafkaBrokers()]);
    expect(operations.filter((o) => !o.ok), formatReport({ apis: [], operations, ok: false })).toEqual([]);
    expect(operations.map((o) => o.name)).toEqual([
      'connect',
      'create topic',
      'produce (key, value, headers; acks=-1)',
      'fetch',
      'list offsets (earliest, latest, by timestamp)',
      'group offsets (standalone OffsetCommit, OffsetFetch)',
      'delete records',
      'delete topic',
      'create compacted topic',
      'describe topic config (cleanup.policy=compact)',
      'tombstone (null value) in a compacted topic',
      'delete compacted topic',
    ]);
  });
});
