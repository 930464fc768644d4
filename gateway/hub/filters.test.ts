import { describe, expect, it } from 'vitest';
import { GatewayError } from '../errors.js';
import { compileFilters, mqttMatch, validateMqttFilter } from './filters.js';

const k = (s: string) => Buffer.from(s, 'utf8');

describe('MQTT topic filters over keys', () => {
  it.each([
    ['a/b/c', 'a/b/c', true],
    ['a/+/c', 'a/x/c', true],
    ['a/+/c', 'a/x/y/c', false],
    ['a/#', 'a', true],
    ['a/#', 'a/b/c', true],
    ['#', 'a/b', true],
    ['+', 'a', true],
    ['+', 'a/b', false],
    ['+/+', '/finance', true],
    ['/+', '/finance', true],
    ['+', '/finance', false],
    ['#', '$SYS/x', false],
    ['+/x', '$SYS/x', false],
    ['$SYS/#', '$SYS/x', true],
    ['a/b', 'a/b/', false],
  ])('%s matches %s: %s', (filter, topic, expected) => {
    expect(mqttMatch(filter, topic)).toBe(expected);
  });

  it.each(['', 'a/#/b', 'a#', 'a/b+', 'a/\u0000'])('rejects invalid filter %j', (filter) => {
    expect(() => validateMqttFilter(filter)).toThrow(GatewayError);
  });

  it('compiles several filters into one predicate and never matches null keys except "all"', () => {
    const p = compileFilters([{ kind: 'exact', key: 'x' }, { kind: 'prefix', prefix: 'dev/' }, { kind: 'mqtt', filter: 's/+' }]);
    expect(p(k('x'))).toBe(true);
    expect(p(k('dev/1'))).toBe(true);
    expect(p(k('s/1'))).toBe(true);
    expect(p(k('s/1/2'))).toBe(false);
    expect(p(null)).toBe(false);
    expect(compileFilters([{ kind: 'all' }])(null)).toBe(true);
    expect(compileFilters(undefined)(null)).toBe(true);
  });
});
