// The cabinet lifecycle over PATCH /api/v1/cabinets/:id: allowed steps,
// refused jumps (409 CABINET_STATUS_INVALID naming from, to and what is
// allowed), sites required from site_assigned on, and the recorded history.
import { describe, expect, it } from 'vitest'
import { api, provision, startFleet } from '../helpers/fleet.js'
import { clockAt, userToken } from '../helpers/rollout.js'

interface ErrorReply {
  error: { code: string; message: string; details?: Record<string, unknown> }
}

describe('cabinet lifecycle', () => {
  it('walks planned → site_assigned → installed → operating ⇄ suspended → retired and records who and when', async () => {
    const clock = clockAt('2020-09-01T01:00:00.000Z')
    const fleet = await startFleet({}, { now: clock.now })
    const token = await userToken(fleet, { username: 'dingyuan', role: 'county', countyCode: '341125' })
    const { cabinetId } = await provision(fleet, { countyCode: '341125' }, token)
    const url = `/api/v1/cabinets/${cabinetId}`
    const steps: Array<[Record<string, unknown>, string]> = [
      [{ status: 'site_assigned', siteName: '定远县人民医院', venueType: '医院', siteAddress: '定远县城南路 1 号', latitude: 32.53, longitude: 117.68 }, '2020-09-02T01:00:00.000Z'],
      [{ status: 'installed' }, '2020-09-03T01:00:00.000Z'],
      [{ status: 'operating' }, '2020-09-04T01:00:00.000Z'],
      [{ status: 'suspended', reason: '医院装修' }, '2020-09-05T01:00:00.000Z'],
      [{ status: 'operating' }, '2020-09-06T01:00:00.000Z'],
      [{ status: 'retired', reason: '点位撤销' }, '2020-09-07T01:00:00.000Z'],
    ]
    for (const [body, at] of steps) {
      clock.set(at)
      const r = await api<{ cabinet: { status: string; statusSince: string } }>(fleet, 'PATCH', url, body, token)
      expect(r.status, JSON.stringify(r.body)).toBe(200)
      expect(r.body.cabinet).toMatchObject({ status: body.status, statusSince: at })
    }
    const shown = await api(fleet, 'GET', url, undefined, token)
    expect(shown.body).toMatchObject({ siteName: '定远县人民医院', venueType: '医院', siteAddress: '定远县城南路 1 号', latitude: 32.53, longitude: 117.68 })

    const history = await api<{ transitions: unknown[] }>(fleet, 'GET', `${url}/transitions`, undefined, token)
    expect(history.body.transitions).toEqual([
      { from: null, to: 'planned', at: '2020-09-01T01:00:00.000Z', by: 'dingyuan', reason: null },
      { from: 'planned', to: 'site_assigned', at: '2020-09-02T01:00:00.000Z', by: 'dingyuan', reason: null },
      { from: 'site_assigned', to: 'installed', at: '2020-09-03T01:00:00.000Z', by: 'dingyuan', reason: null },
      { from: 'installed', to: 'operating', at: '2020-09-04T01:00:00.000Z', by: 'dingyuan', reason: null },
      { from: 'operating', to: 'suspended', at: '2020-09-05T01:00:00.000Z', by: 'dingyuan', reason: '医院装修' },
      { from: 'suspended', to: 'operating', at: '2020-09-06T01:00:00.000Z', by: 'dingyuan', reason: null },
      { from: 'operating', to: 'retired', at: '2020-09-07T01:00:00.000Z', by: 'dingyuan', reason: '点位撤销' },
    ])
  })

  it('refuses illegal jumps with 409 CABINET_STATUS_INVALID naming from, to and the allowed next states', async () => {
    const fleet = await startFleet()
    const { cabinetId } = await provision(fleet)
    const url = `/api/v1/cabinets/${cabinetId}`
    const jump = await api<ErrorReply>(fleet, 'PATCH', url, { status: 'operating' })
    expect(jump.status).toBe(409)
    expect(jump.body.error).toEqual({
      code: 'CABINET_STATUS_INVALID',
      message: `专柜状态变更不合法：专柜 “${cabinetId}” 不能从“规划中”变为“运营中”；可变为：“已定点”、“已撤除”`,
      details: { cabinetId, from: 'planned', to: 'operating', allowed: ['site_assigned', 'retired'] },
    })
    expect((await api(fleet, 'PATCH', url, { status: 'installed' })).status).toBe(409)
    expect((await api(fleet, 'PATCH', url, { status: 'suspended' })).status).toBe(409)
    // Nothing changed, nothing recorded beyond the creation.
    expect((await api<{ status: string }>(fleet, 'GET', url)).body.status).toBe('planned')
    expect((await api<{ transitions: unknown[] }>(fleet, 'GET', `${url}/transitions`)).body.transitions).toHaveLength(1)

    // A site can be given back: site_assigned → planned; retired is final.
    await api(fleet, 'PATCH', url, { status: 'site_assigned', siteName: '滁州站', venueType: 'station' })
    expect((await api(fleet, 'PATCH', url, { status: 'planned' })).status).toBe(200)
    expect((await api(fleet, 'PATCH', url, { status: 'retired' })).status).toBe(200)
    const after = await api<ErrorReply>(fleet, 'PATCH', url, { status: 'planned' })
    expect(after.body.error).toMatchObject({ code: 'CABINET_STATUS_INVALID', message: expect.stringContaining('已撤除的专柜不能再变更状态') })
    // Same status again is no transition.
    expect((await api(fleet, 'PATCH', url, { status: 'retired' })).status).toBe(200)
  })

  it('site_assigned needs a concrete site (name and venue type), given now or before', async () => {
    const fleet = await startFleet()
    const bare = await provision(fleet)
    const noSite = await api<ErrorReply>(fleet, 'PATCH', `/api/v1/cabinets/${bare.cabinetId}`, { status: 'site_assigned' })
    expect(noSite.status).toBe(409)
    expect(noSite.body.error).toMatchObject({ code: 'CABINET_SITE_REQUIRED', details: { missing: ['siteName', 'venueType'] } })
    const nameOnly = await api<ErrorReply>(fleet, 'PATCH', `/api/v1/cabinets/${bare.cabinetId}`, { status: 'site_assigned', siteName: '凤阳县政务中心' })
    expect(nameOnly.body.error).toMatchObject({ code: 'CABINET_SITE_REQUIRED', details: { missing: ['venueType'] } })

    const named = await provision(fleet, { countyCode: '341125', siteName: '定远县政务中心', venueType: '机关' })
    expect((await api(fleet, 'PATCH', `/api/v1/cabinets/${named.cabinetId}`, { status: 'site_assigned' })).status).toBe(200)
  })

  it('two racing changes from the same state: one wins, the other is judged against the new state', async () => {
    const fleet = await startFleet()
    // Created with its site: it starts site_assigned (issue 15).
    const { cabinetId } = await provision(fleet, { countyCode: '341125', siteName: '定远县政务中心', venueType: '机关' })
    const url = `/api/v1/cabinets/${cabinetId}`
    const [a, b] = await Promise.all([api(fleet, 'PATCH', url, { status: 'installed' }), api(fleet, 'PATCH', url, { status: 'planned' })])
    expect([a.status, b.status].sort()).toEqual([200, 409])
    expect((await api<{ transitions: unknown[] }>(fleet, 'GET', `${url}/transitions`)).body.transitions).toHaveLength(2)
  })
})
