/**
 * The OpenAPI 3.1 description of every route this adapter serves (`GET /openapi.json`). Schemas
 * use JSON Schema 2020-12 (OpenAPI 3.1 §4.8.24); a test validates real responses against them.
 */

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const V2 = 'application/vnd.kafka.v2+json';
const V2_JSON = 'application/vnd.kafka.json.v2+json';
const V2_BINARY = 'application/vnd.kafka.binary.v2+json';
const JSON_T = 'application/json';

const errorResponse = (description: string, native = false) => ({
  description,
  content: { [native ? JSON_T : V2]: { schema: ref('Error') } },
});
const errors = (codes: Record<string, string>, native = false) =>
  Object.fromEntries(Object.entries(codes).map(([status, description]) => [status, errorResponse(description, native)]));
const ok = (schema: object, type: string = V2, description = 'OK') => ({ description, content: { [type]: { schema } } });
const noContent = { description: 'No Content' };
const jsonBody = (schema: object, types: string[] = [V2], required = true) => ({
  required,
  content: Object.fromEntries(types.map((t) => [t, { schema }])),
});

const topicParam = { name: 'topic', in: 'path', required: true, schema: { type: 'string' } };
const partitionParam = { name: 'partition', in: 'path', required: true, schema: { type: 'integer', minimum: 0 } };
const groupParam = { name: 'group', in: 'path', required: true, schema: { type: 'string' } };
const instanceParam = { name: 'instance', in: 'path', required: true, schema: { type: 'string' } };
const instanceParams = [groupParam, instanceParam];
const idempotencyHeader = {
  name: 'Idempotency-Key',
  in: 'header',
  required: false,
  description: 'A retried produce with the same key (per principal, within the configured window) returns the original offsets instead of writing again.',
  schema: { type: 'string' },
};
const instanceErrors = errors({ '404': 'Error code 40403 — consumer instance not found' });

/** The document served at `/openapi.json`. */
export const openApiDocument = {
  openapi: '3.1.0',
  info: {
    title: 'streamgate REST API',
    version: '1.0.0',
    description:
      'Confluent REST Proxy v2 compatible API (/topics, /consumers), the native offset-based v1 API (/v1/topics) with Server-Sent Events, and health. Errors are {"error_code": N, "message": "…"} (plus "code" and "details" on /v1).',
  },
  components: {
    securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'A JWT or an API key (also accepted as ?access_token= for EventSource).' } },
    schemas: {
      Error: {
        type: 'object',
        required: ['error_code', 'message'],
        properties: { error_code: { type: 'integer' }, message: { type: 'string' }, code: { type: 'string' }, details: { type: 'object' } },
      },
      Replica: {
        type: 'object',
        required: ['broker', 'leader', 'in_sync'],
        properties: { broker: { type: 'integer' }, leader: { type: 'boolean' }, in_sync: { type: 'boolean' } },
      },
      PartitionMetadata: {
        type: 'object',
        required: ['partition', 'leader', 'replicas'],
        properties: { partition: { type: 'integer' }, leader: { type: 'integer' }, replicas: { type: 'array', items: ref('Replica') } },
      },
      TopicMetadata: {
        type: 'object',
        required: ['name', 'configs', 'partitions'],
        properties: {
          name: { type: 'string' },
          configs: { type: 'object', additionalProperties: { type: 'string' } },
          partitions: { type: 'array', items: ref('PartitionMetadata') },
        },
      },
      PartitionOffsets: {
        type: 'object',
        required: ['beginning_offset', 'end_offset'],
        properties: { beginning_offset: { type: 'integer' }, end_offset: { type: 'integer' } },
      },
      ProduceRequest: {
        type: 'object',
        required: ['records'],
        properties: {
          key_schema: { type: 'string' },
          key_schema_id: { type: 'integer' },
          value_schema: { type: 'string' },
          value_schema_id: { type: 'integer' },
          records: {
            type: 'array',
            minItems: 1,
            items: {
              type: 'object',
              properties: {
                key: { description: 'JSON (json format) or base64 (binary format); null or absent for no key.' },
                value: { description: 'JSON (json format) or base64 (binary format).' },
                partition: { type: 'integer', minimum: 0 },
              },
            },
          },
        },
      },
      ProduceResponse: {
        type: 'object',
        required: ['key_schema_id', 'value_schema_id', 'offsets'],
        properties: {
          key_schema_id: { type: ['integer', 'null'] },
          value_schema_id: { type: ['integer', 'null'] },
          offsets: {
            type: 'array',
            items: {
              type: 'object',
              required: ['partition', 'offset', 'error_code', 'error'],
              properties: {
                partition: { type: ['integer', 'null'] },
                offset: { type: ['integer', 'null'] },
                error_code: { type: ['integer', 'null'], description: '40101 authentication, 40301 authorization, 50003 retriable, 50002 other (partition and offset are null then)' },
                error: { type: ['string', 'null'] },
              },
            },
          },
        },
      },
      CreateConsumerRequest: {
        type: 'object',
        properties: {
          name: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,249}$' },
          id: { type: 'string', pattern: '^[A-Za-z0-9._-]{1,249}$', description: 'Legacy name; overrides name (kafka-rest)' },
          format: { type: 'string', pattern: '^([jJ][sS][oO][nN]|[bB][iI][nN][aA][rR][yY])$', description: 'json or binary, any case (default binary)' },
          'auto.offset.reset': { enum: ['earliest', 'latest', 'smallest', 'largest'] },
          'auto.commit.enable': { type: ['boolean', 'string'], pattern: '^\\s*([tT][rR][uU][eE]|[fF][aA][lL][sS][eE])\\s*$' },
          'consumer.request.timeout.ms': { type: ['integer', 'string'] },
          requestWaitMs: { type: ['integer', 'string'], description: 'Alias of consumer.request.timeout.ms (kafka-rest)' },
        },
      },
      CreateConsumerResponse: {
        type: 'object',
        required: ['instance_id', 'base_uri'],
        properties: { instance_id: { type: 'string' }, base_uri: { type: 'string' } },
      },
      TopicPartition: {
        type: 'object',
        required: ['topic', 'partition'],
        properties: { topic: { type: 'string' }, partition: { type: 'integer', minimum: 0 } },
      },
      TopicPartitionOffset: {
        type: 'object',
        required: ['topic', 'partition', 'offset'],
        properties: { topic: { type: 'string' }, partition: { type: 'integer', minimum: 0 }, offset: { type: 'integer', minimum: 0 } },
      },
      Partitions: { type: 'object', required: ['partitions'], properties: { partitions: { type: 'array', items: ref('TopicPartition') } } },
      Offsets: { type: 'object', required: ['offsets'], properties: { offsets: { type: 'array', items: ref('TopicPartitionOffset') } } },
      CommittedOffsets: {
        type: 'object',
        required: ['offsets'],
        properties: {
          offsets: {
            type: 'array',
            items: {
              type: 'object',
              required: ['topic', 'partition', 'offset', 'metadata'],
              properties: { topic: { type: 'string' }, partition: { type: 'integer' }, offset: { type: 'integer' }, metadata: { type: 'string' } },
            },
          },
        },
      },
      Subscription: {
        type: 'object',
        properties: { topics: { type: 'array', items: { type: 'string' } }, topic_pattern: { type: 'string' } },
      },
      ConsumerRecord: {
        type: 'object',
        required: ['topic', 'key', 'value', 'partition', 'offset'],
        properties: { topic: { type: 'string' }, key: {}, value: {}, partition: { type: 'integer' }, offset: { type: 'integer' } },
      },
      NativeRecord: {
        type: 'object',
        required: ['partition', 'offset', 'timestamp', 'key', 'value', 'headers'],
        properties: {
          topic: { type: 'string' },
          partition: { type: 'integer' },
          offset: { type: 'string', pattern: '^[0-9]+$' },
          timestamp: { type: 'integer' },
          key: { type: ['string', 'null'] },
          keyEncoding: { const: 'base64' },
          value: { description: 'The stored JSON text verbatim, or base64 text with "encoding":"base64" when the bytes are not JSON (or nest deeper than 256 levels).' },
          encoding: { const: 'base64' },
          headers: { type: 'object', additionalProperties: { type: 'string' } },
          headersEncoding: { const: 'base64' },
        },
      },
      NativeProduceRequest: {
        type: 'object',
        required: ['records'],
        properties: {
          records: {
            type: 'array',
            minItems: 1,
            items: {
              type: 'object',
              properties: {
                key: { type: ['string', 'null'] },
                keyEncoding: { const: 'base64' },
                value: { description: 'Any JSON, stored as the exact text sent; or base64 text with "encoding":"base64".' },
                encoding: { enum: ['json', 'base64'] },
                headers: { type: 'object', additionalProperties: { type: 'string' } },
                headersEncoding: { const: 'base64' },
                partition: { type: 'integer', minimum: 0 },
                timestamp: { type: 'integer', minimum: 0 },
              },
            },
          },
        },
      },
      NativeProduceResponse: {
        type: 'object',
        required: ['topic', 'offsets'],
        properties: {
          topic: { type: 'string' },
          offsets: {
            type: 'array',
            items: {
              type: 'object',
              required: ['partition', 'offset'],
              properties: {
                partition: { type: ['integer', 'null'] },
                offset: { type: ['string', 'null'] },
                timestamp: { type: 'integer' },
                error_code: { type: 'integer' },
                code: { type: 'string' },
                error: { type: 'string' },
              },
            },
          },
        },
      },
      NativeFetchResponse: {
        type: 'object',
        required: ['topic', 'partition', 'records', 'next_offset', 'earliest', 'latest'],
        properties: {
          topic: { type: 'string' },
          partition: { type: 'integer' },
          records: { type: 'array', items: ref('NativeRecord') },
          next_offset: { type: 'string', pattern: '^[0-9]+$' },
          earliest: { type: 'string', pattern: '^[0-9]+$' },
          latest: { type: 'string', pattern: '^[0-9]+$' },
        },
      },
      NativeOffsets: {
        type: 'object',
        required: ['topic', 'partitions'],
        properties: {
          topic: { type: 'string' },
          partitions: {
            type: 'array',
            items: {
              type: 'object',
              required: ['partition', 'earliest', 'latest'],
              properties: { partition: { type: 'integer' }, earliest: { type: 'string' }, latest: { type: 'string' } },
            },
          },
        },
      },
      NativeTopics: {
        type: 'object',
        required: ['topics'],
        properties: {
          topics: { type: 'array', items: { type: 'object', required: ['name', 'partitions'], properties: { name: { type: 'string' }, partitions: { type: 'integer' } } } },
        },
      },
      Status: { type: 'object', required: ['status'], properties: { status: { type: 'string' } } },
    },
  },
  security: [{}, { bearer: [] }],
  paths: {
    '/healthz': { get: { summary: 'Liveness: 200 while the process runs', security: [], responses: { '200': ok(ref('Status'), JSON_T) } } },
    '/readyz': {
      get: {
        summary: 'Readiness: 200 while the backend answers, else 503',
        security: [],
        responses: { '200': ok(ref('Status'), JSON_T), '503': ok(ref('Status'), JSON_T, 'Backend unreachable') },
      },
    },
    '/openapi.json': { get: { summary: 'This document', security: [], responses: { '200': ok({ type: 'object' }, JSON_T) } } },
    '/topics': { get: { summary: 'List topic names', responses: { '200': ok({ type: 'array', items: { type: 'string' } }) } } },
    '/brokers': {
      get: {
        summary: 'Broker ids: the gateway is the one broker, 0',
        responses: { '200': ok({ type: 'object', required: ['brokers'], properties: { brokers: { type: 'array', items: { type: 'integer' } } } }) },
      },
    },
    '/topics/{topic}': {
      parameters: [topicParam],
      get: { summary: 'Topic metadata', responses: { '200': ok(ref('TopicMetadata')), ...errors({ '404': 'Error code 40401 — topic not found' }) } },
      post: {
        summary: 'Produce records (keys and partitions per record); answered after the backend acknowledged',
        parameters: [idempotencyHeader],
        requestBody: jsonBody(ref('ProduceRequest'), [V2_JSON, V2_BINARY]),
        responses: {
          '200': ok(ref('ProduceResponse')),
          ...errors({
            '400': 'Malformed JSON (400) or illegal topic name (40002)',
            '404': 'Error code 40401 — topic not found (auto-creation off), 40402 — partition not found',
            '413': 'Body over rest.maxBodyBytes (413) or a record over limits.maxRecordBytes (41301)',
            '415': 'Unsupported Content-Type (415)',
            '422': 'Error code 42201 — invalid key, 42202 — invalid value (e.g. base64 that does not decode), 422 — records empty',
          }),
        },
      },
    },
    '/topics/{topic}/partitions': {
      parameters: [topicParam],
      get: { summary: 'Partitions of a topic', responses: { '200': ok({ type: 'array', items: ref('PartitionMetadata') }), ...errors({ '404': 'Error code 40401' }) } },
    },
    '/topics/{topic}/partitions/{partition}': {
      parameters: [topicParam, partitionParam],
      get: { summary: 'One partition', responses: { '200': ok(ref('PartitionMetadata')), ...errors({ '404': 'Error code 40401 / 40402' }) } },
      post: {
        summary: 'Produce records to one partition',
        parameters: [idempotencyHeader],
        requestBody: jsonBody(ref('ProduceRequest'), [V2_JSON, V2_BINARY]),
        responses: { '200': ok(ref('ProduceResponse')), ...errors({ '404': 'Error code 40401 / 40402', '415': 'Unsupported Content-Type', '422': 'Error code 42201 / 42202' }) },
      },
    },
    '/topics/{topic}/partitions/{partition}/offsets': {
      parameters: [topicParam, partitionParam],
      get: { summary: 'First and next offset of a partition', responses: { '200': ok(ref('PartitionOffsets')), ...errors({ '404': 'Error code 40401 / 40402' }) } },
    },
    '/consumers/{group}': {
      parameters: [groupParam],
      post: {
        summary: 'Create a consumer instance in the group',
        requestBody: jsonBody(ref('CreateConsumerRequest'), [V2, JSON_T], false),
        responses: {
          '200': ok(ref('CreateConsumerResponse')),
          ...errors({
            '400': 'Malformed JSON, or JSON of the wrong type (400)',
            '409': 'Error code 40902 — instance exists',
            '422': 'Error code 42204 — invalid consumer configuration, 422 — invalid format type',
            '429': 'Error code 42901 — too many instances',
          }),
        },
      },
    },
    '/consumers/{group}/instances/{instance}': {
      parameters: instanceParams,
      delete: { summary: 'Delete the instance (commits returned records when auto-commit is on) and leave the group', responses: { '204': noContent, ...instanceErrors } },
    },
    '/consumers/{group}/instances/{instance}/subscription': {
      parameters: instanceParams,
      post: {
        summary: 'Subscribe to topics or a topic pattern (replaces a prior subscription)',
        requestBody: jsonBody(ref('Subscription')),
        responses: { '204': noContent, ...errors({ '404': 'Error code 40403 / 40401', '409': 'Error code 40903 — topics, pattern and assignment are mutually exclusive' }) },
      },
      get: { summary: 'Subscribed topics', responses: { '200': ok({ type: 'object', required: ['topics'], properties: { topics: { type: 'array', items: { type: 'string' } } } }), ...instanceErrors } },
      delete: { summary: 'Unsubscribe', responses: { '204': noContent, ...instanceErrors } },
    },
    '/consumers/{group}/instances/{instance}/assignments': {
      parameters: instanceParams,
      post: { summary: 'Assign partitions manually', requestBody: jsonBody(ref('Partitions')), responses: { '204': noContent, ...errors({ '404': 'Error code 40403 / 40401 / 40402', '409': 'Error code 40903' }) } },
      get: { summary: 'Current assignment', responses: { '200': ok(ref('Partitions')), ...instanceErrors } },
    },
    '/consumers/{group}/instances/{instance}/positions': {
      parameters: instanceParams,
      post: { summary: 'Seek to offsets', requestBody: jsonBody(ref('Offsets')), responses: { '204': noContent, ...errors({ '404': 'Error code 40403', '409': 'Error code 40903' }) } },
    },
    '/consumers/{group}/instances/{instance}/positions/beginning': {
      parameters: instanceParams,
      post: { summary: 'Seek to the first offset', requestBody: jsonBody(ref('Partitions')), responses: { '204': noContent, ...errors({ '404': 'Error code 40403', '409': 'Error code 40903' }) } },
    },
    '/consumers/{group}/instances/{instance}/positions/end': {
      parameters: instanceParams,
      post: { summary: 'Seek to the log end', requestBody: jsonBody(ref('Partitions')), responses: { '204': noContent, ...errors({ '404': 'Error code 40403', '409': 'Error code 40903' }) } },
    },
    '/consumers/{group}/instances/{instance}/records': {
      parameters: [
        ...instanceParams,
        {
          name: 'timeout',
          in: 'query',
          schema: { type: 'integer' },
          description: "Long-poll wait in ms, at most the instance's consumer.request.timeout.ms (rest.consumerRequestTimeoutMs by default), which is also the wait when ≤ 0 or absent",
        },
        { name: 'max_bytes', in: 'query', schema: { type: 'integer' }, description: '≤ 0 or absent: rest.consumerRequestMaxBytes' },
      ],
      get: {
        summary: 'Next records; the Accept header must match the instance format',
        responses: {
          '200': { description: 'OK', content: { [V2_JSON]: { schema: { type: 'array', items: ref('ConsumerRecord') } }, [V2_BINARY]: { schema: { type: 'array', items: ref('ConsumerRecord') } } } },
          ...errors({ '404': 'Error code 40403', '406': 'Error code 40601 — format mismatch', '409': 'Error code 40903 — not subscribed', '422': 'Error code 42202 — a value is not JSON (json format); the batch is rewound' }),
        },
      },
    },
    '/consumers/{group}/instances/{instance}/offsets': {
      parameters: instanceParams,
      post: {
        summary: 'Commit offsets (body offset = last record processed; the group stores offset + 1). Empty body: everything returned so far.',
        requestBody: jsonBody(ref('Offsets'), [V2, JSON_T], false),
        responses: {
          '200': ok({ type: 'array', maxItems: 0, description: "kafka-rest's CommitOffsetsResponse: always empty" }),
          ...errors({ '404': 'Error code 40403', '409': 'Error code 40903', '501': 'Manually assigned partitions' }),
        },
      },
      get: {
        summary: 'Committed offsets of the given partitions',
        requestBody: jsonBody(ref('Partitions')),
        responses: { '200': ok(ref('CommittedOffsets')), ...errors({ '404': 'Error code 40403 — consumer instance not found, 40402 — no body' }) },
      },
    },
    '/v1/topics': { get: { summary: 'Topics with partition counts', responses: { '200': ok(ref('NativeTopics'), JSON_T) } } },
    '/v1/topics/{topic}/records': {
      parameters: [topicParam, { name: 'partition', in: 'query', schema: { type: 'integer', minimum: 0 }, description: 'Write every record to this partition' }],
      post: {
        summary: 'Produce (native): JSON values, or base64 with "encoding":"base64"; offsets as decimal strings',
        parameters: [idempotencyHeader],
        requestBody: jsonBody(ref('NativeProduceRequest'), [JSON_T]),
        responses: { '200': ok(ref('NativeProduceResponse'), JSON_T), ...errors({ '400': 'Malformed JSON', '413': 'Too large', '415': 'Not application/json', '422': 'Invalid records' }, true) },
      },
    },
    '/v1/topics/{topic}/partitions/{partition}/records': {
      parameters: [
        topicParam,
        partitionParam,
        { name: 'offset', in: 'query', required: true, schema: { type: 'string', pattern: '^([0-9]+|earliest|latest)$' } },
        { name: 'max', in: 'query', schema: { type: 'integer', minimum: 1 } },
        { name: 'timeout_ms', in: 'query', schema: { type: 'integer', minimum: 0 }, description: 'Long-poll until a record arrives or this passes' },
        { name: 'max_bytes', in: 'query', schema: { type: 'integer', minimum: 1 } },
      ],
      get: {
        summary: 'Fetch from an offset (stateless)',
        responses: { '200': ok(ref('NativeFetchResponse'), JSON_T), ...errors({ '404': 'TOPIC_NOT_FOUND / PARTITION_NOT_FOUND', '416': 'OUT_OF_RANGE (details: earliest, latest)' }, true) },
      },
    },
    '/v1/topics/{topic}/offsets': {
      parameters: [topicParam],
      get: { summary: 'Earliest and latest offset per partition', responses: { '200': ok(ref('NativeOffsets'), JSON_T), ...errors({ '404': 'TOPIC_NOT_FOUND' }, true) } },
    },
    '/v1/topics/{topic}/events': {
      parameters: [
        topicParam,
        { name: 'from', in: 'query', schema: { type: 'string' }, description: 'earliest | latest (default) | ts:<ms> | positions "0:43,1:7"' },
        { name: 'lastEventId', in: 'query', schema: { type: 'string' }, description: 'Same as the Last-Event-ID header (wins over from)' },
        { name: 'Last-Event-ID', in: 'header', schema: { type: 'string' } },
        { name: 'key', in: 'query', schema: { type: 'string' }, description: 'Exact key (repeatable)' },
        { name: 'key_prefix', in: 'query', schema: { type: 'string' } },
        { name: 'filter', in: 'query', schema: { type: 'string' }, description: 'MQTT-style filter over the key (+, #)' },
        { name: 'partitions', in: 'query', schema: { type: 'string' }, description: 'Comma-separated partitions' },
        { name: 'access_token', in: 'query', schema: { type: 'string' }, description: 'For EventSource, which cannot set headers' },
      ],
      get: {
        summary: 'Server-Sent Events: records as default `message` events (no `event:` field; data: NativeRecord + topic), named control events `subscribed`, `continuity-lost`, `error`; id = next offset per partition',
        responses: { '200': { description: 'An event stream', content: { 'text/event-stream': { schema: { type: 'string' } } } }, ...errors({ '404': 'TOPIC_NOT_FOUND' }, true) },
      },
    },
  },
} as const;
