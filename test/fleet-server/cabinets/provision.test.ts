// Provisioning many cabinets at once (a simulator or a rollout script with
// requests in flight): every create gets its own next number in its county,
// its own MQTT password and its first lifecycle step. On SQLite the creates
// that arrive together share a commit (FleetDb.transaction `group`: one fsync
// for many, issue 13's provisioning regression).
import { describe, expect, it } from 'vitest'
import { walFrames } from '../../../fleet-server/src/db/wal-checkpoint.js'
import { api, connectCabinet, provision, startFleet, type Provisioned } from '../../helpers/fleet.js'

const numbers = (cabs: readonly Provisioned[], county: string): number[] =>
  cabs.filter((c) => c.cabinetId.startsWith(`${county}-`)).map((c) => Number(c.cabinetId.slice(county.length + 1))).sort((a, b) => a - b)

const oneTo = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1)

describe('provisioning cabinets at once', () => {
  it('gives concurrent creates consecutive ids per county, each its own password and first step', async () => {
    const fleet = await startFleet()
    const file = fleet.database.sqlite?.name
    if (fleet.database.sqlite) await fleet.database.exclusive((c) => c.pragma('wal_checkpoint(TRUNCATE)'))
    const counties = ['341125', '341126', '341125', '341125']
    const cabs = await Promise.all(Array.from({ length: 32 }, (_, i) => provision(fleet, { countyCode: counties[i % counties.length] })))
    if (file !== undefined) {
      // Each create committed alone appends its cabinet, index and step pages
      // to the WAL (more than five frames); creates sharing commits, far fewer.
      expect(walFrames(file)!).toBeLessThan(cabs.length * 2)
    }

    expect(numbers(cabs, '341125')).toEqual(oneTo(24))
    expect(numbers(cabs, '341126')).toEqual(oneTo(8))
    expect(new Set(cabs.map((c) => c.mqtt.password)).size).toBe(cabs.length)
    for (const c of cabs) expect(c.mqtt.username).toBe(c.cabinetId)
    const steps = await Promise.all(cabs.map((c) => api<{ transitions: Array<{ from: string | null; to: string }> }>(fleet, 'GET', `/api/v1/cabinets/${c.cabinetId}/transitions`)))
    for (const s of steps) expect(s.body.transitions.map((t) => [t.from, t.to])).toEqual([[null, 'planned']])

    // The passwords were committed with their cabinets: each logs in with its own, not with another's.
    const first = await connectCabinet(fleet.mqttUrl, cabs[0]!)
    const last = await connectCabinet(fleet.mqttUrl, cabs.at(-1)!)
    expect(first.client.connected && last.client.connected).toBe(true)
    await expect(connectCabinet(fleet.mqttUrl, { cabinetId: cabs[1]!.cabinetId, mqtt: { username: cabs[1]!.cabinetId, password: cabs[2]!.mqtt.password } })).rejects.toThrow()
  })

  it('steps concurrent cabinets through their lifecycle, each change recorded once with its step', async () => {
    const fleet = await startFleet()
    const cabs = await Promise.all(Array.from({ length: 16 }, (_, i) => provision(fleet, { countyCode: '341125', siteName: `site ${i}`, venueType: '社区' })))
    const file = fleet.database.sqlite?.name
    if (fleet.database.sqlite) await fleet.database.exclusive((c) => c.pragma('wal_checkpoint(TRUNCATE)'))
    const step = (status: string) => Promise.all(cabs.map((c) => api<{ status: string }>(fleet, 'PATCH', `/api/v1/cabinets/${c.cabinetId}`, { status })))
    // Created with their sites, they start site_assigned (issue 15).
    for (const status of ['installed', 'operating']) {
      for (const r of await step(status)) expect([r.status, r.body.status]).toEqual([200, status])
    }
    // Changes sharing commits: far fewer WAL frames than a commit per change (each several pages).
    if (file !== undefined) expect(walFrames(file)!).toBeLessThan(cabs.length * 2 * 2)
    const steps = await Promise.all(cabs.map((c) => api<{ transitions: Array<{ to: string }> }>(fleet, 'GET', `/api/v1/cabinets/${c.cabinetId}/transitions`)))
    for (const s of steps) expect(s.body.transitions.map((t) => t.to)).toEqual(['site_assigned', 'installed', 'operating'])
    const rollout = await api<{ counties: Array<{ code: string; sitesAssigned: number; installed: number; operating: number }> }>(fleet, 'GET', '/api/v1/rollout')
    expect(rollout.body.counties.find((c) => c.code === '341125')).toMatchObject({ sitesAssigned: 16, installed: 16, operating: 16 })
  })

  it('answers a create whose id is taken with CABINET_ID_TAKEN while the creates beside it commit', async () => {
    const fleet = await startFleet()
    await provision(fleet, { countyCode: '341125', cabinetId: '341125-SN0001' })
    const results = await Promise.all([
      api(fleet, 'POST', '/api/v1/cabinets', { countyCode: '341125' }),
      api<{ error: { code: string } }>(fleet, 'POST', '/api/v1/cabinets', { countyCode: '341125', cabinetId: '341125-SN0001' }),
      api(fleet, 'POST', '/api/v1/cabinets', { countyCode: '341125', cabinetId: '341125-SN0002' }),
      api(fleet, 'POST', '/api/v1/cabinets', { countyCode: '341125' }),
    ])
    expect(results.map((r) => r.status)).toEqual([201, 409, 201, 201])
    expect((results[1]!.body as { error: { code: string } }).error.code).toBe('CABINET_ID_TAKEN')
    const list = await api<{ cabinets: Array<{ cabinetId: string }> }>(fleet, 'GET', '/api/v1/cabinets?county=341125')
    expect(list.body.cabinets.map((c) => c.cabinetId).sort()).toEqual(['341125-00001', '341125-00002', '341125-SN0001', '341125-SN0002'])
  })
})
