/**
 * Protocol strictness (issue #17): packets that break a rule mqtt-packet's parser lets through are
 * refused with the reason code the spec requires, per version, before any handler or
 * acknowledgement runs — v5 says why (CONNACK / DISCONNECT), 3.1.1 closes the connection. Frames
 * are crafted by hand where mqtt-packet's generator will not produce them. Each case also shows
 * what does NOT happen (no SUBACK, no PUBACK, nothing stored), and the gateway keeps serving.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectClient, RawClient } from '../mqtt/helpers.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';
import { uniqueId, uniqueTopic } from '../support/names.js';

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({ backend: 'embedded', config: { mqtt: { defaultTopic: uniqueTopic('mqtt-strict') } } });
});
afterAll(async () => {
  await gw?.close();
});

// ---- hand-made frames ---------------------------------------------------------------------------

const bytes = (s: string | number[]): number[] => (typeof s === 'string' ? [...Buffer.from(s, 'utf8')] : s);
/** An MQTT string or binary field: two length bytes, then the bytes (not necessarily UTF-8). */
const str = (s: string | number[]): number[] => {
  const b = bytes(s);
  return [b.length >> 8, b.length & 0xff, ...b];
};
const varint = (n: number): number[] => {
  const out: number[] = [];
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return out;
};
const frame = (first: number, body: number[]): Buffer => Buffer.from([first, ...varint(body.length), ...body]);
/** A v5 property block: its length, then the properties. */
const props = (...ps: number[][]): number[] => {
  const flat = ps.flat();
  return [...varint(flat.length), ...flat];
};
const P = {
  contentType: (s: string | number[]) => [0x03, ...str(s)],
  responseTopic: (s: string) => [0x08, ...str(s)],
  subscriptionId: (n: number) => [0x0b, ...varint(n)],
  sessionExpiry: (n: number) => [0x11, (n >>> 24) & 0xff, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff],
  user: (k: string | number[], v: string | number[]) => [0x26, ...str(k), ...str(v)],
};

interface ConnectFields {
  level: 4 | 5;
  flags?: number;
  props?: number[];
  clientId?: string | number[];
  will?: { props?: number[]; topic: string | number[]; payload: string };
  username?: string | number[];
  password?: string;
  /** Bytes after the fields the flags announce. */
  extra?: number[];
}

/** A CONNECT; the flags follow the fields given unless `flags` says otherwise (clean start set). */
function connectFrame(c: ConnectFields): Buffer {
  const flags = c.flags ?? (0x02 | (c.will ? 0x04 : 0) | (c.username !== undefined ? 0x80 : 0) | (c.password !== undefined ? 0x40 : 0));
  const body = [...str('MQTT'), c.level, flags, 0x00, 0x1e];
  if (c.level === 5) body.push(...(c.props ?? props()));
  body.push(...str(c.clientId ?? uniqueId('strict')));
  if (c.will) {
    if (c.level === 5) body.push(...(c.will.props ?? props()));
    body.push(...str(c.will.topic), ...str(c.will.payload));
  }
  if (c.username !== undefined) body.push(...str(c.username));
  if (c.password !== undefined) body.push(...str(c.password));
  body.push(...(c.extra ?? []));
  return frame(0x10, body);
}

/** Sends a CONNECT frame; resolves with the CONNACK code (v5 reason code / 3.1.1 return code), or 'closed' without CONNACK. */
async function connectCode(level: 4 | 5, bytes: Buffer): Promise<number | 'closed'> {
  const c = await RawClient.open(gw.ports.mqtt, level);
  c.write(bytes);
  await Promise.race([c.next('connack'), c.waitClosed()]);
  const ack = c.packets.find((p) => p.cmd === 'connack');
  c.destroy();
  if (ack === undefined) return 'closed';
  return level === 5 ? (ack.reasonCode ?? 0) : (ack.returnCode ?? 0);
}

/** A raw connection past CONNACK. */
async function connected(level: 4 | 5): Promise<RawClient> {
  const c = await RawClient.open(gw.ports.mqtt, level);
  c.send({ cmd: 'connect', clientId: uniqueId('strict'), protocolVersion: level, clean: true, keepalive: 30 }, level);
  await c.next('connack');
  return c;
}

/** Writes a frame on a connected client; resolves with the v5 DISCONNECT reason code, or 'closed' (3.1.1: no DISCONNECT from the server). */
async function answer(level: 4 | 5, f: Buffer): Promise<{ code: number | 'closed'; reason?: string; cmds: string[] }> {
  const c = await connected(level);
  c.write(f);
  await c.waitClosed();
  const d = c.packets.find((p) => p.cmd === 'disconnect');
  return {
    code: d === undefined ? 'closed' : (d.reasonCode ?? 0),
    ...(d?.properties?.reasonString === undefined ? {} : { reason: String(d.properties.reasonString) }),
    cmds: c.packets.map((p) => p.cmd),
  };
}

const BAD_UTF8 = [0x61, 0xff]; // 0xFF never occurs in UTF-8
const SURROGATE = [0x61, 0xed, 0xa0, 0x80]; // U+D800 encoded: not a character [MQTT-5:1.5.4-1]
const NUL = [0x61, 0x00, 0x62];

// ---- the rules ----------------------------------------------------------------------------------

describe('MQTT strictness: SUBSCRIBE / UNSUBSCRIBE', () => {
  it('an empty SUBSCRIBE or UNSUBSCRIBE is a protocol error: v5 DISCONNECT 0x82, 3.1.1 closed; never acknowledged [MQTT-5:3.8.3-2] [MQTT-3.1.1:3.8.3-3] [MQTT-5:3.10.3-2] [MQTT-3.1.1:3.10.3-2]', async () => {
    // Packet id 1, (v5) no properties, no filter.
    const v5sub = await answer(5, frame(0x82, [0x00, 0x01, 0x00]));
    expect(v5sub).toMatchObject({ code: 0x82, cmds: ['connack', 'disconnect'] });
    expect(v5sub.reason).toMatch(/SUBSCRIBE without a topic filter/);
    expect(await answer(4, frame(0x82, [0x00, 0x01]))).toMatchObject({ code: 'closed', cmds: ['connack'] });
    expect(await answer(5, frame(0xa2, [0x00, 0x01, 0x00]))).toMatchObject({ code: 0x82, cmds: ['connack', 'disconnect'] });
    // 3.1.1 used to answer an empty UNSUBSCRIBE with UNSUBACK.
    expect(await answer(4, frame(0xa2, [0x00, 0x01]))).toMatchObject({ code: 'closed', cmds: ['connack'] });
  });

  it('ill-formed UTF-8, a surrogate or U+0000 in a filter closes the connection (v5 0x81), no SUBACK / UNSUBACK [MQTT-5:1.5.4-1] [MQTT-5:1.5.4-2] [MQTT-3.1.1:1.5.3-1] [MQTT-3.1.1:1.5.3-2]', async () => {
    for (const bad of [BAD_UTF8, SURROGATE, NUL]) {
      // A valid filter first: nothing of the packet is applied.
      expect(await answer(5, frame(0x82, [0x00, 0x07, 0x00, ...str('ok'), 0x01, ...str(bad), 0x01]))).toMatchObject({ code: 0x81, cmds: ['connack', 'disconnect'] });
      expect(await answer(4, frame(0x82, [0x00, 0x07, ...str('ok'), 0x01, ...str(bad), 0x01]))).toMatchObject({ code: 'closed', cmds: ['connack'] });
      expect(await answer(5, frame(0xa2, [0x00, 0x08, 0x00, ...str(bad)]))).toMatchObject({ code: 0x81, cmds: ['connack', 'disconnect'] });
      expect(await answer(4, frame(0xa2, [0x00, 0x08, ...str(bad)]))).toMatchObject({ code: 'closed', cmds: ['connack'] });
    }
  });

  it('reserved subscription option bits close the connection (v5 0x81 [MQTT-5:3.8.3-5], 3.1.1 [MQTT-3.1.1:3.8.3-4]); Retain Handling 3 is v5 0x82 (MQTT-5 §3.8.3.1)', async () => {
    expect(await answer(5, frame(0x82, [0x00, 0x02, 0x00, ...str('a'), 0x41]))).toMatchObject({ code: 0x81, cmds: ['connack', 'disconnect'] });
    expect(await answer(4, frame(0x82, [0x00, 0x02, ...str('a'), 0x05]))).toMatchObject({ code: 'closed', cmds: ['connack'] });
    expect(await answer(5, frame(0x82, [0x00, 0x02, 0x00, ...str('a'), 0x31]))).toMatchObject({ code: 0x82, cmds: ['connack', 'disconnect'] });
  });

  it('a repeated Subscription Identifier in SUBSCRIBE is v5 0x82, no SUBACK (MQTT-5 §3.8.2.1.2)', async () => {
    expect(await answer(5, frame(0x82, [0x00, 0x03, ...props(P.subscriptionId(1), P.subscriptionId(2)), ...str('a'), 0x00]))).toMatchObject({ code: 0x82, cmds: ['connack', 'disconnect'] });
  });
});

describe('MQTT strictness: PUBLISH', () => {
  const topic = (): string => `strict/${uniqueId('t')}`;
  it('DUP=1 on QoS 0 is a protocol error: v5 0x82, 3.1.1 closed [MQTT-5:3.3.1-2] [MQTT-3.1.1:3.3.1-2]', async () => {
    expect(await answer(5, frame(0x38, [...str(topic()), 0x00, 0x78]))).toMatchObject({ code: 0x82 });
    expect(await answer(4, frame(0x38, [...str(topic()), 0x78]))).toMatchObject({ code: 'closed', cmds: ['connack'] });
  });

  it('a Subscription Identifier from the client, a repeated property, a Response Topic with a wildcard: v5 0x82, no PUBACK [MQTT-5:3.3.4-6] [MQTT-5:3.3.2-14]', async () => {
    const qos1 = (p: number[]): Buffer => frame(0x32, [...str(topic()), 0x00, 0x01, ...p, 0x78]);
    for (const p of [props(P.subscriptionId(3)), props(P.contentType('a'), P.contentType('b')), props(P.responseTopic('reply/+')), props(P.responseTopic('reply/#'))]) {
      expect(await answer(5, qos1(p))).toMatchObject({ code: 0x82, cmds: ['connack', 'disconnect'] });
    }
    // Repeated user properties are allowed (MQTT-5 §3.3.2.3.7): acknowledged.
    const ok = await connected(5);
    ok.write(qos1(props(P.user('k', 'v1'), P.user('k', 'v2'))));
    expect((await ok.next('puback')).reasonCode).toBe(0);
    ok.destroy();
  });

  it('ill-formed UTF-8 or U+0000 in a user property (name or value) or the Content Type: v5 0x81, no PUBACK [MQTT-5:1.5.7-1] [MQTT-5:1.5.4-1] [MQTT-5:1.5.4-2]', async () => {
    const qos1 = (p: number[]): Buffer => frame(0x32, [...str(topic()), 0x00, 0x01, ...p, 0x78]);
    for (const p of [props(P.user(BAD_UTF8, 'v')), props(P.user('k', SURROGATE)), props(P.user('k', NUL)), props(P.contentType(BAD_UTF8)), props(P.contentType(NUL))]) {
      expect(await answer(5, qos1(p))).toMatchObject({ code: 0x81, cmds: ['connack', 'disconnect'] });
    }
  });
});

describe('MQTT strictness: CONNECT', () => {
  it('Will QoS 3: v5 CONNACK 0x81, 3.1.1 closed without CONNACK [MQTT-5:3.1.2-12] [MQTT-3.1.1:3.1.2-14]', async () => {
    const will = { topic: 'w', payload: 'x' };
    expect(await connectCode(5, connectFrame({ level: 5, will, flags: 0x02 | 0x04 | 0x18 }))).toBe(0x81);
    expect(await connectCode(4, connectFrame({ level: 4, will, flags: 0x02 | 0x04 | 0x18 }))).toBe('closed');
    // Will QoS 2 is fine.
    expect(await connectCode(5, connectFrame({ level: 5, will, flags: 0x02 | 0x04 | 0x10 }))).toBe(0);
  });

  it('a repeated CONNECT or will property: CONNACK 0x82 (MQTT-5 §3.1.2.11)', async () => {
    expect(await connectCode(5, connectFrame({ level: 5, props: props(P.sessionExpiry(10), P.sessionExpiry(20)) }))).toBe(0x82);
    expect(await connectCode(5, connectFrame({ level: 5, will: { topic: 'w', payload: 'x', props: props(P.contentType('a'), P.contentType('b')) } }))).toBe(0x82);
    expect(await connectCode(5, connectFrame({ level: 5, will: { topic: 'w', payload: 'x', props: props(P.responseTopic('r/#')) } }))).toBe(0x82);
  });

  it('a password without a user name: 3.1.1 closed without CONNACK [MQTT-3.1.1:3.1.2-22]; v5 allows it (MQTT-5 §3.1.2.9)', async () => {
    expect(await connectCode(4, connectFrame({ level: 4, password: 'secret' }))).toBe('closed');
    // Past the rule, the password is a credential this gateway does not know: the CONNECT reached authentication.
    expect(await connectCode(4, connectFrame({ level: 4, username: 'u', password: 'secret' }))).toBe(4);
    expect(await connectCode(5, connectFrame({ level: 5, password: 'secret' }))).toBe(0x86);
  });

  it('a user name or password present while its flag is 0: v5 CONNACK 0x81, 3.1.1 closed [MQTT-5:3.1.2-16] [MQTT-5:3.1.2-18] [MQTT-3.1.1:3.1.2-18] [MQTT-3.1.1:3.1.2-20]', async () => {
    expect(await connectCode(5, connectFrame({ level: 5, flags: 0x02, extra: str('user') }))).toBe(0x81);
    expect(await connectCode(4, connectFrame({ level: 4, flags: 0x02, extra: str('user') }))).toBe('closed');
    expect(await connectCode(5, connectFrame({ level: 5, flags: 0x82, username: 'u', extra: str('pass') }))).toBe(0x81);
  });

  it('ill-formed UTF-8, a surrogate or U+0000 in the client id: v5 CONNACK 0x85, 3.1.1 return code 2 [MQTT-5:3.1.3-4] [MQTT-3.1.1:3.1.3-4]', async () => {
    for (const bad of [BAD_UTF8, SURROGATE, NUL]) {
      expect(await connectCode(5, connectFrame({ level: 5, clientId: bad }))).toBe(0x85);
      expect(await connectCode(4, connectFrame({ level: 4, clientId: bad }))).toBe(2);
    }
  });

  it('… in the user name, the will topic or a CONNECT user property: v5 CONNACK 0x81, 3.1.1 closed without CONNACK [MQTT-5:3.1.3-11] [MQTT-3.1.1:3.1.3-11]', async () => {
    for (const bad of [BAD_UTF8, SURROGATE, NUL]) {
      expect(await connectCode(5, connectFrame({ level: 5, username: bad }))).toBe(0x81);
      expect(await connectCode(4, connectFrame({ level: 4, username: bad }))).toBe('closed');
      expect(await connectCode(5, connectFrame({ level: 5, will: { topic: bad, payload: 'x' } }))).toBe(0x81);
      expect(await connectCode(4, connectFrame({ level: 4, will: { topic: bad, payload: 'x' } }))).toBe('closed');
      expect(await connectCode(5, connectFrame({ level: 5, props: props(P.user('k', bad)) }))).toBe(0x81);
    }
  });

  it('after all of the above the gateway still serves a well-formed client', async () => {
    const c = await connectClient(`mqtt://127.0.0.1:${gw.ports.mqtt}`, { protocolVersion: 5, clientId: uniqueId('after') });
    const t = `strict/${uniqueId('ok')}`;
    await c.client.subscribeAsync(t, { qos: 1 });
    await c.client.publishAsync(t, 'fine', { qos: 1 });
    expect((await c.waitFor(1))[0]!.payload).toBe('fine');
    await c.end();
  });
});
