// Bootstrap codes and the signing keys cabinets registered with them
// (tables bootstrap_codes and cabinet_keys), on either engine.
import type { Executor, FleetDb } from '../db/database.js'

export interface NewBootstrapCode {
  readonly codeHash: string
  readonly cabinetId: string
  readonly issuedBy: string
  readonly issuedAt: string
  readonly expiresAt: string
}

/** Why a code could not be claimed. */
export type CodeRefusal = 'unknown' | 'used' | 'expired'

export interface EnrollmentStore {
  /** Stores a new code for the cabinet; its unused earlier codes go (a new code supersedes them). */
  issue(ex: Executor, code: NewBootstrapCode): Promise<void>
  /**
   * Marks the code used at `at` if it is unused and unexpired, in one
   * statement (the row lock on PostgreSQL, the single writer on SQLite make a
   * second claim find it used): the cabinet id, or why not.
   */
  claim(ex: Executor, codeHash: string, at: string): Promise<{ readonly cabinetId: string } | { readonly refusal: CodeRefusal }>
  /** Registers (or replaces, on re-enrollment) the cabinet's public key; first contact is awaited again. */
  saveKey(ex: Executor, cabinetId: string, publicKeyPem: string, at: string): Promise<void>
  /** Whether the cabinet enrolled and its first contact since is still to come. */
  awaitsFirstContact(cabinetId: string): Promise<boolean>
  markFirstContact(ex: Executor, cabinetId: string, at: string): Promise<void>
  publicKey(cabinetId: string): Promise<string | null>
  /** Every registered key: cabinet id → SPKI PEM (the ingest's signature checks load them once). */
  publicKeys(): Promise<Map<string, string>>
  /** The cabinet's key and when it was registered (the auditor's export). */
  keyOf(cabinetId: string): Promise<{ readonly publicKey: string; readonly enrolledAt: string } | null>
}

export function createEnrollmentStore(db: FleetDb): EnrollmentStore {
  const k = db.kysely
  return {
    async issue(ex, c) {
      await ex.deleteFrom('bootstrap_codes').where('cabinet_id', '=', c.cabinetId).where('used_at', 'is', null).execute()
      await ex
        .insertInto('bootstrap_codes')
        .values({ code_hash: c.codeHash, cabinet_id: c.cabinetId, issued_by: c.issuedBy, issued_at: c.issuedAt, expires_at: c.expiresAt, used_at: null })
        .execute()
    },

    async claim(ex, codeHash, at) {
      const claimed = await ex
        .updateTable('bootstrap_codes')
        .set({ used_at: at })
        .where('code_hash', '=', codeHash)
        .where('used_at', 'is', null)
        .where('expires_at', '>', at)
        .returning('cabinet_id')
        .executeTakeFirst()
      if (claimed) return { cabinetId: claimed.cabinet_id }
      const r = await ex.selectFrom('bootstrap_codes').select(['used_at']).where('code_hash', '=', codeHash).executeTakeFirst()
      return { refusal: !r ? 'unknown' : r.used_at !== null ? 'used' : 'expired' }
    },

    async saveKey(ex, cabinetId, publicKeyPem, at) {
      await ex
        .insertInto('cabinet_keys')
        .values({ cabinet_id: cabinetId, public_key: publicKeyPem, enrolled_at: at, first_contact_at: null })
        .onConflict((oc) => oc.column('cabinet_id').doUpdateSet({ public_key: publicKeyPem, enrolled_at: at, first_contact_at: null }))
        .execute()
    },

    async awaitsFirstContact(cabinetId) {
      const r = await k.selectFrom('cabinet_keys').select('first_contact_at').where('cabinet_id', '=', cabinetId).executeTakeFirst()
      return r !== undefined && r.first_contact_at === null
    },

    async markFirstContact(ex, cabinetId, at) {
      await ex.updateTable('cabinet_keys').set({ first_contact_at: at }).where('cabinet_id', '=', cabinetId).where('first_contact_at', 'is', null).execute()
    },

    async publicKey(cabinetId) {
      const r = await k.selectFrom('cabinet_keys').select('public_key').where('cabinet_id', '=', cabinetId).executeTakeFirst()
      return r?.public_key ?? null
    },

    async publicKeys() {
      const rows = await k.selectFrom('cabinet_keys').select(['cabinet_id', 'public_key']).execute()
      return new Map(rows.map((r) => [r.cabinet_id, r.public_key]))
    },

    async keyOf(cabinetId) {
      const r = await k.selectFrom('cabinet_keys').select(['public_key', 'enrolled_at']).where('cabinet_id', '=', cabinetId).executeTakeFirst()
      return r ? { publicKey: r.public_key, enrolledAt: r.enrolled_at } : null
    },
  }
}
