/**
 * The operator's view of who is connected: open connections per protocol (every admitted
 * connection, from `connectionOpened`), the principals behind the long-lived ones (from
 * `connectionIdentified`), and each principal's traffic (records produced and delivered, counted
 * by the core for every protocol). Protocol-free: a protocol is a label the adapter names.
 *
 * Memory is bounded: at most MAX_PRINCIPALS principals are tracked; one with no open connection is
 * forgotten first when a new one arrives, and past the bound new principals are counted as `_other`.
 */

/** Principals tracked with their own entry; the rest are counted together as OTHER_PRINCIPAL. */
export const MAX_PRINCIPALS = 10_000;
/** The entry principals past MAX_PRINCIPALS are counted under. */
export const OTHER_PRINCIPAL = '_other';
/** Principals a snapshot lists (the top talkers by traffic, then by connections). */
export const SNAPSHOT_PRINCIPALS = 100;

/** Connections of one protocol. */
export interface ProtocolConnections {
  readonly protocol: string;
  /** Open now. */
  readonly open: number;
  /** Accepted since the gateway started (a console derives the connection rate from two snapshots). */
  readonly openedTotal: number;
}

/** One principal's connections and traffic. */
export interface PrincipalConnections {
  readonly principal: string;
  /** Identified connections open now, by protocol. */
  readonly connections: Readonly<Record<string, number>>;
  /** Records this principal produced (acknowledged by the backend), every protocol, since start. */
  readonly recordsIn: number;
  /** Records delivered to this principal's subscriptions, every protocol, since start. */
  readonly recordsOut: number;
  /** Unix ms of its last connection or record. */
  readonly lastSeen: number;
}

/** What `Gateway.connections` returns. */
export interface ConnectionsSnapshot {
  /** Unix ms the snapshot was taken. */
  readonly at: number;
  readonly protocols: readonly ProtocolConnections[];
  /** The top SNAPSHOT_PRINCIPALS principals by traffic (records in + out), then by open connections. */
  readonly principals: readonly PrincipalConnections[];
  /** Principals tracked in all (the snapshot lists at most SNAPSHOT_PRINCIPALS). */
  readonly principalsTracked: number;
}

interface PrincipalEntry {
  readonly connections: Map<string, number>;
  open: number;
  recordsIn: number;
  recordsOut: number;
  lastSeen: number;
}

/** The registry behind `connectionOpened` / `connectionIdentified` and the traffic counters (see the file comment). */
export class ConnectionRegistry {
  private readonly protocols = new Map<string, { open: number; openedTotal: number }>();
  private readonly principals = new Map<string, PrincipalEntry>();

  constructor(private readonly maxPrincipals = MAX_PRINCIPALS) {}

  /** Counts an admitted connection of `protocol`; the returned function (idempotent) counts its close. */
  opened(protocol: string): () => void {
    const entry = this.protocols.get(protocol) ?? { open: 0, openedTotal: 0 };
    this.protocols.set(protocol, entry);
    entry.open++;
    entry.openedTotal++;
    let open = true;
    return () => {
      if (!open) return;
      open = false;
      entry.open--;
    };
  }

  /** Counts an open connection of `principal` over `protocol`; the returned function (idempotent) counts its close. */
  identified(principal: string, protocol: string): () => void {
    const entry = this.entry(principal);
    entry.connections.set(protocol, (entry.connections.get(protocol) ?? 0) + 1);
    entry.open++;
    let open = true;
    return () => {
      if (!open) return;
      open = false;
      entry.open--;
      entry.lastSeen = Date.now();
      const left = (entry.connections.get(protocol) ?? 1) - 1;
      if (left <= 0) entry.connections.delete(protocol);
      else entry.connections.set(protocol, left);
    };
  }

  /** Counts records a principal produced (`in`) or was delivered (`out`). */
  traffic(principal: string, direction: 'in' | 'out', records: number): void {
    const entry = this.entry(principal);
    if (direction === 'in') entry.recordsIn += records;
    else entry.recordsOut += records;
  }

  /** Open connections by protocol (what a metrics sample carries); linear in the protocols. */
  openByProtocol(): Record<string, number> {
    return Object.fromEntries([...this.protocols].map(([protocol, c]) => [protocol, c.open]));
  }

  /** The current counts (see ConnectionsSnapshot); linear in the principals tracked. */
  snapshot(): ConnectionsSnapshot {
    const protocols = [...this.protocols].map(([protocol, c]) => ({ protocol, open: c.open, openedTotal: c.openedTotal })).sort((a, b) => a.protocol.localeCompare(b.protocol));
    const ranked = [...this.principals].sort(([, a], [, b]) => b.recordsIn + b.recordsOut - (a.recordsIn + a.recordsOut) || b.open - a.open);
    const principals = ranked.slice(0, SNAPSHOT_PRINCIPALS).map(([principal, e]) => ({
      principal,
      connections: Object.fromEntries(e.connections),
      recordsIn: e.recordsIn,
      recordsOut: e.recordsOut,
      lastSeen: e.lastSeen,
    }));
    return { at: Date.now(), protocols, principals, principalsTracked: this.principals.size };
  }

  /** The principal's entry, made room for within the bound (see the file comment). */
  private entry(principal: string): PrincipalEntry {
    let entry = this.principals.get(principal);
    if (entry !== undefined) {
      entry.lastSeen = Date.now();
      return entry;
    }
    if (this.principals.size >= this.maxPrincipals) {
      // The least recently added principal without an open connection makes room; if every tracked
      // principal is connected, the newcomer is counted with the others past the bound.
      for (const [id, e] of this.principals) {
        if (e.open === 0 && id !== OTHER_PRINCIPAL) {
          this.principals.delete(id);
          break;
        }
      }
      if (this.principals.size >= this.maxPrincipals) return this.other();
    }
    entry = { connections: new Map(), open: 0, recordsIn: 0, recordsOut: 0, lastSeen: Date.now() };
    this.principals.set(principal, entry);
    return entry;
  }

  private other(): PrincipalEntry {
    let entry = this.principals.get(OTHER_PRINCIPAL);
    if (entry === undefined) {
      entry = { connections: new Map(), open: 0, recordsIn: 0, recordsOut: 0, lastSeen: Date.now() };
      // Over the bound by this one entry at most.
      this.principals.set(OTHER_PRINCIPAL, entry);
    }
    entry.lastSeen = Date.now();
    return entry;
  }
}
