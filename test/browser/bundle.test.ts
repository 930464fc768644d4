/** The committed browser bundle must be exactly what esbuild makes of the current source. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BUNDLE_PATH, bundle } from '../../clients/ts/browser/build.js';

describe('clients/ts/browser/dist/streamgate.js', () => {
  it('is up to date with clients/ts/browser/index.ts (rebuild: npx tsx clients/ts/browser/build.ts)', async () => {
    expect(readFileSync(BUNDLE_PATH, 'utf8')).toBe(await bundle());
  });

  it('uses no Node APIs and imports nothing', () => {
    const text = readFileSync(BUNDLE_PATH, 'utf8');
    expect(text).not.toMatch(/\brequire\(|\bimport\s|from\s+['"]node:|\bprocess\.|\bBuffer\b/);
  });
});
