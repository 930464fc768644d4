/** Placeholder wiring for the grpc adapter (replaced by the real adapter). */
import type { AdapterHost, RunningAdapter } from '../../gateway/adapter.js';
import type { GrpcConfig } from './config.js';

export async function startGrpcAdapter(host: AdapterHost<GrpcConfig>): Promise<RunningAdapter> {
  host.log.warn('grpc adapter not implemented yet');
  return { name: 'grpc', ports: {}, close: async () => {} };
}
