// Numbered ledger migrations, run at open; PRAGMA user_version records how many
// have been applied. Append only: never edit a migration that has shipped.
import type { SqliteDatabase } from './sqlite.js'
import { AppError } from '../../../shared/src/edge.js'

export const MIGRATIONS: readonly string[] = [
  // 1: sales (seq is the rowid: gapless from 1 per cabinet), meta, catalog.
  `
  CREATE TABLE sales (
    seq         INTEGER PRIMARY KEY,
    sale_id     TEXT    NOT NULL UNIQUE,
    sold_at     TEXT    NOT NULL,
    recorded_at TEXT    NOT NULL,
    payment     TEXT    NOT NULL,
    lines       TEXT    NOT NULL,  -- JSON array of {sku, qty, unitPriceFen}
    total_fen   INTEGER NOT NULL,
    prev_hash   TEXT    NOT NULL,
    hash        TEXT    NOT NULL
  ) STRICT;
  CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value ANY
  ) STRICT;
  CREATE TABLE catalog (
    sku            TEXT    PRIMARY KEY,
    name           TEXT    NOT NULL,
    price_fen      INTEGER NOT NULL,
    is_certified   INTEGER NOT NULL,
    certificate_no TEXT
  ) STRICT;
  `,
  // 2 (issue 16): remote commands. Each command id once (de-duplication
  // survives restarts) with its state and result; price overrides that win
  // over the catalog's price; the pushed planogram.
  `
  CREATE TABLE commands (
    command_id  TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    state       TEXT NOT NULL,  -- delivered | done | failed | expired | refused
    result      TEXT NOT NULL,  -- JSON object, flat
    received_at TEXT NOT NULL,
    updated_at  TEXT NOT NULL
  ) STRICT;
  CREATE TABLE price_overrides (
    sku        TEXT    PRIMARY KEY,
    price_fen  INTEGER NOT NULL,
    command_id TEXT    NOT NULL,
    set_at     TEXT    NOT NULL
  ) STRICT;
  CREATE TABLE planogram (
    slot     TEXT    PRIMARY KEY,
    sku      TEXT    NOT NULL,
    capacity INTEGER NOT NULL,
    par      INTEGER NOT NULL
  ) STRICT;
  `,
  // 3 (issue 16 §3): stock by slot, set from the planogram, decremented in
  // each sale's transaction; restocks once per id. The current planogram's
  // slots start empty (nobody has counted them yet).
  `
  CREATE TABLE stock (
    slot     TEXT    PRIMARY KEY,
    sku      TEXT    NOT NULL,
    capacity INTEGER NOT NULL,
    par      INTEGER NOT NULL,
    qty      INTEGER NOT NULL CHECK (qty >= 0),
    oversold INTEGER NOT NULL DEFAULT 0
  ) STRICT;
  CREATE INDEX stock_by_sku ON stock (sku);
  CREATE TABLE restocks (
    restock_id TEXT PRIMARY KEY,
    source     TEXT NOT NULL,  -- local | command
    lines      TEXT NOT NULL,  -- JSON {slot: units added}
    at         TEXT NOT NULL
  ) STRICT;
  INSERT INTO stock (slot, sku, capacity, par, qty, oversold) SELECT slot, sku, capacity, par, 0, 0 FROM planogram;
  `,
]

export function migrate(db: SqliteDatabase): void {
  const current = db.pragma('user_version', { simple: true }) as number
  if (current > MIGRATIONS.length) {
    throw new AppError('CONFIG_INVALID', `ledger schema version ${current} is newer than this agent understands (${MIGRATIONS.length}); use a newer agent`, 500)
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[v]!)
      db.pragma(`user_version = ${v + 1}`)
    }).immediate()
  }
}
