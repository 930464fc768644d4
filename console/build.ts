/**
 * Bundles the operator console (console/main.ts and its CSS, uPlot's included) into
 * dist/console/{index.html,console.js,console.css}, which the gateway serves under /console.
 * Run by `npm run build` (and so by `prepare` on npm ci) and by `npm run dev`; the browser tests
 * build it fresh before they start a gateway. Nothing is fetched at run time: no CDN.
 *
 *   npx tsx console/build.ts [outDir]
 */
import { copyFileSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));
/** Where the gateway looks for the bundle (app/console.ts). */
export const CONSOLE_DIST = join(here, '..', 'dist', 'console');

/** Writes the bundle into `outDir`; returns the files written. */
export async function buildConsole(outDir = CONSOLE_DIST): Promise<string[]> {
  mkdirSync(outDir, { recursive: true });
  await build({
    entryPoints: { console: join(here, 'main.ts'), 'console-css': join(here, 'console.css') },
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    legalComments: 'none',
    outdir: outDir,
    write: true,
    logLevel: 'silent',
  });
  // console.css @imports uPlot's stylesheet: one CSS file for the page.
  renameSync(join(outDir, 'console-css.css'), join(outDir, 'console.css'));
  copyFileSync(join(here, 'index.html'), join(outDir, 'index.html'));
  writeFileSync(join(outDir, 'BUILT'), `${new Date().toISOString()}\n`);
  return [join(outDir, 'console.js'), join(outDir, 'console.css'), join(outDir, 'index.html')];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const files = await buildConsole(process.argv[2] ?? CONSOLE_DIST);
  process.stdout.write(`console: wrote ${files.join(', ')}\n`);
}
