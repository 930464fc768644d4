/**
 * One MQTT client's life on one network connection (MQTT-5 and MQTT-3.1.1 §3–§4), split the aedes way:
 * this class holds the connection's state and dispatches packets; the work is in one handler per
 * packet family (handlers/connect.ts, publish.ts, subscribe.ts, disconnect.ts), outbound delivery in
 * delivery.ts, the bytes in connection.ts and the version differences in protocol.ts. The MQTT
 * session (what outlives the connection) is `Session`, kept by the `SessionRegistry`.
 */
import type { Duplex } from 'node:stream';
import type { Packet } from 'mqtt-packet';
import type { Logger } from 'pino';
import type { Context } from '../../gateway/api.js';
import { createContext } from '../../gateway/context.js';
import { lazyChild } from '../../gateway/log.js';
import { GatewayError } from '../../gateway/errors.js';
import type { Message } from './codec.js';
import { MAX_QUEUED_CONTROL_PACKETS } from './config.js';
import { Connection } from './connection.js';
import { Delivery } from './delivery.js';
import { mqttError, RC, reasonString } from './errors.js';
import { handleConnect } from './handlers/connect.js';
import { endSession, handleDisconnect } from './handlers/disconnect.js';
import { PublishIn } from './handlers/publish.js';
import { Subscriptions } from './handlers/subscribe.js';
import type { ClientIdOwner } from './ownership.js';
import { unsupportedVersionConnack, V311, type Protocol } from './protocol.js';
import type { Session } from './session.js';
import type { SessionRegistry } from './sessions.js';
import { packetProblem } from './validate.js';
import { newId } from '../../gateway/ids.js';

/** Where the client is: before CONNECT, authenticating and loading its session, connected, gone. */
export type ClientState = 'new' | 'connecting' | 'open' | 'closed';

/** Who connected (for the log, the connection limits and certificate authentication). */
export interface Peer {
  readonly address?: string | undefined;
  readonly port?: number | undefined;
  readonly certificateSubject?: string | undefined;
}

/** Another connection took the client id: on this instance, or on another one (the session is that one's now). */
export type TakenOverBy = 'local' | 'remote';

export class Client {
  readonly conn: Connection;
  /** MQTT 3.1.1 until CONNECT names the version. */
  protocol: Protocol = V311;
  state: ClientState = 'new';
  /** The MQTT session this connection serves (set once CONNECT loaded or created it). */
  session: Session | undefined;
  clientId = '';
  log: Logger;
  ctx: Context;
  will: { msg: Message; delay: number } | undefined;
  /** Closed the way that discards the will (a normal DISCONNECT, shutdown, refusal by the holder). */
  normalDisconnect = false;
  /**
   * This connection's durable claim of its client id in the connections table (ownership.ts);
   * undefined until the claim is acknowledged. Until then the registry leaves the connection alone
   * when the table changes: the CONNECT handler checks the outcome itself once its write is durable.
   */
  claimNonce: string | undefined;
  /** The principal this connection authenticated as (undefined before CONNECT got that far). */
  owner: ClientIdOwner | undefined;
  /** Releases this connection's slot in the core's connection limits. */
  releaseConnection: (() => void) | undefined;
  /** Ends the connection when the credentials expire. */
  expiryTimer: NodeJS.Timeout | undefined;
  readonly delivery: Delivery;
  readonly inbound: PublishIn;
  readonly subscriptions: Subscriptions;
  private chain: Promise<void> = Promise.resolve();
  private chainLength = 0;
  private readonly closedPromise: Promise<void>;
  private resolveClosed!: () => void;

  constructor(
    readonly registry: SessionRegistry,
    stream: Duplex,
    readonly transport: 'tcp' | 'ws',
    readonly peer: Peer,
  ) {
    const remote = peer.port === undefined ? peer.address : `${peer.address}:${peer.port}`;
    this.log = lazyChild(registry.log, { conn: newId().slice(0, 8), transport, remote });
    this.ctx = createContext({ protocol: 'mqtt', log: this.log });
    this.closedPromise = new Promise((r) => (this.resolveClosed = r));
    this.delivery = new Delivery(this);
    this.inbound = new PublishIn(this);
    this.subscriptions = new Subscriptions(this);
    registry.clients.add(this);
    const cfg = registry.config;
    this.conn = new Connection(stream, { maxPacketBytes: cfg.maxPacketBytes, connectTimeoutMs: cfg.connectTimeoutMs, closeDrainMs: cfg.closeDrainMs }, {
      packet: (p) => this.enqueue(p),
      malformed: (err) => this.malformed(err),
      tooLarge: () => {
        // [MQTT-5:3.2.2-15] a packet over the Maximum Packet Size we announced: DISCONNECT 0x95 (MQTT-5 §4.13).
        this.log.info({ max: cfg.maxPacketBytes }, 'packet too large');
        void this.fail(RC.PACKET_TOO_LARGE, 'packet too large');
      },
      connectTimeout: () => void this.close('no CONNECT in time'),
      keepaliveExpired: () => void this.fail(RC.KEEP_ALIVE_TIMEOUT, 'keepalive timeout'),
      ended: (why, err) => {
        if (err !== undefined) this.log.debug({ err }, 'transport error');
        void this.close(why);
      },
    });
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

  /** Whether this connection's session outlives it (as its claim says). */
  get persistentSession(): boolean {
    return this.session?.persistent === true;
  }

  // ---- dispatch -------------------------------------------------------------------------------

  private malformed(err: Error): void {
    if (this.isClosed()) return;
    this.log.info({ err: err.message }, 'malformed packet');
    if (this.state === 'new' && /protocol version/i.test(err.message)) {
      // [MQTT-3.1.1:3.1.2-2] [MQTT-5:3.1.2-2] a protocol level not spoken here: CONNACK 0x01, then close.
      this.conn.write(unsupportedVersionConnack());
      void this.close('unsupported protocol version');
      return;
    }
    // MQTT-5 §3.8.3.1: Retain Handling 3 is a Protocol Error; everything else the parser refuses is malformed (MQTT-5 §4.13).
    void this.fail(/retain handling/i.test(err.message) ? RC.PROTOCOL_ERROR : RC.MALFORMED_PACKET, err.message);
  }

  private enqueue(packet: Packet): void {
    if (this.isClosed()) return;
    // Rules the parser lets through (validate.ts), before any handler or acknowledgement.
    const problem = packet.cmd === 'connect' ? undefined : packetProblem(packet);
    if (problem !== undefined) {
      this.log.info({ cmd: packet.cmd, reason: problem.reason }, 'packet breaks a protocol rule');
      return void this.fail(problem.code, problem.reason);
    }
    // PUBLISH and acks are handled at once (no awaits before they are queued/applied) so a slow
    // SUBSCRIBE never delays the PUBACKs that free delivery slots.
    if (this.state === 'open' && (packet.cmd === 'publish' || packet.cmd === 'puback' || packet.cmd === 'pubrec' || packet.cmd === 'pubcomp' || packet.cmd === 'pubrel' || packet.cmd === 'pingreq')) {
      this.handleNow(packet);
      return;
    }
    this.chainLength++;
    if (this.chainLength > MAX_QUEUED_CONTROL_PACKETS) this.conn.pause('control packets');
    this.chain = this.chain
      .then(() => (this.isClosed() ? undefined : this.handle(packet)))
      .catch((err: unknown) => {
        this.log.error({ err }, 'MQTT packet handling failed');
        return this.fail(RC.UNSPECIFIED, 'internal error');
      })
      .finally(() => {
        this.chainLength--;
        if (this.chainLength <= MAX_QUEUED_CONTROL_PACKETS) this.conn.resume('control packets');
      });
  }

  private async handle(packet: Packet): Promise<void> {
    if (this.state === 'new') {
      if (packet.cmd !== 'connect') return this.close('first packet is not CONNECT'); // [MQTT-5:3.1.0-1] [MQTT-3.1.1:3.1.0-1]
      return handleConnect(this, packet);
    }
    switch (packet.cmd) {
      case 'connect':
        return this.fail(RC.PROTOCOL_ERROR, 'second CONNECT'); // [MQTT-5:3.1.0-2] [MQTT-3.1.1:3.1.0-2]
      case 'subscribe':
        return this.subscriptions.subscribe(packet);
      case 'unsubscribe':
        return this.subscriptions.unsubscribe(packet);
      case 'disconnect':
        return handleDisconnect(this, packet);
      case 'auth':
        // [MQTT-5:4.12.0-7] no Authentication Method in CONNECT (one is refused there): no AUTH.
        return this.fail(RC.PROTOCOL_ERROR, 'AUTH without an authentication method');
      default:
        this.handleNow(packet);
    }
  }

  private handleNow(packet: Packet): void {
    switch (packet.cmd) {
      case 'publish':
        return this.inbound.publish(packet);
      case 'puback':
        return this.delivery.completed(packet.messageId, 1);
      case 'pubrec':
        return this.delivery.pubrec(packet.messageId ?? 0, packet.reasonCode ?? 0);
      case 'pubcomp':
        return this.delivery.completed(packet.messageId, 2);
      case 'pubrel':
        return this.inbound.pubrel(packet.messageId ?? 0);
      case 'pingreq':
        this.send({ cmd: 'pingresp' }); // [MQTT-5:3.12.4-1] [MQTT-3.1.1:3.12.4-1]
        return;
      default:
        // CONNACK, SUBACK, … are server-to-client packets: a protocol error [MQTT-5:4.13.1-1] [MQTT-3.1.1:4.8.0-1].
        void this.fail(RC.PROTOCOL_ERROR, `unexpected ${packet.cmd}`);
    }
  }

  // ---- output ---------------------------------------------------------------------------------

  /** Encodes and writes a packet; nothing but a final CONNACK is written once the client is closed. */
  send(packet: Packet): boolean {
    if (this.isClosed() && packet.cmd !== 'connack') return false;
    const bytes = this.delivery.fitted(packet);
    if (bytes === undefined) return true; // a PUBLISH over the client's Maximum Packet Size (a resent one: see resume)
    return this.conn.write(bytes);
  }

  // ---- the end --------------------------------------------------------------------------------

  /**
   * Another connection took the client id [MQTT-5:3.1.4-3] [MQTT-3.1.1:3.1.4-2]: on this instance
   * (`local`: the new connection reuses the in-memory session) or on another (`remote`: the
   * session is the other instance's now; the registry writes the hand-over afterwards).
   */
  async takenOver(by: TakenOverBy): Promise<void> {
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

  /** Gateway shutdown: v5 clients are told 0x8B; the session is kept, the will is not sent. */
  async shutdown(): Promise<void> {
    this.normalDisconnect = true;
    await this.inbound.settled();
    await this.fail(RC.SERVER_SHUTTING_DOWN, 'server shutting down');
  }

  /** Ends the connection because of an error: v5 gets a DISCONNECT with the reason (after CONNACK only [MQTT-5:3.14.0-1]). */
  async fail(reasonCode: number, reason: string, takenOverBy?: TakenOverBy): Promise<void> {
    if (this.isClosed()) return;
    const disconnect = this.state === 'open' ? this.protocol.disconnect(reasonCode, reason) : undefined;
    if (disconnect !== undefined) this.send(disconnect);
    this.log.info({ reasonCode, reason }, 'closing MQTT connection');
    await this.close(reason, takenOverBy);
  }

  /** Closes the connection and ends what it held: subscriptions, then the session's part (handlers/disconnect.ts). */
  async close(why: string, takenOverBy?: TakenOverBy): Promise<void> {
    clearTimeout(this.expiryTimer);
    this.releaseConnection?.();
    this.releaseConnection = undefined;
    if (this.state === 'closed') return this.closedPromise;
    const wasOpen = this.state === 'open';
    this.state = 'closed';
    this.log.debug({ why }, 'connection closed');
    this.delivery.release();
    this.conn.close();
    try {
      await this.subscriptions.stopAll();
      await endSession(this, wasOpen, takenOverBy);
    } finally {
      this.registry.clients.delete(this);
      this.resolveClosed();
    }
  }
}
