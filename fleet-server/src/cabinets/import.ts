// Bulk import of sites and cabinets from the placement lists operators hand
// over (CSV, English or Chinese headers). Every row is checked on its own and
// every bad row reported; the service decides all-or-nothing vs partial.
// Row problems are in Chinese: operators read them to fix their lists.
import { CabinetId, CountyCode, ERROR_CODES, LABELS_ZH, labelZh, VENUE_TYPES, VenueType, type CabinetStatus, type ImportRowError, type Plan } from '../../../shared/src/index.js'
import { canSeeCabinet, type Principal } from '../access/index.js'
import type { CsvRecord } from './csv.js'
import { isIdInRange } from './errors.js'
import { STAGE } from './lifecycle.js'

/** Header names, with the Chinese words placement lists use. */
const COLUMNS = {
  cabinetId: ['cabinetId', '专柜编号'],
  countyCode: ['countyCode', '区县代码'],
  operator: ['operator', '运营企业'],
  siteName: ['siteName', '点位名称'],
  siteAddress: ['siteAddress', '地址', '点位地址'],
  venueType: ['venueType', '场所类型'],
  latitude: ['latitude', '纬度'],
  longitude: ['longitude', '经度'],
  status: ['status', '状态'],
} as const
type Column = keyof typeof COLUMNS

/** What a placement list may say a cabinet already is. */
const IMPORTABLE: readonly CabinetStatus[] = ['planned', 'site_assigned', 'installed', 'operating']
/** The shared labels (规划中, 已定点, …) and the older words placement lists also use. */
const STATUS_ZH: Record<string, CabinetStatus> = {
  ...Object.fromEntries(IMPORTABLE.map((s) => [LABELS_ZH.cabinetStatus[s], s])),
  规划: 'planned',
  待布设: 'planned',
}
/** Column names as users read them: "countyCode（区县代码）". */
const columnZh = (c: Column): string => `“${COLUMNS[c][0]}”（${COLUMNS[c][1]}）`
const q = (v: string | number): string => `“${v}”`

export interface ImportRow {
  readonly line: number
  readonly cabinetId: string | null
  readonly countyCode: string
  readonly operator: string | null
  readonly siteName: string | null
  readonly siteAddress: string | null
  readonly venueType: VenueType | null
  readonly latitude: number | null
  readonly longitude: number | null
  readonly status: CabinetStatus
}

export interface ImportCheck {
  readonly rows: number
  readonly good: ImportRow[]
  readonly rejected: ImportRowError[]
}

/** A header problem rejects the whole file: no row can be read right. `zh` is what users read. */
export class ImportHeaderError extends Error {
  constructor(
    message: string,
    readonly zh: string,
  ) {
    super(message)
  }
}

/** The cabinet ids a file names (for the "already exists" check). */
export function cabinetIdsOf(records: readonly CsvRecord[]): string[] {
  const [header, ...data] = records
  const i = header?.fields.findIndex((f) => (COLUMNS.cabinetId as readonly string[]).some((n) => n.toLowerCase() === f.trim().toLowerCase())) ?? -1
  if (i < 0) return []
  return data.map((r) => r.fields[i]?.trim() ?? '').filter((id) => id.length > 0 && id.length <= 64)
}

export function checkImport(
  records: readonly CsvRecord[],
  plan: Plan,
  by: Principal,
  existing: ReadonlySet<string>,
  /** Why the broker in use cannot carry an id (a NATS cluster), or null. */
  idProblem: (cabinetId: string) => string | null = () => null,
): ImportCheck {
  const [header, ...data] = records
  if (!header) throw new ImportHeaderError('the file is empty; expected a header line with at least countyCode', `文件为空，第一行应为表头，至少包含 ${columnZh('countyCode')}`)
  const index = new Map<Column, number>()
  for (const [i, raw] of header.fields.entries()) {
    const name = raw.trim()
    const col = (Object.keys(COLUMNS) as Column[]).find((c) => (COLUMNS[c] as readonly string[]).some((n) => n.toLowerCase() === name.toLowerCase()))
    if (!col) {
      throw new ImportHeaderError(
        `unknown column "${name}" in the header; expected ${Object.values(COLUMNS).map((n) => n.join('/')).join(', ')}`,
        `不认识的列 ${q(name)}；可用的列为 ${(Object.keys(COLUMNS) as Column[]).map(columnZh).join('、')}`,
      )
    }
    if (index.has(col)) throw new ImportHeaderError(`column ${col} appears twice in the header`, `列 ${columnZh(col)} 在表头中出现了两次`)
    index.set(col, i)
  }
  if (!index.has('countyCode')) throw new ImportHeaderError('the header has no countyCode (区县代码) column', `表头缺少 ${columnZh('countyCode')} 列`)

  const counties = new Set(plan.counties.map((c) => c.code))
  const seenIds = new Map<string, number>()
  const good: ImportRow[] = []
  const rejected: ImportRowError[] = []

  for (const rec of data) {
    const problems: Array<{ field: string | null; message: string }> = []
    const get = (c: Column): string | null => {
      const i = index.get(c)
      const v = i === undefined ? undefined : rec.fields[i]?.trim()
      return v ? v : null
    }
    if (rec.fields.length !== header.fields.length) {
      problems.push({ field: null, message: `有 ${rec.fields.length} 列，表头有 ${header.fields.length} 列` })
    }
    const countyCode = get('countyCode') ?? ''
    const isCountyOk = CountyCode.safeParse(countyCode).success && counties.has(countyCode)
    if (!CountyCode.safeParse(countyCode).success) problems.push({ field: 'countyCode', message: `区县代码 ${q(countyCode)} 不是 6 位行政区划代码` })
    else if (!counties.has(countyCode)) problems.push({ field: 'countyCode', message: `区县代码 ${q(countyCode)} 不在布设计划 ${q(plan.id)} 中` })
    const operator = get('operator')
    if (operator !== null && operator.length > 100) problems.push({ field: 'operator', message: '运营企业超过 100 个字符' })
    // The caller may import only what it could create and then see.
    const isAllowed = isCountyOk && mayImport(by, countyCode, operator)
    if (isCountyOk && !isAllowed) {
      problems.push({ field: 'countyCode', message: `${labelZh('role', by.role)}不能在区县 ${q(countyCode)} 新建专柜` })
    }
    const cabinetId = get('cabinetId')
    if (cabinetId !== null) {
      // #12: whether an id exists is said only for ids the caller may hold
      // (its own county's range), so a file cannot probe other counties.
      const brokerProblem = CabinetId.safeParse(cabinetId).success ? idProblem(cabinetId) : null
      if (!CabinetId.safeParse(cabinetId).success) problems.push({ field: 'cabinetId', message: `专柜编号 ${q(cabinetId)} 不合法（1–64 位字母、数字或 _ . -）` })
      else if (brokerProblem) problems.push({ field: 'cabinetId', message: `${q(cabinetId)}：${ERROR_CODES.CABINET_ID_UNSUPPORTED}` })
      else if (isAllowed) {
        if (!isIdInRange(by, cabinetId, countyCode)) problems.push({ field: 'cabinetId', message: `专柜编号 ${q(cabinetId)} 须以 ${q(`${countyCode}-`)} 开头` })
        else if (existing.has(cabinetId)) problems.push({ field: 'cabinetId', message: `专柜编号 ${q(cabinetId)} 已存在` })
        else if (seenIds.has(cabinetId)) problems.push({ field: 'cabinetId', message: `专柜编号 ${q(cabinetId)} 与第 ${seenIds.get(cabinetId)} 行重复` })
        else seenIds.set(cabinetId, rec.line)
      }
    }
    const siteName = get('siteName')
    if (siteName !== null && siteName.length > 200) problems.push({ field: 'siteName', message: '点位名称超过 200 个字符' })
    const siteAddress = get('siteAddress')
    if (siteAddress !== null && siteAddress.length > 300) problems.push({ field: 'siteAddress', message: '点位地址超过 300 个字符' })
    const venueRaw = get('venueType')
    let venueType: VenueType | null = null
    if (venueRaw !== null) {
      const v = VenueType.safeParse(venueRaw)
      if (v.success) venueType = v.data
      else problems.push({ field: 'venueType', message: `场所类型 ${q(venueRaw)} 不是 ${VENUE_TYPES.join('、')} 之一` })
    }
    const coord = (c: 'latitude' | 'longitude', max: number): number | null => {
      const raw = get(c)
      if (raw === null) return null
      const n = Number(raw)
      if (!Number.isFinite(n) || Math.abs(n) > max) {
        problems.push({ field: c, message: `${c === 'latitude' ? '纬度' : '经度'} ${q(raw)} 不是 -${max} 到 ${max} 之间的数` })
        return null
      }
      return n
    }
    const latitude = coord('latitude', 90)
    const longitude = coord('longitude', 180)
    const statusRaw = get('status')
    let status: CabinetStatus = siteName !== null ? 'site_assigned' : 'planned'
    if (statusRaw !== null) {
      const s = STATUS_ZH[statusRaw] ?? IMPORTABLE.find((x) => x === statusRaw)
      if (s) status = s
      else problems.push({ field: 'status', message: `状态 ${q(statusRaw)} 不是 ${IMPORTABLE.map((s) => labelZh('cabinetStatus', s)).join('、')} 之一` })
    }
    if (STAGE[status] >= 1) {
      const missing = [...(siteName ? [] : ['siteName' as const]), ...(venueType || venueRaw ? [] : ['venueType' as const])]
      if (missing.length) problems.push({ field: missing[0]!, message: `状态为${labelZh('cabinetStatus', status)}的专柜需有具体点位，缺少${missing.map((m) => COLUMNS[m][1]).join('、')}` })
    }

    if (problems.length) {
      rejected.push({ line: rec.line, field: problems[0]!.field, message: problems.map((p) => p.message).join('；') })
    } else {
      good.push({ line: rec.line, cabinetId, countyCode, operator, siteName, siteAddress, venueType, latitude, longitude, status })
    }
  }
  return { rows: data.length, good, rejected }
}

function mayImport(by: Principal, countyCode: string, operator: string | null): boolean {
  if (by.role === 'admin') return true
  if (by.role === 'county') return canSeeCabinet(by, { countyCode, operator })
  return false
}
