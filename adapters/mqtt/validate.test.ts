/**
 * validate.ts on packets as mqtt-packet's parser produces them (crafted bytes where its generator
 * refuses to write the fault): each rule answers its MQTT 5 code; well-formed packets pass.
 */
import mqtt, { type IConnectPacket, type Packet } from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { RC } from './errors.js';
import { connectProblem, packetProblem, utf8Problem } from './validate.js';

/** Parses one packet from bytes, as the connection does. */
function parse(bytes: Buffer, level: 4 | 5): Packet {
  const parser = mqtt.parser({ protocolVersion: level });
  let out: Packet | undefined;
  parser.on('packet', (p: Packet) => (out = p));
  parser.on('error', (err: Error) => {
    throw err;
  });
  parser.parse(bytes);
  if (out === undefined) throw new Error('no packet');
  return out;
}
const connect = (p: Partial<IConnectPacket>, level: 4 | 5 = 5): IConnectPacket =>
  parse(mqtt.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: level, clientId: 'c', clean: true, keepalive: 30, ...p }, { protocolVersion: level }), level) as IConnectPacket;

describe('utf8Problem', () => {
  it('refuses what a lenient decode turns into U+FFFD, and U+0000; accepts other text', () => {
    expect(utf8Problem(Buffer.from([0x61, 0xff]).toString('utf8'))).toMatch(/well-formed/);
    expect(utf8Problem(Buffer.from([0xed, 0xa0, 0x80]).toString('utf8'))).toMatch(/well-formed/); // a surrogate
    expect(utf8Problem(Buffer.from([0xc0, 0x80]).toString('utf8'))).toMatch(/well-formed/); // overlong NUL
    expect(utf8Problem('a\u0000b')).toMatch(/U\+0000/);
    expect(utf8Problem('grüße/温度/😀')).toBeUndefined();
  });
});

describe('connectProblem', () => {
  it('passes well-formed CONNECTs of both versions, with will, user name, password and properties', () => {
    const will = { topic: 'w', payload: Buffer.from('x'), qos: 1 as const, retain: false };
    expect(connectProblem(connect({ will, username: 'u', password: Buffer.from('p') }, 4), 4)).toBeUndefined();
    expect(connectProblem(connect({ will: { ...will, properties: { contentType: 't' } }, username: 'u', password: Buffer.from('p'), properties: { sessionExpiryInterval: 5, userProperties: { a: ['1', '2'] } } }), 5)).toBeUndefined();
  });

  it('names the client id (0x85), the user name and the will (0x81), duplicates and Response Topic wildcards (0x82)', () => {
    expect(connectProblem(connect({ clientId: 'a\u0000' }), 5)?.code).toBe(RC.CLIENT_ID_NOT_VALID);
    expect(connectProblem(connect({ username: 'u\u0000' }), 5)?.code).toBe(RC.MALFORMED_PACKET);
    expect(connectProblem(connect({ will: { topic: 'w', payload: Buffer.from('x'), qos: 0, retain: false, properties: { responseTopic: 'r/+' } } }), 5)?.code).toBe(RC.PROTOCOL_ERROR);
    const p = connect({});
    expect(connectProblem({ ...p, properties: { sessionExpiryInterval: [1, 2] as unknown as number } }, 5)?.code).toBe(RC.PROTOCOL_ERROR);
    expect(connectProblem({ ...p, will: { topic: 'w', payload: Buffer.from('x'), qos: 3 as 0, retain: false } }, 5)?.reason).toMatch(/Will QoS 3/);
  });

  it('3.1.1 refuses a password without a user name; v5 does not', () => {
    expect(connectProblem({ ...connect({}, 4), password: Buffer.from('p') }, 4)?.reason).toMatch(/password without a user name/);
    // (mqtt-packet will not generate it; test/security/mqtt-strict.test.ts sends the bytes.)
    const { length: _length, ...v5 } = connect({}, 5);
    expect(connectProblem({ ...v5, password: Buffer.from('p') }, 5)).toBeUndefined();
  });

  it('finds bytes after the fields the flags announce (a user name with its flag 0)', () => {
    const bytes = mqtt.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'c', clean: true, keepalive: 30 }, { protocolVersion: 4 });
    const extra = Buffer.concat([Buffer.from([0x10, bytes[1]! + 3]), bytes.subarray(2), Buffer.from([0x00, 0x01, 0x75])]);
    expect(connectProblem(parse(extra, 4) as IConnectPacket, 4)?.code).toBe(RC.MALFORMED_PACKET);
  });
});

describe('packetProblem', () => {
  it('SUBSCRIBE / UNSUBSCRIBE without filters, with a bad filter; PUBLISH with DUP on QoS 0 or a Subscription Identifier', () => {
    expect(packetProblem(parse(Buffer.from([0x82, 0x03, 0x00, 0x01, 0x00]), 5))?.code).toBe(RC.PROTOCOL_ERROR);
    expect(packetProblem(parse(Buffer.from([0xa2, 0x02, 0x00, 0x01]), 4))?.code).toBe(RC.PROTOCOL_ERROR);
    expect(packetProblem({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a\uFFFD', qos: 0 }] })?.code).toBe(RC.MALFORMED_PACKET);
    expect(packetProblem({ cmd: 'unsubscribe', messageId: 1, unsubscriptions: ['ok', 'a\u0000'] })?.code).toBe(RC.MALFORMED_PACKET);
    expect(packetProblem({ cmd: 'publish', topic: 't', payload: Buffer.alloc(0), qos: 0, dup: true, retain: false })?.code).toBe(RC.PROTOCOL_ERROR);
    expect(packetProblem({ cmd: 'publish', topic: 't', payload: Buffer.alloc(0), qos: 1, messageId: 1, dup: false, retain: false, properties: { subscriptionIdentifier: 1 } })?.code).toBe(RC.PROTOCOL_ERROR);
    expect(packetProblem({ cmd: 'publish', topic: 't', payload: Buffer.alloc(0), qos: 1, messageId: 1, dup: true, retain: false, properties: { userProperties: { k: ['1', '2'] } } })).toBeUndefined();
    expect(packetProblem({ cmd: 'disconnect', reasonCode: 0, properties: { reasonString: 'bye\uFFFD' } })?.code).toBe(RC.MALFORMED_PACKET);
  });
});
