/**
 * The gRPC adapter's own TCP listener in front of grpc-js. grpc-js's `bindAsync` accepts sockets
 * where nobody can count them, so the adapter listens itself and hands admitted sockets to grpc-js
 * through its public connection injector (`Server.createConnectionInjector`):
 *
 * 1. accept: the socket counts against `limits.maxConnections` / `limits.maxConnectionsPerAddress`
 *    (protocol `grpc`) from accept to close, before TLS or HTTP/2 sees a byte of it. A socket
 *    over a limit is answered at once without reading anything (see `refuse`).
 * 2. handshake: within `grpc.handshakeTimeoutMs` the client must finish TLS (when configured) and
 *    send the HTTP/2 client preface — the 24-byte magic and its first SETTINGS frame (RFC 9113
 *    §3.4). The listener reads those bytes itself, so a silent or non-HTTP/2 socket never becomes
 *    an HTTP/2 session; a socket that does not make it in time is closed.
 * 3. the bytes read are put back (`unshift`; Node's HTTP/2 session takes data already buffered
 *    on its socket) and the socket is injected into grpc-js, which serves it as if it had
 *    accepted it.
 *
 * TLS is terminated here (Node's `tls` with the process's material, ALPN `h2`) and the TLS
 * socket is injected into a plaintext injector: grpc-js reads the peer certificate from the
 * session's socket whatever the credentials, and Node's own `requestCert` / `rejectUnauthorized`
 * express tls.clientAuth directly.
 */
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { Duplex } from 'node:stream';
import { ServerCredentials, type ConnectionInjector, type Server } from '@grpc/grpc-js';
import type { Logger } from 'pino';
import type { TlsMaterial } from '../../app/host.js';
import { GatewayError } from '../../gateway/errors.js';
import { goawayCode } from './errors.js';

/** RFC 9113 §3.4: what every HTTP/2 client sends first. */
const CLIENT_MAGIC = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const FRAME_HEADER_BYTES = 9;
const SETTINGS = 0x4;
const GOAWAY = 0x7;
const ACK_FLAG = 0x1;
/** A client's first SETTINGS frame may not exceed the initial SETTINGS_MAX_FRAME_SIZE (RFC 9113 §4.2). */
const MAX_SETTINGS_PAYLOAD = 16_384;
/** How long a refused socket may stay half-closed, our GOAWAY sent, before it is cut. */
const REFUSAL_LINGER_MS = 2_000;

export interface ListenerOptions {
  readonly server: Server;
  readonly tls: TlsMaterial | undefined;
  /** The core's admission (Gateway.connectionOpened for protocol `grpc`). */
  readonly admit: (remoteAddress: string | undefined) => () => void;
  /** The core's per-connection subscription limit (Gateway.admitSubscription). */
  readonly admitSubscription: (current: number) => void;
  readonly handshakeTimeoutMs: number;
  readonly log: Logger;
}

/** The listening socket and every connection it accepted, until each closes. */
export class GrpcListener {
  private readonly net: NetServer;
  private readonly tlsEngine: TlsServer | undefined;
  private readonly injector: ConnectionInjector;
  private readonly sockets = new Set<Socket>();
  /**
   * Sockets accepted but not yet handed to grpc-js (no preface yet), by peerKey.
   */
  private readonly pending = new Map<string, { readonly socket: Socket; readonly handedOver: () => void }>();
  /** Subscriptions held by the calls of each open connection, by the peer grpc-js reports for its calls. */
  private readonly subscriptions = new Map<string, { count: number }>();

  constructor(private readonly options: ListenerOptions) {
    this.injector = options.server.createConnectionInjector(ServerCredentials.createInsecure());
    this.net = createNetServer((socket) => this.accept(socket));
    const { tls } = options;
    if (tls !== undefined) {
      // Never listens: it runs the handshake of sockets this listener accepted.
      this.tlsEngine = createTlsServer({
        cert: tls.cert,
        key: tls.key,
        ...(tls.ca === undefined ? {} : { ca: tls.ca }),
        requestCert: tls.requestCert,
        rejectUnauthorized: tls.rejectUnauthorized,
        ALPNProtocols: ['h2'],
        handshakeTimeout: options.handshakeTimeoutMs,
      });
      this.tlsEngine.on('secureConnection', (secure: TLSSocket) => {
        // Until HTTP/2 takes the socket (and its own error handler), a reset must not be an
        // unhandled 'error' (nodejs/node#35824; grpc-js's secure server does the same).
        secure.on('error', (err: Error) => options.log.debug({ err, peer: secure.remoteAddress }, 'grpc tls socket error'));
        this.awaitPreface(secure);
      });
      this.tlsEngine.on('tlsClientError', (err: Error, secure: TLSSocket) => {
        options.log.debug({ err, peer: secure.remoteAddress }, 'grpc tls handshake failed');
        secure.destroy();
      });
    }
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.net.once('error', reject);
      this.net.listen(port, host, () => {
        this.net.off('error', reject);
        const address = this.net.address();
        resolve(typeof address === 'object' && address !== null ? address.port : port);
      });
    });
  }

  /** Stops accepting and closes sockets that never became HTTP/2 sessions; sessions are grpc-js's to end. */
  stopAccepting(): void {
    this.net.close();
    for (const { socket } of this.pending.values()) socket.destroy();
  }

  /** Cuts every connection still open (after grpc-js's shutdown). */
  destroyAll(): void {
    this.stopAccepting();
    for (const socket of this.sockets) socket.destroy();
  }

  /**
   * Counts one subscription (a Subscribe call or a Session subscription) against its connection's
   * limit (limits.maxSubscriptionsPerConnection, RESOURCE_EXHAUSTED beyond it), whatever stream of
   * the connection opens it. `peer` is the call's `getPeer()`. Returns the release.
   */
  subscriptionOpened(peer: string): () => void {
    const held = this.subscriptions.get(peer);
    // Every call arrives on a connection this listener accepted: an unknown peer has closed
    // meanwhile, and its calls are being cancelled.
    if (held === undefined) throw new GatewayError('CANCELLED', 'The connection is closed.');
    this.options.admitSubscription(held.count);
    held.count++;
    let open = true;
    return () => {
      if (!open) return;
      open = false;
      held.count--;
    };
  }

  private accept(socket: Socket): void {
    const { log } = this.options;
    socket.on('error', (err: Error) => log.debug({ err, peer: socket.remoteAddress }, 'grpc socket error'));
    let release: () => void;
    try {
      release = this.options.admit(socket.remoteAddress);
    } catch (err) {
      this.refuse(socket, GatewayError.from(err));
      return;
    }
    this.sockets.add(socket);
    const key = peerKey(socket);
    this.subscriptions.set(key, { count: 0 });
    const timer = setTimeout(() => {
      log.info({ peer: socket.remoteAddress, timeoutMs: this.options.handshakeTimeoutMs }, 'grpc connection closed: no HTTP/2 preface in time');
      socket.destroy();
    }, this.options.handshakeTimeoutMs);
    const handedOver = (): void => {
      clearTimeout(timer);
      if (this.pending.get(key)?.socket === socket) this.pending.delete(key);
    };
    this.pending.set(key, { socket, handedOver });
    socket.once('close', () => {
      handedOver();
      this.sockets.delete(socket);
      this.subscriptions.delete(key);
      release();
    });
    if (this.tlsEngine !== undefined) this.tlsEngine.emit('connection', socket);
    else this.awaitPreface(socket);
  }

  /**
   * Over a limit: nothing of the client is read. In plaintext the answer is the server preface (an
   * empty SETTINGS frame) and a GOAWAY whose error code carries the refusal (ENHANCE_YOUR_CALM for
   * the per-address limit — grpc-js reports RESOURCE_EXHAUSTED — NO_ERROR when the instance is full
   * — UNAVAILABLE, go elsewhere), debug data `CODE: message`. Under TLS the socket is closed
   * before the handshake, the expensive part a refused client must not get (its client sees
   * UNAVAILABLE); the audit log line says which limit.
   */
  private refuse(socket: Socket, error: GatewayError): void {
    if (this.options.tls !== undefined) {
      socket.destroy();
      return;
    }
    const debug = Buffer.from(`${error.code}: ${error.message}`, 'utf8');
    const goaway = Buffer.alloc(8 + debug.length);
    goaway.writeUInt32BE(0, 0); // last stream id: none was processed
    goaway.writeUInt32BE(goawayCode(error.code), 4);
    debug.copy(goaway, 8);
    socket.end(Buffer.concat([frame(SETTINGS, 0, Buffer.alloc(0)), frame(GOAWAY, 0, goaway)]));
    // Discard what the client sends meanwhile: unread bytes at close would reset the connection
    // and could destroy the GOAWAY before the client read it.
    socket.resume();
    const linger = setTimeout(() => socket.destroy(), REFUSAL_LINGER_MS);
    socket.once('close', () => clearTimeout(linger));
  }

  /** Reads the client magic and first SETTINGS frame, then hands the socket to grpc-js. */
  private awaitPreface(stream: Socket | TLSSocket): void {
    const connection = this.pending.get(peerKey(stream));
    if (connection === undefined) return void stream.destroy();
    const chunks: Buffer[] = [];
    let length = 0;
    const fail = (reason: string): void => {
      stream.off('readable', onReadable);
      this.options.log.info({ peer: stream.remoteAddress, reason }, 'grpc connection closed: not an HTTP/2 client preface');
      stream.destroy();
      connection.socket.destroy();
    };
    const onReadable = (): void => {
      let chunk: Buffer | null;
      while ((chunk = stream.read() as Buffer | null) !== null) {
        chunks.push(chunk);
        length += chunk.length;
      }
      const seen = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, length);
      chunks.length = 0;
      chunks.push(seen);
      const magic = Math.min(seen.length, CLIENT_MAGIC.length);
      if (!seen.subarray(0, magic).equals(CLIENT_MAGIC.subarray(0, magic))) return fail('bad magic');
      const header = CLIENT_MAGIC.length;
      if (seen.length < header + FRAME_HEADER_BYTES) return;
      const payload = seen.readUIntBE(header, 3);
      const type = seen[header + 3]!;
      const flags = seen[header + 4]!;
      const streamId = seen.readUInt32BE(header + 5) & 0x7fffffff;
      if (type !== SETTINGS || (flags & ACK_FLAG) !== 0 || streamId !== 0 || payload % 6 !== 0 || payload > MAX_SETTINGS_PAYLOAD) {
        return fail('first frame is not SETTINGS');
      }
      if (seen.length < header + FRAME_HEADER_BYTES + payload) return;
      stream.off('readable', onReadable);
      stream.unshift(seen);
      connection.handedOver();
      this.injector.injectConnection(stream as Duplex);
    };
    stream.on('readable', onReadable);
  }
}

/** `address:port`, as grpc-js's `call.getPeer()` names the connection (the TLS socket wrapping one shares it). */
function peerKey(socket: Socket): string {
  return `${socket.remoteAddress}:${socket.remotePort}`;
}

function frame(type: number, flags: number, payload: Buffer): Buffer {
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(0, 5);
  return Buffer.concat([header, payload]);
}
