// Cabinet MQTT secrets: 192 random bits, stored only as SHA-256. A fast hash
// is right here (protocol.md "Identity"): there is nothing to brute-force in a
// random secret, and a slow hash would make a 19,000-cabinet reconnect storm
// cost minutes of CPU. The cache keeps that storm off the database too.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import type { CabinetStatus } from '../../../shared/src/index.js'
import type { CredentialVerifier } from '../broker/index.js'

/**
 * 24 random bytes (192 bits) in base64url. About 1 in 64 such strings starts
 * with '-', which the agent's parseArgs reads as a flag (`--password -x…`
 * fails): draw again then. The redraw costs ~0.02 bits of the 192.
 */
export function generateCabinetSecret(): string {
  for (;;) {
    const secret = randomBytes(24).toString('base64url')
    if (!secret.startsWith('-')) return secret
  }
}

export const hashCabinetSecret = (secret: string | Buffer): string => createHash('sha256').update(secret).digest('hex')

export interface StoredCredential {
  readonly secretHash: string
  readonly status: CabinetStatus
}

interface CacheEntry {
  readonly hash: Buffer
  readonly mayConnect: boolean
}

export interface CredentialCache extends CredentialVerifier {
  /** Drops the cached entry: call after a rotation or a status change. */
  invalidate(cabinetId: string): void
}

export function createCredentialCache(load: (cabinetId: string) => Promise<StoredCredential | null>): CredentialCache {
  const cache = new Map<string, CacheEntry>()
  // Bumped by every invalidation, so a load that raced one is not cached.
  let epoch = 0
  return {
    async verify(cabinetId, password) {
      let entry = cache.get(cabinetId)
      if (!entry) {
        const startedAt = epoch
        const stored = await load(cabinetId)
        if (!stored) return false
        entry = { hash: Buffer.from(stored.secretHash, 'hex'), mayConnect: stored.status !== 'retired' }
        if (startedAt === epoch) cache.set(cabinetId, entry)
      }
      const presented = createHash('sha256').update(password).digest()
      return timingSafeEqual(presented, entry.hash) && entry.mayConnect
    },
    invalidate(cabinetId) {
      epoch++
      cache.delete(cabinetId)
    },
  }
}
