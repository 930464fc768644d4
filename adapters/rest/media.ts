/** The media types of the REST API (Confluent v2's vendor types, the native API's JSON, SSE). */
export const MEDIA = {
  v2: 'application/vnd.kafka.v2+json',
  json: 'application/vnd.kafka.json.v2+json',
  binary: 'application/vnd.kafka.binary.v2+json',
  avro: 'application/vnd.kafka.avro.v2+json',
  jsonschema: 'application/vnd.kafka.jsonschema.v2+json',
  protobuf: 'application/vnd.kafka.protobuf.v2+json',
  native: 'application/json',
  sse: 'text/event-stream',
} as const;
