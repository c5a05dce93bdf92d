// A deployment's NATS trust, made once (#14): the identity file (the seeds
// every JWT is signed from) and the trust part of every node's config — the
// operator JWT, the system account and the accounts preloaded into the full
// resolver. Written once and kept: the resolver stores a preloaded account
// only when it is newer than its own copy, so a preload signed again later
// would replace the copy carrying the revocations at a node's restart.
import { constants, existsSync } from 'node:fs'
import { mkdir, open } from 'node:fs/promises'
import { join } from 'node:path'
import { createNatsIdentity, createNatsIdentityFile, type NatsServerJwts } from './identity.js'

export const IDENTITY_FILE = 'nats-identity.json'
export const TRUST_CONF = 'nats-trust.conf'

/** The config lines every node of the cluster shares (nats-server's `include` takes the file). */
export function natsTrustConfig(jwts: NatsServerJwts): string {
  const q = JSON.stringify
  return [
    `operator: ${q(jwts.operator)}`,
    `system_account: ${q(jwts.systemAccountPublicKey)}`,
    `resolver_preload { ${q(jwts.systemAccountPublicKey)}: ${q(jwts.systemAccount)}, ${q(jwts.fleetAccountPublicKey)}: ${q(jwts.fleetAccount)} }`,
  ].join('\n')
}

export class NatsSetupExists extends Error {}

/**
 * Writes DIR/nats-identity.json (mode 0600) and DIR/nats-trust.conf for a new
 * deployment; refuses when either exists (a second identity would orphan
 * every cabinet's JWT). Returns the paths and the fleet account's public key.
 */
export async function writeNatsSetup(dir: string, now: Date = new Date()): Promise<{ identityFile: string; trustFile: string; fleetAccount: string }> {
  await mkdir(dir, { recursive: true })
  const file = createNatsIdentityFile()
  const identity = createNatsIdentity(file)
  const identityFile = join(dir, IDENTITY_FILE)
  const trustFile = join(dir, TRUST_CONF)
  const trust = [
    `# fupin-fleet NATS trust, written ${now.toISOString()} by fleetctl nats init.`,
    '# Include it in every node\'s config, unchanged (docs/cluster.md); never write it again for a running cluster.',
    natsTrustConfig(await identity.serverJwts()),
    '',
  ].join('\n')
  for (const path of [identityFile, trustFile]) if (existsSync(path)) throw new NatsSetupExists(path)
  // O_EXCL: never overwrite a deployment's identity, even in a race.
  const create = async (path: string, text: string, mode: number) => {
    let fh
    try {
      fh = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, mode)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new NatsSetupExists(path)
      throw err
    }
    try {
      await fh.writeFile(text)
      await fh.sync()
    } finally {
      await fh.close()
    }
  }
  await create(identityFile, `${JSON.stringify(file, null, 2)}\n`, 0o600)
  await create(trustFile, trust, 0o644)
  return { identityFile, trustFile, fleetAccount: identity.fleetAccountPublicKey }
}
