/**
 * Issue 16, finding 14 (base_uri): the v2 consumer `base_uri` was built from the request's `Host`
 * header, so a forged Host sent the client's later requests (and its credentials) to another
 * server. Now it is `rest.advertisedUrl`, else the listener's own address. Before the fix the
 * forged host appeared in base_uri.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueId } from '../support/names.js';
import { http, V2 } from '../rest/http.js';

const create = (gw: TestGateway, headers: Record<string, string> = {}) =>
  http('POST', `${gw.httpUrl}/consumers/${uniqueId('g')}`, { headers: { 'content-type': V2, ...headers }, body: { format: 'binary' } });

describe('v2 base_uri without rest.advertisedUrl', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ backend: 'embedded' });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('is the listener address, whatever Host the client sends; it works', async () => {
    for (const host of ['evil.example:666', 'attacker.test', '127.0.0.1:1']) {
      const res = await create(gw, { host });
      expect(res.status).toBe(200);
      expect(res.json.base_uri).not.toContain(host);
      expect(res.json.base_uri).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${gw.ports.http}/consumers/[^/]+/instances/${res.json.instance_id}$`));
    }
    const res = await create(gw);
    expect((await http('GET', `${res.json.base_uri}/subscription`)).json).toEqual({ topics: [] });
  });
});

describe('v2 base_uri with rest.advertisedUrl', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ backend: 'embedded', env: { STREAMGATE_REST_ADVERTISED_URL: 'https://stream.example.com/gw/' } });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it('is the configured URL (set by environment variable), never the Host header', async () => {
    const res = await create(gw, { host: 'evil.example' });
    expect(res.status).toBe(200);
    expect(res.json.base_uri).toBe(`https://stream.example.com/gw/consumers/${res.json.base_uri.split('/consumers/')[1]}`);
    expect(res.json.base_uri).not.toContain('evil');
  });

  it('an advertisedUrl that is not an http(s) URL stops the start naming the key', async () => {
    await expect(startTestGateway({ backend: 'embedded', config: { rest: { advertisedUrl: 'ftp://x' } } })).rejects.toThrow(/rest\.advertisedUrl/);
  });
});
