/**
 * REST v2 consumer instances belong to the principal that created them (issue 16, trust model):
 * another principal that knows the instance URL gets exactly what a missing instance answers
 * (404 / 40403 "Consumer instance not found."), on every instance route, on the gateway that holds
 * the instance and through another gateway sharing the instance record; each attempt is audited,
 * and the owner's instance is untouched (not moved, not consumed, not deleted).
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';
import { http, signToken, startCapturedGateway, SECRET, type CapturedGateway } from './helpers.js';

const ALICE_KEY = 'ownership-alice-key-6d2f0b9a41';
const sha = (key: string) => createHash('sha256').update(key).digest('hex');
const V2 = 'application/vnd.kafka.v2+json';
const V2_JSON = 'application/vnd.kafka.json.v2+json';
const GRANTS = { read: ['own-*'], write: ['own-*'], groups: ['own-*'] };
const config = {
  auth: { jwt: { hs256Secret: SECRET }, apiKeys: [{ id: 'alice', sha256: sha(ALICE_KEY), grants: GRANTS }] },
  groups: { heartbeatMs: 200, sessionTimeoutMs: 3000 },
};

let alice: Record<string, string>;
let bob: Record<string, string>;
beforeAll(async () => {
  alice = { authorization: `Bearer ${ALICE_KEY}` };
  // Bob: a JWT principal with exactly Alice's grants — only ownership tells them apart.
  bob = { authorization: `Bearer ${await signToken({ sub: 'bob', topics: GRANTS })}` };
});

type Call = { name: string; method: string; path: string; body?: unknown; accept?: string };

/** Every route of one instance, with a body each would accept from its owner. */
function instanceCalls(topic: string): Call[] {
  return [
    { name: 'records', method: 'GET', path: '/records?timeout=0', accept: V2_JSON },
    { name: 'commit', method: 'POST', path: '/offsets', body: { offsets: [{ topic, partition: 0, offset: 0 }] } },
    { name: 'commit all', method: 'POST', path: '/offsets' },
    { name: 'read offsets', method: 'GET', path: '/offsets', body: { partitions: [{ topic, partition: 0 }] } },
    { name: 'subscribe', method: 'POST', path: '/subscription', body: { topics: [topic] } },
    { name: 'subscription', method: 'GET', path: '/subscription' },
    { name: 'assignments', method: 'GET', path: '/assignments' },
    { name: 'assign', method: 'POST', path: '/assignments', body: { partitions: [{ topic, partition: 0 }] } },
    { name: 'seek', method: 'POST', path: '/positions', body: { offsets: [{ topic, partition: 0, offset: 0 }] } },
    { name: 'seek to beginning', method: 'POST', path: '/positions/beginning', body: { partitions: [{ topic, partition: 0 }] } },
    { name: 'seek to end', method: 'POST', path: '/positions/end', body: { partitions: [{ topic, partition: 0 }] } },
    { name: 'unsubscribe', method: 'DELETE', path: '/subscription' },
    { name: 'delete', method: 'DELETE', path: '' },
  ];
}

/** Node sends a GET body only with a declared length (Confluent's `GET …/offsets` has one). */
function withBody(body: unknown): { body: string; headers: Record<string, string> } {
  const text = JSON.stringify(body);
  return { body: text, headers: { 'content-type': V2, 'content-length': String(Buffer.byteLength(text)) } };
}

function send(base: string, c: Call, headers: Record<string, string>) {
  const b = c.body === undefined ? undefined : withBody(c.body);
  return http(`${base}${c.path}`, { method: c.method, headers: { ...headers, ...b?.headers, accept: c.accept ?? V2 }, ...(b === undefined ? {} : { body: b.body }) });
}

/** Bob tries every route of the instance at `base`: each answers as a missing instance would. */
async function bobIsRefusedEverywhere(base: string, missing: string, topic: string): Promise<void> {
  for (const c of instanceCalls(topic)) {
    const res = await send(base, c, bob);
    const absent = await send(missing, c, bob);
    expect({ call: c.name, status: res.status, body: res.json() }).toEqual({ call: c.name, status: 404, body: { error_code: 40403, message: 'Consumer instance not found.' } });
    expect({ call: c.name, status: res.status, body: res.body }).toEqual({ call: c.name, status: absent.status, body: absent.body });
  }
}

async function createAndSubscribe(baseUrl: string, group: string, name: string, topic: string): Promise<string> {
  const created = await http(`${baseUrl}/consumers/${group}`, {
    method: 'POST',
    headers: { ...alice, 'content-type': V2 },
    body: JSON.stringify({ name, format: 'json', 'auto.offset.reset': 'earliest', 'auto.commit.enable': 'false' }),
  });
  expect(created.status).toBe(200);
  const base = `${baseUrl}/consumers/${group}/instances/${name}`;
  expect((await http(`${base}/subscription`, { method: 'POST', headers: { ...alice, 'content-type': V2 }, body: JSON.stringify({ topics: [topic] }) })).status).toBe(204);
  return base;
}

async function aliceReads(base: string, n: number): Promise<unknown[]> {
  const seen: unknown[] = [];
  await eventually(async () => {
    const res = await http(`${base}/records?timeout=200`, { headers: { ...alice, accept: V2_JSON } });
    expect(res.status).toBe(200);
    seen.push(...res.json().map((r: { value: unknown }) => r.value));
    return seen.length >= n;
  });
  return seen;
}

async function produce(baseUrl: string, topic: string, values: unknown[]): Promise<void> {
  const res = await http(`${baseUrl}/topics/${topic}`, { method: 'POST', headers: { ...alice, 'content-type': V2_JSON }, body: JSON.stringify({ records: values.map((value) => ({ value, partition: 0 })) }) });
  expect(res.status).toBe(200);
}

describe('REST v2 consumer instances belong to their creator (one gateway)', () => {
  let gw: CapturedGateway;
  beforeAll(async () => {
    gw = await startCapturedGateway({ config });
  });
  afterAll(async () => {
    await gw?.close();
  });

  it("bob cannot poll, commit, subscribe, seek, read offsets of or delete alice's instance; each try is audited; alice can", async () => {
    const url = `http://127.0.0.1:${gw.ports.http}`;
    const topic = uniqueTopic('own');
    const group = uniqueId('own');
    await produce(url, topic, ['a0', 'a1']);
    const base = await createAndSubscribe(url, group, 'alice-consumer', topic);

    await bobIsRefusedEverywhere(base, `${url}/consumers/${group}/instances/no-such-instance`, topic);
    const audited = await eventually(() => {
      const lines = gw.logs().filter((l) => l.audit === 'denied' && l.action === 'consumer_instance');
      return lines.length >= instanceCalls(topic).length ? lines : undefined;
    });
    for (const l of audited) expect(l).toMatchObject({ level: 40, principal: 'bob', group, instance: 'alice-consumer', owner: expect.stringContaining('alice'), protocol: 'rest' });

    // Alice's instance is as she left it: subscribed, nothing consumed, not deleted.
    expect((await http(`${base}/subscription`, { headers: alice })).json()).toEqual({ topics: [topic] });
    expect(await aliceReads(base, 2)).toEqual(['a0', 'a1']);
    expect((await http(`${base}/offsets`, { method: 'POST', headers: { ...alice, 'content-type': V2 }, body: JSON.stringify({ offsets: [{ topic, partition: 0, offset: 1 }] }) })).status).toBe(200);
    const query = withBody({ partitions: [{ topic, partition: 0 }] });
    const committed = await http(`${base}/offsets`, { headers: { ...alice, ...query.headers }, body: query.body });
    expect(committed.json()).toEqual({ offsets: [{ topic, partition: 0, offset: 2, metadata: '' }] });
    expect((await http(base, { method: 'DELETE', headers: alice })).status).toBe(204);
  });
});

describe('REST v2 consumer instances belong to their creator (two gateways sharing the instance record)', () => {
  let a: CapturedGateway;
  let b: CapturedGateway;
  beforeAll(async () => {
    a = await startCapturedGateway({ backend: 'kafka', config });
    b = await startCapturedGateway({ backend: 'kafka', config });
  });
  afterAll(async () => {
    await Promise.allSettled([a?.close(), b?.close()]);
  });

  it("bob is refused through the other gateway and does not take the instance over; alice's own request through it adopts the instance", async () => {
    const urlA = `http://127.0.0.1:${a.ports.http}`;
    const urlB = `http://127.0.0.1:${b.ports.http}`;
    const topic = uniqueTopic('own-multi');
    const group = uniqueId('own-multi');
    await produce(urlA, topic, ['m0', 'm1', 'm2']);
    const viaA = await createAndSubscribe(urlA, group, 'alice-consumer', topic);
    const viaB = `${urlB}/consumers/${group}/instances/alice-consumer`;
    // B knows the instance once the shared record reached it: from then on bob's tries are refused
    // as another principal's (audited), not as a missing instance. (Alice cannot probe B: her own
    // request through B would move the instance there.)
    await eventually(async () => {
      await http(`${viaB}/subscription`, { headers: bob });
      return b.logs().some((l) => l.audit === 'denied' && l.action === 'consumer_instance');
    }, { what: 'B refuses bob as not the owner' });
    await bobIsRefusedEverywhere(viaB, `${urlB}/consumers/${group}/instances/no-such-instance`, topic);
    expect(b.logs().filter((l) => l.audit === 'denied' && l.action === 'consumer_instance' && l.principal === 'bob').length).toBeGreaterThanOrEqual(instanceCalls(topic).length);
    expect(b.logs().some((l) => l.msg === 'consumer instance adopted from another gateway')).toBe(false);

    // Still held by A, untouched.
    expect(await aliceReads(viaA, 3)).toEqual(['m0', 'm1', 'm2']);
    expect(a.logs().some((l) => l.msg === 'consumer instance moved to another gateway')).toBe(false);

    // Alice through B: the instance moves there and continues (auto-commit off: from the group's start).
    expect((await http(`${viaB}/subscription`, { headers: alice })).json()).toEqual({ topics: [topic] });
    await eventually(() => a.logs().some((l) => l.msg === 'consumer instance moved to another gateway'), { what: 'A lets go of the instance' });
    expect(await aliceReads(viaB, 3)).toEqual(['m0', 'm1', 'm2']);
    // Bob is refused on B now that B holds it, and through A that no longer does.
    await bobIsRefusedEverywhere(viaB, `${urlB}/consumers/${group}/instances/no-such-instance`, topic);
    await bobIsRefusedEverywhere(viaA, `${urlA}/consumers/${group}/instances/no-such-instance`, topic);
    expect((await http(viaB, { method: 'DELETE', headers: alice })).status).toBe(204);
  });
});
