// Two fleet servers on one PostgreSQL (issue 13): both senders see the same
// pending batches; each batch is POSTed by one of them only — the claim, not
// the platform's duplicate check, keeps it single.
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest'
import type { PlatformBatch } from '../../../shared/src/index.js'
import { buildPlatform } from '../../../simulators/src/platform/app.js'
import { openFleetDb, type FleetDb } from '../../../fleet-server/src/db/database.js'
import { createSender, DEFAULT_FORWARDING, type Sender } from '../../../fleet-server/src/forwarding/index.js'
import { createForwardingStore } from '../../../fleet-server/src/forwarding/store.js'
import { startPostgres, type Postgres } from '../../helpers/postgres.js'

const log = pino({ level: 'silent' })
const now = () => new Date('2020-11-01T00:00:00Z')

let pgServer: Postgres
beforeAll(async () => {
  pgServer = await startPostgres()
})
afterAll(() => pgServer?.close())

function body(key: string): string {
  const batch: PlatformBatch = {
    v: 1,
    idempotencyKey: key,
    kind: 'report',
    createdAt: '2020-11-01T00:00:00.000Z',
    source: { system: 'fupin-fleet', regionCode: '4401', regionName: '广州市' },
    records: [{ cabinetId: 'C-1', countyCode: '440101', period: { kind: 'month', id: '2020-10', from: '2020-10-01', to: '2020-10-31' }, salesCount: 1, amountFen: 100, certifiedAmountFen: 100, shareBp: 10_000, lines: [] }],
  }
  return JSON.stringify(batch)
}

describe('forwarding from two servers on one PostgreSQL', () => {
  it('sends each pending batch once, from whichever server claims it', async () => {
    const platform = await buildPlatform({ failRate: 0, latencyMs: 150, secret: null, storePath: null, logger: log })
    await platform.app.listen({ port: 0, host: '127.0.0.1' })
    onTestFinished(() => platform.app.close())
    const addr = platform.app.server.address()
    const intake = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}/intake`
    const url = await pgServer.newDatabase('two_senders')
    const dbs: FleetDb[] = [await openFleetDb({ dialect: 'postgres', url }, log), await openFleetDb({ dialect: 'postgres', url }, log)]
    const senders: Sender[] = []
    onTestFinished(async () => {
      for (const s of senders) await s.close()
      for (const d of dbs) await d.close()
    })
    const keys = Array.from({ length: 12 }, (_, i) => `4401-C-${i}-2020-10-r0`)
    const store0 = createForwardingStore(dbs[0]!)
    await dbs[0]!.transaction(async (tx) => {
      for (const [i, k] of keys.entries()) await store0.enqueue(tx, { batchKey: k, kind: 'report', cabinetId: `C-${i}`, periodId: '2020-10', revision: 0, body: body(k) }, `2020-11-01T00:00:${String(i).padStart(2, '0')}.000Z`)
    })

    const opts = { ...DEFAULT_FORWARDING, url: intake, secret: null, baseBackoffMs: 20, maxBackoffMs: 200, concurrency: 4 }
    for (const d of dbs) senders.push(createSender(opts, d, createForwardingStore(d), now, log))
    for (const s of senders) s.kick()
    await expect.poll(async () => (await store0.pendingBatches()).length, { timeout: 15_000 }).toBe(0)
    await Promise.all(senders.map((s) => s.settled()))

    expect(platform.received()).toMatchObject({ batches: 12, duplicatesRejected: 0 })
    expect(platform.batches().map((b) => b.key).sort()).toEqual([...keys].sort())
    // Both took part, and together delivered each batch once.
    expect(senders.map((s) => s.delivered()).reduce((a, b) => a + b)).toBe(12)
    expect(Math.min(...senders.map((s) => s.delivered()))).toBeGreaterThan(0)
    expect((await store0.counts()).get('report:delivered')).toBe(12)
  })
})
