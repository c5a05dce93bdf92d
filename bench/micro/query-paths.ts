// Micro-benchmark of the two query paths issue 13 slowed on SQLite, in CPU
// per call (process.cpuUsage, user + system), which a loaded machine inflates
// far less than the wall-clock figures of bench/compliance.ts and bench/rollout.ts:
//   node --import tsx bench/micro/query-paths.ts
//   - compliance: the city's month (2,700 cabinets, a month row each) through
//     the store, the service, and the reply's serialization (the route's zod
//     serializer beside a bare JSON.stringify of the same reply);
//   - rollout: the online count per county with 19,000 of 20,000 cabinets online.
// Best and median of the rounds. Measured alternately with the code before
// issue 13's session 9 (2026-12-05, load average ~7 on two cores), best CPU ms:
// store 5.4-5.9 -> 4.0, service 7.1-7.6 -> 4.7-5.8, online count 8.8-9.0 -> 0.5-0.6,
// version 0.027 -> 0.015; zod serialization 4.7-5.1 beside JSON.stringify's 1.0.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { serializerCompiler } from 'fastify-type-provider-zod'
import { pino } from 'pino'
import { createComplianceService, createComplianceStore } from '../../fleet-server/src/compliance/index.js'
import { openFleetDb } from '../../fleet-server/src/db/database.js'
import { createRolloutStore } from '../../fleet-server/src/rollout/index.js'
import { BUNDLED_PLANS, ComplianceReply, type ComplianceQuery } from '../../shared/src/index.js'

const COMPLIANCE_CABINETS = 2_700
const ROLLOUT_CABINETS = 20_000
const ONLINE = 19_000
const ROUNDS = 7
const CALLS_PER_ROUND = 30

const plan = BUNDLED_PLANS['chuzhou-2020']!
const dir = await mkdtemp(join(tmpdir(), 'bench-query-paths-'))
const db = await openFleetDb({ dialect: 'sqlite', dataDir: dir }, pino({ level: 'silent' }))
try {
  const ids = Array.from({ length: ROLLOUT_CABINETS }, (_, i) => `${plan.counties[i % plan.counties.length]!.code}-${String(i).padStart(5, '0')}`)
  await db.exclusive((conn) => {
    const cabinet = conn.prepare(
      `INSERT INTO cabinets (cabinet_id, county_code, operator, status, secret_hash, credentials_issued_at, created_at, updated_at)
       VALUES (?, ?, ?, 'operating', 'x', '2020-01-01T00:00:00.000Z', '2020-01-01T00:00:00.000Z', '2020-01-01T00:00:00.000Z')`,
    )
    const month = conn.prepare('INSERT INTO cabinet_month_certified (cabinet_id, month, sales_count, amount_fen, certified_fen) VALUES (?, ?, ?, ?, ?)')
    conn.transaction(() => {
      ids.forEach((id, i) => {
        cabinet.run(id, id.slice(0, 6), i % 3 === 0 ? null : `op-${i % 5}`)
        // Amounts spread around the 50% threshold.
        if (i < COMPLIANCE_CABINETS) month.run(id, '2020-09', 30 + (i % 7), 2_400_000 + i * 13, 1_000_000 + ((i * 7919) % 1_800_000))
      })
    })()
  })

  const round = async (fn: () => unknown): Promise<number> => {
    const c0 = process.cpuUsage()
    for (let i = 0; i < CALLS_PER_ROUND; i++) await fn()
    const c = process.cpuUsage(c0)
    return (c.user + c.system) / 1000 / CALLS_PER_ROUND
  }
  const measure = async (fn: () => unknown) => {
    await round(fn) // warm-up
    const ms: number[] = []
    for (let r = 0; r < ROUNDS; r++) ms.push(await round(fn))
    ms.sort((a, b) => a - b)
    return { bestMs: +ms[0]!.toFixed(3), medianMs: +ms[ROUNDS >> 1]!.toFixed(3) }
  }

  const store = await createComplianceStore(db)
  const service = createComplianceService({ store, plan: () => plan })
  const admin = { userId: 'bench', username: 'bench', role: 'admin' as const, countyCode: null, operator: null }
  const month: ComplianceQuery = { from: '2020-09-01', to: '2020-09-30' }
  const reply = await service.query(admin, month)
  if (reply.cabinets.length !== COMPLIANCE_CABINETS) throw new Error(`expected ${COMPLIANCE_CABINETS} cabinets, got ${reply.cabinets.length}`)
  const zodSerialize = serializerCompiler({ schema: ComplianceReply, method: 'GET', url: '/api/v1/compliance', httpStatus: '200' }) as (data: unknown) => string
  if (zodSerialize(reply) !== JSON.stringify(reply)) throw new Error('the zod serializer and JSON.stringify differ on this reply')

  const rollout = createRolloutStore(db)
  const online = new Set(ids.slice(0, ONLINE))
  const city = { countyCode: null, operator: null }
  const version = await rollout.version()
  const counted = await rollout.countOnline(online.values(), city, version) // fills the owner cache
  if ([...counted.online.values()].reduce((a, b) => a + b, 0) !== ONLINE) throw new Error('online count wrong')

  const result = {
    compliance: {
      cabinets: COMPLIANCE_CABINETS,
      storeFiguresCpuMs: await measure(() => store.figuresByCabinet(month.from!, month.to!, {})),
      serviceQueryCpuMs: await measure(() => service.query(admin, month)),
      zodSerializeCpuMs: await measure(() => zodSerialize(reply)),
      jsonStringifyCpuMs: await measure(() => JSON.stringify(reply)),
      replyBytes: JSON.stringify(reply).length,
    },
    rollout: {
      cabinets: ROLLOUT_CABINETS,
      online: ONLINE,
      countOnlineCpuMs: await measure(() => rollout.countOnline(online.values(), city, version)),
      versionCpuMs: await measure(() => rollout.version()),
    },
  }
  process.stdout.write(`${JSON.stringify(result)}\n`)
} finally {
  await db.close()
  await rm(dir, { recursive: true, force: true })
}
