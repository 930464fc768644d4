/**
 * Issue 16, finding 2: Confluent v2 `topic_pattern` ran the client's regex with a backtracking
 * RegExp on the event loop (`(.*.*.*)*Z` froze every protocol for 77 s). Now RE2 matches (linear)
 * and a pre-scan bounds what RE2 compiles. Asserted: pathological patterns against long topic
 * names answer promptly and the event loop stays unblocked (monitorEventLoopDelay); patterns RE2
 * compiles slowly and Java features RE2 lacks get 422; valid patterns still full-match.
 * Before the fix the three REST subscriptions below never answered (exponential backtracking).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileTopicPattern, MAX_TOPIC_PATTERN_LENGTH } from '../../adapters/rest/topic-pattern.js';
import { RestError } from '../../adapters/rest/errors.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueId } from '../support/names.js';
import { http, V2 } from '../rest/http.js';
import { PATHOLOGICAL_PATTERNS } from './corpus.js';
import { MAX_EVENT_LOOP_DELAY_MS, measureEventLoop } from './event-loop.js';


/** Patterns RE2 itself compiles slowly (measured 0.4 s – 90 s), or cannot compile: refused before RE2 sees them. */
const COMPILE_BOMBS = [
  'a{2,1000}'.repeat(113),
  '(?:\\pL\\pL\\pL\\pL\\pL\\pL\\pL\\pL\\pL\\pL){1000}',
  '\\pL'.repeat(300),
  '(?:[a-z]{100}){100}',
  '(?:.{1000}){50}',
  'x'.repeat(MAX_TOPIC_PATTERN_LENGTH + 1),
];

/** Java Pattern syntax RE2 does not have: each is a 422, not a silent different meaning. */
const JAVA_ONLY = ['(a)\\1', '(?=a)a', '(?!b)a', '(?<=a)b', '(?<!a)b', '(?>a)', 'a*+', 'a\\Z', '\\p{javaLowerCase}'];

function refusal(pattern: string): RestError | undefined {
  try {
    compileTopicPattern(pattern);
    return undefined;
  } catch (err) {
    return err as RestError;
  }
}

describe('compileTopicPattern', () => {
  it('full-matches like Java Matcher.matches(), with RE2 syntax', () => {
    const p = compileTopicPattern('orders-.*');
    expect(p.test('orders-eu')).toBe(true);
    expect(p.test('x-orders-eu')).toBe(false);
    expect(compileTopicPattern('a|b').test('ab')).toBe(false);
    expect(compileTopicPattern('a|b').test('b')).toBe(true);
    expect(compileTopicPattern('(?i)ORDERS').test('orders')).toBe(true);
    expect(compileTopicPattern('\\Qa.b\\E').test('aXb')).toBe(false);
    expect(compileTopicPattern('[a-z]{2,5}\\.[0-9]+').test('ab.12')).toBe(true);
    expect(compileTopicPattern('x{3}').test('xxx')).toBe(true);
  });

  it('an unbalanced ")" cannot close the anchoring group (a)|(b would otherwise match any name starting with a)', () => {
    expect(refusal('a)|(b')).toMatchObject({ kind: 'UNPROCESSABLE' });
    expect(refusal('a)')).toMatchObject({ kind: 'UNPROCESSABLE' });
    expect(compileTopicPattern('[)]').test(')')).toBe(true);
    expect(compileTopicPattern('\\)').test(')')).toBe(true);
  });

  it('pathological backtracking patterns match a 249-character name in linear time', () => {
    for (const pattern of PATHOLOGICAL_PATTERNS) {
      const re = compileTopicPattern(pattern);
      for (const name of ['a'.repeat(249), 'x'.repeat(248) + '-', 'a'.repeat(248) + '!']) {
        const t0 = performance.now();
        re.test(name);
        expect(performance.now() - t0, `${pattern} on ${name.slice(0, 3)}…`).toBeLessThan(20);
      }
    }
  });

  it('patterns that would make RE2 compile for seconds, and over-long ones, are refused at once', () => {
    for (const pattern of COMPILE_BOMBS) {
      const t0 = performance.now();
      expect(refusal(pattern), pattern.slice(0, 40)).toMatchObject({ kind: 'UNPROCESSABLE' });
      expect(performance.now() - t0, pattern.slice(0, 40)).toBeLessThan(50);
    }
  });

  it('Java-only syntax (backreferences, lookaround, atomic, possessive) is a 422 naming the problem', () => {
    for (const pattern of JAVA_ONLY) {
      const err = refusal(pattern);
      expect(err, pattern).toMatchObject({ kind: 'UNPROCESSABLE' });
      expect(err!.message, pattern).toMatch(/^topic_pattern is not a valid regular expression: /);
    }
  });

  it('a pattern just within the bounds compiles quickly', () => {
    const list = Array.from({ length: 80 }, (_, i) => `orders-${i}`).join('|');
    for (const pattern of [list.slice(0, list.lastIndexOf('|', MAX_TOPIC_PATTERN_LENGTH)), 'a?'.repeat(512), '.'.repeat(1000), '[^a]'.repeat(256), '(?:[a-z0-9]{10}){100}']) {
      const t0 = performance.now();
      compileTopicPattern(pattern);
      expect(performance.now() - t0, pattern.slice(0, 40)).toBeLessThan(100);
    }
  });
});

describe('REST v2 topic_pattern over HTTP (embedded)', () => {
  let gw: TestGateway;
  const prefix = uniqueId('re');
  const topics = [`${prefix}-${'a'.repeat(200)}`, `${prefix}-${'x'.repeat(200)}-`, `${prefix}-ok`];
  beforeAll(async () => {
    gw = await startTestGateway({ backend: 'embedded' });
    for (const t of topics) {
      const res = await http('POST', `${gw.httpUrl}/v1/topics/${t}/records`, { headers: { 'content-type': 'application/json' }, body: { records: [{ value: 1 }] } });
      expect(res.status).toBe(200);
    }
  });
  afterAll(async () => {
    await gw?.close();
  });

  async function consumer(): Promise<string> {
    const created = await http('POST', `${gw.httpUrl}/consumers/${uniqueId('g')}`, { headers: { 'content-type': V2 }, body: { format: 'binary' } });
    expect(created.status).toBe(200);
    return `${gw.httpUrl}/consumers/${created.json.base_uri.split('/consumers/')[1]}`;
  }

  it('pathological patterns against long topic names: 204 at once, the event loop never blocked', async () => {
    const { blockedMs } = await measureEventLoop(async () => {
      for (const pattern of PATHOLOGICAL_PATTERNS) {
        const base = await consumer();
        const res = await http('POST', `${base}/subscription`, { headers: { 'content-type': V2 }, body: { topic_pattern: `${prefix}-${pattern}` } });
        expect(res.status, `${pattern}: ${res.text}`).toBe(204);
      }
    });
    expect(blockedMs).toBeLessThan(MAX_EVENT_LOOP_DELAY_MS);
  });

  it('a valid pattern subscribes to exactly the topics it full-matches', async () => {
    const base = await consumer();
    expect((await http('POST', `${base}/subscription`, { headers: { 'content-type': V2 }, body: { topic_pattern: `${prefix}-(ok|a+)` } })).status).toBe(204);
    expect((await http('GET', `${base}/subscription`)).json.topics.sort()).toEqual([topics[0], topics[2]].sort());
  });

  it('compile bombs and Java-only syntax: 422 with error_code 422, promptly, the instance still usable', async () => {
    const base = await consumer();
    const { blockedMs } = await measureEventLoop(async () => {
      for (const pattern of [...COMPILE_BOMBS, ...JAVA_ONLY, 'a)|(b']) {
        const res = await http('POST', `${base}/subscription`, { headers: { 'content-type': V2 }, body: { topic_pattern: pattern } });
        expect(res.status, pattern.slice(0, 40)).toBe(422);
        expect(res.json).toMatchObject({ error_code: 422, message: expect.stringMatching(/^topic_pattern /) });
      }
    });
    expect(blockedMs).toBeLessThan(MAX_EVENT_LOOP_DELAY_MS);
    expect((await http('POST', `${base}/subscription`, { headers: { 'content-type': V2 }, body: { topic_pattern: `${prefix}-ok` } })).status).toBe(204);
    expect((await http('GET', `${base}/subscription`)).json).toEqual({ topics: [topics[2]] });
  });
});
