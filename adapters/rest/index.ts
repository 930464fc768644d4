/**
 * The REST adapter: Confluent REST Proxy v2, the native v1 offset API, Server-Sent Events,
 * OpenAPI and health, all on the shared HTTP server (upgrade paths stay the WebSocket and MQTT
 * adapters'; `/metrics` is the process's).
 */
import type { AdapterHost, RunningAdapter } from '../../app/host.js';
import type { RestConfig } from './config.js';
import { RestRoutes } from './routes.js';

export async function startRestAdapter(host: AdapterHost<RestConfig>): Promise<RunningAdapter> {
  const routes = new RestRoutes(host.gateway, host.config, host.log, (req, protocol) => host.http.claimConnection(req, protocol));
  host.http.onRequest((req, res) => routes.handle(req, res));
  return {
    name: 'rest',
    ports: {},
    close: () => routes.close(),
  };
}
