import mqttPacket from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import {
  orderedUserProperties,
  wireOrderUserProperties,
  decodeRetained,
  encodeRetained,
  filterCovers,
  filtersOverlap,
  messageToRecord,
  parseFilter,
  recordToDelivery,
  Routes,
  topicFilterProblem,
  topicNameProblem,
} from './codec.js';
import { mqttMatch as topicMatches } from '../../gateway/hub/filters.js';
import { Session, type TopicPositions } from './session.js';

describe('topic names and filters', () => {
  it('rejects wildcards, empty names, NUL and ill-formed UTF-8 in topic names', () => {
    expect(topicNameProblem('a/b')).toBeUndefined();
    expect(topicNameProblem('a/+')).toMatch(/wildcard/);
    expect(topicNameProblem('#')).toMatch(/wildcard/);
    expect(topicNameProblem('')).toMatch(/empty/);
    expect(topicNameProblem('a\u0000b')).toMatch(/NUL/);
    expect(topicNameProblem(Buffer.from([0x61, 0xff]).toString('utf8'))).toMatch(/UTF-8/);
    expect(topicNameProblem('a/b/c', 3)).toBeUndefined();
    expect(topicNameProblem('a/b/c/d', 3)).toMatch(/levels/);
    expect(topicFilterProblem('a/+/#', 3)).toBeUndefined();
    expect(topicFilterProblem('a/+/+/#', 3)).toMatch(/levels/);
    expect(typeof parseFilter('$share/g/a/b/c/d', 3)).toBe('string');
  });

  it('validates filters and shared subscriptions', () => {
    expect(topicFilterProblem('a/+/#')).toBeUndefined();
    expect(topicFilterProblem('a/#/b')).toBeDefined();
    expect(topicFilterProblem('a/b#')).toBeDefined();
    expect(topicFilterProblem('a+/b')).toBeDefined();
    expect(parseFilter('$share/g/a/+')).toEqual({ filter: 'a/+', share: 'g' });
    expect(typeof parseFilter('$share/g')).toBe('string');
    expect(typeof parseFilter('$share//a')).toBe('string');
    expect(typeof parseFilter('$share/g+/a')).toBe('string');
  });

  it('matches like the spec, including the $-topic rule', () => {
    expect(topicMatches('sport/tennis/#', 'sport/tennis')).toBe(true);
    expect(topicMatches('sport/+', 'sport/')).toBe(true);
    expect(topicMatches('+/+', '/finance')).toBe(true);
    expect(topicMatches('sport/+', 'sport/tennis/x')).toBe(false);
    expect(topicMatches('#', '$SYS/x')).toBe(false);
    expect(topicMatches('+/x', '$SYS/x')).toBe(false);
    expect(topicMatches('$SYS/#', '$SYS/x')).toBe(true);
  });

  it('decides overlap and cover between filters', () => {
    expect(filtersOverlap('sensors/#', '+/temp')).toBe(true);
    expect(filtersOverlap('sensors/#', 'lights/+')).toBe(false);
    expect(filtersOverlap('#', '$SYS/#')).toBe(false);
    expect(filtersOverlap('a/+', 'a/b/c')).toBe(false);
    expect(filterCovers('sensors/#', 'sensors/+/temp')).toBe(true);
    expect(filterCovers('sensors/+', 'sensors/#')).toBe(false);
    expect(filterCovers('#', '$SYS/x')).toBe(false);
  });
});

describe('routes', () => {
  const routes = new Routes(
    [
      { filter: 'sensors/#', topic: 'sensors', nullKeyTopic: 'sensors' },
      { filter: 'lights/+/state', topic: 'lights', nullKeyTopic: 'lights' },
    ],
    'mqtt-messages',
    'mqtt-messages',
  );
  it('routes by first match, else the default topic', () => {
    expect(routes.topicFor('sensors/a/temp')).toBe('sensors');
    expect(routes.topicFor('lights/k/state')).toBe('lights');
    expect(routes.topicFor('lights/k/other')).toBe('mqtt-messages');
  });
  it('reads every topic a subscription could match', () => {
    expect(routes.topicsFor('sensors/+/temp')).toEqual(['sensors']);
    expect(routes.topicsFor('#').sort()).toEqual(['lights', 'mqtt-messages', 'sensors']);
    expect(routes.topicsFor('lights/#').sort()).toEqual(['lights', 'mqtt-messages']);
    expect(routes.topicsFor('other/x')).toEqual(['mqtt-messages']);
  });
});

const b = (s: string): string => Buffer.from(s).toString('hex');

describe('record mapping', () => {
  it('round-trips MQTT 5 properties through headers', () => {
    const rec = messageToRecord(
      {
        topic: 'a/b',
        payload: Buffer.from('hi'),
        qos: 2,
        retain: true,
        properties: {
          contentType: 'text/plain',
          responseTopic: 'r/1',
          correlationData: Buffer.from([1, 2]),
          payloadFormatIndicator: true,
          userProperties: { k: 'v', multi: ['x', 'y'] },
        },
      },
      'dev-1',
    );
    expect(rec.key?.toString()).toBe('a/b');
    expect(rec.headers!.map((h) => [h.name, h.value.toString('hex')])).toEqual([
      ['mqtt.qos', b('2')],
      ['mqtt.retain', b('1')],
      ['mqtt.client-id', b('dev-1')],
      ['mqtt.content-type', b('text/plain')],
      ['mqtt.response-topic', b('r/1')],
      ['mqtt.correlation-data', '0102'],
      ['mqtt.payload-format', b('1')],
      ['mqtt.up.k', b('v')],
      ['mqtt.up.multi', b('x')],
      ['mqtt.up.multi', b('y')],
    ]);
    const d = recordToDelivery({ topic: 't', partition: 0, offset: 5n, timestamp: Date.now(), key: rec.key!, value: rec.value, headers: rec.headers! }, 't', 1, Date.now());
    expect(d).toMatchObject({ topic: 'a/b', qos: 2, retain: true, clientId: 'dev-1' });
    expect(d?.properties).toMatchObject({ contentType: 'text/plain', responseTopic: 'r/1', payloadFormatIndicator: true, userProperties: { k: 'v', multi: ['x', 'y'] } });
    expect(d?.properties.correlationData).toEqual(Buffer.from([1, 2]));
  });

  it('delivers keyless and foreign records under documented names', () => {
    const now = Date.now();
    const d = recordToDelivery({ topic: 't', partition: 0, offset: 0n, timestamp: now, key: null, value: Buffer.from('x'), headers: [{ name: 'trace', value: Buffer.from('abc') }] }, 'fallback', 1, now);
    expect(d).toMatchObject({ topic: 'fallback', qos: 1, properties: { userProperties: { trace: 'abc' } } });
    expect(recordToDelivery({ topic: 't', partition: 0, offset: 0n, timestamp: now, key: Buffer.from('a/+'), value: null, headers: [] }, 'f', 1, now)).toBeUndefined();
  });

  it('counts message expiry down from the record timestamp', () => {
    const now = Date.now();
    const d = recordToDelivery({ topic: 't', partition: 0, offset: 0n, timestamp: now - 4000, key: Buffer.from('a'), value: null, headers: [{ name: 'mqtt.message-expiry', value: Buffer.from('10') }] }, 'f', 1, now);
    expect(d?.properties.messageExpiryInterval).toBe(6);
  });

  it('stores retained messages losslessly and ignores foreign bytes', () => {
    const m = { payload: Buffer.from([0, 255]), qos: 1 as const, properties: { correlationData: Buffer.from('c'), contentType: 'x' }, storedAt: 5 };
    expect(decodeRetained(encodeRetained(m))).toEqual(m);
    expect(decodeRetained(Buffer.from('nope'))).toBeUndefined();
  });
});

describe('session state', () => {
  it('survives encode/decode', () => {
    const s = new Session('c1');
    s.expiry = 60;
    s.subs.set('a/#', { raw: 'a/#', filter: 'a/#', share: undefined, qos: 1, noLocal: false, retainAsPublished: false, retainHandling: 0, subscriptionId: 3 });
    s.positions.set('a/#', new Map<string, TopicPositions>([['mqtt-messages', new Map([[0, 42n]])], ['other', 'earliest']]));
    s.pending.set(7, { pid: 7, qos: 2, state: 'pubrel', source: { raw: 'a/#', topic: 'mqtt-messages', partition: 0, offset: 40n }, packet: undefined, onAcked: undefined, shared: false });
    s.qos2in.set(9, { key: 'k', done: true });
    s.qos2seq = 4;
    const r = Session.decode('c1', s.encode());
    expect(r.epoch).toBe(s.epoch);
    expect(r.subs.get('a/#')?.subscriptionId).toBe(3);
    expect(r.positions.get('a/#')?.get('mqtt-messages')).toEqual(new Map([[0, 42n]]));
    expect(r.positions.get('a/#')?.get('other')).toBe('earliest');
    expect(r.pending.get(7)).toMatchObject({ qos: 2, state: 'pubrel', source: { offset: 40n } });
    expect(r.qos2in.get(9)).toEqual({ key: 'k', done: true });
    expect(r.qos2seq).toBe(4);
  });
});

describe('user properties in record order on the wire [MQTT-5:3.3.2-17/18]', () => {
  const pair = (name: string, value: string): Buffer => {
    const n = Buffer.from(name);
    const v = Buffer.from(value);
    return Buffer.concat([Buffer.from([0x26, n.length >> 8, n.length & 0xff]), n, Buffer.from([v.length >> 8, v.length & 0xff]), v]);
  };
  const list: [string, string][] = [
    ['x', '1'],
    ['trace', 'a'],
    ['7', 'i'],
    ['trace', 'b'],
    ['x', '2'],
  ];
  const publish = (user: ReturnType<typeof orderedUserProperties>, extra: object = {}, qos: 0 | 1 = 1) =>
    mqttPacket.generate(
      { cmd: 'publish', topic: 'a/b', payload: Buffer.from('p'), qos, dup: false, retain: false, ...(qos > 0 ? { messageId: 7 } : {}), properties: { contentType: 'c', messageExpiryInterval: 9, correlationData: Buffer.from([1]), ...extra, userProperties: user } },
      { protocolVersion: 5 },
    );

  it('mqtt-packet alone groups names (integer-like first); the rewritten packet lists them as the record does', () => {
    for (const qos of [0, 1] as const) {
      const user = orderedUserProperties(list);
      const generated = publish(user, {}, qos);
      const grouped = Buffer.concat([pair('7', 'i'), pair('x', '1'), pair('x', '2'), pair('trace', 'a'), pair('trace', 'b')]);
      expect(generated.indexOf(grouped)).toBeGreaterThan(0);
      const out = wireOrderUserProperties(generated, qos, user);
      expect(out.length).toBe(generated.length);
      expect(out.indexOf(Buffer.concat(list.map(([n, v]) => pair(n, v))))).toBeGreaterThan(0);
      // Still one well-formed PUBLISH with the same properties.
      const parser = mqttPacket.parser({ protocolVersion: 5 });
      const parsed: mqttPacket.Packet[] = [];
      parser.on('packet', (p) => parsed.push(p));
      parser.parse(out);
      expect(parsed).toHaveLength(1);
      expect((parsed[0] as mqttPacket.IPublishPacket).properties).toMatchObject({ contentType: 'c', messageExpiryInterval: 9, userProperties: { x: ['1', '2'], trace: ['a', 'b'], 7: 'i' } });
    }
  });

  it('rewrites only the user-property run: bytes that look like it inside another property stay as sent', () => {
    const user = orderedUserProperties(list);
    const grouped = Buffer.concat([pair('7', 'i'), pair('x', '1'), pair('x', '2'), pair('trace', 'a'), pair('trace', 'b')]);
    const generated = publish(user, { correlationData: grouped });
    const out = wireOrderUserProperties(generated, 1, user);
    expect(out.indexOf(grouped)).toBe(generated.indexOf(grouped)); // the correlation data, untouched
    expect(out.lastIndexOf(Buffer.concat(list.map(([n, v]) => pair(n, v))))).toBeGreaterThan(out.indexOf(grouped));
  });

  it('leaves packets alone when there is no remembered order or nothing to move', () => {
    const plain = publish({ a: ['1', '2'] });
    expect(wireOrderUserProperties(plain, 1, { a: ['1', '2'] })).toBe(plain);
    const inOrder = orderedUserProperties([['a', '1'], ['a', '2'], ['b', '3']]);
    const bytes = publish(inOrder);
    expect(wireOrderUserProperties(bytes, 1, inOrder)).toBe(bytes);
  });

  it('a record with repeated header names is delivered with every user property in order', () => {
    const now = Date.now();
    const headers = list.map(([name, value]) => ({ name: `mqtt.up.${name}`, value: Buffer.from(value) }));
    const d = recordToDelivery({ topic: 't', partition: 0, offset: 0n, timestamp: now, key: Buffer.from('a/b'), value: null, headers }, 'f', 1, now)!;
    const bytes = wireOrderUserProperties(publish(d.properties.userProperties!, {}, 0), 0, d.properties.userProperties);
    expect(bytes.indexOf(Buffer.concat(list.map(([n, v]) => pair(n, v))))).toBeGreaterThan(0);
  });
});
