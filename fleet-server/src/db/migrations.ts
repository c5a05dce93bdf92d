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
  {
    version: 2,
    name: 'certification',
    sql: `
-- 扶贫产品目录: suppliers (统一社会信用代码), products, certificates. Dates are
-- Asia/Shanghai calendar dates, inclusive. Rows change only through the
-- certification service, which appends every change to catalog_history.
CREATE TABLE suppliers (
  uscc             TEXT PRIMARY KEY,
  name             TEXT NOT NULL,
  contact          TEXT,
  phone            TEXT,
  address          TEXT,
  blacklisted_from TEXT,                   -- 扶贫失信黑名单 from this date; NULL = not listed
  blacklist_reason TEXT,
  created_at       TEXT NOT NULL,
  updated_at       TEXT NOT NULL
);

CREATE TABLE products (
  sku           TEXT PRIMARY KEY,
  name          TEXT NOT NULL,
  origin        TEXT,
  category      TEXT,
  supplier_uscc TEXT NOT NULL REFERENCES suppliers (uscc),
  price_fen     INTEGER NOT NULL,
  created_at    TEXT NOT NULL,
  updated_at    TEXT NOT NULL
);
CREATE INDEX products_by_supplier ON products (supplier_uscc);

CREATE TABLE certificates (
  certificate_no TEXT PRIMARY KEY,
  sku            TEXT NOT NULL REFERENCES products (sku),
  level          TEXT NOT NULL CHECK (level IN ('county', 'city', 'province', 'national')),
  valid_from     TEXT NOT NULL,
  valid_to       TEXT NOT NULL,
  revoked_from   TEXT,                     -- not certified on and after this date; NULL = not revoked
  revoke_reason  TEXT,
  renews         TEXT REFERENCES certificates (certificate_no),
  created_at     TEXT NOT NULL,
  updated_at     TEXT NOT NULL
);
CREATE INDEX certificates_by_sku ON certificates (sku, valid_from);

-- The days each certificate actually certifies: [day_from, day_to], after
-- revocation. A sale day is certified when some span of its sku covers it.
CREATE VIEW certified_spans AS
  SELECT certificate_no, sku, valid_from AS day_from,
         CASE WHEN revoked_from IS NOT NULL AND date(revoked_from, '-1 day') < valid_to
              THEN date(revoked_from, '-1 day') ELSE valid_to END AS day_to
  FROM certificates;

CREATE TABLE catalog_history (
  id        INTEGER PRIMARY KEY,
  at        TEXT NOT NULL,
  actor     TEXT NOT NULL,
  entity    TEXT NOT NULL CHECK (entity IN ('supplier', 'product', 'certificate')),
  entity_id TEXT NOT NULL,
  action    TEXT NOT NULL,
  detail    TEXT NOT NULL                  -- JSON: the change
);
CREATE INDEX catalog_history_by_entity ON catalog_history (entity, entity_id, id);

-- Catalogs published to cabinets (cabinets/{id}/down/catalog): the version
-- counter, bumped when the content (items, prices, certified flags) changes.
CREATE TABLE catalog_versions (
  version    INTEGER PRIMARY KEY,
  hash       TEXT NOT NULL,
  issued_at  TEXT NOT NULL,
  items      TEXT NOT NULL                 -- JSON CatalogItem[]
);

-- Certified amount per cabinet and day, derived from cabinet_day_sku_sales and
-- certified_spans. A row is fresh while its sales_count/amount_fen equal the
-- cabinet_day_sales row; catalog changes delete the rows they affect.
CREATE TABLE cabinet_day_certified (
  cabinet_id    TEXT NOT NULL,
  day           TEXT NOT NULL,
  sales_count   INTEGER NOT NULL,
  amount_fen    INTEGER NOT NULL,
  certified_fen INTEGER NOT NULL,
  PRIMARY KEY (cabinet_id, day)
) WITHOUT ROWID;
CREATE INDEX cabinet_day_certified_by_day ON cabinet_day_certified (day);

-- The same per cabinet and month, rolled up from cabinet_day_certified.
CREATE TABLE cabinet_month_certified (
  cabinet_id    TEXT NOT NULL,
  month         TEXT NOT NULL,             -- YYYY-MM (Asia/Shanghai)
  sales_count   INTEGER NOT NULL,
  amount_fen    INTEGER NOT NULL,
  certified_fen INTEGER NOT NULL,
  PRIMARY KEY (cabinet_id, month)
) WITHOUT ROWID;
CREATE INDEX cabinet_month_certified_by_month ON cabinet_month_certified (month);

-- cabinet_sales totals as of a cabinet's last refresh of the two tables
-- above: they are fresh for it while cabinet_sales still shows the same
-- figures (ingest updates cabinet_sales with every new sale).
CREATE TABLE cabinet_certified_state (
  cabinet_id  TEXT PRIMARY KEY,
  sales_count INTEGER NOT NULL,
  amount_fen  INTEGER NOT NULL
) WITHOUT ROWID;

-- How far each cabinet's sales are known to be complete on the server (UTC
-- instant): every sale the cabinet recorded before it is committed.
CREATE TABLE forwarding_sync_marks (
  cabinet_id     TEXT PRIMARY KEY,
  synced_through TEXT NOT NULL,
  source         TEXT NOT NULL,
  updated_at     TEXT NOT NULL
);

-- One row per cabinet and period judged for forwarding.
CREATE TABLE forwarding_periods (
  cabinet_id    TEXT NOT NULL,
  period_id     TEXT NOT NULL,
  period_kind   TEXT NOT NULL,
  day_from      TEXT NOT NULL,
  day_to        TEXT NOT NULL,
  state         TEXT NOT NULL CHECK (state IN ('held', 'queued', 'failed')),
  reason        TEXT,                      -- held: NOT_COMPLIANT | INCOMPLETE_SYNC | CHAIN_BROKEN
  reason_detail TEXT,                      -- JSON
  revision      INTEGER NOT NULL DEFAULT 0,-- 0 = the report; n = the n-th correction
  batch_key     TEXT,                      -- the report's idempotency key
  sent_figures  TEXT,                      -- JSON of the latest figures queued for the platform
  updated_at    TEXT NOT NULL,
  PRIMARY KEY (cabinet_id, period_id)
) WITHOUT ROWID;
CREATE INDEX forwarding_periods_by_state ON forwarding_periods (state);

-- Durable outbox of platform batches. body is the exact JSON sent and signed.
CREATE TABLE forwarding_outbox (
  batch_key      TEXT PRIMARY KEY,
  kind           TEXT NOT NULL CHECK (kind IN ('report', 'correction')),
  cabinet_id     TEXT NOT NULL,
  period_id      TEXT NOT NULL,
  revision       INTEGER NOT NULL,
  body           TEXT NOT NULL,
  state          TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
  attempts       INTEGER NOT NULL DEFAULT 0,
  last_status    INTEGER,
  last_error     TEXT,
  created_at     TEXT NOT NULL,
  delivered_at   TEXT,
  UNIQUE (cabinet_id, period_id, revision)
);
CREATE INDEX forwarding_outbox_by_state ON forwarding_outbox (state, created_at);
`,
  },
  {
    version: 3,
    name: 'rollout',
    sql: `
-- Sites: the concrete place a cabinet is assigned to.
ALTER TABLE cabinets ADD COLUMN site_address TEXT;
ALTER TABLE cabinets ADD COLUMN latitude REAL;
ALTER TABLE cabinets ADD COLUMN longitude REAL;
ALTER TABLE cabinets ADD COLUMN status_since TEXT;   -- when the cabinet entered its status
UPDATE cabinets SET status_since = updated_at;
-- Rollout progress is one GROUP BY over this covering index.
CREATE INDEX cabinets_by_county_status ON cabinets (county_code, status, operator);

-- Every lifecycle transition, with who and when. from_status is NULL for the
-- creation row. county_code is copied (a cabinet never changes county) so the
-- pace query needs no join.
CREATE TABLE cabinet_transitions (
  transition_id INTEGER PRIMARY KEY,
  cabinet_id    TEXT NOT NULL REFERENCES cabinets (cabinet_id),
  county_code   TEXT NOT NULL,
  operator      TEXT,
  from_status   TEXT,
  to_status     TEXT NOT NULL,
  at            TEXT NOT NULL,
  by_user       TEXT NOT NULL,
  reason        TEXT
);
CREATE INDEX cabinet_transitions_by_cabinet ON cabinet_transitions (cabinet_id, transition_id);
CREATE INDEX cabinet_transitions_by_at ON cabinet_transitions (at, county_code);
INSERT INTO cabinet_transitions (cabinet_id, county_code, operator, from_status, to_status, at, by_user, reason)
  SELECT cabinet_id, county_code, operator, NULL, status, created_at, 'migration', 'state at schema upgrade' FROM cabinets;

-- Net change per Asia/Shanghai day of the cabinets at each rollout stage
-- (sites assigned, installed, operating), written with every transition: the
-- pace of the last days is a sum over a few hundred rows, not a scan of history.
-- operator '' = none.
CREATE TABLE rollout_day_steps (
  county_code TEXT NOT NULL,
  day         TEXT NOT NULL,
  operator    TEXT NOT NULL,
  sites       INTEGER NOT NULL,
  installed   INTEGER NOT NULL,
  operating   INTEGER NOT NULL,
  PRIMARY KEY (day, county_code, operator)
) WITHOUT ROWID;
INSERT INTO rollout_day_steps (county_code, day, operator, sites, installed, operating)
  SELECT county_code, date(created_at, '+8 hours'), coalesce(operator, ''),
         sum(status IN ('site_assigned', 'installed', 'operating', 'suspended')),
         sum(status IN ('installed', 'operating', 'suspended')),
         sum(status = 'operating')
  FROM cabinets GROUP BY 1, 2, 3;

-- Dashboard sessions: the cookie value is random; only its SHA-256 is kept.
CREATE TABLE sessions (
  session_hash TEXT PRIMARY KEY,
  user_id      TEXT NOT NULL REFERENCES users (user_id),
  created_at   TEXT NOT NULL,
  expires_at   TEXT NOT NULL
);
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

-- Alerts: one open row per (kind, subject) at a time; a condition that clears
-- closes its row, and a later recurrence opens a new one.
CREATE TABLE alerts (
  alert_id     TEXT PRIMARY KEY,
  kind         TEXT NOT NULL,
  subject      TEXT NOT NULL,             -- cabinet id, county code, sku/certificate …
  severity     TEXT NOT NULL CHECK (severity IN ('warning', 'critical')),
  county_code  TEXT,
  cabinet_id   TEXT,
  operator     TEXT,
  message      TEXT NOT NULL,
  detail       TEXT NOT NULL,             -- JSON object
  raised_at    TEXT NOT NULL,
  updated_at   TEXT NOT NULL,
  cleared_at   TEXT,
  acked_at     TEXT,
  acked_by     TEXT
);
CREATE UNIQUE INDEX alerts_open_once ON alerts (kind, subject) WHERE cleared_at IS NULL;
CREATE INDEX alerts_by_county ON alerts (county_code, raised_at);
`,
  },
  {
    version: 4,
    name: 'reports',
    sql: `
-- Reports (报表): a snapshot taken at creation and never updated; content is
-- the report document (JSON). scope: 'city', 'county:CODE', 'operator:NAME'
-- or 'operator:NAME/county:CODE'; county_code and operator repeat it for the
-- scoped list queries. period_from/period_to are Asia/Shanghai dates.
CREATE TABLE reports (
  report_id   TEXT PRIMARY KEY,
  kind        TEXT NOT NULL CHECK (kind IN ('weekly', 'monthly', 'quarterly')),
  period      TEXT NOT NULL,             -- 2020-W40, 2020-09, 2020-Q3
  period_from TEXT NOT NULL,
  period_to   TEXT NOT NULL,
  county_code TEXT,
  operator    TEXT,
  scope       TEXT NOT NULL,
  scope_name  TEXT NOT NULL,
  created_at  TEXT NOT NULL,
  created_by  TEXT NOT NULL,             -- username; 'system' for scheduled reports
  scheduled   INTEGER NOT NULL DEFAULT 0,
  content     TEXT NOT NULL
);
-- The schedule stores one report per kind, period and scope however often it runs.
CREATE UNIQUE INDEX reports_scheduled_once ON reports (kind, period, scope) WHERE scheduled = 1;
CREATE INDEX reports_by_created ON reports (created_at);
CREATE INDEX reports_by_county ON reports (county_code, created_at);
CREATE INDEX reports_by_operator ON reports (operator, created_at);
`,
  },
  {
    version: 5,
    name: 'certified-figures-at-write',
    sql: `
-- From now on ingest adds every tick's sales to cabinet_day_certified and
-- cabinet_month_certified in the tick's own transaction, and catalog changes
-- apply their delta in theirs: no query fills them any more. Rebuild both once
-- from the aggregates, so data written before this version is complete and
-- exact (the old lazy fill may have left rows missing or stale).
DELETE FROM cabinet_day_certified;
INSERT INTO cabinet_day_certified (cabinet_id, day, sales_count, amount_fen, certified_fen)
  SELECT d.cabinet_id, d.day, d.sales_count, d.amount_fen,
         coalesce((SELECT sum(s.amount_fen) FROM cabinet_day_sku_sales s
                   WHERE s.cabinet_id = d.cabinet_id AND s.day = d.day
                     AND EXISTS (SELECT 1 FROM certified_spans v WHERE v.sku = s.sku AND s.day BETWEEN v.day_from AND v.day_to)), 0)
  FROM cabinet_day_sales d;
DELETE FROM cabinet_month_certified;
INSERT INTO cabinet_month_certified (cabinet_id, month, sales_count, amount_fen, certified_fen)
  SELECT cabinet_id, substr(day, 1, 7), sum(sales_count), sum(amount_fen), sum(certified_fen)
  FROM cabinet_day_certified GROUP BY cabinet_id, substr(day, 1, 7);
-- No longer read; the table stays (released migrations are never edited).
DELETE FROM cabinet_certified_state;

-- Every manual retry of a batch the platform refused: who, when, and the
-- platform's answer it overrode (the outbox row keeps only the latest).
CREATE TABLE forwarding_retries (
  id             INTEGER PRIMARY KEY,
  batch_key      TEXT NOT NULL REFERENCES forwarding_outbox (batch_key),
  at             TEXT NOT NULL,
  by_user        TEXT NOT NULL,
  previous_status INTEGER,
  previous_error TEXT
);
CREATE INDEX forwarding_retries_by_batch ON forwarding_retries (batch_key, id);
`,
  },
  {
    version: 6,
    name: 'sales-without-global-sale-id-index',
    sql: `
-- A sale is identified by (cabinet_id, seq), which its hash chain pins; the
-- global index on sale_id was never read. It was the costliest tree to write:
-- sale ids are UUIDv7 of the controller's sale time, so a fleet reconnecting
-- after an outage inserts days of sales all over it (measured: about one
-- dirty page per sale in every commit of a backlog drain). sale_id stays as
-- a column, not unique: two sales of one chain sharing an id is an agent bug
-- whose money still changed hands, and ids of different cabinets never meet.
-- SQLite cannot drop a PRIMARY KEY, so the table is rebuilt (nothing
-- references sales; its rowid order, the arrival order, is kept).
CREATE TABLE sales_v6 (
  sale_id     TEXT NOT NULL,
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
INSERT INTO sales_v6 (rowid, sale_id, cabinet_id, seq, sold_at, sold_on, recorded_at, received_at, payment, total_fen, lines, prev_hash, hash, skew_flag)
  SELECT rowid, sale_id, cabinet_id, seq, sold_at, sold_on, recorded_at, received_at, payment, total_fen, lines, prev_hash, hash, skew_flag
  FROM sales ORDER BY rowid;
DROP TABLE sales;
ALTER TABLE sales_v6 RENAME TO sales;
`,
  },
  {
    version: 7,
    name: 'sale-flags',
    sql: `
-- Issue 12: a properly chained sale reusing an earlier saleId of its cabinet is
-- stored (money changed hands) but flagged, and its periods are held from
-- forwarding until an official resolves the flag. The lookup is per cabinet:
-- ids of different cabinets never meet, and within a cabinet UUIDv7 ids of
-- sales in seq order insert at the right edge of its part of this index, so a
-- backlog drain dirties about one leaf per cabinet per commit, like
-- UNIQUE (cabinet_id, seq) does (unlike the global index dropped in version 6).
-- seq is in the key so "the earliest sale with this id" is one probe: without
-- it the planner walks the cabinet's whole (cabinet_id, seq) range instead.
CREATE INDEX sales_by_cabinet_sale_id ON sales (cabinet_id, sale_id, seq);

CREATE TABLE sale_flags (
  flag_id         INTEGER PRIMARY KEY,
  kind            TEXT NOT NULL CHECK (kind IN ('SALE_ID_REUSED')),
  cabinet_id      TEXT NOT NULL REFERENCES cabinets (cabinet_id),
  seq             INTEGER NOT NULL,           -- the flagged sale
  sale_id         TEXT NOT NULL,
  earlier_seq     INTEGER NOT NULL,           -- the first sale of the cabinet with that sale_id
  sold_on         TEXT NOT NULL,              -- Asia/Shanghai dates of both: the periods held
  earlier_sold_on TEXT NOT NULL,
  flagged_at      TEXT NOT NULL,
  resolution      TEXT CHECK (resolution IN ('genuine', 'duplicate', 'other')),
  note            TEXT,
  resolved_by     TEXT,                       -- username
  resolved_at     TEXT,
  UNIQUE (cabinet_id, seq, kind)
);
-- Forwarding reads the open flags of a slice of cabinets on every pass.
CREATE INDEX sale_flags_open ON sale_flags (cabinet_id) WHERE resolved_at IS NULL;
CREATE INDEX sale_flags_by_flagged ON sale_flags (flagged_at);

-- Reuses already stored before this version are flagged too: nothing is lost,
-- and their periods wait for an official like new ones.
INSERT INTO sale_flags (kind, cabinet_id, seq, sale_id, earlier_seq, sold_on, earlier_sold_on, flagged_at)
  SELECT 'SALE_ID_REUSED', s.cabinet_id, s.seq, s.sale_id, e.seq, s.sold_on, e.sold_on, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
  FROM sales s
  JOIN sales e ON e.cabinet_id = s.cabinet_id AND e.sale_id = s.sale_id
   AND e.seq = (SELECT min(x.seq) FROM sales x WHERE x.cabinet_id = s.cabinet_id AND x.sale_id = s.sale_id)
  WHERE s.seq > e.seq;
`,
  },
  {
    version: 8,
    name: 'login-failures',
    sql: `
-- Issue 13: failed dashboard logins counted in the database, so every server
-- process on it sees the same count (the throttle in access/login-throttle.ts).
-- One row per (username, client address) pair and one per address; username
-- is lower-cased, '' on the address rows. Times are epoch milliseconds.
CREATE TABLE login_failures (
  kind            TEXT NOT NULL CHECK (kind IN ('pair', 'address')),
  username        TEXT NOT NULL,
  address         TEXT NOT NULL,
  first_at_ms     INTEGER NOT NULL,             -- start of the counting window
  failures        INTEGER NOT NULL,
  locked_until_ms INTEGER NOT NULL,             -- 0 = not locked
  PRIMARY KEY (kind, username, address)
);
-- Pruning finds the rows whose window has passed.
CREATE INDEX login_failures_by_first ON login_failures (first_at_ms);
`,
  },
  {
    version: 9,
    name: 'shared-presence',
    sql: `
-- Issue 13: which cabinets are connected to which fleet-server process, so
-- replicas on one PostgreSQL agree on "online". Written only on PostgreSQL
-- (an SQLite file has one server, which keeps presence in memory); created on
-- both so the schemas stay one. Times are epoch milliseconds of the database clock.
CREATE TABLE fleet_servers (
  server_id     TEXT PRIMARY KEY,
  started_at_ms INTEGER NOT NULL,
  seen_at_ms    INTEGER NOT NULL              -- heartbeat; stale = the process is gone
);
CREATE TABLE cabinet_presence (
  cabinet_id TEXT PRIMARY KEY,
  server_id  TEXT NOT NULL,                   -- the process whose broker holds the session
  since_ms   INTEGER NOT NULL
);
CREATE INDEX cabinet_presence_by_server ON cabinet_presence (server_id);
`,
  },
  {
    version: 10,
    name: 'clock-flags',
    sql: `
-- Issue 13: cabinets whose latest clock reading is beyond the limit
-- (CLOCK_SKEW), one row each, written by the server that judged it, so the
-- alert evaluated in the leading server sees cabinets connected to any
-- server. A reading within the limit deletes the row.
CREATE TABLE cabinet_clock_flags (
  cabinet_id TEXT PRIMARY KEY,
  skew_s     INTEGER NOT NULL,                -- server receipt minus device send time; positive = device behind
  source     TEXT NOT NULL,                   -- heartbeat | sale
  judged_at  TEXT NOT NULL
);
`,
  },
  {
    version: 11,
    name: 'sales-fold',
    sql: `
-- Issue 13 (ingest cost): on SQLite an ingest tick writes only the sales.
-- Their aggregates, certified figures and sale-id checks are folded in later
-- (sales/fold.ts), in bulk, before anyone else reads or writes (db/database.ts
-- setDerived): every per-cabinet tree written in a tick costs a page per
-- cabinet per commit, and these were most of them. The fold commits with
-- the rowid of the last sale it folded, so after a crash it resumes there.
-- sale_ids replaces the index sales_by_cabinet_sale_id (migration 7): the
-- same lookup ("the earliest sale of this cabinet with this id"), written by
-- the fold instead of by every tick.
CREATE TABLE sale_ids (
  cabinet_id TEXT NOT NULL,
  sale_id    TEXT NOT NULL,
  seq        INTEGER NOT NULL,
  sold_on    TEXT NOT NULL,
  PRIMARY KEY (cabinet_id, sale_id, seq)
) WITHOUT ROWID;
INSERT INTO sale_ids (cabinet_id, sale_id, seq, sold_on) SELECT cabinet_id, sale_id, seq, sold_on FROM sales;
DROP INDEX IF EXISTS sales_by_cabinet_sale_id;
-- Every sale stored so far was aggregated with it.
INSERT OR REPLACE INTO meta (key, value) VALUES ('sales_folded_rowid', (SELECT CAST(coalesce(max(rowid), 0) AS TEXT) FROM sales));
`,
  },
  {
    version: 12,
    name: 'certification-workflow',
    sql: `
-- Issue 15: the certification workflow. A supplier's registration county
-- (whose officials review its applications) and the operating company that
-- registered it, in a table of their own (migrations create, never alter: a
-- supplier registered before has no row and is admin-only until one is set).
-- An application runs review steps → 公示 → effective (or rejected); every
-- step is an event row; objections during 公示 are rows of their own. One
-- open application per sku, by constraint.
CREATE TABLE supplier_owners (
  uscc        TEXT PRIMARY KEY REFERENCES suppliers (uscc),
  county_code TEXT,
  operator    TEXT,
  updated_at  TEXT NOT NULL
);
CREATE INDEX supplier_owners_by_county ON supplier_owners (county_code);

CREATE TABLE cert_applications (
  application_id         INTEGER PRIMARY KEY,
  kind                   TEXT NOT NULL CHECK (kind IN ('new', 'renewal', 'change')),
  supplier_uscc          TEXT NOT NULL REFERENCES suppliers (uscc),
  sku                    TEXT NOT NULL,
  renews                 TEXT REFERENCES certificates (certificate_no),
  facts                  TEXT,                 -- JSON: new: the declared product; change: the changed facts
  note                   TEXT,
  state                  TEXT NOT NULL CHECK (state IN ('county_review', 'city_review', 'province_review', 'publicity', 'on_hold', 'effective', 'rejected')),
  review_steps           TEXT NOT NULL,        -- JSON array: the plan's steps at filing
  publicity_working_days INTEGER NOT NULL,
  validity_months        INTEGER NOT NULL,
  publicity_from         TEXT,                 -- 公示, Asia/Shanghai dates, inclusive
  publicity_to           TEXT,
  effective_from         TEXT,                 -- the day after publicity_to
  certificate_no         TEXT,
  reject_reason          TEXT,
  filed_by               TEXT NOT NULL,
  filed_role             TEXT NOT NULL,
  filed_operator         TEXT,
  filed_at               TEXT NOT NULL,
  updated_at             TEXT NOT NULL,
  decided_at             TEXT
);
CREATE UNIQUE INDEX cert_applications_open_sku ON cert_applications (sku) WHERE state NOT IN ('effective', 'rejected');
CREATE INDEX cert_applications_by_state ON cert_applications (state, effective_from);
CREATE INDEX cert_applications_by_supplier ON cert_applications (supplier_uscc);

CREATE TABLE cert_objections (
  objection_id   INTEGER PRIMARY KEY,
  application_id INTEGER NOT NULL REFERENCES cert_applications (application_id),
  state          TEXT NOT NULL CHECK (state IN ('open', 'upheld', 'dismissed', 'moot')),
  reason         TEXT NOT NULL,
  objector       TEXT,
  lodged_by      TEXT NOT NULL,
  lodged_at      TEXT NOT NULL,
  resolved_by    TEXT,
  resolved_at    TEXT,
  resolution     TEXT
);
CREATE INDEX cert_objections_by_application ON cert_objections (application_id);

CREATE TABLE cert_application_events (
  event_id       INTEGER PRIMARY KEY,
  application_id INTEGER NOT NULL REFERENCES cert_applications (application_id),
  at             TEXT NOT NULL,
  actor          TEXT NOT NULL,
  role           TEXT NOT NULL,
  action         TEXT NOT NULL,
  from_state     TEXT,
  to_state       TEXT,
  reason         TEXT,
  objection_id   INTEGER,
  detail         TEXT NOT NULL                 -- JSON
);
CREATE INDEX cert_application_events_by_application ON cert_application_events (application_id, event_id);
`,
  },
  {
    version: 13,
    name: 'product-facts',
    sql: `
-- Issue 15: the product facts the policy documents list (常德: 种养规模, 年产量,
-- 上市季节, 市场价格区间, 经营主体, 带动贫困人口数; 章贡区: 生产资料来源,
-- 供货时间), one optional row per product in a table of its own (migrations
-- create, never alter: a product listed before has no row and no facts).
CREATE TABLE product_facts (
  sku               TEXT PRIMARY KEY REFERENCES products (sku),
  scale             TEXT,                   -- 生产规模, as written (e.g. "蜂群 300 箱")
  annual_output     TEXT,                   -- 年产量, as written (e.g. "5000 公斤")
  supply_period     TEXT,                   -- 供货时间 / 上市季节 (e.g. "全年", "9月至12月")
  price_min_fen     INTEGER,                -- 价格区间, fen; both or neither
  price_max_fen     INTEGER,
  operator          TEXT,                   -- 经营主体: who produces or runs it
  households_helped INTEGER,                -- 带贫人数: poor households it helps
  material_source   TEXT,                   -- 生产资料来源
  updated_at        TEXT NOT NULL
);
`,
  },
  {
    version: 14,
    name: 'bootstrap-codes',
    sql: `
-- Issue 16 (deployment): one-time codes an operator hands to a cabinet's
-- board, which trades one for the cabinet's credentials (cabinets/enroll.ts).
-- Only the code's SHA-256 is kept. A used code stays (used_at set) so a
-- second use is told "used"; a new code deletes the cabinet's unused ones.
CREATE TABLE bootstrap_codes (
  code_hash  TEXT PRIMARY KEY,
  cabinet_id TEXT NOT NULL,
  issued_by  TEXT NOT NULL,
  issued_at  TEXT NOT NULL,
  expires_at TEXT NOT NULL,
  used_at    TEXT
);
CREATE INDEX bootstrap_codes_by_cabinet ON bootstrap_codes (cabinet_id);
-- The Ed25519 public key the cabinet's agent registered when it enrolled
-- (SPKI PEM), and whether its first contact since then was seen.
CREATE TABLE cabinet_keys (
  cabinet_id       TEXT PRIMARY KEY,
  public_key       TEXT NOT NULL,
  enrolled_at      TEXT NOT NULL,
  first_contact_at TEXT
);
`,
  },
  {
    version: 15,
    name: 'cabinet-commands',
    sql: `
-- Issue 16 §5: remote commands to cabinets. One row per command: who sent it
-- and when, its expiry, each state change's time and the cabinet's result.
-- Undelivered ones (pending, before expires_at) are resent on every reconnect.
CREATE TABLE cabinet_commands (
  command_id   TEXT PRIMARY KEY,
  cabinet_id   TEXT NOT NULL REFERENCES cabinets (cabinet_id),
  kind         TEXT NOT NULL CHECK (kind IN ('price', 'planogram', 'catalog-refresh', 'sync', 'restart', 'lock', 'unlock')),
  params       TEXT NOT NULL,            -- JSON object
  state        TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'done', 'failed', 'expired')),
  result       TEXT,                     -- JSON object, with done/failed
  sent_by      TEXT NOT NULL,            -- username
  sent_role    TEXT NOT NULL,
  issued_at    TEXT NOT NULL,
  expires_at   TEXT NOT NULL,
  delivered_at TEXT,
  completed_at TEXT,
  expired_at   TEXT
);
CREATE INDEX cabinet_commands_by_cabinet ON cabinet_commands (cabinet_id, issued_at);
CREATE INDEX cabinet_commands_pending ON cabinet_commands (cabinet_id, expires_at) WHERE state = 'pending';
`,
  },
  {
    version: 16,
    name: 'signed-sales',
    sql: `
-- Issue 16 §2: the Ed25519 signature an enrolled cabinet put on each sale
-- batch, kept with the batch's sales (written in the same ingest transaction)
-- so an auditor can verify the month's records offline. It covers the hashes
-- of seqs first_seq..last_seq (the whole batch as sent).
CREATE TABLE sale_batch_signatures (
  cabinet_id  TEXT NOT NULL REFERENCES cabinets (cabinet_id),
  batch_id    TEXT NOT NULL,
  first_seq   INTEGER NOT NULL,
  last_seq    INTEGER NOT NULL,
  sig         TEXT NOT NULL,            -- base64, 64 bytes
  received_at TEXT NOT NULL,
  PRIMARY KEY (cabinet_id, batch_id)
);
CREATE INDEX sale_batch_signatures_by_seq ON sale_batch_signatures (cabinet_id, last_seq);
-- An enrolled cabinet whose batches were refused for their signature (missing
-- or wrong: its MQTT login may be in other hands). One row per cabinet; the
-- ingest writes it at most once per interval however many batches it refuses.
CREATE TABLE sale_signature_flags (
  cabinet_id     TEXT PRIMARY KEY REFERENCES cabinets (cabinet_id),
  code           TEXT NOT NULL CHECK (code IN ('SIGNATURE_MISSING', 'SIGNATURE_INVALID')),
  first_at       TEXT NOT NULL,
  last_at        TEXT NOT NULL,
  rejected_count INTEGER NOT NULL
);
`,
  },
  {
    version: 17,
    name: 'notifications',
    sql: `
-- Issue 16 §6: users' webhook subscriptions to alerts, and the outbox of
-- notifications owed to them. An outbox row is written in the transaction
-- that raises or clears the alert, once per (subscription, alert,
-- transition) by its key: that key is the de-duplication. Whether the owner
-- may see the alert is judged again when the row is due (notifications/).
-- No foreign keys: a subscription's rows go with it (its DELETE), and alerts
-- are another domain's table.
CREATE TABLE notification_subscriptions (
  subscription_id TEXT PRIMARY KEY,
  user_id         TEXT NOT NULL,
  url             TEXT NOT NULL,
  format          TEXT NOT NULL CHECK (format IN ('json', 'wecom', 'dingtalk')),
  kinds           TEXT,                  -- JSON array of alert kinds; NULL = all
  min_severity    TEXT NOT NULL CHECK (min_severity IN ('warning', 'critical')),
  secret          TEXT,                  -- 钉钉 加签 secret
  created_at      TEXT NOT NULL
);
CREATE INDEX notification_subscriptions_by_user ON notification_subscriptions (user_id);
CREATE TABLE notification_outbox (
  subscription_id TEXT NOT NULL,
  alert_id        TEXT NOT NULL,
  event           TEXT NOT NULL CHECK (event IN ('raised', 'cleared')),
  -- The alert as the transition left it: what is sent, and whose scope it is in.
  kind            TEXT NOT NULL,
  severity        TEXT NOT NULL,
  county_code     TEXT,
  cabinet_id      TEXT,
  operator        TEXT,
  message         TEXT NOT NULL,
  raised_at       TEXT NOT NULL,
  cleared_at      TEXT,
  state           TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed', 'skipped')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  created_at      TEXT NOT NULL,
  due_at          TEXT NOT NULL,
  sent_at         TEXT,
  claim           TEXT,                  -- the send in flight (a pass's id), so no two passes send a row
  claimed_at      TEXT,
  digest_id       TEXT,                  -- set when a digest message carried it
  last_error      TEXT,
  PRIMARY KEY (subscription_id, alert_id, event)
);
CREATE INDEX notification_outbox_due ON notification_outbox (due_at, subscription_id) WHERE state = 'pending';
CREATE INDEX notification_outbox_recent ON notification_outbox (subscription_id, created_at);
`,
  },
  {
    version: 18,
    name: 'stock',
    sql: `
-- Issue 16 §3: each cabinet's planogram as the operator set it (and the
-- command that carries it), and its stock by slot as last reported (the
-- newest rev wins; an older report arriving late is ignored).
CREATE TABLE cabinet_planograms (
  cabinet_id TEXT PRIMARY KEY REFERENCES cabinets (cabinet_id),
  slots      TEXT NOT NULL,             -- JSON [{slot, sku, capacity, par}]
  command_id TEXT NOT NULL,
  set_by     TEXT NOT NULL,
  set_at     TEXT NOT NULL
);
CREATE TABLE cabinet_stock_reports (
  cabinet_id  TEXT PRIMARY KEY REFERENCES cabinets (cabinet_id),
  rev         INTEGER NOT NULL,
  sent_at     TEXT NOT NULL,
  reported_at TEXT NOT NULL
);
CREATE TABLE cabinet_stock (
  cabinet_id TEXT NOT NULL REFERENCES cabinets (cabinet_id),
  slot       TEXT NOT NULL,
  sku        TEXT NOT NULL,
  capacity   INTEGER NOT NULL,
  par        INTEGER NOT NULL,
  qty        INTEGER NOT NULL,
  oversold   INTEGER NOT NULL,
  PRIMARY KEY (cabinet_id, slot)
);
-- The restock command kind: SQLite cannot alter a CHECK, so the table is rebuilt.
CREATE TABLE cabinet_commands_new (
  command_id   TEXT PRIMARY KEY,
  cabinet_id   TEXT NOT NULL REFERENCES cabinets (cabinet_id),
  kind         TEXT NOT NULL CHECK (kind IN ('price', 'planogram', 'catalog-refresh', 'sync', 'restart', 'lock', 'unlock', 'restock')),
  params       TEXT NOT NULL,
  state        TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'done', 'failed', 'expired')),
  result       TEXT,
  sent_by      TEXT NOT NULL,
  sent_role    TEXT NOT NULL,
  issued_at    TEXT NOT NULL,
  expires_at   TEXT NOT NULL,
  delivered_at TEXT,
  completed_at TEXT,
  expired_at   TEXT
);
INSERT INTO cabinet_commands_new SELECT * FROM cabinet_commands;
DROP TABLE cabinet_commands;
ALTER TABLE cabinet_commands_new RENAME TO cabinet_commands;
CREATE INDEX cabinet_commands_by_cabinet ON cabinet_commands (cabinet_id, issued_at);
CREATE INDEX cabinet_commands_pending ON cabinet_commands (cabinet_id, expires_at) WHERE state = 'pending';
`,
  },
  {
    version: 19,
    name: 'telemetry',
    sql: `
-- Issue 16 §4: telemetry. Raw readings for FLEET_TELEMETRY_RAW_DAYS, hourly
-- rows kept longer (FLEET_TELEMETRY_HOURLY_DAYS), and one "latest" row per
-- cabinet holding what the alert rules read, computed at write time from the
-- previous latest (so any replica's leader job can evaluate the rules).
-- No foreign keys: the broker authenticated the cabinet, and the raw table
-- takes a row per cabinet per minute.
CREATE TABLE telemetry_raw (
  cabinet_id          TEXT NOT NULL,
  received_at         TEXT NOT NULL,   -- the server's clock
  sent_at             TEXT NOT NULL,   -- the cabinet's clock
  agent_instance_id   TEXT NOT NULL,
  temperature_c       REAL,
  door_open           INTEGER NOT NULL,      -- 0/1
  fault_count         INTEGER NOT NULL,
  disk_used_pct       REAL,
  outbox_pending      INTEGER NOT NULL,
  outbox_oldest_age_s REAL NOT NULL
);
CREATE INDEX telemetry_raw_by_cabinet ON telemetry_raw (cabinet_id, received_at);
CREATE INDEX telemetry_raw_by_time ON telemetry_raw (received_at);
CREATE TABLE telemetry_hourly (
  cabinet_id          TEXT NOT NULL,
  hour                TEXT NOT NULL,   -- 'YYYY-MM-DDTHH' UTC
  readings            INTEGER NOT NULL,
  temp_min_c          REAL,
  temp_max_c          REAL,
  temp_avg_c          REAL,
  door_open_minutes   INTEGER NOT NULL,
  disk_max_pct        REAL,
  outbox_max_age_s    REAL NOT NULL,
  fault_count         INTEGER NOT NULL,      -- most faults active at once
  PRIMARY KEY (cabinet_id, hour)
);
CREATE INDEX telemetry_hourly_by_hour ON telemetry_hourly (hour);
CREATE TABLE telemetry_latest (
  cabinet_id          TEXT PRIMARY KEY,
  received_at         TEXT NOT NULL,
  sent_at             TEXT NOT NULL,
  agent_instance_id   TEXT NOT NULL,
  agent_version       TEXT NOT NULL,
  chilled             INTEGER NOT NULL,
  temperature_c       REAL,
  temp_above_since    TEXT,            -- received_at of the first reading above the limit in this run
  door_open           INTEGER NOT NULL,
  door_open_since     TEXT,            -- server clock
  faults              TEXT NOT NULL,   -- JSON [{module, code, since}]
  disk_used_pct       REAL,
  outbox_pending      INTEGER NOT NULL,
  outbox_oldest_age_s REAL NOT NULL,
  ledger_bytes        INTEGER NOT NULL,
  agents_seen         TEXT NOT NULL    -- JSON {agentInstanceId: lastReceivedAt}, recent ones only
);
`,
  },
  {
    version: 20,
    name: 'tamper-reviews',
    sql: `
-- Issue 16 §4: a ledger_tampered cabinet is judged by an official (admin or
-- its county), who clears the flag with a note. Every review is kept: who,
-- when, why, and the tampering it cleared (a table of its own: later
-- migrations create, they never alter an older table).
CREATE TABLE tamper_reviews (
  review_id INTEGER PRIMARY KEY,
  cabinet_id     TEXT NOT NULL,
  tampered_at    TEXT,
  tampered_count INTEGER NOT NULL,
  reviewed_at    TEXT NOT NULL,
  reviewed_by    TEXT NOT NULL,
  note           TEXT NOT NULL
);
CREATE INDEX tamper_reviews_by_cabinet ON tamper_reviews (cabinet_id, reviewed_at);
`,
  },
  {
    version: 21,
    name: 'ingest-write-costs',
    // PostgreSQL only (room on the running-total tables' pages for their
    // updates; the sales foreign key checked per tick: see migrations-pg.ts).
    // SQLite has no fillfactor, and its per-row foreign key check is an index
    // probe in process. The number is taken here too: one version sequence.
    sql: `SELECT 1;`,
  },
]
