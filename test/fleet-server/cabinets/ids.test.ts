// Cabinet ids chosen by callers and by the generator (issue 12, finding 4):
// a county user may choose ids only in its own county's range, learns nothing
// about ids elsewhere, and a squatted number never blocks the generator.
import { describe, expect, it } from 'vitest'
import { api, provision, startFleet } from '../../helpers/fleet.js'
import { sqlRow } from '../../helpers/test-db.js'
import { csvRow, importCsv, userToken } from '../../helpers/rollout.js'

type ErrorReply = { error: { code: string; message: string; details?: Record<string, unknown> } }

describe('cabinet ids', () => {
  it('refuses a county user an id outside its county range with CABINET_ID_OUT_OF_RANGE, the same whether the id exists or not', async () => {
    const fleet = await startFleet()
    await provision(fleet, { countyCode: '341126', cabinetId: '341126-00001' }) // 凤阳's, by the admin
    const dingyuan = await userToken(fleet, { username: 'dy', role: 'county', countyCode: '341125' })
    const count = async () => (await sqlRow<{ n: number }>(fleet.database, 'SELECT count(*) AS n FROM cabinets'))!.n
    const create = (body: Record<string, unknown>) => api<ErrorReply>(fleet, 'POST', '/api/v1/cabinets', body, dingyuan)
    const masked = (r: { status: number; body: ErrorReply }, id: string) => JSON.stringify(r).replaceAll(id, 'ID')

    const existing = await create({ countyCode: '341125', cabinetId: '341126-00001' })
    const absent = await create({ countyCode: '341125', cabinetId: '341126-00077' })
    expect(existing.status).toBe(403)
    expect(existing.body.error.code).toBe('CABINET_ID_OUT_OF_RANGE')
    expect(masked(existing, '341126-00001')).toBe(masked(absent, '341126-00077'))
    // Naming the other county outright is refused before any lookup too.
    const there = await create({ countyCode: '341126', cabinetId: '341126-00001' })
    const thereAbsent = await create({ countyCode: '341126', cabinetId: '341126-00077' })
    expect(there.status).toBe(403)
    expect(masked(there, '341126-00001')).toBe(masked(thereAbsent, '341126-00077'))
    expect((await create({ countyCode: '341125', cabinetId: 'SN-0001' })).body.error.code).toBe('CABINET_ID_OUT_OF_RANGE')
    expect(await count()).toBe(1)

    // Its own range is fine; the admin may choose any id (hardware serials, simulators).
    expect((await create({ countyCode: '341125', cabinetId: '341125-SN0001' })).status).toBe(201)
    expect((await create({ countyCode: '341125', cabinetId: '341125-SN0001' })).body.error.code).toBe('CABINET_ID_TAKEN')
    await provision(fleet, { countyCode: '341125', cabinetId: 'SN-0001' })
    expect(await count()).toBe(3)
  })

  it('does not tell a county user importing CSV which ids exist in other counties', async () => {
    const fleet = await startFleet()
    await provision(fleet, { countyCode: '341126', cabinetId: '341126-00001' })
    await provision(fleet, { countyCode: '341125', cabinetId: 'SN-0001' })
    const dingyuan = await userToken(fleet, { username: 'dy', role: 'county', countyCode: '341125' })
    const rejected = async (rows: string[]) => {
      const r = await importCsv(fleet, rows, { token: dingyuan })
      expect(r.status).toBe(400)
      return (r.body as unknown as ErrorReply).error.details!.rejected as Array<{ line: number; field: string; message: string }>
    }
    const [a, b, c, d] = await rejected([
      csvRow('341126-00001', '341125', 'planned'),
      csvRow('341126-00077', '341125', 'planned'),
      csvRow('341126-00001', '341126', 'planned'),
      csvRow('SN-0001', '341125', 'planned'),
    ])
    expect(a!.field).toBe('cabinetId')
    expect(a!.message.replace('341126-00001', 'ID')).toBe(b!.message.replace('341126-00077', 'ID'))
    for (const r of [a, b, c, d]) expect(r!.message).not.toMatch(/已存在/)
    expect(c!.message).toBe('县区不能在区县 “341126” 新建专柜')
    expect(d!.message).toBe('专柜编号 “SN-0001” 须以 “341125-” 开头')
    expect((await sqlRow<{ n: number }>(fleet.database, 'SELECT count(*) AS n FROM cabinets'))!.n).toBe(2)
  })

  it('generates the next free id when numbers of the county were taken under another county', async () => {
    const fleet = await startFleet()
    // The admin files ids of 定远's range under 凤阳 (a squatted number, as a
    // county user could before the range rule).
    await provision(fleet, { countyCode: '341126', cabinetId: '341125-00001' })
    await provision(fleet, { countyCode: '341126', cabinetId: '341125-00002' })
    const dingyuan = await userToken(fleet, { username: 'dy', role: 'county', countyCode: '341125' })
    // CSV import, skipping an id the file itself names, then one by one.
    const imported = await importCsv(fleet, [csvRow('', '341125', 'planned'), csvRow('341125-00004', '341125', 'planned'), csvRow('', '341125', 'planned')], { token: dingyuan })
    expect(imported.status, JSON.stringify(imported.body)).toBe(201)
    expect(imported.body.cabinets!.map((c) => c.cabinetId)).toEqual(['341125-00003', '341125-00004', '341125-00005'])
    expect((await provision(fleet, { countyCode: '341125' }, dingyuan)).cabinetId).toBe('341125-00006')
  })
})
