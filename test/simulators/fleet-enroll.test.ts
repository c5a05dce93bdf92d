// The simulator deploys its cabinets by bootstrap code and sends them remote
// commands (issue 16 §8): `npm run simulate -- --enroll --operator … --commands N`
// against a real fleet server. Every cabinet ends operating with the key its
// agent generated registered on the server (its spent code refused again);
// every command ends done or, for those sent into an outage with a shorter
// expiry, expired; later sales of a re-priced SKU carry the new price. A rerun
// reuses the enrollments.
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import type { FleetSummary } from '../../simulators/src/fleet/run.js'
import { api, startFleet, tempDir } from '../helpers/fleet.js'
import { startProgram } from '../helpers/process.js'

interface FleetJson {
  cabinets: Array<{ cabinetId: string; enrolled?: { keyPath: string; code: string } }>
  operatorUsers?: Record<string, { username: string }>
}

describe('npm run simulate -- --enroll --commands', () => {
  it('enrolls every cabinet by bootstrap code, confirms it operating, and sees every command done or justly expired', async () => {
    const fleet = await startFleet()
    const data = await tempDir('sim-enroll-')
    const operator = '测试运营公司'
    const args = [
      '--http', fleet.httpUrl, '--mqtt', fleet.mqttUrl, '--token', fleet.adminToken, '--data', data, '--workers', '1',
      '--cabinets', '16', '--speed', '17280', '--seed', 'ci-enroll', '--outage-rate', '0.5', '--city-outage', '20:3', '--drain-timeout', '30', '--no-settle',
      '--enroll', '--operator', operator,
    ]
    const sim = await startProgram('simulators/src/fleet/main.ts', [...args, '--days', '2', '--commands', '30'], { readyTimeoutMs: 60_000 })
    const code = await sim.exited
    const summary = JSON.parse(sim.lines.at(-1)!) as FleetSummary
    expect(summary, sim.stderr().slice(-3000)).toMatchObject({ event: 'summary', isOk: true, cabinets: 16, sales: { missing: 0, duplicates: 0 } })
    expect(code).toBe(0)

    // Deployed by code, as the operator's own user; confirmed operating after the first contact installed them.
    const state = JSON.parse(await readFile(join(data, 'fleet.json'), 'utf8')) as FleetJson
    const by = state.operatorUsers?.[operator]?.username
    expect(summary.enrollment).toEqual({ enrolled: 16, operating: 16, notOperating: [], by })
    for (const cab of state.cabinets) {
      const g = await api<{ status: string; operator: string }>(fleet, 'GET', `/api/v1/cabinets/${cab.cabinetId}`)
      expect(g.body).toMatchObject({ status: 'operating', operator })
      const t = await api<{ transitions: Array<{ to: string; by: string }> }>(fleet, 'GET', `/api/v1/cabinets/${cab.cabinetId}/transitions`)
      expect(t.body.transitions.map((x) => `${x.to}:${x.by}`)).toEqual(expect.arrayContaining(['installed:system', `operating:${by}`]))
    }
    // The key on the server is the one each agent keeps.
    const keys = await fleet.database.kysely.selectFrom('cabinet_keys').select(['cabinet_id', 'public_key']).execute()
    expect(keys).toHaveLength(16)
    for (const cab of state.cabinets) {
      const pem = createPublicKey(createPrivateKey(await readFile(cab.enrolled!.keyPath, 'utf8'))).export({ type: 'spki', format: 'pem' }).toString()
      expect(keys.find((k) => k.cabinet_id === cab.cabinetId)?.public_key).toBe(pem)
    }
    // A spent code opens nothing.
    const again = await api<{ error: { code: string } }>(fleet, 'POST', '/api/v1/enroll', {
      code: state.cabinets[0]!.enrolled!.code, publicKey: generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    }, null)
    expect(again.status).toBe(409)
    expect(again.body.error.code).toBe('ENROLL_CODE_USED')

    // Every command ended done, or expired in an outage; a few were meant to.
    const c = summary.commands!
    expect(c, JSON.stringify(c.problems)).toMatchObject({ sent: 30, failed: 0, pending: 0, delivered: 0, sendFailed: 0, unjustifiedExpiry: 0, isOk: true })
    expect(c.done + c.expired).toBe(30)
    expect(c.intoOutage).toBeGreaterThanOrEqual(5)
    expect(c.expired).toBeGreaterThanOrEqual(1)
    expect(c.expired).toBeLessThanOrEqual(c.shortExpiry)
    // Re-priced SKUs: later sales were held to the new price, and there were some.
    expect(c.prices.checked).toBeGreaterThan(0)
    expect(c.prices.lines).toBeGreaterThan(0)
    expect(c.prices.wrong).toBe(0)

    // A rerun on the same data reuses the enrollments: no new code, the same keys.
    const rerun = await startProgram('simulators/src/fleet/main.ts', [...args, '--days', '0.2'], { readyTimeoutMs: 60_000 })
    expect(await rerun.exited, rerun.stderr().slice(-2000)).toBe(0)
    const second = JSON.parse(rerun.lines.at(-1)!) as FleetSummary
    expect(second).toMatchObject({ isOk: true, provisioning: { created: 0, reused: 16 }, enrollment: { enrolled: 0 }, commands: null })
    expect(second.sales.generated).toBeGreaterThan(0)
    const keysAfter = await fleet.database.kysely.selectFrom('cabinet_keys').select(['cabinet_id', 'public_key']).execute()
    expect(keysAfter).toEqual(expect.arrayContaining(keys))
  }, 120_000)
})
