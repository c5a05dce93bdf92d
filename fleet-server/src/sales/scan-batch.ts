// The sale batch as agents write it, read straight from the payload's bytes.
// An agent serialises a batch with JSON.stringify in schema order (edge-agent
// outbox/batch.ts): no whitespace, no escapes, keys in one order. For that
// exact text this scanner builds what JSON.parse would, checked as
// isPlainSaleBatch checks it, at about half the cost of the two (JSON.parse
// alone was ~2.3 µs of a one-sale message's ~3.5 µs decode; issue 13's
// ingest cost). Anything else — another key order, whitespace, an escape, a
// number written with a fraction or exponent, a character outside a field's
// pattern — returns null, and the caller decodes it the general way, so a
// message is never judged by this scanner alone.
//
// Strings are copied out of the buffer one by one (latin1Slice), not sliced
// from one string of the payload: a slice would keep the whole payload alive
// for as long as anyone keeps the field (a chain head keeps a hash for days).
// Every field's pattern is ASCII, so latin1 reads exactly what UTF-8 would.
import { MAX_BATCH_SALES, MAX_LINES_PER_SALE, MESSAGE_VERSION, Payment, type Sale, type SaleBatchMsg, type SaleLine } from '../../../shared/src/index.js'
import { B64, CLASS, hasUuidVersionAndVariant, HEX, HEX_LOWER, ID_FIRST, ID_REST, ISO, ISO_UTC, MAX_UUID, NIL_UUID, SKU_REST } from './sale-patterns.js'

const QUOTE = 0x22
const COMMA = 0x2c
const CLOSE_OBJECT = 0x7d
const CLOSE_ARRAY = 0x5d

const bytes = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'))
const BATCH_HEAD = bytes(`{"v":${MESSAGE_VERSION},"type":"sales","batchId":"`)
const CABINET_KEY = bytes(',"cabinetId":"')
const SALES_KEY = bytes(',"sales":[')
const SIG_KEY = bytes(',"sig":"')
const SALE_ID_KEY = bytes('{"saleId":"')
const SEQ_KEY = bytes(',"seq":')
const SOLD_AT_KEY = bytes(',"soldAt":"')
const RECORDED_AT_KEY = bytes(',"recordedAt":"')
const PAYMENT_KEY = bytes(',"payment":"')
const LINES_KEY = bytes(',"lines":[')
const TOTAL_KEY = bytes(',"totalFen":')
const PREV_HASH_KEY = bytes(',"prevHash":"')
const HASH_KEY = bytes(',"hash":"')
const SKU_KEY = bytes('{"sku":"')
const QTY_KEY = bytes(',"qty":')
const PRICE_KEY = bytes(',"unitPriceFen":')
// The schema's payment methods, each with its closing quote.
const PAYMENTS = Payment.options.map((p) => ({ value: p, text: bytes(`${p}"`) }))

type Latin1Slicer = { latin1Slice(start: number, end: number): string }
/**
 * buf.toString('latin1', start, end) without its argument checks: Buffer's
 * own latin1Slice (what toString calls), ~40% cheaper a field; toString where
 * a runtime lacks it.
 */
const latin1: (buf: Buffer, start: number, end: number) => string =
  typeof (Buffer.prototype as unknown as Partial<Latin1Slicer>).latin1Slice === 'function'
    ? (buf, start, end) => (buf as unknown as Latin1Slicer).latin1Slice(start, end)
    : (buf, start, end) => buf.toString('latin1', start, end)

// The scanner's cursor: one payload at a time, on one thread.
const EMPTY = Buffer.alloc(0)
let b: Buffer = EMPTY
let at = 0
/** Where the last sale's hash began in the payload (a chained batch's next prevHash repeats it). */
let hashFrom = 0

/** Batch whose text is exactly JSON.stringify of a valid SaleBatchMsg in schema order, as JSON.parse would return it; else null. */
export function scanSaleBatch(payload: Buffer): SaleBatchMsg | null {
  b = payload
  at = 0
  try {
    return batch()
  } finally {
    b = EMPTY // not kept alive by the scanner
  }
}

function batch(): SaleBatchMsg | null {
  if (!lit(BATCH_HEAD)) return null
  const batchId = uuid()
  if (batchId === null || !lit(CABINET_KEY)) return null
  const cabinetId = id(ID_REST)
  if (cabinetId === null || !lit(SALES_KEY)) return null
  const sales: Sale[] = []
  for (;;) {
    const s = sale(sales.at(-1))
    if (s === null || sales.length === MAX_BATCH_SALES) return null
    sales.push(s)
    const c = b[at++]
    if (c === CLOSE_ARRAY) break
    if (c !== COMMA) return null
  }
  if (b[at] === CLOSE_OBJECT && at + 1 === b.length) return { v: MESSAGE_VERSION, type: 'sales', batchId, cabinetId, sales }
  if (!lit(SIG_KEY)) return null
  const sig = signature()
  if (sig === null || b[at] !== CLOSE_OBJECT || at + 1 !== b.length) return null
  return { v: MESSAGE_VERSION, type: 'sales', batchId, cabinetId, sales, sig }
}

/** A sale; `before` is the one before it in the batch. */
function sale(before: Sale | undefined): Sale | null {
  if (!lit(SALE_ID_KEY)) return null
  const saleId = uuid()
  if (saleId === null || !lit(SEQ_KEY)) return null
  const seq = int()
  if (seq < 1 || !lit(SOLD_AT_KEY)) return null
  const soldAtFrom = at
  const soldAt = iso()
  if (soldAt === null || !lit(RECORDED_AT_KEY)) return null
  // An agent without a controller clock sends its ledger time as both: one string for the two.
  const recordedAt = repeats(soldAtFrom, soldAt.length) ? soldAt : iso()
  if (recordedAt === null || !lit(PAYMENT_KEY)) return null
  const payment = paymentValue()
  if (payment === null || !lit(LINES_KEY)) return null
  const lines: SaleLine[] = []
  for (;;) {
    const l = line()
    if (l === null || lines.length === MAX_LINES_PER_SALE) return null
    lines.push(l)
    const c = b[at++]
    if (c === CLOSE_ARRAY) break
    if (c !== COMMA) return null
  }
  if (!lit(TOTAL_KEY)) return null
  const totalFen = int()
  if (totalFen < 0 || !lit(PREV_HASH_KEY)) return null
  // In a chained batch each prevHash repeats the hash before it.
  const prevHash = before !== undefined && repeats(hashFrom, 64) ? before.hash : hash()
  if (prevHash === null || !lit(HASH_KEY)) return null
  hashFrom = at
  const h = hash()
  if (h === null || b[at++] !== CLOSE_OBJECT) return null
  return { saleId, seq, soldAt, recordedAt, payment, lines, totalFen, prevHash, hash: h }
}

function line(): SaleLine | null {
  if (!lit(SKU_KEY)) return null
  const sku = id(SKU_REST)
  if (sku === null || !lit(QTY_KEY)) return null
  const qty = int()
  if (qty < 1 || qty > 10_000 || !lit(PRICE_KEY)) return null
  const unitPriceFen = int()
  if (unitPriceFen < 0 || b[at++] !== CLOSE_OBJECT) return null
  return { sku, qty, unitPriceFen }
}

/** The literal `text` at the cursor (and past it), or false. */
function lit(text: Uint8Array): boolean {
  const buf = b
  const from = at
  const n = text.length
  if (from + n > buf.length) return false
  for (let i = 0; i < n; i++) if (buf[from + i] !== text[i]) return false
  at = from + n
  return true
}

/** Whether the `n` bytes at `from` and a closing quote are at the cursor too (and the cursor then past them). */
function repeats(from: number, n: number): boolean {
  const buf = b
  const to = at
  if (to + n >= buf.length || buf[to + n] !== QUOTE) return false
  for (let i = 0; i < n; i++) if (buf[to + i] !== buf[from + i]) return false
  at = to + n + 1
  return true
}

/** The string from the cursor to `to` (a closing quote), copied, and the cursor past the quote. */
function take(to: number): string {
  const s = latin1(b, at, to)
  at = to + 1
  return s
}

/** A safe integer written as JSON.stringify writes one (no sign, fraction or exponent, no leading zero), or -1. */
function int(): number {
  const buf = b
  const start = at
  const limit = Math.min(start + 17, buf.length)
  let i = start
  let x = 0
  for (; i < limit; i++) {
    const d = buf[i]! - 0x30
    if (d < 0 || d > 9) break
    x = x * 10 + d
  }
  at = i
  const n = i - start
  // Up to 17 digits are read: a 17th (with no leading zero) is above every
  // safe integer, and below that the double is exact.
  if (n === 0 || (n > 1 && buf[start] === 0x30) || x > Number.MAX_SAFE_INTEGER) return -1
  return x
}

/** zod 4's z.uuid() and a closing quote. */
function uuid(): string | null {
  const buf = b
  const from = at
  const end = from + 36
  if (end >= buf.length || buf[end] !== QUOTE) return null
  for (let i = 0; i < 36; i++) {
    const c = buf[from + i]!
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 0x2d) return null
    } else if ((CLASS[c]! & HEX) === 0) return null
  }
  const s = take(end)
  return hasUuidVersionAndVariant(buf[from + 14]!, buf[from + 19]!) || s === NIL_UUID || s === MAX_UUID ? s : null
}

/** /^[A-Za-z0-9][rest]{0,63}$/ (CabinetId, or Sku with ':') and a closing quote. */
function id(rest: number): string | null {
  const buf = b
  const from = at
  if (from >= buf.length || (CLASS[buf[from]!]! & ID_FIRST) === 0) return null
  const limit = Math.min(from + 64, buf.length)
  for (let i = from + 1; i < limit; i++) {
    const c = buf[i]!
    if (c === QUOTE) return take(i)
    if ((CLASS[c]! & rest) === 0) return null
  }
  return limit < buf.length && buf[limit] === QUOTE ? take(limit) : null
}

/** /^[0-9a-f]{64}$/ and a closing quote. */
function hash(): string | null {
  const buf = b
  const end = at + 64
  if (end >= buf.length || buf[end] !== QUOTE) return null
  for (let i = at; i < end; i++) if ((CLASS[buf[i]!]! & HEX_LOWER) === 0) return null
  return take(end)
}

/** /^[A-Za-z0-9+/]{86}==$/ and a closing quote. */
function signature(): string | null {
  const buf = b
  const end = at + 88
  if (end >= buf.length || buf[end] !== QUOTE || buf[end - 1] !== 0x3d || buf[end - 2] !== 0x3d) return null
  for (let i = at; i < end - 2; i++) if ((CLASS[buf[i]!]! & B64) === 0) return null
  return take(end)
}

/** An ISO UTC time as the schema takes it, and a closing quote. */
function iso(): string | null {
  const buf = b
  let end = at
  // Only the pattern's characters, so nothing else is copied to be tested.
  while (end < buf.length && (CLASS[buf[end]!]! & ISO) !== 0) end++
  if (end === buf.length || buf[end] !== QUOTE) return null
  const s = take(end)
  return ISO_UTC.test(s) ? s : null
}

function paymentValue(): Sale['payment'] | null {
  for (const p of PAYMENTS) if (lit(p.text)) return p.value
  return null
}
