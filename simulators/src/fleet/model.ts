// The sales model of a simulated fleet: a seeded PRNG, a catalog of certified
// (扶贫产品) and ordinary goods, and per-venue daily volumes and hourly
// profiles (Asia/Shanghai). Pure and deterministic: the same seed, cabinet
// and day always give the same sales, with the same sale ids.
import { createHash } from 'node:crypto'
import { SHANGHAI_OFFSET_MS, type PostSaleBody, type VenueType } from '../../../shared/src/index.js'

const DAY_MS = 86_400_000

/** sfc32, seeded from SHA-256 of the key: fast, 128-bit state, good enough for a simulation. */
export function rng(key: string): () => number {
  const h = createHash('sha256').update(key).digest()
  let a = h.readUInt32LE(0)
  let b = h.readUInt32LE(4)
  let c = h.readUInt32LE(8)
  let d = h.readUInt32LE(12)
  return () => {
    a |= 0; b |= 0; c |= 0; d |= 0
    const t = (((a + b) | 0) + d) | 0
    d = (d + 1) | 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) | 0
    c = (c << 21) | (c >>> 11)
    c = (c + t) | 0
    return (t >>> 0) / 4294967296
  }
}

export type Rand = () => number

export function poisson(rand: Rand, mean: number): number {
  if (mean <= 0) return 0
  if (mean > 40) return Math.max(0, Math.round(mean + Math.sqrt(mean) * normal(rand)))
  const l = Math.exp(-mean)
  let k = 0
  let p = 1
  do {
    k++
    p *= rand()
  } while (p > l)
  return k - 1
}

export function normal(rand: Rand): number {
  const u = Math.max(rand(), 1e-12)
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand())
}

function pick<T>(rand: Rand, items: readonly T[], weights: readonly number[]): T {
  let total = 0
  for (const w of weights) total += w
  let r = rand() * total
  for (let i = 0; i < items.length; i++) {
    r -= weights[i]!
    if (r < 0) return items[i]!
  }
  return items[items.length - 1]!
}

/** A UUID (v4 layout) from the PRNG, so sale ids repeat with the seed. */
function seededUuid(rand: Rand): string {
  const b = Buffer.alloc(16)
  for (let i = 0; i < 16; i += 4) b.writeUInt32LE(Math.floor(rand() * 4294967296), i)
  b[6] = (b[6]! & 0x0f) | 0x40
  b[8] = (b[8]! & 0x3f) | 0x80
  const h = b.toString('hex')
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`
}

export interface CatalogEntry {
  sku: string
  name: string
  priceFen: number
  isCertified: boolean
  /** Relative popularity within its group. */
  weight: number
}

/** Certified products of Chuzhou's counties and the ordinary goods a cabinet also sells. */
export const SIM_CATALOG: readonly CatalogEntry[] = [
  { sku: 'DY-RICE-5KG', name: '定远大米 5kg', priceFen: 4990, isCertified: true, weight: 2 },
  { sku: 'DY-SESAME-OIL', name: '定远小磨麻油 250ml', priceFen: 2680, isCertified: true, weight: 2 },
  { sku: 'FY-PEANUT-500G', name: '凤阳花生 500g', priceFen: 1880, isCertified: true, weight: 5 },
  { sku: 'FY-MUNG-BEAN', name: '凤阳绿豆 1kg', priceFen: 1590, isCertified: true, weight: 3 },
  { sku: 'MG-GREEN-TEA', name: '明光绿茶 100g', priceFen: 6800, isCertified: true, weight: 1 },
  { sku: 'MG-MELON-SEED', name: '明光瓜子 200g', priceFen: 990, isCertified: true, weight: 8 },
  { sku: 'LA-HONEY-500G', name: '来安蜂蜜 500g', priceFen: 5800, isCertified: true, weight: 1 },
  { sku: 'LA-DRIED-TOFU', name: '来安豆干 200g', priceFen: 850, isCertified: true, weight: 9 },
  { sku: 'QJ-SALTED-DUCK', name: '全椒咸鸭 1只', priceFen: 3990, isCertified: true, weight: 1 },
  { sku: 'QJ-RICE-CAKE', name: '全椒米糕 300g', priceFen: 690, isCertified: true, weight: 9 },
  { sku: 'TC-CRAB-SNACK', name: '天长蟹黄锅巴 150g', priceFen: 790, isCertified: true, weight: 8 },
  { sku: 'TC-GOOSE-EGG', name: '天长鹅蛋 2枚', priceFen: 1290, isCertified: true, weight: 3 },
  { sku: 'NQ-MUSHROOM', name: '南谯香菇 150g', priceFen: 2290, isCertified: true, weight: 2 },
  { sku: 'LY-PEAR-JUICE', name: '琅琊梨汁 350ml', priceFen: 590, isCertified: true, weight: 10 },
  { sku: 'GEN-WATER-550', name: '矿泉水 550ml', priceFen: 200, isCertified: false, weight: 14 },
  { sku: 'GEN-COLA-330', name: '可乐 330ml', priceFen: 350, isCertified: false, weight: 10 },
  { sku: 'GEN-TEA-500', name: '冰红茶 500ml', priceFen: 400, isCertified: false, weight: 9 },
  { sku: 'GEN-COFFEE', name: '罐装咖啡', priceFen: 650, isCertified: false, weight: 5 },
  { sku: 'GEN-CHIPS', name: '薯片 70g', priceFen: 750, isCertified: false, weight: 7 },
  { sku: 'GEN-NOODLES', name: '方便面', priceFen: 550, isCertified: false, weight: 7 },
  { sku: 'GEN-BREAD', name: '面包', priceFen: 600, isCertified: false, weight: 6 },
  { sku: 'GEN-TISSUE', name: '纸巾', priceFen: 300, isCertified: false, weight: 4 },
  { sku: 'GEN-MILK-250', name: '牛奶 250ml', priceFen: 450, isCertified: false, weight: 6 },
  { sku: 'GEN-GUM', name: '口香糖', priceFen: 1000, isCertified: false, weight: 3 },
]
const CERTIFIED = SIM_CATALOG.filter((c) => c.isCertified)
const ORDINARY = SIM_CATALOG.filter((c) => !c.isCertified)
const meanPrice = (xs: readonly CatalogEntry[]) => xs.reduce((s, x) => s + x.priceFen * x.weight, 0) / xs.reduce((s, x) => s + x.weight, 0)
const MEAN_CERTIFIED_FEN = meanPrice(CERTIFIED)
const MEAN_ORDINARY_FEN = meanPrice(ORDINARY)

interface VenueProfile {
  /** Mean sales per weekday and per weekend day. */
  weekday: number
  weekend: number
  /** Relative sales per Shanghai hour 0..23, weekday and weekend. */
  hours: readonly number[]
  weekendHours?: readonly number[]
  /** Share of venues of this type in a city rollout. */
  share: number
}

// Hourly profiles: a school is busy at breaks, a hospital all day, an office
// at lunch, a station at commuting hours, a mall in the afternoon and evening.
const H = (spec: Record<number, number>, base = 0): number[] => Array.from({ length: 24 }, (_, h) => spec[h] ?? base)
export const VENUES: Readonly<Record<VenueType, VenueProfile>> = {
  高校: { weekday: 75, weekend: 30, share: 0.14, hours: H({ 7: 3, 8: 2, 9: 4, 10: 9, 11: 3, 12: 10, 13: 4, 14: 2, 15: 8, 16: 3, 17: 7, 18: 6, 19: 3, 20: 5, 21: 4, 22: 1 }) },
  医院: { weekday: 85, weekend: 70, share: 0.16, hours: H({ 0: 0.5, 1: 0.3, 2: 0.3, 3: 0.3, 4: 0.3, 5: 0.5, 6: 2, 7: 5, 8: 7, 9: 8, 10: 8, 11: 7, 12: 6, 13: 6, 14: 7, 15: 7, 16: 6, 17: 5, 18: 4, 19: 3, 20: 2.5, 21: 2, 22: 1, 23: 0.7 }) },
  机关: { weekday: 50, weekend: 6, share: 0.16, hours: H({ 8: 3, 9: 4, 10: 3, 11: 8, 12: 10, 13: 5, 14: 2, 15: 4, 16: 3, 17: 3 }), weekendHours: H({ 10: 1, 11: 2, 12: 2, 13: 1, 14: 1 }) },
  企业: { weekday: 55, weekend: 12, share: 0.14, hours: H({ 7: 1, 8: 3, 9: 3, 10: 3, 11: 8, 12: 10, 13: 5, 14: 2, 15: 5, 16: 3, 17: 3, 18: 2, 19: 1 }), weekendHours: H({ 9: 1, 10: 1, 11: 2, 12: 2, 13: 1, 14: 1, 15: 1 }) },
  社区: { weekday: 40, weekend: 55, share: 0.14, hours: H({ 6: 2, 7: 5, 8: 5, 9: 3, 10: 3, 11: 4, 12: 3, 13: 2, 14: 2, 15: 3, 16: 4, 17: 6, 18: 6, 19: 5, 20: 3, 21: 1 }) },
  商场: { weekday: 55, weekend: 85, share: 0.1, hours: H({ 10: 3, 11: 4, 12: 6, 13: 5, 14: 5, 15: 6, 16: 6, 17: 6, 18: 7, 19: 7, 20: 6, 21: 3 }) },
  车站: { weekday: 80, weekend: 90, share: 0.08, hours: H({ 5: 1, 6: 4, 7: 8, 8: 7, 9: 5, 10: 4, 11: 5, 12: 5, 13: 4, 14: 4, 15: 4, 16: 5, 17: 8, 18: 7, 19: 5, 20: 4, 21: 2, 22: 1 }) },
  机场: { weekday: 70, weekend: 75, share: 0.02, hours: H({ 6: 3, 7: 6, 8: 6, 9: 5, 10: 5, 11: 5, 12: 5, 13: 5, 14: 5, 15: 5, 16: 5, 17: 6, 18: 6, 19: 5, 20: 4, 21: 3, 22: 2 }) },
  景区: { weekday: 30, weekend: 80, share: 0.06, hours: H({ 8: 2, 9: 5, 10: 8, 11: 8, 12: 7, 13: 7, 14: 8, 15: 7, 16: 5, 17: 2 }) },
}
export const VENUE_TYPE_LIST = Object.keys(VENUES) as VenueType[]

/** Everything about one cabinet that does not change during a run, drawn from the seed. */
export interface CabinetProfile {
  venueType: VenueType
  /** Multiplies the venue's daily volume (a busy or quiet site). */
  popularity: number
  /** The certified share of sales amount this cabinet trends to. */
  certifiedShare: number
  /** Controller clock offset in ms (0 for most cabinets). */
  clockSkewMs: number
}

export interface ProfileOptions {
  seed: string
  certifiedMean: number
  /** Share of cabinets with a skewed controller clock. */
  clockSkewRate: number
}

export function drawVenue(seed: string, cabinetIndex: number): VenueType {
  const r = rng(`${seed}|venue|${cabinetIndex}`)
  return pick(r, VENUE_TYPE_LIST, VENUE_TYPE_LIST.map((v) => VENUES[v].share))
}

export function cabinetProfile(cabinetId: string, venueType: VenueType, o: ProfileOptions): CabinetProfile {
  const r = rng(`${o.seed}|profile|${cabinetId}`)
  const popularity = Math.exp(0.35 * normal(r)) // log-normal, median 1
  // Drawn around the mean with sd 0.12, so a tail of cabinets falls below 50%.
  const certifiedShare = Math.min(0.95, Math.max(0.05, o.certifiedMean + 0.12 * normal(r)))
  let clockSkewMs = 0
  if (r() < o.clockSkewRate) {
    // Minutes to days, either way: log-uniform between 2 min and 3 days.
    const mag = Math.exp(Math.log(120_000) + r() * (Math.log(3 * DAY_MS) - Math.log(120_000)))
    clockSkewMs = Math.round(r() < 0.5 ? -mag : mag)
  }
  return { venueType, popularity, certifiedShare, clockSkewMs }
}

export interface PlannedSale {
  /** True (virtual) time of the sale. */
  atMs: number
  body: PostSaleBody & { saleId: string; soldAt: string }
}

/** The Shanghai day index (days since the epoch) of a UTC instant. */
export const shanghaiDayOf = (ms: number): number => Math.floor((ms + SHANGHAI_OFFSET_MS) / DAY_MS)
const shanghaiDayStartMs = (day: number): number => day * DAY_MS - SHANGHAI_OFFSET_MS

/**
 * The cabinet's sales on one Shanghai calendar day, in time order. The
 * controller stamps soldAt with its own (possibly skewed) clock.
 */
export function salesOfDay(seed: string, cabinetId: string, profile: CabinetProfile, day: number): PlannedSale[] {
  const r = rng(`${seed}|sales|${cabinetId}|${day}`)
  const venue = VENUES[profile.venueType]
  const dow = new Date(shanghaiDayStartMs(day) + SHANGHAI_OFFSET_MS).getUTCDay()
  const isWeekend = dow === 0 || dow === 6
  const hours = (isWeekend && venue.weekendHours) || venue.hours
  const count = poisson(r, (isWeekend ? venue.weekend : venue.weekday) * profile.popularity)
  const start = shanghaiDayStartMs(day)
  const hourIdx = Array.from({ length: 24 }, (_, h) => h)
  // Probability that a line is certified so that the amount share meets the cabinet's target.
  const q = certifiedLineProbability(profile.certifiedShare)
  const times: number[] = []
  for (let i = 0; i < count; i++) times.push(start + pick(r, hourIdx, hours) * 3_600_000 + Math.floor(r() * 3_600_000))
  times.sort((a, b) => a - b)
  return times.map((atMs) => ({
    atMs,
    body: { ...basket(r, q), saleId: seededUuid(r), soldAt: new Date(atMs + profile.clockSkewMs).toISOString() },
  }))
}

/** Probability that a line is certified so that the amount share meets `share`. */
export function certifiedLineProbability(share: number): number {
  return (share * MEAN_ORDINARY_FEN) / (share * MEAN_ORDINARY_FEN + (1 - share) * MEAN_CERTIFIED_FEN)
}

/** One basket: 1–5 lines (mostly 1–2), quantities mostly 1, catalog prices. */
export function basket(r: Rand, certifiedLineP: number): Pick<PostSaleBody, 'items' | 'payment'> {
  const lineCount = pick(r, [1, 2, 3, 4, 5], [55, 28, 11, 4, 2])
  const bySku = new Map<string, { sku: string; qty: number; unitPriceFen: number }>()
  for (let l = 0; l < lineCount; l++) {
    const group = r() < certifiedLineP ? CERTIFIED : ORDINARY
    const item = pick(r, group, group.map((g) => g.weight))
    const qty = pick(r, [1, 2, 3], [80, 15, 5])
    const line = bySku.get(item.sku)
    if (line) line.qty += qty
    else bySku.set(item.sku, { sku: item.sku, qty, unitPriceFen: item.priceFen })
  }
  const payment = pick(r, ['wechat', 'alipay', 'unionpay', 'cash'] as const, [62, 30, 3, 5])
  return { items: [...bySku.values()], payment }
}

export const DAY = DAY_MS

/** A cabinet's own outages, virtual [from, to): per day a chance `rate` that one starts, lasting 1 h to 2 days (log-uniform). */
export function outagesOf(seed: string, cabinetId: string, startMs: number, days: number, rate: number): Array<[number, number]> {
  const r = rng(`${seed}|outages|${cabinetId}`)
  const out: Array<[number, number]> = []
  for (let d = 0; d < days; d++) {
    if (r() >= rate) continue
    const from = startMs + (d + r()) * DAY_MS
    const lengthMs = Math.exp(Math.log(3_600_000) + r() * (Math.log(2 * DAY_MS) - Math.log(3_600_000)))
    out.push([from, from + lengthMs])
  }
  return out
}

/** The first `count` sales a cabinet's schedule holds from startMs on (what a run with that many sales sold). */
export function plannedSales(seed: string, cabinetId: string, profile: CabinetProfile, startMs: number, days: number, count: number): PlannedSale[] {
  const endMs = startMs + days * DAY_MS
  const out: PlannedSale[] = []
  for (let day = shanghaiDayOf(startMs); day <= shanghaiDayOf(endMs - 1) && out.length < count; day++) {
    for (const s of salesOfDay(seed, cabinetId, profile, day)) {
      if (s.atMs >= startMs && s.atMs < endMs && out.length < count) out.push(s)
    }
  }
  return out
}
