/**
 * The REST adapter's entry: which paths it owns on the shared HTTP server, authentication,
 * dispatch to the route families (routes-v2.ts: Confluent REST Proxy v2; routes-v3.ts: its v3
 * subset; routes-v1.ts: the native v1 API and SSE) plus health and OpenAPI, one error path (errors.ts), and shutdown.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { certificateSubject, httpCredentials } from '../../codecs/credentials.js';
import type { Context, Gateway } from '../../gateway/api.js';
import { createContext } from '../../gateway/context.js';
import { GatewayError } from '../../gateway/errors.js';
import { MEDIA } from './codec.js';
import type { RestConfig } from './config.js';
import { RestError, toHttpError, toV3HttpError, v2ErrorMediaType } from './errors.js';
import { RouteTable, headerValue, readBody, send, v1Reply, withoutTrailingSlashes, type RouteDeps } from './http.js';
import { MQTT_VIEW } from '../../codecs/operator.js';
import { openApiDocument } from './openapi.js';
import { defineV1Routes } from './routes-v1.js';
import { defineV2Routes } from './routes-v2.js';
import { defineV3Routes } from './routes-v3.js';
import { ConsumerRegistry } from './consumer-instance.js';
import { REGISTRY_MEDIA, defineRegistryRoutes, isRegistryPath } from './registry.js';

/** Liveness, readiness and the API description answer without credentials (probes and tooling). */
const PUBLIC_PATHS = new Set(['/healthz', '/readyz', '/openapi.json']);
/** How long shutdown waits for in-flight writes to be answered (within the process shutdown deadline). */
const WRITE_DRAIN_MS = 5_000;

/** The prefixes this adapter owns on the shared HTTP server. */
export function ownsPath(path: string): boolean {
  return (
    path === '/topics' ||
    path === '/brokers' ||
    path.startsWith('/topics/') ||
    path === '/consumers' ||
    path.startsWith('/consumers/') ||
    path === '/v1/topics' ||
    path === '/v1/whoami' ||
    path.startsWith('/v1/admin/') ||
    path.startsWith('/v1/topics/') ||
    path === '/v3/clusters' ||
    path.startsWith('/v3/clusters/') ||
    path === '/openapi.json' ||
    path === '/healthz' ||
    path === '/readyz' ||
    isRegistryPath(path)
  );
}

export class RestRoutes {
  readonly consumers: ConsumerRegistry;
  /** Every route this adapter serves (the OpenAPI document must describe exactly these). */
  readonly routes = new RouteTable();
  /** The schema registry API's routes (registry.ts): not part of the REST Proxy document. */
  readonly registryRoutes = new RouteTable();
  private readonly inFlight = new Set<ServerResponse>();
  private readonly writes = new Set<ServerResponse>();
  private readonly streams = new Set<(error: GatewayError) => void>();

  /**
   * @param claimConnection the HTTP host's HttpHost.claimConnection: moves the socket's connection
   *   count to a long-lived stream's protocol.
   */
  constructor(
    private readonly gateway: Gateway,
    private readonly config: RestConfig,
    private readonly log: Logger,
    private readonly claimConnection: (req: IncomingMessage, protocol: string) => () => void,
  ) {
    this.consumers = new ConsumerRegistry(gateway, log, { timeoutMs: config.consumerInstanceTimeoutMs, maxInstances: config.maxConsumerInstances });
    this.defineRoutes();
  }

  /** Entry from the shared server; `false` leaves the request to other handlers. */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      return false;
    }
    const path = withoutTrailingSlashes(url.pathname);
    if (!ownsPath(path)) return false;
    void this.dispatch(req, res, path, url.searchParams);
    return true;
  }

  private async dispatch(req: IncomingMessage, res: ServerResponse, path: string, query: URLSearchParams): Promise<void> {
    const native = path.startsWith('/v1/');
    const registry = isRegistryPath(path);
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) abort.abort();
    });
    const requestId = headerValue(req, 'x-request-id');
    let ctx = createContext({ protocol: 'rest', log: this.log, signal: abort.signal, ...(requestId === undefined ? {} : { requestId }) });
    this.inFlight.add(res);
    res.on('close', () => this.inFlight.delete(res));
    if (req.method === 'POST' || req.method === 'PUT' || req.method === 'DELETE') {
      // Writes (produces, commits) are finished at shutdown, never cut off after the backend acked.
      this.writes.add(res);
      res.on('close', () => this.writes.delete(res));
    }
    try {
      if (!PUBLIC_PATHS.has(path)) {
        const principal = await this.gateway.authenticate(httpCredentials({ headers: req.headers, url: req.url, certificateSubject: certificateSubject(req.socket) }), { protocol: 'rest', remoteAddress: req.socket.remoteAddress });
        ctx = createContext({ protocol: 'rest', log: this.log, signal: abort.signal, principal, ...(requestId === undefined ? {} : { requestId }) });
      }
      const match = (registry ? this.registryRoutes : this.routes).match(req.method ?? 'GET', path);
      if (match === undefined) throw new RestError('NOT_FOUND', 'HTTP 404 Not Found');
      if ('allowed' in match) {
        res.setHeader('allow', match.allowed.join(', '));
        throw new RestError('METHOD_NOT_ALLOWED', 'HTTP 405 Method Not Allowed');
      }
      let params: string[];
      try {
        params = match.params.map((p) => decodeURIComponent(p));
      } catch {
        throw new RestError('BAD_REQUEST', 'The path is not valid percent-encoding.');
      }
      const maxBody = this.config.maxBodyBytes;
      const reply = await match.route.handler({ req, res, ctx, params, query, body: () => readBody(req, maxBody) });
      if (reply !== undefined) send(res, reply.status, reply.body, reply.contentType ?? (native ? MEDIA.native : MEDIA.v2));
    } catch (err) {
      this.fail(res, ctx, err, native, path.startsWith('/v3/') ? 'v3' : registry ? 'registry' : undefined);
    }
  }

  private fail(res: ServerResponse, ctx: Context, err: unknown, native: boolean, api?: 'v3' | 'registry'): void {
    const { status, body, gatewayError } = api === 'v3' ? toV3HttpError(err) : toHttpError(err, native);
    if (status >= 500) ctx.log.error({ err: gatewayError?.cause ?? err, code: gatewayError?.code }, 'request failed');
    else ctx.log.debug({ status, error_code: body.error_code, message: body.message }, 'request rejected');
    if (res.headersSent) {
      // Mid-stream (SSE): the error event was the sink's job; just end.
      res.end();
      return;
    }
    if (status === 413) {
      // The rest of the body was never read: close rather than let the server drain it.
      res.setHeader('connection', 'close');
      res.once('finish', () => res.socket?.destroy());
    }
    send(res, status, JSON.stringify(body), api === 'registry' ? REGISTRY_MEDIA : native || api === 'v3' ? MEDIA.native : v2ErrorMediaType(status, body.error_code));
  }

  /**
   * Where clients reach this gateway: `rest.advertisedUrl`, else the listener's own scheme and
   * address as the socket was accepted on — never the client-chosen `Host` header.
   */
  private advertisedBase(req: IncomingMessage): string {
    const advertised = this.config.advertisedUrl;
    if (advertised !== undefined) return advertised.endsWith('/') ? advertised.slice(0, -1) : advertised;
    const socket = req.socket as IncomingMessage['socket'] & { encrypted?: boolean };
    const scheme = socket.encrypted === true ? 'https' : 'http';
    const address = socket.localAddress ?? '127.0.0.1';
    // An IPv4-mapped IPv6 address (dual-stack listener) reads as the IPv4 address it is.
    const host = address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address.includes(':') ? `[${address}]` : address;
    return `${scheme}://${host}:${socket.localPort ?? 0}`;
  }

  /** Ends open requests (SSE streams, long polls) and drops every consumer instance. */
  async close(): Promise<void> {
    // SSE clients learn why (`event: error`, 50301) and reconnect — to another gateway instance — with Last-Event-ID.
    for (const end of [...this.streams]) end(new GatewayError('SHUTTING_DOWN', 'The gateway is shutting down; reconnect with Last-Event-ID.'));
    // In-flight writes get their answer: a record the backend acknowledged is reported as written.
    const deadline = Date.now() + WRITE_DRAIN_MS;
    while (this.writes.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    for (const res of this.inFlight) {
      if (res.headersSent) res.end();
      else res.destroy();
    }
    await this.consumers.close();
  }

  // -------------------------------------------------------------------------------------------

  private defineRoutes(): void {
    const g = this.gateway;
    const v1 = v1Reply;
    // Health -----------------------------------------------------------------------------------
    this.routes.add('GET', '/healthz', async () => v1(200, { status: 'ok' }));
    this.routes.add('GET', '/readyz', async () => ((await g.ready()) ? v1(200, { status: 'ready' }) : v1(503, { status: 'unavailable' })));
    this.routes.add('GET', '/openapi.json', async () => v1(200, openApiDocument));

    const deps: RouteDeps = {
      gateway: g,
      config: this.config,
      consumers: this.consumers,
      advertisedBase: (req) => this.advertisedBase(req),
      claimConnection: this.claimConnection,
      streams: this.streams,
    };
    defineV2Routes(this.routes, deps);
    defineV1Routes(this.routes, deps);
    // Operator endpoints: the core decides who may read them (admin: ["*"]).
    this.routes.add('GET', '/v1/whoami', async ({ ctx }) => v1(200, g.capabilities(ctx)), true);
    this.routes.add('GET', '/v1/admin/connections', async ({ ctx }) => v1(200, g.connections(ctx)), true);
    this.routes.add('GET', '/v1/admin/mqtt', async ({ ctx }) => v1(200, g.inspect(ctx, MQTT_VIEW)), true);
    defineV3Routes(this.routes, deps);
    defineRegistryRoutes(this.registryRoutes, g);
  }
}
