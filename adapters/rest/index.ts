/** Placeholder wiring for the rest adapter (replaced by the real adapter). */
import type { AdapterHost, RunningAdapter } from '../../gateway/adapter.js';
import type { RestConfig } from './config.js';

export async function startRestAdapter(host: AdapterHost<RestConfig>): Promise<RunningAdapter> {
  host.log.warn('rest adapter not implemented yet');
  return { name: 'rest', ports: {}, close: async () => {} };
}
