/**
 * State shared by all MQTT connections of this gateway: the session registry (takeover,
 * persistence in the `mqtt-sessions` table, expiry), retained messages (`mqtt-retained` table)
 * and delayed wills. (Waiting for a Kafka topic that does not exist yet is the core's job.)
 */
import type { Logger } from 'pino';
import type { Context, Gateway, Table } from '../../gateway/api.js';
import { GatewayError } from '../../gateway/errors.js';
import { messageToRecord, Routes, type Message, type RetainedMessage, encodeRetained } from './codec.js';
import type { MqttConfig } from './config.js';
import { SessionState } from './state.js';
import type { Connection } from './session.js';

export class Broker {
  readonly routes: Routes;
  /** Sessions known in memory: online ones and offline persistent ones loaded or kept since. */
  readonly sessions = new Map<string, SessionState>();
  readonly connections = new Map<string, Connection>();
  readonly all = new Set<Connection>();
  private readonly wills = new Map<string, NodeJS.Timeout>();
  private readonly expiries = new Map<string, NodeJS.Timeout>();
  private flushTimer: NodeJS.Timeout | undefined;
  closing = false;

  private constructor(
    readonly gateway: Gateway,
    readonly config: MqttConfig,
    readonly log: Logger,
    readonly retained: Table,
    readonly stored: Table,
  ) {
    this.routes = new Routes(
      config.routes.map((r) => ({ filter: r.filter, topic: r.topic, nullKeyTopic: ('nullKeyTopic' in r ? r.nullKeyTopic : undefined) ?? r.topic })),
      config.defaultTopic,
      config.defaultNullKeyTopic ?? config.defaultTopic,
    );
  }

  static async open(gateway: Gateway, config: MqttConfig, log: Logger): Promise<Broker> {
    const [retained, stored] = await Promise.all([gateway.table(config.retainedTable), gateway.table(config.sessionsTable)]);
    const broker = new Broker(gateway, config, log, retained, stored);
    await broker.sweepExpired();
    broker.flushTimer = setInterval(() => broker.flushDirty(), config.sessionFlushMs);
    return broker;
  }

  /** Deletes stored sessions that expired while no gateway held them; re-arms timers for the rest. */
  private async sweepExpired(): Promise<void> {
    const now = Date.now();
    for (const [clientId, buf] of this.stored.entries()) {
      let s: SessionState;
      try {
        s = SessionState.decode(clientId, buf);
      } catch (err) {
        this.log.warn({ err, clientId }, 'unreadable stored MQTT session deleted');
        await this.stored.delete(clientId);
        continue;
      }
      if (s.expiresAt !== undefined && s.expiresAt <= now) await this.stored.delete(clientId);
      else if (s.expiresAt !== undefined) this.armExpiry(clientId, s.expiresAt - now);
    }
  }

  /** The session of a client id (memory first, then the table), or undefined. Expired ones are dropped. */
  loadSession(clientId: string): SessionState | undefined {
    const inMemory = this.sessions.get(clientId);
    if (inMemory !== undefined) return inMemory;
    const buf = this.stored.get(clientId);
    if (buf === undefined) return undefined;
    try {
      const s = SessionState.decode(clientId, buf);
      if (s.expiresAt !== undefined && s.expiresAt <= Date.now()) return undefined;
      this.sessions.set(clientId, s);
      return s;
    } catch (err) {
      this.log.warn({ err, clientId }, 'unreadable stored MQTT session ignored');
      return undefined;
    }
  }

  /** Ends a session: forgotten in memory and deleted from the table. */
  async dropSession(clientId: string): Promise<void> {
    this.sessions.delete(clientId);
    this.clearExpiry(clientId);
    if (this.stored.get(clientId) !== undefined) await this.stored.delete(clientId);
  }

  /** Writes a persistent session to the table (serialized per session; resolves after the backend ack). */
  saveSession(s: SessionState): Promise<void> {
    if (!s.persistent) return Promise.resolve();
    s.dirty = false;
    const value = s.encode();
    const next = s.saving.then(() => this.stored.set(s.clientId, value));
    s.saving = next.catch((err: unknown) => {
      s.dirty = true; // written again by the next flush
      this.log.warn({ err, clientId: s.clientId }, 'MQTT session write failed');
    });
    return next;
  }

  private flushDirty(): void {
    for (const s of this.sessions.values()) if (s.dirty && s.persistent) void this.saveSession(s).catch(() => undefined /* logged in saveSession */);
  }

  /** Called when a session goes offline: expires after its interval (capped by config). */
  sessionOffline(s: SessionState): void {
    if (!s.persistent) {
      this.sessions.delete(s.clientId);
      return;
    }
    if (s.expiry !== 0xffffffff) {
      const ms = s.expiry * 1000;
      s.expiresAt = Date.now() + ms;
      this.armExpiry(s.clientId, ms);
    }
  }

  private armExpiry(clientId: string, ms: number): void {
    this.clearExpiry(clientId);
    // setTimeout holds at most ~24.8 days; longer expiries are re-checked at the next restart sweep.
    const timer = setTimeout(() => {
      this.expiries.delete(clientId);
      if (this.connections.has(clientId)) return;
      this.dropSession(clientId).catch((err: unknown) => this.log.warn({ err, clientId }, 'deleting expired MQTT session failed'));
    }, Math.min(ms, 2 ** 31 - 1));
    timer.unref();
    this.expiries.set(clientId, timer);
  }

  clearExpiry(clientId: string): void {
    const t = this.expiries.get(clientId);
    if (t !== undefined) clearTimeout(t);
    this.expiries.delete(clientId);
  }

  // ---- wills -------------------------------------------------------------------------------

  /**
   * Publishes a will now, or after its delay unless the client id reconnects first. [MQTT-3.1.3-9]
   * `ctx` is the connection's: the will is written with the client's own principal, so it is
   * authorized (and rate limited) like any PUBLISH of that client.
   */
  scheduleWill(clientId: string, will: Message, delaySeconds: number, ctx: Context): void {
    this.cancelWill(clientId);
    if (delaySeconds <= 0) {
      void this.publishWill(clientId, will, ctx);
      return;
    }
    const timer = setTimeout(() => {
      this.wills.delete(clientId);
      void this.publishWill(clientId, will, ctx);
    }, delaySeconds * 1000);
    this.wills.set(clientId, timer);
  }

  /** A new connection for the session arrived before the will delay ran out: the will is not sent. */
  cancelWill(clientId: string): void {
    const t = this.wills.get(clientId);
    if (t !== undefined) clearTimeout(t);
    this.wills.delete(clientId);
  }

  private async publishWill(clientId: string, will: Message, ctx: Context): Promise<void> {
    try {
      await this.write(will, clientId, ctx);
      this.log.info({ clientId, topic: will.topic }, 'will message published');
    } catch (err) {
      this.log.warn({ err: GatewayError.from(err), clientId }, 'will message could not be written');
    }
  }

  /** Writes one message (and its retained state) — used for wills; connections batch their own. */
  async write(msg: Message, clientId: string, ctx: Context): Promise<void> {
    const topic = this.routes.topicFor(msg.topic);
    const [result] = await this.gateway.produce(ctx, topic, [messageToRecord(msg, clientId)]);
    if (result !== undefined && !result.ok) throw result.error;
    if (msg.retain) await this.storeRetained(msg);
  }

  // ---- retained ----------------------------------------------------------------------------

  /** [MQTT-3.3.1-5] store / [MQTT-3.3.1-6] an empty payload removes the retained message. */
  async storeRetained(msg: Message): Promise<void> {
    if (msg.payload.length === 0) {
      if (this.retained.get(msg.topic) !== undefined) await this.retained.delete(msg.topic);
      return;
    }
    const stored: RetainedMessage = { payload: msg.payload, qos: msg.qos, properties: { ...(msg.properties ?? {}) }, storedAt: Date.now() };
    delete stored.properties.topicAlias;
    await this.retained.set(msg.topic, encodeRetained(stored));
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.flushTimer !== undefined) clearInterval(this.flushTimer);
    for (const t of this.wills.values()) clearTimeout(t);
    for (const t of this.expiries.values()) clearTimeout(t);
    this.wills.clear();
    this.expiries.clear();
    await Promise.allSettled([...this.all].map((c) => c.shutdown()));
    await Promise.allSettled([...this.sessions.values()].map((s) => (s.persistent ? this.saveSession(s) : undefined)));
  }
}
