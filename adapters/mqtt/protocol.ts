/**
 * Where MQTT 3.1.1 and 5.0 differ, one place per concern: what a CONNECT asks for, the packets the
 * server answers with, and which reason codes exist. The rest of the adapter is version-free: it
 * asks its connection's `Protocol` (`V311` until CONNECT named the version).
 */
import mqtt from 'mqtt-packet';
import type { IConnectPacket, IDisconnectPacket, IPublishPacket, Packet } from 'mqtt-packet';
import type { MqttConfig } from './config.js';
import { RC, RC311, type mqttError } from './errors.js';

/** The codes of one catalogued error for every packet type and version (errors.ts). */
type ErrorCodes = ReturnType<typeof mqttError>;
type PublishProperties = NonNullable<IPublishPacket['properties']>;

/** What the server grants a CONNECT besides the session: keepalive and session expiry. */
export interface ConnectTerms {
  /** Seconds of silence × 1.5 before the server closes (0 = none). */
  readonly keepalive: number;
  /** Session expiry in seconds after the connection ends (0 = ends with it). */
  readonly expiry: number;
  /** CONNACK properties the client must be told (v5: Server Keep Alive, capped Session Expiry). */
  readonly connack: Record<string, unknown>;
}

/** The client's own limits from CONNECT (v5 properties), or why the CONNECT is refused. */
export type ClientLimits = { readonly receiveMaximum?: number; readonly maximumPacketSize?: number; readonly topicAliasMaximum?: number } | { readonly refused: number; readonly reason: string };

export interface Protocol {
  readonly level: 4 | 5;

  // ---- CONNECT / CONNACK
  /** The CONNECT's limits on what the server sends, or a refusal. */
  clientLimits(p: IConnectPacket): ClientLimits;
  /**
   * The client id for an empty one: a server-assigned id (`assigned` when the client must be told
   * [MQTT-5:3.1.3-7]), or a refusal code.
   */
  assignClientId(clean: boolean, id: string): { readonly clientId: string; readonly assigned?: string } | { readonly refused: number };
  /** Keepalive and session expiry as granted, from what the client asked and the configured maximums. */
  terms(p: IConnectPacket, clean: boolean, config: MqttConfig): ConnectTerms;
  /** The CONNACK code of a catalogued error (3.1.1 has only return codes 0–5). */
  connackCode(codes: ErrorCodes): number;
  /**
   * The CONNACK code for a CONNECT that breaks a rule (validate.ts, MQTT 5 codes), or undefined:
   * close without CONNACK (3.1.1 answers only a client id it refuses, with return code 2
   * [MQTT-3.1.1:3.1.3-9]; anything else malformed is closed unanswered [MQTT-3.1.1:3.1.4-1]).
   */
  connectProblemCode(code: number): number | undefined;
  /** The CONNACK code for a will whose topic is not a valid topic name. */
  readonly invalidWillTopic: number;
  /** CONNACK accepting the connection, with the server's capabilities (v5). */
  connackAccepted(sessionPresent: boolean, config: MqttConfig, properties: Record<string, unknown>): Packet;
  /** CONNACK refusing it: Session Present 0 [MQTT-5:3.2.2-6] [MQTT-3.1.1:3.2.2-4]; v5 carries the reason. */
  connackRefused(code: number, reason: string): Packet;

  // ---- PUBLISH in
  /** Whether the client may use topic aliases (v5; MQTT-5 §3.3.2.3.4). */
  readonly topicAliases: boolean;
  /** Whether more QoS>0 PUBLISHes than our Receive Maximum end the connection (v5: 0x93). */
  readonly receiveMaximum: boolean;
  /** A successful PUBACK / PUBREC / PUBCOMP. */
  ack(cmd: 'puback' | 'pubrec' | 'pubcomp', messageId: number): Packet;
  /**
   * A failed PUBACK / PUBREC, or undefined when the version has none: 3.1.1 can only close the
   * connection so the client resends [MQTT-3.1.1:3.3.5-2].
   */
  nack(cmd: 'puback' | 'pubrec', messageId: number, code: number, reason: string): Packet | undefined;
  /** PUBCOMP for a PUBREL of an id with no QoS 2 flow (v5 says so with 0x92) [MQTT-5:4.3.3-11] [MQTT-3.1.1:4.3.3-2]. */
  pubcompUnknown(messageId: number): Packet;

  // ---- PUBLISH out
  /** PUBREL answering a PUBREC for an id with no flow (v5 0x92), or undefined (3.1.1 ignores it). */
  pubrelUnknown(messageId: number): Packet | undefined;
  /**
   * The properties an outgoing PUBLISH carries (v5 only), with the subscription identifiers of the
   * subscriptions it is for [MQTT-5:3.3.4-3] [MQTT-5:3.3.4-4].
   */
  publishProperties(properties: PublishProperties, subscriptionIds: readonly number[]): PublishProperties | undefined;
  /** Whether an outgoing PUBLISH for this subscription differs per subscriber (v5 subscription identifiers). */
  perSubscriber(subscriptionId: number | undefined): boolean;

  // ---- SUBSCRIBE / UNSUBSCRIBE
  /** The SUBACK code of a failed subscription for a catalogued error (3.1.1 has only 0x80). */
  subackCode(codes: ErrorCodes): number;
  /** The SUBACK code for an invalid topic filter. */
  readonly invalidFilter: number;
  /** UNSUBACK: v5 carries one reason code per filter, 3.1.1 none [MQTT-5:3.10.4-4] [MQTT-3.1.1:3.10.4-4]. */
  unsuback(messageId: number, codes: number[]): Packet;

  // ---- DISCONNECT
  /** The server's DISCONNECT with a reason, or undefined: 3.1.1 has no server DISCONNECT (it just closes). */
  disconnect(code: number, reason: string): Packet | undefined;
  /** Whether the client's DISCONNECT asks for the will to be published anyway (v5 0x04) [MQTT-5:3.14.4-3]. */
  keepsWill(p: IDisconnectPacket): boolean;
  /** Session expiry a DISCONNECT sets (v5 property), undefined when it sets none. */
  disconnectExpiry(p: IDisconnectPacket): number | undefined;
}

/** CONNACK 0x01 in the 3.1.1 form every client version can read, for a protocol level not spoken here [MQTT-3.1.1:3.1.2-2] [MQTT-5:3.1.2-2]. */
export function unsupportedVersionConnack(): Buffer {
  return mqtt.generate({ cmd: 'connack', returnCode: RC311.UNACCEPTABLE_PROTOCOL_VERSION, sessionPresent: false }, { protocolVersion: 4 });
}

/** Keepalive 0 ("none") or above `keepaliveMaxSeconds` with a maximum configured. */
function overMax(keepalive: number, max: number): boolean {
  return max > 0 && (keepalive === 0 || keepalive > max);
}

export const V311: Protocol = {
  level: 4,
  clientLimits: () => ({}),
  assignClientId: (clean, id) =>
    // [MQTT-3.1.1:3.1.3-8] an empty client id with CleanSession 0 is refused (identifier rejected).
    clean ? { clientId: id } : { refused: RC311.IDENTIFIER_REJECTED },
  terms(p, clean, config) {
    let keepalive = p.keepalive ?? 0;
    // 3.1.1 cannot tell the client a keepalive: a larger one is honoured (capping it would drop a
    // client that pings as it said), but "none" would let an idle or stalled connection live
    // forever, so it gets the maximum as an idle limit.
    if (overMax(keepalive, config.keepaliveMaxSeconds) && keepalive === 0) keepalive = config.keepaliveMaxSeconds;
    // CleanSession 0 keeps the session for the configured maximum (3.1.1 has no expiry of its own);
    // CleanSession 1: it lasts as long as the connection [MQTT-3.1.1:3.1.2-6].
    return { keepalive, expiry: clean ? 0 : config.sessionExpiryMaxSeconds, connack: {} };
  },
  connackCode: (codes) => codes.connack311,
  connectProblemCode: (code) => (code === RC.CLIENT_ID_NOT_VALID ? RC311.IDENTIFIER_REJECTED : undefined),
  invalidWillTopic: RC311.SERVER_UNAVAILABLE,
  connackAccepted: (sessionPresent) => ({ cmd: 'connack', returnCode: RC311.ACCEPTED, sessionPresent }),
  connackRefused: (code) => ({ cmd: 'connack', returnCode: code, sessionPresent: false }),
  topicAliases: false,
  receiveMaximum: false,
  ack: (cmd, messageId) => ({ cmd, messageId }),
  nack: () => undefined,
  pubcompUnknown: (messageId) => ({ cmd: 'pubcomp', messageId }),
  pubrelUnknown: () => undefined,
  publishProperties: () => undefined,
  perSubscriber: () => false,
  subackCode: () => RC311.SUBACK_FAILURE,
  invalidFilter: RC311.SUBACK_FAILURE,
  unsuback: (messageId) => ({ cmd: 'unsuback', messageId }) as Packet,
  disconnect: () => undefined,
  // [MQTT-3.1.1:3.14.4-3] a DISCONNECT always discards the will.
  keepsWill: () => false,
  disconnectExpiry: () => undefined,
};

export const V5: Protocol = {
  level: 5,
  clientLimits(p) {
    const props = p.properties ?? {};
    // [MQTT-5:4.12.0-1] an Authentication Method the server does not support: 0x8C, then close.
    if (props.authenticationMethod !== undefined) return { refused: 0x8c, reason: 'enhanced authentication is not supported' };
    // MQTT-5 §3.1.2.11.3 / §3.1.2.11.4: a Receive Maximum or Maximum Packet Size of 0 is a Protocol Error.
    if (props.receiveMaximum === 0 || props.maximumPacketSize === 0) return { refused: RC.PROTOCOL_ERROR, reason: 'zero Receive Maximum / Maximum Packet Size' };
    return {
      ...(props.receiveMaximum === undefined ? {} : { receiveMaximum: props.receiveMaximum }),
      ...(props.maximumPacketSize === undefined ? {} : { maximumPacketSize: props.maximumPacketSize }),
      ...(props.topicAliasMaximum === undefined ? {} : { topicAliasMaximum: props.topicAliasMaximum }),
    };
  },
  // [MQTT-5:3.1.3-6] [MQTT-5:3.1.3-7] the server assigns an id and returns it in CONNACK.
  assignClientId: (_clean, id) => ({ clientId: id, assigned: id }),
  terms(p, _clean, config) {
    const connack: Record<string, unknown> = {};
    // Session Expiry Interval absent = 0: the session ends with the connection (MQTT-5 §3.1.2.11.2).
    let expiry = p.properties?.sessionExpiryInterval ?? 0;
    if (expiry > config.sessionExpiryMaxSeconds) {
      expiry = config.sessionExpiryMaxSeconds;
      connack.sessionExpiryInterval = expiry; // MQTT-5 §3.2.2.3.2: the server's value then applies
    }
    let keepalive = p.keepalive ?? 0;
    if (overMax(keepalive, config.keepaliveMaxSeconds)) {
      keepalive = config.keepaliveMaxSeconds;
      connack.serverKeepAlive = keepalive; // [MQTT-5:3.2.2-21] the client uses the server's value
    }
    return { keepalive, expiry, connack };
  },
  connackCode: (codes) => codes.connack,
  // [MQTT-5:3.1.4-1] with a CONNACK 0x80 or above before the close (MQTT-5 §4.13).
  connectProblemCode: (code) => code,
  invalidWillTopic: RC.TOPIC_NAME_INVALID,
  connackAccepted: (sessionPresent, config, properties) => ({
    cmd: 'connack',
    reasonCode: RC.SUCCESS,
    sessionPresent,
    properties: {
      receiveMaximum: config.receiveMaximum,
      maximumPacketSize: config.maxPacketBytes,
      topicAliasMaximum: config.topicAliasMaximum,
      retainAvailable: true,
      wildcardSubscriptionAvailable: true,
      subscriptionIdentifiersAvailable: true,
      sharedSubscriptionAvailable: true,
      ...properties,
    },
  }),
  connackRefused: (code, reason) => ({ cmd: 'connack', reasonCode: code, sessionPresent: false, properties: { reasonString: reason } }),
  topicAliases: true,
  receiveMaximum: true,
  ack: (cmd, messageId) => ({ cmd, messageId, reasonCode: RC.SUCCESS }),
  nack: (cmd, messageId, code, reason) => ({ cmd, messageId, reasonCode: code, properties: { reasonString: reason } }),
  pubcompUnknown: (messageId) => ({ cmd: 'pubcomp', messageId, reasonCode: RC.PACKET_ID_NOT_FOUND }),
  pubrelUnknown: (messageId) => ({ cmd: 'pubrel', messageId, reasonCode: RC.PACKET_ID_NOT_FOUND }),
  publishProperties(properties, subscriptionIds) {
    const { subscriptionIdentifier: _theirs, ...props } = properties;
    // [MQTT-5:3.3.4-3] [MQTT-5:3.3.4-4] one property per identifier (mqtt-packet writes an array as repeated properties).
    if (subscriptionIds.length > 0) (props as PublishProperties).subscriptionIdentifier = (subscriptionIds.length === 1 ? subscriptionIds[0]! : [...subscriptionIds]) as number;
    return Object.keys(props).length > 0 ? props : undefined;
  },
  perSubscriber: (subscriptionId) => subscriptionId !== undefined,
  subackCode: (codes) => codes.suback,
  invalidFilter: RC.TOPIC_FILTER_INVALID,
  unsuback: (messageId, codes) => ({ cmd: 'unsuback', messageId, granted: codes }) as Packet,
  // After CONNACK only [MQTT-5:3.14.0-1]: the caller sends it on an open connection.
  disconnect: (code, reason) => ({ cmd: 'disconnect', reasonCode: code, properties: { reasonString: reason } }),
  // [MQTT-5:3.14.4-3] only a DISCONNECT with 0x00 discards the will; 0x04 asks for it to be sent.
  keepsWill: (p) => p.reasonCode === RC.DISCONNECT_WITH_WILL,
  disconnectExpiry: (p) => p.properties?.sessionExpiryInterval,
};
