// Numbered schema migrations, applied in order at open, each in its own
// transaction together with the PRAGMA user_version bump that records it.
// Never edit a released migration: add the next number.
//
// Storage rules: money is integer fen; instants are UTC ISO strings ending in
// "Z"; `day`/`sold_on` are Asia/Shanghai calendar dates (YYYY-MM-DD).

export interface Migration {
  readonly version: number
  readonly name: string
  readonly sql: string
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'spine',
    sql: `
CREATE TABLE meta (
  key   TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

CREATE TABLE users (
  user_id       TEXT PRIMARY KEY,
  username      TEXT NOT NULL UNIQUE,
  role          TEXT NOT NULL CHECK (role IN ('admin', 'county', 'operator', 'auditor')),
  county_code   TEXT,
  operator      TEXT,
  token_hash    TEXT NOT NULL UNIQUE,       -- sha256 hex of the bearer token
  password_hash TEXT,                       -- scrypt, for a later dashboard login
  is_builtin    INTEGER NOT NULL DEFAULT 0, -- 1: the city administrator the server manages itself
  created_at    TEXT NOT NULL
);

CREATE TABLE cabinets (
  cabinet_id             TEXT PRIMARY KEY,
  county_code            TEXT NOT NULL,
  operator               TEXT,
  site_name              TEXT,
  venue_type             TEXT,
  status                 TEXT NOT NULL CHECK (status IN ('planned', 'site_assigned', 'installed', 'operating', 'suspended', 'retired')),
  secret_hash            TEXT NOT NULL,     -- sha256 hex of the 192-bit MQTT password
  credentials_issued_at  TEXT NOT NULL,
  last_seen_at           TEXT,
  created_at             TEXT NOT NULL,
  updated_at             TEXT NOT NULL
);
CREATE INDEX cabinets_by_county ON cabinets (county_code, cabinet_id);
CREATE INDEX cabinets_by_operator ON cabinets (operator, cabinet_id);

-- One row per sale, as the cabinet chained it. sale_id is a UUIDv7 minted on
-- the cabinet, so inserts land near the right edge of the primary key.
CREATE TABLE sales (
  sale_id     TEXT PRIMARY KEY,
  cabinet_id  TEXT NOT NULL REFERENCES cabinets (cabinet_id),
  seq         INTEGER NOT NULL,
  sold_at     TEXT NOT NULL,                -- controller time (event time), kept as given
  sold_on     TEXT NOT NULL,                -- Asia/Shanghai date of sold_at
  recorded_at TEXT NOT NULL,                -- agent ledger time
  received_at TEXT NOT NULL,                -- server time the batch arrived
  payment     TEXT NOT NULL,
  total_fen   INTEGER NOT NULL,
  lines       TEXT NOT NULL,                -- JSON [{sku, qty, unitPriceFen}]
  prev_hash   TEXT NOT NULL,
  hash        TEXT NOT NULL,
  skew_flag   INTEGER NOT NULL DEFAULT 0,   -- bit 1: >24 h from recorded_at; bit 2: >5 min in the server's future
  UNIQUE (cabinet_id, seq)
);

-- Aggregates maintained in the same transaction as the sales they count, so
-- reports and certification never scan raw sales.
CREATE TABLE cabinet_sales (
  cabinet_id     TEXT PRIMARY KEY REFERENCES cabinets (cabinet_id),
  sales_count    INTEGER NOT NULL,
  amount_fen     INTEGER NOT NULL,
  skewed_count   INTEGER NOT NULL DEFAULT 0,
  last_seq       INTEGER NOT NULL,
  last_hash      TEXT NOT NULL,
  last_sale_at   TEXT,                      -- latest sold_at seen
  chain_status   TEXT NOT NULL DEFAULT 'ok' CHECK (chain_status IN ('ok', 'tampered')),
  tampered_at    TEXT,
  tampered_count INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE cabinet_day_sales (
  cabinet_id  TEXT NOT NULL REFERENCES cabinets (cabinet_id),
  day         TEXT NOT NULL,
  sales_count INTEGER NOT NULL,
  amount_fen  INTEGER NOT NULL,
  PRIMARY KEY (cabinet_id, day)
) WITHOUT ROWID;
CREATE INDEX cabinet_day_sales_by_day ON cabinet_day_sales (day);

CREATE TABLE cabinet_day_sku_sales (
  cabinet_id TEXT NOT NULL REFERENCES cabinets (cabinet_id),
  day        TEXT NOT NULL,
  sku        TEXT NOT NULL,
  qty        INTEGER NOT NULL,
  amount_fen INTEGER NOT NULL,
  PRIMARY KEY (cabinet_id, day, sku)
) WITHOUT ROWID;
CREATE INDEX cabinet_day_sku_sales_by_sku ON cabinet_day_sku_sales (sku, day);

CREATE TABLE cabinet_events (
  event_id    TEXT PRIMARY KEY,
  cabinet_id  TEXT NOT NULL REFERENCES cabinets (cabinet_id),
  kind        TEXT NOT NULL,
  at          TEXT NOT NULL,
  detail      TEXT NOT NULL,                -- JSON object
  received_at TEXT NOT NULL
);
CREATE INDEX cabinet_events_by_cabinet ON cabinet_events (cabinet_id, at);
`,
  },
]
