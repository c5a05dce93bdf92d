// Driver errors sorted into the outcomes domain code decides on, the same for
// better-sqlite3 and pg (issue 13: no SQLITE_CONSTRAINT_* deciding outcomes in
// domain code). Recognised by shape, so a SQLite-only server never loads pg.

/**
 * What a failed statement means to the code that ran it.
 * - `unique_violation`: the row (primary key or unique key) already exists: usually an idempotent replay.
 * - `foreign_key_violation`: a referenced row is missing.
 * - `check_violation`, `not_null_violation`: the row broke a declared rule (a bug or bad input).
 * - `constraint_violation`: any other integrity constraint (trigger, exclusion, strict type).
 * - `retryable`: the transaction lost a race (serialization failure, deadlock, busy
 *   database) and is expected to succeed if run again from its start.
 * - `other`: everything else (syntax, I/O, disk full, not a database error at all).
 */
export type DbErrorKind =
  | 'unique_violation'
  | 'foreign_key_violation'
  | 'check_violation'
  | 'not_null_violation'
  | 'constraint_violation'
  | 'retryable'
  | 'other'

/** better-sqlite3's SqliteError: `code` is the extended result code name. */
interface SqliteErrorShape extends Error {
  readonly code: string
}

/** pg's DatabaseError (pg-protocol): `code` is the SQLSTATE, next to the server's `severity`. */
interface PgErrorShape extends Error {
  readonly code: string
  readonly severity: string
}

const isSqliteError = (err: unknown): err is SqliteErrorShape =>
  err instanceof Error && err.name === 'SqliteError' && typeof (err as { code?: unknown }).code === 'string'

const isPgError = (err: unknown): err is PgErrorShape => {
  if (!(err instanceof Error)) return false
  const { code, severity } = err as { code?: unknown; severity?: unknown }
  return typeof severity === 'string' && typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)
}

// https://www.sqlite.org/rescode.html (extended codes; better-sqlite3 enables them)
const SQLITE_KINDS: Readonly<Record<string, DbErrorKind>> = {
  SQLITE_CONSTRAINT_PRIMARYKEY: 'unique_violation',
  SQLITE_CONSTRAINT_UNIQUE: 'unique_violation',
  SQLITE_CONSTRAINT_ROWID: 'unique_violation',
  SQLITE_CONSTRAINT_FOREIGNKEY: 'foreign_key_violation',
  SQLITE_CONSTRAINT_CHECK: 'check_violation',
  SQLITE_CONSTRAINT_NOTNULL: 'not_null_violation',
}

// https://www.postgresql.org/docs/15/errcodes-appendix.html
const PG_KINDS: Readonly<Record<string, DbErrorKind>> = {
  '23505': 'unique_violation',
  '23503': 'foreign_key_violation',
  '23514': 'check_violation',
  '23502': 'not_null_violation',
  '40001': 'retryable', // serialization_failure
  '40P01': 'retryable', // deadlock_detected
}

/** Sorts an error thrown by better-sqlite3 or pg (directly or through Kysely) into a {@link DbErrorKind}. */
export function classifyDbError(err: unknown): DbErrorKind {
  if (isSqliteError(err)) {
    const kind = SQLITE_KINDS[err.code]
    if (kind) return kind
    if (err.code.startsWith('SQLITE_CONSTRAINT')) return 'constraint_violation'
    // BUSY (another connection holds the write lock past busy_timeout; in WAL,
    // BUSY_SNAPSHOT: a read transaction that may no longer write) and LOCKED
    // (shared-cache table lock): the whole transaction can be run again.
    if (err.code.startsWith('SQLITE_BUSY') || err.code.startsWith('SQLITE_LOCKED')) return 'retryable'
    return 'other'
  }
  if (isPgError(err)) {
    const kind = PG_KINDS[err.code]
    if (kind) return kind
    // Class 23: integrity constraint violation (23000, 23001 restrict, 23P01 exclusion).
    if (err.code.startsWith('23')) return 'constraint_violation'
    return 'other'
  }
  return 'other'
}

/** True for every integrity-constraint kind: the statement's own data broke a rule, not the database. */
export function isConstraintViolation(kind: DbErrorKind): boolean {
  return kind !== 'retryable' && kind !== 'other'
}
