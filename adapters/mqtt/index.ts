/** Placeholder wiring for the mqtt adapter (replaced by the real adapter). */
import type { AdapterHost, RunningAdapter } from '../../gateway/adapter.js';
import type { MqttConfig } from './config.js';

export async function startMqttAdapter(host: AdapterHost<MqttConfig>): Promise<RunningAdapter> {
  host.log.warn('mqtt adapter not implemented yet');
  return { name: 'mqtt', ports: {}, close: async () => {} };
}
