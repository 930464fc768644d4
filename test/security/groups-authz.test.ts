/**
 * Consumer groups are a resource (issue 16, finding 7): joining a group needs a `groups` grant
 * matching it, whatever the principal may read. Through REST v2 (creating an instance: 403 / 40301), a gRPC
 * Session group subscription (error frame PERMISSION_DENIED) and a gRPC Subscribe with a group
 * (status PERMISSION_DENIED), against the real broker; a principal with the grant joins and reads.
 * And a member id belongs to the principal that joined with it: another principal with the same
 * group grant cannot take it over.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SessionRecorder, SubscribeRecorder } from '../grpc/helpers.js';
import { uniqueId, uniqueTopic } from '../support/names.js';
import { eventually } from '../support/wait.js';
import { bearer, grpcStub, http, SECRET, signToken, startCapturedGateway, unary, type CapturedGateway } from './helpers.js';

const V2 = 'application/vnd.kafka.v2+json';
const V2_JSON = 'application/vnd.kafka.json.v2+json';

let gw: CapturedGateway;
let stub: ReturnType<typeof grpcStub>;
let url: string;
/** Bearer tokens: may read gz-* but names no group / groups alice-* / another principal with groups alice-*. */
const token: Record<'noGroups' | 'alice' | 'carol', string> = { noGroups: '', alice: '', carol: '' };
let topic: string;

beforeAll(async () => {
  gw = await startCapturedGateway({ backend: 'kafka', config: { auth: { jwt: { hs256Secret: SECRET } } } });
  stub = grpcStub(gw.ports.grpc);
  url = `http://127.0.0.1:${gw.ports.http}`;
  token.noGroups = await signToken({ sub: 'nogroups', topics: { read: ['gz-*'], write: ['gz-*'] } });
  token.alice = await signToken({ sub: 'alice', topics: { read: ['gz-*'], groups: ['alice-*'] } });
  token.carol = await signToken({ sub: 'carol', topics: { read: ['gz-*'], groups: ['alice-*'] } });
  topic = uniqueTopic('gz');
  // JSON values (the v2 consumer below is a json one), both in partition 0.
  const produced = await unary(stub, 'Produce', { topic, partition: 0, records: ['"r0"', '"r1"'].map((v) => ({ value: Buffer.from(v) })) }, bearer(token.noGroups));
  expect(produced.error).toBeUndefined();
});
afterAll(async () => {
  stub?.close();
  await gw?.close();
});

const auth = (who: keyof typeof token) => ({ authorization: `Bearer ${token[who]}` });

/** Creates a v2 instance in `group` and subscribes it to the topic; the subscribe answer. */
async function restJoin(who: keyof typeof token, group: string) {
  const created = await http(`${url}/consumers/${group}`, { method: 'POST', headers: { ...auth(who), 'content-type': V2 }, body: JSON.stringify({ format: 'json', 'auto.offset.reset': 'earliest' }) });
  expect(created.status).toBe(200);
  const base = `${url}/consumers/${group}/instances/${created.json().instance_id}`;
  const subscribed = await http(`${base}/subscription`, { method: 'POST', headers: { ...auth(who), 'content-type': V2 }, body: JSON.stringify({ topics: [topic] }) });
  return { base, subscribed };
}

describe('group authorization', () => {
  it('REST v2: no group grant → 403/40301 at instance creation (no name squatting); groups alice-* cannot use bob-group; alice-… is joined and read', async () => {
    for (const [who, group] of [
      ['noGroups', `alice-${uniqueId('g')}`],
      ['alice', uniqueId('bob-group')],
    ] as const) {
      const created = await http(`${url}/consumers/${group}`, { method: 'POST', headers: { ...auth(who), 'content-type': V2 }, body: JSON.stringify({ name: 'squat', format: 'json' }) });
      expect({ who, group, status: created.status, code: created.json().error_code }).toEqual({ who, group, status: 403, code: 40301 });
      // Nothing was created: the name stays free for whoever may use the group.
      expect((await http(`${url}/consumers/${group}/instances/squat/subscription`, { headers: auth(who) })).status).toBe(404);
    }
    const { base, subscribed } = await restJoin('alice', `alice-${uniqueId('g')}`);
    expect(subscribed.status).toBe(204);
    const seen: unknown[] = [];
    await eventually(async () => {
      seen.push(...(await http(`${base}/records?timeout=200`, { headers: { ...auth('alice'), accept: V2_JSON } })).json().map((r: { value: unknown }) => r.value));
      return seen.length >= 2;
    });
    expect(seen).toEqual(['r0', 'r1']);
    expect((await http(base, { method: 'DELETE', headers: auth('alice') })).status).toBe(204);
    const denials = gw.logs().filter((l) => l.audit === 'denied' && l.action === 'group');
    expect(denials.map((l) => l.principal)).toEqual(expect.arrayContaining(['nogroups', 'alice']));
  });

  it('gRPC Session: no group grant / a group outside the grant → PERMISSION_DENIED; a granted group is joined and read', async () => {
    for (const [who, group] of [
      ['noGroups', `alice-${uniqueId('g')}`],
      ['alice', uniqueId('bob-group')],
    ] as const) {
      const s = new SessionRecorder(stub, bearer(token[who]));
      s.send({ subscribe: { id: 'g', topic, group, position: { earliest: {} }, credit: 10 } });
      expect({ who, error: await s.waitFor('error', (f) => f.id === 'g') }).toMatchObject({ who, error: { code: 'PERMISSION_DENIED' } });
      expect(s.of('subscribed')).toEqual([]);
      s.close();
    }
    const s = new SessionRecorder(stub, bearer(token.alice));
    s.send({ subscribe: { id: 'g', topic, group: `alice-${uniqueId('g')}`, position: { earliest: {} }, credit: 10 } });
    await s.waitFor('subscribed');
    await eventually(() => s.records('g').length === 2);
    s.close();
  });

  it('gRPC Subscribe with a group: no group grant / a group outside the grant → PERMISSION_DENIED; a granted group streams', async () => {
    for (const [who, group] of [
      ['noGroups', `alice-${uniqueId('g')}`],
      ['alice', uniqueId('bob-group')],
    ] as const) {
      const s = new SubscribeRecorder(stub, { topic, group, position: { earliest: {} } }, bearer(token[who]));
      const error = await eventually(() => s.error, { what: `${who}: Subscribe status` });
      expect({ who, code: error.code }).toEqual({ who, code: grpc.status.PERMISSION_DENIED });
      expect(s.records()).toEqual([]);
    }
    const s = new SubscribeRecorder(stub, { topic, group: `alice-${uniqueId('g')}`, position: { earliest: {} } }, bearer(token.alice));
    await s.subscribed();
    await eventually(() => s.records().length === 2);
    s.call.cancel();
  });

  it("a member id is the joining principal's: carol (same group grant) cannot take over alice's member", async () => {
    const group = `alice-${uniqueId('shared')}`;
    const a = new SessionRecorder(stub, bearer(token.alice));
    a.send({ subscribe: { id: 'g', topic, group, member_id: 'm1', position: { earliest: {} }, credit: 10 } });
    await a.waitFor('subscribed');
    await eventually(() => a.records('g').length === 2);

    const c = new SessionRecorder(stub, bearer(token.carol));
    c.send({ subscribe: { id: 'g', topic, group, member_id: 'm1', position: { earliest: {} }, credit: 10 } });
    expect(await c.waitFor('error', (f) => f.id === 'g')).toMatchObject({ code: 'PERMISSION_DENIED' });
    // Alice's member is untouched: still subscribed (no end frame) and still its partition's owner.
    a.send({ commit: { id: 'c', subscription_id: 'g', offsets: [{ partition: 0, offset: '2' }] } });
    await a.waitFor('committed', (f) => f.id === 'c');
    expect(a.of('end')).toEqual([]);
    expect(gw.logs().some((l) => l.audit === 'denied' && l.action === 'group_member' && l.principal === 'carol')).toBe(true);
    // Carol with a member id of her own joins the same group.
    c.send({ subscribe: { id: 'g2', topic, group, member_id: 'm2', position: { earliest: {} }, credit: 10 } });
    await c.waitFor('subscribed', (f) => f.id === 'g2');
    a.close();
    c.close();
  });
});
