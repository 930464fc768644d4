/**
 * Credentials as the HTTP-based protocols carry them — the one home of that reading, so REST,
 * SSE, WebSocket, MQTT over WebSocket, gRPC and /metrics accept the same things the same way:
 * `Authorization: Bearer <JWT or API key>`, `?access_token=` (RFC 6750 §2.3) where a client
 * cannot set headers (EventSource, browser WebSocket), and the principal name of a verified TLS
 * client certificate.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { Credentials } from '../gateway/auth.js';

/** A certificate subject as Node reports it (`tls.PeerCertificate.subject`). */
export type CertificateSubject = Readonly<Record<string, string | string[] | undefined>>;

/**
 * The principal name of a certificate subject: its `CN`, else the whole subject as
 * `K=V,K=V` (multi-valued attributes joined with `+`), else undefined.
 */
export function certificateName(subject: CertificateSubject | undefined): string | undefined {
  if (subject === undefined) return undefined;
  const cn = subject.CN;
  if (typeof cn === 'string' && cn !== '') return cn;
  const parts = Object.entries(subject)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : v}`);
  return parts.length > 0 ? parts.join(',') : undefined;
}

/**
 * The principal name of a verified TLS client certificate on a socket (certificateName), or
 * undefined when the socket is not TLS or the peer sent no valid certificate.
 */
export function certificateSubject(socket: unknown): string | undefined {
  const tlsSocket = socket as { authorized?: boolean; getPeerCertificate?: () => { subject?: CertificateSubject } };
  if (tlsSocket.authorized !== true || typeof tlsSocket.getPeerCertificate !== 'function') return undefined;
  return certificateName(tlsSocket.getPeerCertificate().subject);
}

/** The token of an `Authorization: Bearer <token>` value (scheme case-insensitive, RFC 6750 §2.1). */
export function bearerToken(authorization: string | undefined): string | undefined {
  if (authorization === undefined || !/^bearer\s+/i.test(authorization)) return undefined;
  return authorization.replace(/^bearer\s+/i, '');
}

/** What an HTTP request (or a WebSocket upgrade) offers to authenticate with. */
export interface HttpCredentialSource {
  readonly headers: IncomingHttpHeaders;
  /** The request target; its `access_token` query parameter is read when `queryToken` is on. */
  readonly url?: string | undefined;
  readonly certificateSubject?: string | undefined;
}

/**
 * The credentials of an HTTP request: the Bearer token, else (with `queryToken`, the default)
 * `?access_token=`; plus the verified certificate's principal name. /metrics turns the query
 * token off: scrapers set headers, and a token in a URL ends up in proxies' logs.
 */
export function httpCredentials(req: HttpCredentialSource, options: { queryToken?: boolean } = {}): Credentials {
  const withCert = req.certificateSubject === undefined ? {} : { certificateSubject: req.certificateSubject };
  const token = bearerToken(req.headers.authorization);
  if (token !== undefined) return { ...withCert, token };
  if (options.queryToken === false) return withCert;
  const query = (req.url ?? '').split('?')[1];
  const fromQuery = query === undefined ? null : new URLSearchParams(query).get('access_token');
  return fromQuery === null ? withCert : { ...withCert, token: fromQuery };
}
