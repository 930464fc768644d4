/**
 * One MQTT network connection's life (§3–§4 of MQTT 5.0 and 3.1.1): CONNECT, keepalive, PUBLISH
 * in both directions with QoS 0/1/2, SUBSCRIBE/UNSUBSCRIBE through the core's hub and groups,
 * retained messages, wills and DISCONNECT. The transport is any Duplex (TCP socket or a
 * WebSocket stream); nothing here knows which.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { Duplex } from 'node:stream';
import mqtt from 'mqtt-packet';
import type {
  IConnectPacket,
  IDisconnectPacket,
  IPublishPacket,
  ISubscribePacket,
  IUnsubscribePacket,
  Packet,
} from 'mqtt-packet';
import type { Logger } from 'pino';
import type { Context, GroupMember, KeyFilter, Principal, SubscriberSink, Subscription } from '../../gateway/api.js';
import { createContext } from '../../gateway/context.js';
import { encodeOnce } from '../../gateway/encoded.js';
import { GatewayError } from '../../gateway/errors.js';
import { expandIdentityPattern, globMatch } from '../../gateway/grants.js';
import { mqttMatch } from '../../gateway/hub/filters.js';
import { LATEST, EARLIEST, type Position, type StreamRecord } from '../../gateway/record.js';
import type { SessionRegistry } from './sessions.js';
import {
  decodeRetained,
  HEADER,
  messageToRecord,
  parseFilter,
  recordToDelivery,
  topicNameProblem,
  type Message,
  type QoS,
} from './codec.js';
import { mqttError, RC, RC311, reasonString } from './errors.js';
import { ownerOf, sameOwner, type ClientIdOwner } from './ownership.js';
import { Session, type PendingOut, type SubSpec, type TopicPositions } from './session.js';

type Version = 4 | 5;

/** A received PUBLISH waiting for (or being) written to the backend. */
interface Inbound {
  readonly msg: Message;
  readonly kafkaTopic: string;
  readonly pid: number | undefined;
  readonly idempotencyKey: string | undefined;
  /** Inside the write scope: only such messages share a produce call (the core refuses a batch whole). */
  readonly permitted: boolean;
}

/** A running (connected) subscription: one hub reader per Kafka topic, or one group member. */
interface Live {
  spec: SubSpec;
  readonly readers: Reader[];
  member?: GroupMember;
  stream?: { stop(): void };
  closed: boolean;
}

interface Reader {
  readonly topic: string;
  sub?: Subscription;
  closed: boolean;
}

const MAX_PACKET_ID = 65535;

/** See Connection.formatsOf. */
interface RecordFormats {
  readonly nullKeyTopic: string;
  readonly delivery: string;
  /** PUBLISH bytes by `qos * 2 + retain` (QoS>0 ones carry a placeholder packet id, see withPacketId). */
  readonly publish: readonly string[];
}

export class Client {
  private readonly parser = mqtt.parser({ protocolVersion: 4 });
  private version: Version = 4;
  private state: 'new' | 'connecting' | 'open' | 'closed' = 'new';
  private session: Session | undefined;
  private clientId = '';
  private log: Logger;
  private ctx: Context;
  private will: { msg: Message; delay: number } | undefined;
  private normalDisconnect = false;
  private keepaliveMs = 0;
  private lastPacketAt = Date.now();
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private chainLength = 0;
  /** Client limits (v5 CONNECT properties). */
  private sendQuota: number;
  /** Per Kafka topic; filled only after CONNECT fixed the protocol version. */
  private readonly formats = new Map<string, RecordFormats>();
  private clientMaxPacket = Infinity;
  private readonly aliases = new Map<number, string>();
  /** QoS 1/2 PUBLISHes received and not yet completed (Receive Maximum accounting). */
  private inboundInflight = 0;
  private readonly inbound: Inbound[] = [];
  private inboundBytes = 0;
  private pumping: Promise<void> | undefined;
  private paused = false;
  private readonly live = new Map<string, Live>();
  private readonly slotWaiters: (() => void)[] = [];
  private nextPid = 1;
  /**
   * This connection's durable claim of its client id in the connections table (ownership.ts);
   * undefined until the claim is acknowledged. Until then the registry leaves the connection alone
   * when the table changes: onConnect checks the outcome itself once its write is durable.
   */
  claimNonce: string | undefined;
  /** The principal this connection authenticated as (undefined before CONNECT got that far). */
  owner: ClientIdOwner | undefined;
  private closedPromise: Promise<void>;
  private resolveClosed!: () => void;

  constructor(
    private readonly registry: SessionRegistry,
    private readonly stream: Duplex,
    readonly transport: 'tcp' | 'ws',
    private readonly peer: { address?: string | undefined; port?: number | undefined; certificateSubject?: string | undefined },
  ) {
    this.sendQuota = registry.config.maxInflight;
    const remote = peer.port === undefined ? peer.address : `${peer.address}:${peer.port}`;
    this.log = registry.log.child({ conn: randomUUID().slice(0, 8), transport, remote });
    this.ctx = createContext({ protocol: 'mqtt', log: this.log });
    this.closedPromise = new Promise((r) => (this.resolveClosed = r));
    registry.clients.add(this);
    this.parser.on('packet', (p: Packet) => this.enqueue(p));
    this.parser.on('error', (err: Error) => this.onParseError(err));
    stream.on('data', (chunk: Buffer) => this.onData(chunk));
    stream.on('error', (err) => {
      this.log.debug({ err }, 'transport error');
      void this.close('transport error');
    });
    stream.on('close', () => void this.close('transport closed'));
    stream.on('end', () => void this.close('transport ended'));
    // [MQTT-3.1.0-1] the first packet must be CONNECT, within a reasonable time (§4.8 allows closing).
    this.connectTimer = setTimeout(() => void this.close('no CONNECT in time'), registry.config.connectTimeoutMs);
  }

  /** The client id from CONNECT ('' before). */
  get clientIdentifier(): string {
    return this.clientId;
  }

  /** Resolves once the connection is fully torn down (subscriptions closed, session saved). */
  get closed(): Promise<void> {
    return this.closedPromise;
  }

  /** A method, not a field comparison: the state changes across awaits, which narrowing ignores. */
  isClosed(): boolean {
    return this.state === 'closed';
  }

  // ---- input ---------------------------------------------------------------------------------

  private onData(chunk: Buffer): void {
    if (this.isClosed()) return;
    this.lastPacketAt = Date.now();
    this.parser.parse(chunk);
    // The parser buffers a packet until complete: refuse one announced over the limit right away.
    const pending = (this.parser as unknown as { packet: { length: number } }).packet.length;
    if (!this.isClosed() && pending > 0 && totalSize(pending) > this.registry.config.maxPacketBytes) this.tooLarge();
  }

  private tooLarge(): void {
    // [MQTT-3.1.2-24] a packet over the advertised Maximum Packet Size is a protocol error (0x95).
    this.log.info({ max: this.registry.config.maxPacketBytes }, 'packet too large');
    void this.fail(RC.PACKET_TOO_LARGE, 'packet too large');
  }

  private onParseError(err: Error): void {
    if (this.isClosed()) return;
    this.log.info({ err: err.message }, 'malformed packet');
    if (this.state === 'new' && /protocol version/i.test(err.message)) {
      // [MQTT-3.1.2-2] unsupported protocol level: CONNACK 0x01 (the 3.1.1 form every client reads) then close.
      this.writeRaw(mqtt.generate({ cmd: 'connack', returnCode: RC311.UNACCEPTABLE_PROTOCOL_VERSION, sessionPresent: false }, { protocolVersion: 4 }));
      void this.close('unsupported protocol version');
      return;
    }
    void this.fail(RC.MALFORMED_PACKET, err.message);
  }

  private enqueue(packet: Packet): void {
    if (this.isClosed()) return;
    if (packet.length !== undefined && totalSize(packet.length) > this.registry.config.maxPacketBytes) return this.tooLarge();
    // PUBLISH and acks are handled at once (no awaits before they are queued/applied) so a slow
    // SUBSCRIBE never delays the PUBACKs that free delivery slots.
    if (this.state === 'open' && (packet.cmd === 'publish' || packet.cmd === 'puback' || packet.cmd === 'pubrec' || packet.cmd === 'pubcomp' || packet.cmd === 'pubrel' || packet.cmd === 'pingreq')) {
      this.handleNow(packet);
      return;
    }
    this.chainLength++;
    if (this.chainLength > 100 && !this.paused) this.stream.pause();
    this.chain = this.chain
      .then(() => (this.isClosed() ? undefined : this.handle(packet)))
      .catch((err: unknown) => {
        this.log.error({ err }, 'MQTT packet handling failed');
        return this.fail(RC.UNSPECIFIED, 'internal error');
      })
      .finally(() => {
        this.chainLength--;
        if (this.chainLength <= 100 && !this.paused && !this.isClosed()) this.stream.resume();
      });
  }

  private async handle(packet: Packet): Promise<void> {
    if (this.state === 'new') {
      if (packet.cmd !== 'connect') return this.close('first packet is not CONNECT'); // [MQTT-3.1.0-1]
      return this.onConnect(packet);
    }
    switch (packet.cmd) {
      case 'connect':
        return this.fail(RC.PROTOCOL_ERROR, 'second CONNECT'); // [MQTT-3.1.0-2]
      case 'subscribe':
        return this.onSubscribe(packet);
      case 'unsubscribe':
        return this.onUnsubscribe(packet);
      case 'disconnect':
        return this.onDisconnect(packet);
      case 'auth':
        return this.fail(RC.PROTOCOL_ERROR, 'AUTH without an authentication method'); // [MQTT-4.12.0-?] no enhanced auth
      default:
        this.handleNow(packet);
    }
  }

  private handleNow(packet: Packet): void {
    switch (packet.cmd) {
      case 'publish':
        return this.onPublish(packet);
      case 'puback':
        return this.completed(packet.messageId, 1);
      case 'pubrec':
        return this.onPubrec(packet.messageId ?? 0, packet.reasonCode ?? 0);
      case 'pubcomp':
        return this.completed(packet.messageId, 2);
      case 'pubrel':
        return this.onPubrel(packet.messageId ?? 0);
      case 'pingreq':
        this.send({ cmd: 'pingresp' }); // [MQTT-3.12.4-1]
        return;
      default:
        // CONNACK, SUBACK, … are server-to-client packets. [MQTT-4.8.0-?] protocol error
        void this.fail(RC.PROTOCOL_ERROR, `unexpected ${packet.cmd}`);
    }
  }

  // ---- CONNECT -------------------------------------------------------------------------------

  private async onConnect(p: IConnectPacket): Promise<void> {
    this.state = 'connecting';
    clearTimeout(this.connectTimer);
    const cfg = this.registry.config;
    if (p.protocolVersion !== 4 && p.protocolVersion !== 5) {
      // MQTT 3.1 (level 3) is not spoken here. [MQTT-3.1.2-2]
      this.writeRaw(mqtt.generate({ cmd: 'connack', returnCode: RC311.UNACCEPTABLE_PROTOCOL_VERSION, sessionPresent: false }, { protocolVersion: 4 }));
      return this.close('unsupported protocol version');
    }
    this.version = p.protocolVersion;
    const props = p.properties ?? {};
    if (this.version === 5) {
      if (props.authenticationMethod !== undefined) return this.refuse(0x8c, 'enhanced authentication is not supported'); // Bad authentication method
      if (props.receiveMaximum === 0 || props.maximumPacketSize === 0) return this.refuse(RC.PROTOCOL_ERROR, 'zero Receive Maximum / Maximum Packet Size'); // [MQTT-3.1.2-?]
      if (props.receiveMaximum !== undefined) this.sendQuota = Math.min(cfg.maxInflight, props.receiveMaximum);
      if (props.maximumPacketSize !== undefined) this.clientMaxPacket = props.maximumPacketSize;
    }
    const clean = p.clean !== false;
    let clientId = p.clientId ?? '';
    let assigned: string | undefined;
    if (clientId === '') {
      // [MQTT-3.1.3-8] 3.1.1: an empty id with CleanSession=0 is refused (identifier rejected).
      if (this.version === 4 && !clean) return this.refuse(RC311.IDENTIFIER_REJECTED, 'empty client id needs a clean session');
      clientId = `auto-${randomUUID()}`; // [MQTT-3.1.3-6]
      if (this.version === 5) assigned = clientId;
    }
    this.clientId = clientId;
    this.log = this.log.child({ clientId });
    // Authentication is the core's: the password field carries a JWT or API key (the username is
    // informational), or a verified TLS client certificate names the principal. v5 enhanced auth
    // (AUTH packets) is not supported and refused above with 0x8C.
    let principal;
    try {
      this.releaseConnection = this.registry.gateway.connectionOpened('mqtt', this.peer.address);
      principal = await this.registry.gateway.authenticate({
        ...(p.password === undefined ? {} : { token: Buffer.from(p.password).toString('utf8') }),
        ...(this.peer.certificateSubject === undefined ? {} : { certificateSubject: this.peer.certificateSubject }),
      }, { protocol: 'mqtt', remoteAddress: this.peer.address });
    } catch (err) {
      const { connack, connack311, error } = mqttError(err);
      return this.refuse(this.version === 5 ? connack : connack311, reasonString(error));
    }
    if (this.isClosed()) return;
    this.ctx = createContext({ protocol: 'mqtt', log: this.log, principal });
    if (principal.expiresAt !== undefined) {
      // Credentials that expire end the connection; the client reconnects with fresh ones. [MQTT-3.14] 0x87
      this.expiryTimer = setTimeout(() => void this.fail(RC.NOT_AUTHORIZED, 'credentials expired'), Math.max(0, Math.min(principal.expiresAt - Date.now(), 2 ** 31 - 1)));
      this.expiryTimer.unref();
    }

    // Keepalive: the client's value, limited by config (v5 tells the client via Server Keep Alive).
    let keepalive = p.keepalive ?? 0;
    let serverKeepAlive: number | undefined;
    if (cfg.keepaliveMaxSeconds > 0 && (keepalive === 0 || keepalive > cfg.keepaliveMaxSeconds) && this.version === 5) {
      keepalive = cfg.keepaliveMaxSeconds;
      serverKeepAlive = keepalive; // [MQTT-3.2.2-21]
    } else if (cfg.keepaliveMaxSeconds > 0 && keepalive === 0) {
      // 3.1.1 has no Server Keep Alive: a larger keepalive is honoured (capping it would drop a client
      // that pings as it said), but "no keepalive" would let an idle or stalled connection live
      // forever, so it gets the maximum as an idle limit.
      keepalive = cfg.keepaliveMaxSeconds;
    }
    this.keepaliveMs = keepalive * 1000;

    // Session expiry: v5 property (default 0); 3.1.1 CleanSession=0 = the configured maximum.
    let expiry = this.version === 5 ? (props.sessionExpiryInterval ?? 0) : clean ? 0 : cfg.sessionExpiryMaxSeconds;
    let expiryCapped = false;
    if (expiry > cfg.sessionExpiryMaxSeconds) {
      expiry = cfg.sessionExpiryMaxSeconds;
      expiryCapped = true;
    }

    if (p.will !== undefined) {
      const willTopicProblem = topicNameProblem(p.will.topic, cfg.maxTopicLevels);
      if (willTopicProblem !== undefined) return this.refuse(this.version === 5 ? RC.TOPIC_NAME_INVALID : RC311.SERVER_UNAVAILABLE, willTopicProblem);
      const wp = p.will.properties ?? {};
      const { willDelayInterval, ...msgProps } = wp;
      this.will = {
        msg: { topic: p.will.topic, payload: Buffer.from(p.will.payload), qos: (p.will.qos ?? 0) as QoS, retain: p.will.retain === true, properties: msgProps },
        delay: willDelayInterval ?? 0,
      };
      // A will outside the write scope is refused now, as Mosquitto does (CONNACK 5 / 0x87), rather
      // than accepted and silently dropped when it fires. It is checked again when written.
      try {
        this.registry.gateway.authorize(this.ctx, 'write', this.registry.routes.topicFor(p.will.topic), p.will.topic);
      } catch (err) {
        return this.refuseWith(err);
      }
    }

    // A client id is bound to the principal that created its session. Without authentication
    // every client is the one anonymous principal and nothing is checked (any client may take over
    // any client id, as before: takeover protection needs authentication).
    const owner = ownerOf(principal);
    this.owner = owner;
    if (!unrestricted(principal)) {
      const pattern = cfg.clientIdPattern;
      if (pattern !== undefined && assigned === undefined) {
        const expanded = expandIdentityPattern(pattern, principal);
        if (expanded === undefined || !globMatch(expanded, clientId)) {
          this.log.warn({ principal: principal.id, pattern }, 'client id does not match mqtt.clientIdPattern');
          return this.refuseWith(new GatewayError('PERMISSION_DENIED', 'This client id is not allowed for this principal.'));
        }
      }
      // Another principal's live connection (here or on another instance) or stored session keeps
      // the client id: refused before anything is touched — no local takeover, no claim written, no
      // hand-over asked. This instance's copies of both tables first catch up with what other
      // instances wrote, so a holder that connected elsewhere a moment ago is seen.
      try {
        await Promise.all([this.registry.owners.sync(), this.registry.stored.sync()]);
      } catch (err) {
        const m = mqttError(err);
        this.log.warn({ err: m.error }, 'client id ownership could not be checked');
        return this.refuse(this.version === 5 ? m.connack : m.connack311, reasonString(m.error));
      }
      if (this.isClosed()) return;
      const holder = this.registry.foreignHolder(clientId, owner);
      if (holder !== undefined) {
        this.log.warn({ principal: principal.id, holder }, 'client id held by another principal; CONNECT refused, the holder is left alone');
        return this.refuseWith(new GatewayError('PERMISSION_DENIED', 'This client id belongs to another principal.'));
      }
    }

    // [MQTT-3.1.4-3] a connection with the same client id takes over: the old one is closed first.
    const existing = this.registry.connected.get(clientId);
    this.registry.connected.set(clientId, this);
    if (existing !== undefined && existing !== this) await existing.takenOver('local');
    if (this.isClosed()) return;

    // [MQTT-3.1.4-2] across instances: claim the client id in the connections table. After
    // authentication, so a client that cannot log in never disconnects one that did; before the
    // session is read and before CONNACK, so (a) the instance holding the old connection stops it
    // and writes its final state before we read it, and (b) CONNACK is sent only once the claim is
    // durable, like the persistent session itself.
    const nonce = randomUUID();
    let previousOwner;
    try {
      previousOwner = await this.registry.claim(clientId, nonce, expiry > 0, owner);
    } catch (err) {
      const m = mqttError(err);
      this.log.warn({ err: m.error }, 'client id could not be claimed');
      return this.refuse(this.version === 5 ? m.connack : m.connack311, reasonString(m.error));
    }
    this.claimNonce = nonce;
    if (this.isClosed()) return;
    // A claim written after ours (the client reconnected again, elsewhere) already owns the id.
    if (this.registry.claimSuperseded(clientId, nonce)) return this.close('client id claimed by a later connection');
    let handedOver = false;
    if (previousOwner !== undefined) {
      const started = Date.now();
      handedOver = await this.registry.awaitHandover(clientId, nonce, this.closedPromise);
      if (this.isClosed()) return;
      if (this.registry.claimSuperseded(clientId, nonce)) return this.close('client id claimed by a later connection');
      if (handedOver) this.log.info({ previous: previousOwner.instance, waitedMs: Date.now() - started }, 'session handed over by another gateway instance');
      else this.log.warn({ previous: previousOwner.instance, waitedMs: Date.now() - started }, 'no hand-over from the previous gateway instance in time; reading the stored session');
    }
    this.registry.cancelWill(clientId); // [MQTT-3.1.3-9] a will delayed for this session is not sent
    this.registry.clearExpiry(clientId);

    let session: Session | undefined;
    let present = false;
    // A session another principal created meanwhile (a CONNECT racing this one on another
    // instance, after the check above) is neither resumed nor discarded.
    const lateHolder = unrestricted(principal) ? undefined : this.registry.foreignHolder(clientId, owner);
    if (lateHolder !== undefined) {
      this.log.warn({ principal: principal.id, holder: lateHolder }, 'client id taken by another principal during CONNECT; refused');
      return this.refuseWith(new GatewayError('PERMISSION_DENIED', 'This client id belongs to another principal.'));
    }
    try {
      if (clean) {
        await this.registry.dropSession(clientId); // [MQTT-3.1.2-4] clean start discards any session
      } else {
        // No hand-over to wait for (the client left another instance cleanly, or it is gone):
        // that instance's last session write was acknowledged before its claim was deleted, but
        // this instance's copy of the sessions table may not have it yet.
        if (!handedOver) {
          await this.registry.stored.sync().catch((err: unknown) => this.log.warn({ err }, 'sessions table not caught up; reading this copy'));
          if (this.isClosed()) return;
        }
        session = this.registry.loadSession(clientId);
        present = session !== undefined; // [MQTT-3.2.2-2]
      }
      // Read after the stored copy caught up: the last word on a racing CONNECT elsewhere.
      if (session !== undefined && !unrestricted(principal) && !sameOwner(session.owner, owner)) {
        this.log.warn({ principal: principal.id }, 'stored session belongs to another principal; CONNECT refused');
        return this.refuseWith(new GatewayError('PERMISSION_DENIED', 'This client id belongs to another principal.'));
      }
      session ??= new Session(clientId);
      session.owner = owner;
      session.heldBy = nonce;
      session.handover = undefined;
      session.expiry = expiry;
      session.expiresAt = undefined;
      this.registry.sessions.set(clientId, session);
      this.session = session;
      if (session.persistent) await this.registry.saveSession(session);
    } catch (err) {
      const m = mqttError(err);
      this.log.warn({ err: m.error }, 'session could not be opened');
      return this.refuse(this.version === 5 ? m.connack : m.connack311, reasonString(m.error));
    }
    if (this.isClosed()) return;

    const connackProps: Record<string, unknown> = {};
    if (this.version === 5) {
      connackProps.receiveMaximum = cfg.receiveMaximum;
      connackProps.maximumPacketSize = cfg.maxPacketBytes;
      connackProps.topicAliasMaximum = cfg.topicAliasMaximum;
      connackProps.retainAvailable = true;
      connackProps.wildcardSubscriptionAvailable = true;
      connackProps.subscriptionIdentifiersAvailable = true;
      connackProps.sharedSubscriptionAvailable = true;
      if (expiryCapped) connackProps.sessionExpiryInterval = expiry;
      if (serverKeepAlive !== undefined) connackProps.serverKeepAlive = serverKeepAlive;
      if (assigned !== undefined) connackProps.assignedClientIdentifier = assigned;
    }
    this.state = 'open';
    this.send(
      this.version === 5
        ? { cmd: 'connack', reasonCode: RC.SUCCESS, sessionPresent: present, properties: connackProps }
        : { cmd: 'connack', returnCode: RC311.ACCEPTED, sessionPresent: present },
    );
    this.log.info({ version: this.version, clean, present, keepalive, expiry }, 'MQTT client connected');
    this.armKeepalive();
    if (present) await this.resume(session);
  }

  /** CONNACK with the error's code for this version (errors.ts), then close. */
  private refuseWith(err: unknown): Promise<void> {
    const { connack, connack311, error } = mqttError(err);
    return this.refuse(this.version === 5 ? connack : connack311, reasonString(error));
  }

  /** CONNACK with a failure code, then close. [MQTT-3.2.2-6] session present is 0 on failure. */
  private refuse(code: number, reason: string): Promise<void> {
    this.log.info({ code, reason }, 'CONNECT refused');
    if (this.version === 5) this.send({ cmd: 'connack', reasonCode: code, sessionPresent: false, properties: { reasonString: reason } });
    else this.send({ cmd: 'connack', returnCode: code, sessionPresent: false });
    return this.close('connect refused');
  }

  /** Restores a present session: resend unacknowledged deliveries, then restart subscriptions. */
  private async resume(s: Session): Promise<void> {
    // [MQTT-4.4.0-1] resend unacknowledged PUBLISH (DUP) and PUBREL with their original packet ids.
    for (const p of [...s.pending.values()].sort((a, b) => a.pid - b.pid)) {
      if (p.shared) {
        s.pending.delete(p.pid); // the group redelivers what this member did not acknowledge
        continue;
      }
      if (p.state === 'pubrel') {
        this.send({ cmd: 'pubrel', messageId: p.pid });
        continue;
      }
      let packet = p.packet;
      // The reconnecting principal's read scope decides (its token may grant less than the one the
      // delivery was made under). A refetched record comes through the core's read scope already.
      if (packet !== undefined && !this.mayStillRead(p, packet)) packet = undefined;
      else if (packet === undefined && p.source !== undefined) packet = await this.refetch(p);
      if (packet === undefined) {
        s.pending.delete(p.pid);
        continue;
      }
      p.packet = packet;
      this.send({ ...packet, dup: true });
    }
    for (const spec of s.subs.values()) {
      try {
        await this.startLive(spec, true);
      } catch (err) {
        // E.g. the token this time grants less: the subscription stays in the session, inactive
        // on this connection (MQTT has no way to tell the client but the log).
        const live = this.live.get(spec.raw);
        this.live.delete(spec.raw);
        if (live !== undefined) await this.stopLive(live, true);
        const m = mqttError(err);
        if (m.error.code !== 'PERMISSION_DENIED') throw err;
        this.log.warn({ err: m.error, filter: spec.raw }, 'resumed subscription outside the read scope; not delivering');
      }
    }
  }

  /** Whether a pending in-memory delivery is inside this connection's read scope. */
  private mayStillRead(p: PendingOut, packet: IPublishPacket): boolean {
    const src = p.source;
    const kafkaTopic = src?.topic ?? this.registry.routes.topicFor(packet.topic);
    return this.registry.gateway.permits(this.ctx, 'read', kafkaTopic, src?.keyless === true ? null : packet.topic);
  }

  private async refetch(p: PendingOut): Promise<IPublishPacket | undefined> {
    const src = p.source!;
    const spec = this.session?.subs.get(src.raw);
    if (spec === undefined) return undefined;
    try {
      const res = await this.registry.gateway.fetch(this.ctx, src.topic, src.partition, src.offset, { maxRecords: 1 });
      const rec = res.records.find((r) => r.offset === src.offset);
      if (rec === undefined) return undefined;
      return this.toPacket(spec, rec, p.qos)?.packet;
    } catch (err) {
      this.log.warn({ err: GatewayError.from(err), ...src, offset: String(src.offset) }, 'pending delivery could not be re-read; dropped');
      return undefined;
    }
  }

  // ---- keepalive -----------------------------------------------------------------------------

  private armKeepalive(): void {
    if (this.keepaliveMs === 0) return;
    // [MQTT-3.1.2-22] no packet within 1.5 × keepalive: the server closes the connection.
    const limit = this.keepaliveMs * 1.5;
    const check = (): void => {
      if (this.isClosed()) return;
      const idle = Date.now() - this.lastPacketAt;
      if (idle >= limit) {
        void this.fail(RC.KEEP_ALIVE_TIMEOUT, 'keepalive timeout');
        return;
      }
      this.keepaliveTimer = setTimeout(check, limit - idle);
    };
    this.keepaliveTimer = setTimeout(check, limit);
  }

  // ---- PUBLISH from the client -----------------------------------------------------------------

  private onPublish(p: IPublishPacket): void {
    const s = this.session!;
    const props = p.properties;
    let topic = p.topic;
    if (this.version === 5 && props?.topicAlias !== undefined) {
      const alias = props.topicAlias;
      // [MQTT-3.3.2-8] [MQTT-3.3.2-9] alias 0 or above our Topic Alias Maximum.
      if (alias === 0 || alias > this.registry.config.topicAliasMaximum) return void this.fail(RC.TOPIC_ALIAS_INVALID, 'topic alias out of range');
      if (topic === '') {
        const known = this.aliases.get(alias);
        if (known === undefined) return void this.fail(RC.PROTOCOL_ERROR, 'unknown topic alias'); // [MQTT-3.3.4-?]
        topic = known;
      } else {
        this.aliases.set(alias, topic);
      }
    }
    const problem = topicNameProblem(topic, this.registry.config.maxTopicLevels);
    if (problem !== undefined) return void this.fail(RC.TOPIC_NAME_INVALID, problem); // [MQTT-3.3.2-2] [MQTT-4.7.3-1]
    const qos = p.qos;
    const pid = qos > 0 ? p.messageId : undefined;
    if (qos > 0 && (pid === undefined || pid === 0)) return void this.fail(RC.PROTOCOL_ERROR, 'missing packet identifier'); // [MQTT-2.2.1-3]

    if (qos === 2) {
      const known = s.qos2in.get(pid!);
      if (known !== undefined) {
        // [MQTT-4.3.3-9] a resent PUBLISH before PUBREL is not delivered again: re-acknowledge only.
        if (known.done) this.send(this.version === 5 ? { cmd: 'pubrec', messageId: pid!, reasonCode: 0 } : { cmd: 'pubrec', messageId: pid! });
        return;
      }
    }
    if (qos > 0) {
      this.inboundInflight++;
      // [MQTT-3.3.4-8] more unacknowledged QoS>0 PUBLISHes than our Receive Maximum.
      if (this.version === 5 && this.inboundInflight > this.registry.config.receiveMaximum) return void this.fail(RC.RECEIVE_MAXIMUM_EXCEEDED, 'receive maximum exceeded');
    }
    let idempotencyKey: string | undefined;
    if (qos === 2) {
      idempotencyKey = `mqtt:${this.clientId}:${s.epoch}:${pid}:${s.qos2seq++}`;
      s.qos2in.set(pid!, { key: idempotencyKey, done: false });
      s.dirty = true;
    }
    const { topicAlias: _alias, subscriptionIdentifier: _subId, ...kept } = props ?? {};
    const msg: Message = { topic, payload: Buffer.isBuffer(p.payload) ? p.payload : Buffer.from(p.payload), qos, retain: p.retain, properties: kept };
    const kafkaTopic = this.registry.routes.topicFor(topic);
    this.inbound.push({ msg, kafkaTopic, pid, idempotencyKey, permitted: this.registry.gateway.permits(this.ctx, 'write', kafkaTopic, topic) });
    this.inboundBytes += msg.payload.length + topic.length;
    if (this.inboundBytes > this.registry.config.maxInboundQueueBytes && !this.paused) {
      this.paused = true;
      this.stream.pause();
    }
    this.pumping ??= this.pump().finally(() => (this.pumping = undefined));
  }

  /**
   * Writes received messages in arrival order: consecutive messages for the same Kafka topic go in
   * one produce call; QoS 2 messages alone (each has its idempotency key). Acknowledgements follow
   * the backend's, in order. [MQTT-4.6.0-2] [MQTT-4.6.0-3]
   */
  private async pump(): Promise<void> {
    while (this.inbound.length > 0 && !this.isClosed()) {
      const first = this.inbound[0]!;
      let n = 1;
      // A message outside the write scope goes alone: the core refuses it (PERMISSION_DENIED,
      // audited) and it must not take the messages around it down with it.
      if (first.idempotencyKey === undefined && first.permitted) {
        while (n < this.inbound.length && n < 500 && this.inbound[n]!.kafkaTopic === first.kafkaTopic && this.inbound[n]!.idempotencyKey === undefined && this.inbound[n]!.permitted) n++;
      }
      const group = this.inbound.slice(0, n);
      let results: ({ ok: true } | { ok: false; error: GatewayError })[];
      try {
        const produced = await this.registry.gateway.produce(
          this.ctx,
          first.kafkaTopic,
          group.map((g) => messageToRecord(g.msg, this.clientId)),
          first.idempotencyKey === undefined ? {} : { idempotencyKey: first.idempotencyKey },
        );
        results = produced.map((r) => (r.ok ? { ok: true as const } : { ok: false as const, error: r.error }));
      } catch (err) {
        const error = GatewayError.from(err);
        results = group.map(() => ({ ok: false as const, error }));
      }
      for (let i = 0; i < group.length; i++) {
        const item = group[i]!;
        let result = results[i] ?? { ok: false as const, error: new GatewayError('INTERNAL', 'missing produce result') };
        if (result.ok && item.msg.retain) {
          try {
            await this.registry.storeRetained(item.msg, item.kafkaTopic, this.ctx);
          } catch (err) {
            result = { ok: false, error: GatewayError.from(err) };
          }
        }
        if (this.isClosed()) return;
        this.acknowledge(item, result);
      }
      this.inbound.splice(0, n);
      for (const g of group) this.inboundBytes -= g.msg.payload.length + g.msg.topic.length;
      if (this.paused && this.inboundBytes <= this.registry.config.maxInboundQueueBytes / 2) {
        this.paused = false;
        this.stream.resume();
      }
    }
  }

  private acknowledge(item: Inbound, result: { ok: true } | { ok: false; error: GatewayError }): void {
    const qos = item.msg.qos;
    if (!result.ok) {
      const m = mqttError(result.error);
      this.log[m.error.code === 'INTERNAL' ? 'error' : 'warn']({ err: m.error, topic: item.msg.topic }, 'MQTT publish not written');
      if (qos === 0) return; // QoS 0 has no acknowledgement to carry the failure
      if (this.version === 4) {
        // 3.1.1 has no negative PUBACK: closing makes the client resend after reconnecting.
        void this.close('publish failed (3.1.1 cannot report it)');
        return;
      }
      if (qos === 2) this.session?.qos2in.delete(item.pid!); // [MQTT-4.3.3-?] a failed PUBREC ends the flow
      this.inboundInflight--;
      this.send({ cmd: qos === 1 ? 'puback' : 'pubrec', messageId: item.pid!, reasonCode: m.ack, properties: { reasonString: reasonString(m.error) } });
      return;
    }
    if (qos === 1) {
      this.inboundInflight--;
      this.send(this.version === 5 ? { cmd: 'puback', messageId: item.pid!, reasonCode: 0 } : { cmd: 'puback', messageId: item.pid! });
    } else if (qos === 2) {
      const q = this.session?.qos2in.get(item.pid!);
      if (q !== undefined) q.done = true;
      this.send(this.version === 5 ? { cmd: 'pubrec', messageId: item.pid!, reasonCode: 0 } : { cmd: 'pubrec', messageId: item.pid! });
    }
  }

  private onPubrel(pid: number): void {
    const s = this.session!;
    const q = s.qos2in.get(pid);
    if (q !== undefined && q.done) {
      s.qos2in.delete(pid);
      s.dirty = true;
      this.inboundInflight--;
      this.send(this.version === 5 ? { cmd: 'pubcomp', messageId: pid, reasonCode: 0 } : { cmd: 'pubcomp', messageId: pid });
    } else if (q === undefined) {
      // [MQTT-4.3.3-11] unknown id (e.g. PUBREL resent after a completed flow): still answer PUBCOMP.
      this.send(this.version === 5 ? { cmd: 'pubcomp', messageId: pid, reasonCode: RC.PACKET_ID_NOT_FOUND } : { cmd: 'pubcomp', messageId: pid });
    }
    // A PUBREL for a write still in progress is answered when the write completes and the client re-sends it.
  }

  // ---- deliveries to the client ---------------------------------------------------------------

  private completed(pid: number | undefined, qos: 1 | 2): void {
    const s = this.session!;
    const p = pid === undefined ? undefined : s.pending.get(pid);
    if (p === undefined || p.qos !== qos) return; // late or unknown ack: nothing to release
    s.pending.delete(p.pid);
    s.dirty = true;
    p.onAcked?.();
    this.slotWaiters.shift()?.();
  }

  private onPubrec(pid: number, reasonCode: number): void {
    const s = this.session!;
    const p = s.pending.get(pid);
    if (p === undefined || p.qos !== 2) {
      if (this.version === 5) this.send({ cmd: 'pubrel', messageId: pid, reasonCode: RC.PACKET_ID_NOT_FOUND });
      return;
    }
    if (reasonCode >= 0x80) return this.completed(pid, 2); // [MQTT-4.3.3-?] an error PUBREC ends the flow
    p.state = 'pubrel';
    p.packet = undefined;
    s.dirty = true;
    this.send({ cmd: 'pubrel', messageId: pid }); // [MQTT-4.3.3-4]
  }

  /**
   * Builds the outgoing PUBLISH for a record under a subscription, or undefined if it is not for it.
   * `shared` names the encoding when the packet's bytes are the same for every subscriber that
   * gets it but for the packet id of QoS>0 (no MQTT 5 subscription identifier, no time-dependent expiry).
   */
  private toPacket(spec: SubSpec, record: StreamRecord, forceQos?: 1 | 2, hubMatched = false): { packet: IPublishPacket; qos: QoS; shared?: string } | undefined {
    const f = this.formatsOf(record.topic);
    const defaultQos = this.registry.config.foreignRecordQos;
    // The delivery form of a record is the same for every session, unless its expiry counts down
    // with time ([MQTT-3.3.2-6]): decode it once per record, not once per subscriber.
    const timeless = record.headers[HEADER.messageExpiry] === undefined;
    const d = timeless
      ? encodeOnce(record, f.delivery, (r) => recordToDelivery(r, f.nullKeyTopic, defaultQos, Date.now()))
      : recordToDelivery(record, f.nullKeyTopic, defaultQos, Date.now());
    if (d === undefined) return undefined;
    // `hubMatched`: the hub already matched this filter against the key (the topic name); only
    // records without a key, or from a reader that reads everything, are checked here.
    if (!(hubMatched && record.key !== null) && !mqttMatch(spec.filter, d.topic)) return undefined;
    if (spec.noLocal && d.clientId === this.clientId) return undefined; // [MQTT-3.8.3-3]
    if (d.expiry !== undefined && d.expiry <= 0) return undefined; // [MQTT-3.3.2-5] expired
    const qos = forceQos ?? (Math.min(spec.qos, d.qos) as QoS); // [MQTT-3.8.4-8]
    const retain = spec.retainAsPublished && d.retain;
    const packet = this.publishPacket(spec, d.topic, d.payload, qos, retain, d.properties);
    const perSubscriber = !timeless || (this.version === 5 && spec.subscriptionId !== undefined);
    return perSubscriber ? { packet, qos } : { packet, qos, shared: f.publish[qos * 2 + (retain ? 1 : 0)]! };
  }

  /** Names of the shared encodings of one Kafka topic's records (built once, not per record). */
  private formatsOf(kafkaTopic: string): RecordFormats {
    let f = this.formats.get(kafkaTopic);
    if (f === undefined) {
      const nullKeyTopic = this.registry.routes.nullKeyTopicFor(kafkaTopic);
      // Everything the encodings depend on besides the record: the route's keyless topic name,
      // the configured default QoS and, for packets, the protocol version and RETAIN flag.
      const delivery = `mqtt.delivery\0${this.registry.config.foreignRecordQos}\0${nullKeyTopic}`;
      const publish = [0, 1, 2].flatMap((qos) => [0, 1].map((retain) => `mqtt.publish\0v${this.version}\0q${qos}\0r${retain}\0${delivery}`));
      f = { nullKeyTopic, delivery, publish };
      this.formats.set(kafkaTopic, f);
    }
    return f;
  }

  /**
   * Hub batches: consecutive QoS 0 PUBLISH packets go out in ONE socket write (one syscall, not
   * one per packet), their bytes encoded once per record for all subscribers where they are the
   * same; a QoS>0 delivery (packet id, in-flight window) flushes what is collected and takes the
   * per-packet path (`qosPath`, which settles that record itself). Resolves when the socket took
   * the bytes below its high-water mark. `written(rec)` runs in order for every other record once
   * its bytes are written (or it was not for this subscriber). False when the connection or the
   * subscription is no longer open.
   */
  private async deliverBatch(
    batch: readonly StreamRecord[],
    spec: () => SubSpec,
    /** The hub filtered the batch by the subscription's MQTT filter (see toPacket). */
    hubMatched: boolean,
    open: () => boolean,
    qosPath: (rec: StreamRecord, packet: IPublishPacket, encoded: (() => Buffer) | undefined) => Promise<boolean>,
    written: (rec: StreamRecord) => void,
  ): Promise<boolean> {
    let out: Buffer[] = [];
    let done: StreamRecord[] = [];
    // Records count as handled once their bytes are written, not when they are collected.
    const flush = (): boolean => {
      const ok = out.length === 0 || this.writeRaw(out.length === 1 ? out[0]! : Buffer.concat(out));
      out = [];
      for (const rec of done) written(rec);
      done = [];
      return ok;
    };
    for (const rec of batch) {
      // Nothing is written once the subscription or connection closed (as `send` refuses to).
      if (!open() || this.state !== 'open') return false;
      const built = this.toPacket(spec(), rec, undefined, hubMatched);
      if (built !== undefined && built.qos > 0) {
        flush();
        const shared = built.shared;
        const encoded = shared === undefined ? undefined : () => encodeOnce(rec, shared, () => this.encode({ ...built.packet, messageId: 1 }));
        if (!(await qosPath(rec, built.packet, encoded))) return false;
        continue;
      }
      if (built !== undefined) {
        const bytes = built.shared === undefined ? this.encode(built.packet) : encodeOnce(rec, built.shared, () => this.encode(built.packet));
        // [MQTT-3.1.2-25] a packet over the client's Maximum Packet Size is not sent (as if delivered).
        if (bytes.length <= this.clientMaxPacket) out.push(bytes);
        else this.log.info({ size: bytes.length, max: this.clientMaxPacket }, 'delivery over the client maximum packet size dropped');
      }
      done.push(rec);
    }
    if (!flush()) await this.drained();
    return this.state === 'open' && open();
  }

  private publishPacket(spec: SubSpec, topic: string, payload: Buffer, qos: QoS, retain: boolean, properties: NonNullable<IPublishPacket['properties']>): IPublishPacket {
    const packet: IPublishPacket = { cmd: 'publish', topic, payload, qos, retain, dup: false };
    if (this.version === 5) {
      const props = { ...properties };
      if (spec.subscriptionId !== undefined) props.subscriptionIdentifier = spec.subscriptionId; // [MQTT-3.3.4-3]
      if (Object.keys(props).length > 0) packet.properties = props;
    }
    return packet;
  }

  /**
   * Sends one delivery; QoS>0 waits for a free slot in the client's window first. `encoded`: the
   * packet's bytes shared by every subscriber (with a placeholder packet id for QoS>0, replaced
   * here); without it the packet is encoded for this delivery alone.
   */
  private async deliver(
    packet: IPublishPacket,
    source: PendingOut['source'],
    onAcked: (() => void) | undefined,
    shared: boolean,
    encoded?: () => Buffer,
  ): Promise<boolean> {
    const s = this.session!;
    if (packet.qos > 0) {
      while (s.pending.size >= this.sendQuota && this.state === 'open') await new Promise<void>((r) => this.slotWaiters.push(r));
      if (this.state !== 'open') return false;
      packet.messageId = this.allocPid();
    }
    const bytes = encoded === undefined ? this.encode(packet) : packet.qos > 0 ? withPacketId(encoded(), packet.messageId!) : encoded();
    // [MQTT-3.1.2-25] a packet over the client's Maximum Packet Size is not sent (as if delivered).
    if (bytes.length > this.clientMaxPacket) {
      this.log.info({ size: bytes.length, max: this.clientMaxPacket }, 'delivery over the client maximum packet size dropped');
      onAcked?.();
      return true;
    }
    if (packet.qos > 0) {
      const pid = packet.messageId!;
      s.pending.set(pid, { pid, qos: packet.qos as 1 | 2, state: 'publish', source, packet, onAcked, shared });
      s.dirty = true;
    }
    const ok = !this.isClosed() && this.writeRaw(bytes);
    if (packet.qos === 0) onAcked?.();
    if (!ok) await this.drained();
    return this.state === 'open';
  }

  private allocPid(): number {
    const s = this.session!;
    for (let i = 0; i < MAX_PACKET_ID; i++) {
      const pid = this.nextPid;
      this.nextPid = this.nextPid >= MAX_PACKET_ID ? 1 : this.nextPid + 1;
      if (!s.pending.has(pid)) return pid; // [MQTT-2.2.1-3] an id is free once its flow completed
    }
    throw new GatewayError('RESOURCE_EXHAUSTED', 'no free packet identifier');
  }

  // ---- SUBSCRIBE / UNSUBSCRIBE ----------------------------------------------------------------

  private async onSubscribe(p: ISubscribePacket): Promise<void> {
    const s = this.session!;
    const subId = p.properties?.subscriptionIdentifier;
    if (subId === 0) return this.fail(RC.PROTOCOL_ERROR, 'subscription identifier 0'); // [MQTT-3.8.2-?]
    const granted: number[] = [];
    const retainedFor: { spec: SubSpec }[] = [];
    for (const sub of p.subscriptions) {
      const parsed = parseFilter(sub.topic, this.registry.config.maxTopicLevels);
      if (typeof parsed === 'string') {
        this.log.info({ filter: sub.topic, problem: parsed }, 'invalid topic filter');
        granted.push(this.version === 5 ? RC.TOPIC_FILTER_INVALID : RC311.SUBACK_FAILURE);
        continue;
      }
      // [MQTT-3.8.3-4] No Local on a shared subscription is a protocol error.
      if (parsed.share !== undefined && sub.nl === true) return this.fail(RC.PROTOCOL_ERROR, 'No Local on a shared subscription');
      const existing = s.subs.get(sub.topic);
      const spec: SubSpec = {
        raw: sub.topic,
        filter: parsed.filter,
        share: parsed.share,
        qos: sub.qos,
        noLocal: sub.nl === true,
        retainAsPublished: sub.rap === true,
        retainHandling: sub.rh ?? 0,
        subscriptionId: subId,
      };
      try {
        if (existing !== undefined) {
          // [MQTT-3.8.4-3] an identical filter replaces the subscription without losing messages.
          Object.assign(existing, { ...spec });
          const live = this.live.get(sub.topic);
          if (live !== undefined) live.spec = existing;
        } else {
          // The core bounds subscriptions per connection (limits.maxSubscriptionsPerConnection);
          // a persistent session's restored subscriptions count too. RESOURCE_EXHAUSTED → 0x97 / 0x80.
          this.registry.gateway.admitSubscription(s.subs.size);
          s.subs.set(sub.topic, spec);
          await this.startLive(spec, false);
        }
        granted.push(sub.qos); // QoS 2 is supported: granted as asked [MQTT-3.9.3-?]
        // [MQTT-3.3.1-9] / v5 Retain Handling: 0 always, 1 only for a new subscription, 2 never.
        if (parsed.share === undefined && (spec.retainHandling === 0 || (spec.retainHandling === 1 && existing === undefined))) retainedFor.push({ spec: existing ?? spec });
      } catch (err) {
        if (existing === undefined) {
          // A filter reading several Kafka topics may fail on a later one (e.g. PERMISSION_DENIED):
          // readers already opened for it must not keep delivering after the failure SUBACK.
          s.subs.delete(sub.topic);
          s.positions.delete(sub.topic);
          const live = this.live.get(sub.topic);
          this.live.delete(sub.topic);
          if (live !== undefined) await this.stopLive(live, true);
        }
        const m = mqttError(err);
        this.log.warn({ err: m.error, filter: sub.topic }, 'subscription failed');
        granted.push(this.version === 5 ? m.suback : RC311.SUBACK_FAILURE);
      }
    }
    if (s.persistent) {
      try {
        await this.registry.saveSession(s);
      } catch (err) {
        this.log.warn({ err: GatewayError.from(err) }, 'session not persisted after SUBSCRIBE');
      }
    }
    if (this.state !== 'open') return;
    this.send(this.version === 5 ? { cmd: 'suback', messageId: p.messageId!, granted } : { cmd: 'suback', messageId: p.messageId!, granted });
    if (retainedFor.length > 0) {
      void this.sendRetained(retainedFor.map((r) => r.spec)).catch((err: unknown) => this.log.warn({ err }, 'retained delivery failed'));
    }
  }

  private async sendRetained(specs: SubSpec[]): Promise<void> {
    const now = Date.now();
    for (const spec of specs) {
      for (const [topic, buf] of this.registry.retained.entries()) {
        if (!mqttMatch(spec.filter, topic)) continue;
        // Retained messages follow the read scope like live ones (which the hub filters).
        if (!this.registry.gateway.permits(this.ctx, 'read', this.registry.routes.topicFor(topic), topic)) continue;
        const m = decodeRetained(buf);
        if (m === undefined) continue;
        const props = { ...m.properties };
        if (props.messageExpiryInterval !== undefined) {
          const left = props.messageExpiryInterval - Math.floor((now - m.storedAt) / 1000);
          if (left <= 0) continue; // [MQTT-3.3.2-5]
          props.messageExpiryInterval = left;
        }
        const qos = Math.min(spec.qos, m.qos) as QoS;
        // [MQTT-3.3.1-8] retained messages sent because of a new subscription carry RETAIN=1.
        const packet = this.publishPacket(spec, topic, m.payload, qos, true, props);
        if (!(await this.deliver(packet, undefined, undefined, false))) return;
      }
    }
  }

  private async onUnsubscribe(p: IUnsubscribePacket): Promise<void> {
    const s = this.session!;
    const codes: number[] = [];
    for (const raw of p.unsubscriptions) {
      const had = s.subs.delete(raw);
      s.positions.delete(raw);
      const live = this.live.get(raw);
      if (live !== undefined) await this.stopLive(live, true);
      this.live.delete(raw);
      codes.push(had ? RC.SUCCESS : RC.NO_SUBSCRIPTION_EXISTED);
    }
    if (s.persistent) {
      try {
        await this.registry.saveSession(s);
      } catch (err) {
        this.log.warn({ err: GatewayError.from(err) }, 'session not persisted after UNSUBSCRIBE');
      }
    }
    if (this.state !== 'open') return;
    // [MQTT-3.10.4-4] UNSUBACK even when nothing matched; v5 carries one reason code per filter.
    if (this.version === 5) this.send({ cmd: 'unsuback', messageId: p.messageId!, granted: codes });
    else this.send({ cmd: 'unsuback', messageId: p.messageId! } as Packet);
  }

  /** Starts delivery for a subscription: hub readers per routed Kafka topic, or a group member. */
  private async startLive(spec: SubSpec, resuming: boolean): Promise<void> {
    const live: Live = { spec, readers: [], closed: false };
    this.live.set(spec.raw, live);
    const topics = this.registry.routes.topicsFor(spec.filter);
    if (spec.share !== undefined) return this.startShared(live, topics);
    const s = this.session!;
    let byTopic = s.positions.get(spec.raw);
    if (byTopic === undefined) s.positions.set(spec.raw, (byTopic = new Map()));
    // A filter spanning several Kafka topics reads those the read scope can match in (the core
    // refuses the others with PERMISSION_DENIED); it is refused only when it can match in none.
    let denied: unknown;
    for (const topic of topics) {
      const stored = resuming ? byTopic.get(topic) : undefined;
      const from: Position =
        stored === undefined ? LATEST : stored === 'earliest' ? EARLIEST : { kind: 'offsets', offsets: new Map(stored), otherwise: 'earliest' };
      const reader: Reader = { topic, closed: false };
      live.readers.push(reader);
      try {
        await this.openReader(live, reader, from, byTopic);
      } catch (err) {
        if (!(err instanceof GatewayError && err.code === 'PERMISSION_DENIED')) throw err;
        reader.closed = true;
        live.readers.splice(live.readers.indexOf(reader), 1);
        denied = err;
      }
    }
    if (live.readers.length === 0 && denied !== undefined) throw denied;
  }

  private async openReader(live: Live, reader: Reader, from: Position, byTopic: Map<string, TopicPositions>): Promise<void> {
    const spec = (): SubSpec => live.spec;
    const nullKeyTopic = this.registry.routes.nullKeyTopicFor(reader.topic);
    // Records without a key match only {kind:'all'}: when the filter matches the route's keyless
    // name, read everything and keep the filter check in toPacket.
    const filters: KeyFilter[] = mqttMatch(live.spec.filter, nullKeyTopic) ? [{ kind: 'all' }] : [{ kind: 'mqtt', filter: live.spec.filter }];
    let positions: Map<number, bigint> = new Map();
    const sink: SubscriberSink = {
      records: async (batch) => {
        const open = await this.deliverBatch(
          batch,
          spec,
          filters[0]!.kind === 'mqtt',
          () => !reader.closed,
          async (rec, packet, encoded) => {
            const sent = await this.deliver(packet, { raw: live.spec.raw, topic: reader.topic, partition: rec.partition, offset: rec.offset, keyless: rec.key === null }, undefined, false, encoded);
            if (sent) positions.set(rec.partition, rec.offset + 1n);
            return sent;
          },
          (rec) => positions.set(rec.partition, rec.offset + 1n),
        );
        if (!open) return;
        // Everything handed over is processed: skip past records the hub filtered out too.
        if (reader.sub !== undefined) for (const [p, o] of reader.sub.positions()) if (o > (positions.get(p) ?? -1n)) positions.set(p, o);
        byTopic.set(reader.topic, positions);
        this.session!.dirty = true;
      },
      continuityLost: (n) => {
        // MQTT has no way to say it; the log records what the device missed.
        this.log.warn({ topic: reader.topic, partition: n.partition, requested: String(n.requested), actual: String(n.actual), reason: n.reason }, 'subscription continuity lost');
      },
      end: (error) => {
        if (reader.closed) return;
        reader.closed = true;
        const m = mqttError(error ?? new GatewayError('UNAVAILABLE', 'subscription ended'));
        this.log.warn({ err: m.error, topic: reader.topic }, 'subscription ended by the gateway');
        void this.fail(m.disconnect, reasonString(m.error));
      },
    };
    // A Kafka topic nothing was published to yet does not exist: the core waits for it and then
    // reads it from its beginning, so nothing published after this SUBSCRIBE is missed.
    const sub = await this.registry.gateway.subscribe(this.ctx, { topic: reader.topic, from, filters, waitForTopic: true }, sink);
    if (reader.closed || this.isClosed()) {
      sub.close();
      return;
    }
    reader.sub = sub;
    if (sub.start.size === 0) {
      // Still waiting for the topic: a session resumed before anything arrived reads it whole too.
      if (positions.size === 0) byTopic.set(reader.topic, 'earliest');
      return;
    }
    const merged = new Map(sub.start);
    for (const [p, o] of positions) merged.set(p, o);
    positions = merged;
    byTopic.set(reader.topic, positions);
  }

  private async startShared(live: Live, topics: string[]): Promise<void> {
    const spec = live.spec;
    // One group per (ShareName, filter): members of a Kafka group must read the same topics with
    // the same filter, or records one filter skips would be committed for the other.
    const hash = createHash('sha256').update(spec.filter).digest('hex').slice(0, 12);
    const member = await this.registry.gateway.joinGroup(this.ctx, {
      // `/` cannot occur in a share name, so the grant `mqtt-share/<share>/*` names exactly this
      // share's groups (with `-` a grant for share `a` would also match share `a-b`).
      group: `mqtt-share/${spec.share}/${hash}`,
      topics,
      // A new shared subscription gets what is published from now on; one whose topic does not
      // exist yet waits for it in the core and then reads it whole.
      resetTo: 'latest',
      waitForTopic: true,
      filters: [{ kind: 'mqtt', filter: spec.filter }],
    });
    if (live.closed || this.isClosed()) {
      await member.leave();
      return;
    }
    live.member = member;
    live.stream = member.stream({
      records: async (batch) => {
        // QoS 0 and records not for this subscriber are acknowledged once written (handled);
        // QoS>0 ones when the client acknowledges them.
        const ack = (rec: StreamRecord): void => void member.ack(rec.topic, rec.partition, rec.offset);
        await this.deliverBatch(
          batch,
          () => live.spec,
          true,
          () => !live.closed,
          (rec, packet, encoded) => this.deliver(packet, undefined, () => ack(rec), true, encoded),
          ack,
        );
      },
      continuityLost: (n) => this.log.warn({ partition: n.partition, reason: n.reason }, 'shared subscription continuity lost'),
      end: (error) => {
        if (live.closed) return;
        const m = mqttError(error ?? new GatewayError('UNAVAILABLE', 'shared subscription ended'));
        void this.fail(m.disconnect, reasonString(m.error));
      },
    });
  }

  private async stopLive(live: Live, leave: boolean): Promise<void> {
    live.closed = true;
    for (const r of live.readers) {
      r.closed = true;
      r.sub?.close();
    }
    live.stream?.stop();
    if (live.member !== undefined && leave) await live.member.leave();
  }

  // ---- DISCONNECT / close ---------------------------------------------------------------------

  private async onDisconnect(p: IDisconnectPacket): Promise<void> {
    const s = this.session!;
    if (this.version === 5) {
      const newExpiry = p.properties?.sessionExpiryInterval;
      if (newExpiry !== undefined) {
        // [MQTT-3.14.2-2] a session that ended with the connection cannot be made persistent here.
        if (s.expiry === 0 && newExpiry > 0) return this.fail(RC.PROTOCOL_ERROR, 'session expiry set at DISCONNECT');
        s.expiry = Math.min(newExpiry, this.registry.config.sessionExpiryMaxSeconds);
      }
    }
    // [MQTT-3.14.4-3] a normal DISCONNECT discards the will; v5 0x04 asks for it to be sent.
    this.normalDisconnect = !(this.version === 5 && p.reasonCode === RC.DISCONNECT_WITH_WILL);
    return this.close('client disconnected');
  }

  /**
   * Another connection took the client id [MQTT-3.1.4-2] [MQTT-3.1.4-3]: on this instance
   * (`local`: the new connection reuses the in-memory session) or on another (`remote`: the
   * session is the other instance's now; the registry writes the hand-over afterwards).
   */
  async takenOver(by: 'local' | 'remote'): Promise<void> {
    await this.fail(RC.SESSION_TAKEN_OVER, 'session taken over', by);
    // Also when the connection was already closing for another reason: its final writes come first.
    await this.closedPromise;
  }

  /**
   * This connection's claim raced another principal's earlier one, which its instance re-asserted
   * (ownership.ts `refuses`): closed with 0x87. Its session is not this client id's to keep — never
   * written, dropped or expired from here.
   */
  async refusedByHolder(): Promise<void> {
    const s = this.session;
    if (s !== undefined) {
      s.released = true;
      if (this.registry.sessions.get(this.clientId) === s) this.registry.sessions.delete(this.clientId);
    }
    this.normalDisconnect = true; // nor is a will published for it
    const m = mqttError(new GatewayError('PERMISSION_DENIED', 'This client id belongs to another principal.'));
    await this.fail(m.disconnect, reasonString(m.error), 'remote');
  }

  /** Whether this connection's session outlives it (as its claim says). */
  get persistentSession(): boolean {
    return this.session?.persistent === true;
  }

  /** Gateway shutdown: v5 clients are told 0x8B; the session is kept, the will is not sent. */
  async shutdown(): Promise<void> {
    this.normalDisconnect = true;
    await this.pumping;
    await this.fail(RC.SERVER_SHUTTING_DOWN, 'server shutting down');
  }

  /** Ends the connection because of an error: v5 gets a DISCONNECT with the reason (after CONNACK only [MQTT-3.14.0-1]). */
  private async fail(reasonCode: number, reason: string, takenOverBy?: 'local' | 'remote'): Promise<void> {
    if (this.isClosed()) return;
    if (this.version === 5 && this.state === 'open') {
      this.send({ cmd: 'disconnect', reasonCode, properties: { reasonString: reason } });
    }
    this.log.info({ reasonCode, reason }, 'closing MQTT connection');
    await this.close(reason, takenOverBy);
  }

  private releaseConnection: (() => void) | undefined;
  private expiryTimer: NodeJS.Timeout | undefined;

  private async close(why: string, takenOverBy?: 'local' | 'remote'): Promise<void> {
    clearTimeout(this.expiryTimer);
    this.releaseConnection?.();
    this.releaseConnection = undefined;
    if (this.state === 'closed') return this.closedPromise;
    const wasOpen = this.state === 'open';
    this.state = 'closed';
    this.log.debug({ why }, 'connection closed');
    clearTimeout(this.connectTimer);
    clearTimeout(this.keepaliveTimer);
    for (const w of this.slotWaiters.splice(0)) w();
    // end() flushes a final CONNACK/DISCONNECT; a peer that never reads is cut off after mqtt.closeDrainMs.
    this.stream.end();
    setTimeout(() => this.stream.destroy(), this.registry.config.closeDrainMs).unref();
    try {
      await Promise.allSettled([...this.live.values()].map((l) => this.stopLive(l, true)));
      this.live.clear();
      const s = this.session;
      // Also when CONNECT failed after registering (no session yet): a closed connection must not
      // keep holding the client id for the ownership check.
      if (this.registry.connected.get(this.clientId) === this) this.registry.connected.delete(this.clientId);
      if (wasOpen && s !== undefined) {
        for (const p of s.pending.values()) if (p.shared) s.pending.delete(p.pid);
        // [MQTT-3.1.2-8] the will is published when the connection closes without a normal DISCONNECT.
        if (!this.normalDisconnect && this.will !== undefined && !this.registry.closing) {
          this.registry.scheduleWill(this.clientId, this.will.msg, Math.min(this.will.delay, s.expiry), this.ctx);
        }
        if (s.persistent) {
          await this.registry.saveSession(s).catch((err: unknown) => this.log.warn({ err }, 'session not saved at disconnect'));
          if (takenOverBy === undefined) this.registry.sessionOffline(s);
        } else if (takenOverBy === 'remote') {
          // The session ended with this connection, but the table is the new owner's now (it may
          // have written its own session already): forget the local copy only.
          if (this.registry.sessions.get(this.clientId) === s) this.registry.sessions.delete(this.clientId);
        } else {
          // [MQTT-3.1.2-?] Session Expiry 0: the session ends with the network connection.
          await this.registry.dropSession(this.clientId);
        }
      }
      // The connection no longer holds the client id; after the final session write, so a claimer
      // that finds no entry reads a session this connection no longer changes.
      if (this.claimNonce !== undefined) {
        await this.registry.releaseClaim(this.clientId, this.claimNonce).catch((err: unknown) => this.log.warn({ err }, 'connection entry not released'));
      }
    } finally {
      this.registry.clients.delete(this);
      this.resolveClosed();
    }
  }

  // ---- output --------------------------------------------------------------------------------

  private send(packet: Packet): boolean {
    if (this.isClosed() && packet.cmd !== 'connack') return false;
    return this.writeRaw(this.encode(packet));
  }

  private encode(packet: Packet): Buffer {
    return mqtt.generate(packet, { protocolVersion: this.version });
  }

  private writeRaw(buf: Buffer): boolean {
    if (this.stream.destroyed || this.stream.writableEnded) return false;
    return this.stream.write(buf);
  }

  private drained(): Promise<void> {
    if (this.stream.destroyed || !this.stream.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.stream.off('drain', done);
        this.stream.off('close', done);
        resolve();
      };
      this.stream.on('drain', done);
      this.stream.on('close', done);
    });
  }
}

/**
 * A copy of an encoded QoS>0 PUBLISH with its Packet Identifier set: the variable header is the
 * Topic Name (2-byte length + UTF-8) followed by the Packet Identifier [MQTT-3.3.2], after the
 * fixed header's byte and Remaining Length (1–4 bytes, high bit = more follow) [MQTT-2.2.3].
 */
function withPacketId(template: Buffer, pid: number): Buffer {
  let i = 1;
  while ((template[i]! & 0x80) !== 0) i++;
  const at = i + 1 + 2 + template.readUInt16BE(i + 1);
  const out = Buffer.allocUnsafe(template.length);
  template.copy(out);
  out.writeUInt16BE(pid, at);
  return out;
}

/** Total packet size from the Remaining Length: fixed header byte + length bytes + remaining. */
function totalSize(remaining: number): number {
  const lengthBytes = remaining < 128 ? 1 : remaining < 16_384 ? 2 : remaining < 2_097_152 ? 3 : 4;
  return 1 + lengthBytes + remaining;
}

/** The principal of a gateway without authentication: no scope, may do everything (client ids are not bound then). */
function unrestricted(principal: Principal): boolean {
  return principal.scope === undefined;
}
