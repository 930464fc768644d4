/** Placeholder wiring for the websocket adapter (replaced by the real adapter). */
import type { AdapterHost, RunningAdapter } from '../../gateway/adapter.js';
import type { WebsocketConfig } from './config.js';

export async function startWebsocketAdapter(host: AdapterHost<WebsocketConfig>): Promise<RunningAdapter> {
  host.log.warn('websocket adapter not implemented yet');
  return { name: 'websocket', ports: {}, close: async () => {} };
}
