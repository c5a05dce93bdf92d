// The ingest hot path's decoder for cabinets/{id}/up/sales. A hand-written
// check that accepts only what the SaleBatchMsg schema accepts (same keys,
// types, ranges and the very patterns zod applies) takes the common, valid
// message at a fraction of zod's cost. Anything it does not accept goes
// through decodeMessage() unchanged, so rejects keep their codes and messages.
// Before both, a batch in the exact text agents write is read straight from
// its bytes (scan-batch.ts).
import { decodeMessage, MAX_BATCH_SALES, MAX_LINES_PER_SALE, MAX_MESSAGE_BYTES, MESSAGE_VERSION, SaleBatchMsg, type Decoded } from '../../../shared/src/index.js'
import { B64, CLASS, hasUuidVersionAndVariant, HEX, HEX_LOWER, ID_FIRST, ID_REST, ISO_UTC, MAX_UUID, NIL_UUID, SKU_REST } from './sale-patterns.js'
import { scanSaleBatch } from './scan-batch.js'

const is = (s: string, i: number, cls: number): boolean => {
  const c = s.charCodeAt(i)
  return c < 128 && (CLASS[c]! & cls) !== 0
}

/** /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/ (CabinetId), or with ':' too (Sku). */
function isIdLike(s: string, rest: number): boolean {
  const n = s.length
  if (n < 1 || n > 64 || !is(s, 0, ID_FIRST)) return false
  for (let i = 1; i < n; i++) if (!is(s, i, rest)) return false
  return true
}

/** /^[0-9a-f]{64}$/ */
function isHash(s: string): boolean {
  if (s.length !== 64) return false
  for (let i = 0; i < 64; i++) if (!is(s, i, HEX_LOWER)) return false
  return true
}

/** zod 4's z.uuid(): 8-4-4-4-12 hex, version 1-8, variant 8/9/a/b (either case), or the nil or max UUID. */
function isUuid(s: string): boolean {
  if (s.length !== 36) return false
  for (let i = 0; i < 36; i++) {
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (s.charCodeAt(i) !== 0x2d) return false
    } else if (!is(s, i, HEX)) return false
  }
  return hasUuidVersionAndVariant(s.charCodeAt(14), s.charCodeAt(19)) || s === NIL_UUID || s === MAX_UUID
}

const isIsoUtc = (s: string): boolean => ISO_UTC.test(s)

const BATCH_KEYS = 5 // without the optional sig
const SALE_KEYS = 9
const LINE_KEYS = 3

type Obj = Record<string, unknown>
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x)
// JSON.parse makes only own, enumerable keys, so this counts what for-in with
// hasOwn would, at half its cost.
const keyCount = (o: Obj): number => Object.keys(o).length
const isInt = (x: unknown, min: number, max: number): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= min && x <= max
const isPayment = (x: unknown): boolean => x === 'wechat' || x === 'alipay' || x === 'unionpay' || x === 'cash'

function isSaleLine(l: unknown): boolean {
  if (!isObj(l)) return false
  const sku = l.sku
  return typeof sku === 'string' && isIdLike(sku, SKU_REST) && isInt(l.qty, 1, 10_000) && isInt(l.unitPriceFen, 0, Number.MAX_SAFE_INTEGER) && keyCount(l) === LINE_KEYS
}

function isSale(s: unknown): boolean {
  if (!isObj(s)) return false
  const { saleId, soldAt, recordedAt, prevHash, hash, lines } = s
  if (typeof saleId !== 'string' || !isUuid(saleId) || !isInt(s.seq, 1, Number.MAX_SAFE_INTEGER)) return false
  if (typeof soldAt !== 'string' || !isIsoUtc(soldAt) || typeof recordedAt !== 'string' || !isIsoUtc(recordedAt)) return false
  if (!isPayment(s.payment) || !isInt(s.totalFen, 0, Number.MAX_SAFE_INTEGER)) return false
  if (typeof prevHash !== 'string' || !isHash(prevHash) || typeof hash !== 'string' || !isHash(hash)) return false
  if (!Array.isArray(lines) || lines.length < 1 || lines.length > MAX_LINES_PER_SALE) return false
  for (let i = 0; i < lines.length; i++) if (!isSaleLine(lines[i])) return false
  return keyCount(s) === SALE_KEYS
}

/** /^[A-Za-z0-9+/]{86}==$/: a 64-byte signature in base64 (issue 16 §2). */
function isSig(s: string): boolean {
  if (s.length !== 88 || s.charCodeAt(86) !== 0x3d || s.charCodeAt(87) !== 0x3d) return false
  for (let i = 0; i < 86; i++) if (!is(s, i, B64)) return false
  return true
}

/** True only for values SaleBatchMsg.parse() returns unchanged. */
export function isPlainSaleBatch(m: unknown): m is SaleBatchMsg {
  if (!isObj(m)) return false
  const { batchId, cabinetId, sales, sig } = m
  if (m.v !== MESSAGE_VERSION || m.type !== 'sales' || typeof batchId !== 'string' || !isUuid(batchId)) return false
  if (typeof cabinetId !== 'string' || !isIdLike(cabinetId, ID_REST)) return false
  if (!Array.isArray(sales) || sales.length < 1 || sales.length > MAX_BATCH_SALES) return false
  for (let i = 0; i < sales.length; i++) if (!isSale(sales[i])) return false
  if (sig === undefined) return keyCount(m) === BATCH_KEYS
  return typeof sig === 'string' && isSig(sig) && keyCount(m) === BATCH_KEYS + 1
}

/** decodeMessage(SaleBatchMsg, payload), fast for valid batches. */
export function decodeSaleBatch(payload: Buffer): Decoded<SaleBatchMsg> {
  if (payload.byteLength <= MAX_MESSAGE_BYTES) {
    // A batch as agents write it, straight from its bytes; any other text the general way.
    const scanned = scanSaleBatch(payload)
    if (scanned !== null) return { ok: true, data: scanned }
    let json: unknown
    try {
      json = JSON.parse(payload.toString('utf8'))
    } catch {
      json = undefined
    }
    if (isPlainSaleBatch(json)) return { ok: true, data: json }
  }
  return decodeMessage(SaleBatchMsg, payload)
}
