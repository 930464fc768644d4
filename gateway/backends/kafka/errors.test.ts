/** Classification of kafkajs's own error objects (constructed from kafkajs's real classes). */
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../errors.js';
import { classify, kafkaType } from './errors.js';

const require = createRequire(import.meta.url);
const errors = require('kafkajs/src/errors.js');
const { createErrorFromCode } = require('kafkajs/src/protocol/error.js');

// Kafka protocol error codes (org.apache.kafka.common.protocol.Errors).
const UNKNOWN_TOPIC_OR_PARTITION = 3;
const MESSAGE_TOO_LARGE = 10;
const RECORD_LIST_TOO_LARGE = 18;
const OFFSET_OUT_OF_RANGE = 1;
const TOPIC_ALREADY_EXISTS = 36;
const INVALID_TOPIC_EXCEPTION = 17;
const NOT_LEADER_OR_FOLLOWER = 6;
const REQUEST_TIMED_OUT = 7;
const CORRUPT_MESSAGE = 2;

describe('kafka error classification', () => {
  it.each([
    [UNKNOWN_TOPIC_OR_PARTITION, 'TOPIC_NOT_FOUND'],
    [MESSAGE_TOO_LARGE, 'MESSAGE_TOO_LARGE'],
    [RECORD_LIST_TOO_LARGE, 'MESSAGE_TOO_LARGE'],
    [OFFSET_OUT_OF_RANGE, 'OUT_OF_RANGE'],
    [TOPIC_ALREADY_EXISTS, 'ALREADY_EXISTS'],
    [INVALID_TOPIC_EXCEPTION, 'INVALID_TOPIC'],
    [NOT_LEADER_OR_FOLLOWER, 'UNAVAILABLE'],
    [REQUEST_TIMED_OUT, 'TIMEOUT'],
    [CORRUPT_MESSAGE, 'INVALID_ARGUMENT'],
  ])('protocol error %i → %s', (code, expected) => {
    const original = createErrorFromCode(code);
    const err = classify(original);
    expect(err).toBeInstanceOf(GatewayError);
    expect(err.code).toBe(expected);
    expect(err.cause).toBe(original);
  });

  it('transport failures are retriable UNAVAILABLE / TIMEOUT', () => {
    const refused = classify(new errors.KafkaJSConnectionError('Connection error: connect ECONNREFUSED', { code: 'ECONNREFUSED' }));
    expect([refused.code, refused.retriable]).toEqual(['UNAVAILABLE', true]);
    expect(classify(new errors.KafkaJSConnectionClosedError('Closed connection')).code).toBe('UNAVAILABLE');
    expect(classify(new errors.KafkaJSRequestTimeoutError('Request Fetch timed out')).code).toBe('TIMEOUT');
    expect(classify(new errors.KafkaJSBrokerNotFound('Broker 1 not found')).code).toBe('UNAVAILABLE');
  });

  it('looks through retry and aggregate wrappers', () => {
    const inner = createErrorFromCode(UNKNOWN_TOPIC_OR_PARTITION);
    const retried = new errors.KafkaJSNumberOfRetriesExceeded(inner, { retryCount: 2, retryTime: 100 });
    expect(classify(retried).code).toBe('TOPIC_NOT_FOUND');
    expect(kafkaType(retried)).toBe('UNKNOWN_TOPIC_OR_PARTITION');
    const aggregate = new errors.KafkaJSAggregateError('Topic creation errors', [
      new errors.KafkaJSCreateTopicError(createErrorFromCode(TOPIC_ALREADY_EXISTS), 't'),
    ]);
    expect(classify(aggregate).code).toBe('ALREADY_EXISTS');
    const deleteRecords = new errors.KafkaJSDeleteTopicRecordsError({
      topic: 't',
      partitions: [{ partition: 0, offset: '9', error: createErrorFromCode(OFFSET_OUT_OF_RANGE) }],
    });
    expect(classify(deleteRecords).code).toBe('OUT_OF_RANGE');
  });

  it('anything else is INTERNAL with the original kept as cause', () => {
    const odd = new TypeError('boom');
    const err = classify(odd);
    expect(err.code).toBe('INTERNAL');
    expect(err.cause).toBe(odd);
    expect(err.message).not.toContain('boom');
    const gateway = new GatewayError('PARTITION_NOT_FOUND', 'no partition 3');
    expect(classify(gateway)).toBe(gateway);
  });
});
