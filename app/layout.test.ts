/**
 * The layering DESIGN.md promises, checked on the import graph (every static, type-only and
 * dynamic import, read with the TypeScript scanner): the core knows no protocol, no adapter
 * knows another, and nothing below the composition root reaches up into it.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Libraries that speak a wire protocol (or are a socket engine): adapters' and transports' business. */
const PROTOCOL_LIBRARIES = [/^ws$/, /uws/i, /uwebsockets/i, /^@grpc\//, /^grpc-health-check$/, /^mqtt(-packet)?$/, /^protobufjs/, /^node:(http|https|http2|net|tls|dgram)$/, /^(http|https|http2|net|tls)$/];

interface Import {
  readonly file: string;
  readonly specifier: string;
  /** Repository-relative path of the target for relative imports (with its .ts source name). */
  readonly target?: string;
}

function sources(dir: string, { tests }: { tests: boolean }): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(ROOT, dir), { withFileTypes: true, recursive: true })) {
    if (!entry.isFile() || !entry.name.endsWith('.ts') || entry.name.endsWith('.d.ts')) continue;
    if (!tests && entry.name.endsWith('.test.ts')) continue;
    out.push(relative(ROOT, join(entry.parentPath, entry.name)).split(sep).join('/'));
  }
  return out;
}

function importsOf(file: string): Import[] {
  const info = ts.preProcessFile(readFileSync(join(ROOT, file), 'utf8'), true, true);
  return info.importedFiles.map(({ fileName: specifier }) => {
    if (!specifier.startsWith('.')) return { file, specifier };
    const target = relative(ROOT, resolve(ROOT, dirname(file), specifier)).split(sep).join('/').replace(/\.js$/, '.ts');
    return { file, specifier, target };
  });
}

const topFolder = (path: string): string => path.split('/')[0]!;
const adapterOf = (path: string): string | undefined => (path.startsWith('adapters/') ? path.split('/')[1] : undefined);
const describeImport = (i: Import): string => `${i.file} imports ${i.specifier}`;

describe('layout', () => {
  it('gateway/ (the core) imports no adapter, transport, codec, composition root or protocol library', () => {
    const offending = sources('gateway', { tests: false })
      .flatMap(importsOf)
      .filter((i) => (i.target === undefined ? PROTOCOL_LIBRARIES.some((p) => p.test(i.specifier)) : topFolder(i.target) !== 'gateway'));
    expect(offending.map(describeImport)).toEqual([]);
  });

  it('no adapter imports another adapter or the composition root (but its host contract)', () => {
    const offending = sources('adapters', { tests: false })
      .flatMap(importsOf)
      .filter((i) => i.target !== undefined)
      .filter((i) => {
        const own = adapterOf(i.file);
        const other = adapterOf(i.target!);
        if (other !== undefined && other !== own) return true;
        return topFolder(i.target!) === 'app' && i.target !== 'app/host.ts';
      });
    expect(offending.map(describeImport)).toEqual([]);
  });

  it('codecs/ and transport/ sit below the adapters and the composition root', () => {
    const offending = [...sources('codecs', { tests: false }), ...sources('transport', { tests: false })]
      .flatMap(importsOf)
      .filter((i) => i.target !== undefined && ['adapters', 'app', 'clients', 'test'].includes(topFolder(i.target)));
    expect(offending.map(describeImport)).toEqual([]);
  });

  it('the server depends on no client folder (generated stubs live beside the proto)', () => {
    const offending = ['gateway', 'codecs', 'transport', 'adapters', 'app']
      .flatMap((dir) => sources(dir, { tests: false }))
      .flatMap(importsOf)
      .filter((i) => i.target !== undefined && topFolder(i.target) === 'clients');
    expect(offending.map(describeImport)).toEqual([]);
  });

  it('sees the imports it checks (the scan itself works)', () => {
    const compose = importsOf('app/compose.ts');
    expect(compose.map((i) => i.target)).toContain('adapters/mqtt/index.ts');
    expect(importsOf('gateway/core.ts').length).toBeGreaterThan(5);
  });
});
