/**
 * Throwaway TLS material for tests, made with the `openssl` CLI in a temp dir: a CA, a server
 * certificate for 127.0.0.1/localhost, client certificates signed by the CA, and one client
 * certificate signed by a different ("rogue") CA. EC P-256 keys keep generation fast.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TestPki {
  readonly dir: string;
  /** Paths (for the gateway config). */
  readonly caFile: string;
  readonly certFile: string;
  readonly keyFile: string;
  /** PEM contents (for clients). */
  readonly ca: Buffer;
  client(cn: string): { cert: Buffer; key: Buffer };
  /** A client certificate with a valid-looking CN but signed by a CA the server does not trust. */
  readonly rogue: { cert: Buffer; key: Buffer };
  remove(): void;
}

export function makeTestPki(clientCns: string[]): TestPki {
  const dir = mkdtempSync(join(tmpdir(), 'streamgate-pki-'));
  const ssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const ca = (name: string): void => ssl('req', '-x509', ...newKey, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '1', '-subj', `/CN=${name}`);
  const leaf = (name: string, cn: string, caName: string, ext: string): void => {
    writeFileSync(join(dir, `${name}.ext`), ext);
    ssl('req', ...newKey, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}/O=streamgate-test`);
    ssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${caName}.crt`, '-CAkey', `${caName}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '1', '-extfile', `${name}.ext`);
  };
  ca('test-ca');
  ca('rogue-ca');
  leaf('server', 'localhost', 'test-ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  const clientExt = 'extendedKeyUsage=clientAuth\n';
  for (const cn of clientCns) leaf(`client-${cn}`, cn, 'test-ca', clientExt);
  leaf('rogue', clientCns[0] ?? 'rogue', 'rogue-ca', clientExt);
  const read = (f: string): Buffer => readFileSync(join(dir, f));
  return {
    dir,
    caFile: join(dir, 'test-ca.crt'),
    certFile: join(dir, 'server.crt'),
    keyFile: join(dir, 'server.key'),
    ca: read('test-ca.crt'),
    client: (cn) => ({ cert: read(`client-${cn}.crt`), key: read(`client-${cn}.key`) }),
    rogue: { cert: read('rogue.crt'), key: read('rogue.key') },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
