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
  readonly loadedAtMs: number
}

/**
 * How long a cached credential is trusted. Changes are invalidated by notice
 * (every process on the database); the TTL bounds the damage of a notice lost
 * to a broken listener connection.
 */
export const CREDENTIAL_TTL_MS = 60_000

/** Notices on this channel carry the id of a cabinet whose login changed (status, secret). */
export const CREDENTIALS_CHANNEL = 'cabinet-credentials'

export interface CredentialCache extends CredentialVerifier {
  /** Drops the cached entry: call after a rotation or a status change. */
  invalidate(cabinetId: string): void
  /** Drops every entry (the notice connection was lost: any change may have been missed). */
  clear(): void
  /**
   * Whether the session this process last admitted for the cabinet may stay:
   * false when the cabinet is gone, retired, or its secret is no longer the
   * one that session logged in with. Judged on `stored` when given, else
   * read from the database (after the change committed).
   */
  sessionStillValid(cabinetId: string, stored?: StoredCredential | null): Promise<boolean>
  /**
   * The cabinets admitted here whose sessions may no longer stay, judged on
   * their credentials read in bulk (after notices may have been missed).
   */
  revokedSessions(loadMany: (cabinetIds: readonly string[]) => Promise<Map<string, StoredCredential>>): Promise<string[]>
}

export function createCredentialCache(
  load: (cabinetId: string) => Promise<StoredCredential | null>,
  { ttlMs = CREDENTIAL_TTL_MS, nowMs = Date.now }: { readonly ttlMs?: number; readonly nowMs?: () => number } = {},
): CredentialCache {
  const cache = new Map<string, CacheEntry>()
  /** Secret hash each cabinet last logged in with here: a rotation elsewhere must end that session. */
  const admitted = new Map<string, string>()
  // Bumped by every invalidation, so a load that raced one is not cached.
  let epoch = 0
  const stillValid = (stored: StoredCredential | null | undefined, usedHash: string): boolean =>
    !!stored && stored.status !== 'retired' && stored.secretHash === usedHash
  return {
    async verify(cabinetId, password) {
      let entry = cache.get(cabinetId)
      if (entry && nowMs() - entry.loadedAtMs > ttlMs) entry = undefined
      // A load that raced an invalidation read what may be the old state: read
      // again, or a login could pass after the notice that should end it.
      for (let attempt = 1; !entry; attempt++) {
        const startedAt = epoch
        const loadedAtMs = nowMs()
        const stored = await load(cabinetId)
        if (!stored) return false
        const fresh = { hash: Buffer.from(stored.secretHash, 'hex'), mayConnect: stored.status !== 'retired', loadedAtMs }
        if (startedAt === epoch) cache.set(cabinetId, fresh)
        else if (attempt < 3) continue
        entry = fresh
      }
      const presented = createHash('sha256').update(password).digest()
      const ok = timingSafeEqual(presented, entry.hash) && entry.mayConnect
      if (ok) admitted.set(cabinetId, presented.toString('hex'))
      return ok
    },
    invalidate(cabinetId) {
      epoch++
      cache.delete(cabinetId)
    },
    clear() {
      epoch++
      cache.clear()
    },
    async sessionStillValid(cabinetId, stored) {
      const usedHash = admitted.get(cabinetId)
      if (usedHash === undefined) return true // never admitted here: no session to judge
      const valid = stillValid(stored === undefined ? await load(cabinetId) : stored, usedHash)
      if (!valid) admitted.delete(cabinetId)
      return valid
    },
    async revokedSessions(loadMany) {
      const used = [...admitted]
      const stored = await loadMany(used.map(([id]) => id))
      const revoked: string[] = []
      for (const [id, usedHash] of used) {
        if (stillValid(stored.get(id), usedHash)) continue
        // Not if the cabinet logged in again meanwhile (with a newer secret).
        if (admitted.get(id) !== usedHash) continue
        admitted.delete(id)
        revoked.push(id)
      }
      return revoked
    },
  }
}
