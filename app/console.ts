/**
 * Serves the operator console (`/console`): the page, script and stylesheet console/build.ts
 * bundled into dist/console at build time (`npm run build`, `npm run dev`), read once at startup.
 * The files are public — the page asks for a token and the data it shows comes from the gateway's
 * APIs, which check the caller's grants (admin: ["*"] for the operator views).
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../gateway/log.js';
import type { HttpHost } from './host.js';

/**
 * No inline script, no foreign origin: even a record that slipped past the page's escaping could
 * not run script; frames are refused (clickjacking of the produce form).
 */
const SECURITY_HEADERS = {
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self' ws: wss:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

const FILES = [
  ['/console', 'index.html', 'text/html; charset=utf-8'],
  ['/console/console.js', 'console.js', 'text/javascript; charset=utf-8'],
  ['/console/console.css', 'console.css', 'text/css; charset=utf-8'],
] as const;

/** dist/console under the package root (the directory holding package.json, from source or from dist/). */
export function consoleDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('console: cannot find the package root (package.json)');
    dir = parent;
  }
  return join(dir, 'dist', 'console');
}

/** Registers `/console` (also `/console/`) and its two assets; without a build, `/console` says how to make one (503). */
export function registerConsole(http: HttpHost, log: Logger, dir = consoleDir()): void {
  const files = new Map<string, { body: Buffer; type: string }>();
  try {
    for (const [path, file, type] of FILES) files.set(path, { body: readFileSync(join(dir, file)), type });
  } catch (err) {
    files.clear();
    log.warn({ err, dir }, 'console bundle missing (npm run build makes it); /console answers 503');
  }
  const missing = Buffer.from('The console is not built: run `npm run build` (or `npm run dev`).\n');
  http.onRequest((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    let path = (req.url ?? '/').split('?')[0]!;
    if (path === '/console/') path = '/console';
    if (path !== '/console' && !path.startsWith('/console/')) return false;
    const file = files.get(path);
    if (file === undefined) {
      if (files.size > 0) return false; // the host's 404
      res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8', 'content-length': missing.length }).end(req.method === 'HEAD' ? undefined : missing);
      return true;
    }
    res.writeHead(200, { ...SECURITY_HEADERS, 'content-type': file.type, 'content-length': file.body.length });
    res.end(req.method === 'HEAD' ? undefined : file.body);
    return true;
  });
}
