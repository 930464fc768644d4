/**
 * The pieces of the WebSocket transport both engines use (websocket.ts for `ws`, websocket-uws.ts
 * for uWebSockets.js). Kept apart so that neither engine module loads the other to get them: the
 * `ws` module loads the uWS one, and a cycle between them would hand one of them uninitialised bindings.
 */
import type { WebSocketEndpoint } from './websocket.js';

/**
 * Picks the first subprotocol the client offered that the endpoint speaks. No header (or only
 * empty entries) means the endpoint's default; a header naming only unknown protocols gives undefined.
 */
export function selectSubprotocol(
  header: string | string[] | undefined,
  endpoint: Pick<WebSocketEndpoint, 'subprotocols' | 'defaultSubprotocol'>,
): string | undefined {
  const offered = header === undefined ? [] : (Array.isArray(header) ? header.join(',') : header).split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (offered.length === 0) return endpoint.defaultSubprotocol;
  return offered.find((p) => endpoint.subprotocols.includes(p));
}

/** The refusal body for a client that offered no subprotocol the endpoint speaks. */
export function unsupportedSubprotocol(endpoint: Pick<WebSocketEndpoint, 'subprotocols'>): string {
  return `Unsupported subprotocol: use ${endpoint.subprotocols.join(' or ')}.`;
}

/** Resolves waiters once the buffered amount is at or under their threshold (shared by both engines). */
export class DrainWaiters {
  private waiters: { threshold: number; resolve: () => void }[] = [];

  wait(buffered: number, threshold: number): Promise<void> {
    if (buffered <= threshold) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ threshold, resolve }));
  }

  wake(buffered: number): void {
    if (this.waiters.length === 0) return;
    const still: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (buffered <= w.threshold) w.resolve();
      else still.push(w);
    }
    this.waiters = still;
  }
}
