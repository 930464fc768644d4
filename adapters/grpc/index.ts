/**
 * The gRPC adapter: serves streamgate.v1.StreamGateway (proto/streamgate/v1/streamgate.proto)
 * on its own HTTP/2 listener, plus the standard health checking service (grpc.health.v1) and
 * server reflection (v1 and v1alpha).
 */
import { experimental, Server, ServerCredentials } from '@grpc/grpc-js';
import { ReflectionService } from '@grpc/reflection';
import { HealthImplementation } from 'grpc-health-check';
import type { AdapterHost, RunningAdapter, TlsMaterial } from '../../gateway/adapter.js';
import { GatewayError } from '../../gateway/errors.js';
import { loadDefinition, SERVICE_NAME } from './codec.js';
import type { GrpcConfig } from './config.js';
import { streamGatewayService, type OpenStream } from './service.js';

export async function startGrpcAdapter(host: AdapterHost<GrpcConfig>): Promise<RunningAdapter> {
  const { config, log } = host;
  const { packageDefinition, service } = loadDefinition();
  const server = new Server({
    // Enforced by grpc-js before decoding: an oversized message is RESOURCE_EXHAUSTED.
    'grpc.max_receive_message_length': config.maxMessageBytes,
    'grpc.max_send_message_length': config.maxMessageBytes,
  });
  const streams = new Set<OpenStream>();
  server.addService(service, streamGatewayService({ gateway: host.gateway, config, log, streams }));

  // grpc.health.v1: "" is the whole server; the service name reports the same.
  const health = new HealthImplementation({ '': 'SERVING', [SERVICE_NAME]: 'SERVING' });
  health.addToServer(server);
  new ReflectionService(packageDefinition).addToServer(server);

  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host.host}:${config.port}`, serverCredentials(host.tls), (err, bound) => (err ? reject(err) : resolve(bound)));
  });
  log.info({ port, tls: host.tls !== undefined }, 'grpc listening');

  let closing: Promise<void> | undefined;
  return {
    name: 'grpc',
    ports: { grpc: port },
    close() {
      closing ??= (async () => {
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
      })();
      return closing;
    },
  };
}

/**
 * TLS when the process has it (tls.certFile/keyFile), else plaintext HTTP/2 for loopback use.
 * `createSsl(ca, pairs, check)` has only "no client certificates" or "require one" (it leaves
 * Node's rejectUnauthorized at its default, true), so tls.clientAuth `request` (verify one if
 * sent) goes through grpc-js's certificate-provider credentials, which take requestCert and
 * rejectUnauthorized separately. One static provider serves both the identity and the CA; it
 * answers a listener on the next microtask because grpc-js registers the server's watcher only
 * after asking the providers (a synchronous answer would be lost and every connection dropped).
 */
function serverCredentials(tls: TlsMaterial | undefined): ServerCredentials {
  if (tls === undefined) return ServerCredentials.createInsecure();
  const pair = { cert_chain: tls.cert, private_key: tls.key };
  if (!tls.requestCert || tls.ca === undefined) return ServerCredentials.createSsl(null, [pair], false);
  if (tls.rejectUnauthorized) return ServerCredentials.createSsl(tls.ca, [pair], true);
  const { ca, cert, key } = tls;
  const provider: experimental.CertificateProvider = {
    addCaCertificateListener: (listener) => queueMicrotask(() => listener({ caCertificate: ca })),
    removeCaCertificateListener: () => undefined,
    addIdentityCertificateListener: (listener) => queueMicrotask(() => listener({ certificate: cert, privateKey: key })),
    removeIdentityCertificateListener: () => undefined,
  };
  return experimental.createCertificateProviderServerCredentials(provider, provider, false);
}
