/**
 * CONNECT (and the AUTH it may name): protocol level, authentication by the core, the will,
 * client-id ownership, local and cross-instance takeover, the session (clean start, resume), and
 * CONNACK. A present session is then resumed: unacknowledged deliveries resent, subscriptions
 * restarted from their stored positions.
 */
import type { IConnectPacket, IPublishPacket } from 'mqtt-packet';
import type { Principal } from '../../../gateway/api.js';
import { createContext } from '../../../gateway/context.js';
import { lazyChild } from '../../../gateway/log.js';
import { GatewayError } from '../../../gateway/errors.js';
import { expandIdentityPattern, globMatch } from '../../../gateway/grants.js';
import type { Client } from '../client.js';
import { topicNameProblem, type QoS } from '../codec.js';
import { MAX_TIMER_MS } from '../config.js';
import { mqttError, RC, reasonString } from '../errors.js';
import { ownerOf, sameOwner } from '../ownership.js';
import { unsupportedVersionConnack, V311, V5 } from '../protocol.js';
import { Session, type PendingOut } from '../session.js';
import { connectProblem } from '../validate.js';
import { newId } from '../../../gateway/ids.js';

export async function handleConnect(client: Client, p: IConnectPacket): Promise<void> {
  client.state = 'connecting';
  const { registry } = client;
  const cfg = registry.config;
  if (p.protocolVersion !== 4 && p.protocolVersion !== 5) {
    // MQTT 3.1 (level 3) is not spoken here [MQTT-3.1.1:3.1.2-2] [MQTT-5:3.1.2-2].
    client.conn.connected(4);
    client.conn.write(unsupportedVersionConnack());
    return client.close('unsupported protocol version');
  }
  const protocol = p.protocolVersion === 5 ? V5 : V311;
  client.protocol = protocol;
  client.conn.connected(protocol.level);
  const problem = connectProblem(p, protocol.level);
  if (problem !== undefined) {
    const code = protocol.connectProblemCode(problem.code);
    if (code !== undefined) return refuse(client, code, problem.reason);
    client.log.info({ reason: problem.reason }, 'CONNECT refused');
    return client.close('malformed CONNECT');
  }
  const limits = protocol.clientLimits(p);
  if ('refused' in limits) return refuse(client, limits.refused, limits.reason);
  client.delivery.limit(limits.receiveMaximum, limits.maximumPacketSize, limits.topicAliasMaximum);
  const clean = p.clean !== false;
  let clientId = p.clientId ?? '';
  let assigned: string | undefined;
  // Server-assigned (the client sent an empty id): exempt from `mqtt.clientIdPattern` in both
  // versions — v5 tells the client the id (`assigned`), 3.1.1 cannot, but the id is just as new.
  const serverAssigned = clientId === '';
  if (serverAssigned) {
    const id = protocol.assignClientId(clean, `auto-${newId()}`);
    if ('refused' in id) return refuse(client, id.refused, 'empty client id needs a clean session');
    clientId = id.clientId;
    assigned = id.assigned;
  }
  client.clientId = clientId;
  client.log = lazyChild(client.log, { clientId });
  // Authentication is the core's: the password field carries a JWT or API key (the username is
  // informational), or a verified TLS client certificate names the principal. v5 enhanced auth
  // (AUTH packets) is not supported and refused above with 0x8C.
  let principal: Principal;
  try {
    client.releaseConnection = registry.gateway.connectionOpened('mqtt', client.peer.address);
    principal = await registry.gateway.authenticate(
      {
        ...(p.password === undefined ? {} : { token: Buffer.from(p.password).toString('utf8') }),
        ...(client.peer.certificateSubject === undefined ? {} : { certificateSubject: client.peer.certificateSubject }),
      },
      { protocol: 'mqtt', remoteAddress: client.peer.address },
    );
  } catch (err) {
    return refuseWith(client, err);
  }
  if (client.isClosed()) return;
  client.ctx = createContext({ protocol: 'mqtt', log: client.log, principal });
  // The operator's view of connections by principal; released with the connection's slot.
  const forget = registry.gateway.connectionIdentified(client.ctx);
  const releaseSlot = client.releaseConnection;
  client.releaseConnection = () => {
    forget();
    releaseSlot?.();
  };
  if (principal.expiresAt !== undefined) {
    // Credentials that expire end the connection (DISCONNECT 0x87, MQTT-5 §3.14.2.1); the client reconnects with fresh ones.
    client.expiryTimer = setTimeout(() => void client.fail(RC.NOT_AUTHORIZED, 'credentials expired'), Math.max(0, Math.min(principal.expiresAt - Date.now(), MAX_TIMER_MS)));
    client.expiryTimer.unref();
  }

  // Keepalive (the client's, limited by config) and session expiry.
  const terms = protocol.terms(p, clean, cfg);

  if (p.will !== undefined) {
    const willTopicProblem = topicNameProblem(p.will.topic, cfg.maxTopicLevels);
    if (willTopicProblem !== undefined) return refuse(client, protocol.invalidWillTopic, willTopicProblem);
    const { willDelayInterval, ...msgProps } = p.will.properties ?? {};
    client.will = {
      msg: { topic: p.will.topic, payload: Buffer.from(p.will.payload), qos: (p.will.qos ?? 0) as QoS, retain: p.will.retain === true, properties: msgProps },
      delay: willDelayInterval ?? 0,
    };
    // A will outside the write scope is refused now, as Mosquitto does (CONNACK 5 / 0x87), rather
    // than accepted and silently dropped when it fires. It is checked again when written.
    try {
      registry.gateway.authorize(client.ctx, 'write', registry.routes.topicFor(p.will.topic), p.will.topic);
    } catch (err) {
      return refuseWith(client, err);
    }
  }

  // A client id is bound to the principal that created its session. Without authentication
  // every client is the one anonymous principal and nothing is checked (any client may take over
  // any client id, as before: takeover protection needs authentication).
  const owner = ownerOf(principal);
  client.owner = owner;
  if (!unrestricted(principal)) {
    const pattern = cfg.clientIdPattern;
    if (pattern !== undefined && !serverAssigned) {
      const expanded = expandIdentityPattern(pattern, principal);
      if (expanded === undefined || !globMatch(expanded, clientId)) {
        client.log.warn({ principal: principal.id, pattern }, 'client id does not match mqtt.clientIdPattern');
        return refuseWith(client, new GatewayError('PERMISSION_DENIED', 'This client id is not allowed for this principal.'));
      }
    }
    // Another principal's live connection (here or on another instance) or stored session keeps
    // the client id: refused before anything is touched — no local takeover, no claim written, no
    // hand-over asked. This instance's copies of both tables first catch up with what other
    // instances wrote, so a holder that connected elsewhere a moment ago is seen.
    try {
      await Promise.all([registry.owners.sync(), registry.stored.sync()]);
    } catch (err) {
      client.log.warn({ err: GatewayError.from(err) }, 'client id ownership could not be checked');
      return refuseWith(client, err);
    }
    if (client.isClosed()) return;
    const holder = registry.foreignHolder(clientId, owner);
    if (holder !== undefined) {
      client.log.warn({ principal: principal.id, holder }, 'client id held by another principal; CONNECT refused, the holder is left alone');
      return refuseWith(client, new GatewayError('PERMISSION_DENIED', 'This client id belongs to another principal.'));
    }
  }

  // [MQTT-5:3.1.4-3] [MQTT-3.1.1:3.1.4-2] a connection with the same client id takes over: the old one is closed first.
  const existing = registry.connected.get(clientId);
  registry.connected.set(clientId, client);
  if (existing !== undefined && existing !== client) await existing.takenOver('local');
  if (client.isClosed()) return;

  // Across instances: claim the client id in the connections table. After authentication, so a
  // client that cannot log in never disconnects one that did; before the session is read and
  // before CONNACK, so (a) the instance holding the old connection stops it and writes its final
  // state before we read it, and (b) CONNACK is sent only once the claim is durable, like the
  // persistent session itself.
  const nonce = newId();
  let previousOwner;
  try {
    previousOwner = await registry.claim(clientId, nonce, terms.expiry > 0, owner);
  } catch (err) {
    client.log.warn({ err: GatewayError.from(err) }, 'client id could not be claimed');
    return refuseWith(client, err);
  }
  client.claimNonce = nonce;
  if (client.isClosed()) return;
  // A claim written after ours (the client reconnected again, elsewhere) already owns the id.
  if (registry.claimSuperseded(clientId, nonce)) return client.close('client id claimed by a later connection');
  let handedOver = false;
  if (previousOwner !== undefined) {
    const started = Date.now();
    handedOver = await registry.awaitHandover(clientId, nonce, client.closed);
    if (client.isClosed()) return;
    if (registry.claimSuperseded(clientId, nonce)) return client.close('client id claimed by a later connection');
    if (handedOver) client.log.info({ previous: previousOwner.instance, waitedMs: Date.now() - started }, 'session handed over by another gateway instance');
    else client.log.warn({ previous: previousOwner.instance, waitedMs: Date.now() - started }, 'no hand-over from the previous gateway instance in time; reading the stored session');
  }
  registry.cancelWill(clientId); // [MQTT-5:3.1.3-9] a will delayed for this session is not sent
  registry.clearExpiry(clientId);

  let session: Session | undefined;
  let present = false;
  // A session another principal created meanwhile (a CONNECT racing this one on another
  // instance, after the check above) is neither resumed nor discarded.
  const lateHolder = unrestricted(principal) ? undefined : registry.foreignHolder(clientId, owner);
  if (lateHolder !== undefined) {
    client.log.warn({ principal: principal.id, holder: lateHolder }, 'client id taken by another principal during CONNECT; refused');
    return refuseWith(client, new GatewayError('PERMISSION_DENIED', 'This client id belongs to another principal.'));
  }
  try {
    if (clean) {
      await registry.dropSession(clientId); // [MQTT-5:3.1.2-4] [MQTT-3.1.1:3.1.2-6] clean start discards any session
    } else {
      // No hand-over to wait for (the client left another instance cleanly, or it is gone):
      // that instance's last session write was acknowledged before its claim was deleted, but
      // this instance's copy of the sessions table may not have it yet.
      if (!handedOver) {
        await registry.stored.sync().catch((err: unknown) => client.log.warn({ err }, 'sessions table not caught up; reading this copy'));
        if (client.isClosed()) return;
      }
      session = registry.loadSession(clientId);
      present = session !== undefined; // [MQTT-5:3.2.2-3] [MQTT-3.1.1:3.2.2-2]
    }
    // Read after the stored copy caught up: the last word on a racing CONNECT elsewhere.
    if (session !== undefined && !unrestricted(principal) && !sameOwner(session.owner, owner)) {
      client.log.warn({ principal: principal.id }, 'stored session belongs to another principal; CONNECT refused');
      return refuseWith(client, new GatewayError('PERMISSION_DENIED', 'This client id belongs to another principal.'));
    }
    session ??= new Session(clientId);
    session.owner = owner;
    session.heldBy = nonce;
    session.handover = undefined;
    session.expiry = terms.expiry;
    session.expiresAt = undefined;
    registry.sessions.set(clientId, session);
    client.session = session;
    if (session.persistent) await registry.saveSession(session);
  } catch (err) {
    client.log.warn({ err: GatewayError.from(err) }, 'session could not be opened');
    return refuseWith(client, err);
  }
  if (client.isClosed()) return;

  client.state = 'open';
  client.send(protocol.connackAccepted(present, cfg, { ...terms.connack, ...(assigned === undefined ? {} : { assignedClientIdentifier: assigned }) }));
  client.log.info({ version: protocol.level, clean, present, keepalive: terms.keepalive, expiry: terms.expiry }, 'MQTT client connected');
  client.conn.keepalive(terms.keepalive);
  if (present) await resume(client, session);
}

/** CONNACK with the error's code for this version (errors.ts), then close. */
function refuseWith(client: Client, err: unknown): Promise<void> {
  const m = mqttError(err);
  return refuse(client, client.protocol.connackCode(m), reasonString(m.error));
}

/** CONNACK with a failure code, then close [MQTT-5:3.2.2-7] [MQTT-3.1.1:3.2.2-5]. */
function refuse(client: Client, code: number, reason: string): Promise<void> {
  client.log.info({ code, reason }, 'CONNECT refused');
  client.send(client.protocol.connackRefused(code, reason));
  return client.close('connect refused');
}

/** Restores a present session: resend unacknowledged deliveries, then restart subscriptions. */
async function resume(client: Client, s: Session): Promise<void> {
  // [MQTT-5:4.4.0-1] [MQTT-3.1.1:4.4.0-1] resend unacknowledged PUBLISH (DUP) and PUBREL with their original packet ids.
  for (const p of [...s.pending.values()].sort((a, b) => a.pid - b.pid)) {
    if (p.shared) {
      s.pending.delete(p.pid); // the group redelivers what this member did not acknowledge
      continue;
    }
    if (p.state === 'pubrel') {
      client.send({ cmd: 'pubrel', messageId: p.pid });
      continue;
    }
    let packet = p.packet;
    // The reconnecting principal's read scope decides (its token may grant less than the one the
    // delivery was made under). A refetched record comes through the core's read scope already.
    if (packet !== undefined && !mayStillRead(client, p, packet)) packet = undefined;
    else if (packet === undefined && p.source !== undefined) packet = await refetch(client, p);
    if (packet === undefined) {
      s.pending.delete(p.pid);
      continue;
    }
    p.packet = packet;
    // This connection's Maximum Packet Size may be smaller than the last one's: a resend that no
    // longer fits is not sent and counts as delivered [MQTT-5:3.1.2-25].
    const bytes = client.delivery.fitted({ ...packet, dup: true });
    if (bytes === undefined) {
      s.pending.delete(p.pid);
      continue;
    }
    client.conn.write(bytes);
  }
  for (const spec of s.subs.values()) {
    try {
      await client.subscriptions.start(spec, true);
    } catch (err) {
      // E.g. the token this time grants less: the subscription stays in the session, inactive
      // on this connection (MQTT has no way to tell the client but the log).
      await client.subscriptions.retire(spec.raw);
      const m = mqttError(err);
      if (m.error.code !== 'PERMISSION_DENIED') throw err;
      client.log.warn({ err: m.error, filter: spec.raw }, 'resumed subscription outside the read scope; not delivering');
    }
  }
}

/** Whether a pending in-memory delivery is inside this connection's read scope. */
function mayStillRead(client: Client, p: PendingOut, packet: IPublishPacket): boolean {
  const { registry } = client;
  const src = p.source;
  const kafkaTopic = src?.topic ?? registry.routes.topicFor(packet.topic);
  return registry.gateway.permits(client.ctx, 'read', kafkaTopic, src?.keyless === true ? null : packet.topic);
}

/** Re-reads the record of a pending delivery from the log (after a restart or a hand-over). */
async function refetch(client: Client, p: PendingOut): Promise<IPublishPacket | undefined> {
  const src = p.source!;
  const spec = client.session?.subs.get(src.raw);
  if (spec === undefined) return undefined;
  try {
    const res = await client.registry.gateway.fetch(client.ctx, src.topic, src.partition, src.offset, { maxRecords: 1 });
    const rec = res.records.find((r) => r.offset === src.offset);
    if (rec === undefined) return undefined;
    return client.delivery.toPacket(spec, rec, p.qos)?.packet;
  } catch (err) {
    client.log.warn({ err: GatewayError.from(err), ...src, offset: String(src.offset) }, 'pending delivery could not be re-read; dropped');
    return undefined;
  }
}

/** The principal of a gateway without authentication: no scope, may do everything (client ids are not bound then). */
function unrestricted(principal: Principal): boolean {
  return principal.scope === undefined;
}
