import { describe, expect, it } from 'vitest';
import { ConfigError, coreConfigSchema, loadConfig } from './config.js';

describe('config', () => {
  it('layers defaults < file < environment < flags and freezes the result', () => {
    const config = loadConfig(coreConfigSchema, {
      file: { http: { port: 1000 }, hub: { maxQueueBytes: 10 } },
      env: { STREAMGATE_HTTP_PORT: '2000', STREAMGATE_KAFKA_BROKERS: 'a:9092, b:9092', PATH: '/bin' },
      argv: ['--http.port=3000', '--hub.max-queue-bytes', '20', '--log-level', 'debug'],
    });
    expect(config.http.port).toBe(3000);
    expect(config.hub.maxQueueBytes).toBe(20);
    expect(config.kafka.brokers).toEqual(['a:9092', 'b:9092']);
    expect(config.log.level).toBe('debug');
    expect(config.host).toBe('127.0.0.1');
    expect(Object.isFrozen(config.hub)).toBe(true);
  });

  it('keeps string keys as text, even all digits', () => {
    const config = loadConfig(coreConfigSchema, { env: { STREAMGATE_AUTH_JWT_HS256_SECRET: '12345678901234567890' }, argv: [] });
    expect(config.auth.jwt.hs256Secret).toBe('12345678901234567890');
  });

  it.each([
    [{ env: { STREAMGATE_HTTP_PORT: 'eighty' } }, /http\.port/],
    [{ env: { STREAMGATE_NO_SUCH_KEY: '1' } }, /STREAMGATE_NO_SUCH_KEY/],
    [{ argv: ['--nope=1'] }, /--nope/],
    [{ file: { hub: { maxQueueByte: 5 } } }, /hub.*maxQueueByte/],
    [{ file: { kafka: { acks: 0 } } }, /kafka\.acks/],
    [{ file: { http: { port: 70000 } } }, /http\.port/],
  ])('rejects %j naming the key', (sources, message) => {
    expect(() => loadConfig(coreConfigSchema, { env: {}, argv: [], ...sources })).toThrow(ConfigError);
    expect(() => loadConfig(coreConfigSchema, { env: {}, argv: [], ...sources })).toThrow(message);
  });
  it('schemaRegistry.bindings: defaults filled in, a bad entry stops the start naming the key', () => {
    const load = (file: unknown) => loadConfig(coreConfigSchema, { env: {}, argv: [], file });
    const config = load({ schemaRegistry: { bindings: [{ topic: 'sensors*', format: 'jsonschema' }] } });
    expect(config.schemaRegistry.bindings).toEqual([{ topic: 'sensors*', format: 'jsonschema', side: 'value', encode: false }]);
    expect(() => load({ schemaRegistry: { bindings: [{ topic: 'sensors', format: 'xml' }] } })).toThrow(/schemaRegistry\.bindings\.0\.format/);
    expect(() => load({ schemaRegistry: { bindings: [{ topic: 'a/b', format: 'avro' }] } })).toThrow(/schemaRegistry\.bindings\.0\.topic/);
    expect(() => load({ schemaRegistry: { bindings: [{ topic: 'a', format: 'avro', extra: 1 }] } })).toThrow(/extra/);
    expect(() => load({ schemaRegistry: { enabled: false, bindings: [{ topic: 'a', format: 'avro' }] } })).toThrow(/schemaRegistry\.bindings.*schemaRegistry\.enabled/);
  });
});
