/**
 * Who holds a client id's network connection, across gateway instances on one Kafka
 * ([MQTT-3.1.1:3.1.4-2]: "If the ClientId represents a Client already connected to the Server then
 * the Server MUST disconnect the existing Client"; v5 the same with 0x8E [MQTT-5:3.1.4-3]). One entry per connected client id in a compacted
 * table (`mqtt.connectionsTable`, default `mqtt-connections`):
 *
 *   clientId → {"instance": <gateway instance id>, "nonce": <connection id>, "since": <unix ms>, "persistent": bool,
 *               "principal"?: <principal id>, "anonymous"?: true,
 *               "takesOver"?: <nonce of the previous owner's claim, when it waits for its hand-over>,
 *               "refuses"?: <nonce of another principal's claim this one overrides>}
 *
 * The table is one partition, so claims are totally ordered by offset and every instance's copy
 * converges on the last one written: the connection named by the current entry owns the client id,
 * every other connection for it yields (last writer wins).
 */

import type { Principal } from '../../gateway/api.js';

/**
 * The principal a client id's session and connection belong to: the one that created them. Another
 * principal connecting with that client id is refused (never takes it over). The anonymous
 * principal is one principal: anonymous clients can take over each other's client ids.
 */
export interface ClientIdOwner {
  readonly id: string;
  /** Kept apart from the id: an authenticated principal named "anonymous" is not the anonymous one. */
  readonly anonymous: boolean;
}

export function ownerOf(principal: Principal): ClientIdOwner {
  return { id: principal.id, anonymous: principal.anonymous };
}

/** Whether `a` and `b` are the same principal; an owner that is not known (entries from before owners were recorded) matches anyone. */
export function sameOwner(a: ClientIdOwner | undefined, b: ClientIdOwner | undefined): boolean {
  return a === undefined || b === undefined || (a.id === b.id && a.anonymous === b.anonymous);
}

/** One claim of a client id by one network connection. */
export interface OwnerEntry {
  /** The claiming gateway instance (`Gateway.instanceId`, new at every start). */
  readonly instance: string;
  /** The claiming connection (random per CONNECT). */
  readonly nonce: string;
  /** Unix ms of the claim — informational (logs, operators), never compared across instances. */
  readonly since: number;
  /** Whether the claimer's session outlives its connection (then a successor waits for its hand-over). */
  readonly persistent: boolean;
  /** The claiming connection's principal (absent in entries written before client ids were bound to principals). */
  readonly principal?: string;
  readonly anonymous?: true;
  /**
   * The claim this one replaced when that was a persistent session on another instance: that
   * instance writes the hand-over marker only for a claim naming its own connection, so a stale
   * copy is never written over a session someone else changed since.
   */
  readonly takesOver?: string;
  /**
   * Set when a connection re-asserts its claim over a later claim of another principal (two
   * CONNECTs racing on two instances, both past the ownership check): the connection named here
   * is refused (0x87) by its instance; without the marker both would re-assert forever.
   */
  readonly refuses?: string;
}

/** The principal named by a claim, if it names one. */
export function claimOwner(entry: OwnerEntry): ClientIdOwner | undefined {
  return entry.principal === undefined ? undefined : { id: entry.principal, anonymous: entry.anonymous === true };
}

/** The claim fields naming `owner`. */
export function claimFields(owner: ClientIdOwner): Pick<OwnerEntry, 'principal' | 'anonymous'> {
  return { principal: owner.id, ...(owner.anonymous ? { anonymous: true as const } : {}) };
}

export function encodeOwner(entry: OwnerEntry): Buffer {
  return Buffer.from(JSON.stringify(entry), 'utf8');
}

/** The entry in a table value, or undefined for an absent or unreadable one (unreadable = nobody's). */
export function decodeOwner(buf: Buffer | undefined): OwnerEntry | undefined {
  if (buf === undefined) return undefined;
  try {
    const raw = JSON.parse(buf.toString('utf8')) as Partial<OwnerEntry>;
    if (typeof raw.instance !== 'string' || typeof raw.nonce !== 'string') return undefined;
    return {
      instance: raw.instance,
      nonce: raw.nonce,
      since: typeof raw.since === 'number' ? raw.since : 0,
      persistent: raw.persistent === true,
      ...(typeof raw.principal === 'string' ? { principal: raw.principal } : {}),
      ...(raw.anonymous === true ? { anonymous: true as const } : {}),
      ...(typeof raw.takesOver === 'string' ? { takesOver: raw.takesOver } : {}),
      ...(typeof raw.refuses === 'string' ? { refuses: raw.refuses } : {}),
    };
  } catch {
    // A value that is not JSON names no owner: treating it as absent lets the next claim replace it.
    return undefined;
  }
}
