// An enrolled board's start (issue 16): what the flags and env leave out comes
// from DIR/credentials.json, which `edge-agent enroll` wrote.
import { generateKeyPairSync } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it, onTestFinished } from 'vitest'
import { loadConfig } from '../../edge-agent/src/index.js'

async function dirWith(creds: unknown): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'enrolled-'))
  onTestFinished(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'credentials.json'), typeof creds === 'string' ? creds : JSON.stringify(creds))
  return dir
}

const CREDS = { v: 1, cabinetId: '341126-00001', username: '341126-00001', password: 'secret-pw', servers: ['mqtt://broker.example:1883'], http: 'https://fleet.example', enrolledAt: '2026-12-05T00:00:00.000Z' }

describe('config of an enrolled board', () => {
  it('takes the cabinet id, login and broker URLs from DIR; flags still win', async () => {
    const dir = await dirWith(CREDS)
    expect(loadConfig({}, ['--data', dir])).toMatchObject({ cabinetId: '341126-00001', username: '341126-00001', password: 'secret-pw', servers: ['mqtt://broker.example:1883'] })
    expect(loadConfig({}, ['--data', dir, '--server', 'mqtt://127.0.0.1:1'])).toMatchObject({ cabinetId: '341126-00001', password: 'secret-pw', servers: ['mqtt://127.0.0.1:1'] })
    // Another cabinet named on the command line: the file is not its.
    expect(loadConfig({}, ['--data', dir, '--cabinet', 'C9', '--password', 'p'])).toMatchObject({ cabinetId: 'C9', password: 'p', servers: ['mqtt://127.0.0.1:1883'] })
  })

  it('refuses a damaged credentials file rather than starting without a login', async () => {
    const dir = await dirWith('{"v":1,')
    expect(() => loadConfig({}, ['--data', dir])).toThrow(/credentials\.json is not JSON/)
    const partial = await dirWith({ ...CREDS, password: undefined })
    expect(() => loadConfig({}, ['--data', partial])).toThrow(/password/)
  })

  it('signs with DIR/signing-key.pem when enroll left one; none: unsigned; a damaged one fails the start (issue 16 §2)', async () => {
    const dir = await dirWith(CREDS)
    expect(loadConfig({}, ['--data', dir]).signingKey).toBeNull()
    const { privateKey } = generateKeyPairSync('ed25519')
    await writeFile(join(dir, 'signing-key.pem'), privateKey.export({ type: 'pkcs8', format: 'pem' }).toString())
    expect(loadConfig({}, ['--data', dir]).signingKey?.asymmetricKeyType).toBe('ed25519')
    await writeFile(join(dir, 'signing-key.pem'), 'not a key')
    expect(() => loadConfig({}, ['--data', dir])).toThrow(/signing-key\.pem is not an Ed25519 private key/)
  })
})
