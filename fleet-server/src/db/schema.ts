// Kysely types of the fleet database, the same on SQLite and PostgreSQL.
// Generated from the migrated SQLite schema (PRAGMA table_info) and kept by
// hand since: a migration that adds or changes a column updates this file,
// and test/fleet-server/db/schema.test.ts checks both engines against it.
// Money is integer fen (number), instants UTC ISO strings, days YYYY-MM-DD.
import type { Generated } from 'kysely'

export interface AlertsTable {
  alert_id: string
  kind: string
  subject: string
  severity: string
  county_code: string | null
  cabinet_id: string | null
  operator: string | null
  message: string
  detail: string
  raised_at: string
  updated_at: string
  cleared_at: string | null
  acked_at: string | null
  acked_by: string | null
}

export interface CabinetCertifiedStateTable {
  cabinet_id: string
  sales_count: number
  amount_fen: number
}

export interface CabinetDayCertifiedTable {
  cabinet_id: string
  day: string
  sales_count: number
  amount_fen: number
  certified_fen: number
}

export interface CabinetDaySalesTable {
  cabinet_id: string
  day: string
  sales_count: number
  amount_fen: number
}

export interface CabinetDaySkuSalesTable {
  cabinet_id: string
  day: string
  sku: string
  qty: number
  amount_fen: number
}

export interface CabinetEventsTable {
  event_id: string
  cabinet_id: string
  kind: string
  at: string
  detail: string
  received_at: string
}

export interface CabinetMonthCertifiedTable {
  cabinet_id: string
  month: string
  sales_count: number
  amount_fen: number
  certified_fen: number
}

export interface CabinetSalesTable {
  cabinet_id: string
  sales_count: number
  amount_fen: number
  skewed_count: Generated<number>
  last_seq: number
  last_hash: string
  last_sale_at: string | null
  chain_status: Generated<string>
  tampered_at: string | null
  tampered_count: Generated<number>
}

export interface TamperReviewsTable {
  review_id: Generated<number>
  cabinet_id: string
  tampered_at: string | null
  tampered_count: number
  reviewed_at: string
  reviewed_by: string
  note: string
}

export interface CabinetTransitionsTable {
  transition_id: Generated<number>
  cabinet_id: string
  county_code: string
  operator: string | null
  from_status: string | null
  to_status: string
  at: string
  by_user: string
  reason: string | null
}

export interface CabinetsTable {
  cabinet_id: string
  county_code: string
  operator: string | null
  site_name: string | null
  venue_type: string | null
  status: string
  secret_hash: string
  credentials_issued_at: string
  last_seen_at: string | null
  created_at: string
  updated_at: string
  site_address: string | null
  latitude: number | null
  longitude: number | null
  status_since: string | null
}

export interface CatalogHistoryTable {
  id: Generated<number>
  at: string
  actor: string
  entity: string
  entity_id: string
  action: string
  detail: string
}

export interface CatalogVersionsTable {
  version: Generated<number>
  hash: string
  issued_at: string
  items: string
}

export interface CertificatesTable {
  certificate_no: string
  sku: string
  level: string
  valid_from: string
  valid_to: string
  revoked_from: string | null
  revoke_reason: string | null
  renews: string | null
  created_at: string
  updated_at: string
}

export interface CertifiedSpansTable {
  certificate_no: string | null
  sku: string | null
  day_from: string | null
  day_to: string | null
}

export interface ForwardingOutboxTable {
  batch_key: string
  kind: string
  cabinet_id: string
  period_id: string
  revision: number
  body: string
  state: string
  attempts: Generated<number>
  last_status: number | null
  last_error: string | null
  created_at: string
  delivered_at: string | null
}

export interface ForwardingPeriodsTable {
  cabinet_id: string
  period_id: string
  period_kind: string
  day_from: string
  day_to: string
  state: string
  reason: string | null
  reason_detail: string | null
  revision: Generated<number>
  batch_key: string | null
  sent_figures: string | null
  updated_at: string
}

export interface ForwardingRetriesTable {
  id: Generated<number>
  batch_key: string
  at: string
  by_user: string
  previous_status: number | null
  previous_error: string | null
}

export interface ForwardingSyncMarksTable {
  cabinet_id: string
  synced_through: string
  source: string
  updated_at: string
}

/** Migration 9: fleet-server processes on a shared (PostgreSQL) database. */
export interface FleetServersTable {
  server_id: string
  started_at_ms: number
  seen_at_ms: number
}

/** Migration 9: the process whose broker holds each connected cabinet (PostgreSQL only). */
export interface CabinetClockFlagsTable {
  cabinet_id: string
  skew_s: number
  source: string
  judged_at: string
}

export interface CabinetPresenceTable {
  cabinet_id: string
  server_id: string
  since_ms: number
}

export interface BootstrapCodesTable {
  code_hash: string
  cabinet_id: string
  issued_by: string
  issued_at: string
  expires_at: string
  used_at: string | null
}

export interface CabinetKeysTable {
  cabinet_id: string
  public_key: string
  enrolled_at: string
  first_contact_at: string | null
}

export interface SaleBatchSignaturesTable {
  cabinet_id: string
  batch_id: string
  first_seq: number
  last_seq: number
  sig: string
  received_at: string
}

export interface SaleSignatureFlagsTable {
  cabinet_id: string
  code: string
  first_at: string
  last_at: string
  rejected_count: number
}

export interface LoginFailuresTable {
  kind: string
  username: string
  address: string
  first_at_ms: number
  failures: number
  locked_until_ms: number
}

export interface MetaTable {
  key: string
  value: string
}

export interface ProductsTable {
  sku: string
  name: string
  origin: string | null
  category: string | null
  supplier_uscc: string
  price_fen: number
  created_at: string
  updated_at: string
}

/** Issue 15: the policy's product facts (migration 13). */
export interface ProductFactsTable {
  sku: string
  scale: string | null
  annual_output: string | null
  supply_period: string | null
  price_min_fen: number | null
  price_max_fen: number | null
  operator: string | null
  households_helped: number | null
  material_source: string | null
  updated_at: string
}

export interface ReportsTable {
  report_id: string
  kind: string
  period: string
  period_from: string
  period_to: string
  county_code: string | null
  operator: string | null
  scope: string
  scope_name: string
  created_at: string
  created_by: string
  scheduled: Generated<number>
  content: string
}

export interface RolloutDayStepsTable {
  county_code: string
  day: string
  operator: string
  sites: number
  installed: number
  operating: number
}

export interface SaleIdsTable {
  cabinet_id: string
  sale_id: string
  seq: number
  sold_on: string
}

export interface CabinetCommandsTable {
  command_id: string
  cabinet_id: string
  kind: string
  params: string
  state: string
  result: string | null
  sent_by: string
  sent_role: string
  issued_at: string
  expires_at: string
  delivered_at: string | null
  completed_at: string | null
  expired_at: string | null
}

export interface CabinetPlanogramsTable {
  cabinet_id: string
  slots: string
  command_id: string
  set_by: string
  set_at: string
}

export interface CabinetStockReportsTable {
  cabinet_id: string
  rev: number
  sent_at: string
  reported_at: string
}

export interface CabinetStockTable {
  cabinet_id: string
  slot: string
  sku: string
  capacity: number
  par: number
  qty: number
  oversold: number
}

export interface SaleFlagsTable {
  flag_id: Generated<number>
  kind: string
  cabinet_id: string
  seq: number
  sale_id: string
  earlier_seq: number
  sold_on: string
  earlier_sold_on: string
  flagged_at: string
  resolution: string | null
  note: string | null
  resolved_by: string | null
  resolved_at: string | null
}

export interface SalesTable {
  sale_id: string
  cabinet_id: string
  seq: number
  sold_at: string
  sold_on: string
  recorded_at: string
  received_at: string
  payment: string
  total_fen: number
  lines: string
  prev_hash: string
  hash: string
  skew_flag: Generated<number>
}

export interface SessionsTable {
  session_hash: string
  user_id: string
  created_at: string
  expires_at: string
}

export interface SuppliersTable {
  uscc: string
  name: string
  contact: string | null
  phone: string | null
  address: string | null
  blacklisted_from: string | null
  blacklist_reason: string | null
  created_at: string
  updated_at: string
}

export interface SupplierOwnersTable {
  uscc: string
  county_code: string | null
  operator: string | null
  updated_at: string
}

export interface CertApplicationsTable {
  application_id: Generated<number>
  kind: string
  supplier_uscc: string
  sku: string
  renews: string | null
  facts: string | null
  note: string | null
  state: string
  review_steps: string
  publicity_working_days: number
  validity_months: number
  publicity_from: string | null
  publicity_to: string | null
  effective_from: string | null
  certificate_no: string | null
  reject_reason: string | null
  filed_by: string
  filed_role: string
  filed_operator: string | null
  filed_at: string
  updated_at: string
  decided_at: string | null
}

export interface CertObjectionsTable {
  objection_id: Generated<number>
  application_id: number
  state: string
  reason: string
  objector: string | null
  lodged_by: string
  lodged_at: string
  resolved_by: string | null
  resolved_at: string | null
  resolution: string | null
}

export interface CertApplicationEventsTable {
  event_id: Generated<number>
  application_id: number
  at: string
  actor: string
  role: string
  action: string
  from_state: string | null
  to_state: string | null
  reason: string | null
  objection_id: number | null
  detail: string
}

export interface NotificationSubscriptionsTable {
  subscription_id: string
  user_id: string
  url: string
  format: string
  kinds: string | null
  min_severity: string
  secret: string | null
  created_at: string
}

export interface NotificationOutboxTable {
  subscription_id: string
  alert_id: string
  event: string
  kind: string
  severity: string
  county_code: string | null
  cabinet_id: string | null
  operator: string | null
  message: string
  raised_at: string
  cleared_at: string | null
  state: string
  attempts: Generated<number>
  created_at: string
  due_at: string
  sent_at: string | null
  claim: string | null
  claimed_at: string | null
  digest_id: string | null
  last_error: string | null
}

export interface UsersTable {
  user_id: string
  username: string
  role: string
  county_code: string | null
  operator: string | null
  token_hash: string
  password_hash: string | null
  is_builtin: Generated<number>
  created_at: string
}

/** Issue 16 §4: one telemetry reading as received (kept FLEET_TELEMETRY_RAW_DAYS). */
export interface TelemetryRawTable {
  cabinet_id: string
  received_at: string
  sent_at: string
  agent_instance_id: string
  temperature_c: number | null
  door_open: number
  fault_count: number
  disk_used_pct: number | null
  outbox_pending: number
  outbox_oldest_age_s: number
}

/** A cabinet's readings of one UTC hour, downsampled from telemetry_raw. */
export interface TelemetryHourlyTable {
  cabinet_id: string
  hour: string
  readings: number
  temp_min_c: number | null
  temp_max_c: number | null
  temp_avg_c: number | null
  door_open_minutes: number
  disk_max_pct: number | null
  outbox_max_age_s: number
  fault_count: number
}

/** A cabinet's latest reading and what the alert rules need, computed at write time. */
export interface TelemetryLatestTable {
  cabinet_id: string
  received_at: string
  sent_at: string
  agent_instance_id: string
  agent_version: string
  chilled: number
  temperature_c: number | null
  temp_above_since: string | null
  door_open: number
  door_open_since: string | null
  faults: string
  disk_used_pct: number | null
  outbox_pending: number
  outbox_oldest_age_s: number
  ledger_bytes: number
  agents_seen: string
}

/** Every table and view, by name. */
export interface Schema {
  alerts: AlertsTable
  cabinet_certified_state: CabinetCertifiedStateTable
  cabinet_day_certified: CabinetDayCertifiedTable
  cabinet_day_sales: CabinetDaySalesTable
  cabinet_day_sku_sales: CabinetDaySkuSalesTable
  cabinet_events: CabinetEventsTable
  cabinet_month_certified: CabinetMonthCertifiedTable
  cabinet_sales: CabinetSalesTable
  cabinet_transitions: CabinetTransitionsTable
  cabinets: CabinetsTable
  catalog_history: CatalogHistoryTable
  catalog_versions: CatalogVersionsTable
  cert_application_events: CertApplicationEventsTable
  cert_applications: CertApplicationsTable
  cert_objections: CertObjectionsTable
  certificates: CertificatesTable
  certified_spans: CertifiedSpansTable
  forwarding_outbox: ForwardingOutboxTable
  forwarding_periods: ForwardingPeriodsTable
  forwarding_retries: ForwardingRetriesTable
  forwarding_sync_marks: ForwardingSyncMarksTable
  login_failures: LoginFailuresTable
  fleet_servers: FleetServersTable
  cabinet_presence: CabinetPresenceTable
  cabinet_clock_flags: CabinetClockFlagsTable
  cabinet_commands: CabinetCommandsTable
  meta: MetaTable
  products: ProductsTable
  product_facts: ProductFactsTable
  reports: ReportsTable
  rollout_day_steps: RolloutDayStepsTable
  sale_flags: SaleFlagsTable
  sale_ids: SaleIdsTable
  sales: SalesTable
  sessions: SessionsTable
  suppliers: SuppliersTable
  supplier_owners: SupplierOwnersTable
  users: UsersTable
  bootstrap_codes: BootstrapCodesTable
  cabinet_keys: CabinetKeysTable
  tamper_reviews: TamperReviewsTable
  sale_batch_signatures: SaleBatchSignaturesTable
  sale_signature_flags: SaleSignatureFlagsTable
  notification_subscriptions: NotificationSubscriptionsTable
  notification_outbox: NotificationOutboxTable
  cabinet_planograms: CabinetPlanogramsTable
  cabinet_stock_reports: CabinetStockReportsTable
  cabinet_stock: CabinetStockTable
  telemetry_raw: TelemetryRawTable
  telemetry_hourly: TelemetryHourlyTable
  telemetry_latest: TelemetryLatestTable
}

