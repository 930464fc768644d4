/**
 * DISCONNECT from the client, and what any end of a connection does to the MQTT session: the will,
 * the final session write (or the session's end), and the release of the client id's claim.
 */
import type { IDisconnectPacket } from 'mqtt-packet';
import type { Client, TakenOverBy } from '../client.js';
import { RC } from '../errors.js';

export async function handleDisconnect(client: Client, p: IDisconnectPacket): Promise<void> {
  const s = client.session!;
  const newExpiry = client.protocol.disconnectExpiry(p);
  if (newExpiry !== undefined) {
    // MQTT-5 §3.14.2.2.2: a session that was to end with the connection cannot be made persistent here.
    if (s.expiry === 0 && newExpiry > 0) return client.fail(RC.PROTOCOL_ERROR, 'session expiry set at DISCONNECT');
    s.expiry = Math.min(newExpiry, client.registry.config.sessionExpiryMaxSeconds);
  }
  // [MQTT-5:3.14.4-3] [MQTT-3.1.1:3.14.4-3] a normal DISCONNECT discards the will; v5 0x04 asks for it to be sent.
  client.normalDisconnect = !client.protocol.keepsWill(p);
  return client.close('client disconnected');
}

/**
 * The session's part of a closed connection (after its subscriptions stopped): the will, the
 * final write of a persistent session or the end of one that lasts as long as the connection,
 * then the claim of the client id — after the final write, so a claimer that finds no entry reads
 * a session this connection no longer changes.
 */
export async function endSession(client: Client, wasOpen: boolean, takenOverBy: TakenOverBy | undefined): Promise<void> {
  const { registry, clientId } = client;
  const s = client.session;
  // Also when CONNECT failed after registering (no session yet): a closed connection must not
  // keep holding the client id for the ownership check.
  if (registry.connected.get(clientId) === client) registry.connected.delete(clientId);
  if (wasOpen && s !== undefined) {
    for (const p of s.pending.values()) if (p.shared) s.pending.delete(p.pid);
    // [MQTT-5:3.1.2-8] [MQTT-3.1.1:3.1.2-8] the will is published when the connection closes without a normal DISCONNECT.
    if (!client.normalDisconnect && client.will !== undefined && !registry.closing) {
      registry.scheduleWill(clientId, client.will.msg, Math.min(client.will.delay, s.expiry), client.ctx);
    }
    if (s.persistent) {
      await registry.saveSession(s).catch((err: unknown) => client.log.warn({ err }, 'session not saved at disconnect'));
      if (takenOverBy === undefined) registry.sessionOffline(s);
    } else if (takenOverBy === 'remote') {
      // The session ended with this connection, but the table is the new owner's now (it may
      // have written its own session already): forget the local copy only.
      if (registry.sessions.get(clientId) === s) registry.sessions.delete(clientId);
    } else {
      // Session Expiry 0 (MQTT-5 §3.1.2.11.2) / CleanSession 1 [MQTT-3.1.1:3.1.2-6]: the session ends with the connection.
      await registry.dropSession(clientId);
    }
  }
  if (client.claimNonce !== undefined) {
    await registry.releaseClaim(clientId, client.claimNonce).catch((err: unknown) => client.log.warn({ err }, 'connection entry not released'));
  }
}
