/**
 * A real Core over a real backend for core-level tests: the test run's Kafka broker or a fresh
 * embedded log in a temp dir.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import type { Backend } from '../../gateway/backends/port.js';
import { EmbeddedBackend } from '../../gateway/backends/embedded/index.js';
import { KafkaBackend } from '../../gateway/backends/kafka/index.js';
import { coreConfigSchema, loadConfig } from '../../gateway/config.js';
import { createContext } from '../../gateway/context.js';
import type { Context } from '../../gateway/api.js';
import { Core } from '../../gateway/core.js';
import { kafkaBrokers } from './kafka.js';

export type BackendKind = 'embedded' | 'kafka';
export const BACKENDS: BackendKind[] = ['embedded', 'kafka'];

export interface TestCore {
  readonly core: Core;
  readonly backend: Backend;
  readonly ctx: Context;
  readonly dataDir: string;
  close(options?: { keepData?: boolean }): Promise<void>;
}

const log = pino({ level: process.env.STREAMGATE_TEST_LOG ?? 'silent' });

/** Opens a backend of `kind` and a Core over it with `config` merged over the defaults. */
export async function createTestCore(kind: BackendKind, config: Record<string, unknown> = {}, dataDir?: string): Promise<TestCore> {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), 'streamgate-core-'));
  const cfg = loadConfig(coreConfigSchema, { argv: [], env: {}, file: { dataDir: dir, ...config } });
  const backend: Backend =
    kind === 'kafka'
      ? new KafkaBackend({ brokers: [kafkaBrokers()], clientId: 'streamgate-test', logger: log })
      : new EmbeddedBackend({ dataDir: dir, defaultPartitions: cfg.embedded.defaultPartitions, maxRecordBytes: cfg.limits.maxRecordBytes, logger: log });
  await backend.start();
  const core = new Core({ backend, config: cfg, log });
  await core.start();
  return {
    core,
    backend,
    dataDir: dir,
    ctx: createContext({ protocol: 'test', log }),
    async close(options = {}) {
      await core.close();
      await backend.close();
      if (options.keepData !== true && dataDir === undefined) rmSync(dir, { recursive: true, force: true });
    },
  };
}
