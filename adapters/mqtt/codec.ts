/**
 * MQTT ↔ core translation: topic name and filter rules, the route table (MQTT topic → Kafka
 * topic), and PUBLISH ↔ record mapping (key = MQTT topic name, value = payload, MQTT 5
 * properties as `mqtt.*` headers). Pure functions; no I/O.
 */
import { isUtf8 } from 'node:buffer';
import type { IPublishPacket, UserProperties } from 'mqtt-packet';
import type { Header, ProduceRecord, StreamRecord } from '../../gateway/record.js';
import { mqttMatch } from '../../gateway/hub/filters.js';
import { TRACEPARENT } from '../../gateway/trace.js';

export type QoS = 0 | 1 | 2;

/** Record header names. Lower-case, dot-separated, ASCII: legal for Kafka Connect header converters. */
export const HEADER = {
  qos: 'mqtt.qos',
  retain: 'mqtt.retain',
  clientId: 'mqtt.client-id',
  contentType: 'mqtt.content-type',
  responseTopic: 'mqtt.response-topic',
  correlationData: 'mqtt.correlation-data',
  payloadFormat: 'mqtt.payload-format',
  messageExpiry: 'mqtt.message-expiry',
  /** `mqtt.up.<name>` carries one MQTT 5 user property (UTF-8 value). */
  userPropertyPrefix: 'mqtt.up.',
} as const;

// ---------------------------------------------------------------------------------------------
// Topic names and filters

/** Levels in a topic name or filter, counted without splitting (the bound is checked before any split). */
function levelCount(topic: string): number {
  let n = 1;
  for (let i = topic.indexOf('/'); i >= 0; i = topic.indexOf('/', i + 1)) n++;
  return n;
}

/** Why a topic name or filter is not acceptable (undefined = fine); `maxLevels` is `mqtt.maxTopicLevels`. */
export function topicNameProblem(topic: string, maxLevels = Infinity): string | undefined {
  if (topic.length === 0) return 'a topic name must not be empty'; // [MQTT-5:4.7.3-1] [MQTT-3.1.1:4.7.3-1]
  if (Buffer.byteLength(topic, 'utf8') > 65535) return 'a topic name is at most 65535 bytes'; // [MQTT-5:4.7.3-3] [MQTT-3.1.1:4.7.3-3]
  if (levelCount(topic) > maxLevels) return `a topic name has at most ${maxLevels} levels here`;
  if (topic.includes('\u0000')) return 'a topic name must not contain NUL'; // [MQTT-5:4.7.3-2] [MQTT-3.1.1:4.7.3-2]
  // mqtt-packet decodes strings leniently; ill-formed UTF-8 shows up as U+FFFD. [MQTT-5:1.5.4-1] [MQTT-3.1.1:1.5.3-1]
  if (topic.includes('\uFFFD')) return 'a topic name must be well-formed UTF-8';
  if (topic.includes('+') || topic.includes('#')) return 'a topic name must not contain wildcards'; // [MQTT-5:3.3.2-2] [MQTT-3.1.1:3.3.2-2]
  return undefined;
}

/** Why a (non-shared) topic filter is not acceptable. [MQTT-5:4.7.1-1] [MQTT-5:4.7.1-2] [MQTT-5:4.7.1-3] (the same ids in 3.1.1) */
export function topicFilterProblem(filter: string, maxLevels = Infinity): string | undefined {
  if (filter.length === 0) return 'a topic filter must not be empty'; // [MQTT-5:4.7.3-1] [MQTT-3.1.1:4.7.3-1]
  if (levelCount(filter) > maxLevels) return `a topic filter has at most ${maxLevels} levels here`;
  if (filter.includes('\u0000')) return 'a topic filter must not contain NUL';
  if (filter.includes('\uFFFD')) return 'a topic filter must be well-formed UTF-8';
  const levels = filter.split('/');
  for (let i = 0; i < levels.length; i++) {
    const level = levels[i]!;
    if (level.includes('#') && (level !== '#' || i !== levels.length - 1)) return '"#" must be the whole last level';
    if (level.includes('+') && level !== '+') return '"+" must be a whole level';
  }
  return undefined;
}

/** A parsed SUBSCRIBE filter: plain, or `$share/<group>/<filter>`. [MQTT-5:4.8.2-1] [MQTT-5:4.8.2-2] */
export type ParsedFilter = { readonly filter: string; readonly share?: string };

/** Parses a SUBSCRIBE/UNSUBSCRIBE topic filter; returns a problem string when invalid. */
export function parseFilter(raw: string, maxLevels = Infinity): ParsedFilter | string {
  if (raw.startsWith('$share/')) {
    const rest = raw.slice('$share/'.length);
    const slash = rest.indexOf('/');
    if (slash <= 0) return 'a shared subscription is $share/<ShareName>/<filter>';
    const share = rest.slice(0, slash);
    if (share.includes('+') || share.includes('#')) return 'a ShareName must not contain wildcards';
    const filter = rest.slice(slash + 1);
    const problem = topicFilterProblem(filter, maxLevels);
    return problem ?? { filter, share };
  }
  return topicFilterProblem(raw, maxLevels) ?? { filter: raw };
}

/** True when some topic name matches both filters. */
export function filtersOverlap(a: string, b: string): boolean {
  const x = a.split('/');
  const y = b.split('/');
  const dollar = (levels: string[]): boolean | undefined => (levels[0] === '#' || levels[0] === '+' ? undefined : levels[0]!.startsWith('$'));
  // A leading wildcard never matches a `$` level; the other filter's literal first level decides.
  const dx = dollar(x);
  const dy = dollar(y);
  if ((dx === undefined && dy === true) || (dy === undefined && dx === true)) return false;
  for (let i = 0; ; i++) {
    const p = x[i];
    const q = y[i];
    if (p === '#' || q === '#') return true;
    if (p === undefined || q === undefined) return p === undefined && q === undefined;
    if (p !== '+' && q !== '+' && p !== q) return false;
  }
}

/** True when every topic name matching `inner` also matches `outer`. */
export function filterCovers(outer: string, inner: string): boolean {
  const o = outer.split('/');
  const n = inner.split('/');
  if (inner.startsWith('$') !== outer.startsWith('$') && (o[0] === '#' || o[0] === '+')) return false;
  for (let i = 0; ; i++) {
    const p = o[i];
    const q = n[i];
    if (p === '#') return true;
    if (p === undefined || q === undefined) return p === undefined && q === undefined;
    if (q === '#') return false;
    if (p === '+') continue;
    if (q === '+' || p !== q) return false;
  }
}

// ---------------------------------------------------------------------------------------------
// Routes

export interface Route {
  readonly filter: string;
  readonly topic: string;
  /** MQTT topic name under which records with no key are delivered. */
  readonly nullKeyTopic: string;
}

/** MQTT topic ↔ Kafka topic routing: first matching route wins, else the default topic. */
export class Routes {
  readonly defaultRoute: Route;

  constructor(
    readonly routes: readonly Route[],
    defaultTopic: string,
    defaultNullKeyTopic: string,
  ) {
    this.defaultRoute = { filter: '#', topic: defaultTopic, nullKeyTopic: defaultNullKeyTopic };
  }

  /** The Kafka topic an MQTT topic name is written to. */
  topicFor(mqttTopic: string): string {
    for (const r of this.routes) if (mqttMatch(r.filter, mqttTopic)) return r.topic;
    return this.defaultRoute.topic;
  }

  /**
   * Kafka topics a subscription must read: every route whose filter overlaps the subscription
   * filter, plus the default topic unless one earlier-or-equal route covers the whole filter
   * (then no topic name matching it can fall through to the default).
   */
  topicsFor(filter: string): string[] {
    const topics = new Set<string>();
    let covered = false;
    for (const r of this.routes) {
      if (filtersOverlap(r.filter, filter)) topics.add(r.topic);
      if (filterCovers(r.filter, filter)) {
        covered = true;
        break;
      }
    }
    if (!covered) topics.add(this.defaultRoute.topic);
    return [...topics];
  }

  /** The MQTT topic name for a keyless record of a Kafka topic. */
  nullKeyTopicFor(kafkaTopic: string): string {
    return this.routes.find((r) => r.topic === kafkaTopic)?.nullKeyTopic ?? (kafkaTopic === this.defaultRoute.topic ? this.defaultRoute.nullKeyTopic : kafkaTopic);
  }
}

// ---------------------------------------------------------------------------------------------
// PUBLISH → record

/** The parts of an incoming PUBLISH (or will) the record is built from. */
export interface Message {
  readonly topic: string;
  readonly payload: Buffer;
  readonly qos: QoS;
  readonly retain: boolean;
  readonly properties?: IPublishPacket['properties'];
}

/** Builds the record for an MQTT message: key = topic name, value = payload, properties → headers. */
export function messageToRecord(msg: Message, clientId: string): ProduceRecord {
  const headers: Header[] = [{ name: HEADER.qos, value: Buffer.from(String(msg.qos)) }];
  const add = (name: string, value: Buffer): void => void headers.push({ name, value });
  if (msg.retain) add(HEADER.retain, Buffer.from('1'));
  add(HEADER.clientId, Buffer.from(clientId, 'utf8'));
  const p = msg.properties;
  if (p !== undefined) {
    if (p.contentType !== undefined) add(HEADER.contentType, Buffer.from(p.contentType, 'utf8'));
    if (p.responseTopic !== undefined) add(HEADER.responseTopic, Buffer.from(p.responseTopic, 'utf8'));
    if (p.correlationData !== undefined) add(HEADER.correlationData, Buffer.from(p.correlationData));
    if (p.payloadFormatIndicator === true) add(HEADER.payloadFormat, Buffer.from('1'));
    if (p.messageExpiryInterval !== undefined) add(HEADER.messageExpiry, Buffer.from(String(p.messageExpiryInterval)));
    // [MQTT-5:3.3.2-17/18] user properties may repeat and their order is kept: one header each,
    // in the order the packet listed them (connection.ts remembers it: mqtt-packet's parser folds
    // them into {name: value | value[]}, names grouped, integer-like names first).
    const user = p.userProperties;
    const list = user === undefined ? [] : (userPropertyOrder.get(user) ?? Object.entries(user).flatMap(([name, v]) => (Array.isArray(v) ? v : [v]).map((x) => [name, String(x)] as const)));
    for (const [name, value] of list) {
      // A W3C traceparent user property becomes the records' shared `traceparent` header, so the
      // trace continues on every protocol (and comes back out as a user property).
      add(name === TRACEPARENT ? TRACEPARENT : HEADER.userPropertyPrefix + name, Buffer.from(value, 'utf8'));
    }
  }
  return { key: Buffer.from(msg.topic, 'utf8'), value: msg.payload, headers };
}

/** The order of user properties built by orderedUserProperties, for the encoder (wireOrderUserProperties). */
const userPropertyOrder = new WeakMap<UserProperties, readonly (readonly [string, string])[]>();

/**
 * mqtt-packet's form of an ordered list of user properties (`{name: value | value[]}`), which
 * remembers the list: its generator writes names grouped (Object.getOwnPropertyNames order),
 * and wireOrderUserProperties puts the encoded pairs back in list order [MQTT-5:3.3.2-18].
 */
export function orderedUserProperties(list: readonly (readonly [string, string])[]): UserProperties {
  const folded: Record<string, string | string[]> = {};
  for (const [name, value] of list) {
    const had = Object.prototype.hasOwnProperty.call(folded, name) ? folded[name] : undefined;
    const next = had === undefined ? value : Array.isArray(had) ? [...had, value] : [had, value];
    // Own property whatever the name (`__proto__` included: names come from record headers).
    Object.defineProperty(folded, name, { value: next, enumerable: true, writable: true, configurable: true });
  }
  userPropertyOrder.set(folded, list);
  return folded;
}

const USER_PROPERTY = 0x26;
/** Value types of the properties a PUBLISH may carry (MQTT-5 §3.3.2.3), by identifier. */
const PUBLISH_PROPERTY_TYPES: Readonly<Record<number, 'byte' | 'int16' | 'int32' | 'varint' | 'string' | 'pair'>> = {
  0x01: 'byte', // Payload Format Indicator
  0x02: 'int32', // Message Expiry Interval
  0x23: 'int16', // Topic Alias
  0x08: 'string', // Response Topic
  0x09: 'string', // Correlation Data (binary data: the same two-byte length prefix)
  0x0b: 'varint', // Subscription Identifier
  0x03: 'string', // Content Type
  [USER_PROPERTY]: 'pair',
};

function pairBytes(name: string, value: string): Buffer {
  const n = Buffer.from(name, 'utf8');
  const v = Buffer.from(value, 'utf8');
  const out = Buffer.allocUnsafe(5 + n.length + v.length);
  out[0] = USER_PROPERTY;
  out.writeUInt16BE(n.length, 1);
  n.copy(out, 3);
  out.writeUInt16BE(v.length, 3 + n.length);
  v.copy(out, 5 + n.length);
  return out;
}

/** Reads a Variable Byte Integer at `at` (MQTT-5 §1.5.5): [value, bytes], or undefined past 4 bytes / the end. */
function varint(bytes: Buffer, at: number): [number, number] | undefined {
  let value = 0;
  for (let i = 0; i < 4 && at + i < bytes.length; i++) {
    const b = bytes[at + i]!;
    value += (b & 0x7f) * 128 ** i;
    if ((b & 0x80) === 0) return [value, i + 1];
  }
  return undefined;
}

/**
 * Walks the property list of a PUBLISH whose variable header starts at `start` (the topic
 * name's length): calls `pair(at, name, value)` for each User Property in wire order, or stops
 * when it returns false. False when the layout is not recognized (then nothing is to be trusted).
 */
function walkPublishProperties(bytes: Buffer, start: number, qos: number, pair: (at: number, name: string, value: string) => boolean): boolean {
  try {
    return walk(bytes, start, qos, pair);
  } catch {
    return false; // a length past the end (RangeError): not a layout to trust
  }
}

function walk(bytes: Buffer, start: number, qos: number, pair: (at: number, name: string, value: string) => boolean): boolean {
  if (start + 2 > bytes.length) return false;
  let at = start + 2 + bytes.readUInt16BE(start); // topic name
  if (qos > 0) at += 2; // packet identifier
  const length = varint(bytes, at);
  if (length === undefined) return false;
  at += length[1];
  const end = at + length[0];
  if (end > bytes.length) return false;
  while (at < end) {
    const id = bytes[at]!;
    const type = PUBLISH_PROPERTY_TYPES[id];
    at += 1;
    if (type === 'byte') at += 1;
    else if (type === 'int16') at += 2;
    else if (type === 'int32') at += 4;
    else if (type === 'string') at += 2 + bytes.readUInt16BE(at);
    else if (type === 'varint') at += varint(bytes, at)?.[1] ?? Number.POSITIVE_INFINITY;
    else if (type === 'pair') {
      const n = bytes.readUInt16BE(at);
      const v = bytes.readUInt16BE(at + 2 + n);
      if (!pair(at - 1, bytes.toString('utf8', at + 2, at + 2 + n), bytes.toString('utf8', at + 4 + n, at + 4 + n + v))) return true;
      at += 4 + n + v;
    } else return false;
    if (at > end) return false;
  }
  return true;
}

/** Bytes of a PUBLISH's variable header through its property list, from its first bytes (`head`); undefined if they do not tell. */
export function publishHeaderLength(head: Buffer, qos: number): number | undefined {
  if (head.length < 2) return undefined;
  const at = 2 + head.readUInt16BE(0) + (qos > 0 ? 2 : 0);
  const length = varint(head, at);
  return length === undefined ? undefined : at + length[1] + length[0];
}

/**
 * Remembers the wire order of a received PUBLISH's user properties for messageToRecord, when
 * mqtt-packet's folded `{name: value | value[]}` lost it (a repeated name); `body` holds the
 * packet from its variable header on, at least through the property list. [MQTT-5:3.3.2-18]
 */
export function rememberReceivedOrder(user: UserProperties | undefined, body: Buffer, qos: number): void {
  if (user === undefined) return;
  const folded = Object.values(user);
  if (folded.length < 2 || !folded.some(Array.isArray)) return;
  const list: [string, string][] = [];
  if (!walkPublishProperties(body, 0, qos, (_at, name, value) => list.push([name, value]) > 0)) return;
  // The same pairs as the parser's, or the parser's form stands.
  if (list.length === folded.reduce<number>((n, v) => n + (Array.isArray(v) ? v.length : 1), 0)) userPropertyOrder.set(user, list);
}

/**
 * An encoded PUBLISH with its user properties in the order orderedUserProperties was given, or
 * the bytes as they are (no remembered order, nothing to move, or a layout not recognized). The
 * user properties are one run of pairs in the property list (mqtt-packet writes them together);
 * the same pairs in another order take the same bytes, so only that run is rewritten.
 */
export function wireOrderUserProperties(bytes: Buffer, qos: number, user: UserProperties | undefined): Buffer {
  const list = user === undefined ? undefined : userPropertyOrder.get(user);
  if (list === undefined || list.length < 2) return bytes;
  const grouped = Buffer.concat(Object.getOwnPropertyNames(user).flatMap((name) => {
    const v = user![name]!;
    return (Array.isArray(v) ? v : [v]).map((x) => pairBytes(name, String(x)));
  }));
  const ordered = Buffer.concat(list.map(([name, value]) => pairBytes(name, value)));
  if (grouped.equals(ordered)) return bytes;
  const remaining = varint(bytes, 1);
  if (remaining === undefined) return bytes;
  let at = -1;
  if (!walkPublishProperties(bytes, 1 + remaining[1], qos, (first) => ((at = first), false)) || at < 0) return bytes;
  if (!bytes.subarray(at, at + grouped.length).equals(grouped)) return bytes;
  const out = Buffer.from(bytes);
  ordered.copy(out, at);
  return out;
}

// ---------------------------------------------------------------------------------------------
// record → PUBLISH

/** The longest UTF-8 string or binary data field of an MQTT packet. */
const MAX_MQTT_FIELD = 65_535;

/** What a delivery needs to know about a record. */
export interface Delivery {
  readonly topic: string;
  readonly payload: Buffer;
  /** The QoS the record was published with (records from other protocols: the configured default). */
  readonly qos: QoS;
  readonly retain: boolean;
  readonly clientId: string | undefined;
  /** Remaining message expiry in seconds, or undefined for none; ≤ 0 means expired. */
  readonly expiry: number | undefined;
  readonly properties: NonNullable<IPublishPacket['properties']>;
}

/**
 * Reads a record as an MQTT message, or undefined if its key is not a usable topic name.
 * Records without a key get `nullKeyTopic`. Headers other than `mqtt.*` become user properties
 * when their value is UTF-8, so headers set over REST/gRPC reach MQTT 5 subscribers.
 */
export function recordToDelivery(record: StreamRecord, nullKeyTopic: string, defaultQos: QoS, now: number): Delivery | undefined {
  const topic = record.key === null ? nullKeyTopic : record.key.toString('utf8');
  if (topicNameProblem(topic) !== undefined) return undefined;
  const props: NonNullable<IPublishPacket['properties']> = {};
  const user: [string, string][] = [];
  let qos = defaultQos;
  let retain = false;
  let clientId: string | undefined;
  let expiry: number | undefined;
  for (const { name, value } of record.headers) {
    // A string or binary field is at most 65,535 bytes (MQTT-5 §1.5.4, §1.5.6): mqtt-packet
    // would write a truncated packet for a longer one and desynchronize the client's stream, so
    // such a header is not forwarded (the record itself still is).
    if (Buffer.byteLength(name, 'utf8') > MAX_MQTT_FIELD || value.length > MAX_MQTT_FIELD) continue;
    switch (name) {
      case HEADER.qos: {
        const q = Number(value.toString());
        if (q === 0 || q === 1 || q === 2) qos = q;
        break;
      }
      case HEADER.retain:
        retain = value.toString() === '1';
        break;
      case HEADER.clientId:
        clientId = value.toString('utf8');
        break;
      case HEADER.contentType:
        props.contentType = value.toString('utf8');
        break;
      case HEADER.responseTopic:
        props.responseTopic = value.toString('utf8');
        break;
      case HEADER.correlationData:
        props.correlationData = value;
        break;
      case HEADER.payloadFormat:
        props.payloadFormatIndicator = value.toString() === '1';
        break;
      case HEADER.messageExpiry: {
        const seconds = Number(value.toString());
        if (Number.isInteger(seconds) && seconds >= 0) expiry = seconds - Math.floor((now - record.timestamp) / 1000);
        break;
      }
      default: {
        const userName = name.startsWith(HEADER.userPropertyPrefix) ? name.slice(HEADER.userPropertyPrefix.length) : name.startsWith('mqtt.') ? undefined : name;
        if (userName === undefined) break;
        const text = value.toString('utf8');
        // A user property is a UTF-8 string pair without U+0000 [MQTT-5:1.5.4-1/-2] [MQTT-5:1.5.7-1].
        if (isUtf8(value) && !text.includes('\u0000')) user.push([userName, text]);
      }
    }
  }
  // [MQTT-5:3.3.2-17/18] every header a user property, repeats and order kept (see orderedUserProperties).
  if (user.length > 0) props.userProperties = orderedUserProperties(user);
  // [MQTT-5:3.3.2-6] the forwarded expiry is the received value minus the time spent waiting.
  if (expiry !== undefined && expiry > 0) props.messageExpiryInterval = expiry;
  return { topic, payload: record.value ?? Buffer.alloc(0), qos, retain, clientId, expiry, properties: props };
}

// ---------------------------------------------------------------------------------------------
// Retained messages (table `mqtt-retained`, key = MQTT topic name)

/** A retained message as stored in the table (JSON; payload base64). */
export interface RetainedMessage {
  readonly payload: Buffer;
  readonly qos: QoS;
  readonly properties: NonNullable<IPublishPacket['properties']>;
  /** Unix ms when stored; with `properties.messageExpiryInterval` it decides expiry. */
  readonly storedAt: number;
}

export function encodeRetained(m: RetainedMessage): Buffer {
  const p = m.properties;
  return Buffer.from(
    JSON.stringify({
      v: 1,
      payload: m.payload.toString('base64'),
      qos: m.qos,
      storedAt: m.storedAt,
      props: { ...p, correlationData: p.correlationData?.toString('base64'), topicAlias: undefined, subscriptionIdentifier: undefined },
    }),
  );
}

/** Decodes a stored retained message; undefined if the bytes are not one (never trusted blindly). */
export function decodeRetained(buf: Buffer): RetainedMessage | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(buf.toString('utf8'));
  } catch {
    return undefined; // not ours: a foreign value in the table is skipped, not delivered
  }
  if (typeof raw !== 'object' || raw === null) return undefined;
  const r = raw as { payload?: unknown; qos?: unknown; storedAt?: unknown; props?: Record<string, unknown> };
  if (typeof r.payload !== 'string' || (r.qos !== 0 && r.qos !== 1 && r.qos !== 2) || typeof r.storedAt !== 'number') return undefined;
  const props = { ...(r.props ?? {}) } as NonNullable<IPublishPacket['properties']> & { correlationData?: unknown };
  if (typeof props.correlationData === 'string') props.correlationData = Buffer.from(props.correlationData, 'base64');
  return { payload: Buffer.from(r.payload, 'base64'), qos: r.qos, storedAt: r.storedAt, properties: props };
}
