/**
 * The registry under authentication: reading needs an authenticated principal (anonymous ones
 * are refused even when anonymous access is on), changing it needs the `schemas` grant (or
 * `admin: ["*"]`); a principal with topic grants only may read but not register.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueId } from '../support/names.js';
import { http } from '../rest/http.js';

const SR = 'application/vnd.schemaregistry.v1+json';
const sha = (k: string) => createHash('sha256').update(k).digest('hex');
const schema = JSON.stringify({ type: 'record', name: 'A', fields: [{ name: 'a', type: 'int' }] });

describe('schema registry authorization (embedded)', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({
      backend: 'embedded',
      config: {
        auth: {
          anonymous: true,
          anonymousGrants: { read: ['*'], write: ['*'] },
          apiKeys: [
            { id: 'producer', sha256: sha('producer-key-0123456789'), grants: { read: ['*'], write: ['*'] } },
            { id: 'registrar', sha256: sha('registrar-key-0123456789'), grants: { schemas: true } },
            { id: 'root', sha256: sha('root-key-0123456789'), grants: { admin: ['*'] } },
          ],
        },
      },
    });
  });
  afterAll(async () => {
    await gw?.close();
  });
  const as = (key: string | undefined) => (method: string, path: string, body?: unknown) =>
    http(method, `${gw.httpUrl}${path}`, { headers: { 'content-type': SR, ...(key === undefined ? {} : { authorization: `Bearer ${key}` }) }, ...(body === undefined ? {} : { body }) });

  it('refuses anonymous reads (401), lets any authenticated principal read, and only `schemas` / admin write', async () => {
    const subject = uniqueId('auth');
    const anonymous = as(undefined);
    const producer = as('producer-key-0123456789');
    const registrar = as('registrar-key-0123456789');
    const root = as('root-key-0123456789');
    expect((await anonymous('GET', '/subjects')).status).toBe(401);
    expect((await anonymous('POST', `/subjects/${subject}/versions`, { schema })).status).toBe(401);
    const denied = await producer('POST', `/subjects/${subject}/versions`, { schema });
    expect([denied.status, denied.json.error_code]).toEqual([403, 40301]);
    expect((await producer('PUT', '/config', { compatibility: 'NONE' })).status).toBe(403);
    expect((await producer('GET', `/subjects/${subject}/versions`)).json.error_code).toBe(40401); // nothing was registered
    const id = (await registrar('POST', `/subjects/${subject}/versions`, { schema })).json.id;
    expect(id).toEqual(expect.any(Number));
    expect((await producer('GET', `/schemas/ids/${id}`)).status).toBe(200);
    expect((await root('DELETE', `/subjects/${subject}`)).json).toEqual([1]);
    expect((await producer('DELETE', `/subjects/${subject}?permanent=true`)).status).toBe(403);
  });
});
