// The ingest's two decoders must agree on everything a cabinet can send: the
// hand-written fast path (fast-decode.ts) and the zod schema it shortcuts.
// Driven directly, without a broker, so it can take many runs.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeMessage, GENESIS_HASH, SaleBatchMsg } from '../../shared/src/index.js'
import { decodeSaleBatch, isPlainSaleBatch } from '../../fleet-server/src/sales/fast-decode.js'
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
})
