// The cabinet lifecycle: planned → site_assigned → installed → operating, with
// suspended (a pause of an installed cabinet) and retired (out of service, for
// good). Any other jump is refused, naming the allowed next states.
import { AppError, labelZh, type CabinetStatus } from '../../../shared/src/index.js'

/** Allowed next states. Retirement is allowed from anywhere and is final. */
export const TRANSITIONS: Readonly<Record<CabinetStatus, readonly CabinetStatus[]>> = {
  planned: ['site_assigned', 'retired'],
  // Back to planned: the site fell through and a new one must be found.
  site_assigned: ['installed', 'planned', 'retired'],
  installed: ['operating', 'suspended', 'retired'],
  operating: ['suspended', 'retired'],
  suspended: ['operating', 'retired'],
  retired: [],
}

/**
 * How far along the rollout a status is: what the progress figures count.
 * Suspended cabinets were installed and stay on site, so they count as sites
 * assigned and installed (not operating); retired ones count nowhere.
 */
export const STAGE: Readonly<Record<CabinetStatus, number>> = {
  planned: 0,
  site_assigned: 1,
  installed: 2,
  suspended: 2,
  operating: 3,
  retired: -1,
}

export function allowedNext(from: CabinetStatus): readonly CabinetStatus[] {
  return TRANSITIONS[from]
}

export const statusInvalid = (cabinetId: string, from: CabinetStatus, to: CabinetStatus) => {
  const next = TRANSITIONS[from]
  return new AppError(
    'CABINET_STATUS_INVALID',
    `cabinet ${cabinetId}: cannot go from ${from} to ${to}; allowed next: ${next.length ? next.join(', ') : 'none (retired is final)'}`,
    409,
    { cabinetId, from, to, allowed: [...next] },
    `专柜 “${cabinetId}” 不能从“${labelZh('cabinetStatus', from)}”变为“${labelZh('cabinetStatus', to)}”；${
      next.length ? `可变为：${next.map((s) => `“${labelZh('cabinetStatus', s)}”`).join('、')}` : '已撤除的专柜不能再变更状态'
    }`,
  )
}

const MISSING_ZH: Readonly<Record<string, string>> = { siteName: '点位名称', venueType: '场所类型' }

export const siteRequired = (cabinetId: string, to: CabinetStatus, missing: readonly string[]) =>
  new AppError('CABINET_SITE_REQUIRED', `cabinet ${cabinetId}: status ${to} needs a concrete site; missing ${missing.join(', ')}`, 409, { cabinetId, to, missing: [...missing] }, `专柜 “${cabinetId}” 变为“${labelZh('cabinetStatus', to)}”前须填写${missing.map((m) => MISSING_ZH[m] ?? `“${m}”`).join('、')}`)

/** Checks a transition; the site is the cabinet's after the change. */
export function assertTransition(
  cabinetId: string,
  from: CabinetStatus,
  to: CabinetStatus,
  site: { siteName: string | null; venueType: string | null },
): void {
  if (from === to) return
  if (!TRANSITIONS[from].includes(to)) throw statusInvalid(cabinetId, from, to)
  assertSite(cabinetId, to, site)
}

/** site_assigned and later stages need a site name and a venue type. */
export function assertSite(cabinetId: string, status: CabinetStatus, site: { siteName: string | null; venueType: string | null }): void {
  if (STAGE[status] < 1) return
  const missing = [...(site.siteName ? [] : ['siteName']), ...(site.venueType ? [] : ['venueType'])]
  if (missing.length) throw siteRequired(cabinetId, status, missing)
}
