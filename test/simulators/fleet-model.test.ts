import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { describe, expect, it, onTestFinished } from 'vitest'
import { PostSaleBody, lineTotalFen } from '../../shared/src/index.js'
import type { VENUES } from '../../simulators/src/fleet/model.js';
import { cabinetProfile, outagesOf, SIM_CATALOG, salesOfDay, shanghaiDayOf } from '../../simulators/src/fleet/model.js'
import { httpClient, spreadByQuota } from '../../simulators/src/fleet/provision.js'
import { parseFlags } from '../../simulators/src/fleet/main.js'

const MONDAY = shanghaiDayOf(Date.parse('2020-10-12T00:00:00+08:00'))
const SATURDAY = MONDAY + 5
const opts = { seed: 'test', certifiedMean: 0.65, clockSkewRate: 0 }
const hourOf = (ms: number) => new Date(ms + 8 * 3_600_000).getUTCHours()

function hourHistogram(venue: keyof typeof VENUES, day: number, cabinets = 40): number[] {
  const h = new Array<number>(24).fill(0)
  for (let i = 0; i < cabinets; i++) {
    const id = `C-${i}`
    for (const s of salesOfDay('test', id, cabinetProfile(id, venue, opts), day)) h[hourOf(s.atMs)]!++
  }
  return h
}

describe('simulated sales model', () => {
  it('gives the same sales, ids included, for the same seed, and different ones for another seed', () => {
    const p = cabinetProfile('C-1', '医院', opts)
    const a = salesOfDay('test', 'C-1', p, MONDAY)
    expect(salesOfDay('test', 'C-1', p, MONDAY)).toEqual(a)
    expect(salesOfDay('other', 'C-1', p, MONDAY).map((s) => s.body.saleId)).not.toEqual(a.map((s) => s.body.saleId))
    for (const s of a) {
      expect(PostSaleBody.safeParse(s.body).success).toBe(true)
      for (const l of s.body.items) expect(SIM_CATALOG.find((c) => c.sku === l.sku)?.priceFen).toBe(l.unitPriceFen)
    }
  })

  it('keeps a school busy at breaks, an office at lunch, a hospital all day, and offices quiet at weekends', () => {
    const school = hourHistogram('高校', MONDAY)
    expect(school[10]!).toBeGreaterThan(2 * school[11]!)
    expect(school[3]).toBe(0)
    const office = hourHistogram('机关', MONDAY)
    expect(office[12]!).toBeGreaterThan(2 * office[9]!)
    const hospital = hourHistogram('医院', MONDAY)
    for (let h = 8; h <= 17; h++) expect(hospital[h]!).toBeGreaterThan(0)
    const sum = (xs: number[]) => xs.reduce((s, x) => s + x, 0)
    expect(sum(hourHistogram('机关', SATURDAY))).toBeLessThan(sum(office) / 4)
    expect(sum(hourHistogram('景区', SATURDAY))).toBeGreaterThan(sum(hourHistogram('景区', MONDAY)) * 1.5)
  })

  it('draws certified shares around the mean so that some cabinets fall below 50%, and realises them by amount', () => {
    const shares = Array.from({ length: 400 }, (_, i) => cabinetProfile(`C-${i}`, '社区', opts).certifiedShare)
    const mean = shares.reduce((s, x) => s + x, 0) / shares.length
    expect(mean).toBeGreaterThan(0.6)
    expect(mean).toBeLessThan(0.7)
    expect(shares.filter((s) => s < 0.5).length).toBeGreaterThan(10)
    let certified = 0
    let total = 0
    for (let i = 0; i < 100; i++) {
      const p = { ...cabinetProfile(`C-${i}`, '医院', opts), certifiedShare: 0.3 }
      for (let d = 0; d < 3; d++) {
        for (const s of salesOfDay('test', `C-${i}`, p, MONDAY + d)) {
          for (const l of s.body.items) {
            const amount = lineTotalFen([l])
            total += amount
            if (SIM_CATALOG.find((c) => c.sku === l.sku)!.isCertified) certified += amount
          }
        }
      }
    }
    expect(certified / total).toBeGreaterThan(0.22)
    expect(certified / total).toBeLessThan(0.38)
  })

  it('skews the controller clock of the requested share of cabinets by minutes to days', () => {
    const skews = Array.from({ length: 500 }, (_, i) => cabinetProfile(`C-${i}`, '医院', { ...opts, clockSkewRate: 0.2 }).clockSkewMs)
    const skewed = skews.filter((s) => s !== 0).map(Math.abs)
    expect(skewed.length).toBeGreaterThan(70)
    expect(skewed.length).toBeLessThan(130)
    expect(Math.min(...skewed)).toBeGreaterThanOrEqual(120_000)
    expect(Math.max(...skewed)).toBeLessThanOrEqual(3 * 86_400_000)
  })

  it('plans outages of hours to days', () => {
    const all = Array.from({ length: 200 }, (_, i) => outagesOf('test', `C-${i}`, 0, 7, 0.2)).flat()
    expect(all.length).toBeGreaterThan(200)
    for (const [a, b] of all) {
      expect(b - a).toBeGreaterThanOrEqual(3_600_000)
      expect(b - a).toBeLessThanOrEqual(2 * 86_400_000)
    }
  })

  it('spreads cabinets over counties by quota', () => {
    const spread = spreadByQuota([{ code: 'A', quota: 300 }, { code: 'B', quota: 100 }, { code: 'C', quota: 0 }], 50)
    expect(spread).toHaveLength(50)
    expect(spread.filter((c) => c === 'A')).toHaveLength(38)
    expect(spread.filter((c) => c === 'C')).toHaveLength(0)
  })

  it('reads the documented flags', () => {
    const o = parseFlags(['--token', 't', '--cabinets', '2700', '--days', '7', '--speed', '2880', '--seed', 's1', '--certified-mean', '0.6',
      '--outage-rate', '0.05', '--crash-rate', '0.5', '--clock-skew', '0.02', '--city-outage', '24:6'], {})
    expect(o).toMatchObject({ cabinets: 2700, days: 7, speed: 2880, seed: 's1', certifiedMean: 0.6, outageRate: 0.05, crashRate: 0.5, clockSkewRate: 0.02, cityOutages: [[24, 6]], verifyIds: false })
    expect(() => parseFlags(['--token', 't', '--cabinets', 'many'], {})).toThrow(/--cabinets/)
  })

  it('takes a cluster\'s replicas and brokers as comma-separated lists (issue 14)', () => {
    const o = parseFlags(['--token', 't', '--http', 'http://127.0.0.1:8081, http://127.0.0.1:8082', '--mqtt', 'mqtt://127.0.0.1:4221,mqtt://127.0.0.1:4222'], {})
    expect(o).toMatchObject({ httpUrl: 'http://127.0.0.1:8081,http://127.0.0.1:8082', mqttUrl: 'mqtt://127.0.0.1:4221,mqtt://127.0.0.1:4222' })
    expect(() => parseFlags(['--token', 't', '--mqtt', 'mqtt://a:1,mqtts://b:2'], {})).toThrow(/--mqtt.*mqtts:\/\/b:2/)
    expect(() => parseFlags(['--token', 't', '--http', 'http://a:1,nonsense'], {})).toThrow(/--http: not a URL: nonsense/)
  })

  it('sends an API call to the next replica when one cannot be reached, and stays there', async () => {
    const seen: string[] = []
    const live = createServer((req, res) => {
      seen.push(req.url ?? '')
      res.setHeader('content-type', 'application/json')
      res.end('{"ok":true}')
    })
    await new Promise<void>((resolve) => live.listen(0, '127.0.0.1', resolve))
    onTestFinished(() => new Promise<void>((resolve) => live.close(() => resolve())))
    // A port nothing listens on: taken, then freed.
    const dead = createServer()
    await new Promise<void>((resolve) => dead.listen(0, '127.0.0.1', resolve))
    const deadPort = (dead.address() as AddressInfo).port
    await new Promise<void>((resolve) => dead.close(() => resolve()))
    const http = httpClient(`http://127.0.0.1:${deadPort},http://127.0.0.1:${(live.address() as AddressInfo).port}`, 't')
    expect(await http.call('GET', '/api/v1/a')).toEqual({ status: 200, body: { ok: true } })
    expect(await http.call('GET', '/api/v1/b')).toEqual({ status: 200, body: { ok: true } })
    expect(seen).toEqual(['/api/v1/a', '/api/v1/b'])
    await expect(httpClient(`http://127.0.0.1:${deadPort}`, 't').call('GET', '/x')).rejects.toThrow()

    // Many calls in flight when the replica in use is lost (provisioning runs
    // 16 at a time): every one of them gets through to the live one.
    const crowd = httpClient(`http://127.0.0.1:${deadPort},http://127.0.0.1:${(live.address() as AddressInfo).port}`, 't')
    const answers = await Promise.all(Array.from({ length: 16 }, (_, i) => crowd.call('GET', `/api/v1/c${i}`)))
    expect(answers.map((a) => a.status)).toEqual(Array.from({ length: 16 }, () => 200))
  })
})
