// GET /api/v1/rollout with 20,000 cabinets: a region the size of 内蒙古's
// plan (policy 004), cabinets spread over every stage, timed through
// Fastify's inject (routing, auth, the query, zod serialization).
// p50/p99: repeated queries (the counts are cached until a cabinet changes
// status); cold: a status change before each query, so the SQL runs every
// time; online19k: the progress computation with 19,000 cabinets online,
// which inject cannot produce without 19,000 MQTT sessions.
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { buildFleet } from '../fleet-server/src/app.js'
import { loadConfig } from '../fleet-server/src/config.js'
import { createRolloutService, createRolloutStore } from '../fleet-server/src/rollout/index.js'
import { rawRows } from './fixtures.js'

const ADMIN = 'bench-admin-token-0123456789'
const STAGES = ['planned', 'site_assigned', 'installed', 'operating'] as const

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!
}

/** Inner Mongolia's plan scaled to `total` cabinets over its 12 leagues (the rollout benches' fleet). */
export function provincePlan(total: number) {
  const leagues = ['150100', '150200', '150300', '150400', '150500', '150600', '150700', '150800', '150900', '152200', '152500', '152900']
  const quota = (i: number) => Math.floor(total / leagues.length) + (i < total % leagues.length ? 1 : 0)
  return {
    id: 'neimenggu-2020',
    name: '内蒙古自治区消费扶贫专柜布设计划',
    region: { code: '150000', name: '内蒙古自治区' },
    channel: 'cabinet',
    totalQuota: total,
    counties: leagues.map((code, i) => ({ code, name: `盟市${i + 1}`, quota: quota(i) })),
    milestones: [
      { id: 'sites', date: '2020-09-30', description: '点位全部落实', requires: { sitesAssignedBp: 10000, operatingMin: 1 } },
      { id: 'installed', date: '2020-12-31', description: '全部安装', requires: { installedBp: 10000 } },
    ],
    policy: { minCertifiedShareBp: { cabinet: 10000 }, forwardingPeriod: 'month', reports: { weeklyDueIsoWeekday: 1, monthlyDueDay: 25, quarterly: true } },
  }
}

/**
 * Week `week` (0–2) of the deployment: each county imports a third of its
 * cabinets, at stages spread evenly. The CSV's lines; the ids go to `ids`, and
 * those imported as installed to `installed`.
 */
export function weekImportCsv(plan: ReturnType<typeof provincePlan>, week: number, ids: string[], installed: string[]): string[] {
  const lines = ['cabinetId,countyCode,operator,siteName,siteAddress,venueType,status']
  plan.counties.forEach(({ code, quota: q }, li) => {
    for (let i = Math.floor((q * week) / 3); i < Math.floor((q * (week + 1)) / 3); i++) {
      const id = `NM-${code}-${String(i + 1).padStart(5, '0')}`
      const stage = STAGES[i % 4]!
      ids.push(id)
      if (stage === 'installed') installed.push(id)
      lines.push(stage === 'planned' ? `${id},${code},op-${li % 4},,,,planned` : `${id},${code},op-${li % 4},点位${i},某路${i}号,社区,${stage}`)
    }
  })
  return lines
}

/** `env` is merged into the fleet's config: `{ FLEET_DATABASE_URL }` runs it on PostgreSQL. */
export async function rolloutQuery(opts: { cabinets?: number; runs?: number } = {}, env: Record<string, string> = {}): Promise<{
  engine: 'sqlite' | 'postgres'
  cabinets: number
  /** Cabinets counted online in the online19k* figures: 19,000, or 95% at a smaller scale. */
  onlineCabinets: number
  counties: number
  transitions: number
  runs: number
  p50Ms: number
  p99Ms: number
  coldP50Ms: number
  coldP99Ms: number
  online19kP50Ms: number
  online19kP99Ms: number
  importMs: number
  targetMs: number
}> {
  const total = opts.cabinets ?? 20_000
  const runs = opts.runs ?? 300
  const dir = await mkdtemp(join(tmpdir(), 'bench-rollout-'))
  const plan = provincePlan(total)
  const planFile = join(dir, 'plan.json')
  await writeFile(planFile, JSON.stringify(plan))
  let clock = Date.parse('2020-09-01T00:00:00Z')
  const now = () => new Date(clock)
  const fleet = await buildFleet(
    loadConfig({ FLEET_DATA_DIR: join(dir, 'data'), FLEET_HTTP_PORT: '0', FLEET_MQTT_PORT: '0', FLEET_ADMIN_TOKEN: ADMIN, LOG_LEVEL: 'silent', FLEET_LOG_REQUESTS: 'false',
    // Scheduled reports and backups run on the wall clock (hourly): off, so no figure depends on when the bench ran.
    FLEET_REPORTS_SCHEDULE: 'false', FLEET_BACKUP_SCHEDULE: 'false', FLEET_PLAN: planFile, ...env }, []),
    { logger: pino({ level: 'silent' }), now },
  )
  try {
    // Deployment over three weeks: each county imports a third of its
    // cabinets a week, at stages spread evenly, so the pace window holds real history.
    const ids: string[] = []
    const installed: string[] = []
    const t0 = performance.now()
    for (let week = 0; week < 3; week++) {
      clock = Date.parse('2020-09-01T00:00:00Z') + week * 7 * 86_400_000
      const lines = weekImportCsv(plan, week, ids, installed)
      const res = await fleet.http.inject({ method: 'POST', url: '/api/v1/cabinets/import', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'text/csv' }, payload: lines.join('\n') })
      if (res.statusCode !== 201) throw new Error(`import failed: ${res.statusCode} ${res.body.slice(0, 300)}`)
    }
    const importMs = performance.now() - t0
    // Some lifecycle traffic on top: 2,000 installed cabinets start operating.
    clock = Date.parse('2020-09-22T00:00:00Z')
    for (const id of installed.slice(0, 2000)) {
      const res = await fleet.http.inject({ method: 'PATCH', url: `/api/v1/cabinets/${id}`, headers: { authorization: `Bearer ${ADMIN}` }, payload: { status: 'operating' } })
      if (res.statusCode !== 200) throw new Error(`patch failed: ${res.statusCode}`)
    }
    const transitions = Number((await rawRows<{ n: number | string }>(fleet.database, 'SELECT count(*) AS n FROM cabinet_transitions'))[0]!.n)
    clock = Date.parse('2020-09-25T00:00:00Z')

    const timeIt = async (fn: () => Promise<void> | void): Promise<number[]> => {
      for (let i = 0; i < 20; i++) await fn()
      const ms: number[] = []
      for (let i = 0; i < runs; i++) {
        const s = performance.now()
        await fn()
        ms.push(performance.now() - s)
      }
      return ms.sort((a, b) => a - b)
    }
    const http = await timeIt(async () => {
      const res = await fleet.http.inject({ method: 'GET', url: '/api/v1/rollout', headers: { authorization: `Bearer ${ADMIN}` } })
      if (res.statusCode !== 200) throw new Error(`rollout failed: ${res.statusCode}`)
    })
    // Cold: a status change before every query, so nothing cached serves it.
    const toggled = installed[0]!
    let flip = false
    const cold: number[] = []
    for (let i = 0; i < Math.min(runs, 150); i++) {
      flip = !flip
      const res = await fleet.http.inject({ method: 'PATCH', url: `/api/v1/cabinets/${toggled}`, headers: { authorization: `Bearer ${ADMIN}` }, payload: { status: flip ? 'suspended' : 'operating' } })
      if (res.statusCode !== 200) throw new Error(`toggle failed: ${res.statusCode} ${res.body}`)
      const s = performance.now()
      const r = await fleet.http.inject({ method: 'GET', url: '/api/v1/rollout', headers: { authorization: `Bearer ${ADMIN}` } })
      cold.push(performance.now() - s)
      if (r.statusCode !== 200) throw new Error(`rollout failed: ${r.statusCode}`)
    }
    cold.sort((a, b) => a - b)
    // 19,000 of 20,000 online; the same 95% at another scale (online19k* keep their names).
    const onlineCount = Math.min(19_000, Math.floor(ids.length * 0.95))
    const online = new Set(ids.slice(0, onlineCount))
    const service = createRolloutService({ store: createRolloutStore(fleet.database), plan: () => fleet.plan, liveness: { onlineIds: () => online.values() }, now })
    const admin = { userId: 'bench', username: 'bench', role: 'admin' as const, countyCode: null, operator: null }
    const withOnline = await timeIt(async () => {
      if ((await service.progress(admin)).totals.online !== onlineCount) throw new Error('online count wrong')
    })
    return {
      engine: fleet.database.dialect,
      cabinets: ids.length,
      onlineCabinets: onlineCount,
      counties: plan.counties.length,
      transitions,
      runs,
      p50Ms: +percentile(http, 0.5).toFixed(3),
      p99Ms: +percentile(http, 0.99).toFixed(3),
      coldP50Ms: +percentile(cold, 0.5).toFixed(3),
      coldP99Ms: +percentile(cold, 0.99).toFixed(3),
      online19kP50Ms: +percentile(withOnline, 0.5).toFixed(3),
      online19kP99Ms: +percentile(withOnline, 0.99).toFixed(3),
      importMs: Math.round(importMs),
      targetMs: 50,
    }
  } finally {
    await fleet.close()
    await rm(dir, { recursive: true, force: true })
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await rolloutQuery()))
}
