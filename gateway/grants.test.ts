import { describe, expect, it } from 'vitest';
import { expandIdentityPattern, filtersOverlap, globMatch, grantsSchema, Scope, type MqttRouting } from './grants.js';

const grants = (g: Record<string, unknown>) => grantsSchema.parse(g);
const key = (k: string | null) => (k === null ? null : Buffer.from(k));
const routing: MqttRouting = { routes: [{ filter: 'sensors/#', topic: 'sensors' }, { filter: 'cmd/+/in', topic: 'commands' }], defaultTopic: 'mqtt-messages' };

describe('globMatch', () => {
  it('matches * as any run and everything else literally', () => {
    expect(globMatch('a.*', 'a.b.c')).toBe(true);
    expect(globMatch('a.*', 'ab')).toBe(false);
    expect(globMatch('*', '')).toBe(true);
    expect(globMatch('a.b', 'aXb')).toBe(false);
    expect(globMatch('*-in-*', 'x-in-y')).toBe(true);
    expect(globMatch('a*b*c', 'aXXbYYc')).toBe(true);
    expect(globMatch('a*b*c', 'aXXbYY')).toBe(false);
    expect(globMatch('(.*)', '(.*)')).toBe(true);
  });

  it('runs in linear time on the shapes that make backtracking matchers explode', () => {
    // 200k characters, 9 stars: a backtracking matcher would not finish within the test timeout.
    expect(globMatch('*a*a*a*a*a*a*a*a*b', 'a'.repeat(200_000))).toBe(false);
  });
});

describe('expandIdentityPattern', () => {
  it('substitutes {sub} and {claim:NAME}', () => {
    expect(expandIdentityPattern('devices/{sub}/#', { id: 'apikey:d1', subject: 'd1' })).toBe('devices/d1/#');
    expect(expandIdentityPattern('{claim:tenant}-*', { id: 'u', claims: { tenant: 'acme' } })).toBe('acme-*');
  });

  it('refuses values that would widen the pattern, and missing claims', () => {
    for (const subject of ['#', '+', 'a/b', 'x*', '']) expect(expandIdentityPattern('devices/{sub}/#', { id: 'x', subject })).toBeUndefined();
    expect(expandIdentityPattern('{claim:tenant}', { id: 'u', claims: {} })).toBeUndefined();
  });
});

describe('Scope', () => {
  it('grants every key of a topic pattern, and only matching keys of a key grant', () => {
    const scope = Scope.compile(grants({ read: ['public.*', { topic: 'telemetry', key: 'devices/{sub}/#' }], write: [] }), { id: 'd1' });
    expect(scope.access('read', 'public.news').kind).toBe('all');
    expect(scope.permits('read', 'telemetry', key('devices/d1/temp'))).toBe(true);
    expect(scope.permits('read', 'telemetry', key('devices/d1'))).toBe(true);
    expect(scope.permits('read', 'telemetry', key('devices/d2/temp'))).toBe(false);
    expect(scope.permits('read', 'telemetry', null)).toBe(false);
    expect(scope.access('read', 'billing').kind).toBe('none');
    expect(scope.access('write', 'public.news').kind).toBe('none');
  });

  it('expands the MQTT shorthand into the Kafka topics the routes can put the MQTT topics in', () => {
    const scope = Scope.compile(grants({ write: [{ mqtt: 'sensors/{sub}/#' }, { mqtt: 'cmd/{sub}/in' }, { mqtt: 'status/{sub}' }] }), { id: 'd1' }, routing);
    expect(scope.permits('write', 'sensors', key('sensors/d1/t'))).toBe(true);
    expect(scope.permits('write', 'sensors', key('sensors/d2/t'))).toBe(false);
    expect(scope.permits('write', 'commands', key('cmd/d1/in'))).toBe(true);
    expect(scope.permits('write', 'mqtt-messages', key('status/d1'))).toBe(true);
    // sensors/d1/# is wholly covered by the sensors route: nothing of it can be in the default topic.
    expect(scope.permits('write', 'mqtt-messages', key('sensors/d1/t'))).toBe(false);
    expect(scope.access('write', 'other').kind).toBe('none');
    // Without MQTT routing the shorthand grants nothing.
    expect(Scope.compile(grants({ write: [{ mqtt: '#' }] }), { id: 'x' }).access('write', 'mqtt-messages').kind).toBe('none');
  });

  it('drops an entry whose identity would widen it instead of granting more', () => {
    const scope = Scope.compile(grants({ read: [{ mqtt: 'devices/{sub}/#' }] }), { id: '#' }, routing);
    expect(scope.access('read', 'mqtt-messages').kind).toBe('none');
  });

  it('lets admin read and write every key and use every group of its topics', () => {
    const scope = Scope.compile(grants({ admin: ['ops.*'], groups: ['team-*'] }), { id: 'op' });
    expect(scope.permits('write', 'ops.audit', null)).toBe(true);
    expect(scope.permitsGroup('anything', ['ops.audit'])).toBe(true);
    expect(scope.permitsGroup('anything', ['ops.audit', 'billing'])).toBe(false);
    expect(scope.permitsGroup('team-a', ['billing'])).toBe(true);
    expect(scope.metrics).toBe(false);
    expect(Scope.compile(grants({ admin: ['*'] }), { id: 'root' }).metrics).toBe(true);
  });

  it('allows nothing when empty', () => {
    expect(Scope.EMPTY.access('read', 'x').kind).toBe('none');
    expect(Scope.EMPTY.permitsGroup('g', ['x'])).toBe(false);
  });
});

describe('filtersOverlap', () => {
  const mqtt = (filter: string) => ({ kind: 'mqtt', filter }) as const;
  it('decides whether two MQTT filters can match one topic', () => {
    expect(filtersOverlap(mqtt('#'), mqtt('devices/d1/#'))).toBe(true);
    expect(filtersOverlap(mqtt('devices/+/temp'), mqtt('devices/d1/#'))).toBe(true);
    expect(filtersOverlap(mqtt('devices/d2/#'), mqtt('devices/d1/#'))).toBe(false);
    expect(filtersOverlap(mqtt('a/b'), mqtt('a/b/c'))).toBe(false);
    expect(filtersOverlap(mqtt('a/#'), mqtt('a'))).toBe(true);
    expect(filtersOverlap(mqtt('#'), mqtt('$SYS/x'))).toBe(false);
  });

  it('compares exact keys and prefixes with filters', () => {
    expect(filtersOverlap({ kind: 'exact', key: 'devices/d1/t' }, mqtt('devices/d1/#'))).toBe(true);
    expect(filtersOverlap({ kind: 'exact', key: 'devices/d2/t' }, mqtt('devices/d1/#'))).toBe(false);
    expect(filtersOverlap({ kind: 'prefix', prefix: 'ab' }, { kind: 'prefix', prefix: 'a' })).toBe(true);
    expect(filtersOverlap({ kind: 'prefix', prefix: 'ab' }, { kind: 'prefix', prefix: 'b' })).toBe(false);
    expect(filtersOverlap({ kind: 'all' }, mqtt('x'))).toBe(true);
  });
});
