/**
 * The OpenAPI document against the server it describes, without a network: every served route is
 * documented and nothing else is; the document is valid JSON Schema 2020-12 (ajv compiles every
 * schema strictly); and for the decoders that do not run the zod schemas themselves (the byte-exact
 * produce decoders, the SSE event id, topic names), the rendered schema accepts exactly what the
 * decoder accepts, over generated inputs. scripts/schemathesis.sh checks the same over HTTP.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import fc from 'fast-check';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { Gateway } from '../../gateway/api.js';
import { validateMqttFilter } from '../../gateway/hub/filters.js';
import { validateTopicName } from '../../gateway/record.js';
import { decodeEventId, decodeNativeProduce, decodeV2Produce, parseRecordsBody } from './codec.js';
import { restConfigSchema } from './config.js';
import { openApiDocument } from './openapi.js';
import { RestRoutes } from './routes.js';
import { decimalAtMost } from './schemas.js';

const doc = JSON.parse(JSON.stringify(openApiDocument)) as {
  paths: Record<string, Record<string, { parameters?: { name: string; in: string; schema: object }[] }>>;
  components: { schemas: Record<string, object> };
};

/** ajv over the whole document, so `#/components/schemas/…` resolves as for any OpenAPI tool. */
const ajv = new Ajv2020({ strict: false, allErrors: true });
ajv.addSchema({ ...doc, $id: 'doc' });
const component = (name: string) => ajv.compile({ $ref: `doc#/components/schemas/${name}` });

const accepts = (f: () => unknown): boolean => {
  try {
    f();
    return true;
  } catch {
    return false;
  }
};

describe('the OpenAPI document', () => {
  it('documents every route the adapter serves, and only those', () => {
    const routes = new RestRoutes({} as Gateway, restConfigSchema.parse({}), pino({ level: 'silent' }), () => () => undefined);
    const served = routes.routes
      .list()
      .map((r) => `${r.method.toLowerCase()} ${r.pattern.source}`)
      .sort();
    const documented = Object.entries(doc.paths)
      .flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m} ${new RegExp(`^${path.replace(/\{[^}]+\}/g, '([^/]+)')}$`).source}`))
      .sort();
    expect(documented).toEqual(served);
    void routes.close();
  });

  it('is valid JSON Schema 2020-12 throughout (every component and parameter compiles in strict mode)', () => {
    // Strict: an unknown or misspelt keyword is an error, not silently ignored. OpenAPI's own
    // annotations inside schemas are none here.
    const strict = new Ajv2020({ strict: true, allErrors: true });
    const schemas = Object.fromEntries(Object.entries(doc.components.schemas).map(([name, s]) => [name, { ...s, $id: `urn:c:${name}` }]));
    const resolve = (schema: object): object => JSON.parse(JSON.stringify(schema).replace(/"#\/components\/schemas\/([A-Za-z]+)"/g, '"urn:c:$1"'));
    for (const s of Object.values(schemas)) strict.addSchema(resolve(s));
    for (const name of Object.keys(schemas)) expect(() => strict.getSchema(`urn:c:${name}`), name).not.toThrow();
    for (const [path, methods] of Object.entries(doc.paths)) {
      for (const [method, op] of Object.entries(methods)) {
        for (const p of op.parameters ?? []) expect(() => strict.compile(resolve(p.schema)), `${method} ${path} ${p.name}`).not.toThrow();
      }
    }
  });

  it('describes int32 and int64 decimal text exactly (decimalAtMost)', () => {
    for (const [max, digits] of [
      [2n ** 31n - 1n, 10],
      [2n ** 63n - 1n, 19],
      [1000n, 4],
      [9n, 1],
    ] as const) {
      const re = new RegExp(`^${decimalAtMost(max, digits)}$`);
      const near = fc.bigInt({ min: max - 2000n < 0n ? 0n : max - 2000n, max: max + 2000n }).map(String);
      const any = fc.stringMatching(new RegExp(`^[0-9]{1,${digits + 1}}$`));
      fc.assert(
        fc.property(fc.oneof(near, any), (s) => re.test(s) === (s.length <= digits && BigInt(s) <= max)),
        { numRuns: 2_000 },
      );
    }
  });

  it("describes topic names exactly as the core's validateTopicName accepts them", () => {
    const topicParam = doc.paths['/topics/{topic}']!.get!.parameters!.find((p) => p.name === 'topic')!;
    const validate = ajv.compile(topicParam.schema);
    const names = fc.oneof(
      fc.constantFrom('.', '..', '...', '._', '..a', '', 'a'.repeat(249), 'a'.repeat(250), '.'.repeat(249)),
      fc.string({ unit: fc.constantFrom('a', 'Z', '0', '.', '_', '-', '/', ' ', 'é', '\n'), maxLength: 260 }),
    );
    fc.assert(fc.property(names, (name) => validate(name) === accepts(() => validateTopicName(name))), { numRuns: 2_000 });
  });

  it("describes SSE key filters exactly as the core's validateMqttFilter accepts them", () => {
    const filterParam = doc.paths['/v1/topics/{topic}/events']!.get!.parameters!.find((p) => p.name === 'filter')!;
    const validate = ajv.compile(filterParam.schema);
    const filters = fc.string({ unit: fc.constantFrom('a', '/', '+', '#', '\u0000', ' ', '$'), maxLength: 8 });
    fc.assert(fc.property(filters, (f) => validate(f) === accepts(() => validateMqttFilter(f))), { numRuns: 3_000 });
  });

  it('describes the SSE event id exactly as decodeEventId accepts it', () => {
    const eventId = doc.paths['/v1/topics/{topic}/events']!.get!.parameters!.find((p) => p.name === 'lastEventId')!;
    const validate = ajv.compile(eventId.schema);
    const num = fc.oneof(fc.bigInt({ min: 0n, max: 2n ** 64n }).map(String), fc.constantFrom('2147483647', '2147483648', '9223372036854775807', '9223372036854775808', '', '-1', ' 1'));
    const pair = fc.oneof(fc.tuple(num, num).map(([p, o]) => `${p}:${o}`), fc.string({ maxLength: 6 }));
    const ids = fc.array(pair, { maxLength: 4 }).map((pairs) => pairs.join(','));
    fc.assert(fc.property(ids, (id) => validate(id) === accepts(() => decodeEventId(id))), { numRuns: 2_000 });
  });

  // Produce bodies are decoded from the request's own bytes (values keep their exact text), not by
  // zod: here the rendered schema and the decoder must agree on generated records.
  const base64 = fc.oneof(fc.uint8Array({ maxLength: 8 }).map((b) => Buffer.from(b).toString('base64')), fc.constantFrom('', 'a', 'ab=', 'a===', '!!!!', 'YQ'));
  const partition = fc.oneof(fc.integer({ min: -2, max: 2 ** 31 + 1 }), fc.constantFrom('0', '7', '2147483647', '2147483648', '-1', 'x', 1.5, true, null));
  const optional = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });
  const json = fc.jsonValue({ maxDepth: 2 });
  const bodyOf = (records: Record<string, unknown>[]) => Buffer.from(JSON.stringify({ records }));
  const strip = (r: Record<string, unknown>) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined));

  it('describes v2 binary produce bodies exactly as decodeV2Produce accepts them', () => {
    const validate = component('ProduceBinaryRequest');
    const record = fc.record({ key: optional(fc.oneof(base64, json)), value: optional(fc.oneof(base64, json)), partition: optional(partition) }).map(strip);
    fc.assert(
      fc.property(fc.array(record, { maxLength: 3 }), (records) => {
        const bytes = bodyOf(records);
        return validate(JSON.parse(bytes.toString())) === accepts(() => decodeV2Produce(bytes, parseRecordsBody(bytes), 'binary', undefined));
      }),
      { numRuns: 1_000 },
    );
  });

  it('describes v2 json produce bodies exactly as decodeV2Produce accepts them', () => {
    const validate = component('ProduceJsonRequest');
    const record = fc.record({ key: optional(json), value: optional(json), partition: optional(partition) }).map(strip);
    fc.assert(
      fc.property(fc.array(record, { maxLength: 3 }), (records) => {
        const bytes = bodyOf(records);
        return validate(JSON.parse(bytes.toString())) === accepts(() => decodeV2Produce(bytes, parseRecordsBody(bytes), 'json', undefined));
      }),
      { numRuns: 1_000 },
    );
  });

  it('describes native v1 produce bodies exactly as decodeNativeProduce accepts them', () => {
    const validate = component('NativeProduceRequest');
    const encoding = fc.constantFrom('base64', 'json', 'hex', null, 1);
    const record = fc
      .record({
        key: optional(fc.oneof(base64, fc.string({ maxLength: 4 }), fc.constant(null), fc.integer())),
        keyEncoding: optional(encoding),
        value: optional(fc.oneof(base64, json)),
        encoding: optional(encoding),
        headers: optional(
          fc.oneof(
            fc.dictionary(fc.string({ maxLength: 3 }), fc.oneof(base64, fc.string({ maxLength: 4 }), fc.integer()), { maxKeys: 2 }),
            // The array form, names repeating, with the shapes it must refuse mixed in.
            fc.array(
              fc.oneof(
                fc.record({ name: fc.constantFrom('h', 'g', ''), value: fc.oneof(base64, fc.string({ maxLength: 4 }), fc.constant(null), fc.integer()) }),
                fc.record({ name: fc.constant('h') }),
                fc.record({ name: fc.constant('h'), value: base64, extra: fc.constant(1) }),
                fc.constant('h'),
              ),
              { maxLength: 3 },
            ),
            fc.constant(null),
          ),
        ),
        headersEncoding: optional(encoding),
        partition: optional(partition),
        timestamp: optional(fc.oneof(fc.integer({ min: -1, max: 2 ** 31 }), fc.constantFrom(2 ** 53, 1.5, '5', null))),
      })
      .map(strip);
    fc.assert(
      fc.property(fc.array(record, { maxLength: 3 }), (records) => {
        const bytes = bodyOf(records);
        return validate(JSON.parse(bytes.toString())) === accepts(() => decodeNativeProduce(bytes, parseRecordsBody(bytes)));
      }),
      { numRuns: 1_000 },
    );
  });
});
