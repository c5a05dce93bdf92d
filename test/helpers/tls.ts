// A throwaway certificate authority for TLS tests: a CA and a server
// certificate for 127.0.0.1 / localhost / ::1, made with the openssl CLI in a
// temp dir at test time (nothing secret is checked in). A second, unrelated CA
// lets a test show that a client refuses a server it was not told to trust.
import { execFileSync } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from './fleet.js'

export interface TestPki {
  readonly dir: string
  /** PEM paths. */
  readonly caFile: string
  readonly certFile: string
  readonly keyFile: string
  /** A CA that signed nothing here: trusting only it must fail the handshake. */
  readonly otherCaFile: string
  readonly ca: Buffer
  readonly cert: Buffer
  readonly key: Buffer
}

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] })
}

function makeCa(dir: string, name: string): void {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.pem`], dir)
}

/** Makes a CA and a server certificate signed by it, valid for two days. */
export async function makeTestPki(): Promise<TestPki> {
  const dir = await tempDir('fleet-pki-')
  makeCa(dir, 'test-ca')
  makeCa(dir, 'other-ca')
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', '/CN=fleet-server', '-keyout', 'server.key', '-out', 'server.csr'], dir)
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nextendedKeyUsage=serverAuth\n')
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'test-ca.pem', '-CAkey', 'test-ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'server.ext', '-out', 'server.pem'], dir)
  const caFile = join(dir, 'test-ca.pem')
  const certFile = join(dir, 'server.pem')
  const keyFile = join(dir, 'server.key')
  return {
    dir,
    caFile,
    certFile,
    keyFile,
    otherCaFile: join(dir, 'other-ca.pem'),
    ca: readFileSync(caFile),
    cert: readFileSync(certFile),
    key: readFileSync(keyFile),
  }
}

/**
 * One more server certificate from the test CA, for exactly `subjectAltName`
 * (e.g. 'IP:127.0.0.1'): for checks that the client verifies the name it dialed.
 */
export function makeServerCert(pki: TestPki, name: string, subjectAltName: string): { cert: Buffer; key: Buffer } {
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`], pki.dir)
  writeFileSync(join(pki.dir, `${name}.ext`), `subjectAltName=${subjectAltName}\nextendedKeyUsage=serverAuth\n`)
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', 'test-ca.pem', '-CAkey', 'test-ca.key', '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.pem`], pki.dir)
  return { cert: readFileSync(join(pki.dir, `${name}.pem`)), key: readFileSync(join(pki.dir, `${name}.key`)) }
}
