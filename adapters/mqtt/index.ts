/**
 * The MQTT adapter: a TCP listener and MQTT over WebSocket (`/mqtt` on the shared HTTP port,
 * subprotocol `mqtt`), each connection handed to a Connection as a plain Duplex.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { WebSocketServer, createWebSocketStream } from 'ws';
import type { AdapterHost, RunningAdapter } from '../../gateway/adapter.js';
import { certificateSubject } from '../../gateway/auth.js';
import { Broker } from './broker.js';
import type { MqttConfig } from './config.js';
import { Connection } from './session.js';

export async function startMqttAdapter(host: AdapterHost<MqttConfig>): Promise<RunningAdapter> {
  const broker = await Broker.open(host.gateway, host.config, host.log);
  const sockets = new Set<Socket>();

  const accept = (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.setNoDelay(true);
    new Connection(broker, socket, 'tcp', { address: socket.remoteAddress, port: socket.remotePort, certificateSubject: certificateSubject(socket) });
  };
  // With TLS configured the MQTT port speaks TLS only (8883-style); plaintext clients fail the handshake.
  const server: Server = host.tls === undefined ? createServer(accept) : createTlsServer({ ...host.tls }, accept);
  server.on('tlsClientError', (err: Error) => host.log.debug({ err }, 'MQTT TLS handshake failed'));
  server.on('error', (err) => host.log.error({ err }, 'MQTT listener error'));

  let wss: WebSocketServer | undefined;
  if (host.config.websocket) {
    wss = new WebSocketServer({
      noServer: true,
      maxPayload: host.config.maxPacketBytes + 5,
      // MQTT over WebSocket requires the `mqtt` subprotocol (MQTT 5 §6); anything else is refused.
      handleProtocols: (protocols) => (protocols.has('mqtt') ? 'mqtt' : false),
    });
    const ws = wss;
    host.http.onUpgrade('/mqtt', (req, socket, head) => {
      const offered = String(req.headers['sec-websocket-protocol'] ?? '')
        .split(',')
        .map((s) => s.trim());
      if (!offered.includes('mqtt')) {
        socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      ws.handleUpgrade(req, socket, head, (client) => {
        const stream = createWebSocketStream(client);
        new Connection(broker, stream, 'ws', { address: req.socket.remoteAddress, certificateSubject: certificateSubject(req.socket) });
      });
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
      server.close();
      await broker.close();
      for (const s of sockets) s.destroy();
      wss?.close();
    },
  };
}
