// The product facts the policy documents list (issue 15; 常德 001: 种养规模、
// 年产量、上市季节、市场价格区间、经营主体、带动贫困人口数; 章贡区 002: 生产资料来源):
// taken by POST/PATCH /products, shown in every product view, kept in history,
// and carried from a workflow application to the product when it takes effect.
import { describe, expect, it } from 'vitest'
import { api } from '../../helpers/fleet.js'
import { aClock, aUscc, fleetWith, ok } from '../certification.fixtures.js'

const FACTS = {
  scale: '蜂群 300 箱',
  annualOutput: '5000 公斤',
  supplyPeriod: '9月至12月',
  priceRange: { minFen: 3500, maxFen: 4500 },
  operator: '定远县蜂业合作社',
  householdsHelped: 12,
  materialSource: '自养蜂群',
}
const NONE = { scale: null, annualOutput: null, supplyPeriod: null, priceRange: null, operator: null, householdsHelped: null, materialSource: null }

describe('product facts', () => {
  it('stores the policy’s facts on POST and PATCH /products and shows them in every product view', async () => {
    const fleet = await fleetWith()
    await ok(fleet, 'POST', '/api/v1/suppliers', { uscc: aUscc(1), name: '合作社' })
    const created = await ok(fleet, 'POST', '/api/v1/products', { sku: 'HONEY', name: '蜂蜜', supplierUscc: aUscc(1), priceFen: 3990, origin: '定远县', category: '农副产品', ...FACTS })
    expect(created).toMatchObject({ sku: 'HONEY', origin: '定远县', category: '农副产品', ...FACTS })
    await ok(fleet, 'POST', '/api/v1/products', { sku: 'PLAIN', name: '普通', supplierUscc: aUscc(1), priceFen: 100 })

    const list = await ok<{ products: Array<Record<string, unknown>> }>(fleet, 'GET', '/api/v1/products', undefined, 200)
    expect(list.products).toEqual([expect.objectContaining({ sku: 'HONEY', ...FACTS }), expect.objectContaining({ sku: 'PLAIN', ...NONE })])

    // A patch changes what it names and keeps the rest; a product without facts gets them.
    const patched = await ok(fleet, 'PATCH', '/api/v1/products/HONEY', { householdsHelped: 15, priceRange: { minFen: 3800, maxFen: 4800 } }, 200)
    expect(patched).toMatchObject({ ...FACTS, householdsHelped: 15, priceRange: { minFen: 3800, maxFen: 4800 } })
    await ok(fleet, 'PATCH', '/api/v1/products/PLAIN', { scale: '小规模' }, 200)
    expect(await ok(fleet, 'GET', '/api/v1/products/PLAIN', undefined, 200)).toMatchObject({ ...NONE, scale: '小规模' })
    expect(await ok(fleet, 'GET', '/api/v1/products/HONEY', undefined, 200)).toMatchObject({ householdsHelped: 15, annualOutput: '5000 公斤' })

    const history = await ok<{ entries: Array<{ action: string; detail: Record<string, unknown> }> }>(fleet, 'GET', '/api/v1/catalog/history?entity=product&id=HONEY', undefined, 200)
    expect(history.entries[0]).toMatchObject({ action: 'changed', detail: { householdsHelped: { from: 12, to: 15 }, priceRange: { from: FACTS.priceRange, to: { minFen: 3800, maxFen: 4800 } } } })
  })

  it('refuses bad facts with 400 and a Chinese message naming the field', async () => {
    const fleet = await fleetWith()
    await ok(fleet, 'POST', '/api/v1/suppliers', { uscc: aUscc(1), name: '合作社' })
    const base = { sku: 'HONEY', name: '蜂蜜', supplierUscc: aUscc(1), priceFen: 3990 }
    for (const [extra, words] of [
      [{ priceRange: { minFen: 5000, maxFen: 4000 } }, '不能低于最低价'],
      [{ householdsHelped: -1 }, '带贫人数'],
      [{ householdsHelped: 1.5 }, '带贫人数'],
      [{ scale: '' }, '生产规模'],
    ] as const) {
      const r = await api<{ error: { code: string; message: string } }>(fleet, 'POST', '/api/v1/products', { ...base, ...extra })
      expect(r.status, JSON.stringify(extra)).toBe(400)
      expect(r.body.error.code).toBe('VALIDATION_FAILED')
      expect(r.body.error.message).toContain(words)
    }
    expect((await api(fleet, 'GET', '/api/v1/products/HONEY')).status).toBe(404)
  })

  it('carries the facts of a new application, and of a change, to the product when it takes effect', async () => {
    const clock = aClock('2020-09-14T02:00:00Z') // Monday
    const fleet = await fleetWith({ deps: { now: clock.now } })
    const dy = (await ok<{ token: string }>(fleet, 'POST', '/api/v1/users', { username: 'dy', role: 'county', countyCode: '341125' })).token
    const as = async <T = { applicationId: number; facts: Record<string, unknown> }>(method: 'GET' | 'POST', url: string, body: unknown, status: number) => {
      const r = await api<T>(fleet, method, url, body, dy)
      expect(r.status, JSON.stringify(r.body)).toBe(status)
      return r.body
    }
    await as('POST', '/api/v1/suppliers', { uscc: aUscc(1), name: '定远县蜂业合作社' }, 201)
    const filed = await as('POST', '/api/v1/certification/applications', { kind: 'new', supplierUscc: aUscc(1), sku: 'DY-HONEY', product: { name: '定远蜂蜜', priceFen: 3990, origin: '定远县', ...FACTS } }, 201)
    expect(filed.facts).toMatchObject(FACTS)
    await as('POST', `/api/v1/certification/applications/${filed.applicationId}/review`, { decision: 'approve' }, 200)
    clock.set('2020-09-22T02:00:00Z')
    await ok(fleet, 'POST', '/api/v1/certification/publicity/run', undefined, 200)
    expect(await ok(fleet, 'GET', '/api/v1/products/DY-HONEY', undefined, 200)).toMatchObject({ isCertified: true, origin: '定远县', ...FACTS })

    const change = await as('POST', '/api/v1/certification/applications', { kind: 'change', sku: 'DY-HONEY', changes: { householdsHelped: 20, supplyPeriod: '全年' } }, 201)
    await as('POST', `/api/v1/certification/applications/${change.applicationId}/review`, { decision: 'approve' }, 200)
    clock.set('2020-09-30T02:00:00Z')
    await ok(fleet, 'POST', '/api/v1/certification/publicity/run', undefined, 200)
    expect(await ok(fleet, 'GET', '/api/v1/products/DY-HONEY', undefined, 200)).toMatchObject({ ...FACTS, householdsHelped: 20, supplyPeriod: '全年' })
  })
})
