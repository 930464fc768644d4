/** Placeholder config slice for the grpc adapter (replaced by the adapter's real schema). */
import { z } from 'zod';

export const grpcConfigSchema = z.strictObject({
  port: z.number().int().min(0).max(65535).default(50051),
});
export type GrpcConfig = z.infer<typeof grpcConfigSchema>;
