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

/**
 * The relative imports that run when the module loads: static imports and re-exports that bind a
 * value (`import type` / `import { type A }` / `export type … from` are erased; dynamic imports run later).
 */
function runtimeImportsOf(file: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(join(ROOT, file), 'utf8'), ts.ScriptTarget.Latest, false);
  const out: string[] = [];
  for (const statement of source.statements) {
    let specifier: ts.Expression | undefined;
    if (ts.isImportDeclaration(statement)) {
      const clause = statement.importClause;
      const typeOnly =
        clause !== undefined &&
        (clause.isTypeOnly ||
          (clause.name === undefined && clause.namedBindings !== undefined && ts.isNamedImports(clause.namedBindings) && clause.namedBindings.elements.length > 0 && clause.namedBindings.elements.every((e) => e.isTypeOnly)));
      if (!typeOnly) specifier = statement.moduleSpecifier;
    } else if (ts.isExportDeclaration(statement) && !statement.isTypeOnly) {
      specifier = statement.moduleSpecifier;
    }
    if (specifier === undefined || !ts.isStringLiteral(specifier) || !specifier.text.startsWith('.')) continue;
    out.push(relative(ROOT, resolve(ROOT, dirname(file), specifier.text)).split(sep).join('/').replace(/\.js$/, '.ts'));
  }
  return out;
}

/** Strongly connected components of more than one module (Tarjan), each sorted. */
function importCycles(files: readonly string[]): string[][] {
  const edges = new Map(files.map((f) => [f, runtimeImportsOf(f).filter((t) => t !== f)]));
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string): void => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!edges.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    if (component.length > 1) cycles.push(component.sort());
  };
  for (const f of files) if (!index.has(f)) visit(f);
  return cycles;
}

const topFolder = (path: string): string => path.split('/')[0]!;
const adapterOf = (path: string): string | undefined => (path.startsWith('adapters/') ? path.split('/')[1] : undefined);
const describeImport = (i: Import): string => `${i.file} imports ${i.specifier}`;

/**
 * protobufjs is a protocol library where it frames gRPC or WebSocket messages; in gateway/schemas/
 * it is a payload format (Protobuf schemas of a Confluent-compatible registry, record values
 * validated and converted in the core, issue 18), beside avsc and ajv — the one exemption.
 */
const payloadFormat = (i: Import): boolean => i.file.startsWith('gateway/schemas/') && /^protobufjs/.test(i.specifier);

describe('layout', () => {
  it('gateway/ (the core) imports no adapter, transport, codec, composition root or protocol library', () => {
    const offending = sources('gateway', { tests: false })
      .flatMap(importsOf)
      .filter((i) => (i.target === undefined ? PROTOCOL_LIBRARIES.some((p) => p.test(i.specifier)) && !payloadFormat(i) : topFolder(i.target) !== 'gateway'));
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

  // A cycle of module loads hands one of its modules another's bindings before they are
  // initialised: a constant read at load time is `undefined` (a zod `.max(undefined)` once refused
  // every REST topic pattern that way).
  it('no import cycle among the server\'s modules (type-only imports aside)', () => {
    const server = ['gateway', 'codecs', 'transport', 'adapters', 'app'].flatMap((dir) => sources(dir, { tests: false }));
    expect(importCycles(server)).toEqual([]);
  });

  it('sees the imports it checks (the scan itself works)', () => {
    const compose = importsOf('app/compose.ts');
    expect(compose.map((i) => i.target)).toContain('adapters/mqtt/index.ts');
    expect(importsOf('gateway/core.ts').length).toBeGreaterThan(5);
    expect(runtimeImportsOf('gateway/core.ts')).toContain('gateway/errors.ts');
    expect(runtimeImportsOf('gateway/groups.ts')).not.toContain('gateway/api.ts'); // `import type` only
    const gatewayWithCore = sources('gateway', { tests: false });
    expect(importCycles(['app/compose.ts', ...gatewayWithCore]).length).toBe(0);
  });
});
