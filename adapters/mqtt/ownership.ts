/**
 * Who holds a client id's network connection, across gateway instances on one Kafka
 * ([MQTT-3.1.4-2]: "If the ClientId represents a Client already connected to the Server, the
 * Server MUST disconnect the existing Client"). One entry per connected client id in a compacted
 * table (`mqtt.connectionsTable`, default `mqtt-connections`):
 *
 *   clientId → {"instance": <broker id>, "nonce": <connection id>, "since": <unix ms>, "persistent": bool,
 *               "takesOver"?: <nonce of the previous owner's claim, when it waits for its hand-over>}
 *
 * The table is one partition, so claims are totally ordered by offset and every instance's copy
 * converges on the last one written: the connection named by the current entry owns the client id,
 * every other connection for it yields (last writer wins).
 */

/** One claim of a client id by one network connection. */
export interface OwnerEntry {
  /** The claiming broker (random per adapter start). */
  readonly instance: string;
  /** The claiming connection (random per CONNECT). */
  readonly nonce: string;
  /** Unix ms of the claim — informational (logs, operators), never compared across instances. */
  readonly since: number;
  /** Whether the claimer's session outlives its connection (then a successor waits for its hand-over). */
  readonly persistent: boolean;
  /**
   * The claim this one replaced when that was a persistent session on another instance: that
   * instance writes the hand-over marker only for a claim naming its own connection, so a stale
   * copy is never written over a session someone else changed since.
   */
  readonly takesOver?: string;
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
      ...(typeof raw.takesOver === 'string' ? { takesOver: raw.takesOver } : {}),
    };
  } catch {
    // A value that is not JSON names no owner: treating it as absent lets the next claim replace it.
    return undefined;
  }
}
