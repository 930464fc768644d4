/**
 * The Confluent Schema Registry API on the HTTP port, at the paths registry clients expect
 * (confluent-kafka's SchemaRegistryClient, the Java client, @kafkajs/confluent-schema-registry):
 * `/subjects…`, `/schemas…`, `/config…`, `/compatibility…`, `/mode…`. Bodies and error codes
 * follow Confluent's API reference (docs.confluent.io "Schema Registry API Reference"); the
 * semantics live in the core (gateway/schemas/registry.ts) — this file only translates.
 *
 * Its routes are a table of their own: they are not part of the REST Proxy document at
 * `/openapi.json` (Confluent publishes the registry API separately), see README "Schemas".
 */
import { z } from 'zod';
import type { Gateway } from '../../gateway/api.js';
import { GatewayError } from '../../gateway/errors.js';
import type { SchemaInput, SubjectVersion } from '../../gateway/schemas/registry.js';
import { parseJsonBody } from './codec.js';
import { RestError } from './errors.js';
import { RouteTable, SEG, headerValue, type Reply, type Request } from './http.js';

/** The registry's media type (its responses; requests may also send application/json). */
export const REGISTRY_MEDIA = 'application/vnd.schemaregistry.v1+json';

/** Request media types Confluent's registry accepts. */
const ACCEPTED_REQUEST_TYPES = new Set(['application/vnd.schemaregistry.v1+json', 'application/vnd.schemaregistry+json', 'application/json', 'application/octet-stream']);

/** Whether a path belongs to the registry API. */
export function isRegistryPath(path: string): boolean {
  return (
    path === '/subjects' ||
    path.startsWith('/subjects/') ||
    path.startsWith('/schemas/') ||
    path === '/schemas' ||
    path === '/config' ||
    path.startsWith('/config/') ||
    path.startsWith('/compatibility/') ||
    path === '/mode' ||
    path.startsWith('/mode/')
  );
}

const reference = z.strictObject({ name: z.string().min(1).max(1024), subject: z.string().min(1).max(255), version: z.number().int().min(1).max(2 ** 31 - 1) });
const schemaBody = z.object({
  schema: z.string().min(1),
  schemaType: z.enum(['AVRO', 'JSON', 'PROTOBUF']).optional(),
  references: z.array(reference).max(1_000).optional(),
});
const configBody = z.object({ compatibility: z.string().min(1).max(64).optional(), compatibilityLevel: z.string().min(1).max(64).optional() });
const modeBody = z.object({ mode: z.string().min(1).max(64) });

function reply(status: number, body: unknown): Reply {
  return { status, body: JSON.stringify(body), contentType: REGISTRY_MEDIA };
}

/** A raw schema text (`…/schema` endpoints): the text as registered. */
function rawSchema(schema: string): Reply {
  return { status: 200, body: schema, contentType: REGISTRY_MEDIA };
}

function flag(query: URLSearchParams, name: string): boolean {
  return query.get(name) === 'true';
}

async function jsonBody<T>(r: Request, schema: z.ZodType<T>): Promise<T> {
  const type = headerValue(r.req, 'content-type')?.split(';')[0]?.trim().toLowerCase();
  if (type !== undefined && !ACCEPTED_REQUEST_TYPES.has(type)) throw new RestError('UNSUPPORTED_MEDIA_TYPE', `HTTP 415 Unsupported Media Type: ${type}`);
  const parsed = schema.safeParse(parseJsonBody(await r.body()));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new GatewayError('INVALID_SCHEMA', `Invalid request body${issue === undefined ? '' : `: ${issue.path.join('.') || '(body)'} ${issue.message}`}.`);
  }
  return parsed.data;
}

function schemaId(text: string): number {
  if (!/^[0-9]{1,10}$/.test(text) || Number(text) > 2 ** 31 - 1) throw new GatewayError('SCHEMA_NOT_FOUND', `Schema ${text} not found.`);
  return Number(text);
}

function versionBody(v: SubjectVersion): Record<string, unknown> {
  const body: Record<string, unknown> = { subject: v.subject, version: v.version, id: v.id };
  if (v.schemaType !== 'AVRO') body.schemaType = v.schemaType;
  if (v.references.length > 0) body.references = v.references;
  body.schema = v.schema;
  if (v.deleted) body.deleted = true;
  return body;
}

function toInput(body: z.infer<typeof schemaBody>): SchemaInput {
  return { schema: body.schema, ...(body.schemaType === undefined ? {} : { schemaType: body.schemaType }), ...(body.references === undefined ? {} : { references: body.references }) };
}

/** The registry routes over the core's registry. */
export function defineRegistryRoutes(table: RouteTable, gateway: Gateway): void {
  const registry = () => {
    const r = gateway.schemas;
    if (r === undefined) throw new RestError('NOT_FOUND', 'HTTP 404 Not Found');
    return r;
  };
  const S = SEG;

  table.add('GET', '/schemas/types', async () => reply(200, registry().types()));
  /** `?format=serialized` (Protobuf: a base64 FileDescriptorProto, what confluent-kafka's Protobuf serdes ask for); other formats are the text as registered. */
  const schemaText = async (r: Request, id: number, schemaType: string, text: string): Promise<string> => {
    if (schemaType !== 'PROTOBUF' || r.query.get('format') !== 'serialized') return text;
    return (await registry().compiledById(r.ctx, id)).serialized?.() ?? text;
  };
  table.add('GET', `/schemas/ids/${S}`, async (r) => {
    const id = schemaId(r.params[0]!);
    const s = await registry().schemaById(r.ctx, id);
    const body: Record<string, unknown> = {};
    if (s.schemaType !== 'AVRO') body.schemaType = s.schemaType;
    if (s.references.length > 0) body.references = s.references;
    body.schema = await schemaText(r, id, s.schemaType, s.schema);
    return reply(200, body);
  });
  table.add('GET', `/schemas/ids/${S}/schema`, async ({ ctx, params }) => rawSchema((await registry().schemaById(ctx, schemaId(params[0]!))).schema));
  table.add('GET', `/schemas/ids/${S}/versions`, async ({ ctx, params, query }) => reply(200, await registry().versionsOfId(ctx, schemaId(params[0]!), { deleted: flag(query, 'deleted') })));
  table.add('GET', `/schemas/ids/${S}/subjects`, async ({ ctx, params, query }) => reply(200, [...new Set((await registry().versionsOfId(ctx, schemaId(params[0]!), { deleted: flag(query, 'deleted') })).map((v) => v.subject))]));

  table.add('GET', '/subjects', async ({ ctx, query }) => {
    const prefix = query.get('subjectPrefix');
    return reply(200, await registry().subjects(ctx, { deleted: flag(query, 'deleted'), ...(prefix === null || prefix === ':*:' ? {} : { prefix }) }));
  });
  table.add('POST', `/subjects/${S}`, async (r) => {
    const body = await jsonBody(r, schemaBody);
    return reply(200, versionBody(await registry().lookup(r.ctx, r.params[0]!, toInput(body), { deleted: flag(r.query, 'deleted') })));
  });
  table.add('DELETE', `/subjects/${S}`, async ({ ctx, params, query }) => reply(200, await registry().deleteSubject(ctx, params[0]!, flag(query, 'permanent'))));
  table.add('GET', `/subjects/${S}/versions`, async ({ ctx, params, query }) => reply(200, await registry().versionsOf(ctx, params[0]!, { deleted: flag(query, 'deleted') })));
  table.add('POST', `/subjects/${S}/versions`, async (r) => {
    const body = await jsonBody(r, schemaBody);
    const registered = await registry().register(r.ctx, r.params[0]!, toInput(body));
    return reply(200, { id: registered.id });
  });
  table.add('GET', `/subjects/${S}/versions/${S}`, async (r) => {
    const v = await registry().version(r.ctx, r.params[0]!, r.params[1]!, { deleted: flag(r.query, 'deleted') });
    return reply(200, versionBody({ ...v, schema: await schemaText(r, v.id, v.schemaType, v.schema) }));
  });
  table.add('GET', `/subjects/${S}/versions/${S}/schema`, async ({ ctx, params }) => rawSchema((await registry().version(ctx, params[0]!, params[1]!)).schema));
  table.add('GET', `/subjects/${S}/versions/${S}/referencedby`, async ({ ctx, params }) => reply(200, await registry().referencedBy(ctx, params[0]!, params[1]!)));
  table.add('DELETE', `/subjects/${S}/versions/${S}`, async ({ ctx, params, query }) => reply(200, await registry().deleteVersion(ctx, params[0]!, params[1]!, flag(query, 'permanent'))));

  const compatibility = async (r: Request, version: string | 'all'): Promise<Reply> => {
    const body = await jsonBody(r, schemaBody);
    const result = await registry().testCompatibility(r.ctx, r.params[0]!, version, toInput(body));
    return reply(200, flag(r.query, 'verbose') ? { is_compatible: result.compatible, messages: result.messages } : { is_compatible: result.compatible });
  };
  table.add('POST', `/compatibility/subjects/${S}/versions/${S}`, (r) => compatibility(r, r.params[1]!));
  table.add('POST', `/compatibility/subjects/${S}/versions`, (r) => compatibility(r, 'all'));

  const getConfig = async (r: Request, subject?: string): Promise<Reply> => reply(200, { compatibilityLevel: await registry().compatibility(r.ctx, subject, { defaultToGlobal: flag(r.query, 'defaultToGlobal') }) });
  const putConfig = async (r: Request, subject?: string): Promise<Reply> => {
    const body = await jsonBody(r, configBody);
    const level = body.compatibility ?? body.compatibilityLevel;
    if (level === undefined) throw new GatewayError('INVALID_COMPATIBILITY_LEVEL', 'The body names no compatibility level.');
    return reply(200, { compatibility: await registry().setCompatibility(r.ctx, subject, level) });
  };
  const deleteConfig = async (r: Request, subject?: string): Promise<Reply> => reply(200, { compatibilityLevel: await registry().setCompatibility(r.ctx, subject, undefined) });
  table.add('GET', '/config', (r) => getConfig(r));
  table.add('PUT', '/config', (r) => putConfig(r));
  table.add('DELETE', '/config', (r) => deleteConfig(r));
  table.add('GET', `/config/${S}`, (r) => getConfig(r, r.params[0]!));
  table.add('PUT', `/config/${S}`, (r) => putConfig(r, r.params[0]!));
  table.add('DELETE', `/config/${S}`, (r) => deleteConfig(r, r.params[0]!));

  table.add('GET', '/mode', async (r) => reply(200, { mode: await registry().mode(r.ctx) }));
  table.add('PUT', '/mode', async (r) => reply(200, { mode: await registry().setMode(r.ctx, undefined, (await jsonBody(r, modeBody)).mode) }));
  table.add('GET', `/mode/${S}`, async (r) => reply(200, { mode: await registry().mode(r.ctx, r.params[0]!) }));
  table.add('PUT', `/mode/${S}`, async (r) => reply(200, { mode: await registry().setMode(r.ctx, r.params[0]!, (await jsonBody(r, modeBody)).mode) }));
}
