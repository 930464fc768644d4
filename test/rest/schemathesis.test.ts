/**
 * The REST contract fuzzer as part of `npm test`: scripts/schemathesis.sh starts a gateway
 * (embedded log) and runs schemathesis — every phase, stateful included — against the gateway's
 * own /openapi.json; any finding, an error in the gateway's log or a gateway exit fails it. Needs
 * the pinned `st` (schemathesis 4.32.5, installed by .ci/run): under CI a missing one fails the
 * suite, elsewhere the suite is skipped, saying why.
 */
import { spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const INSTALL = 'PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install schemathesis==4.32.5';
const version = spawnSync('st', ['--version'], { encoding: 'utf8' });
const installed = version.status === 0;
const inCi = process.env.CI !== undefined && process.env.CI !== '' && process.env.CI !== 'false';
if (!installed && !inCi) console.warn(`test/rest/schemathesis.test.ts skipped: schemathesis not found (install: ${INSTALL})`);

describe.skipIf(!installed && !inCi)('schemathesis against the OpenAPI document', () => {
  it('finds nothing: every generated request is answered as the document says', { timeout: 600_000 }, async () => {
    if (!installed) throw new Error(`schemathesis is not installed (CI=${process.env.CI}): ${INSTALL}`);
    const child = spawn('bash', [join(ROOT, 'scripts', 'schemathesis.sh')], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString('utf8')));
    child.stderr.on('data', (c: Buffer) => (output += c.toString('utf8')));
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    // The whole report on failure: the findings with their curl reproductions.
    expect(code, output.slice(-20_000)).toBe(0);
  });
});
