/**
 * Wire shapes of the operator's views that one adapter produces and another serves: the MQTT
 * adapter's sessions, subscriptions and retained messages (registered with the core as the `mqtt`
 * inspector) as REST's `GET /v1/admin/mqtt` returns them (schema: adapters/rest/schemas.ts MqttView).
 */

/** The inspector name the MQTT view is registered under (Gateway.registerInspector). */
export const MQTT_VIEW = 'mqtt';
/** Entries of each list a view carries; the rest is counted (`total`) and flagged (`truncated`). */
export const MAX_VIEW_ENTRIES = 500;
/** Bytes of a retained payload shown (base64 of at most this many bytes). */
export const MAX_VIEW_PAYLOAD_BYTES = 1_024;

/** One MQTT session: online, or offline and persistent. */
export interface MqttSessionView {
  readonly clientId: string;
  readonly connected: boolean;
  /** The principal that owns the session; null when not recorded. */
  readonly principal: string | null;
  /** Session Expiry Interval in seconds (0 = ends with the connection; 4294967295 = never). */
  readonly expiry: number;
  /** Unix ms when an offline session expires; null while connected or never. */
  readonly expiresAt: number | null;
  readonly subscriptions: readonly { readonly filter: string; readonly qos: number; readonly share: string | null }[];
  /** QoS 1/2 deliveries not completed by the client yet. */
  readonly pending: number;
}

/** One retained message. */
export interface MqttRetainedView {
  readonly topic: string;
  readonly qos: number;
  readonly bytes: number;
  /** Unix ms when stored. */
  readonly storedAt: number;
  /** Base64 of the first MAX_VIEW_PAYLOAD_BYTES bytes of the payload. */
  readonly payload: string;
}

/** What the `mqtt` inspector returns. */
export interface MqttView {
  readonly sessions: { readonly total: number; readonly truncated: boolean; readonly items: readonly MqttSessionView[] };
  readonly retained: { readonly total: number; readonly truncated: boolean; readonly items: readonly MqttRetainedView[] };
}
