/** The process-level `GET /metrics` endpoint (Prometheus text format) on the shared HTTP port. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { certificateSubject, httpCredentials } from '../codecs/credentials.js';
import { httpErrorOf } from '../codecs/http-status.js';
import type { Core } from '../gateway/core.js';
import { GatewayError } from '../gateway/errors.js';
import type { Logger } from '../gateway/log.js';

/**
 * `GET /metrics`. Metric labels name topics, so with authentication configured the scrape needs
 * credentials — `Authorization: Bearer <JWT or API key>` (Prometheus' `authorization` /
 * `bearer_token` settings) or a verified client certificate — whose principal has the `metrics`
 * grant (or `admin: ["*"]`): 401 without valid credentials, 403 without the grant. Without any
 * authentication configured it stays open, like every other endpoint. `render` is what it serves
 * (with workers: the sum over every worker, asked of the primary).
 */
export function serveMetrics(core: Core, req: IncomingMessage, res: ServerResponse, log: Logger, render: () => Promise<string> = () => core.renderMetrics()): void {
  const refuse = (err: GatewayError): void => {
    const { status, body } = httpErrorOf(err);
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...(status === 401 ? { 'www-authenticate': 'Bearer' } : {}) }).end(text);
  };
  // No `?access_token=`: scrapers set headers, and a token in a URL ends up in logs.
  const credentials = httpCredentials({ headers: req.headers, certificateSubject: certificateSubject(req.socket) }, { queryToken: false });
  core
    .authenticate(credentials, { protocol: 'metrics', remoteAddress: req.socket.remoteAddress })
    .then(
      async (principal) => {
        if (!core.permitsMetrics(principal)) {
          log.warn({ audit: 'denied', action: 'metrics', principal: principal.id, protocol: 'metrics' }, 'request denied');
          return refuse(new GatewayError('PERMISSION_DENIED', `Principal ${principal.id} may not read /metrics (needs the metrics grant).`));
        }
        const text = await render();
        res.writeHead(200, { 'content-type': core.metrics.registry.contentType }).end(text);
      },
      (err: unknown) => {
        const error = GatewayError.from(err);
        if (error.code === 'UNAUTHENTICATED') return refuse(error);
        throw err;
      },
    )
    .catch((err: unknown) => {
      log.error({ err }, 'metrics rendering failed');
      if (!res.headersSent) res.writeHead(500).end();
    });
}

