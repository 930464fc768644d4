/**
 * Throwaway TLS material for tests, made once per test file with the `openssl` CLI in a temp dir:
 * a CA, a server certificate (CN=localhost, SAN IP:127.0.0.1 + DNS:localhost), a client
 * certificate (CN=device-42 by default) signed by the CA, and one client certificate with the
 * same CN signed by a different ("rogue") CA the server does not trust. EC P-256 keys keep
 * generation at a few tens of milliseconds; certificates are valid for one day.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface KeyPair {
  readonly certFile: string;
  readonly keyFile: string;
  readonly cert: Buffer;
  readonly key: Buffer;
}

export interface TestTls {
  readonly dir: string;
  /** The CA certificate: `tls.caFile` for the gateway, `ca` for clients. */
  readonly caFile: string;
  readonly ca: Buffer;
  /** The server's certificate and key: `tls.certFile` / `tls.keyFile`. */
  readonly server: KeyPair;
  /** Client certificate signed by the CA, subject `CN=<clientCn>,O=streamgate-test`. */
  readonly client: KeyPair;
  readonly clientCn: string;
  /** Same CN as `client`, signed by a CA the gateway does not trust. */
  readonly rogue: KeyPair;
  remove(): void;
}

/** Generates the CA, server and client certificates into a fresh temp dir. Call `remove()` in afterAll. */
export function makeTestTls(clientCn = 'device-42'): TestTls {
  const dir = mkdtempSync(join(tmpdir(), 'streamgate-tls-'));
  const ssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const newKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const makeCa = (name: string): void =>
    ssl('req', '-x509', ...newKey, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-days', '1', '-subj', `/CN=streamgate ${name}`);
  const leaf = (name: string, cn: string, caName: string, ext: string): KeyPair => {
    writeFileSync(join(dir, `${name}.ext`), ext);
    ssl('req', ...newKey, '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}/O=streamgate-test`);
    ssl('x509', '-req', '-in', `${name}.csr`, '-CA', `${caName}.crt`, '-CAkey', `${caName}.key`, '-CAcreateserial', '-out', `${name}.crt`, '-days', '1', '-extfile', `${name}.ext`);
    const certFile = join(dir, `${name}.crt`);
    const keyFile = join(dir, `${name}.key`);
    return { certFile, keyFile, cert: readFileSync(certFile), key: readFileSync(keyFile) };
  };
  makeCa('test-ca');
  makeCa('rogue-ca');
  const server = leaf('server', 'localhost', 'test-ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  const client = leaf('client', clientCn, 'test-ca', 'extendedKeyUsage=clientAuth\n');
  const rogue = leaf('rogue', clientCn, 'rogue-ca', 'extendedKeyUsage=clientAuth\n');
  const caFile = join(dir, 'test-ca.crt');
  return { dir, caFile, ca: readFileSync(caFile), server, client, clientCn, rogue, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
