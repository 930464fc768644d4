/**
 * Liveness of gateway instances on one backend. Every core writes a heartbeat entry
 * `instanceId → {"seen": <unix ms>}` into the compacted `instances` table
 * (`__streamgate-instances`) every `groups.heartbeatMs`, and deletes it on a clean close. An
 * instance is alive while its entry was refreshed within `groups.sessionTimeoutMs` — the same two
 * settings, and the same rule, as group membership (groups.ts), so "a crashed instance's group
 * members are gone" and "a crashed instance is gone" happen at the same moment.
 *
 * Used by adapters that coordinate across instances (MQTT takeover) to avoid waiting for an answer
 * from an instance that can no longer give one.
 */
import type { Logger } from 'pino';
import type { CompactedTable } from './table.js';

/** The name of the liveness table (topic `__streamgate-instances`). */
export const INSTANCES_TABLE = 'instances';

/**
 * Entries not refreshed for this many session timeouts are deleted by whichever instance notices:
 * far beyond the liveness cutoff, so a sweep never races the beat of an instance merely late, and
 * the table stays bounded by the instances of recent restarts.
 */
const SWEEP_AFTER_TIMEOUTS = 10;

/** Heartbeat timing (config section `groups`). */
export interface InstanceOptions {
  /** How often this instance refreshes its entry (`groups.heartbeatMs`). */
  readonly heartbeatMs: number;
  /** An entry older than this names an instance that is gone (`groups.sessionTimeoutMs`). */
  readonly sessionTimeoutMs: number;
}

interface InstanceEntry {
  readonly seen: number;
}

/** This instance's heartbeat and its view of the others. */
export class InstanceRegistry {
  private table: CompactedTable | undefined;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    /** This process's id (the core's `instanceId`). */
    readonly instanceId: string,
    private readonly open: () => Promise<CompactedTable>,
    private readonly options: InstanceOptions,
    private readonly log: Logger,
  ) {}

  /** Opens the table, writes this instance's first heartbeat (acknowledged) and starts beating. */
  async start(): Promise<void> {
    const table = await this.open();
    if (this.closed) return;
    this.table = table;
    await this.write(table);
    this.timer = setInterval(() => this.beat(), this.options.heartbeatMs);
    this.timer.unref();
  }

  /**
   * True for this instance, and for an instance whose entry this copy of the table shows refreshed
   * within `sessionTimeoutMs` (writer's clock). Also true while the table is not loaded yet: not
   * knowing is not evidence of a crash, so callers keep their waiting behaviour then.
   */
  alive(id: string): boolean {
    if (id === this.instanceId) return true;
    const table = this.table;
    if (table === undefined) return true;
    const entry = parseEntry(table.get(id));
    return entry !== undefined && entry.seen >= Date.now() - this.options.sessionTimeoutMs;
  }

  /** Stops beating and deletes this instance's entry (a clean close is seen at once, not after the timeout). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    const table = this.table;
    if (table !== undefined) await table.delete(this.instanceId);
  }

  private beat(): void {
    const table = this.table;
    if (table === undefined || this.closed) return;
    this.write(table).catch((err: unknown) => this.log.warn({ err }, 'instance heartbeat failed'));
    const cutoff = Date.now() - SWEEP_AFTER_TIMEOUTS * this.options.sessionTimeoutMs;
    for (const [id, value] of table.entries()) {
      if (id === this.instanceId) continue;
      const entry = parseEntry(value);
      if (entry !== undefined && entry.seen >= cutoff) continue;
      table.delete(id).catch((err: unknown) => this.log.warn({ err, instance: id }, 'stale instance entry not deleted'));
    }
  }

  private write(table: CompactedTable): Promise<void> {
    return table.set(this.instanceId, Buffer.from(JSON.stringify({ seen: Date.now() } satisfies InstanceEntry), 'utf8'));
  }
}

function parseEntry(value: Buffer | undefined): InstanceEntry | undefined {
  if (value === undefined) return undefined;
  try {
    const entry = JSON.parse(value.toString('utf8')) as Partial<InstanceEntry>;
    return typeof entry.seen === 'number' ? { seen: entry.seen } : undefined;
  } catch {
    return undefined; // an entry this version cannot read names no live instance (and is swept)
  }
}
