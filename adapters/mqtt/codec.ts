/**
 * MQTT ↔ core translation: topic name and filter rules, the route table (MQTT topic → Kafka
 * topic), and PUBLISH ↔ record mapping (key = MQTT topic name, value = payload, MQTT 5
 * properties as `mqtt.*` headers). Pure functions; no I/O.
 */
import type { IPublishPacket, UserProperties } from 'mqtt-packet';
import type { Headers, ProduceRecord, StreamRecord } from '../../gateway/record.js';
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
  const headers: Headers = { [HEADER.qos]: Buffer.from(String(msg.qos)) };
  if (msg.retain) headers[HEADER.retain] = Buffer.from('1');
  headers[HEADER.clientId] = Buffer.from(clientId, 'utf8');
  const p = msg.properties;
  if (p !== undefined) {
    if (p.contentType !== undefined) headers[HEADER.contentType] = Buffer.from(p.contentType, 'utf8');
    if (p.responseTopic !== undefined) headers[HEADER.responseTopic] = Buffer.from(p.responseTopic, 'utf8');
    if (p.correlationData !== undefined) headers[HEADER.correlationData] = Buffer.from(p.correlationData);
    if (p.payloadFormatIndicator === true) headers[HEADER.payloadFormat] = Buffer.from('1');
    if (p.messageExpiryInterval !== undefined) headers[HEADER.messageExpiry] = Buffer.from(String(p.messageExpiryInterval));
    for (const [name, value] of Object.entries(p.userProperties ?? {})) {
      // Headers hold one value per name: a repeated user property keeps its last value.
      const v = Array.isArray(value) ? value[value.length - 1] : value;
      // A W3C traceparent user property becomes the records' shared `traceparent` header, so the
      // trace continues on every protocol (and comes back out as a user property).
      if (v !== undefined) headers[name === TRACEPARENT ? TRACEPARENT : HEADER.userPropertyPrefix + name] = Buffer.from(v, 'utf8');
    }
  }
  return { key: Buffer.from(msg.topic, 'utf8'), value: msg.payload, headers };
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
  const user: UserProperties = {};
  let qos = defaultQos;
  let retain = false;
  let clientId: string | undefined;
  let expiry: number | undefined;
  for (const [name, value] of Object.entries(record.headers)) {
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
        if (!text.includes('\uFFFD')) user[userName] = text;
      }
    }
  }
  if (Object.keys(user).length > 0) props.userProperties = user;
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
