/** The backend conformance suite against the embedded log, each backend in a fresh temp dir. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { pino } from 'pino';
import { EmbeddedBackend } from '../../gateway/backends/embedded/index.js';
import { describeBackendConformance } from './backend-suite.js';

const dirs: string[] = [];
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describeBackendConformance(
  'embedded',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sg-conformance-'));
    dirs.push(dir);
    const backend = new EmbeddedBackend({ dataDir: dir, logger: pino({ level: 'warn' }) });
    await backend.start();
    return backend;
  },
  { supportsRetentionTest: true },
);
