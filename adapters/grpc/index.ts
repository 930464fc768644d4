/**
 * The gRPC adapter: serves streamgate.v1.StreamGateway (proto/streamgate/v1/streamgate.proto)
 * on its own HTTP/2 listener (listener.ts: counted, handshake-bounded sockets handed to grpc-js),
 * plus the standard health checking service (grpc.health.v1) and server reflection (v1 and v1alpha).
 */
import { Server, type ServiceDefinition } from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import type { AdapterHost, RunningAdapter } from '../../app/host.js';
import { GatewayError } from '../../gateway/errors.js';
import { SERVICE_NAME, streamGateway } from '../../codecs/proto.js';
import type { GrpcConfig } from './config.js';
import { GrpcListener } from './listener.js';
import { streamGatewayService, type OpenStream } from './service.js';

export async function startGrpcAdapter(host: AdapterHost<GrpcConfig>): Promise<RunningAdapter> {
  const { config, log } = host;
  const { packageDefinition, service } = streamGateway();
  const server = new Server({
    // Enforced by grpc-js before decoding: an oversized message is RESOURCE_EXHAUSTED.
    'grpc.max_receive_message_length': config.maxMessageBytes,
    'grpc.max_send_message_length': config.maxMessageBytes,
    'grpc.max_concurrent_streams': config.maxConcurrentStreams,
  });
  const streams = new Set<OpenStream>();
  const listener = new GrpcListener({
    server,
    tls: host.tls,
    admit: (remoteAddress) => host.gateway.connectionOpened('grpc', remoteAddress),
    admitSubscription: (current) => host.gateway.admitSubscription(current),
    handshakeTimeoutMs: config.handshakeTimeoutMs,
    log,
  });
  server.addService(service as unknown as ServiceDefinition, streamGatewayService({ gateway: host.gateway, config, log, streams, connections: listener }));

  // grpc.health.v1: "" is the whole server; the service name reports the same.
  const health = new HealthImplementation({ '': 'SERVING', [SERVICE_NAME]: 'SERVING' });
  health.addToServer(server);
  new ReflectionService(packageDefinition).addToServer(server);

  const port = await listener.listen(host.host, config.port);
  log.info({ port, tls: host.tls !== undefined }, 'grpc listening');

  let closing: Promise<void> | undefined;
  return {
    name: 'grpc',
    ports: { grpc: port },
    close() {
      closing ??= (async () => {
        listener.stopAccepting();
        health.setStatus('', 'NOT_SERVING');
        health.setStatus(SERVICE_NAME, 'NOT_SERVING');
        // Long streams would hold tryShutdown open forever: end them with UNAVAILABLE
        // (SHUTTING_DOWN, retriable) so clients reconnect elsewhere.
        const shutdown = new GatewayError('SHUTTING_DOWN', 'The gateway is shutting down; reconnect.');
        for (const s of [...streams]) s.end(shutdown);
        // tryShutdown sends GOAWAY and lets in-flight unary calls (produces) finish.
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            log.warn('grpc calls still open after the grace period; cancelling them');
            server.forceShutdown();
            resolve();
          }, config.shutdownGraceMs);
          server.tryShutdown((err) => {
            clearTimeout(timer);
            if (err) log.warn({ err }, 'grpc shutdown');
            resolve();
          });
        });
        listener.destroyAll();
      })();
      return closing;
    },
  };
}
