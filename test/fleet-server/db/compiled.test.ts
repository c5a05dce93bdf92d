// Queries compiled once and run with new parameters (db/compiled.ts), on the
// engine under test: each run binds its own values and reads its own rows.
import { describe, expect, it } from 'vitest'
import { compiledOnce } from '../../../fleet-server/src/db/compiled.js'
import { api, startFleet } from '../../helpers/fleet.js'

describe('compiledOnce', () => {
  it('runs one compiled query with each call\'s values, in the order they appear, and refuses a wrong count', async () => {
    const fleet = await startFleet()
    for (const [username, countyCode] of [['dy', '341125'], ['fy', '341126']]) {
      expect((await api(fleet, 'POST', '/api/v1/users', { username, role: 'county', countyCode })).status).toBe(201)
    }
    const k = fleet.database.kysely
    const byName = compiledOnce(k.selectFrom('users').select(['username', 'county_code']).where('username', '=', ''))
    const byCountyAndName = compiledOnce(k.selectFrom('users').select('username').where('county_code', '=', '').where('username', '<>', ''))

    expect((await k.executeQuery(byName('dy'))).rows).toEqual([{ username: 'dy', county_code: '341125' }])
    expect((await k.executeQuery(byName('fy'))).rows).toEqual([{ username: 'fy', county_code: '341126' }])
    expect((await k.executeQuery(byName('nobody'))).rows).toEqual([])
    expect((await k.executeQuery(byCountyAndName('341126', 'dy'))).rows).toEqual([{ username: 'fy' }])
    expect((await k.executeQuery(byCountyAndName('341126', 'fy'))).rows).toEqual([])
    expect(() => byName('dy', 'extra')).toThrow(/takes 1 parameters, given 2/)
    expect(() => byCountyAndName('341126')).toThrow(/takes 2 parameters, given 1/)
  })
})
