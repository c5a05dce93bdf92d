// Issue 16 §2: each enrolled cabinet's Ed25519 public key, held in memory for
// the ingest. Every key is read once at start, so a cabinet with no key (the
// password-provisioned ones, the simulators, the bench) is answered from
// memory: no query per batch, or ever. A re-enrollment or a retirement is
// noticed on the cabinets' credentials channel (every server on the
// database): that cabinet's entry goes and is read again on its next batch.
// An empty notice (the notice connection was re-made, notices may have been
// missed) drops everything and reads it all again.
import { createPublicKey, type KeyObject } from 'node:crypto'
import type { Logger } from 'pino'

export interface SigningKeySource {
  /** Every registered key: cabinet id → SPKI PEM. */
  all(): Promise<Map<string, string>>
  /** One cabinet's key, or null. */
  one(cabinetId: string): Promise<string | null>
}

export interface SigningKeys {
  /** The cabinet's key (null: none registered); synchronous when cached. */
  get(cabinetId: string): KeyObject | null | Promise<KeyObject | null>
  /** Drops a cabinet's entry (empty id: every entry). */
  invalidate(cabinetId: string): void
  /**
   * Reads the cabinet's key again before a batch is refused for its
   * signature: a re-enrollment's notice reaches other servers a moment after
   * the agent may already sign with its new key. At most once per cabinet per
   * REFRESH_EVERY_MS (a flood of forgeries costs no query per batch); null
   * when it was not read again.
   */
  refresh(cabinetId: string, nowMs: number): Promise<{ readonly key: KeyObject | null } | null>
}

export const REFRESH_EVERY_MS = 10_000

export async function createSigningKeys(source: SigningKeySource, log: Logger): Promise<SigningKeys> {
  const cache = new Map<string, KeyObject | null>()
  // True while `cache` holds every key: an absent cabinet then has none.
  let complete = false
  // Cabinets invalidated while the cache is complete: absent from it, yet their key must be read.
  const stale = new Set<string>()
  // Bumped by every invalidation, so a read that raced one is not cached.
  let epoch = 0

  const parse = (cabinetId: string, pem: string | null): KeyObject | null => {
    if (pem === null) return null
    try {
      return createPublicKey(pem)
    } catch (err) {
      // Enrollment checked it; a key that does not parse now is treated as none, loudly.
      log.error({ err, cabinetId }, 'registered signing key does not parse; the cabinet is treated as keyless')
      return null
    }
  }

  async function loadAll(): Promise<void> {
    const startedAt = epoch
    const all = await source.all()
    if (startedAt !== epoch) return // raced a notice: what was read may be old; entries load one by one
    cache.clear()
    for (const [id, pem] of all) cache.set(id, parse(id, pem))
    complete = true
  }

  async function loadOne(cabinetId: string): Promise<KeyObject | null> {
    const startedAt = epoch
    const key = parse(cabinetId, await source.one(cabinetId))
    if (startedAt === epoch) {
      cache.set(cabinetId, key)
      stale.delete(cabinetId)
    }
    return key
  }

  const refreshedAt = new Map<string, number>()

  await loadAll()
  log.info({ keys: cache.size }, 'cabinet signing keys loaded')
  return {
    get(cabinetId) {
      const cached = cache.get(cabinetId)
      if (cached !== undefined) return cached
      if (complete && !stale.has(cabinetId)) return null
      return loadOne(cabinetId)
    },
    async refresh(cabinetId, nowMs) {
      const last = refreshedAt.get(cabinetId)
      if (last !== undefined && nowMs - last < REFRESH_EVERY_MS) return null
      refreshedAt.set(cabinetId, nowMs)
      return { key: await loadOne(cabinetId) }
    },
    invalidate(cabinetId) {
      epoch++
      if (cabinetId === '') {
        cache.clear()
        complete = false
        stale.clear()
        void loadAll().catch((err: unknown) => log.warn({ err }, 'reloading cabinet signing keys failed; they load one by one'))
        return
      }
      cache.delete(cabinetId)
      stale.add(cabinetId)
    },
  }
}
