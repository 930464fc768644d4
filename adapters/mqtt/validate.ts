/**
 * What a received packet may not be, beyond what mqtt-packet's parser refuses: rules the parser
 * lets through (it decodes strings leniently, turns a repeated property into an array, ignores
 * bytes after a CONNECT's last field, keeps a Will QoS of 3, a DUP flag on QoS 0 …). Each check
 * answers the MQTT 5 reason code the rule calls for; the caller maps it for its version
 * (protocol.ts): v5 says it (DISCONNECT, or CONNACK for a CONNECT), 3.1.1 closes the connection.
 *
 * What the parser itself refuses surfaces as its 'error' (connection.ts → Client.malformed):
 * reserved header flags [MQTT-5:2.1.3-1] [MQTT-3.1.1:2.2.2-2], QoS 3 in PUBLISH [MQTT-5:3.3.1-4]
 * [MQTT-3.1.1:3.3.1-4], the CONNECT reserved flag [MQTT-5:3.1.2-3] [MQTT-3.1.1:3.1.2-3], will
 * flags without a will [MQTT-5:3.1.2-11] [MQTT-3.1.1:3.1.2-11], reserved SUBSCRIBE option bits
 * [MQTT-5:3.8.3-5] [MQTT-3.1.1:3.8.3-4], Retain Handling 3, an unknown property, a bad
 * Remaining Length or a field running past the packet.
 */
import mqtt, { type IConnectPacket, type Packet } from 'mqtt-packet';
import { RC } from './errors.js';

/** A rule the packet breaks: the MQTT 5 reason code for it and a reason for the client and the log. */
export interface Problem {
  readonly code: number;
  readonly reason: string;
}

/**
 * Why a UTF-8 Encoded String is not one, or undefined. mqtt-packet decodes leniently: ill-formed
 * bytes, overlong forms and encoded surrogates all come out as U+FFFD, so a real U+FFFD is refused
 * with them (it gives no other sign) [MQTT-5:1.5.4-1] [MQTT-3.1.1:1.5.3-1]; U+0000 is refused
 * [MQTT-5:1.5.4-2] [MQTT-3.1.1:1.5.3-2].
 */
export function utf8Problem(s: string): string | undefined {
  if (s.includes('\uFFFD')) return 'must be well-formed UTF-8';
  if (s.includes('\u0000')) return 'must not contain U+0000';
  return undefined;
}

type Properties = Record<string, unknown> | undefined;

/**
 * The properties' own rules: none but User Property (and Subscription Identifier, which only the
 * server repeats) appears twice (MQTT-5 §2.2.2.2: "It is a Protocol Error to include … more than
 * once" under each property); every string — names and values of user properties too — is UTF-8
 * [MQTT-5:1.5.7-1]; a Response Topic is a topic name, without wildcards [MQTT-5:3.3.2-14].
 */
function propertiesProblem(props: Properties, where: string): Problem | undefined {
  if (props === undefined) return undefined;
  for (const [name, value] of Object.entries(props)) {
    if (name === 'userProperties') {
      for (const [k, v] of Object.entries(value as Record<string, string | string[]>)) {
        const bad = utf8Problem(k) ?? (Array.isArray(v) ? v : [v]).map((x) => utf8Problem(String(x))).find((x) => x !== undefined);
        if (bad !== undefined) return { code: RC.MALFORMED_PACKET, reason: `${where}: a user property ${bad}` };
      }
      continue;
    }
    if (Array.isArray(value)) return { code: RC.PROTOCOL_ERROR, reason: `${where}: property ${name} appears more than once` };
    if (typeof value === 'string') {
      const bad = utf8Problem(value);
      if (bad !== undefined) return { code: RC.MALFORMED_PACKET, reason: `${where}: property ${name} ${bad}` };
    }
    if (name === 'responseTopic' && typeof value === 'string' && (value.includes('+') || value.includes('#'))) {
      return { code: RC.PROTOCOL_ERROR, reason: `${where}: a Response Topic must not contain wildcards` };
    }
  }
  return undefined;
}

/**
 * A CONNECT's problem, or undefined. `level` is the CONNECT's own protocol level (4 or 5).
 * `CLIENT_ID_NOT_VALID` for the client id (3.1.1: return code 2), the rest close a 3.1.1
 * connection without CONNACK [MQTT-3.1.1:3.1.4-1].
 */
export function connectProblem(p: IConnectPacket, level: 4 | 5): Problem | undefined {
  // [MQTT-5:3.1.3-4] [MQTT-3.1.1:3.1.3-4] the client id is a UTF-8 Encoded String.
  const id = utf8Problem(p.clientId ?? '');
  if (id !== undefined) return { code: RC.CLIENT_ID_NOT_VALID, reason: `the client id ${id}` };
  // [MQTT-5:3.1.3-11] [MQTT-3.1.1:3.1.3-11] the user name too.
  const user = p.username === undefined ? undefined : utf8Problem(p.username);
  if (user !== undefined) return { code: RC.MALFORMED_PACKET, reason: `the user name ${user}` };
  // [MQTT-3.1.1:3.1.2-22] a password needs a user name in 3.1.1 (MQTT 5 dropped that rule, MQTT-5 §3.1.2.9).
  if (level === 4 && p.password !== undefined && p.username === undefined) return { code: RC.PROTOCOL_ERROR, reason: 'a password without a user name' };
  if (p.will !== undefined) {
    // [MQTT-5:3.1.2-12] [MQTT-3.1.1:3.1.2-14] Will QoS 3 (the parser keeps it).
    if ((p.will.qos as number) > 2) return { code: RC.MALFORMED_PACKET, reason: 'Will QoS 3' };
    const topic = utf8Problem(p.will.topic);
    if (topic !== undefined) return { code: RC.MALFORMED_PACKET, reason: `the will topic ${topic}` };
    const willProps = propertiesProblem(p.will.properties as Properties, 'will');
    if (willProps !== undefined) return willProps;
  }
  const props = propertiesProblem(p.properties as Properties, 'CONNECT');
  if (props !== undefined) return props;
  // Bytes after the last field the flags announce (a user name or password present while its flag
  // is 0) [MQTT-5:3.1.2-16] [MQTT-5:3.1.2-18] [MQTT-3.1.1:3.1.2-18] [MQTT-3.1.1:3.1.2-20]: the parser
  // stops at the flags' fields, so a Remaining Length longer than what they encode gives them away.
  const encoded = p.length === undefined ? -1 : encodedLength(p, level);
  // (A CONNECT mqtt-packet cannot encode again is left to the handler: this check only refuses what it can prove.)
  if (encoded >= 0 && encoded !== p.length) return { code: RC.MALFORMED_PACKET, reason: 'CONNECT fields do not match its flags and length' };
  return undefined;
}

/** Remaining Length of a CONNECT as mqtt-packet encodes its fields (-1 when it cannot encode them). */
function encodedLength(p: IConnectPacket, level: 4 | 5): number {
  // mqtt-packet's generator insists on a user name with a password, which v5 allows without one:
  // encode an empty one (two length bytes) and take it off again.
  const stand = p.password !== undefined && p.username === undefined;
  let bytes: Buffer;
  try {
    // Only the length matters: the fields the parser produced, encoded again the same way.
    bytes = mqtt.generate({ ...p, protocolId: 'MQTT', protocolVersion: level, ...(stand ? { username: '' } : {}) }, { protocolVersion: level });
  } catch {
    return -1;
  }
  if (bytes.length === 0) return -1;
  let i = 1;
  while ((bytes[i]! & 0x80) !== 0) i++;
  return bytes.length - (i + 1) - (stand ? 2 : 0);
}

/** A packet's problem after CONNECT, or undefined (PUBLISH topic names are publish.ts's: they may be aliases). */
export function packetProblem(p: Packet): Problem | undefined {
  switch (p.cmd) {
    case 'publish': {
      // [MQTT-5:3.3.1-2] [MQTT-3.1.1:3.3.1-2] DUP is 0 on QoS 0.
      if (p.qos === 0 && p.dup) return { code: RC.PROTOCOL_ERROR, reason: 'DUP set on a QoS 0 PUBLISH' };
      // [MQTT-5:3.3.4-6] a client's PUBLISH carries no Subscription Identifier.
      if (p.properties?.subscriptionIdentifier !== undefined) return { code: RC.PROTOCOL_ERROR, reason: 'a Subscription Identifier in a PUBLISH from the client' };
      return propertiesProblem(p.properties as Properties, 'PUBLISH');
    }
    case 'subscribe': {
      // [MQTT-5:3.8.3-2] [MQTT-3.1.1:3.8.3-3] at least one topic filter (mqtt-packet parses an empty payload).
      if (p.subscriptions.length === 0) return { code: RC.PROTOCOL_ERROR, reason: 'SUBSCRIBE without a topic filter' };
      for (const s of p.subscriptions) {
        // [MQTT-5:3.8.3-1] [MQTT-3.1.1:3.8.3-1] a filter is a UTF-8 Encoded String: a bad one is a malformed packet, which closes the connection.
        const bad = utf8Problem(s.topic);
        if (bad !== undefined) return { code: RC.MALFORMED_PACKET, reason: `a topic filter ${bad}` };
      }
      return propertiesProblem(p.properties as Properties, 'SUBSCRIBE');
    }
    case 'unsubscribe': {
      // [MQTT-5:3.10.3-2] [MQTT-3.1.1:3.10.3-2] at least one topic filter.
      if (p.unsubscriptions.length === 0) return { code: RC.PROTOCOL_ERROR, reason: 'UNSUBSCRIBE without a topic filter' };
      for (const f of p.unsubscriptions) {
        // [MQTT-5:3.10.3-1] [MQTT-3.1.1:3.10.3-1]
        const bad = utf8Problem(f);
        if (bad !== undefined) return { code: RC.MALFORMED_PACKET, reason: `a topic filter ${bad}` };
      }
      return propertiesProblem(p.properties as Properties, 'UNSUBSCRIBE');
    }
    case 'puback':
    case 'pubrec':
    case 'pubrel':
    case 'pubcomp':
    case 'disconnect':
    case 'auth':
      return propertiesProblem(p.properties as Properties, p.cmd.toUpperCase());
    default:
      return undefined;
  }
}
