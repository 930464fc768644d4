import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

// STYLE.md: "A doc comment on every export of gateway/". The core is what every adapter builds on,
// so its exported API is read far more often than it is written; this keeps the rule from eroding.
// Parsing only (no type checker, no program): the scan needs no build, no Kafka and no Java.

const root = dirname(fileURLToPath(import.meta.url));

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.test.ts') && !entry.name.endsWith('.d.ts') ? [path] : [];
  });
}

function isExported(node: ts.Node): boolean {
  return ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
}

/** A JSDoc block with some text or a tag; an empty `/** *\/` says nothing. */
function hasDoc(node: ts.Node): boolean {
  return ts.getJSDocCommentsAndTags(node).some((doc) => {
    if (!ts.isJSDoc(doc)) return true;
    const text = typeof doc.comment === 'string' ? doc.comment : (doc.comment ?? []).map((part) => part.text).join('');
    return text.trim() !== '' || (doc.tags?.length ?? 0) > 0;
  });
}

/** Each exported declaration of one file as [name, documented]; overloads count once, documented if any signature is. */
function exportedDeclarations(file: ts.SourceFile): Map<string, boolean> {
  const found = new Map<string, boolean>();
  const note = (name: string, documented: boolean) => found.set(name, (found.get(name) ?? false) || documented);
  // Local declarations by name, so `export { a, b }` can be checked where a and b are declared.
  const locals = new Map<string, ts.Node[]>();
  const addLocal = (name: string, node: ts.Node) => locals.set(name, [...(locals.get(name) ?? []), node]);

  for (const statement of file.statements) {
    if (ts.isVariableStatement(statement)) {
      for (const decl of statement.declarationList.declarations) {
        if (!ts.isIdentifier(decl.name)) continue;
        addLocal(decl.name.text, decl);
        if (isExported(statement)) note(decl.name.text, hasDoc(decl));
      }
      continue;
    }
    if (
      ts.isFunctionDeclaration(statement) ||
      ts.isClassDeclaration(statement) ||
      ts.isInterfaceDeclaration(statement) ||
      ts.isTypeAliasDeclaration(statement) ||
      ts.isEnumDeclaration(statement)
    ) {
      const name = statement.name?.text ?? 'default';
      addLocal(name, statement);
      if (isExported(statement)) note(name, hasDoc(statement));
      continue;
    }
    if (ts.isExportAssignment(statement)) note('default', hasDoc(statement));
  }

  for (const statement of file.statements) {
    // `export { a as b }` of a local; re-exports from another module are checked in that module.
    if (!ts.isExportDeclaration(statement) || statement.moduleSpecifier || !statement.exportClause) continue;
    if (!ts.isNamedExports(statement.exportClause)) continue;
    for (const spec of statement.exportClause.elements) {
      const local = (spec.propertyName ?? spec.name).text;
      note(spec.name.text, (locals.get(local) ?? []).some(hasDoc));
    }
  }
  return found;
}

describe('gateway/ exports', () => {
  it('every exported declaration has a doc comment', () => {
    const missing: string[] = [];
    const files = sourceFiles(root);
    for (const path of files) {
      const file = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.Latest, true);
      for (const [name, documented] of exportedDeclarations(file)) {
        if (!documented) missing.push(`${relative(root, path)}: ${name}`);
      }
    }
    expect(files.length).toBeGreaterThan(10);
    expect(missing, `exports of gateway/ without a /** doc comment */:\n${missing.join('\n')}`).toEqual([]);
  });

  it('the scan sees what it must: undocumented exports of every kind, documented ones, overloads, export lists', () => {
    const file = ts.createSourceFile(
      'sample.ts',
      [
        'export const a = 1, b = 2;',
        '/** Why c. */ export const c = 3;',
        'export function f(): void {}',
        '/** Both forms. */ export function g(x: string): void;',
        'export function g(x: number): void;',
        'export function g(x: unknown): void {}',
        'export class K {}',
        'export interface I {}',
        'export type T = 1;',
        'export enum E { A }',
        '/** */ export type Empty = 1;',
        '/** @internal */ export type Tagged = 1;',
        '// not a doc comment',
        'export type LineComment = 1;',
        'const local = 1;',
        '/** Documented local. */ const documentedLocal = 2;',
        'export { local, documentedLocal as renamed };',
        "export { x } from './elsewhere.js';",
        'type NotExported = 1;',
      ].join('\n'),
      ts.ScriptTarget.Latest,
      true,
    );
    expect(Object.fromEntries(exportedDeclarations(file))).toEqual({
      a: false,
      b: false,
      c: true,
      f: false,
      g: true,
      K: false,
      I: false,
      T: false,
      E: false,
      Empty: false,
      Tagged: true,
      LineComment: false,
      local: false,
      renamed: true,
    });
  });
});
