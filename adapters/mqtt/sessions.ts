/**
 * State shared by all MQTT connections of this gateway: the session registry (takeover,
 * persistence in the `mqtt-sessions` table, expiry), retained messages (`mqtt-retained` table)
 * and delayed wills. (Waiting for a Kafka topic that does not exist yet is the core's job.)
 */
import type { Logger } from 'pino';
import type { Context, Gateway, Table } from '../../gateway/api.js';
import { GatewayError } from '../../gateway/errors.js';
import { MAX_VIEW_ENTRIES, MAX_VIEW_PAYLOAD_BYTES, type MqttSessionView, type MqttView } from '../../codecs/operator.js';
import { messageToRecord, Routes, type Message, type RetainedMessage, decodeRetained, encodeRetained } from './codec.js';
import { MAX_TIMER_MS, SESSION_NEVER_EXPIRES, type MqttConfig } from './config.js';
import { claimFields, claimOwner, decodeOwner, encodeOwner, sameOwner, type ClientIdOwner, type OwnerEntry } from './ownership.js';
import { Session } from './session.js';
import type { Client } from './client.js';

export class SessionRegistry {
  readonly routes: Routes;
  /** Sessions known in memory: online ones and offline persistent ones loaded or kept since. */
  readonly sessions = new Map<string, Session>();
  readonly connected = new Map<string, Client>();
  readonly clients = new Set<Client>();
  private readonly wills = new Map<string, NodeJS.Timeout>();
  private readonly expiries = new Map<string, NodeJS.Timeout>();
  private flushTimer: NodeJS.Timeout | undefined;
  private stopFollowingOwners: (() => void) | undefined;
  closing = false;

  /**
   * Names this registry in the connections table: the core's instance id, whose liveness every
   * instance can check (`Gateway.instanceAlive`), so a claimer knows whether a hand-over can come.
   */
  get instanceId(): string {
    return this.gateway.instanceId;
  }

  private constructor(
    readonly gateway: Gateway,
    readonly config: MqttConfig,
    readonly log: Logger,
    readonly retained: Table,
    readonly stored: Table,
    readonly owners: Table,
  ) {
    this.routes = new Routes(
      config.routes.map((r) => ({ filter: r.filter, topic: r.topic, nullKeyTopic: ('nullKeyTopic' in r ? r.nullKeyTopic : undefined) ?? r.topic })),
      config.defaultTopic,
      config.defaultNullKeyTopic ?? config.defaultTopic,
    );
  }

  static async open(gateway: Gateway, config: MqttConfig, log: Logger): Promise<SessionRegistry> {
    const [retained, stored, owners] = await Promise.all([
      gateway.table(config.retainedTable),
      gateway.table(config.sessionsTable),
      gateway.table(config.connectionsTable),
    ]);
    const registry = new SessionRegistry(gateway, config, log, retained, stored, owners);
    registry.stopFollowingOwners = owners.onChange((clientId) => registry.ownerChanged(clientId));
    await registry.sweepExpired();
    registry.flushTimer = setInterval(() => registry.flushDirty(), config.sessionFlushMs);
    return registry;
  }

  /** Deletes stored sessions that expired while no gateway held them; re-arms timers for the rest. */
  private async sweepExpired(): Promise<void> {
    const now = Date.now();
    for (const [clientId, buf] of this.stored.entries()) {
      let s: Session;
      try {
        s = Session.decode(clientId, buf);
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
  loadSession(clientId: string): Session | undefined {
    const inMemory = this.sessions.get(clientId);
    if (inMemory !== undefined && !inMemory.persistent) return inMemory;
    const buf = this.stored.get(clientId);
    let stored: Session | undefined;
    try {
      stored = buf === undefined ? undefined : Session.decode(clientId, buf);
    } catch (err) {
      this.log.warn({ err, clientId }, 'unreadable stored MQTT session ignored');
    }
    if (inMemory !== undefined) {
      // The in-memory copy (it may hold changes not flushed yet) is current only while the stored
      // one is still its incarnation. A connection elsewhere may have held the session since without
      // this instance hearing of it (its claim erased by this instance's own close racing it, so no
      // hand-over was asked), or a clean start elsewhere dropped it: then this copy is stale.
      if (stored?.heldBy === inMemory.heldBy) return inMemory;
      this.log.info({ clientId }, 'in-memory MQTT session superseded by another instance; reading the stored one');
      inMemory.released = true;
      this.sessions.delete(clientId);
      this.clearExpiry(clientId);
    }
    if (stored === undefined || (stored.expiresAt !== undefined && stored.expiresAt <= Date.now())) return undefined;
    this.sessions.set(clientId, stored);
    return stored;
  }

  /** Ends a session: forgotten in memory and deleted from the table. */
  async dropSession(clientId: string): Promise<void> {
    this.sessions.delete(clientId);
    this.clearExpiry(clientId);
    if (this.stored.get(clientId) !== undefined) await this.stored.delete(clientId);
  }

  /** Writes a persistent session to the table (serialized per session; resolves after the backend ack). */
  saveSession(s: Session): Promise<void> {
    if (!s.persistent || s.released) return Promise.resolve();
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
  sessionOffline(s: Session): void {
    if (!s.persistent) {
      this.sessions.delete(s.clientId);
      return;
    }
    if (s.expiry !== SESSION_NEVER_EXPIRES) {
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
      if (this.connected.has(clientId)) return;
      this.dropSession(clientId).catch((err: unknown) => this.log.warn({ err, clientId }, 'deleting expired MQTT session failed'));
    }, Math.min(ms, MAX_TIMER_MS));
    timer.unref();
    this.expiries.set(clientId, timer);
  }

  clearExpiry(clientId: string): void {
    const t = this.expiries.get(clientId);
    if (t !== undefined) clearTimeout(t);
    this.expiries.delete(clientId);
  }

  // ---- ownership across instances (ownership.ts) ---------------------------------------------

  /**
   * Claims a client id for a connection of this registry; resolves once the claim is durable. Returns
   * the previous owner when it is a persistent session on another instance that is alive: the caller
   * then waits for its hand-over (awaitHandover) before reading the session. An entry of an instance
   * that is gone (crashed: no heartbeat within `groups.sessionTimeoutMs`) is replaced without a
   * wait — nobody would answer — and without `takesOver`, so should that instance still be running
   * after all, it releases its copy without writing it over the session this claimer reads.
   */
  async claim(clientId: string, nonce: string, persistent: boolean, owner: ClientIdOwner): Promise<OwnerEntry | undefined> {
    const current = decodeOwner(this.owners.get(clientId));
    const other = current !== undefined && current.instance !== this.instanceId && current.persistent ? current : undefined;
    const gone = other !== undefined && !this.gateway.instanceAlive(other.instance);
    if (gone) {
      this.log.info({ clientId, previous: other.instance }, 'previous MQTT owner instance is gone; not waiting for its hand-over');
    }
    const previous = gone ? undefined : other;
    await this.owners.set(
      clientId,
      encodeOwner({ instance: this.instanceId, nonce, since: Date.now(), persistent, ...claimFields(owner), ...(previous === undefined ? {} : { takesOver: previous.nonce }) }),
    );
    return previous;
  }

  /**
   * What holds `clientId` for a principal other than `owner`, if anything does (for the log): a
   * connection or session on this instance, the connections-table entry of another live instance,
   * or a stored session that has not expired. Synchronous, so the caller's check and its
   * registration of the new connection are one step on this instance. Reads this instance's copies
   * of the tables: sync them first when another instance may have just written them.
   */
  foreignHolder(clientId: string, owner: ClientIdOwner): string | undefined {
    const local = this.connected.get(clientId);
    if (local !== undefined && !sameOwner(local.owner, owner)) return 'a connection on this instance';
    if (!sameOwner(this.sessions.get(clientId)?.owner, owner)) return 'a session on this instance';
    const entry = decodeOwner(this.owners.get(clientId));
    // This instance's own entries are covered by its connections above; a gone instance's entry
    // names no live connection (its persistent session, if any, is checked below).
    if (entry !== undefined && entry.instance !== this.instanceId && this.gateway.instanceAlive(entry.instance) && !sameOwner(claimOwner(entry), owner)) {
      return 'a connection on another instance';
    }
    const buf = this.stored.get(clientId);
    if (buf !== undefined) {
      let stored: Session | undefined;
      try {
        stored = Session.decode(clientId, buf);
      } catch {
        stored = undefined; // unreadable: nobody's (loadSession logs and ignores it too)
      }
      if (stored !== undefined && !(stored.expiresAt !== undefined && stored.expiresAt <= Date.now()) && !sameOwner(stored.owner, owner)) return 'a stored session';
    }
    return undefined;
  }

  /** True when a later claim than `nonce` is the table's current entry (a deleted entry is no one's claim). */
  claimSuperseded(clientId: string, nonce: string): boolean {
    const current = decodeOwner(this.owners.get(clientId));
    return current !== undefined && current.nonce !== nonce;
  }

  /**
   * Deletes the entry of a closing connection if it is still its own. Check-then-delete on this
   * instance's copy: a claim written elsewhere within the replication lag before the delete can be
   * erased (no compare-and-set on a compacted topic); its connection keeps working, and a later
   * claimer then does not wait for that connection's hand-over (it still takes it over).
   */
  async releaseClaim(clientId: string, nonce: string): Promise<void> {
    if (decodeOwner(this.owners.get(clientId))?.nonce !== nonce) return;
    await this.owners.delete(clientId);
  }

  /**
   * Waits until the sessions table shows the session handed over to claim `nonce` (the previous
   * owner's last write), at most `takeoverWaitMs`. False on timeout, when a later claim superseded
   * `nonce`, or when `abandoned` settles (the waiting connection closed).
   */
  awaitHandover(clientId: string, nonce: string, abandoned: Promise<void>): Promise<boolean> {
    return new Promise((resolve) => {
      const handedOver = (): boolean => {
        const buf = this.stored.get(clientId);
        if (buf === undefined) return false;
        try {
          return Session.decode(clientId, buf).handover === nonce;
        } catch (err) {
          this.log.warn({ err, clientId }, 'unreadable stored MQTT session while waiting for its hand-over');
          return false;
        }
      };
      let timer: NodeJS.Timeout | undefined;
      const stops: (() => void)[] = [];
      const finish = (ok: boolean): void => {
        clearTimeout(timer);
        for (const stop of stops.splice(0)) stop();
        resolve(ok);
      };
      if (handedOver()) return finish(true);
      stops.push(
        this.stored.onChange((key) => {
          if (key === clientId && handedOver()) finish(true);
        }),
        this.owners.onChange((key) => {
          if (key === clientId && this.claimSuperseded(clientId, nonce)) finish(false);
        }),
      );
      timer = setTimeout(() => finish(false), this.config.takeoverWaitMs);
      void abandoned.then(() => finish(false));
    });
  }

  /** Follows the connections table: a claim by another instance ends what this one holds for that client id. */
  private ownerChanged(clientId: string): void {
    const owner = decodeOwner(this.owners.get(clientId));
    // Claims by this instance are settled locally (the CONNECT handler closes the older connection first).
    if (owner === undefined || owner.instance === this.instanceId || this.closing) return;
    this.yieldTo(clientId, owner).catch((err: unknown) => this.log.error({ err, clientId }, 'MQTT session hand-over failed'));
  }

  /**
   * Another instance now holds `clientId` [MQTT-5:3.1.4-3] [MQTT-3.1.1:3.1.4-2]: the local connection is closed (v5
   * DISCONNECT 0x8E), its final session state written, then the hand-over marker naming the new
   * owner's claim — the new owner reads the session only after that, so the old connection's
   * writes never land after its reads. The local copy is then stale: forgotten in memory, never
   * written again, its expiry timer and delayed will cancelled ([MQTT-5:3.1.3-9] the client
   * reconnected) — never deleted from the table, which is the new owner's now.
   */
  private async yieldTo(clientId: string, owner: OwnerEntry): Promise<void> {
    const claimant = claimOwner(owner);
    const local = [...this.clients].filter((c) => c.clientIdentifier === clientId && c.claimNonce !== undefined && c.claimNonce !== owner.nonce);
    // Another principal's claim takes nothing over. It can only exist when its CONNECT raced past
    // the ownership check (this connection's claim not yet visible there): the connection that
    // holds a durable claim here came first, keeps the client id and re-asserts its claim naming
    // the other one as refused, which that one's instance then closes (0x87).
    const refused = local.filter((c) => c.claimNonce === owner.refuses);
    const holders = local.filter((c) => c.claimNonce !== owner.refuses && !sameOwner(c.owner, claimant));
    if (refused.length > 0 || holders.length > 0) {
      await Promise.all(refused.map((c) => c.refusedByHolder()));
      const holder = holders.find((c) => !c.isClosed());
      if (holder !== undefined) {
        this.log.warn({ clientId, claimant: claimant?.id, instance: owner.instance }, 'claim of this client id by another principal refused; re-asserting the holder');
        await this.owners
          .set(clientId, encodeOwner({ instance: this.instanceId, nonce: holder.claimNonce!, since: Date.now(), persistent: holder.persistentSession, ...claimFields(holder.owner!), refuses: owner.nonce }))
          .catch((err: unknown) => this.log.warn({ err, clientId }, 'claim could not be re-asserted'));
      }
      return;
    }
    await Promise.all(local.map((c) => c.takenOver('remote')));
    // A newer local claim may have arrived meanwhile: then the session is that connection's business.
    if (this.connected.has(clientId)) return;
    const s = this.sessions.get(clientId);
    if (s !== undefined && !s.released) {
      // Only a claimer that saw this instance's connection as the owner waits for the marker; anyone
      // else may already have changed the session, which this copy must then not overwrite.
      if (s.persistent && owner.takesOver !== undefined && owner.takesOver === s.heldBy) {
        s.handover = owner.nonce;
        await this.saveSession(s).catch((err: unknown) => this.log.warn({ err, clientId }, 'hand-over marker not written; the new owner reads the stored state after its wait'));
      }
      s.released = true;
      if (this.sessions.get(clientId) === s) this.sessions.delete(clientId);
    }
    this.clearExpiry(clientId);
    this.cancelWill(clientId);
    this.log.info({ clientId, owner: owner.instance }, 'MQTT client id taken over by another gateway instance');
  }

  // ---- wills -------------------------------------------------------------------------------

  /**
   * Publishes a will now, or after its delay unless the client id reconnects first [MQTT-5:3.1.3-9].
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
    if (msg.retain) await this.storeRetained(msg, topic, ctx);
  }

  // ---- retained ----------------------------------------------------------------------------

  /**
   * Store [MQTT-5:3.3.1-5] [MQTT-3.1.1:3.3.1-5] / an empty payload removes the retained message
   * [MQTT-5:3.3.1-6] [MQTT-3.1.1:3.3.1-10]. Both need
   * the write scope for the message's topic in its Kafka topic (PERMISSION_DENIED otherwise, table
   * untouched) — also checked by the produce before it, but the table is written here.
   */
  async storeRetained(msg: Message, kafkaTopic: string, ctx: Context): Promise<void> {
    this.gateway.authorize(ctx, 'write', kafkaTopic, msg.topic);
    if (msg.payload.length === 0) {
      if (this.retained.get(msg.topic) !== undefined) await this.retained.delete(msg.topic);
      return;
    }
    const stored: RetainedMessage = { payload: msg.payload, qos: msg.qos, properties: { ...(msg.properties ?? {}) }, storedAt: Date.now() };
    delete stored.properties.topicAlias;
    await this.retained.set(msg.topic, encodeRetained(stored));
  }

  /**
   * The operator's view (codecs/operator.ts): sessions in memory first (online ones, then offline
   * ones kept), then stored persistent ones, and retained messages — at most MAX_VIEW_ENTRIES each
   * decoded; the rest only counted.
   */
  inspect(): MqttView {
    const sessions: MqttSessionView[] = [];
    const seen = new Set<string>();
    const view = (s: Session, connected: boolean): MqttSessionView => ({
      clientId: s.clientId,
      connected,
      principal: s.owner?.id ?? null,
      expiry: s.expiry,
      expiresAt: connected ? null : (s.expiresAt ?? null),
      subscriptions: [...s.subs.values()].map((sub) => ({ filter: sub.filter, qos: sub.qos, share: sub.share ?? null })),
      pending: s.pending.size,
    });
    let total = 0;
    for (const [clientId, s] of this.sessions) {
      seen.add(clientId);
      total++;
      if (sessions.length < MAX_VIEW_ENTRIES) sessions.push(view(s, this.connected.has(clientId)));
    }
    for (const [clientId, buf] of this.stored.entries()) {
      if (seen.has(clientId)) continue;
      total++;
      if (sessions.length >= MAX_VIEW_ENTRIES) continue;
      try {
        sessions.push(view(Session.decode(clientId, buf), false));
      } catch {
        // An unreadable entry is the sweep's to delete; the view just skips it.
      }
    }
    const retained: MqttView['retained']['items'][number][] = [];
    let retainedTotal = 0;
    for (const [topic, buf] of this.retained.entries()) {
      retainedTotal++;
      if (retained.length >= MAX_VIEW_ENTRIES) continue;
      const m = decodeRetained(buf);
      if (m === undefined) continue;
      retained.push({ topic, qos: m.qos, bytes: m.payload.length, storedAt: m.storedAt, payload: m.payload.subarray(0, MAX_VIEW_PAYLOAD_BYTES).toString('base64') });
    }
    return {
      sessions: { total, truncated: total > sessions.length, items: sessions },
      retained: { total: retainedTotal, truncated: retainedTotal > retained.length, items: retained },
    };
  }

  async close(): Promise<void> {
    this.closing = true;
    this.stopFollowingOwners?.();
    if (this.flushTimer !== undefined) clearInterval(this.flushTimer);
    for (const t of this.wills.values()) clearTimeout(t);
    for (const t of this.expiries.values()) clearTimeout(t);
    this.wills.clear();
    this.expiries.clear();
    await Promise.allSettled([...this.clients].map((c) => c.shutdown()));
    await Promise.allSettled([...this.sessions.values()].map((s) => (s.persistent ? this.saveSession(s) : undefined)));
  }
}
