// The ingest's two decoders must agree on everything a cabinet can send: the
// hand-written fast path (fast-decode.ts) and the zod schema it shortcuts.
// Driven directly, without a broker, so it can take many runs.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeMessage, GENESIS_HASH, MAX_BATCH_SALES, MAX_LINES_PER_SALE, SaleBatchMsg } from '../../shared/src/index.js'
import { decodeSaleBatch, isPlainSaleBatch } from '../../fleet-server/src/sales/fast-decode.js'
import { scanSaleBatch } from '../../fleet-server/src/sales/scan-batch.js'
import { batchSigner, renderBatch } from '../../edge-agent/src/outbox/batch.js'
import { generateKeyPairSync } from 'node:crypto'
import { fcParams, mutated, salePayload, validSaleBatch } from '../helpers/arbitraries.js'
import { recordTrustCounts } from '../helpers/trust-counts.js'

const RUNS = Number(process.env.PROP_DECODE_RUNS ?? 1000)
const CABINET = '341125-00001'
const HEAD = { seq: 7, hash: GENESIS_HASH.replace(/^0/, 'a') }

/**
 * Characters next to the edges of the patterns the fast path checks by char
 * code (hex, uuid version and variant, id and sku alphabets, date parts), and
 * look-alikes outside ASCII that a too-wide check would let through.
 */
const EDGE_CHARS = [...'0123456789abcdefABCDEFgGzZ-_.:/ +#TZtz', '\u0000', '\u007f', '\u00e9', '\u0660', '\uff10', '\ud800', '\u0130', '\u212a']

/** Every string leaf of a batch, by path. */
function stringPaths(v: unknown, at: (string | number)[] = [], out: (string | number)[][] = []): (string | number)[][] {
  if (typeof v === 'string') out.push(at)
  else if (Array.isArray(v)) v.forEach((x, i) => stringPaths(x, [...at, i], out))
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) stringPaths(x, [...at, k], out)
  return out
}

/** A valid batch with one string leaf edited by one character: replaced, inserted, deleted or case-flipped. */
function charMutated(b: SaleBatchMsg): fc.Arbitrary<unknown> {
  const paths = stringPaths(b)
  return fc
    .record({ p: fc.nat({ max: paths.length - 1 }), at: fc.nat({ max: 80 }), op: fc.constantFrom('replace', 'replace', 'insert', 'delete', 'case'), ch: fc.constantFrom(...EDGE_CHARS) })
    .map(({ p, at, op, ch }) => {
      const root = structuredClone(b) as unknown as Record<string | number, unknown>
      const path = paths[p]!
      let parent = root
      for (const k of path.slice(0, -1)) parent = parent[k] as Record<string | number, unknown>
      const key = path.at(-1)!
      const s = parent[key] as string
      const i = at % (s.length + 1)
      const c = s[i] ?? ''
      parent[key] =
        op === 'replace' ? s.slice(0, i) + ch + s.slice(i + 1)
        : op === 'insert' ? s.slice(0, i) + ch + s.slice(i)
        : op === 'delete' ? s.slice(0, i) + s.slice(i + 1)
        : s.slice(0, i) + (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()) + s.slice(i + 1)
      return root
    })
}

/** UUIDs with every version and variant digit, in either case, and the nil and max UUIDs in both cases. */
const anyUuid = fc.oneof(
  fc
    .record({ hex: fc.stringMatching(/^[0-9a-fA-F]{32}$/), version: fc.constantFrom(...'0123456789abcF'), variant: fc.constantFrom(...'0789abcABCf') })
    .map(({ hex, version, variant }) => `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${version}${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20)}`),
  fc.constantFrom('00000000-0000-0000-0000-000000000000', 'ffffffff-ffff-ffff-ffff-ffffffffffff', 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF', '00000000-0000-0000-0000-00000000000g'),
)

/** A 64-byte signature in base64, as an enrolled agent sends it. */
const anySig = fc.uint8Array({ minLength: 64, maxLength: 64 }).map((bytes) => Buffer.from(bytes).toString('base64'))

describe('sale batch decoding, fast path against the schema', () => {
  it('decides every payload exactly as decodeMessage(SaleBatchMsg) does: same data, or same code and message', () => {
    fc.assert(
      fc.property(salePayload(CABINET, HEAD), (payload) => {
        expect(decodeSaleBatch(payload)).toEqual(decodeMessage(SaleBatchMsg, payload))
      }),
      fcParams(RUNS),
    )
    recordTrustCounts('property', { decodeRuns: RUNS, hostileInputs: RUNS })
  })

  it('accepts on the fast path exactly what the schema accepts, for batches edited one character at a time', () => {
    // The fast path falling back to zod for a valid batch is not visible in
    // decodeSaleBatch's result (zod accepts it), only in its cost: so the
    // accept/reject of isPlainSaleBatch itself is compared with the schema's.
    const values = validSaleBatch(CABINET, HEAD).chain((b) =>
      fc.oneof(
        { weight: 4, arbitrary: charMutated(b) },
        { weight: 1, arbitrary: anyUuid.map((u) => ({ ...b, batchId: u })) },
        { weight: 1, arbitrary: anyUuid.map((u) => ({ ...b, sales: [{ ...b.sales[0]!, saleId: u }, ...b.sales.slice(1)] })) },
        // Issue 16 §2: a signed batch (sig: base64 of 64 bytes), edited anywhere, or its sig edited.
        { weight: 2, arbitrary: anySig.chain((sig) => charMutated({ ...b, sig })) },
        { weight: 1, arbitrary: fc.record({ sig: anySig, at: fc.nat({ max: 87 }), ch: fc.constantFrom(...EDGE_CHARS, '=', '-', '_') }).map(({ sig, at, ch }) => ({ ...b, sig: sig.slice(0, at) + ch + sig.slice(at + 1) })) },
      ),
    )
    let accepted = 0
    fc.assert(
      fc.property(values, (raw) => {
        const value = JSON.parse(JSON.stringify(raw)) as unknown
        const schema = SaleBatchMsg.safeParse(value).success
        expect(isPlainSaleBatch(value)).toBe(schema)
        if (schema) accepted++
      }),
      fcParams(RUNS),
    )
    // Both sides of the boundary were drawn (about a third of the edits keep a batch valid).
    if (RUNS >= 100) {
      expect(accepted).toBeGreaterThan(RUNS / 20)
      expect(accepted).toBeLessThan(RUNS)
    }
  })

  it('takes a value on the fast path only when the schema returns it unchanged', () => {
    const values = validSaleBatch(CABINET, HEAD).chain((b) => fc.oneof(fc.constant<unknown>(b), mutated(b)))
    fc.assert(
      fc.property(values, (raw) => {
        // Through JSON, as a payload arrives: own __proto__ keys stay own keys.
        const value = JSON.parse(JSON.stringify(raw) ?? 'null') as unknown
        if (!isPlainSaleBatch(value)) return
        const parsed = SaleBatchMsg.safeParse(value)
        expect(parsed.success).toBe(true)
        expect(parsed.data).toStrictEqual(value)
      }),
      fcParams(RUNS),
    )
  })

  it('scans from the bytes exactly the batches agents write, into what JSON.parse makes of them', () => {
    const { privateKey } = generateKeyPairSync('ed25519')
    const sign = batchSigner(privateKey)
    let scanned = 0
    fc.assert(
      fc.property(validSaleBatch(CABINET, HEAD), fc.boolean(), (b, signed) => {
        // The edge agent's own rendering (outbox/batch.ts), signed or not.
        const text = renderBatch(CABINET, b.batchId, b.sales, 256 * 1024, signed ? sign : undefined).payload
        const out = scanSaleBatch(Buffer.from(text))
        expect(out).toStrictEqual(JSON.parse(text))
        // Same keys in the same order: JSON.stringify gives the text back.
        expect(JSON.stringify(out)).toBe(text)
        scanned++
      }),
      fcParams(RUNS),
    )
    expect(scanned).toBe(RUNS)
  })

  /**
   * What the scanner must return for a payload: the batch JSON.parse makes of
   * it when that passes the fast check and the text is exactly JSON.stringify
   * of the batch in schema order (zod builds its output in that order); null
   * for everything else, which goes the general way.
   */
  function scanOracle(payload: Buffer): unknown {
    try {
      const text = payload.toString('utf8')
      const v = JSON.parse(text) as unknown
      return isPlainSaleBatch(v) && JSON.stringify(SaleBatchMsg.parse(v)) === text ? v : null
    } catch {
      return null
    }
  }

  /** A text edited by one byte: at a random place, or next to a quote, comma, colon or bracket, where a field ends. */
  function byteEdited(text: string): fc.Arbitrary<Buffer> {
    const src = Buffer.from(text)
    const edges: number[] = []
    for (let i = 0; i < src.length; i++) if ('",:{}[]'.includes(String.fromCharCode(src[i]!))) edges.push(i - 1, i, i + 1)
    return fc
      .record({
        at: fc.oneof(fc.nat({ max: src.length }), fc.constantFrom(...edges)),
        op: fc.constantFrom('replace', 'insert', 'delete'),
        // Bytes that JSON, the patterns or the layout give a meaning to, and bytes of UTF-8 above ASCII.
        byte: fc.constantFrom(...[...' \t\n\\"\',:{}[]-+.eE0123456789abcdefABCDEFgzZ_T/=u'].map((c) => c.charCodeAt(0)), 0x00, 0x7f, 0x80, 0xc3, 0xa9, 0xff),
      })
      .map(({ at, op, byte }) => {
        const i = Math.min(Math.max(at, 0), src.length)
        const edit = Buffer.from([byte])
        return op === 'replace' ? Buffer.concat([src.subarray(0, i), edit, src.subarray(i + 1)])
          : op === 'insert' ? Buffer.concat([src.subarray(0, i), edit, src.subarray(i)])
          : Buffer.concat([src.subarray(0, i), src.subarray(i + 1)])
      })
  }

  const ID_CHARS = [...'ABCXYZabcxyz0189_.-']
  /** An id of 62 to 66 characters (the patterns stop at 64), optionally with ':' (SKU only). */
  const longId = (extra: string[]) =>
    fc.record({ n: fc.integer({ min: 62, max: 66 }), cs: fc.array(fc.constantFrom(...ID_CHARS, ...extra), { minLength: 66, maxLength: 66 }) }).map(({ n, cs }) => `A${cs.join('').slice(0, n - 1)}`)
  /** Integers at and past the edges of the schema's ranges, and numbers JSON writes with a fraction or an exponent. */
  const edgeNumber = fc.constantFrom(0, 1, 2, 10_000, 10_001, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER + 1, 2 ** 53 + 2, 1e16, 1e21, -0, -1, 0.5)

  it('scans nothing it should not: every payload scans to what JSON.parse and the check take it for, when the text is the batch as agents write it, and to null otherwise', () => {
    let scanned = 0
    const payloads = validSaleBatch(CABINET, HEAD).chain((b) => {
      const signed = { ...b, sig: Buffer.alloc(64, 7).toString('base64') }
      const text = JSON.stringify(b)
      return fc.oneof(
        { weight: 4, arbitrary: fc.constantFrom(text, JSON.stringify(signed)).chain(byteEdited) },
        { weight: 2, arbitrary: charMutated(b).map((v) => Buffer.from(JSON.stringify(v))) },
        { weight: 1, arbitrary: mutated(b).map((v) => Buffer.from(JSON.stringify(v) ?? 'null')) },
        { weight: 1, arbitrary: fc.record({ cabinetId: longId([]), sku: longId([':']) }).map(({ cabinetId, sku }) => Buffer.from(JSON.stringify({ ...b, cabinetId, sales: [{ ...b.sales[0]!, lines: [{ ...b.sales[0]!.lines[0]!, sku }] }] }))) },
        {
          weight: 1,
          arbitrary: fc.record({ field: fc.constantFrom('seq', 'totalFen', 'qty', 'unitPriceFen', 'v'), n: edgeNumber }).map(({ field, n }) => {
            const sale = { ...b.sales[0]!, lines: [{ ...b.sales[0]!.lines[0]! }] } as Record<string, unknown> & { lines: Record<string, unknown>[] }
            const batch = { ...b, sales: [sale] } as Record<string, unknown>
            if (field === 'v') batch.v = n
            else if (field === 'qty' || field === 'unitPriceFen') sale.lines[0]![field] = n
            else sale[field] = n
            return Buffer.from(JSON.stringify(batch))
          }),
        },
      )
    })
    fc.assert(
      fc.property(payloads, (payload) => {
        const want = scanOracle(payload)
        expect(scanSaleBatch(payload)).toStrictEqual(want)
        if (want !== null) scanned++
      }),
      fcParams(RUNS),
    )
    // Both sides of the line were drawn.
    if (RUNS >= 100) {
      expect(scanned).toBeGreaterThan(RUNS / 20)
      expect(scanned).toBeLessThan(RUNS)
    }
  })

  it('scans every one-byte edit of two batches, at every place, exactly as the oracle says', () => {
    // Exhaustive where the draws above are random: every place × replace, insert or delete × every edge byte.
    const [b] = fc.sample(validSaleBatch(CABINET, HEAD), { numRuns: 1, seed: 13 })
    const differingTimes = { ...b!, sales: b!.sales.map((s) => ({ ...s, recordedAt: s.soldAt.replace(/Z$/, '').replace(/\.\d+$/, '') + '.5Z' })) }
    const bytes = [...' \t\\"\',:{}[]-+.eE019afAFgz_T=u'].map((c) => c.charCodeAt(0)).concat([0x00, 0x80, 0xc3, 0xff])
    let checked = 0
    for (const text of [JSON.stringify(b), JSON.stringify({ ...differingTimes, sig: Buffer.alloc(64, 7).toString('base64') })]) {
      const src = Buffer.from(text)
      for (let i = 0; i <= src.length; i++) {
        const edits = [Buffer.concat([src.subarray(0, i), src.subarray(i + 1)])]
        for (const byte of bytes) {
          const edit = Buffer.from([byte])
          edits.push(Buffer.concat([src.subarray(0, i), edit, src.subarray(i + 1)]), Buffer.concat([src.subarray(0, i), edit, src.subarray(i)]))
        }
        for (const payload of edits) {
          const got = scanSaleBatch(payload)
          const want = scanOracle(payload)
          if (got === null && want === null) continue
          expect({ at: i, text: payload.toString('latin1'), got }).toStrictEqual({ at: i, text: payload.toString('latin1'), got: want })
        }
        checked += edits.length
      }
    }
    expect(checked).toBeGreaterThan(50_000)
  })

  it('reads numbers, times and ids exactly as JSON.parse and the schema do, at the edges of each', () => {
    const [b] = fc.sample(validSaleBatch(CABINET, HEAD), { numRuns: 1, seed: 7 })
    const text = JSON.stringify(b)
    const sale = b!.sales[0]!
    const rawNumbers = ['0', '00', '01', '1', '2', '1.0', '1e0', '1E0', '-1', '-0', '+1', ' 1', '1 ', '10000', '10001', '9007199254740991', '9007199254740992', '09007199254740991', '12345678901234567', '123456789012345678']
    const cases: string[] = []
    const numberFields = [`"v":1`, `"seq":${sale.seq}`, `"qty":${sale.lines[0]!.qty}`, `"unitPriceFen":${sale.lines[0]!.unitPriceFen}`, `"totalFen":${sale.totalFen}`]
    for (const field of numberFields) {
      const key = field.slice(0, field.indexOf(':') + 1)
      for (const raw of rawNumbers) cases.push(text.replace(field, key + raw))
    }
    const day = sale.soldAt.slice(0, 19)
    const times = [`${day}Z`, `${day}.1Z`, `${day}.123Z`, `${day}.${'1'.repeat(19)}Z`, `${day}.${'1'.repeat(20)}Z`, `${day}.${'1'.repeat(30)}Z`, `${day}.123`, `${day}.123Zx`, `${day}+08:00`, '2021-02-29T00:00:00Z', '2024-02-29T00:00:00Z']
    for (const t of times) {
      cases.push(text.replace(`"soldAt":"${sale.soldAt}","recordedAt":"${sale.recordedAt}"`, `"soldAt":"${t}","recordedAt":"${t}"`))
      cases.push(text.replace(`"recordedAt":"${sale.recordedAt}"`, `"recordedAt":"${t}"`))
      // recordedAt starting like soldAt and running on past it.
      cases.push(text.replace(`"recordedAt":"${sale.recordedAt}"`, `"recordedAt":"${sale.soldAt}${t.slice(-1)}"`))
    }
    for (const n of [1, 63, 64, 65]) {
      cases.push(text.replace(`"cabinetId":"${CABINET}"`, `"cabinetId":"${'C'.repeat(n)}"`))
      cases.push(text.replace(`"sku":"${sale.lines[0]!.sku}"`, `"sku":"A${':'.repeat(n - 1)}"`))
    }
    // At and past the schema's counts: sales in a batch, lines in a sale (decoding does not check the chain).
    for (const n of [MAX_BATCH_SALES, MAX_BATCH_SALES + 1]) cases.push(JSON.stringify({ ...b, sales: Array.from({ length: n }, () => sale) }))
    for (const n of [MAX_LINES_PER_SALE, MAX_LINES_PER_SALE + 1]) cases.push(JSON.stringify({ ...b, sales: [{ ...sale, lines: Array.from({ length: n }, () => sale.lines[0]) }] }))
    let scanned = 0
    for (const c of cases) {
      const payload = Buffer.from(c)
      const want = scanOracle(payload)
      expect({ c, got: scanSaleBatch(payload) }).toStrictEqual({ c, got: want })
      if (want !== null) scanned++
    }
    // The cases are edits: a replace that missed its field would leave the batch as it was.
    expect(cases.filter((c) => c === text).length).toBeLessThan(6)
    expect(scanned).toBeGreaterThan(10)
    expect(scanned).toBeLessThan(cases.length - 30)
  })
})
