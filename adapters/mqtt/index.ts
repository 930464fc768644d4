/**
 * The MQTT adapter: a TCP listener and MQTT over WebSocket (`/mqtt`, subprotocol `mqtt`, served by
 * the process's WebSocket transport on the shared HTTP port and, with websocket.engine uws, on the
 * uWS port), each connection handed to a Client as a plain Duplex.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { AdapterHost, RunningAdapter } from '../../app/host.js';
import { certificateSubject } from '../../codecs/credentials.js';
import { WebSocketDuplex } from '../../transport/websocket.js';
import { MQTT_VIEW } from '../../codecs/operator.js';
import { SessionRegistry } from './sessions.js';
import { MAX_FIXED_HEADER_BYTES, type MqttConfig } from './config.js';
import { Client } from './client.js';

export async function startMqttAdapter(host: AdapterHost<MqttConfig>): Promise<RunningAdapter> {
  const registry = await SessionRegistry.open(host.gateway, host.config, host.log);
  // Sessions, subscriptions and retained messages for the operator (GET /v1/admin/mqtt, the console).
  const withdrawView = host.gateway.registerInspector(MQTT_VIEW, () => registry.inspect());
  const sockets = new Set<Socket>();

  const accept = (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.setNoDelay(true);
    new Client(registry, socket, 'tcp', { address: socket.remoteAddress, port: socket.remotePort, certificateSubject: certificateSubject(socket) });
  };
  // With TLS configured the MQTT port speaks TLS only (8883-style); plaintext clients fail the handshake.
  const server: Server = host.tls === undefined ? createServer(accept) : createTlsServer({ ...host.tls }, accept);
  server.on('tlsClientError', (err: Error) => host.log.debug({ err }, 'MQTT TLS handshake failed'));
  server.on('error', (err) => host.log.error({ err }, 'MQTT listener error'));

  if (host.config.websocket) {
    // MQTT over WebSocket through the process's WebSocket transport: on the shared HTTP port, and
    // on the uWS port when websocket.engine is uws. Each connection becomes a byte stream.
    host.http.onWebSocket('/mqtt', {
      // [MQTT-5:6.0.0-3] [MQTT-3.1.1:6.0.0-3] the client must offer `mqtt`; a client offering nothing we speak is refused (400).
      subprotocols: ['mqtt'],
      // A frame may carry one whole packet (MQTT-5 §6.0); its size is bounded by the packet limit plus the fixed header.
      maxPayloadBytes: host.config.maxPacketBytes + MAX_FIXED_HEADER_BYTES,
      perMessageDeflate: false,
      handshake: (req, respond) => {
        // Authentication and connection limits happen at CONNECT (handlers/connect.ts), as on TCP.
        respond.accept(
          (connection) => {
            // [MQTT-5:6.0.0-1] [MQTT-3.1.1:6.0.0-1] packets travel in binary frames: the duplex closes on a text frame.
            // It buffers at most one inbound queue's worth when the engine cannot pause reading.
            const stream = new WebSocketDuplex(connection, { maxUnreadBytes: host.config.maxInboundQueueBytes + host.config.maxPacketBytes });
            new Client(registry, stream, 'ws', { address: req.remoteAddress, certificateSubject: req.certificateSubject });
            return stream.events;
          },
          // The handshake took nothing (no connection slot until CONNECT), so there is nothing to release.
          () => undefined,
        );
      },
    });
  }

  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(host.config.port, host.host, () => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : host.config.port);
    });
  });

  return {
    name: 'mqtt',
    ports: { mqtt: port },
    async close() {
      withdrawView();
      server.close();
      await registry.close();
      for (const s of sockets) s.destroy();
    },
  };
}
