// The ingest hot path's decoder for cabinets/{id}/up/sales. A hand-written
// check that accepts only what the SaleBatchMsg schema accepts (same keys,
// types, ranges and the very patterns zod applies) takes the common, valid
// message at a fraction of zod's cost. Anything it does not accept goes
// through decodeMessage() unchanged, so rejects keep their codes and messages.
import { decodeMessage, MAX_BATCH_SALES, MAX_LINES_PER_SALE, MAX_MESSAGE_BYTES, MESSAGE_VERSION, SaleBatchMsg, type Decoded } from '../../../shared/src/index.js'

// The patterns zod 4 uses for z.uuid() and z.iso.datetime({ offset: false }), and ours for ids, SKUs and hashes.
const UUID = /^([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-[0-9a-fA-F]{12}|00000000-0000-0000-0000-000000000000|ffffffff-ffff-ffff-ffff-ffffffffffff)$/
const ISO_UTC = /^(?:(?:\d\d[2468][048]|\d\d[13579][26]|\d\d0[48]|[02468][048]00|[13579][26]00)-02-29|\d{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12]\d|3[01])|(?:0[469]|11)-(?:0[1-9]|[12]\d|30)|(?:02)-(?:0[1-9]|1\d|2[0-8])))T(?:(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?(?:Z))$/
const CABINET_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/
const SKU = /^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$/
const HASH = /^[0-9a-f]{64}$/
const PAYMENTS = new Set(['wechat', 'alipay', 'unionpay', 'cash'])

const BATCH_KEYS = 5
const SALE_KEYS = 9
const LINE_KEYS = 3

type Obj = Record<string, unknown>
const isObj = (x: unknown): x is Obj => typeof x === 'object' && x !== null && !Array.isArray(x)
const keyCount = (o: Obj): number => {
  let n = 0
  for (const k in o) if (Object.hasOwn(o, k)) n++
  return n
}
const isInt = (x: unknown, min: number, max: number): x is number => typeof x === 'number' && Number.isSafeInteger(x) && x >= min && x <= max
const isStr = (x: unknown, re: RegExp): x is string => typeof x === 'string' && re.test(x)

function isSaleLine(l: unknown): boolean {
  return isObj(l) && keyCount(l) === LINE_KEYS && isStr(l.sku, SKU) && isInt(l.qty, 1, 10_000) && isInt(l.unitPriceFen, 0, Number.MAX_SAFE_INTEGER)
}

function isSale(s: unknown): boolean {
  if (!isObj(s) || keyCount(s) !== SALE_KEYS) return false
  if (!isStr(s.saleId, UUID) || !isInt(s.seq, 1, Number.MAX_SAFE_INTEGER) || !isStr(s.soldAt, ISO_UTC) || !isStr(s.recordedAt, ISO_UTC)) return false
  if (typeof s.payment !== 'string' || !PAYMENTS.has(s.payment) || !isInt(s.totalFen, 0, Number.MAX_SAFE_INTEGER)) return false
  if (!isStr(s.prevHash, HASH) || !isStr(s.hash, HASH)) return false
  const lines = s.lines
  if (!Array.isArray(lines) || lines.length < 1 || lines.length > MAX_LINES_PER_SALE) return false
  for (const l of lines) if (!isSaleLine(l)) return false
  return true
}

/** True only for values SaleBatchMsg.parse() returns unchanged. */
export function isPlainSaleBatch(m: unknown): m is SaleBatchMsg {
  if (!isObj(m) || keyCount(m) !== BATCH_KEYS) return false
  if (m.v !== MESSAGE_VERSION || m.type !== 'sales' || !isStr(m.batchId, UUID) || !isStr(m.cabinetId, CABINET_ID)) return false
  const sales = m.sales
  if (!Array.isArray(sales) || sales.length < 1 || sales.length > MAX_BATCH_SALES) return false
  for (const s of sales) if (!isSale(s)) return false
  return true
}

/** decodeMessage(SaleBatchMsg, payload), fast for valid batches. */
export function decodeSaleBatch(payload: Buffer): Decoded<SaleBatchMsg> {
  if (payload.byteLength <= MAX_MESSAGE_BYTES) {
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
