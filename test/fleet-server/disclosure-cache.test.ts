// The public disclosure's answer is shared (issue 15): the page has no login,
// so any number of visitors within DISCLOSURE_CACHE_MS cause one read of the
// held list; a new period or the time passing reads again, a failed read is
// not kept. Plain functions stand in for forwarding and the cabinets store.
import { describe, expect, it } from 'vitest'
import { createDisclosureService, DISCLOSURE_CACHE_MS } from '../../fleet-server/src/disclosure/service.js'
import { BUNDLED_PLANS, type HeldPeriod } from '../../shared/src/index.js'

const plan = { ...BUNDLED_PLANS['chuzhou-2020']!, policy: { ...BUNDLED_PLANS['chuzhou-2020']!.policy, publicDisclosure: true } }
const held = (cabinetId: string): HeldPeriod => ({ cabinetId, period: '2020-09', reason: 'NOT_COMPLIANT', from: '2020-09-01', to: '2020-09-30', details: { shareBp: 1234 } })

function aService() {
  let ms = 0
  let reads = 0
  let fail = false
  let list = [held('341125-00001')]
  const svc = createDisclosureService({
    plan: () => plan,
    held: async () => {
      reads++
      if (fail) throw new Error('database unavailable')
      return list
    },
    cabinet: async () => ({ countyCode: '341125', siteName: '汽车站', operator: 'dy-coop' }),
    thresholdBp: () => 5000,
    now: () => new Date('2020-10-02T02:00:00Z'),
    monotonicMs: () => ms,
  })
  return { svc, reads: () => reads, advance: (n: number) => (ms += n), setList: (l: HeldPeriod[]) => (list = l), setFail: (f: boolean) => (fail = f) }
}

describe('public disclosure cache', () => {
  it('reads the held list once for concurrent and repeated visitors within the window, then again', async () => {
    const t = aService()
    const answers = await Promise.all([t.svc.heldCabinets(), t.svc.heldCabinets(), t.svc.heldCabinets()])
    expect(t.reads()).toBe(1)
    expect(answers.map((a) => a.cabinets.map((c) => c.cabinetId))).toEqual([['341125-00001'], ['341125-00001'], ['341125-00001']])
    t.setList([held('341125-00001'), held('341125-00002')])
    t.advance(DISCLOSURE_CACHE_MS - 1)
    expect((await t.svc.heldCabinets()).cabinets).toHaveLength(1)
    t.advance(1)
    expect((await t.svc.heldCabinets()).cabinets).toHaveLength(2)
    expect(t.reads()).toBe(2)
  })

  it('does not keep a failed read', async () => {
    const t = aService()
    t.setFail(true)
    await expect(t.svc.heldCabinets()).rejects.toThrow('database unavailable')
    t.setFail(false)
    expect((await t.svc.heldCabinets()).cabinets).toHaveLength(1)
    expect(t.reads()).toBe(2)
  })
})
